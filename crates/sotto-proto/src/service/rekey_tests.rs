//! Rekey and the Moved answer.

use super::super::tests::{Fixture, NOW, config, message, secured, subscribe};
use super::*;
use crate::keys::AuthKeyPair;
use crate::onion::{ConnTag, build_surb};
use crate::queue::{Command, Request, sign_moved};
use crate::service::{Handled, Outcome};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// Runs `command` signed by `signer` and opens the answer.
fn ask(f: &mut Fixture, command: Command, signer: &AuthKeyPair) -> (Handled, ResponseBody) {
    let conn = ConnTag::random(&mut f.rng);
    let (reply, opener) = build_surb(&mut f.rng, &f.route, conn).unwrap();
    let payload = Request {
        request_id: 9,
        reply: Some(reply),
        command,
    }
    .encode(Some(signer))
    .unwrap();
    let handled = f.run(&payload, NOW);
    let body = f.answer(&handled, &opener);
    (handled, body)
}

fn rekey(recipient_id: QueueId, from: &AuthKeyPair, to: &AuthPublicKey) -> Command {
    Command::Rekey {
        recipient_id,
        new_recipient_key: *to,
        moved_sig: sign_moved(from, &recipient_id, to),
    }
}

/// The recipient key the relay holds for `recipient_id`.
fn key_of(f: &Fixture, recipient_id: QueueId) -> AuthPublicKey {
    let queue = f.service.store().queue(&recipient_id).unwrap();
    queue.unwrap().recipient_key
}

fn subscribe_command(f: &mut Fixture, recipient_id: QueueId) -> Command {
    Command::Subscribe {
        recipient_id,
        surbs: vec![f.surb()],
    }
}

#[test]
fn rekey_replaces_the_key_drops_the_surbs_and_the_old_key_learns_it_moved() {
    let mut f = Fixture::new(config());
    let (old, rid, sid, bob) = secured(&mut f);
    assert_eq!(subscribe(&mut f, &old, rid, 3, NOW).outcome, Outcome::Ok);
    assert_eq!(f.service.surbs_held(), 3);

    let new = AuthKeyPair::generate(&mut f.rng);
    let (_, body) = ask(&mut f, rekey(rid, &old, &new.public_key()), &old);
    assert_eq!(body, ResponseBody::Ok);
    assert_eq!(
        f.service.surbs_held(),
        0,
        "the old device's reply blocks are gone"
    );
    assert_eq!(key_of(&f, rid), new.public_key());
    let record = f.service.store().moved(&rid).unwrap().pop().unwrap();
    assert_eq!(record.previous_key, old.public_key());

    // A message sent now waits: nothing is pushed to the old device.
    let p = f.request(
        Command::Send {
            sender_id: sid,
            message: message(1),
        },
        Some(&bob),
    );
    let handled = f.run(&p, NOW);
    assert_eq!((handled.outcome, handled.outgoing.len()), (Outcome::Ok, 1));

    // Every recipient command of the old key is answered with the statement, which verifies
    // under the old key.
    let commands = [
        subscribe_command(&mut f, rid),
        Command::Ack {
            recipient_id: rid,
            message_id: crate::queue::QueueMessageId::random(&mut f.rng),
            surbs: Vec::new(),
            quiet: false,
        },
        Command::Delete { recipient_id: rid },
        rekey(rid, &old, &AuthKeyPair::generate(&mut f.rng).public_key()),
    ];
    for command in commands {
        let (handled, body) = ask(&mut f, command, &old);
        assert_eq!(handled.outcome, Outcome::Refused(ErrorCode::Moved));
        assert_moved(&body, rid, &old, &new);
    }
    assert_eq!(
        key_of(&f, rid),
        new.public_key(),
        "the old key changed nothing"
    );

    // The new key subscribes and gets the message.
    let handled = subscribe(&mut f, &new, rid, 2, NOW);
    assert_eq!((handled.outcome, handled.outgoing.len()), (Outcome::Ok, 2));
}

#[test]
fn a_rekey_signed_by_a_stranger_or_with_a_bad_statement_is_refused() {
    let mut f = Fixture::new(config());
    let (owner, rid, _, _) = secured(&mut f);
    let stranger = AuthKeyPair::generate(&mut f.rng);
    let target = AuthKeyPair::generate(&mut f.rng).public_key();
    // Signed by a stranger (statement included).
    let (_, body) = ask(&mut f, rekey(rid, &stranger, &target), &stranger);
    assert_eq!(body, ResponseBody::Error(ErrorCode::Auth));
    // Signed by the owner, but the statement by a stranger, for another queue, or naming
    // another key.
    let other_queue = QueueId::random(&mut f.rng);
    let bad = [
        sign_moved(&stranger, &rid, &target),
        sign_moved(&owner, &other_queue, &target),
        sign_moved(&owner, &rid, &stranger.public_key()),
    ];
    for moved_sig in bad {
        let command = Command::Rekey {
            recipient_id: rid,
            new_recipient_key: target,
            moved_sig,
        };
        let (_, body) = ask(&mut f, command, &owner);
        assert_eq!(body, ResponseBody::Error(ErrorCode::Auth));
    }
    // A key nobody can sign with (the identity point, a weak key).
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = AuthPublicKey::from_bytes(identity);
    let (_, body) = ask(&mut f, rekey(rid, &owner, &weak), &owner);
    assert_eq!(body, ResponseBody::Error(ErrorCode::Auth));
    // An unknown queue.
    let (_, body) = ask(&mut f, rekey(other_queue, &owner, &target), &owner);
    assert_eq!(body, ResponseBody::Error(ErrorCode::NoQueue));
    assert_eq!(key_of(&f, rid), owner.public_key());
    assert!(f.service.store().moved(&rid).unwrap().is_empty());
}

/// `body` is `Moved` to `new`, with a statement `old` signed for queue `rid`.
fn assert_moved(body: &ResponseBody, rid: QueueId, old: &AuthKeyPair, new: &AuthKeyPair) {
    let ResponseBody::Moved {
        new_recipient_key,
        moved_sig,
    } = body
    else {
        panic!("expected Moved, got {body:?}");
    };
    assert_eq!(*new_recipient_key, new.public_key());
    verify_moved(&old.public_key(), &rid, new_recipient_key, moved_sig).unwrap();
}

#[test]
fn a_repeated_rekey_is_answered_moved_and_changes_nothing() {
    let mut f = Fixture::new(config());
    let (old, rid, _, _) = secured(&mut f);
    let new = AuthKeyPair::generate(&mut f.rng);
    let command = rekey(rid, &old, &new.public_key());
    let (_, first) = ask(&mut f, command.clone(), &old);
    assert_eq!(first, ResponseBody::Ok);
    let record = f.service.store().moved(&rid).unwrap();
    assert_eq!(subscribe(&mut f, &new, rid, 2, NOW).outcome, Outcome::Ok);
    // The same Rekey again (its answer was lost, or another restore of the same state made
    // it): never Ok, which would let two devices share the queue unknowingly, but Moved with
    // the statement, and the new device's subscription stays.
    let (_, again) = ask(&mut f, command, &old);
    assert_moved(&again, rid, &old, &new);
    assert_eq!(f.service.surbs_held(), 2);
    // Signed by the new key, to the key in place: Ok too.
    let (_, same) = ask(&mut f, rekey(rid, &new, &new.public_key()), &new);
    assert_eq!(same, ResponseBody::Ok);
    assert_eq!(f.service.store().moved(&rid).unwrap(), record);
    assert_eq!(f.service.surbs_held(), 2);
}

#[test]
fn deleting_a_moved_queue_forgets_the_statement() {
    let mut f = Fixture::new(config());
    let (old, rid, _, _) = secured(&mut f);
    let new = AuthKeyPair::generate(&mut f.rng);
    assert_eq!(
        ask(&mut f, rekey(rid, &old, &new.public_key()), &old).1,
        ResponseBody::Ok
    );
    let (handled, _) = ask(&mut f, Command::Delete { recipient_id: rid }, &new);
    assert_eq!(handled.outcome, Outcome::Ok);
    assert!(f.service.store().moved(&rid).unwrap().is_empty());
}

/// After several moves (A → B → C → …) every one of the last [`MOVED_KEPT`] previous keys is
/// answered with the statement it signed itself (a repeated Rekey from any of them too); a
/// key older than those kept gets Auth.
#[test]
fn every_kept_previous_key_learns_it_moved() {
    let mut f = Fixture::new(config());
    let (first, rid, _, _) = secured(&mut f);
    let mut keys = vec![first];
    for _ in 0..=MOVED_KEPT {
        let next = AuthKeyPair::generate(&mut f.rng);
        let from = keys.last().unwrap();
        let command = rekey(rid, from, &next.public_key());
        let signer = from.clone();
        assert_eq!(ask(&mut f, command, &signer).1, ResponseBody::Ok);
        keys.push(next);
    }
    assert_eq!(f.service.store().moved(&rid).unwrap().len(), MOVED_KEPT);
    let current = keys.last().unwrap().public_key();
    for (i, key) in keys.iter().enumerate().take(keys.len() - 1) {
        let command = subscribe_command(&mut f, rid);
        let (_, body) = ask(&mut f, command, key);
        if i == 0 {
            assert_eq!(body, ResponseBody::Error(ErrorCode::Auth), "dropped");
            continue;
        }
        let ResponseBody::Moved {
            new_recipient_key,
            moved_sig,
        } = body
        else {
            panic!("key {i}: {body:?}");
        };
        assert_eq!(new_recipient_key, keys[i + 1].public_key());
        verify_moved(&key.public_key(), &rid, &new_recipient_key, &moved_sig).unwrap();
    }
    // The last move repeated (its answer lost): Moved, nothing changes.
    let n = keys.len();
    let retry = rekey(rid, &keys[n - 2], &current);
    assert!(matches!(
        ask(&mut f, retry, &keys[n - 2]).1,
        ResponseBody::Moved { new_recipient_key, .. } if new_recipient_key == current
    ));
    assert_eq!(key_of(&f, rid), current);
}
