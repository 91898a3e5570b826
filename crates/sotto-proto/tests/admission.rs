//! Relays under load ask for more work than the client read in its directory: the relay
//! answers `ResponseBody::PowRequired` with the difficulty it asks for now, and the client
//! solves once more and creates its queue with one immediate retry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::World;
use sotto_proto::client::Event;
use sotto_proto::keys::AuthKeyPair;
use sotto_proto::onion::{ConnTag, build_surb};
use sotto_proto::pow::Scope;
use sotto_proto::queue::Request;
use sotto_proto::service::{Outcome, ServiceConfig};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[test]
fn a_client_with_a_stale_difficulty_creates_its_queue_after_one_retry() {
    let mut w = World::with_service(
        0xad_1155,
        0,
        &["Alice"],
        ServiceConfig {
            max_pow_bits: 10,
            admission_rate: 1,
            admission_window: 30,
            ..ServiceConfig::default()
        },
    );
    // Load every relay: three paid queue creations in one window, three times the rate of
    // one, so each asks for two bits more (6) once the window ends.
    let now = w.relay_now();
    for k in 0..w.nodes.len() {
        let scope = Scope {
            relay: w.directory[k].id,
            key_epoch: 1,
        };
        for i in 0..3 {
            let key = AuthKeyPair::generate(&mut w.rng);
            let conn = ConnTag::random(&mut w.rng);
            let (reply, _) = build_surb(&mut w.rng, &w.directory, conn).unwrap();
            let p = Request::create(i, reply, &key, now, 4, &scope).unwrap();
            let handled = w.nodes[k].service_mut().handle(&p, &scope, now, &mut w.rng);
            assert_eq!(handled.outcome, Outcome::Ok);
        }
    }
    w.run_until(31, |_| false);
    for node in &w.nodes {
        assert_eq!(node.service().pow_bits(), 6);
    }
    // The client still asks its own 4 bits (no directory told it otherwise).
    let relay = w.directory[0].id;
    assert_eq!(w.clients[0].pow_terms(relay).1, 4);
    let now = w.client_now(0);
    let handle = w.clients[0].create_invitation(&mut w.rng, now).unwrap();
    let ready = w.run_until(30, |w| {
        w.events[0]
            .iter()
            .any(|e| matches!(e, Event::InvitationReady { handle: h, .. } if *h == handle))
    });
    assert!(ready, "{:?}", w.events[0]);
    assert!(w.events[0].iter().all(|e| e.error().is_none()));
    // Answered at once: not a retry on a timeout, and nothing is left waiting.
    assert_eq!(w.clients[0].resent_requests(), 0);
    assert_eq!(w.clients[0].pending_requests(), 0);
    // The client now asks for the queue relay's new difficulty.
    let learned = w
        .directory
        .iter()
        .filter(|h| w.clients[0].pow_terms(h.id).1 == 6)
        .count();
    assert_eq!(learned, 1);
}
