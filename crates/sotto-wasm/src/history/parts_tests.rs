//! Which contact records a write puts ([`StateParts`]), in headless Chromium: every contact's
//! on a first write, none when nothing changed, only the changed contact's after a change
//! (again until a write of it commits), records of an older layout rewritten, gone contacts'
//! deleted; what is stored reads back as the client.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../sotto-proto/tests/common/mod.rs"]
mod common;

use sotto_proto::client::{Client, ContactId};
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::idb::{IdbHistory, Restored};
use super::{History as _, StateParts, Written};
use crate::storage::{LOCAL_KEY, Local, Store, db_name, delete_database, kind};

fn puts(parts: &StateParts) -> Vec<ContactId> {
    assert_eq!(parts.contacts.len(), parts.digests.len());
    parts.digests.iter().map(|(id, _)| *id).collect()
}

#[test]
async fn a_write_puts_only_the_contacts_whose_part_changed() {
    let profile = "history-parts";
    let _ = delete_database(&db_name(profile)).await;
    let store = Store::open_with(profile, None, 1024, 1).await.unwrap();
    let mut w = common::World::new(0x5747, 0, &["Alice", "Bob", "Carol"]);
    w.check_changed_parts = false;
    let (bob, _) = w.introduce(0, 1);
    let (carol, _) = w.introduce(0, 2);
    let mut written = Written::new();

    let first = StateParts::new(&store, 0, &mut w.clients[0], &written);
    assert_eq!(puts(&first), [bob, carol]);
    assert!(first.removed.is_empty());
    first.write(&store, Vec::new()).await.unwrap();
    first.commit(&mut written);
    let same = StateParts::new(&store, 0, &mut w.clients[0], &written);
    assert!(puts(&same).is_empty(), "nothing changed, no contact record");

    // A message to Carol changes her part only, until a write of it commits.
    let now = w.client_now(0);
    w.clients[0]
        .send_text(&mut w.rng, carol, "hello", now)
        .unwrap();
    let failed = StateParts::new(&store, 1, &mut w.clients[0], &written);
    assert_eq!(puts(&failed), [carol]);
    // Taken, as the history takes every write: until it commits, Carol's stored part is not
    // known.
    failed.taken(&mut written);
    let retry = StateParts::new(&store, 1, &mut w.clients[0], &written);
    assert_eq!(puts(&retry), [carol], "not committed: put again");

    // A record of an older layout (no digest) is rewritten; a gone contact's is deleted.
    written.insert(bob, None);
    written.insert(99, Some([0; 32]));
    let parts = StateParts::new(&store, 1, &mut w.clients[0], &written);
    assert_eq!(puts(&parts), [bob, carol]);
    assert_eq!(parts.removed, [99]);
    parts.write(&store, Vec::new()).await.unwrap();
    parts.commit(&mut written);
    assert!(!written.contains_key(&99));
    assert_eq!(written.len(), 2);

    let stored = store.read_state_parts().await.unwrap().unwrap();
    // The ids read are those the parts name: the client's own.
    let mut ids: Vec<ContactId> = stored.contacts.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    assert_eq!(ids, [bob, carol]);
    let back = Client::from_parts(
        &stored.state[8..],
        stored.contacts.iter().map(|(_, p)| &p[..]),
    )
    .unwrap();
    assert_eq!(
        back.to_persisted().as_bytes(),
        w.clients[0].to_persisted().as_bytes()
    );
    store.close();
    let _ = delete_database(&db_name(profile)).await;
}

/// Stores `client` (counter 0) as `profile`'s state in parts.
async fn store_parts(profile: &str, client: &Client) {
    let _ = delete_database(&db_name(profile)).await;
    let store = Store::open_with(profile, None, 1024, 1).await.unwrap();
    StateParts::whole(&store, 0, client)
        .write(&store, Vec::new())
        .await
        .unwrap();
    store.close();
}

/// [`store_parts`], then opens the profile as the messenger does: the history and what it
/// restored.
async fn stored(profile: &str, client: &Client) -> (IdbHistory, Restored) {
    store_parts(profile, client).await;
    opened(profile).await
}

async fn opened(profile: &str) -> (IdbHistory, Restored) {
    let (history, restored) = IdbHistory::open(profile, None).await.unwrap();
    (history, restored.unwrap())
}

/// Alice (client 0) introduced to Bob, then to Carol (her contact id), the checks of her
/// writes left to the test (which writes her parts itself).
fn alice_with_bob_and_carol(seed: u64) -> (common::World, ContactId) {
    let mut w = common::World::new(seed, 0, &["Alice", "Bob", "Carol"]);
    w.check_changed_parts = false;
    w.introduce(0, 1);
    let (carol, _) = w.introduce(0, 2);
    (w, carol)
}

/// What the store holds, read back as the client it makes.
async fn read_back(store: &Store) -> Result<Client, sotto_proto::client::PersistError> {
    let stored = store.read_state_parts().await.unwrap().unwrap();
    Client::from_parts(
        &stored.state[8..],
        stored.contacts.iter().map(|(_, p)| &p[..]),
    )
}

#[test]
async fn a_contact_gone_while_its_first_write_is_in_flight_has_its_record_deleted() {
    // Two writes in flight (the pump's, and `write_now`'s for a new display name): the first
    // puts a new contact's record, the second is taken once that contact is gone again (an
    // acceptance refused). The second must delete the record the first puts, or the store
    // holds a contact record its core does not count, and the profile no longer opens.
    let profile = "history-parts-gone";
    let mut w = common::World::new(0x60e, 0, &["Alice", "Bob", "Carol"]);
    w.check_changed_parts = false;
    w.introduce(0, 1);
    let mut bob_only = Client::from_persisted(w.clients[0].to_persisted().as_bytes()).unwrap();
    w.introduce(0, 2);
    let (mut history, restored) = stored(profile, &bob_only).await;
    let store = history.store().unwrap();
    let local = restored.local;

    let with_carol = history.take_write(&local, &mut w.clients[0]).unwrap();
    let without = history.take_write(&local, &mut bob_only).unwrap();
    let first = with_carol.run().await;
    history.write_done(with_carol, first.is_ok());
    let second = without.run().await;
    history.write_done(without, second.is_ok());
    first.unwrap();
    second.unwrap();

    let back = read_back(&store).await.expect("the stored parts read");
    assert_eq!(
        back.to_persisted().as_bytes(),
        bob_only.to_persisted().as_bytes()
    );
    store.close();
    let _ = delete_database(&db_name(profile)).await;
}

#[test]
async fn an_old_contact_record_put_back_stops_the_profile_from_opening() {
    // Storage replays Carol's record from before a message to her (her ratchet rolled back)
    // beside the newer core: the profile does not open (`STORAGE`) rather than reuse keys.
    let profile = "history-parts-replay";
    let (mut w, carol) = alice_with_bob_and_carol(0x7e9);
    let old = w.clients[0].to_parts();
    let old_carol = old.contacts.iter().find(|c| c.id == carol).unwrap();
    let (mut history, restored) = stored(profile, &w.clients[0]).await;
    let store = history.store().unwrap();
    let now = w.client_now(0);
    w.clients[0]
        .send_text(&mut w.rng, carol, "hello", now)
        .unwrap();
    // Delivered, so that no send is in flight: the old record's empty outbox beside a core
    // with a send to Carol would be refused earlier, for that (`read_tail`), not by the digest.
    assert!(w.run_until(60, |w| w.clients.iter().all(|c| c.unsent_messages() == 0)));
    let write = history
        .take_write(&restored.local, &mut w.clients[0])
        .unwrap();
    let result = write.run().await;
    history.write_done(write, result.is_ok());
    result.unwrap();
    read_back(&store).await.expect("the stored parts read");

    // Carol's record as it was (sealed under her key, as the record stored then was), beside
    // the state as it is.
    let state = store.read_state_parts().await.unwrap().unwrap().state;
    let replayed = store.contact_record(old_carol.part.as_bytes()).unwrap();
    store
        .write_state_with(vec![replayed], &[], &state)
        .await
        .unwrap();
    assert_eq!(
        read_back(&store).await.err(),
        Some(sotto_proto::client::PersistError::Invalid(
            "a contact part that is not the core's"
        ))
    );
    store.close();
    let e = IdbHistory::open(profile, None)
        .await
        .err()
        .expect("refused");
    assert_eq!(crate::error::code_of(&e), "STORAGE");
    // Not deleted here: the refused open leaves its connection to the garbage collector, and
    // a deletion would wait for it (the next run deletes the database first).
}

#[test]
async fn a_part_a_later_write_puts_stays_unknown_when_an_earlier_write_commits() {
    // Two writes in flight both put Carol's record (the pump's, and `write_now`'s), her part
    // changed between them. The first commits, the second fails: the store holds her part as
    // the first put it (or, for a write that only seemed to fail, the second's). The next
    // write must put it again: it is left out only once the store is known to hold it, else
    // every later core counts a part the store does not hold and the profile no longer opens.
    let profile = "history-parts-overlap";
    let (mut w, carol) = alice_with_bob_and_carol(0x0e4);
    let (mut history, restored) = stored(profile, &w.clients[0]).await;
    let store = history.store().unwrap();
    let local = restored.local;
    let now = w.client_now(0);

    w.clients[0]
        .send_text(&mut w.rng, carol, "one", now)
        .unwrap();
    let first = history.take_write(&local, &mut w.clients[0]).unwrap();
    w.clients[0]
        .send_text(&mut w.rng, carol, "two", now)
        .unwrap();
    let second = history.take_write(&local, &mut w.clients[0]).unwrap();
    let result = first.run().await;
    history.write_done(first, result.is_ok());
    result.unwrap();
    // The second fails (not run here: an aborted transaction stores nothing).
    history.write_done(second, false);

    let third = history.take_write(&local, &mut w.clients[0]).unwrap();
    let result = third.run().await;
    history.write_done(third, result.is_ok());
    result.unwrap();
    let back = read_back(&store)
        .await
        .expect("the stored parts read: Carol's part put again");
    assert_eq!(
        back.to_persisted().as_bytes(),
        w.clients[0].to_persisted().as_bytes()
    );
    store.close();
    let _ = delete_database(&db_name(profile)).await;
}

/// Whether `write` puts the `local` bookkeeping record of `store`.
fn puts_local(store: &Store, write: &super::Write) -> bool {
    let key = |r: &wasm_bindgen::JsValue| js_sys::Reflect::get(r, &"k".into()).unwrap();
    let local = key(&store.record(kind::LOCAL, LOCAL_KEY, b"", None));
    write.records.iter().any(|r| key(r) == local)
}

#[test]
async fn the_bookkeeping_is_put_only_when_the_store_may_not_hold_it() {
    let profile = "history-parts-local";
    let (mut w, carol) = alice_with_bob_and_carol(0x10c);
    let (mut history, restored) = stored(profile, &w.clients[0]).await;
    let store = history.store().unwrap();
    let mut local = restored.local;
    let write = async |history: &mut IdbHistory, local: &Local, client: &mut Client| {
        let write = history.take_write(local, client).unwrap();
        let put = puts_local(&store, &write);
        let result = write.run().await;
        history.write_done(write, result.is_ok());
        result.unwrap();
        put
    };
    // Not known after the open: put; then known, and not put again while it holds.
    assert!(write(&mut history, &local, &mut w.clients[0]).await);
    assert!(!write(&mut history, &local, &mut w.clients[0]).await);
    // Changed: put; then not again.
    local.downloads.insert("m1".into(), carol);
    assert!(write(&mut history, &local, &mut w.clients[0]).await);
    assert!(!write(&mut history, &local, &mut w.clients[0]).await);
    // A failed write: not known any more, put by the next.
    let failed = history.take_write(&local, &mut w.clients[0]).unwrap();
    history.write_done(failed, false);
    assert!(write(&mut history, &local, &mut w.clients[0]).await);
    // Two writes in flight together: the one taken beside another puts it, and so does the
    // one after them (the first, taken alone, finds it there).
    let first = history.take_write(&local, &mut w.clients[0]).unwrap();
    let second = history.take_write(&local, &mut w.clients[0]).unwrap();
    assert!(!puts_local(&store, &first) && puts_local(&store, &second));
    let (a, b) = (first.run().await, second.run().await);
    history.write_done(first, a.is_ok());
    history.write_done(second, b.is_ok());
    assert!(write(&mut history, &local, &mut w.clients[0]).await);
    assert!(!write(&mut history, &local, &mut w.clients[0]).await);
    // What the store holds is the bookkeeping as it is.
    let stored = store.read(kind::LOCAL, LOCAL_KEY).await.unwrap().unwrap();
    assert_eq!(&stored[..], &local.encode()[..]);
    store.close();
    let _ = delete_database(&db_name(profile)).await;
}
