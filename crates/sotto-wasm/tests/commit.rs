//! Writes that commit as soon as their check passed (`IDBTransaction.commit()`, issue 18), in
//! headless Chromium: every request of a write is issued before the commit, so a write is
//! whole or absent — a request refused at once, a check that fails, deletes and puts
//! together.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use js_sys::Reflect;
use sotto_wasm::storage::{Store, kind};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn code_of(e: &JsValue) -> Option<String> {
    Reflect::get(e, &"code".into())
        .ok()
        .and_then(|v| v.as_string())
}

/// A new store of `profile` (deleted first if it was there), with cheap Argon2id costs.
async fn fresh_store(profile: &str) -> Store {
    fresh(profile).await;
    Store::open_with(profile, None, 1024, 1).await.unwrap()
}

async fn fresh(profile: &str) {
    let _ = sotto_wasm::storage::delete_database(&sotto_wasm::storage::db_name(profile)).await;
}

/// Closes `stores` and deletes `profile`.
async fn close_all(profile: &str, stores: impl IntoIterator<Item = Store>) {
    for s in stores {
        s.close();
    }
    fresh(profile).await;
}

/// A contact part as the client makes them: version ‖ contact id (u64, big-endian) ‖ body.
fn part(id: u64, body: &[u8]) -> Vec<u8> {
    let mut p = vec![1];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(body);
    p
}

/// The contact ids and parts `store` reads back with its state.
async fn contacts(store: &Store) -> Vec<(u64, Vec<u8>)> {
    let mut read: Vec<_> = store
        .read_state_parts()
        .await
        .unwrap()
        .unwrap()
        .contacts
        .into_iter()
        .map(|(id, p)| (id, p.to_vec()))
        .collect();
    read.sort();
    read
}

/// A record IndexedDB refuses at once (no key at the store's key path `k`).
fn keyless() -> JsValue {
    js_sys::Object::new().into()
}

#[wasm_bindgen_test]
async fn a_put_refused_at_once_keeps_nothing_of_its_write() {
    let profile = "commit-refused-test";
    let a = fresh_store(profile).await;
    a.write_state(Vec::new(), b"state 1").await.unwrap();
    // Records put before the refused one, in the same transaction, are not kept.
    let first = a.record(kind::MESSAGE, b"m1", b"before the refused put", None);
    let e = a.write(vec![first, keyless()]).await.unwrap_err();
    assert_eq!(code_of(&e).as_deref(), Some("STORAGE"));
    assert_eq!(a.read(kind::MESSAGE, b"m1").await.unwrap(), None);
    // The same in a state's write: neither the records nor the state.
    let first = a.record(kind::MESSAGE, b"m2", b"before the refused put", None);
    let e = a
        .write_state(vec![first, keyless()], b"state 2")
        .await
        .unwrap_err();
    assert_eq!(code_of(&e).as_deref(), Some("STORAGE"));
    assert_eq!(a.read(kind::MESSAGE, b"m2").await.unwrap(), None);
    let b = Store::open_with(profile, None, 1024, 1).await.unwrap();
    assert_eq!(&b.read_state().await.unwrap().unwrap()[..], b"state 1");
    b.close();
    // The failed write changed nothing: the writer goes on.
    a.write_state(Vec::new(), b"state 3").await.unwrap();
    assert_eq!(&a.read_state().await.unwrap().unwrap()[..], b"state 3");
    close_all(profile, [a]).await;
}

#[wasm_bindgen_test]
async fn a_write_deletes_and_puts_in_one_commit() {
    let profile = "commit-deletes-test";
    let a = fresh_store(profile).await;
    let records = [1u64, 2, 3]
        .iter()
        .map(|id| a.contact_record(&part(*id, b"first")).unwrap())
        .collect();
    a.write_state(records, b"state 1").await.unwrap();
    assert_eq!(contacts(&a).await.len(), 3);
    // Two contacts' records deleted, one put over, a message added, the state moved on:
    // all there as soon as the write returns, read by another copy.
    let records = vec![
        a.contact_record(&part(2, b"second")).unwrap(),
        a.record(kind::MESSAGE, b"m1", b"a message", None),
    ];
    a.write_state_with(records, &[1, 3], b"state 2")
        .await
        .unwrap();
    let b = Store::open_with(profile, None, 1024, 1).await.unwrap();
    assert_eq!(contacts(&b).await, [(2, part(2, b"second"))]);
    assert_eq!(&b.read_state().await.unwrap().unwrap()[..], b"state 2");
    assert!(b.read(kind::MESSAGE, b"m1").await.unwrap().is_some());
    // A stale copy's deletes are aborted with its puts.
    a.write_state(Vec::new(), b"state 3").await.unwrap();
    let records = vec![b.record(kind::MESSAGE, b"m2", b"stale", None)];
    let e = b
        .write_state_with(records, &[2], b"stale state")
        .await
        .unwrap_err();
    assert_eq!(code_of(&e).as_deref(), Some("PROFILE_IN_USE"));
    assert_eq!(contacts(&a).await, [(2, part(2, b"second"))]);
    assert_eq!(a.read(kind::MESSAGE, b"m2").await.unwrap(), None);
    assert_eq!(&a.read_state().await.unwrap().unwrap()[..], b"state 3");
    close_all(profile, [a, b]).await;
}

#[wasm_bindgen_test]
async fn records_deleted_together_are_all_gone() {
    let profile = "commit-delete-test";
    let a = fresh_store(profile).await;
    let keys: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    let records = keys
        .iter()
        .map(|k| a.record(kind::MESSAGE, k.as_bytes(), b"doomed", None))
        .chain([a.record(kind::MESSAGE, b"kept", b"kept", None)])
        .collect();
    a.write(records).await.unwrap();
    let doomed: Vec<(&str, &[u8])> = keys
        .iter()
        .map(|k| (kind::MESSAGE, k.as_bytes()))
        .chain([(kind::FILE, &b"absent"[..])])
        .collect();
    a.delete(&doomed).await.unwrap();
    for k in &keys {
        assert_eq!(a.read(kind::MESSAGE, k.as_bytes()).await.unwrap(), None);
    }
    assert!(a.read(kind::MESSAGE, b"kept").await.unwrap().is_some());
    close_all(profile, [a]).await;
}

/// How many records `profile`'s database holds, read raw.
async fn record_count(profile: &str) -> u32 {
    let db = rexie::Rexie::builder(&sotto_wasm::storage::db_name(profile))
        .build()
        .await
        .unwrap();
    let tx = db
        .transaction(&["records"], rexie::TransactionMode::ReadOnly)
        .unwrap();
    let n = tx.store("records").unwrap().count(None).await.unwrap();
    tx.done().await.unwrap();
    db.close();
    n
}

#[wasm_bindgen_test]
async fn a_replacing_store_replaces_the_profile_whole_or_not_at_all() {
    let profile = "commit-replace-test";
    let a = fresh_store(profile).await;
    let old = a.record(kind::MESSAGE, b"old", b"the old profile's", None);
    a.write_state(vec![old], b"old state").await.unwrap();
    a.close();
    let held = record_count(profile).await;
    // A restore's write refused halfway (as by a full disk): the old profile is whole, its
    // key, state and records; nothing of the new one is there.
    let r = Store::replacing(profile, None).await.unwrap();
    let new = r.record(kind::MESSAGE, b"new", b"the new profile's", None);
    let e = r
        .write_state(vec![new, keyless()], b"new state")
        .await
        .unwrap_err();
    assert_eq!(code_of(&e).as_deref(), Some("STORAGE"));
    r.close();
    assert_eq!(record_count(profile).await, held);
    let b = Store::open_with(profile, None, 1024, 1).await.unwrap();
    assert_eq!(&b.read_state().await.unwrap().unwrap()[..], b"old state");
    assert!(b.read(kind::MESSAGE, b"old").await.unwrap().is_some());
    b.close();
    // A write that commits replaces it whole: the new key opens the new state and record,
    // and none of the old records is left (meta, state and the one message).
    let r = Store::replacing(profile, None).await.unwrap();
    let new = r.record(kind::MESSAGE, b"new", b"the new profile's", None);
    r.write_state(vec![new], b"new state").await.unwrap();
    r.close();
    assert_eq!(record_count(profile).await, 3);
    let c = Store::open_with(profile, None, 1024, 1).await.unwrap();
    assert_eq!(&c.read_state().await.unwrap().unwrap()[..], b"new state");
    assert!(c.read(kind::MESSAGE, b"new").await.unwrap().is_some());
    assert_eq!(c.read(kind::MESSAGE, b"old").await.unwrap(), None);
    close_all(profile, [c]).await;
}
