//! The client's requests: work reuse, refusals and the answers that settle them.

use super::*;
use crate::client::tests::{NOW, client};
use crate::handshake::InvitationSecret;
use crate::ids::QueueId;
use crate::invitation::InvitationKind;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

pub(in crate::client) fn answer(
    client: &mut Client,
    rng: &mut ChaCha20Rng,
    request_id: u64,
    body: ResponseBody,
) {
    client.on_response(rng, Response { request_id, body }, NOW);
}

pub(in crate::client) fn pending_id(client: &Client, is: impl Fn(&PendingKind) -> bool) -> u64 {
    let found = client.pending.iter().find(|(_, p)| is(&p.kind));
    found.map(|(id, _)| *id).unwrap()
}

/// Starts accepting a fresh one-time invitation (of someone on this client's gateway): the
/// acceptance's request handle and the invitation's secret.
pub(in crate::client) fn accepting(
    client: &mut Client,
    rng: &mut ChaCha20Rng,
) -> (u64, InvitationSecret) {
    let their_queue = QueueId::random(rng);
    let gateway = client.gateway();
    let secret = InvitationSecret::create(rng, InvitationKind::OneTime, gateway, their_queue, NOW);
    let accept = client
        .accept_invitation(rng, *secret.invitation(), NOW)
        .unwrap();
    (accept, secret)
}

/// [`accepting`], and the relay made our reply queue: the contact exists (not yet
/// announced), its hello sealed first in its outbox, the Secure of their queue pending.
pub(in crate::client) fn accepted(
    client: &mut Client,
    rng: &mut ChaCha20Rng,
) -> (u64, InvitationSecret) {
    let (accept, secret) = accepting(client, rng);
    let ids = fresh_ids(rng);
    answer(client, rng, accept, ids);
    (accept, secret)
}

/// A relay's `Ids` answer with random queue ids.
pub(in crate::client) fn fresh_ids(rng: &mut ChaCha20Rng) -> ResponseBody {
    ResponseBody::Ids {
        recipient_id: QueueId::random(rng),
        sender_id: QueueId::random(rng),
    }
}

/// The Create of a pending queue creation: (relay, timestamp, nonce).
fn create_work(client: &Client) -> (RelayId, u64, u64) {
    let p = client
        .pending
        .values()
        .find(|p| matches!(p.kind, PendingKind::Create { .. }))
        .unwrap();
    match p.command {
        Command::Create {
            timestamp,
            pow_nonce,
            ..
        } => (p.relay, timestamp, pow_nonce),
        _ => unreachable!(),
    }
}

#[test]
fn a_retried_create_reuses_its_work_while_it_is_fresh() {
    let mut rng = ChaCha20Rng::seed_from_u64(12);
    let mut client = client(&mut rng);
    client.create_invitation(&mut rng, NOW).unwrap();
    let (relay, timestamp, nonce) = create_work(&client);
    let (scope, bits) = client.pow_terms(relay);
    let p = client.pending.values().next().unwrap();
    p.command.verify_pow(&scope, bits).unwrap();
    assert_eq!(timestamp, NOW);
    // Unanswered: resent with a new reply block, the same work.
    let retry_at = NOW + client.config.retry_after;
    client.tick(&mut rng, retry_at);
    assert_eq!(create_work(&client), (relay, NOW, nonce));
    // Work older than CREATE_WORK_REUSE_SECS is solved again, at the retry's time.
    let late = NOW + CREATE_WORK_REUSE_SECS + 1;
    client.tick(&mut rng, late);
    let (_, timestamp, _) = create_work(&client);
    assert_eq!(timestamp, late);
    let p = client.pending.values().next().unwrap();
    p.command.verify_pow(&scope, bits).unwrap();
}

#[test]
fn refused_queue_creations_name_the_invitation_or_acceptance() {
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let mut client = client(&mut rng);
    let invite = client.create_invitation(&mut rng, NOW).unwrap();
    let (accept, _) = accepting(&mut client, &mut rng);
    assert_ne!(invite, accept);
    for id in [invite, accept] {
        answer(
            &mut client,
            &mut rng,
            id,
            ResponseBody::Error(ErrorCode::Pow),
        );
    }
    let events: Vec<Event> = std::iter::from_fn(|| client.poll_event()).collect();
    let refused = Error::RelayRefused(ErrorCode::Pow);
    assert!(matches!(
        &events[..],
        [
            Event::InvitationFailed { handle: a, error: e1 },
            Event::AcceptFailed { handle: b, error: e2 },
        ] if *a == invite && *b == accept && *e1 == refused && *e2 == refused
    ));
    assert_eq!(events[0].what(), Some("create queue"));
    assert_eq!(events[1].what(), Some("create queue"));
    assert_eq!(events[1].error(), Some(&refused));
    assert_eq!(client.pending_requests(), 0);
}

#[test]
fn refused_sends_and_subscriptions_name_the_contact_and_message() {
    let mut rng = ChaCha20Rng::seed_from_u64(12);
    let mut client = client(&mut rng);
    let (accept, _) = accepted(&mut client, &mut rng);
    let secure = pending_id(&client, |k| matches!(k, PendingKind::Secure { .. }));
    answer(&mut client, &mut rng, secure, ResponseBody::Ok);
    // The contact is announced once their queue is secured.
    let Some(Event::ContactAdded { contact, .. }) = client.poll_event() else {
        panic!("a contact");
    };
    assert!(matches!(
        client.poll_event(),
        Some(Event::Accepted { handle, contact: c }) if handle == accept && c == contact
    ));
    let hello = client.contacts[&contact].outbox.first().unwrap().ids()[0];
    let send = pending_id(&client, |k| matches!(k, PendingKind::Send { .. }));
    answer(
        &mut client,
        &mut rng,
        send,
        ResponseBody::Error(ErrorCode::Quota),
    );
    // Our new queue's first Subscribe leaves on its timer, at the next tick.
    client.tick(&mut rng, NOW);
    let subscribe = pending_id(&client, |k| matches!(k, PendingKind::Subscribe));
    answer(
        &mut client,
        &mut rng,
        subscribe,
        ResponseBody::Error(ErrorCode::Auth),
    );

    let events: Vec<Event> = std::iter::from_fn(|| client.poll_event()).collect();
    assert!(matches!(
        &events[..],
        [
            Event::SendFailed { contact: c1, message, error: Error::RelayRefused(ErrorCode::Quota) },
            Event::SubscribeFailed { contact: Some(c2), error: Error::RelayRefused(ErrorCode::Auth) },
        ] if *c1 == contact && *message == hello && *c2 == contact
    ));
    assert_eq!(events[0].what(), Some("send"));
    assert_eq!(events[1].what(), Some("subscribe"));
    // The message stays first in the outbox, no longer in flight.
    let c = &client.contacts[&contact];
    assert!(!c.sending);
    assert_eq!(c.outbox.first().map(|o| o.ids()[0]), Some(hello));
}

#[test]
fn a_refused_timestamp_is_corrected_once_then_fails_and_a_wild_clock_is_not_believed() {
    let mut rng = ChaCha20Rng::seed_from_u64(14);
    let mut client = client(&mut rng);
    let invite = client.create_invitation(&mut rng, NOW).unwrap();
    let relay_time = NOW + 900;
    answer(
        &mut client,
        &mut rng,
        invite,
        ResponseBody::ExpiredAt { relay_time },
    );
    // Sent again at once, in the relay's time, and the offset reported.
    assert_eq!(client.clock_offset(), 900);
    assert!(matches!(
        client.poll_event(),
        Some(Event::ClockOffset { seconds: 900 })
    ));
    let p = &client.pending[&invite];
    assert!(matches!(p.command, Command::Create { timestamp, .. } if timestamp == relay_time));
    assert!(matches!(
        p.kind,
        PendingKind::Create {
            clock_retried: true,
            ..
        }
    ));
    // A second refusal fails it: no loop.
    answer(
        &mut client,
        &mut rng,
        invite,
        ResponseBody::ExpiredAt { relay_time },
    );
    assert!(matches!(
        client.poll_event(),
        Some(Event::InvitationFailed { handle, error: Error::RelayRefused(ErrorCode::Expired) })
            if handle == invite
    ));
    assert_eq!(client.pending_requests(), 0);

    // A relay more than 30 days off is not believed.
    let again = client.create_invitation(&mut rng, NOW).unwrap();
    let wild = NOW + super::super::MAX_CLOCK_OFFSET + 1;
    answer(
        &mut client,
        &mut rng,
        again,
        ResponseBody::ExpiredAt { relay_time: wild },
    );
    assert_eq!(client.clock_offset(), 900);
    assert!(matches!(
        client.poll_event(),
        Some(Event::InvitationFailed { handle, error: Error::RelayRefused(ErrorCode::Expired) })
            if handle == again
    ));
    assert!(client.poll_event().is_none());
}

#[test]
fn an_invitation_expired_before_our_queue_exists_fails_its_acceptance() {
    let mut rng = ChaCha20Rng::seed_from_u64(13);
    let mut client = client(&mut rng);
    let (accept, secret) = accepting(&mut client, &mut rng);
    let ids = fresh_ids(&mut rng);
    let later = secret.invitation().expires_at + 1;
    client.on_response(
        &mut rng,
        Response {
            request_id: accept,
            body: ids,
        },
        later,
    );
    let event = client.poll_event().unwrap();
    assert_eq!(event.what(), Some("accept invitation"));
    assert!(matches!(
        event,
        Event::AcceptFailed {
            handle,
            error: Error::Misuse(crate::client::ClientError::Invitation(
                crate::handshake::HandshakeError::Expired
            )),
        } if handle == accept
    ));
    assert!(client.contact_ids().next().is_none());
}

#[test]
fn a_relay_asking_for_more_work_gets_one_retry_within_the_bound() {
    let mut rng = ChaCha20Rng::seed_from_u64(13);
    let mut client = client(&mut rng);
    let handle = client.create_invitation(&mut rng, NOW).unwrap();
    let (relay, _, _) = create_work(&client);
    let (scope, bits) = client.pow_terms(relay);
    let asked = bits + 2;
    answer(
        &mut client,
        &mut rng,
        handle,
        ResponseBody::PowRequired { bits: asked },
    );
    // Sent again at once, same id, with work at the difficulty asked for, which the client
    // now uses for that relay.
    assert_eq!(client.pow_terms(relay).1, asked);
    let p = &client.pending[&handle];
    p.command.verify_pow(&scope, asked).unwrap();
    assert!(client.poll_event().is_none());
    // A second such answer fails it: never a loop.
    answer(
        &mut client,
        &mut rng,
        handle,
        ResponseBody::PowRequired { bits: asked + 1 },
    );
    assert!(matches!(
        client.poll_event(),
        Some(Event::InvitationFailed { handle: h, error: Error::RelayRefused(ErrorCode::Pow) })
            if h == handle
    ));
    assert_eq!(client.pending_requests(), 0);
}

#[test]
fn a_relay_asking_for_more_than_the_bound_fails_the_request_as_busy() {
    let mut rng = ChaCha20Rng::seed_from_u64(14);
    let mut client = client(&mut rng);
    let handle = client.create_invitation(&mut rng, NOW).unwrap();
    let (relay, _, _) = create_work(&client);
    let before = client.pow_terms(relay).1;
    answer(
        &mut client,
        &mut rng,
        handle,
        ResponseBody::PowRequired {
            bits: MAX_RETRY_POW_BITS + 1,
        },
    );
    assert!(matches!(
        client.poll_event(),
        Some(Event::InvitationFailed { handle: h, error: Error::RelayRefused(ErrorCode::Quota) })
            if h == handle
    ));
    assert_eq!(client.pending_requests(), 0);
    assert_eq!(
        client.pow_terms(relay).1,
        before,
        "nothing solved, nothing learned"
    );
}
