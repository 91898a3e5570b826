//! Devices whose clocks are wrong, in virtual time: relays refuse a queue creation whose
//! timestamp is outside their window and say their time (`ResponseBody::ExpiredAt`); the
//! client takes the offset (bounded), creates the queue again at once and reports a large
//! offset once (`Event::ClockOffset`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::World;
use sotto_proto::client::{Client, ContactId, Error, Event, MAX_CLOCK_OFFSET};
use sotto_proto::envelope::Content;
use sotto_proto::queue::ErrorCode;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const DAY: i64 = 24 * 3600;

fn clock_events(w: &World, who: usize) -> Vec<i64> {
    w.events[who]
        .iter()
        .filter_map(|e| match e {
            Event::ClockOffset { seconds } => Some(*seconds),
            _ => None,
        })
        .collect()
}

/// `from` sends `text` to its contact `contact`; true once `to` has it.
fn exchange(w: &mut World, from: usize, contact: ContactId, to: usize, text: &str) -> bool {
    let now = w.client_now(from);
    w.clients[from]
        .send_text(&mut w.rng, contact, text, now)
        .unwrap();
    w.run_until(120, |w| {
        w.events[to].iter().any(|e| {
            matches!(e, Event::Message { envelope, .. }
                if matches!(&envelope.content, Content::Text(t) if t == text))
        })
    })
}

/// Within a few seconds of `expected`: the offset is measured against a packet's trip.
fn near(offset: i64, expected: i64) -> bool {
    (offset - expected).abs() <= 5
}

#[test]
fn a_device_fifteen_minutes_fast_and_one_eight_days_slow_make_contact_and_talk() {
    let mut w = World::new(0xc10c, 0, &["Alice", "Bob"]);
    w.client_skew = vec![15 * 60, -8 * DAY];
    let (alice_bob, bob_alice) = w.connect();
    assert!(exchange(&mut w, 0, alice_bob, 1, "from the fast one"));
    assert!(exchange(&mut w, 1, bob_alice, 0, "from the slow one"));

    // Each learned its offset from its first refused creation, and was told once.
    assert!(near(w.clients[0].clock_offset(), -15 * 60));
    assert!(near(w.clients[1].clock_offset(), 8 * DAY));
    let (a, b) = (clock_events(&w, 0), clock_events(&w, 1));
    assert!(a.len() == 1 && near(a[0], -15 * 60), "{a:?}");
    assert!(b.len() == 1 && near(b[0], 8 * DAY), "{b:?}");
    // Nothing failed on the way.
    for who in 0..2 {
        assert!(
            w.events[who].iter().all(|e| e.error().is_none()),
            "client {who}: {:?}",
            w.events[who]
        );
    }
    // The invitation's expiry and the messages' stamps are in the relays' time.
    let stamped = w.events[1].iter().find_map(|e| match e {
        Event::Message { envelope, .. } => Some(envelope.sent_at),
        _ => None,
    });
    assert!(stamped.unwrap().abs_diff(w.now()) < 300);

    // A second invitation needs no correction: no second refusal, no second event.
    let now = w.client_now(1);
    w.clients[1].create_invitation(&mut w.rng, now).unwrap();
    let ready = w.run_until(60, |w| {
        w.events[1]
            .iter()
            .any(|e| matches!(e, Event::InvitationReady { .. }))
    });
    assert!(ready);
    assert_eq!(clock_events(&w, 1).len(), 1);

    // The offset is kept with the profile.
    let restored = Client::from_persisted(w.clients[1].to_persisted().as_bytes()).unwrap();
    assert_eq!(restored.clock_offset(), w.clients[1].clock_offset());
}

#[test]
fn relays_claiming_a_clock_beyond_the_bound_are_not_believed_and_nothing_hangs() {
    let mut w = World::new(0xbad_c10c, 0, &["Alice"]);
    // Every relay says it is 31 days later than we think.
    w.relay_skew = 31 * DAY;
    assert!(w.relay_skew.unsigned_abs() > MAX_CLOCK_OFFSET);
    let now = w.client_now(0);
    let handle = w.clients[0].create_invitation(&mut w.rng, now).unwrap();
    let failed = w.run_until(60, |w| {
        w.events[0]
            .iter()
            .any(|e| matches!(e, Event::InvitationFailed { .. }))
    });
    assert!(failed, "the invitation fails instead of waiting forever");
    assert!(w.events[0].iter().any(|e| matches!(e,
        Event::InvitationFailed { handle: h, error: Error::RelayRefused(ErrorCode::Expired) }
            if *h == handle)));
    assert_eq!(w.clients[0].clock_offset(), 0);
    assert!(clock_events(&w, 0).is_empty());
    assert_eq!(w.clients[0].pending_requests(), 0);
}

#[test]
fn relays_a_day_ahead_are_believed_once_and_within_the_bound() {
    // The device is right and the relays are a day ahead: the client goes with the relays.
    let mut w = World::new(0xc10c2, 0, &["Alice", "Bob"]);
    w.relay_skew = DAY;
    let (alice_bob, _) = w.connect();
    assert!(exchange(&mut w, 0, alice_bob, 1, "hello"));
    assert!(near(w.clients[0].clock_offset(), DAY));
    assert_eq!(clock_events(&w, 0).len(), 1);
    assert_eq!(clock_events(&w, 1).len(), 1);
}
