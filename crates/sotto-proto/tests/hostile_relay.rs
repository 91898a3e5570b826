//! Relays that attack the clients they serve (issue 12, parts 2–4): one test per attack, each
//! asserting that it fails. The relays are the in-memory ones of the virtual-time world; a
//! hostile one sees each request its queue service gets (as the real code would decode it)
//! and may drop it, hold it, or answer through any reply block (SURB) it holds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{HashMap, HashSet};

use common::{Wire, World};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use sotto_proto::client::{
    Client, ClientConfig, ClientError, ContactId, Error, Event, MIN_RELAYS, PeerMisbehaved,
};
use sotto_proto::envelope::MessageId;
use sotto_proto::ids::{QueueId, RelayId};
use sotto_proto::onion::{
    GatewayFrame, Hop, MemoryReplayCache, Processed, RelayKey, Surb, process,
};
use sotto_proto::queue::{Command, Delivery, ReceivedRequest, Response, ResponseBody};
use sotto_proto::service::recipient_id_for;
use sotto_proto::sizes::QUEUE_MESSAGE_SIZE;

/// A spy on intercepted relays: sees each packet (and the request in it, at its last hop) and
/// says whether the relay gets it.
type Spy<'a> = dyn FnMut(&mut World, usize, &[u8], Option<&ReceivedRequest>) -> bool + 'a;

/// Steps `w` until `done` or `limit_secs` of virtual time; packets for intercepted relays go
/// through `spy`, frames for clients (when intercepted) are handed on.
fn drive(w: &mut World, limit_secs: u64, spy: &mut Spy, done: &dyn Fn(&World) -> bool) -> bool {
    let deadline = w.net.now_ms + limit_secs * 1000;
    while w.net.now_ms < deadline {
        w.step();
        while let Some((to, packet)) = w.intercepted.pop_front() {
            let request = w.peek(to, &packet);
            if spy(w, to, &packet, request.as_ref()) {
                w.deliver(to, &packet);
            }
        }
        while let Some((who, frame)) = w.to_clients.pop_front() {
            let _ = w.hand_to_client(who, &frame);
        }
        if done(w) {
            return true;
        }
    }
    false
}

fn pass(_: &mut World, _: usize, _: &[u8], _: Option<&ReceivedRequest>) -> bool {
    true
}

/// Seals `inbound` into `surb` (the reply block of an answered request) and sends it on, as
/// the relay holding the SURB would.
fn answer_through(w: &mut World, surb: Option<&Surb>, inbound: &[u8]) {
    let surb = surb.expect("an answered request carries a reply block");
    let (first, packet) = surb.clone().seal(inbound).unwrap();
    let i = w.directory.iter().position(|h| h.id == first).unwrap();
    w.net.send(Wire::Relay(i, packet.into_bytes()));
}

fn ok_answer(request_id: u64) -> Vec<u8> {
    let body = ResponseBody::Ok;
    Response { request_id, body }.encode().unwrap()
}

fn ids_answer(request_id: u64, sender_id: QueueId, rng: &mut ChaCha20Rng) -> Vec<u8> {
    let body = ResponseBody::Ids {
        recipient_id: QueueId::random(rng),
        sender_id,
    };
    Response { request_id, body }.encode().unwrap()
}

/// The subscription SURBs each relay holds, by queue: the latest Subscribe's (what a relay
/// keeps), recorded by a spy.
#[derive(Default)]
struct Held(HashMap<QueueId, (usize, Vec<Surb>)>);

impl Held {
    fn record(&mut self, relay: usize, request: Option<&ReceivedRequest>) {
        if let Some(ReceivedRequest {
            command:
                Command::Subscribe {
                    recipient_id,
                    surbs,
                },
            ..
        }) = request
        {
            self.0.insert(*recipient_id, (relay, surbs.clone()));
        }
    }

    /// One SURB of each queue held by relays other than `except`, with its relay.
    fn usable(&self, except: usize) -> Vec<Surb> {
        self.0
            .values()
            .filter(|(relay, surbs)| *relay != except && !surbs.is_empty())
            .filter_map(|(_, surbs)| surbs.last().cloned())
            .collect()
    }
}

fn sent(w: &World, who: usize, message: MessageId) -> bool {
    w.events[who]
        .iter()
        .any(|e| matches!(e, Event::Sent { message: m, .. } if *m == message))
}

fn received(w: &World, who: usize, message: MessageId) -> bool {
    w.events[who]
        .iter()
        .any(|e| matches!(e, Event::Message { envelope, .. } if envelope.id == message))
}

/// Alice (client 0) and Bob (client 1), connected, then left alone long enough that nothing
/// is in flight and every relay holds current subscription SURBs (recorded in `held`). All
/// relays are intercepted from then on.
fn friends(seed: u64) -> (World, ContactId, ContactId, Held) {
    let mut w = World::new(seed, 0, &["Alice", "Bob"]);
    let (bob, alice) = w.connect();
    w.intercept = (0..w.nodes.len()).collect();
    let mut held = Held::default();
    drive(
        &mut w,
        15,
        &mut |_, to, _, r| {
            held.record(to, r);
            true
        },
        &|_| false,
    );
    (w, bob, alice, held)
}

/// (a) A queue relay holding Alice's subscription SURBs answers the queue creation another
/// relay is working on, with ids it chose (it even knows the request id: a colluding relay
/// told it). The answer arrives first; Alice drops it and prints the real queue.
#[test]
fn a_queue_relay_cannot_answer_another_relays_queue_creation() {
    let mut w = World::new(101, 0, &["Alice"]);
    w.intercept = (0..w.nodes.len()).collect();
    let mut held = Held::default();
    let ready = |w: &World, n: usize| {
        w.events[0]
            .iter()
            .filter(|e| matches!(e, Event::InvitationReady { .. }))
            .count()
            >= n
    };
    // A first invitation: a queue on some relay, subscribed with Alice's SURBs.
    let now = w.now();
    w.clients[0].create_invitation(&mut w.rng, now).unwrap();
    let mut spy = |_: &mut World, to: usize, _: &[u8], r: Option<&ReceivedRequest>| {
        held.record(to, r);
        true
    };
    assert!(drive(&mut w, 60, &mut spy, &|w| ready(w, 1)));
    drive(&mut w, 5, &mut spy, &|_| false);
    assert!(!held.0.is_empty(), "a subscription was seen");

    let evil_sender = QueueId::random(&mut w.rng);
    let mut made = 1;
    let mut attacked = None;
    while attacked.is_none() {
        assert!(made < 12, "a creation went to another relay");
        let now = w.now();
        let handle = w.clients[0].create_invitation(&mut w.rng, now).unwrap();
        made += 1;
        let mut hold: Option<(usize, Vec<u8>)> = None;
        let mut spy = |w: &mut World, to: usize, packet: &[u8], r: Option<&ReceivedRequest>| {
            held.record(to, r);
            let Some(ReceivedRequest {
                request_id,
                command: Command::Create { .. },
                ..
            }) = r
            else {
                return true;
            };
            let surbs = held.usable(to);
            if surbs.is_empty() || hold.is_some() {
                return true;
            }
            // Relay `to` is honest but slow; a queue relay answers first.
            hold = Some((to, packet.to_vec()));
            let mut rng = ChaCha20Rng::seed_from_u64(*request_id);
            for surb in &surbs {
                answer_through(
                    w,
                    Some(surb),
                    &ids_answer(*request_id, evil_sender, &mut rng),
                );
            }
            false
        };
        drive(&mut w, 60, &mut spy, &|w| {
            w.clients[0].rejected_replies() > 0 || ready(w, made)
        });
        if let Some((to, packet)) = hold {
            assert!(
                w.clients[0].rejected_replies() >= 1,
                "a forged answer opened and was dropped"
            );
            // The honest relay's answer comes now.
            w.deliver(to, &packet);
            attacked = Some((handle, w.directory[to].id));
        }
    }
    let (handle, relay) = attacked.unwrap();
    assert!(drive(&mut w, 60, &mut pass, &|w| ready(w, made)));
    let invitation = w.events[0]
        .iter()
        .find_map(|e| match e {
            Event::InvitationReady {
                handle: h,
                invitation,
            } if *h == handle => Some(*invitation),
            _ => None,
        })
        .expect("the invitation is made");
    assert_eq!(invitation.relay, relay, "on the relay that made the queue");
    assert_ne!(invitation.queue, evil_sender, "not the attacker's queue");
    assert!(w.events[0].iter().all(|e| e.error().is_none()));
}

/// (b) The relay that should store Alice's message loses it; relays holding her SURBs answer
/// `Ok` for it. The message is not marked sent: it is retried, stored and read.
#[test]
fn ok_for_a_lost_send_does_not_mark_it_sent() {
    let (mut w, bob, _, mut held) = friends(202);
    let now = w.now();
    let m = w.clients[0]
        .send_text(&mut w.rng, bob, "are you there?", now)
        .unwrap()
        .id;
    let mut sends = 0;
    let mut spy = |w: &mut World, to: usize, _: &[u8], r: Option<&ReceivedRequest>| {
        held.record(to, r);
        let Some(ReceivedRequest {
            request_id,
            command: Command::Send { .. },
            ..
        }) = r
        else {
            return true;
        };
        sends += 1;
        if sends > 1 {
            return true;
        }
        // Lost; every other relay claims it was stored.
        for surb in held.usable(to) {
            answer_through(w, Some(&surb), &ok_answer(*request_id));
        }
        false
    };
    assert!(drive(&mut w, 10, &mut spy, &|w| w.clients[0]
        .rejected_replies()
        > 0));
    assert!(
        !sent(&w, 0, m),
        "a forged Ok does not mark the message sent"
    );
    assert_eq!(w.clients[0].unsent_messages(), 1);
    assert!(drive(&mut w, 60, &mut spy, &|w| sent(w, 0, m)
        && received(w, 1, m)));
    assert!(sends >= 2, "the message was sent again");
    assert_eq!(w.clients[0].unsent_messages(), 0);
}

/// (c) The relay of Bob's queue answers Alice's first Send with queue ids instead of `Ok`.
/// Alice is told (a typed failure), and the outbox moves on: all messages arrive.
#[test]
fn a_wrong_typed_answer_fails_typed_and_the_outbox_moves_on() {
    let (mut w, bob, _, _) = friends(303);
    let now = w.now();
    let messages: Vec<MessageId> = ["one", "two", "three"]
        .iter()
        .map(|t| w.clients[0].send_text(&mut w.rng, bob, t, now).unwrap().id)
        .collect();
    let mut lied = false;
    let mut spy = |w: &mut World, _: usize, _: &[u8], r: Option<&ReceivedRequest>| {
        let Some(ReceivedRequest {
            request_id,
            reply,
            command: Command::Send { .. },
            ..
        }) = r
        else {
            return true;
        };
        if lied {
            return true;
        }
        lied = true;
        let mut rng = ChaCha20Rng::seed_from_u64(*request_id);
        let sender = QueueId::random(&mut rng);
        answer_through(
            w,
            reply.as_ref(),
            &ids_answer(*request_id, sender, &mut rng),
        );
        false
    };
    let all_there = |w: &World| {
        messages
            .iter()
            .all(|m| sent(w, 0, *m) && received(w, 1, *m))
    };
    assert!(
        drive(&mut w, 90, &mut spy, &all_there),
        "every message arrives"
    );
    let failed: Vec<&Event> = w.events[0].iter().filter(|e| e.error().is_some()).collect();
    assert!(matches!(
        failed[..],
        [Event::SendFailed {
            message,
            error: Error::PeerMisbehaved(PeerMisbehaved::WrongAnswer),
            ..
        }] if *message == messages[0]
    ));
    // In order, each once.
    let texts = w.texts(1);
    assert_eq!(texts, ["one", "two", "three"]);
}

/// (d) A hostile gateway (or any relay that learnt a SURB id) sends garbage under the id of a
/// reply on its way, just before the reply: the garbage is refused and the reply still opens.
#[test]
fn garbage_under_a_valid_surb_id_does_not_burn_it() {
    let mut w = World::new(404, 0, &["Alice", "Bob"]);
    w.intercept_clients = true;
    let (mut real, mut garbage_refused) = (0u32, 0u32);
    let mut replies: HashSet<usize> = HashSet::new();
    let mut step = |w: &mut World, done: &dyn Fn(&World) -> bool| {
        for _ in 0..200_000 {
            w.step();
            while let Some((who, frame)) = w.to_clients.pop_front() {
                let Ok(GatewayFrame::Reply { surb_id, sealed }) = GatewayFrame::decode(&frame)
                else {
                    panic!("a reply frame");
                };
                let mut junk = vec![0u8; sealed.len()];
                w.rng.fill_bytes(&mut junk);
                let forged = GatewayFrame::Reply {
                    surb_id,
                    sealed: junk,
                }
                .encode();
                if w.hand_to_client(who, &forged).is_err() {
                    garbage_refused += 1;
                }
                w.hand_to_client(who, &frame).expect("the real reply opens");
                real += 1;
                replies.insert(who);
            }
            if done(w) {
                return;
            }
        }
        panic!("not done in time");
    };
    let now = w.now();
    w.clients[0].create_invitation(&mut w.rng, now).unwrap();
    step(&mut w, &|w| {
        w.events[0]
            .iter()
            .any(|e| matches!(e, Event::InvitationReady { .. }))
    });
    let invitation = w.events[0]
        .iter()
        .find_map(|e| match e {
            Event::InvitationReady { invitation, .. } => Some(*invitation),
            _ => None,
        })
        .unwrap();
    let now = w.now();
    w.clients[1]
        .accept_invitation(&mut w.rng, invitation, now)
        .unwrap();
    step(&mut w, &|w| {
        w.events[0]
            .iter()
            .any(|e| matches!(e, Event::ContactAdded { .. }))
    });
    let now = w.now();
    let bob = w.clients[0].contact_ids().next().unwrap();
    let m = w.clients[0]
        .send_text(&mut w.rng, bob, "hi", now)
        .unwrap()
        .id;
    step(&mut w, &|w| sent(w, 0, m) && received(w, 1, m));
    assert!(real > 10);
    assert_eq!(garbage_refused, real, "every garbage frame was refused");
    assert_eq!(replies.len(), 2);
}

/// (e) Two colluding relays: the queue relay of Alice's queue (which knows its recipient id)
/// and the relay of Bob's queue, which holds the reply SURB of Alice's Send. The second pushes
/// a "delivery" of Alice's queue through that SURB, to see whether Alice acknowledges it on
/// her queue's relay (linking her sending to her receiving). It is dropped unacknowledged,
/// and the Send is still settled.
#[test]
fn a_delivery_through_another_reply_block_is_dropped() {
    let (mut w, bob, alice, _) = friends(505);
    // Bob writes; Alice's Ack names her queue to its relay.
    let now = w.now();
    let hello = w.clients[1]
        .send_text(&mut w.rng, alice, "hello", now)
        .unwrap()
        .id;
    let mut alice_queue = None;
    let mut spy = |_: &mut World, _: usize, _: &[u8], r: Option<&ReceivedRequest>| {
        if let Some(ReceivedRequest {
            command: Command::Ack { recipient_id, .. },
            ..
        }) = r
        {
            alice_queue = Some(*recipient_id);
        }
        true
    };
    assert!(drive(&mut w, 30, &mut spy, &|w| received(w, 0, hello)));
    drive(&mut w, 3, &mut spy, &|_| false);
    let alice_queue = alice_queue.expect("Alice acknowledged");

    let evil = sotto_proto::queue::QueueMessageId::random(&mut w.rng);
    let now = w.now();
    let m = w.clients[0]
        .send_text(&mut w.rng, bob, "ok", now)
        .unwrap()
        .id;
    let (mut forged, mut acked_evil) = (false, false);
    let mut spy = |w: &mut World, _: usize, _: &[u8], r: Option<&ReceivedRequest>| {
        match r {
            Some(ReceivedRequest {
                command: Command::Ack { message_id, .. },
                ..
            }) if *message_id == evil => acked_evil = true,
            Some(ReceivedRequest {
                reply,
                command: Command::Send { .. },
                ..
            }) if !forged => {
                forged = true;
                let delivery = Delivery {
                    recipient_id: alice_queue,
                    message_id: evil,
                    received_at: w.now(),
                    body: vec![0; QUEUE_MESSAGE_SIZE],
                };
                answer_through(w, reply.as_ref(), &delivery.encode().unwrap());
                return false;
            }
            _ => {}
        }
        true
    };
    assert!(drive(&mut w, 60, &mut spy, &|w| sent(w, 0, m)
        && received(w, 1, m)));
    drive(&mut w, 5, &mut spy, &|_| false);
    assert!(forged);
    assert_eq!(w.clients[0].rejected_replies(), 1);
    assert!(!acked_evil, "the forged delivery was not acknowledged");
}

/// Every request a queue relay's service got: when (virtual ms), at which relay, what.
struct Seen {
    at_ms: u64,
    request: ReceivedRequest,
}

/// One run for (f): Alice makes two invitation queues; Bob and Carol one each; then every
/// client reconnects and the world runs a minute. Returns what the relays saw and each
/// queue's owner (client index), known from the queue creations.
fn observe(seed: u64) -> (Vec<Seen>, HashMap<QueueId, usize>) {
    let mut w = World::new(seed, 0, &["Alice", "Bob", "Carol"]);
    w.intercept = (0..w.nodes.len()).collect();
    let mut seen = Vec::new();
    let mut owner = HashMap::new();
    for who in [0usize, 0, 1, 2] {
        let now = w.now();
        w.clients[who].create_invitation(&mut w.rng, now).unwrap();
        let before = w.events[who].len();
        let mut spy = |w: &mut World, _: usize, _: &[u8], r: Option<&ReceivedRequest>| {
            if let Some(r) = r {
                if let Command::Create { recipient_key, .. } = &r.command {
                    owner.insert(recipient_id_for(recipient_key), who);
                }
                seen.push(Seen {
                    at_ms: w.net.now_ms,
                    request: r.clone(),
                });
            }
            true
        };
        let ready = drive(&mut w, 60, &mut spy, &|w| {
            w.events[who][before..]
                .iter()
                .any(|e| matches!(e, Event::InvitationReady { .. }))
        });
        assert!(ready);
    }
    let now = w.now();
    for c in &mut w.clients {
        c.connected(&mut w.rng, now);
    }
    let mut spy = |w: &mut World, _: usize, _: &[u8], r: Option<&ReceivedRequest>| {
        if let Some(r) = r {
            seen.push(Seen {
                at_ms: w.net.now_ms,
                request: r.clone(),
            });
        }
        true
    };
    drive(&mut w, 60, &mut spy, &|_| false);
    (seen, owner)
}

/// The queue a request names, if any.
fn queue_of(r: &ReceivedRequest) -> Option<QueueId> {
    match &r.command {
        Command::Create { recipient_key, .. } => Some(recipient_id_for(recipient_key)),
        Command::Subscribe { recipient_id, .. } | Command::Ack { recipient_id, .. } => {
            Some(*recipient_id)
        }
        _ => None,
    }
}

/// What a relay could use to link two queues: the closest request ids of requests naming
/// them, the closest times of their subscriptions, and whether their renewals keep a fixed
/// offset.
struct Link {
    min_id_distance: u64,
    min_gap_ms: u64,
    offset_spread_ms: u64,
}

fn link(seen: &[Seen], a: QueueId, b: QueueId) -> Link {
    let of = |q: QueueId| -> Vec<&Seen> {
        seen.iter()
            .filter(|s| queue_of(&s.request) == Some(q))
            .collect()
    };
    let (sa, sb) = (of(a), of(b));
    assert!(sa.len() >= 4 && sb.len() >= 4, "both queues were renewed");
    let mut min_id_distance = u64::MAX;
    let mut min_gap_ms = u64::MAX;
    for x in &sa {
        for y in &sb {
            let (i, j) = (x.request.request_id, y.request.request_id);
            min_id_distance = min_id_distance.min(i.abs_diff(j));
            // The client's own timing: its subscriptions. (Creations follow the user.)
            let timed = |s: &Seen| matches!(s.request.command, Command::Subscribe { .. });
            if timed(x) && timed(y) {
                min_gap_ms = min_gap_ms.min(x.at_ms.abs_diff(y.at_ms));
            }
        }
    }
    // For each Subscribe of `a`, the offset to the next of `b`: lock-step keeps it constant.
    let subs = |v: &[&Seen]| -> Vec<u64> {
        v.iter()
            .filter(|s| matches!(s.request.command, Command::Subscribe { .. }))
            .map(|s| s.at_ms)
            .collect()
    };
    let (ta, tb) = (subs(&sa), subs(&sb));
    let offsets: Vec<u64> = ta
        .iter()
        .filter_map(|t| tb.iter().find(|u| *u >= t).map(|u| u - t))
        .collect();
    let offset_spread_ms = offsets.iter().max().unwrap_or(&0) - offsets.iter().min().unwrap_or(&0);
    Link {
        min_id_distance,
        min_gap_ms,
        offset_spread_ms,
    }
}

/// (f) As the relays see it: two queues of one client and two queues of two clients, over
/// several seeds. Request ids are unrelated 64-bit values in both cases (no counter to
/// follow), one client's subscriptions never arrive in one burst (on reconnection too), and
/// renewals drift apart instead of keeping step, for one client's queues as for two clients'.
/// (What is left: one client's subscriptions are never within a second of each other, while
/// two clients' may be; against many clients per relay that absence says little.)
#[test]
fn queue_relays_cannot_link_one_clients_queues() {
    for seed in 600..604 {
        let (seen, owner) = observe(seed);
        let queues = |who: usize| -> Vec<QueueId> {
            let mut q: Vec<QueueId> = owner
                .iter()
                .filter(|(_, o)| **o == who)
                .map(|(q, _)| *q)
                .collect();
            q.sort_unstable();
            q
        };
        let (alice, bob, carol) = (queues(0), queues(1), queues(2));
        assert_eq!((alice.len(), bob.len(), carol.len()), (2, 1, 1));
        let same = link(&seen, alice[0], alice[1]);
        let other = link(&seen, bob[0], carol[0]);
        for l in [&same, &other] {
            assert!(l.min_id_distance > 1 << 32, "ids are not sequential");
            assert!(l.offset_spread_ms >= 1000, "renewals do not keep step");
        }
        assert!(
            same.min_gap_ms >= 800,
            "one client's queues never in one burst"
        );

        // No id is reused, and no id is near another one: nothing like a counter at all.
        let mut ids: Vec<u64> = seen.iter().map(|s| s.request.request_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let distinct_requests: HashSet<u64> = ids.iter().copied().collect();
        assert_eq!(ids.len(), distinct_requests.len());
        assert!(ids.windows(2).all(|p| p[1] - p[0] > 1 << 32));
    }
}

/// (g) Alice's queues are never on her gateway (60 creations); every packet a relay forwards
/// goes to another relay; a directory too small for distinct routes is a clear error.
#[test]
fn the_gateway_never_hosts_our_queues_and_small_directories_are_refused() {
    let mut w = World::new(707, 0, &["Alice"]);
    w.intercept = (0..w.nodes.len()).collect();
    let gateway = w.gateways[0];
    let now = w.now();
    for _ in 0..60 {
        w.clients[0].create_invitation(&mut w.rng, now).unwrap();
    }
    let mut creates_at: Vec<usize> = Vec::new();
    let mut spy = |w: &mut World, to: usize, packet: &[u8], r: Option<&ReceivedRequest>| {
        if let Some(ReceivedRequest {
            command: Command::Create { .. },
            ..
        }) = r
        {
            creates_at.push(to);
        }
        let mut fresh = MemoryReplayCache::new(4);
        if let Ok(Processed::Forward { next, .. }) = process(packet, w.nodes[to].keys(), &mut fresh)
        {
            assert_ne!(next, w.directory[to].id, "a hop forwards to itself");
        }
        true
    };
    let all_ready = |w: &World| {
        w.events[0]
            .iter()
            .filter(|e| matches!(e, Event::InvitationReady { .. }))
            .count()
            == 60
    };
    assert!(drive(&mut w, 300, &mut spy, &all_ready));
    assert!(creates_at.len() >= 60);
    assert!(
        creates_at.iter().all(|r| *r != gateway),
        "no queue on the gateway"
    );
    let gateway_id = w.directory[gateway].id;
    assert!(w.events[0].iter().all(|e| match e {
        Event::InvitationReady { invitation, .. } => invitation.relay != gateway_id,
        _ => true,
    }));
    let hosts: HashSet<usize> = creates_at.iter().copied().collect();
    assert_eq!(hosts.len(), 4, "spread over all other relays");

    // Too small: two or three relays cannot give distinct routes.
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let hops = |rng: &mut ChaCha20Rng, n: usize| -> Vec<Hop> {
        (0..n)
            .map(|_| Hop {
                id: RelayId::random(rng),
                key: RelayKey::generate(rng, 1).public_key(),
            })
            .collect()
    };
    for n in [1, 2, 3] {
        let relays = hops(&mut rng, n);
        let gateway = relays[0].id;
        let made = Client::new(&mut rng, relays, gateway, "A", ClientConfig::default());
        assert_eq!(
            made.err(),
            Some(ClientError::DirectoryTooSmall {
                need: MIN_RELAYS,
                have: n
            })
        );
    }
    let relays = hops(&mut rng, 4);
    let gateway = relays[0].id;
    let mut client = Client::new(
        &mut rng,
        relays.clone(),
        gateway,
        "A",
        ClientConfig::default(),
    )
    .expect("four relays are enough");
    let mut two = relays[..2].to_vec();
    assert_eq!(
        client.update_relays(two.clone()).err(),
        Some(ClientError::DirectoryTooSmall { need: 4, have: 2 })
    );
    // A directory listing one relay twice is no larger.
    two.extend_from_slice(&relays[..2]);
    assert_eq!(
        client.update_relays(two).err(),
        Some(ClientError::DirectoryTooSmall { need: 4, have: 2 })
    );
    client.update_relays(relays).unwrap();
}

/// (issue 16) A queue relay answers Alice's Subscribes with a Moved it made up: a statement
/// signed by a key of its own, and one replayed with Alice's queue but another queue's id.
/// Neither verifies under Alice's recipient key: she is not moved, the answers are counted as
/// wrong ones, and once the relay behaves her messages flow again.
#[test]
fn a_forged_moved_answer_is_not_taken() {
    use sotto_proto::keys::AuthKeyPair;
    use sotto_proto::queue::sign_moved;
    let (mut w, bob, alice, _) = friends(316);
    let forger = AuthKeyPair::generate(&mut w.rng);
    let mut lies = 0;
    let mut spy = |w: &mut World, _: usize, _: &[u8], r: Option<&ReceivedRequest>| {
        let Some(ReceivedRequest {
            request_id,
            reply,
            command: Command::Subscribe { recipient_id, .. },
            ..
        }) = r
        else {
            return true;
        };
        let new_recipient_key = forger.public_key();
        let statement_of = if lies % 2 == 0 {
            *recipient_id
        } else {
            QueueId::random(&mut w.rng)
        };
        lies += 1;
        let body = ResponseBody::Moved {
            new_recipient_key,
            moved_sig: sign_moved(&forger, &statement_of, &new_recipient_key),
        };
        let answer = Response {
            request_id: *request_id,
            body,
        };
        answer_through(w, reply.as_ref(), &answer.encode().unwrap());
        false
    };
    w.reopen(0);
    w.reopen(1);
    drive(&mut w, 30, &mut spy, &|_| false);
    assert!(lies >= 2, "the relays lied {lies} times");
    assert!(!w.clients[0].is_moved() && !w.clients[1].is_moved());
    assert!(!w.events[0].iter().any(|e| matches!(e, Event::ProfileMoved)));
    assert!(w.events[0].iter().any(|e| matches!(
        e,
        Event::SubscribeFailed {
            error: Error::PeerMisbehaved(PeerMisbehaved::WrongAnswer),
            ..
        }
    )));
    // The relays behave again: both ways still work.
    let now = w.now();
    let to_bob = w.clients[0]
        .send_text(&mut w.rng, bob, "still here", now)
        .unwrap()
        .id;
    let to_alice = w.clients[1]
        .send_text(&mut w.rng, alice, "me too", now)
        .unwrap()
        .id;
    assert!(drive(&mut w, 120, &mut pass, &|w| received(w, 1, to_bob)
        && received(w, 0, to_alice)));
}
