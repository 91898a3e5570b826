//! Restore on a new device (issue 16, "Never reuse keys") in the virtual-time world: a
//! client restored from an older state resynchronises every conversation before it encrypts
//! anything, so no message key the old state went on to use is used again; the peer is told
//! that the contact restored and from when; messages then flow both ways, in order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;

use common::World;
use sotto_proto::client::{Client, ContactId, Event, PersistedClient, SyncStatus};
use sotto_proto::envelope::MessageId;

fn received(w: &World, who: usize, message: MessageId) -> bool {
    w.events[who]
        .iter()
        .any(|e| matches!(e, Event::Message { envelope, .. } if envelope.id == message))
}

fn count(w: &World, who: usize, f: impl Fn(&Event) -> bool) -> usize {
    w.events[who].iter().filter(|e| f(e)).count()
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
    let bob_had = w.texts(1).len();

    // The new device restores the backup and writes at once: its messages wait.
    let now = w.client_now(0);
    let rekey = common::rekey_secret(0);
    w.clients[0] = Client::restored(&mut w.rng, backup.as_bytes(), since, now, rekey).unwrap();
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
    let bob_got: Vec<String> = w.texts(1)[bob_had..].to_vec();
    let mut expected: Vec<String> = (0..3).map(|i| format!("restored {i}")).collect();
    expected.extend((0..10).map(|i| format!("a{i}")));
    assert_eq!(bob_got, expected);
    let alice_got = w.texts(0);
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
    w.clients[0] =
        Client::restored(&mut w.rng, a.as_bytes(), now, now, common::rekey_secret(0)).unwrap();
    w.clients[1] =
        Client::restored(&mut w.rng, b.as_bytes(), now, now, common::rekey_secret(1)).unwrap();
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

/// `from` sends `text` on `contact`, stepping until `to` has it; returns its id.
fn chat(w: &mut World, (from, to): (usize, usize), contact: ContactId, text: &str) -> MessageId {
    let now = w.client_now(from);
    let id = w.clients[from]
        .send_text(&mut w.rng, contact, text, now)
        .unwrap()
        .id;
    assert!(w.run_until(120, |w| received(w, to, id)), "{text}");
    id
}

/// Alice's profile restored on a new device (client 2) takes her queues over; her old device
/// (client 0) comes back: it is told the profile moved, sends nothing more, and the new device
/// and Bob keep talking both ways.
#[test]
fn the_old_device_learns_the_profile_moved_and_stops() {
    use sotto_proto::client::{ClientError, Error};
    let mut w = World::new(1603, 0, &["Alice", "Bob", "Alice again"]);
    let (bob, alice) = w.connect();
    chat(&mut w, (0, 1), bob, "before 1");
    chat(&mut w, (1, 0), alice, "before 2");
    // The old device is closed; the new one restores the backup on the same gateway.
    let (backup, since) = backup_and_close(&mut w);
    restore_as(&mut w, 2, 0, backup.as_bytes(), since);
    assert!(w.run_until(300, |w| {
        w.clients[2].sync_status(bob) == Some(SyncStatus::Ok)
            && w.clients[1].sync_status(alice) == Some(SyncStatus::Ok)
    }));
    for i in 0..3 {
        chat(&mut w, (2, 1), bob, &format!("new a{i}"));
        chat(&mut w, (1, 2), alice, &format!("new b{i}"));
    }
    let bob_texts = w.texts(1).len();

    // The old device comes back (opened from its storage), and a message is written at once.
    let stale = come_back_writing(&mut w, bob, "written on the old device");
    assert!(
        w.run_until(60, |w| w.clients[0].is_moved()),
        "the old device learns that the profile moved"
    );
    w.run_until(3, |_| false);
    assert_eq!(count(&w, 0, |e| matches!(e, Event::ProfileMoved)), 1);
    assert_eq!(
        count(
            &w,
            0,
            |e| matches!(e, Event::SendFailed { message, error: Error::Moved, .. } if *message == stale)
        ),
        1,
        "the message it had queued fails"
    );
    assert!(!w.events[0].iter().any(|e| matches!(e, Event::Sent { .. })));
    assert_eq!(count(&w, 2, |e| matches!(e, Event::ProfileMoved)), 0);
    let now = w.client_now(0);
    assert_eq!(
        w.clients[0].send_text(&mut w.rng, bob, "from the old device", now),
        Err(ClientError::Moved)
    );
    assert_eq!(
        w.clients[0].create_invitation(&mut w.rng, now),
        Err(ClientError::Moved)
    );
    assert_eq!(w.clients[0].poll_timeout(), None, "nothing left to do");
    // It stays moved when reopened.
    w.clients[0] = Client::from_persisted(w.clients[0].to_persisted().as_bytes()).unwrap();
    w.reopen(0);
    assert!(w.clients[0].is_moved());
    assert!(w.clients[0].poll_transmit().is_none(), "not even a Bind");

    // The new device and Bob keep talking both ways; Bob got nothing from the old device.
    for i in 0..3 {
        chat(&mut w, (2, 1), bob, &format!("after a{i}"));
        chat(&mut w, (1, 2), alice, &format!("after b{i}"));
    }
    let got: Vec<String> = w.texts(1)[bob_texts..].to_vec();
    let expected: Vec<String> = (0..3).map(|i| format!("after a{i}")).collect();
    assert_eq!(got, expected);
    assert!(
        !received(&w, 1, stale),
        "Bob never gets the old device's message"
    );
    assert_eq!(
        count(&w, 1, |e| matches!(e, Event::DecryptFailed { .. })),
        0,
        "nothing of the old device's reached Bob"
    );
    assert_eq!(count(&w, 2, |e| matches!(e, Event::ProfileMoved)), 0);
}

/// Restores `state` as client `who` on `gateway_of`'s gateway, with the rekey secret of
/// profile 0's phrase: stored before anything is sent (the new keys among it), then opened.
fn restore_as(w: &mut World, who: usize, gateway_of: usize, state: &[u8], since: u64) {
    let now = w.client_now(who);
    let rekey = common::rekey_secret(0);
    w.clients[who] = Client::restored(&mut w.rng, state, since, now, rekey).unwrap();
    w.gateways[who] = w.gateways[gateway_of];
    w.events[who].clear();
    w.clients[who] = Client::from_persisted(w.clients[who].to_persisted().as_bytes()).unwrap();
    w.reopen(who);
}

/// Client 0's state (once what is in flight settled) and its time; client 0 is then closed.
fn backup_and_close(w: &mut World) -> (PersistedClient, u64) {
    w.run_until(3, |_| false);
    let backup = w.clients[0].to_persisted();
    let since = w.client_now(0);
    w.offline[0] = true;
    (backup, since)
}

/// Client 0 (the old device) is opened again from its storage, writes `text` to `contact` at
/// once and connects; the message's id.
fn come_back_writing(w: &mut World, contact: ContactId, text: &str) -> MessageId {
    w.events[0].clear();
    w.clients[0] = Client::from_persisted(w.clients[0].to_persisted().as_bytes()).unwrap();
    let now = w.client_now(0);
    let stale = w.clients[0]
        .send_text(&mut w.rng, contact, text, now)
        .unwrap()
        .id;
    w.reopen(0);
    stale
}

/// Client `from`'s state now, restored as client `to` (on client 0's gateway) while `from` is
/// closed; waits until `to` took the queues over and resynchronised with `contact`.
fn move_to(w: &mut World, (from, to): (usize, usize), contact: ContactId) {
    let state = w.clients[from].to_persisted();
    let since = w.client_now(from);
    w.offline[from] = true;
    restore_as(w, to, 0, state.as_bytes(), since);
    assert!(w.run_until(300, |w| settled(w, to)
        && w.clients[to].sync_status(contact) == Some(SyncStatus::Ok)));
}

/// Whether client `who` has taken its queues over and is not moved.
fn settled(w: &World, who: usize) -> bool {
    !w.clients[who].is_moved() && w.clients[who].queues_moving() == 0
}

/// A restore whose new keys were lost (a `'memory'` restore whose page closed) does not lock
/// the profile out: restoring the same backup again derives the same keys, takes the queues
/// over and talks; the old device is told it moved; and a state exported from the moved old
/// device restores as not moved.
#[test]
fn a_restore_whose_keys_were_lost_is_restored_again() {
    let mut w = World::new(
        1703,
        0,
        &["Alice", "Bob", "Alice kiosk", "Alice again", "Alice 4"],
    );
    let (bob, alice) = w.connect();
    chat(&mut w, (0, 1), bob, "before");
    let (backup, since) = backup_and_close(&mut w);
    w.offline[3] = true;
    w.offline[4] = true;
    restore_as(&mut w, 2, 0, backup.as_bytes(), since);
    assert!(w.run_until(300, |w| settled(w, 2)));
    // The kiosk page closes: its state is gone.
    w.offline[2] = true;
    w.offline[3] = false;
    restore_as(&mut w, 3, 0, backup.as_bytes(), since);
    assert!(
        w.run_until(300, |w| settled(w, 3)
            && w.clients[3].sync_status(bob) == Some(SyncStatus::Ok)),
        "the second restore takes the queues over"
    );
    chat(&mut w, (3, 1), bob, "again to Bob");
    chat(&mut w, (1, 3), alice, "Bob to again");
    assert!(!w.clients[3].is_moved());
    // The old device comes back: it moved.
    w.offline[0] = false;
    w.reopen(0);
    assert!(w.run_until(60, |w| w.clients[0].is_moved()));
    // Its state, restored, is a new takeover: not moved.
    let moved_state = w.clients[0].to_persisted();
    w.offline[3] = true;
    w.offline[4] = false;
    restore_as(&mut w, 4, 0, moved_state.as_bytes(), since);
    assert!(!w.clients[4].is_moved());
    assert!(w.run_until(300, |w| settled(w, 4)
        && w.clients[4].sync_status(bob) == Some(SyncStatus::Ok)));
    chat(&mut w, (4, 1), bob, "the fourth to Bob");
    chat(&mut w, (1, 4), alice, "Bob to the fourth");
}

/// Two devices restore the same backup at the same moment: each queue ends with whichever
/// moved it last, so the two are never left sharing the queues silently: at least one is told
/// it moved (both may be, when each won some queues). A further restore of the backup then
/// takes every queue over (its keys are derivable) and talks.
#[test]
fn two_restores_at_once_never_share_the_queues_silently() {
    for seed in 1702..1708 {
        let mut w = World::new(
            seed,
            0,
            &["Alice", "Bob", "Carol", "Alice B", "Alice C", "Alice D"],
        );
        let (bob, alice) = w.introduce(0, 1);
        let (carol, _) = w.introduce(0, 2);
        chat(&mut w, (0, 1), bob, "hi bob");
        chat(&mut w, (0, 2), carol, "hi carol");
        let (backup, since) = backup_and_close(&mut w);
        w.offline[5] = true;
        restore_as(&mut w, 3, 0, backup.as_bytes(), since);
        restore_as(&mut w, 4, 0, backup.as_bytes(), since);
        let done = |w: &World, who: usize| w.clients[who].is_moved() || settled(w, who);
        assert!(
            w.run_until(300, |w| done(w, 3) && done(w, 4)),
            "seed {seed}"
        );
        w.run_until(120, |_| false);
        assert!(
            w.clients[3].is_moved() || w.clients[4].is_moved(),
            "seed {seed}: both devices kept the queues, neither was told"
        );
        w.offline[3] = true;
        w.offline[4] = true;
        w.offline[5] = false;
        restore_as(&mut w, 5, 0, backup.as_bytes(), since);
        assert!(
            w.run_until(400, |w| settled(w, 5)
                && w.clients[5].sync_status(bob) == Some(SyncStatus::Ok)
                && w.clients[5].sync_status(carol) == Some(SyncStatus::Ok)),
            "seed {seed}: the further restore did not take over"
        );
        chat(&mut w, (5, 1), bob, "D to Bob");
        chat(&mut w, (1, 5), alice, "Bob to D");
    }
}

/// The same backup restored twice, one after the other, while the first restored device (B)
/// stays open: C's Rekey repeats B's move, is answered Moved, and C takes each queue one
/// generation further; B is told it moved, and Bob's messages reach C, all of them.
#[test]
fn a_second_restore_of_one_backup_takes_over_from_the_first() {
    let mut w = World::new(1709, 0, &["Alice", "Bob", "Alice B", "Alice C"]);
    let (bob, alice) = w.connect();
    chat(&mut w, (0, 1), bob, "before");
    let (backup, since) = backup_and_close(&mut w);
    w.offline[3] = true;
    restore_as(&mut w, 2, 0, backup.as_bytes(), since);
    assert!(w.run_until(300, |w| settled(w, 2)
        && w.clients[2].sync_status(bob) == Some(SyncStatus::Ok)));
    chat(&mut w, (2, 1), bob, "from B");
    w.offline[3] = false;
    restore_as(&mut w, 3, 0, backup.as_bytes(), since);
    assert!(w.run_until(300, |w| settled(w, 3)
        && w.clients[2].is_moved()
        && w.clients[3].sync_status(bob) == Some(SyncStatus::Ok)));
    let mut ids = Vec::new();
    for i in 0..6 {
        let now = w.client_now(1);
        let sent = w.clients[1].send_text(&mut w.rng, alice, &format!("bob {i}"), now);
        ids.push(sent.unwrap().id);
        w.run_until(20, |_| false);
    }
    assert!(w.run_until(200, |w| ids.iter().all(|id| received(w, 3, *id))));
    assert!(!ids.iter().any(|id| received(&w, 2, *id)));
    assert!(!w.clients[3].is_moved());
}

/// A → B → C (the profile restored twice, the second time from B's state): when A comes
/// back with a message queued it is told it moved (the relay kept the statement A's key
/// signed), the message never reaches Bob, and C and Bob keep talking.
#[test]
fn after_two_restores_the_first_device_learns_it_moved() {
    use sotto_proto::client::Error;
    let mut w = World::new(1701, 0, &["Alice", "Bob", "Alice B", "Alice C"]);
    let (bob, alice) = w.connect();
    chat(&mut w, (0, 1), bob, "before");
    w.run_until(3, |_| false);
    w.offline[3] = true;
    move_to(&mut w, (0, 2), bob);
    chat(&mut w, (2, 1), bob, "from B");
    move_to(&mut w, (2, 3), bob);
    chat(&mut w, (3, 1), bob, "from C");
    // A comes back with a queued message.
    let stale = come_back_writing(&mut w, bob, "stale from A");
    assert!(w.run_until(60, |w| w.clients[0].is_moved()), "A is told");
    w.run_until(3, |_| false);
    assert!(w.events[0].iter().any(
        |e| matches!(e, Event::SendFailed { message, error: Error::Moved, .. } if *message == stale)
    ));
    chat(&mut w, (3, 1), bob, "C after A came back");
    chat(&mut w, (1, 3), alice, "Bob to C after A came back");
    assert!(!received(&w, 1, stale));
    assert!(!w.clients[3].is_moved());
}
