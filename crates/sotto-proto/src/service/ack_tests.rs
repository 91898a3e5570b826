//! Quiet Acks (`tag::ACK_QUIET`): applied like an answered Ack, answered with nothing.

use super::tests::{Fixture, NOW, ack_handing, config, message, secured, send, subscribe};
use super::*;
use crate::keys::AuthKeyPair;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn quiet_ack(
    f: &mut Fixture,
    key: &AuthKeyPair,
    recipient_id: QueueId,
    message_id: QueueMessageId,
    n: usize,
) -> Handled {
    ack_handing(f, key, (recipient_id, message_id), n, true)
}

#[test]
fn a_quiet_ack_answers_nothing_and_still_deletes_and_adds_surbs() {
    let mut f = Fixture::new(config());
    let (recipient, recipient_id, sender_id, bob) = secured(&mut f);
    assert_eq!(send(&mut f, sender_id, &bob, message(1)), Outcome::Ok);
    assert_eq!(send(&mut f, sender_id, &bob, message(2)), Outcome::Ok);
    // One SURB: the first message goes out through it; none is left.
    let handled = subscribe(&mut f, &recipient, recipient_id, 1, NOW);
    assert_eq!(handled.outgoing.len(), 2, "the answer and one delivery");
    assert_eq!(f.service.surbs_held(), 0);
    let first = f
        .service
        .store()
        .oldest_message(&recipient_id)
        .unwrap()
        .unwrap();

    // The quiet Ack deletes the message and keeps its two SURBs; the one packet out is the
    // next delivery (through one of them), not an answer.
    let handled = quiet_ack(&mut f, &recipient, recipient_id, first.id, 2);
    assert_eq!(handled.outcome, Outcome::Ok);
    assert_eq!(handled.outgoing.len(), 1, "the next delivery only");
    assert_eq!(f.service.store().message_count(&recipient_id).unwrap(), 1);
    assert_eq!(f.service.surbs_held(), 1);

    // Refused quiet Acks change nothing and answer nothing either: a message the queue does
    // not hold (a retry) adds no SURBs, and a stranger's is refused.
    let handled = quiet_ack(&mut f, &recipient, recipient_id, first.id, 1);
    assert_eq!(handled.outcome, Outcome::Refused(ErrorCode::NoMessage));
    assert!(handled.outgoing.is_empty());
    assert_eq!(f.service.surbs_held(), 1);
    let stranger = AuthKeyPair::generate(&mut f.rng);
    let second = f
        .service
        .store()
        .oldest_message(&recipient_id)
        .unwrap()
        .unwrap();
    let handled = quiet_ack(&mut f, &stranger, recipient_id, second.id, 0);
    assert_eq!(handled.outcome, Outcome::Refused(ErrorCode::Auth));
    assert!(handled.outgoing.is_empty());
    assert_eq!(f.service.store().message_count(&recipient_id).unwrap(), 1);

    // The last one: deleted, nothing left to send, nothing sent.
    let handled = quiet_ack(&mut f, &recipient, recipient_id, second.id, 0);
    assert_eq!(handled.outcome, Outcome::Ok);
    assert!(handled.outgoing.is_empty());
    assert_eq!(f.service.store().message_count(&recipient_id).unwrap(), 0);
}

#[test]
fn a_lost_quiet_ack_is_covered_by_the_redelivery() {
    let mut f = Fixture::new(config());
    let (recipient, recipient_id, sender_id, bob) = secured(&mut f);
    assert_eq!(send(&mut f, sender_id, &bob, message(1)), Outcome::Ok);
    subscribe(&mut f, &recipient, recipient_id, 4, NOW);
    // The quiet Ack never arrives: after `redeliver_after` the message goes out again.
    let later = NOW + f.service.config().redeliver_after;
    let (_, outgoing) = f.service.tick(later).unwrap();
    assert_eq!(outgoing.len(), 1, "the same message, delivered again");
    assert_eq!(f.service.store().message_count(&recipient_id).unwrap(), 1);
}
