//! Admission: work bound to the relay and epoch, the spent set and its cap, the difficulty
//! that follows the load, new blobs.

use super::super::tests::{Fixture, NOW, config};
use super::super::*;
use crate::keys::AuthKeyPair;
use crate::onion::{ConnTag, build_surb};
use crate::queue::{BlobId, Command, ErrorCode, Request};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// A fixture with 8-bit work and a relay at key epoch 5.
fn admission() -> Fixture {
    let mut f = Fixture::new(ServiceConfig {
        pow_bits: 8,
        ..config()
    });
    f.scope.key_epoch = 5;
    f
}

#[test]
fn work_for_another_relay_is_refused() {
    let mut f = admission();
    let key = AuthKeyPair::generate(&mut f.rng);
    let elsewhere = Scope {
        relay: RelayId::from_bytes([0xee; 32]),
        ..f.scope
    };
    let p = f.create_for(&key, 1, NOW, &elsewhere);
    // 8 bits solved elsewhere pass here only by a 1-in-256 chance; the seed is fixed.
    assert_eq!(f.run(&p, NOW).outcome, Outcome::Refused(ErrorCode::Pow));
    assert_eq!(f.service.spent_challenges(), 0);
    assert!(
        f.service
            .store()
            .queue(&recipient_id_for(&key.public_key()))
            .unwrap()
            .is_none()
    );
}

#[test]
fn work_for_an_old_epoch_is_refused_and_the_previous_epoch_is_accepted_in_the_overlap() {
    let mut f = admission();
    let (current, previous, old) = (
        f.scope,
        Scope {
            key_epoch: 4,
            ..f.scope
        },
        Scope {
            key_epoch: 3,
            ..f.scope
        },
    );
    // Work for epoch 3 in a packet peeled by the current key (5): refused.
    let key = AuthKeyPair::generate(&mut f.rng);
    let p = f.create_for(&key, 1, NOW, &old);
    assert_eq!(
        f.run_at(&p, &current, NOW).outcome,
        Outcome::Refused(ErrorCode::Pow)
    );
    // ... or by the previous key (4): still refused, the work names epoch 3.
    assert_eq!(
        f.run_at(&p, &previous, NOW).outcome,
        Outcome::Refused(ErrorCode::Pow)
    );
    // Work for epoch 4 in a packet the previous key (still in its overlap) peeled: accepted.
    let p = f.create_for(&key, 2, NOW, &previous);
    assert_eq!(f.run_at(&p, &previous, NOW).outcome, Outcome::Ok);
    // Work for epoch 4 cannot be passed off under the current key either.
    let other = AuthKeyPair::generate(&mut f.rng);
    let p = f.create_for(&other, 3, NOW, &previous);
    assert_eq!(
        f.run_at(&p, &current, NOW).outcome,
        Outcome::Refused(ErrorCode::Pow)
    );
}

#[test]
fn a_retried_create_gets_the_same_ids_without_new_work() {
    let mut f = admission();
    let scope = f.scope;
    let key = AuthKeyPair::generate(&mut f.rng);
    let (first, opener) = f.create_with_opener(&key, 1, NOW, &scope);
    let handled = f.run(&first, NOW);
    assert_eq!(handled.outcome, Outcome::Ok);
    let ids = f.answer(&handled, &opener);
    assert!(matches!(ids, ResponseBody::Ids { .. }));
    assert_eq!(f.service.spent_challenges(), 1);
    // The answer was lost: the client sends the same Create (same key, timestamp and nonce)
    // with a new reply block and request id, a minute later. Same ids, no second queue.
    let nonce = ReceivedRequest::decode(&first)
        .unwrap()
        .command
        .pow_nonce()
        .unwrap();
    let conn = ConnTag::random(&mut f.rng);
    let (reply, opener) = build_surb(&mut f.rng, &f.route, conn).unwrap();
    let retry = Request {
        request_id: 2,
        reply: Some(reply),
        command: Command::Create {
            recipient_key: key.public_key(),
            timestamp: NOW,
            pow_nonce: nonce,
        },
    }
    .encode(Some(&key))
    .unwrap();
    let handled = f.run(&retry, NOW + 60);
    assert_eq!(handled.outcome, Outcome::Ok);
    assert_eq!(f.answer(&handled, &opener), ids);
    assert_eq!(f.service.spent_challenges(), 1);
    // A retry with fresh work (a new timestamp) is idempotent too.
    let (fresh, opener) = f.create_with_opener(&key, 3, NOW + 61, &scope);
    let handled = f.run(&fresh, NOW + 61);
    assert_eq!(f.answer(&handled, &opener), ids);
}

#[test]
fn spent_work_creates_nothing_again_and_is_forgotten_after_the_window() {
    let mut f = admission();
    let scope = f.scope;
    let key = AuthKeyPair::generate(&mut f.rng);
    let create = f.create_for(&key, 1, NOW, &scope);
    assert_eq!(f.run(&create, NOW).outcome, Outcome::Ok);
    let recipient_id = recipient_id_for(&key.public_key());
    let delete = f.request(Command::Delete { recipient_id }, Some(&key));
    assert_eq!(f.run(&delete, NOW).outcome, Outcome::Ok);
    // The same work again (a new packet with the same Create): spent, refused, nothing made.
    let conn = ConnTag::random(&mut f.rng);
    let (reply, _) = build_surb(&mut f.rng, &f.route, conn).unwrap();
    let mut again = ReceivedRequest::decode(&create).unwrap().command;
    let replay = Request {
        request_id: 9,
        reply: Some(reply),
        command: again.clone(),
    }
    .encode(Some(&key))
    .unwrap();
    assert_eq!(
        f.run(&replay, NOW + 1).outcome,
        Outcome::Refused(ErrorCode::Pow)
    );
    assert!(f.service.store().queue(&recipient_id).unwrap().is_none());
    // A spent challenge is refused before its signature is looked at: a Create with the
    // same work and a broken signature is refused as spent work, not as a bad signature.
    let mut broken = replay.clone();
    let last = broken.len() - 1;
    broken[last] ^= 1;
    assert_eq!(
        f.run(&broken, NOW + 1).outcome,
        Outcome::Refused(ErrorCode::Pow)
    );
    // The spent set forgets it once its timestamp leaves the window, where Expired refuses it.
    let skew = f.service.config().max_clock_skew;
    f.service.tick(NOW + skew).unwrap();
    assert_eq!(f.service.spent_challenges(), 1);
    f.service.tick(NOW + skew + 1).unwrap();
    assert_eq!(f.service.spent_challenges(), 0);
    assert_eq!(
        f.run(&replay, NOW + skew + 1).outcome,
        Outcome::Refused(ErrorCode::Expired)
    );
    // Work with a bad signature is not spent: its owner's Create still goes through.
    again.set_pow_nonce(0);
    let other = AuthKeyPair::generate(&mut f.rng);
    let mut forged = f.create_for(&other, 4, NOW, &scope);
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert_eq!(
        f.run(&forged, NOW).outcome,
        Outcome::Refused(ErrorCode::Auth)
    );
    assert_eq!(f.service.spent_challenges(), 0);
}

#[test]
fn a_new_blob_needs_work_and_chunks_of_a_known_blob_do_not() {
    let mut f = admission();
    let scope = f.scope;
    let blob_id = BlobId::from_bytes([4; 16]);
    let put = |f: &mut Fixture, index: u32, pow_nonce: u64| {
        let p = f.request(
            Command::BlobPut {
                blob_id,
                index,
                pow_nonce,
                data: vec![index as u8; 10],
            },
            None,
        );
        f.run(&p, NOW).outcome
    };
    let challenge = crate::queue::blob_challenge(&scope, &blob_id);
    let bad = (0..)
        .find(|n| crate::pow::verify(&challenge, 8, *n).is_err())
        .unwrap();
    assert_eq!(put(&mut f, 3, bad), Outcome::Refused(ErrorCode::Pow));
    assert_eq!(f.service.store().blob_chunk_count(&blob_id).unwrap(), 0);
    // Work for another relay does not pay either.
    let elsewhere = Scope {
        relay: RelayId::from_bytes([0xee; 32]),
        ..scope
    };
    let foreign =
        crate::pow::solve(&crate::queue::blob_challenge(&elsewhere, &blob_id), 8).unwrap();
    if crate::pow::verify(&challenge, 8, foreign).is_err() {
        assert_eq!(put(&mut f, 3, foreign), Outcome::Refused(ErrorCode::Pow));
    }
    // Solved once: the first chunk to arrive (any index) starts the blob.
    let nonce = crate::pow::solve(&challenge, 8).unwrap();
    assert_eq!(put(&mut f, 3, nonce), Outcome::Ok);
    assert_eq!(put(&mut f, 0, nonce), Outcome::Ok);
    // A chunk of a blob the relay holds needs no new work (a rotation may have outdated it).
    assert_eq!(put(&mut f, 1, bad), Outcome::Ok);
    assert_eq!(f.service.store().blob_chunk_count(&blob_id).unwrap(), 3);
}

/// A fixture whose difficulty starts at 4 bits, rises above 2 paid admissions per 10 s and
/// stops at 7 bits.
fn loaded() -> Fixture {
    let mut f = Fixture::new(ServiceConfig {
        pow_bits: 4,
        max_pow_bits: 7,
        admission_rate: 2,
        admission_window: 10,
        ..config()
    });
    // The first window starts with the first request or tick.
    f.service.tick(NOW).unwrap();
    f
}

/// Creates `n` queues at `now`, each with work at the difficulty asked for then.
fn create_queues(f: &mut Fixture, n: usize, now: u64) {
    let scope = f.scope;
    for i in 0..n {
        let key = AuthKeyPair::generate(&mut f.rng);
        let p = f.create_for(&key, i as u64, now, &scope);
        assert_eq!(f.run(&p, now).outcome, Outcome::Ok, "create {i}");
    }
}

/// A Create for a new key with work solved at `bits`, and what the relay answers it.
fn create_at_bits(f: &mut Fixture, bits: u8, now: u64) -> (Outcome, ResponseBody) {
    let key = AuthKeyPair::generate(&mut f.rng);
    let conn = ConnTag::random(&mut f.rng);
    let (reply, opener) = build_surb(&mut f.rng, &f.route, conn).unwrap();
    let scope = f.scope;
    // Work that meets `bits` and not one bit more, so it falls short of anything higher.
    let mut p = Request::create(1, reply.clone(), &key, now, bits, &scope).unwrap();
    let mut n = 0;
    while ReceivedRequest::decode(&p)
        .unwrap()
        .command
        .verify_pow(&scope, bits + 1)
        .is_ok()
    {
        n += 1;
        p = Request::create(1 + n, reply.clone(), &key, now + n, bits, &scope).unwrap();
    }
    let handled = f.run(&p, now);
    let body = f.answer(&handled, &opener);
    (handled.outcome, body)
}

#[test]
fn the_difficulty_rises_one_bit_per_doubling_over_the_rate_and_stops_at_its_bound() {
    let mut f = loaded();
    // 5 paid admissions at a rate of 2: over 2× and within 4× the rate, two doublings.
    create_queues(&mut f, 5, NOW);
    assert_eq!(f.service.pow_bits(), 4, "the window has not ended");
    f.service.tick(NOW + 10).unwrap();
    assert_eq!(f.service.pow_bits(), 6);
    // Work at the old difficulty is answered with the new one (a typed POW refusal).
    assert_eq!(
        create_at_bits(&mut f, 4, NOW + 11),
        (
            Outcome::Refused(ErrorCode::Pow),
            ResponseBody::PowRequired { bits: 6 }
        )
    );
    // 20 more at 6 bits: four doublings over the rate, but never above max_pow_bits.
    create_queues(&mut f, 20, NOW + 12);
    f.service.tick(NOW + 20).unwrap();
    assert_eq!(f.service.pow_bits(), 7);
    create_queues(&mut f, 20, NOW + 21);
    f.service.tick(NOW + 30).unwrap();
    assert_eq!(f.service.pow_bits(), 7);
}

#[test]
fn the_difficulty_falls_one_bit_per_quiet_window_back_to_the_floor() {
    let mut f = loaded();
    create_queues(&mut f, 20, NOW);
    f.service.tick(NOW + 10).unwrap();
    assert_eq!(f.service.pow_bits(), 7);
    // 2 admissions: at the rate, not under half of it: the difficulty holds.
    create_queues(&mut f, 2, NOW + 11);
    f.service.tick(NOW + 20).unwrap();
    assert_eq!(f.service.pow_bits(), 7);
    // One admission (half the rate): one bit down.
    create_queues(&mut f, 1, NOW + 21);
    f.service.tick(NOW + 30).unwrap();
    assert_eq!(f.service.pow_bits(), 6);
    // Two windows without a request, seen at once: one bit each.
    f.service.tick(NOW + 50).unwrap();
    assert_eq!(f.service.pow_bits(), 4);
    // Never below the floor; at the floor short work gets the plain POW error old clients know.
    f.service.tick(NOW + 100).unwrap();
    assert_eq!(f.service.pow_bits(), 4);
    let (outcome, body) = create_at_bits(&mut f, 3, NOW + 101);
    assert_eq!(outcome, Outcome::Refused(ErrorCode::Pow));
    assert_eq!(body, ResponseBody::Error(ErrorCode::Pow));
}

#[test]
fn bad_work_and_a_replayed_create_do_not_raise_the_difficulty() {
    let mut f = loaded();
    for _ in 0..10 {
        create_at_bits(&mut f, 3, NOW + 1);
    }
    // One good Create sent again and again: its work is spent once.
    let key = AuthKeyPair::generate(&mut f.rng);
    let scope = f.scope;
    let p = f.create_for(&key, 1, NOW + 2, &scope);
    for _ in 0..10 {
        assert_eq!(f.run(&p, NOW + 2).outcome, Outcome::Ok);
    }
    f.service.tick(NOW + 10).unwrap();
    assert_eq!(f.service.pow_bits(), 4);
}

#[test]
fn admission_rate_zero_keeps_the_floor() {
    let mut f = Fixture::new(ServiceConfig {
        admission_rate: 0,
        admission_window: 1,
        ..config()
    });
    create_queues(&mut f, 10, NOW);
    f.service.tick(NOW + 5).unwrap();
    assert_eq!(f.service.pow_bits(), config().pow_bits);
}

#[test]
fn a_full_spent_set_refuses_new_work_and_frees_room_as_timestamps_age_out() {
    let mut f = Fixture::new(ServiceConfig {
        max_spent: 2,
        ..config()
    });
    let scope = f.scope;
    let (key, _, _) = f.create();
    f.create();
    assert_eq!(f.service.spent_challenges(), 2);
    let other = AuthKeyPair::generate(&mut f.rng);
    let p = f.create_for(&other, 1, NOW + 1, &scope);
    assert_eq!(f.run(&p, NOW + 1).outcome, Outcome::Full(Limit::Spent));
    assert_eq!(f.service.spent_challenges(), 2, "the set does not grow");
    assert_eq!(f.service.store().usage().queues, 2, "nothing created");
    // The owner's retry of spent work is still answered (it adds nothing to the set).
    let retry = f.create_for(&key, 2, NOW, &scope);
    assert_eq!(f.run(&retry, NOW + 1).outcome, Outcome::Ok);
    // Once the first two leave the window there is room again.
    let skew = f.service.config().max_clock_skew;
    f.service.tick(NOW + skew + 1).unwrap();
    assert_eq!(f.service.spent_challenges(), 0);
    let p = f.create_for(&other, 3, NOW + skew + 1, &scope);
    assert_eq!(f.run(&p, NOW + skew + 1).outcome, Outcome::Ok);
}

#[test]
fn a_full_relay_refuses_a_create_before_its_signature_and_spends_nothing() {
    let mut f = Fixture::new(ServiceConfig {
        max_queues: 1,
        ..config()
    });
    f.create();
    let scope = f.scope;
    let other = AuthKeyPair::generate(&mut f.rng);
    let mut forged = f.create_for(&other, 1, NOW, &scope);
    let last = forged.len() - 1;
    forged[last] ^= 1;
    // Answered QUOTA, not AUTH: the signature (the dearer check) is not looked at.
    assert_eq!(f.run(&forged, NOW).outcome, Outcome::Full(Limit::Queues));
    assert_eq!(f.service.spent_challenges(), 1);
}
