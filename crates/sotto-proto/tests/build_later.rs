//! Packets built later (`Client::build_later`, `Client::build_owed`), as the browser builds
//! them: a delivery's Ack and a message's Send are not among the frames until the driver asks
//! for them, and a conversation driven that way, with loss, still shows every message once and
//! in order and leaves nothing on the relays.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod common;

use common::World;
use sotto_proto::client::{Client, ContactId, Event};
use sotto_proto::queue::Command;

/// Steps `secs` virtual seconds with every relay watched; the Acks that reach a relay, in
/// order: whether each is quiet.
fn acks_reaching_relays(w: &mut World, secs: u64) -> Vec<bool> {
    let mut acks = Vec::new();
    w.intercept = (0..w.nodes.len()).collect();
    let deadline = w.net.now_ms + secs * 1000;
    while w.net.now_ms < deadline {
        w.step();
        while let Some((to, packet)) = w.intercepted.pop_front() {
            if let Some(r) = w.peek(to, &packet)
                && let Command::Ack { quiet, .. } = r.command
            {
                acks.push(quiet);
            }
            w.deliver(to, &packet);
        }
    }
    w.intercept.clear();
    acks
}

/// Alice and Bob connected, Bob building his packets later and the frames to the clients held
/// (`World::to_clients`); Alice has just written "hi". Returns Alice's contact id for Bob.
fn hi_to_bob_building_later(seed: u64) -> (World, ContactId) {
    let mut w = World::new(seed, 0, &["Alice", "Bob"]);
    let (bob, _) = w.connect();
    w.clients[1].build_later(true);
    w.intercept_clients = true;
    let now = w.client_now(0);
    w.clients[0].send_text(&mut w.rng, bob, "hi", now).unwrap();
    (w, bob)
}

/// [`hi_to_bob_building_later`], then the delivery of "hi" handed to Bob (the frames to Alice
/// carried first, as usual).
fn hi_handed_to_bob(seed: u64) -> World {
    let (mut w, _) = hi_to_bob_building_later(seed);
    let delivery = next_frame_to_bob(&mut w);
    w.intercept_clients = false;
    // Everything else (Alice's answer above all) goes on as usual.
    while let Some((who, frame)) = w.to_clients.pop_front() {
        let _ = w.hand_to_client(who, &frame);
    }
    w.hand_to_client(1, &delivery).unwrap();
    w
}

/// Steps until Bob (client 1) was shown `texts`, or fails after 60 virtual seconds.
fn bob_is_shown(w: &mut World, texts: &[&str]) {
    assert!(w.run_until(60, |w| w.texts(1) == texts), "{:?}", w.texts(1));
}

/// Carries packets, frames to Alice included, until a frame for Bob waits at his gateway
/// (the frames to the clients held), and takes it.
fn next_frame_to_bob(w: &mut World) -> Vec<u8> {
    for _ in 0..2000 {
        while let Some((who, frame)) = w.to_clients.pop_front() {
            if who == 1 {
                return frame;
            }
            let _ = w.hand_to_client(who, &frame);
        }
        w.step();
    }
    panic!("no frame reached Bob's gateway");
}

#[test]
fn a_delivery_owes_its_ack_until_the_driver_builds_it() {
    let mut w = hi_handed_to_bob(1811);
    assert!(w.clients[1].packets_owed(), "the delivery owes its Ack");
    let bob_client = &mut w.clients[1];
    let mut frames = Vec::new();
    while let Some(f) = bob_client.poll_transmit() {
        frames.push(f);
    }
    assert!(
        frames.is_empty(),
        "no Ack among the frames before it is built: {}",
        frames.len()
    );
    assert!(
        std::iter::from_fn(|| bob_client.poll_event()).any(|e| matches!(e, Event::Message { .. })),
        "the message is there before its Ack"
    );

    let now = w.client_now(1);
    let acks = w.clients[1].build_owed(&mut w.rng, now);
    assert_eq!(acks.len(), 1, "one Ack for one delivery");
    assert!(!w.clients[1].packets_owed());
    assert!(
        w.clients[1].build_owed(&mut w.rng, now).is_empty(),
        "built once"
    );
    assert!(
        w.clients[1].poll_transmit().is_none(),
        "handed back, not queued"
    );

    // It is the Ack the relay expects: sent, the message is deleted and never delivered
    // again (a redelivery would make Bob acknowledge it again, answered).
    w.net.send(common::Wire::FromClient(1, acks[0].clone()));
    let acks_seen = acks_reaching_relays(&mut w, 30);
    assert_eq!(
        acks_seen,
        [true],
        "one quiet Ack, no redelivery acknowledged again"
    );
}

/// What a driver reads to decide when to build them: a delivery owes an Ack, and no Send.
#[test]
fn owed_packets_say_whether_a_send_is_among_them() {
    let mut w = hi_handed_to_bob(1812);
    let owed = w.clients[1].take_owed();
    assert!(!owed.is_empty(), "the delivery owes its Ack");
    assert!(!owed.has_sends(), "an Ack only");
}

#[test]
fn a_message_owes_its_send_until_the_driver_builds_it_and_then_it_is_pending() {
    let mut w = World::new(1813, 0, &["Alice", "Bob"]);
    let (bob, _) = w.connect();
    w.step();
    while w.clients[0].poll_transmit().is_some() {}
    w.clients[0].build_later(true);
    let now = w.client_now(0);
    w.clients[0].send_text(&mut w.rng, bob, "one", now).unwrap();
    w.clients[0].send_text(&mut w.rng, bob, "two", now).unwrap();
    assert!(
        w.clients[0].poll_transmit().is_none(),
        "no Send among the frames yet"
    );
    assert!(w.clients[0].packets_owed());
    let sends = w.clients[0].build_owed(&mut w.rng, now);
    assert_eq!(sends.len(), 1, "one Send in flight per contact, as before");
    assert!(!w.clients[0].packets_owed());
    assert!(
        w.clients[0].poll_timeout().is_some(),
        "the Send is pending: retried if unanswered"
    );
    for f in sends {
        w.net.send(common::Wire::FromClient(0, f));
    }
    bob_is_shown(&mut w, &["one", "two"]);
}

#[test]
fn with_packets_built_later_and_loss_every_message_is_shown_once_in_order() {
    let mut w = World::new(1812, 0, &["Alice", "Bob"]);
    for c in &mut w.clients {
        c.build_later(true);
    }
    let (bob, alice) = w.connect();
    w.net.loss_percent = 10;
    let sent: Vec<String> = (0..12).map(|i| format!("message {i}")).collect();
    for text in &sent {
        let now = w.client_now(0);
        w.clients[0].send_text(&mut w.rng, bob, text, now).unwrap();
    }
    let now = w.client_now(1);
    w.clients[1]
        .send_text(&mut w.rng, alice, "and back", now)
        .unwrap();
    let done = w.run_until(600, |w| {
        w.texts(1).len() >= sent.len() && w.texts(0).len() == 1
    });
    assert!(done, "delivered: {:?}", w.texts(1));
    // Long enough for any redelivery of a message whose Ack was lost.
    w.run_until(60, |_| false);
    assert_eq!(w.texts(1), sent, "once each, in order");
    assert_eq!(w.texts(0), ["and back"]);
}

/// The browser's driver takes its write (the state) and then, while the write commits, builds
/// the packets owed; they leave once it committed. A message written in the same turn of the
/// page, after the write was taken, is not in that write: its Send must not leave with it. If
/// it did and the page closed before the next write, the state opened again would lack the
/// message, its ratchet step included, and the next message would reuse its message key.
#[test]
fn what_leaves_after_a_write_is_built_only_from_what_the_write_holds() {
    let mut w = World::new(1814, 0, &["Alice", "Bob", "Carol"]);
    let (bob, _) = w.introduce(0, 1);
    let (carol, _) = w.introduce(0, 2);
    w.run_until(5, |_| false);
    w.clients[0].build_later(true);
    let now = w.client_now(0);
    w.clients[0]
        .send_text(&mut w.rng, bob, "to bob", now)
        .unwrap();
    // The driver drains the client, then takes its write.
    while let Some(e) = w.clients[0].poll_event() {
        w.events[0].push(e);
    }
    while let Some(f) = w.clients[0].poll_transmit() {
        w.net.send(common::Wire::FromClient(0, f));
    }
    let written = w.clients[0].to_persisted();
    let owed = w.clients[0].take_owed();
    assert!(!owed.is_empty(), "the Send to Bob is owed with the write");
    // In the same turn, before the write's first poll: a message to Carol.
    w.clients[0]
        .send_text(&mut w.rng, carol, "lost with the page", now)
        .unwrap();
    // Built while the write commits, sent once it committed.
    let frames = w.clients[0].build_packets(&mut w.rng, owed, now);
    assert_eq!(frames.len(), 1, "the Send to Bob only");
    assert!(
        w.clients[0].packets_owed(),
        "the Send to Carol waits for its write"
    );
    for f in frames {
        w.net.send(common::Wire::FromClient(0, f));
    }
    // The page closes before its next write: Alice is opened again from what was written.
    w.clients[0] = Client::from_persisted(written.as_bytes()).unwrap();
    w.clients[0].build_later(true);
    w.reopen(0);
    assert!(
        w.run_until(120, |w| w.texts(1) == ["to bob"]),
        "{:?}",
        w.texts(1)
    );
    let now = w.client_now(0);
    w.clients[0]
        .send_text(&mut w.rng, carol, "to carol", now)
        .unwrap();
    w.run_until(120, |w| !w.texts(2).is_empty());
    w.run_until(30, |_| false);
    assert_eq!(w.texts(1), ["to bob"], "Bob's message once");
    assert_eq!(
        w.texts(2),
        ["to carol"],
        "Carol gets what Alice's state holds, and only that"
    );
    assert!(
        !w.events[2]
            .iter()
            .any(|e| matches!(e, Event::DecryptFailed { .. } | Event::ResyncStarted { .. })),
        "no message key used twice"
    );
}

/// A Send that cannot be built when owed (the contact's queue relay is not in the directory
/// the client has: no route) leaves the outbox idle, not marked as sending with no request in
/// flight: once the relay is listed again, the message goes.
#[test]
fn a_send_that_cannot_be_built_leaves_the_outbox_idle_not_stalled() {
    let mut w = World::new(1815, 0, &["Alice", "Bob"]);
    let (bob, _) = w.connect();
    // Bob's queue relay: where Alice's first Send arrives.
    w.intercept = (0..w.nodes.len()).collect();
    let now = w.client_now(0);
    let one = w.clients[0]
        .send_text(&mut w.rng, bob, "one", now)
        .unwrap()
        .id;
    let mut queue_relay = None;
    let deadline = w.net.now_ms + 30_000;
    while w.net.now_ms < deadline && queue_relay.is_none() {
        w.step();
        while let Some((to, packet)) = w.intercepted.pop_front() {
            if let Some(r) = w.peek(to, &packet)
                && matches!(r.command, Command::Send { .. })
            {
                queue_relay = Some(to);
            }
            w.deliver(to, &packet);
        }
    }
    w.intercept.clear();
    let queue_relay = queue_relay.expect("the Send reached its relay");
    assert_ne!(
        queue_relay, w.gateways[0],
        "the seed puts Bob's queue elsewhere"
    );
    assert!(w.run_until(60, |w| {
        w.texts(1) == ["one"]
            && w.events[0]
                .iter()
                .any(|e| matches!(e, Event::Sent { message, .. } if *message == one))
    }));

    // The relay drops out of Alice's directory; she writes.
    let gone = w.directory[queue_relay].id;
    let without: Vec<_> = w
        .directory
        .iter()
        .filter(|h| h.id != gone)
        .cloned()
        .collect();
    w.clients[0].update_relays(without).unwrap();
    w.clients[0].build_later(true);
    let now = w.client_now(0);
    w.clients[0].send_text(&mut w.rng, bob, "two", now).unwrap();
    assert!(
        w.clients[0].build_owed(&mut w.rng, now).is_empty(),
        "no route to the queue's relay: nothing built"
    );
    assert!(!w.clients[0].packets_owed());
    // Listed again: the outbox sends.
    w.clients[0].update_relays(w.directory.clone()).unwrap();
    bob_is_shown(&mut w, &["one", "two"]);
}

/// The page closes after its write and before the owed Ack left: opened again, Bob gets the
/// message again from the relay, drops it as a duplicate (shown once) and acknowledges it,
/// answered; the queue moves on.
#[test]
fn an_ack_lost_with_the_page_is_made_again_for_the_redelivery() {
    let (mut w, bob) = hi_to_bob_building_later(1816);
    // Frames reach Bob one by one until one is the message.
    for i in 0.. {
        assert!(i < 100, "the message reached Bob");
        let frame = next_frame_to_bob(&mut w);
        let _ = w.hand_to_client(1, &frame);
        let mut shown = false;
        while let Some(e) = w.clients[1].poll_event() {
            shown |= matches!(e, Event::Message { .. });
            w.events[1].push(e);
        }
        if shown {
            break;
        }
    }
    w.intercept_clients = false;
    w.to_clients.clear();
    // Bob's driver stores what the events say and takes its write, with the Ack owed; the
    // page closes before the Ack leaves.
    while let Some(e) = w.clients[1].poll_event() {
        w.events[1].push(e);
    }
    while w.clients[1].poll_transmit().is_some() {}
    let written = w.clients[1].to_persisted();
    assert!(!w.clients[1].take_owed().is_empty(), "the Ack was owed");
    assert_eq!(w.texts(1), ["hi"]);

    w.clients[1] = Client::from_persisted(written.as_bytes()).unwrap();
    w.clients[1].build_later(true);
    w.reopen(1);
    let acks = acks_reaching_relays(&mut w, 60);
    assert_eq!(acks, [false], "the redelivery acknowledged once, answered");
    assert_eq!(w.texts(1), ["hi"], "shown once");
    let now = w.client_now(0);
    w.clients[0]
        .send_text(&mut w.rng, bob, "next", now)
        .unwrap();
    assert!(
        w.run_until(60, |w| w.texts(1) == ["hi", "next"]),
        "{:?}",
        w.texts(1)
    );
}
