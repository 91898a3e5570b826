//! A queue relay delivers a message before its batch's commit, and answers the Send only after
//! it (docs/PROTOCOL.md §4 "Durability"). Here it crashes in between: the message went to Bob,
//! but the store and the SURBs it held are lost and Alice got no answer. Alice sends again from
//! her outbox, the relay stores and delivers again, and Bob drops the duplicate (his ratchet has
//! opened it) and acknowledges it; his Ack of the first copy, which the relay no longer has, is
//! refused and changes nothing. Nothing is lost or shown twice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod common;

use common::{World, nodes_index, route};
use sotto_proto::client::Event;
use sotto_proto::node::NodeOutput;
use sotto_proto::queue::{Command, ErrorCode};
use sotto_proto::service::{QueueService, QueueStore};

#[test]
fn a_relay_that_crashes_between_delivery_and_commit_loses_nothing_and_shows_nothing_twice() {
    let mut w = World::new(1818, 0, &["Alice", "Bob"]);
    let (bob, _) = w.connect();
    let now = w.client_now(0);
    let id = w.clients[0]
        .send_text(&mut w.rng, bob, "hi", now)
        .unwrap()
        .id;

    let relay = crash_at_send(&mut w, 1);
    let refused_no_message = |w: &World| {
        let i = ErrorCode::NoMessage.index().unwrap();
        w.nodes[relay].stats().refused_codes[i]
    };
    let before = refused_no_message(&w);

    let shown = |w: &World| {
        w.events[1]
            .iter()
            .filter(|e| matches!(e, Event::Message { envelope, .. } if envelope.id == id))
            .count()
    };
    let sent = |w: &World| {
        w.events[0]
            .iter()
            .any(|e| matches!(e, Event::Sent { message, .. } if *message == id))
    };
    // Bob has the message from the delivery that left before the crash.
    assert!(
        w.run_until(5, |w| shown(w) == 1),
        "the delivery reached Bob"
    );
    assert!(!sent(&w), "Alice got no answer");

    // Alice's retry is stored, Bob (subscribed again) gets it, drops it and acknowledges it.
    assert!(
        w.run_until(120, |w| sent(w)
            && w.nodes[relay].service().store().usage().messages == 0
            && w.clients[0].pending_requests() == 0),
        "the retry was stored and answered, and its copy acknowledged"
    );
    w.run_until(10, |_| false);
    assert_eq!(shown(&w), 1, "the duplicate is not shown");
    assert_eq!(w.texts(1), vec!["hi"]);
    assert!(
        refused_no_message(&w) > before,
        "Bob's Ack of the copy the crash lost was refused, harmlessly"
    );
    assert_eq!(w.nodes[relay].service().store().usage().messages, 0);
}

/// Intercepts the relays until Alice's `nth` Send (from 1) reaches its queue's relay, passing
/// every other packet on; there the relay delivers the message, then crashes before its batch
/// commits: the answer never leaves, and the store and the SURBs it held are lost. Returns that
/// relay.
fn crash_at_send(w: &mut World, nth: usize) -> usize {
    let mut seen = 0;
    let ids = nodes_index(&w.directory);
    w.intercept = (0..w.nodes.len()).collect();
    let mut crashed = None;
    let deadline = w.net.now_ms + 30_000;
    while crashed.is_none() && w.net.now_ms < deadline {
        w.step();
        while let Some((to, packet)) = w.intercepted.pop_front() {
            let send = crashed.is_none()
                && w.peek(to, &packet)
                    .is_some_and(|r| matches!(r.command, Command::Send { .. }));
            if send {
                seen += 1;
            }
            if !send || seen < nth {
                w.deliver(to, &packet);
                continue;
            }
            // What is on disk before the batch that stores the Send commits.
            let on_disk = w.nodes[to].service().store().clone();
            let now = w.relay_now();
            let outs = w.nodes[to].packet(&packet, now, &mut w.rng).unwrap();
            let (deliveries, answers): (Vec<_>, Vec<_>) =
                outs.into_iter().partition(NodeOutput::is_delivery);
            assert_eq!(answers.len(), 1, "the Send's answer, held for the commit");
            assert_eq!(
                deliveries.len(),
                1,
                "Bob is subscribed: the delivery leaves"
            );
            for out in deliveries {
                route(&mut w.net, out, &ids);
            }
            // The crash: the answer never leaves; the batch and the SURBs are lost.
            let config = w.nodes[to].service().config().clone();
            *w.nodes[to].service_mut() = QueueService::new(on_disk, config);
            crashed = Some(to);
        }
    }
    w.intercept.clear();
    crashed.expect("the Send reached its relay")
}

/// The same crash for a batch (several envelopes in one ratchet message): Alice's first text
/// leaves alone, the four written with it leave together once it is stored; the relay crashes
/// on that batch after delivering it. Alice sends the batch again, the same bytes; Bob drops
/// the copy: each text is shown once, in order, and each is reported sent once, in order.
#[test]
fn a_batch_stored_twice_after_a_crash_is_shown_once_in_order() {
    let mut w = World::new(1819, 0, &["Alice", "Bob"]);
    let (bob, _) = w.connect();
    let now = w.client_now(0);
    let texts = ["one", "two", "three", "four", "five"];
    let ids: Vec<_> = texts
        .iter()
        .map(|t| w.clients[0].send_text(&mut w.rng, bob, t, now).unwrap().id)
        .collect();
    crash_at_send(&mut w, 2);
    let sent = |w: &World| -> Vec<_> {
        w.events[0]
            .iter()
            .filter_map(|e| match e {
                Event::Sent { message, .. } if ids.contains(message) => Some(*message),
                _ => None,
            })
            .collect()
    };
    assert!(
        w.run_until(120, |w| sent(w) == ids
            && w.clients[0].pending_requests() == 0),
        "the batch was sent again and stored: {:?}",
        sent(&w)
    );
    w.run_until(20, |_| false);
    assert_eq!(w.texts(1), texts, "each shown once, in order");
    assert_eq!(sent(&w), ids, "each reported sent once, in order");
}
