//! Restore on a new device (issue 16, "Never reuse keys") in the virtual-time world: a
//! client restored from an older state resynchronises every conversation before it encrypts
//! anything, so no message key the old state went on to use is used again; the peer is told
//! that the contact restored and from when; messages then flow both ways, in order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;

use common::World;
use sotto_proto::client::{Client, ContactId, Event, SyncStatus};
use sotto_proto::envelope::{Content, MessageId};

fn received(w: &World, who: usize, message: MessageId) -> bool {
    w.events[who]
        .iter()
        .any(|e| matches!(e, Event::Message { envelope, .. } if envelope.id == message))
}

fn count(w: &World, who: usize, f: impl Fn(&Event) -> bool) -> usize {
    w.events[who].iter().filter(|e| f(e)).count()
}

/// Texts `who` received from its contact, in arrival order.
fn texts(w: &World, who: usize) -> Vec<String> {
    w.events[who]
        .iter()
        .filter_map(|e| match e {
            Event::Message { envelope, .. } => match &envelope.content {
                Content::Text(t) => Some(t.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Every ratchet key Alice (client 0) has sent under, sampled after each step.
#[derive(Default)]
struct Keys(HashSet<[u8; 32]>);

impl Keys {
    fn note(&mut self, w: &World, contact: ContactId) {
        let (key, _) = w.clients[0].send_position(contact).unwrap();
        self.0.insert(*key.as_bytes());
    }
}

/// `from` sends `text` to `to`, stepping until it arrives; `keys` samples Alice's sending key.
fn say(
    w: &mut World,
    keys: &mut Keys,
    (from, to): (usize, usize),
    contact: ContactId,
    alice_contact: ContactId,
    text: &str,
) {
    let now = w.client_now(from);
    let id = w.clients[from]
        .send_text(&mut w.rng, contact, text, now)
        .unwrap()
        .id;
    keys.note(w, alice_contact);
    let mut seen = Keys::default();
    assert!(
        w.run_until(120, |w| {
            seen.note(w, alice_contact);
            received(w, to, id)
        }),
        "{text}"
    );
    keys.0.extend(seen.0);
}

#[test]
fn a_restored_client_never_uses_an_old_message_key_and_the_peer_is_told() {
    let mut w = World::new(1601, 0, &["Alice", "Bob"]);
    let (bob, alice) = w.connect();
    let mut old = Keys::default();
    old.note(&w, bob);
    say(&mut w, &mut old, (0, 1), bob, bob, "before 1");
    say(&mut w, &mut old, (1, 0), alice, bob, "before 2");
    w.run_until(3, |_| false);
    let backup = w.clients[0].to_persisted();
    let since = w.client_now(0);
    let at_backup = w.clients[0].send_position(bob).unwrap();

    // The old device goes on after the backup: its keys are the ones never to use again.
    for i in 0..3 {
        say(&mut w, &mut old, (0, 1), bob, bob, &format!("after a{i}"));
        say(&mut w, &mut old, (1, 0), alice, bob, &format!("after b{i}"));
    }
    w.run_until(3, |_| false);
    let bob_had = texts(&w, 1).len();

    // The new device restores the backup and writes at once: its messages wait.
    let now = w.client_now(0);
    w.clients[0] = Client::restored(&mut w.rng, backup.as_bytes(), since, now).unwrap();
    w.events[0].clear();
    assert_eq!(w.clients[0].sync_status(bob), Some(SyncStatus::Resyncing));
    let mut held = Vec::new();
    for i in 0..3 {
        let now = w.client_now(0);
        held.push(
            w.clients[0]
                .send_text(&mut w.rng, bob, &format!("restored {i}"), now)
                .unwrap()
                .id,
        );
    }
    assert_eq!(
        w.clients[0].send_position(bob),
        Some(at_backup),
        "nothing encrypted before the new session"
    );
    // A restart while the request is out keeps it a restore announcement.
    w.clients[0] = Client::from_persisted(w.clients[0].to_persisted().as_bytes()).unwrap();
    w.reopen(0);

    let mut new = Keys::default();
    let done = w.run_until(300, |w| {
        let (key, n) = w.clients[0].send_position(bob).unwrap();
        if w.clients[0].sync_status(bob) == Some(SyncStatus::Resyncing) {
            assert_eq!((key, n), at_backup, "encrypted while resyncing");
        } else {
            new.0.insert(*key.as_bytes());
        }
        held.iter().all(|id| received(w, 1, *id))
    });
    assert!(done, "the held messages arrive under the new session");
    assert_eq!(
        count(
            &w,
            1,
            |e| matches!(e, Event::ContactRestored { contact, since: s } if *contact == alice && *s == since)
        ),
        1,
        "Bob is told that Alice restored, and from when"
    );
    assert_eq!(count(&w, 1, |e| matches!(e, Event::Resynced { .. })), 1);
    assert_eq!(count(&w, 0, |e| matches!(e, Event::Resynced { .. })), 1);
    assert_eq!(
        count(&w, 1, |e| matches!(e, Event::DecryptFailed { .. })),
        0,
        "Bob never saw a message under a key he had already used"
    );

    // Ten messages each way, in order; Alice's sending keys stay new throughout.
    for i in 0..10 {
        say(&mut w, &mut new, (0, 1), bob, bob, &format!("a{i}"));
        say(&mut w, &mut new, (1, 0), alice, bob, &format!("b{i}"));
    }
    let bob_got: Vec<String> = texts(&w, 1)[bob_had..].to_vec();
    let mut expected: Vec<String> = (0..3).map(|i| format!("restored {i}")).collect();
    expected.extend((0..10).map(|i| format!("a{i}")));
    assert_eq!(bob_got, expected);
    let alice_got = texts(&w, 0);
    let b: Vec<String> = (0..10).map(|i| format!("b{i}")).collect();
    assert_eq!(&alice_got[alice_got.len() - 10..], &b[..]);
    assert!(
        new.0.is_disjoint(&old.0),
        "a sending key of the old device was used again"
    );
    assert!(!new.0.is_empty());
}

/// A restored side's request wins even when the peer asked at the same moment with a lower
/// key: the restored side must not answer under its old session.
#[test]
fn a_restore_on_both_sides_settles() {
    let mut w = World::new(1602, 0, &["Alice", "Bob"]);
    let (bob, alice) = w.connect();
    let mut keys = Keys::default();
    say(&mut w, &mut keys, (0, 1), bob, bob, "hi");
    w.run_until(3, |_| false);
    let (a, b) = (w.clients[0].to_persisted(), w.clients[1].to_persisted());
    let now = w.client_now(0);
    w.clients[0] = Client::restored(&mut w.rng, a.as_bytes(), now, now).unwrap();
    w.clients[1] = Client::restored(&mut w.rng, b.as_bytes(), now, now).unwrap();
    w.reopen(0);
    w.reopen(1);
    assert!(w.run_until(300, |w| {
        w.clients[0].sync_status(bob) == Some(SyncStatus::Ok)
            && w.clients[1].sync_status(alice) == Some(SyncStatus::Ok)
    }));
    for i in 0..3 {
        say(&mut w, &mut keys, (0, 1), bob, bob, &format!("a{i}"));
        say(&mut w, &mut keys, (1, 0), alice, bob, &format!("b{i}"));
    }
}
