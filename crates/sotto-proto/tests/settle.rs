//! Every request settles, nothing is left half-made, the outbox never stalls (issue 14):
//! clients and relays on the virtual-time network of `common`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::World;
use sotto_proto::client::{Client, Error, Event, RETRY_MAX};
use sotto_proto::invitation::Invitation;
use sotto_proto::queue::ErrorCode;
use sotto_proto::service::ServiceConfig;

fn invitation_of(w: &World) -> Invitation {
    w.events[0]
        .iter()
        .find_map(|e| match e {
            Event::InvitationReady { invitation, .. } => Some(*invitation),
            _ => None,
        })
        .unwrap()
}

/// Client 0 makes an invitation; returns it once ready.
fn new_invitation(w: &mut World) -> Invitation {
    let now = w.now();
    w.clients[0].create_invitation(&mut w.rng, now).unwrap();
    assert!(w.run_until(60, |w| {
        w.events[0]
            .iter()
            .any(|e| matches!(e, Event::InvitationReady { .. }))
    }));
    invitation_of(w)
}

/// Client `who` uses `invitation` and the world runs until the acceptance settles; returns
/// its result event.
fn accept(w: &mut World, who: usize, invitation: Invitation) -> Event {
    let now = w.now();
    let handle = w.clients[who]
        .accept_invitation(&mut w.rng, invitation, now)
        .unwrap();
    let settled = |e: &Event| matches!(e, Event::Accepted { handle: h, .. } | Event::AcceptFailed { handle: h, .. } if *h == handle);
    assert!(
        w.run_until(120, |w| w.events[who].iter().any(settled)),
        "the acceptance settles"
    );
    let at = w.events[who].iter().position(settled).unwrap();
    w.events[who].remove(at)
}

#[test]
fn a_used_one_time_link_fails_and_adds_nothing() {
    let mut w = World::new(1401, 0, &["Alice", "Bob", "Carol"]);
    w.connect();
    let link = invitation_of(&w);

    // Carol uses the link Bob already used: refused (`Auth`), and she has no contact.
    let carol = accept(&mut w, 2, link);
    assert!(
        matches!(
            carol,
            Event::AcceptFailed {
                error: Error::RelayRefused(ErrorCode::Auth),
                ..
            }
        ),
        "{carol:?}"
    );
    assert_eq!(carol.what(), Some("secure queue"));
    // Bob uses it a second time: the same, and he keeps his one contact.
    let bob = accept(&mut w, 1, link);
    assert!(matches!(
        bob,
        Event::AcceptFailed {
            error: Error::RelayRefused(ErrorCode::Auth),
            ..
        }
    ));

    w.run_until(30, |_| false);
    assert_eq!(w.clients[2].contact_ids().count(), 0);
    assert_eq!(w.clients[1].contact_ids().count(), 1);
    assert_eq!(w.clients[0].contact_ids().count(), 1);
    let added = |w: &World, i: usize| {
        w.events[i]
            .iter()
            .filter(|e| matches!(e, Event::ContactAdded { .. }))
            .count()
    };
    assert_eq!(added(&w, 2), 0, "no contact was announced to Carol");
    assert_eq!(added(&w, 1), 1);
    // Nothing of the failed acceptances is still asked for.
    assert_eq!(w.clients[2].pending_requests(), 0);
    assert_eq!(w.clients[2].unsent_messages(), 0);
    assert!(
        w.events[2]
            .iter()
            .all(|e| !matches!(e, Event::Message { .. }))
    );
}

#[test]
fn an_acceptance_given_up_leaves_nothing_even_when_answers_come_late() {
    let mut w = World::new(1402, 0, &["Alice", "Bob"]);
    let link = new_invitation(&mut w);
    let now = w.now();
    let handle = w.clients[1]
        .accept_invitation(&mut w.rng, link, now)
        .unwrap();
    let invite = w.clients[0].create_invitation(&mut w.rng, now).unwrap();
    // Given up before any answer arrived (the caller's deadline).
    assert!(w.clients[1].cancel_accept(handle));
    assert!(w.clients[0].cancel_invitation(invite));
    assert!(!w.clients[1].cancel_accept(handle), "once");
    w.run_until(60, |_| false);
    assert_eq!(w.clients[1].contact_ids().count(), 0);
    assert_eq!(w.clients[1].pending_requests(), 0);
    assert!(w.events[1].is_empty(), "{:?}", w.events[1]);
    assert_eq!(
        w.events[0]
            .iter()
            .filter(|e| matches!(e, Event::InvitationReady { .. }))
            .count(),
        1,
        "the invitation given up is not made"
    );
}

/// Alice sends past the quota of Bob's queue while his profile is closed: the refused
/// messages stay queued and are retried with back-off, with no new send to push them; once
/// Bob drains his queue all arrive, in order, each once. The texts are long, so that each
/// fills a message alone (short ones would leave batched, many to a message).
#[test]
fn the_outbox_never_stalls_past_the_queue_quota() {
    const QUOTA: usize = 16;
    const SENT: usize = 40;
    let text = |i: usize| format!("m{i} {}", "x".repeat(2_000));
    let service = ServiceConfig {
        queue_quota: QUOTA,
        ..ServiceConfig::default()
    };
    let mut w = World::with_service(1403, 0, &["Alice", "Bob"], service);
    let (bob, _) = w.connect();
    w.offline[1] = true;
    let mut ids = Vec::new();
    for i in 0..SENT {
        let now = w.now();
        let envelope = w.clients[0]
            .send_text(&mut w.rng, bob, &text(i), now)
            .unwrap();
        ids.push(envelope.id);
    }
    let refused = |w: &World| {
        w.events[0]
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Event::SendFailed {
                        error: Error::RelayRefused(ErrorCode::Quota),
                        ..
                    }
                )
            })
            .count()
    };
    assert!(w.run_until(120, |w| refused(w) >= 1), "the queue fills");
    // Retried with back-off while the queue is full: more refusals, not one per second.
    let from = w.now();
    w.run_until(3 * RETRY_MAX, |_| false);
    let retries = refused(&w) - 1;
    assert!(retries >= 3, "retried: {retries}");
    assert!(
        retries < usize::try_from(3 * RETRY_MAX / 2).unwrap(),
        "backs off: {retries}"
    );
    assert!(w.now() - from >= 3 * RETRY_MAX);
    assert_eq!(w.clients[0].unsent_messages(), SENT - QUOTA);

    // Bob opens his profile: everything arrives, in order, each once, with no new send.
    w.reopen(1);
    let texts = |w: &World| w.texts(1);
    let all = w.run_until(20 * RETRY_MAX, |w| texts(w).len() >= SENT);
    assert!(all, "arrived: {}", texts(&w).len());
    let want: Vec<String> = (0..SENT).map(text).collect();
    assert_eq!(texts(&w), want);
    assert!(w.run_until(RETRY_MAX, |w| w.clients[0].unsent_messages() == 0));
    let sent: Vec<_> = w.events[0]
        .iter()
        .filter_map(|e| match e {
            Event::Sent { message, .. } => Some(*message),
            _ => None,
        })
        .filter(|m| ids.contains(m))
        .collect();
    assert_eq!(sent, ids, "each stored once, in order");
}

/// A refused message is sent again at once when asked, without waiting for its back-off,
/// and keeps its id.
#[test]
fn a_refused_message_is_retried_on_demand_with_its_id() {
    let service = ServiceConfig {
        queue_quota: 1,
        ..ServiceConfig::default()
    };
    let mut w = World::with_service(1404, 0, &["Alice", "Bob"], service);
    let (bob, _) = w.connect();
    w.offline[1] = true;
    let now = w.now();
    w.clients[0].send_text(&mut w.rng, bob, "one", now).unwrap();
    let two = w.clients[0].send_text(&mut w.rng, bob, "two", now).unwrap();
    let failed = |w: &World| {
        w.events[0]
            .iter()
            .filter(|e| matches!(e, Event::SendFailed { message, .. } if *message == two.id))
            .count()
    };
    assert!(w.run_until(60, |w| failed(w) == 1));
    w.reopen(1);
    // Bob drains; Alice retries now rather than after her back-off.
    let now = w.now();
    w.clients[0].retry_message(&mut w.rng, two.id, now).unwrap();
    let stored = |w: &World| {
        w.events[0]
            .iter()
            .any(|e| matches!(e, Event::Sent { message, .. } if *message == two.id))
    };
    assert!(w.run_until(RETRY_MAX, stored));
    let now = w.now();
    assert!(
        w.clients[0].retry_message(&mut w.rng, two.id, now).is_err(),
        "stored: nothing to retry"
    );
}

/// A file whose upload a relay refused (it had no room for more chunks) is uploaded again on
/// demand, once there is room: the same message, stored once, and it arrives.
#[test]
fn a_refused_upload_is_retried_on_demand_with_its_id() {
    // Each relay holds one file of two chunks, for 30 s.
    let service = ServiceConfig {
        max_blob_chunks_total: 2,
        blob_ttl: 30,
        ..ServiceConfig::default()
    };
    let mut w = World::with_service(1405, 0, &["Alice", "Bob"], service);
    let (bob, _) = w.connect();
    let data = vec![7u8; 5_000];
    let mut ids = Vec::new();
    let failed = loop {
        assert!(
            ids.len() < 8,
            "a relay that holds a file refuses the next one"
        );
        let now = w.now();
        let name = format!("part-{}.bin", ids.len());
        let envelope = w.clients[0]
            .send_attachment(
                &mut w.rng,
                bob,
                &data,
                "application/octet-stream",
                &name,
                b"",
                now,
            )
            .unwrap();
        ids.push(envelope.id);
        let settled = |w: &World| {
            w.events[0].iter().any(|e| match e {
                Event::Sent { message, .. } | Event::UploadFailed { message, .. } => {
                    *message == envelope.id
                }
                _ => false,
            })
        };
        assert!(w.run_until(60, settled));
        let refused = w.events[0].iter().any(|e| {
            matches!(e, Event::UploadFailed { message, error: Error::RelayRefused(ErrorCode::Quota), .. } if *message == envelope.id)
        });
        if refused {
            break envelope.id;
        }
    };
    // Nothing to retry is refused; a failed upload is retried once the relays have room.
    let now = w.now();
    assert!(
        w.clients[0]
            .retry_message(
                &mut w.rng,
                sotto_proto::envelope::MessageId::from_bytes([9; 16]),
                now
            )
            .is_err()
    );
    w.run_until(40, |_| false);
    let now = w.now();
    assert_eq!(
        w.clients[0].retry_message(&mut w.rng, failed, now).unwrap(),
        bob
    );
    let stored = |w: &World| {
        w.events[0]
            .iter()
            .any(|e| matches!(e, Event::Sent { message, .. } if *message == failed))
    };
    assert!(w.run_until(60, stored), "the retried file is stored");
    let received = |w: &World| -> Vec<_> {
        w.events[1]
            .iter()
            .filter_map(|e| match e {
                Event::Message { envelope, .. } => Some(envelope.id),
                _ => None,
            })
            .filter(|id| ids.contains(id))
            .collect()
    };
    assert!(w.run_until(60, |w| received(w).contains(&failed)));
    w.run_until(10, |_| false);
    assert_eq!(received(&w), ids, "each file's message once, in order");
    let now = w.now();
    assert!(
        w.clients[0].retry_message(&mut w.rng, failed, now).is_err(),
        "stored: nothing to retry"
    );
}

/// Client 1 accepts client 0's invitation and its state is saved while the inviter's queue
/// is still being secured (the Secure not yet sent: the page reloads); `then` runs before the
/// saved state is opened again. Returns the acceptance's handle.
fn reload_while_accepting(w: &mut World, then: impl FnOnce(&mut World, Invitation)) -> u64 {
    let link = new_invitation(w);
    let now = w.now();
    let handle = w.clients[1]
        .accept_invitation(&mut w.rng, link, now)
        .unwrap();
    // Our queue exists, the hello waits for the inviter's queue to be secured.
    assert!(w.run_until(60, |w| w.clients[1].unsent_messages() == 1));
    let saved = w.clients[1].to_persisted();
    w.offline[1] = true;
    then(w, link);
    w.clients[1] = Client::from_persisted(saved.as_bytes()).unwrap();
    assert_eq!(
        w.clients[1].contact_ids().count(),
        0,
        "an acceptance in progress is not a contact yet"
    );
    w.reopen(1);
    handle
}

#[test]
fn an_acceptance_saved_midway_completes_after_a_reload() {
    let mut w = World::new(1406, 0, &["Alice", "Bob"]);
    let handle = reload_while_accepting(&mut w, |_, _| {});
    let accepted = |w: &World| {
        w.events[1]
            .iter()
            .any(|e| matches!(e, Event::Accepted { handle: h, .. } if *h == handle))
    };
    assert!(w.run_until(120, accepted), "the acceptance resumes");
    // Alice learns Bob's name from his hello, and Bob hers from her first message.
    assert!(w.run_until(60, |w| w.clients[0].contacts().any(|(_, n)| n == "Bob")));
    let alices_bob = w.clients[0].contact_ids().next().unwrap();
    let now = w.now();
    w.clients[0]
        .send_text(&mut w.rng, alices_bob, "hi Bob", now)
        .unwrap();
    assert!(w.run_until(60, |w| w.clients[1].contacts().any(|(_, n)| n == "Alice")));
    assert_eq!(w.clients[1].contact_ids().count(), 1);
}

#[test]
fn an_acceptance_saved_midway_whose_link_was_used_meanwhile_leaves_nothing() {
    let mut w = World::new(1407, 0, &["Alice", "Bob", "Carol"]);
    let handle = reload_while_accepting(&mut w, |w, link| {
        // Carol uses the one-time link while Bob's page is away.
        assert!(matches!(accept(w, 2, link), Event::Accepted { .. }));
    });
    let failed = |w: &World| {
        w.events[1].iter().any(|e| {
            matches!(e, Event::AcceptFailed { handle: h, error: Error::RelayRefused(ErrorCode::Auth) } if *h == handle)
        })
    };
    assert!(w.run_until(120, failed), "the resumed acceptance fails");
    w.run_until(30, |_| false);
    assert_eq!(w.clients[1].contact_ids().count(), 0, "no half contact");
    assert_eq!(w.clients[1].pending_requests(), 0);
    assert_eq!(w.clients[1].unsent_messages(), 0);
    assert!(
        w.events[1]
            .iter()
            .all(|e| !matches!(e, Event::ContactAdded { .. })),
        "no contact was announced"
    );
}
