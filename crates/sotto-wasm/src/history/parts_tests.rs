//! Which contact records a write puts ([`StateParts`]), in headless Chromium: every contact's
//! on a first write, none when nothing changed, only the changed contact's after a change
//! (again until a write of it commits), records of an older layout rewritten, gone contacts'
//! deleted; what is stored reads back as the client.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../sotto-proto/tests/common/mod.rs"]
mod common;

use sotto_proto::client::{Client, ContactId};
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::{StateParts, Written};
use crate::storage::{Store, db_name, delete_database};

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
    let (bob, _) = w.introduce(0, 1);
    let (carol, _) = w.introduce(0, 2);
    let mut written = Written::new();

    let first = StateParts::new(&store, 0, &w.clients[0], &written);
    assert_eq!(puts(&first), [bob, carol]);
    assert!(first.removed.is_empty());
    first.write(&store, Vec::new()).await.unwrap();
    first.commit(&mut written);
    let same = StateParts::new(&store, 0, &w.clients[0], &written);
    assert!(puts(&same).is_empty(), "nothing changed, no contact record");

    // A message to Carol changes her part only, until a write of it commits.
    let now = w.client_now(0);
    w.clients[0]
        .send_text(&mut w.rng, carol, "hello", now)
        .unwrap();
    let failed = StateParts::new(&store, 1, &w.clients[0], &written);
    assert_eq!(puts(&failed), [carol]);
    let retry = StateParts::new(&store, 1, &w.clients[0], &written);
    assert_eq!(puts(&retry), [carol], "not committed: put again");

    // A record of an older layout (no digest) is rewritten; a gone contact's is deleted.
    written.insert(bob, None);
    written.insert(99, Some([0; 32]));
    let parts = StateParts::new(&store, 1, &w.clients[0], &written);
    assert_eq!(puts(&parts), [bob, carol]);
    assert_eq!(parts.removed, [99]);
    parts.write(&store, Vec::new()).await.unwrap();
    parts.commit(&mut written);
    assert!(!written.contains_key(&99));
    assert_eq!(written.len(), 2);

    let stored = store.read_state_parts().await.unwrap().unwrap();
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
