//! The whole message path in one deterministic simulation: two clients, five relays, an
//! invitation, and a conversation of 200 messages each way through three-hop onion packets,
//! queue commands and reply blocks, over a network that delays (and so reorders) and loses
//! packets, in virtual time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Net, T0_MS, Wire, make_nodes, nodes_index, route, secs};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sotto_proto::client::{Client, ClientConfig, ContactId, Event};
use sotto_proto::envelope::Content;
use sotto_proto::invitation::Invitation;
use sotto_proto::service::ServiceConfig;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const RELAYS: usize = 5;
/// 200 each way natively. In the browser the whole simulation runs in one synchronous call on
/// the page's thread, which the test driver must be able to interrupt within its 30 s renderer
/// timeout even on a loaded machine, so the browser run is a shorter conversation.
#[cfg(not(target_arch = "wasm32"))]
const MESSAGES: usize = 200;
#[cfg(target_arch = "wasm32")]
const MESSAGES: usize = 40;

struct Person {
    client: Client,
    gateway: usize,
    contact: Option<ContactId>,
    invitation: Option<Invitation>,
    received: Vec<String>,
    sent_acknowledged: usize,
}

#[test]
fn alice_and_bob_talk_through_five_relays_with_loss_and_reordering() {
    let service_config = ServiceConfig {
        pow_bits: 6,
        redeliver_after: 4,
        ..ServiceConfig::default()
    };
    let client_config = ClientConfig {
        pow_bits: 6,
        subscribe_surbs: 6,
        retry_after: 3,
        resubscribe_every: 10,
    };
    talk(service_config, client_config, MESSAGES, 50);
}

/// With the default renewal interval (60 s) and SURB lifetime (120 s), and messages spread
/// over several SURB lifetimes with idle gaps longer than one (150 s): renewals always come before expiry, so every
/// message still arrives.
#[test]
fn subscriptions_renew_before_the_relays_drop_their_surbs() {
    let service_config = ServiceConfig {
        pow_bits: 6,
        ..ServiceConfig::default()
    };
    assert!(service_config.surb_ttl > ClientConfig::default().resubscribe_every);
    let client_config = ClientConfig {
        pow_bits: 6,
        ..ClientConfig::default()
    };
    talk(service_config, client_config, 5, 150_000);
}

/// Alice and Bob meet through an invitation, then each writes `messages` texts, one every
/// `every_ms` virtual milliseconds; every text must arrive in order, once.
fn talk(
    service_config: ServiceConfig,
    client_config: ClientConfig,
    messages: usize,
    every_ms: u64,
) {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5077_0000);
    let (mut nodes, directory) = make_nodes(&mut rng, RELAYS, &service_config);
    let mut people: Vec<Person> = [("Alice", 0usize), ("Bob", 3usize)]
        .into_iter()
        .map(|(name, gateway)| Person {
            client: Client::new(
                &mut rng,
                directory.clone(),
                directory[gateway].id,
                name,
                client_config.clone(),
            )
            .unwrap(),
            gateway,
            contact: None,
            invitation: None,
            received: Vec::new(),
            sent_acknowledged: 0,
        })
        .collect();
    let mut net = Net::new(42, 2);

    for p in &mut people {
        p.client.connected(&mut rng, secs(net.now_ms));
    }
    let handle = people[0]
        .client
        .create_invitation(&mut rng, secs(net.now_ms))
        .unwrap();

    let mut sent_texts = [0usize; 2];
    let mut next_send = [0u64; 2];
    let deadline = T0_MS + 3 * 3600 * 1000;
    let mut next_tick = net.now_ms;
    loop {
        // Drain what the clients want to say and what happened to them.
        for (i, p) in people.iter_mut().enumerate() {
            let mut said = false;
            while let Some(event) = p.client.poll_event() {
                said = true;
                match event {
                    Event::InvitationReady {
                        handle: h,
                        invitation,
                    } => {
                        assert_eq!(h, handle);
                        p.invitation = Some(invitation);
                    }
                    Event::ContactAdded { contact, .. } => p.contact = Some(contact),
                    Event::Message { envelope, .. } => match envelope.content {
                        Content::Text(t) => p.received.push(t),
                        other => panic!("unexpected content {other:?}"),
                    },
                    Event::Sent { .. } => p.sent_acknowledged += 1,
                    Event::Accepted { .. } => {}
                    Event::ContactRenamed { display_name, .. } => {
                        assert_eq!(display_name, if i == 1 { "Alice" } else { "Bob" });
                    }
                    other => panic!("unexpected event {other:?}"),
                }
            }
            while let Some(frame) = p.client.poll_transmit() {
                net.send(Wire::FromClient(i, frame));
                said = true;
            }
            // Where a driver would write the state, its parts hold all of it.
            if said {
                common::assert_parts_round_trip(&p.client);
            }
        }
        // Bob accepts Alice's invitation as soon as it exists, through its link.
        if let Some(invitation) = people[0].invitation.take() {
            let link = invitation.to_link("https://sotto.example");
            let parsed = Invitation::parse_link(&link, secs(net.now_ms)).unwrap();
            people[1]
                .client
                .accept_invitation(&mut rng, parsed, secs(net.now_ms))
                .unwrap();
            continue;
        }
        // Once connected, each side writes a message every `every_ms` until it has written them all.
        for (i, p) in people.iter_mut().enumerate() {
            if let Some(contact) = p.contact
                && sent_texts[i] < messages
                && net.now_ms >= next_send[i]
            {
                next_send[i] = net.now_ms + every_ms;
                let text = format!("{}-{}", ["alice", "bob"][i], sent_texts[i]);
                p.client
                    .send_text(&mut rng, contact, &text, secs(net.now_ms))
                    .unwrap();
                sent_texts[i] += 1;
            }
        }
        let done = people.iter().all(|p| p.received.len() >= messages)
            && people.iter().all(|p| p.sent_acknowledged >= messages);
        if done || net.now_ms > deadline {
            break;
        }
        // Time-driven work every virtual second.
        if net.now_ms >= next_tick {
            next_tick = net.now_ms + 1000;
            for node in &mut nodes {
                for out in node.tick(secs(net.now_ms)).unwrap() {
                    route(&mut net, out, &nodes_index(&directory));
                }
            }
            for p in &mut people {
                p.client.tick(&mut rng, secs(net.now_ms));
            }
        }
        let step_limit = net.now_ms + 5;
        match net.next_before(step_limit) {
            None => net.now_ms = step_limit,
            Some(Wire::Relay(to, packet)) => {
                let now = secs(net.now_ms);
                if let Ok(outs) = nodes[to].packet(&packet, now, &mut rng) {
                    for out in outs {
                        route(&mut net, out, &nodes_index(&directory));
                    }
                }
            }
            Some(Wire::FromClient(who, frame)) => {
                let gw = people[who].gateway;
                let now = secs(net.now_ms);
                if let Ok(outs) = nodes[gw].client_frame(who as u64, &frame, now, &mut rng) {
                    for out in outs {
                        route(&mut net, out, &nodes_index(&directory));
                    }
                }
            }
            Some(Wire::ToClient(who, frame)) => {
                let now = secs(net.now_ms);
                // Replies through SURBs whose opener was replaced are refused; that is fine.
                let _ = people[who].client.handle_frame(&mut rng, &frame, now);
            }
        }
    }

    let expect = |who: &str| {
        (0..messages)
            .map(|i| format!("{who}-{i}"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        people[1].received,
        expect("alice"),
        "Bob got Alice's messages in order, once"
    );
    assert_eq!(
        people[0].received,
        expect("bob"),
        "Alice got Bob's messages in order, once"
    );
    assert!(
        net.lost > 0,
        "the network lost packets ({} carried)",
        net.carried
    );
    let contacts: Vec<String> = people[0]
        .client
        .contacts()
        .map(|(_, n)| n.to_owned())
        .collect();
    assert_eq!(contacts, vec!["Bob".to_owned()]);
    let contacts: Vec<String> = people[1]
        .client
        .contacts()
        .map(|(_, n)| n.to_owned())
        .collect();
    assert_eq!(contacts, vec!["Alice".to_owned()]);

    // Forgetful relays: once everything is acknowledged, nothing is left on any of them. A
    // copy a retried Send stored twice waits for its queue's next Subscribe when the relay's
    // reply blocks ran out (minutes, by the queue's timer): the settling allows for it.
    let settle = net.now_ms + 600_000;
    while net.now_ms < settle {
        if net.now_ms >= next_tick {
            next_tick = net.now_ms + 1000;
            for (i, p) in people.iter_mut().enumerate() {
                p.client.tick(&mut rng, secs(net.now_ms));
                while let Some(frame) = p.client.poll_transmit() {
                    net.send(Wire::FromClient(i, frame));
                }
            }
        }
        let step_limit = net.now_ms + 5;
        match net.next_before(step_limit) {
            None => net.now_ms = step_limit,
            Some(Wire::Relay(to, packet)) => {
                if let Ok(outs) = nodes[to].packet(&packet, secs(net.now_ms), &mut rng) {
                    for out in outs {
                        route(&mut net, out, &nodes_index(&directory));
                    }
                }
            }
            Some(Wire::FromClient(who, frame)) => {
                let gw = people[who].gateway;
                if let Ok(outs) =
                    nodes[gw].client_frame(who as u64, &frame, secs(net.now_ms), &mut rng)
                {
                    for out in outs {
                        route(&mut net, out, &nodes_index(&directory));
                    }
                }
            }
            Some(Wire::ToClient(who, frame)) => {
                let _ = people[who]
                    .client
                    .handle_frame(&mut rng, &frame, secs(net.now_ms));
                while let Some(frame) = people[who].client.poll_transmit() {
                    net.send(Wire::FromClient(who, frame));
                }
            }
        }
    }
    let left: usize = nodes
        .iter()
        .map(|n| n.service().store().total_messages())
        .sum();
    assert_eq!(left, 0, "relays keep no delivered message");
}
