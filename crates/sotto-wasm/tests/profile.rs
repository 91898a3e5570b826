//! One writer per profile and the passphrase, in headless Chromium: the state's generation
//! refuses a stale writer; passphrases in any Unicode normal form; Argon2id costs raised on
//! unlock; `changePassphrase`'s rewrapping.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use js_sys::{Reflect, Uint8Array};
use sotto_wasm::storage::{Store, kind};
use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Cheap Argon2id costs: the tests check the behaviour, not the cost.
async fn open(profile: &str, passphrase: Option<&str>) -> Result<Store, JsValue> {
    Store::open_with(profile, passphrase, 1024, 1).await
}

fn code_of(e: &JsValue) -> Option<String> {
    Reflect::get(e, &"code".into())
        .ok()
        .and_then(|v| v.as_string())
}

fn field(meta: &JsValue, k: &str) -> JsValue {
    Reflect::get(meta, &k.into()).unwrap()
}

fn bytes_of(meta: &JsValue, k: &str) -> Vec<u8> {
    field(meta, k).dyn_into::<Uint8Array>().unwrap().to_vec()
}

async fn fresh(profile: &str) {
    let _ = sotto_wasm::storage::delete_database(&sotto_wasm::storage::db_name(profile)).await;
}

/// A new store of `profile`, deleted first if it was there.
async fn fresh_store(profile: &str) -> Store {
    fresh(profile).await;
    open(profile, None).await.unwrap()
}

/// Closes `stores` and deletes `profile`.
async fn close_all(profile: &str, stores: impl IntoIterator<Item = Store>) {
    for s in stores {
        s.close();
    }
    fresh(profile).await;
}

#[wasm_bindgen_test]
async fn a_stale_copy_cannot_write_an_older_state() {
    let profile = "generation-test";
    let a = fresh_store(profile).await;
    a.write_state(Vec::new(), b"state 1").await.unwrap();
    // A second copy (another tab, or a page restored from an old snapshot) reads it.
    let b = open(profile, None).await.unwrap();
    assert_eq!(&b.read_state().await.unwrap().unwrap()[..], b"state 1");
    // The first one moves on twice; the second is now stale.
    a.write_state(Vec::new(), b"state 2").await.unwrap();
    a.write_state(Vec::new(), b"state 3").await.unwrap();
    let message = b.record(kind::MESSAGE, b"m1", b"from the stale copy", None);
    let e = b
        .write_state(vec![message], b"stale state")
        .await
        .expect_err("a stale writer is refused");
    assert_eq!(code_of(&e).as_deref(), Some("PROFILE_IN_USE"));
    // Nothing of the refused write was stored, and the newer writer goes on.
    assert_eq!(b.read(kind::MESSAGE, b"m1").await.unwrap(), None);
    a.write_state(Vec::new(), b"state 4").await.unwrap();
    let c = open(profile, None).await.unwrap();
    assert_eq!(&c.read_state().await.unwrap().unwrap()[..], b"state 4");
    // The copy that read the newest state writes the next one; the one before is stale now.
    c.write_state(Vec::new(), b"state 5").await.unwrap();
    let e = a.write_state(Vec::new(), b"state 5'").await.unwrap_err();
    assert_eq!(code_of(&e).as_deref(), Some("PROFILE_IN_USE"));
    close_all(profile, [a, b, c]).await;
}

/// A stale writer's puts are issued with the check's read, in its transaction: the check
/// aborts it, and none of them (new records, records written over, the state) is kept.
#[wasm_bindgen_test]
async fn a_refused_write_aborts_the_puts_issued_with_its_check() {
    let profile = "generation-abort-test";
    let a = fresh_store(profile).await;
    let kept = a.record(kind::MESSAGE, b"m0", b"a's message", None);
    a.write_state(vec![kept], b"state 1").await.unwrap();
    let b = open(profile, None).await.unwrap();
    b.read_state().await.unwrap();
    a.write_state(Vec::new(), b"state 2").await.unwrap();
    let mut stale = vec![b.record(kind::MESSAGE, b"m0", b"written over", None)];
    for i in 1..200u32 {
        let key = format!("m{i}");
        stale.push(b.record(kind::MESSAGE, key.as_bytes(), b"from the stale copy", None));
    }
    let e = b.write_state(stale, b"stale state").await.unwrap_err();
    assert_eq!(code_of(&e).as_deref(), Some("PROFILE_IN_USE"));
    let read = |key: &'static [u8]| a.read(kind::MESSAGE, key);
    let m0 = read(b"m0").await.unwrap().map(|m| m.to_vec());
    assert_eq!(m0.as_deref(), Some(&b"a's message"[..]));
    assert_eq!(read(b"m1").await.unwrap(), None);
    assert_eq!(read(b"m199").await.unwrap(), None);
    let c = open(profile, None).await.unwrap();
    assert_eq!(&c.read_state().await.unwrap().unwrap()[..], b"state 2");
    close_all(profile, [a, b, c]).await;
}

/// A write whose future is dropped after its first poll (its puts issued, its check not yet
/// made) is aborted: nothing of it is kept, and the profile's writer goes on.
#[wasm_bindgen_test]
async fn a_write_dropped_before_its_check_keeps_nothing() {
    let profile = "generation-drop-test";
    let a = fresh_store(profile).await;
    a.write_state(Vec::new(), b"state 1").await.unwrap();
    {
        let message = a.record(kind::MESSAGE, b"m1", b"dropped", None);
        let write = std::pin::pin!(a.write_state(vec![message], b"dropped state"));
        let waker = std::task::Waker::noop();
        let polled = write.poll(&mut std::task::Context::from_waker(waker));
        assert!(polled.is_pending(), "IndexedDB answers later");
    }
    assert_eq!(a.read(kind::MESSAGE, b"m1").await.unwrap(), None);
    let c = open(profile, None).await.unwrap();
    assert_eq!(&c.read_state().await.unwrap().unwrap()[..], b"state 1");
    a.write_state(Vec::new(), b"state 2").await.unwrap();
    close_all(profile, [a, c]).await;
}

/// What opening a profile reads in one transaction: other records with the state and its
/// contact records, each when there is one; one that does not open is its own `STORAGE`.
#[wasm_bindgen_test]
async fn the_state_and_other_records_are_read_together() {
    let profile = "read-together-test";
    let a = fresh_store(profile).await;
    let also = [
        (kind::LOCAL, &b"local"[..]),
        (kind::MNEMONIC, &b"phrase"[..]),
    ];
    let plain = |read: Vec<sotto_wasm::storage::ReadRecord>| -> Vec<Option<Vec<u8>>> {
        read.into_iter()
            .map(|r| r.unwrap().map(|p| p.to_vec()))
            .collect()
    };
    let (read, state) = a.read_state_parts_with(&also).await.unwrap();
    assert_eq!(plain(read), [None, None]);
    assert!(state.is_none());
    let local = a.record(kind::LOCAL, b"local", b"bookkeeping", None);
    a.write(vec![local]).await.unwrap();
    let (read, state) = a.read_state_parts_with(&also).await.unwrap();
    assert_eq!(plain(read), [Some(b"bookkeeping".to_vec()), None]);
    assert!(state.is_none());
    a.write_state(Vec::new(), b"state 1").await.unwrap();
    let (read, state) = a.read_state_parts_with(&also).await.unwrap();
    assert_eq!(plain(read), [Some(b"bookkeeping".to_vec()), None]);
    assert_eq!(&state.unwrap().state[..], b"state 1");
    let (read, state) = a.read_state_parts_with(&[]).await.unwrap();
    assert!(read.is_empty() && state.is_some());
    // A record stored under another key does not open as this one; the others still do.
    let moved = a.record(kind::MNEMONIC, b"elsewhere", b"moved", None);
    let own = a.record(kind::MNEMONIC, b"phrase", b"", None);
    Reflect::set(&moved, &"k".into(), &field(&own, "k")).unwrap();
    a.write(vec![moved]).await.unwrap();
    let (mut read, state) = a.read_state_parts_with(&also).await.unwrap();
    let e = read.pop().unwrap().unwrap_err();
    assert_eq!(code_of(&e).as_deref(), Some("STORAGE"));
    assert_eq!(plain(read), [Some(b"bookkeeping".to_vec())]);
    assert!(state.is_some());
    a.close();
    fresh(profile).await;
}

#[wasm_bindgen_test]
async fn a_passphrase_opens_in_nfc_and_nfd_alike() {
    let profile = "nfc-nfd-test";
    fresh(profile).await;
    let nfc = "caf\u{e9} cr\u{e8}me";
    let nfd = "cafe\u{301} cre\u{300}me";
    let store = open(profile, Some(nfc)).await.unwrap();
    store.write_state(Vec::new(), b"kept").await.unwrap();
    store.close();
    let store = open(profile, Some(nfd)).await.unwrap();
    assert_eq!(&store.read_state().await.unwrap().unwrap()[..], b"kept");
    store.close();
    let e = open(profile, Some("cafe creme")).await.err().unwrap();
    assert_eq!(code_of(&e).as_deref(), Some("WRONG_PASSPHRASE"));
    fresh(profile).await;
}

#[wasm_bindgen_test]
async fn weaker_argon2_costs_are_raised_on_the_next_unlock() {
    let profile = "kdf-upgrade-test";
    fresh(profile).await;
    let store = open(profile, Some("pw")).await.unwrap();
    store.write_state(Vec::new(), b"kept").await.unwrap();
    let before = store.meta().await.unwrap();
    store.close();
    assert_eq!(field(&before, "m").as_f64(), Some(1024.0));
    assert_eq!(field(&before, "t").as_f64(), Some(1.0));
    // A wrong passphrase changes nothing.
    let e = Store::open_with(profile, Some("not it"), 2048, 2)
        .await
        .err()
        .unwrap();
    assert_eq!(code_of(&e).as_deref(), Some("WRONG_PASSPHRASE"));
    // Today's costs are higher: the right passphrase rewraps the key with them.
    let store = Store::open_with(profile, Some("pw"), 2048, 2)
        .await
        .unwrap();
    let after = store.meta().await.unwrap();
    store.close();
    assert_eq!(field(&after, "m").as_f64(), Some(2048.0));
    assert_eq!(field(&after, "t").as_f64(), Some(2.0));
    assert_eq!(
        field(&after, "kdf").as_string().as_deref(),
        Some("argon2id")
    );
    assert_ne!(bytes_of(&after, "salt"), bytes_of(&before, "salt"));
    assert_ne!(bytes_of(&after, "wrapped"), bytes_of(&before, "wrapped"));
    // The same store key: what was written opens, under the stored (new) costs.
    let store = open(profile, Some("pw")).await.unwrap();
    assert_eq!(&store.read_state().await.unwrap().unwrap()[..], b"kept");
    assert_eq!(
        field(&store.meta().await.unwrap(), "m").as_f64(),
        Some(2048.0)
    );
    store.close();
    fresh(profile).await;
}

#[wasm_bindgen_test]
async fn change_passphrase_rewraps_only_for_the_right_old_one() {
    let profile = "change-passphrase-test";
    fresh(profile).await;
    let store = open(profile, Some("old one")).await.unwrap();
    store.write_state(Vec::new(), b"kept").await.unwrap();
    let before = store.meta().await.unwrap();
    let e = store
        .change_passphrase_with(Some("wrong"), Some("new one"), 1024, 1)
        .await
        .unwrap_err();
    assert_eq!(code_of(&e).as_deref(), Some("WRONG_PASSPHRASE"));
    let e = store
        .change_passphrase_with(None, Some("new one"), 1024, 1)
        .await
        .unwrap_err();
    assert_eq!(code_of(&e).as_deref(), Some("WRONG_PASSPHRASE"));
    let unchanged = store.meta().await.unwrap();
    assert_eq!(
        bytes_of(&unchanged, "wrapped"),
        bytes_of(&before, "wrapped")
    );
    assert_eq!(bytes_of(&unchanged, "salt"), bytes_of(&before, "salt"));
    store
        .change_passphrase_with(Some("old one"), Some("new one"), 1024, 1)
        .await
        .unwrap();
    store.close();
    let e = open(profile, Some("old one")).await.err().unwrap();
    assert_eq!(code_of(&e).as_deref(), Some("WRONG_PASSPHRASE"));
    let store = open(profile, Some("new one")).await.unwrap();
    assert_eq!(&store.read_state().await.unwrap().unwrap()[..], b"kept");
    // And to none at all.
    store
        .change_passphrase_with(Some("new one"), None, 1024, 1)
        .await
        .unwrap();
    store.close();
    let store = open(profile, None).await.unwrap();
    assert_eq!(
        field(&store.meta().await.unwrap(), "kdf")
            .as_string()
            .as_deref(),
        Some("none")
    );
    assert_eq!(&store.read_state().await.unwrap().unwrap()[..], b"kept");
    store.close();
    fresh(profile).await;
}
