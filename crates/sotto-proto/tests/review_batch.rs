//! Hostile review of issue 18 (outboxes of envelopes, sealed in batches when they leave), in
//! the virtual-time world: faults found, each a test that fails until it is fixed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::World;
use sotto_proto::client::{Client, Event, SyncStatus};
use sotto_proto::envelope::MessageId;

fn times_received(w: &World, who: usize, message: MessageId) -> usize {
    w.events[who]
        .iter()
        .filter(|e| matches!(e, Event::Message { envelope, .. } if envelope.id == message))
        .count()
}

/// Alice (client 0) writes three texts to `bob` at once: their ids.
fn three_texts(w: &mut World, bob: u64) -> Vec<MessageId> {
    let now = w.client_now(0);
    (0..3)
        .map(|i| {
            w.clients[0]
                .send_text(&mut w.rng, bob, &format!("m{i}"), now)
                .unwrap()
                .id
        })
        .collect()
}

/// Alice's new device (client 2) restores `backup` made at `since`, on her gateway, is
/// persisted before it is driven, and reopened.
fn restore(w: &mut World, backup: &[u8], since: u64) {
    let now = w.client_now(2);
    let rekey = common::rekey_secret(0);
    w.clients[2] = Client::restored(&mut w.rng, backup, since, now, rekey).unwrap();
    w.gateways[2] = w.gateways[0];
    w.events[2].clear();
    w.clients[2] = Client::from_persisted(w.clients[2].to_persisted().as_bytes()).unwrap();
    w.reopen(2);
}

/// Alice writes three messages at once; a backup is made then, while they wait in her outbox,
/// now as envelopes (before issue 18: as ciphertexts). Her old device goes on and all three
/// reach Bob. The backup is restored on a new device: the waiting envelopes are sealed afresh
/// under the new session, so Bob reads them a second time (new bytes, the same ids): duplicates
/// in his conversation (the browser's history keys messages by id: each is written again at
/// the end of the conversation, and dispatched again as new). Before issue 18 the backup held
/// their ciphertexts, which went out unchanged and were dropped as redeliveries (body tags,
/// `SyncState::seen_before`): this test passes on main.
#[test]
fn a_restored_outbox_does_not_deliver_again_what_the_old_device_sent() {
    let mut w = World::new(1891, 0, &["Alice", "Bob", "Alice again"]);
    let (bob, alice) = w.connect();
    let ids = three_texts(&mut w, bob);
    let backup = w.clients[0].to_persisted();
    let since = w.client_now(0);
    assert!(w.run_until(120, |w| ids.iter().all(|id| times_received(w, 1, *id) == 1)));
    w.run_until(3, |_| false);
    w.offline[0] = true;

    // The new device restores the backup (on Alice's gateway) and settles with Bob.
    restore(&mut w, backup.as_bytes(), since);
    assert!(w.run_until(300, |w| {
        w.clients[2].sync_status(bob) == Some(SyncStatus::Ok)
            && w.clients[1].sync_status(alice) == Some(SyncStatus::Ok)
            && w.clients[2].unsent_messages() == 0
    }));
    w.run_until(30, |_| false);
    let times: Vec<usize> = ids.iter().map(|id| times_received(&w, 1, *id)).collect();
    assert_eq!(times, vec![1, 1, 1], "Bob reads each message once");
}

/// A contact stored before resync existed (`Client::use_legacy_resync_secret`) is never
/// resynchronised: restored, nothing more is encrypted under its session and the person must
/// invite the contact again. Messages already encrypted in the backup's outbox go out as they
/// are (before issue 18: all of them). The envelopes the backup holds unencrypted now wait for
/// a new session that never comes: neither sent nor failed, "sending" for ever, though
/// `send()` had acknowledged them. Each should reach Bob or fail (`Event::SendFailed`); this
/// test passes on main.
#[test]
fn a_restored_legacy_contact_sends_or_fails_every_message_of_the_backup() {
    let mut w = World::new(1895, 0, &["Alice", "Bob", "Alice again"]);
    let (bob, _) = w.connect();
    w.clients[0].use_legacy_resync_secret(bob).unwrap();
    let ids = three_texts(&mut w, bob);
    let backup = w.clients[0].to_persisted();
    let since = w.client_now(0);
    w.offline[0] = true;

    restore(&mut w, backup.as_bytes(), since);
    let failed = |w: &World, id: MessageId| {
        w.events[2]
            .iter()
            .any(|e| matches!(e, Event::SendFailed { message, .. } if *message == id))
    };
    let settled = w.run_until(600, |w| {
        ids.iter()
            .all(|id| times_received(w, 1, *id) == 1 || failed(w, *id))
    });
    let left: Vec<usize> = (0..ids.len())
        .filter(|i| times_received(&w, 1, ids[*i]) == 0 && !failed(&w, ids[*i]))
        .collect();
    assert!(settled, "neither sent nor failed: messages {left:?}");
}
