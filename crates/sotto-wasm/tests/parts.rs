//! The client state in per-contact records, in headless Chromium: a profile stored whole (one
//! `state` record, as before per-contact records) opens, and its first write splits it into
//! a core and one record per contact that open again into the same client; contact records
//! obey the state's generation (a stale writer puts and deletes none), go when their contact
//! goes, and only open under their own key.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../sotto-proto/tests/common/mod.rs"]
mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use js_sys::{Array, Object, Reflect, Uint8Array};
use rexie::{Rexie, TransactionMode};
use sotto_proto::client::{CORE_MARK, Client};
use sotto_proto::keys::AuthKeyPair;
use sotto_wasm::Sotto;
use sotto_wasm::storage::{Store, db_name, delete_database};
use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Nothing answers there: the profiles open offline.
const UNREACHABLE: &str = "http://127.0.0.1:9/directory.json";

async fn open_store(profile: &str) -> Store {
    Store::open_with(profile, None, 1024, 1).await.unwrap()
}

fn code_of(e: &JsValue) -> Option<String> {
    Reflect::get(e, &"code".into()).ok()?.as_string()
}

/// `Sotto.open` of a saved profile without a passphrase, offline.
async fn open_sotto(profile: &str) -> Sotto {
    let o = Object::new();
    for (k, v) in [
        ("storage", "indexeddb"),
        ("profile", profile),
        ("directoryUrl", UNREACHABLE),
    ] {
        Reflect::set(&o, &k.into(), &v.into()).unwrap();
    }
    // Any authority: nothing is read from the network here.
    let key = URL_SAFE_NO_PAD.encode(
        AuthKeyPair::from_persisted_bytes([7; 32])
            .public_key()
            .as_bytes(),
    );
    Reflect::set(&o, &"directoryKeys".into(), &Array::of1(&key.into())).unwrap();
    Sotto::open_async(o.into()).await.unwrap()
}

async fn contact_names(me: &Sotto) -> Vec<String> {
    let list = JsFuture::from(me.contacts()).await.unwrap();
    list.dyn_into::<Array>()
        .unwrap()
        .iter()
        .map(|c| {
            Reflect::get(&c, &"displayName".into())
                .unwrap()
                .as_string()
                .unwrap()
        })
        .collect()
}

/// A new store for `profile` holding `state` and the records of contacts 1 and 2
/// (`fake_part(id, id)`).
async fn with_two_contacts(profile: &str, state: &[u8]) -> Store {
    let _ = delete_database(&db_name(profile)).await;
    let store = open_store(profile).await;
    let records = vec![
        store.contact_record(&fake_part(1, 1)).unwrap(),
        store.contact_record(&fake_part(2, 2)).unwrap(),
    ];
    store.write_state_with(records, &[], state).await.unwrap();
    store
}

/// Two stores of a new `profile` that both read its state `state 1` (written by the first).
async fn two_copies(profile: &str) -> (Store, Store) {
    let _ = delete_database(&db_name(profile)).await;
    let a = open_store(profile).await;
    a.write_state(Vec::new(), b"state 1").await.unwrap();
    let b = open_store(profile).await;
    assert!(b.read_state().await.unwrap().is_some());
    (a, b)
}

/// The stored state and contact parts (in id order), read as `store` reads them.
async fn stored_parts(store: &Store) -> (Vec<u8>, Vec<(u64, Vec<u8>)>) {
    let stored = store.read_state_parts().await.unwrap().unwrap();
    let mut parts: Vec<(u64, Vec<u8>)> = stored
        .contacts
        .iter()
        .map(|(id, p)| (*id, p.to_vec()))
        .collect();
    parts.sort();
    (stored.state.to_vec(), parts)
}

/// A contact part for the store tests: version ‖ contact id ‖ anything.
fn fake_part(id: u64, filler: u8) -> Vec<u8> {
    let mut part = vec![7];
    part.extend_from_slice(&id.to_be_bytes());
    part.extend_from_slice(&[filler; 40]);
    part
}

#[wasm_bindgen_test]
async fn a_profile_stored_whole_opens_and_its_first_write_splits_it() {
    let profile = "parts-migrate";
    let _ = delete_database(&db_name(profile)).await;
    // Alice knows Bob and Carol, through relays in memory.
    let mut w = common::World::new(0x1d8, 0, &["Alice", "Bob", "Carol"]);
    w.introduce(0, 1);
    w.introduce(0, 2);
    let alice = &w.clients[0];
    // Stored as main stores it: counter ‖ the whole client, one record.
    let store = open_store(profile).await;
    let mut whole = 5u64.to_be_bytes().to_vec();
    whole.extend_from_slice(alice.to_persisted().as_bytes());
    store.write_state(Vec::new(), &whole).await.unwrap();
    store.close();

    let me = open_sotto(profile).await;
    assert_eq!(contact_names(&me).await, ["Bob", "Carol"]);
    // Any write (here a new name) stores the profile in parts.
    JsFuture::from(me.set_display_name("Alicia".into()))
        .await
        .unwrap();
    JsFuture::from(me.close()).await.unwrap();

    let store = open_store(profile).await;
    let stored = store.read_state_parts().await.unwrap().unwrap();
    assert_eq!(
        &stored.state[..8],
        &5u64.to_be_bytes(),
        "the counter is kept"
    );
    assert_eq!(stored.state.get(8), Some(&CORE_MARK), "the state is a core");
    let mut ids: Vec<u64> = stored.contacts.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    assert_eq!(ids, alice.contact_ids().collect::<Vec<_>>());
    let back = Client::from_parts(
        &stored.state[8..],
        stored.contacts.iter().map(|(_, p)| &p[..]),
    )
    .unwrap();
    assert_eq!(back.display_name(), "Alicia");
    // Alice's contacts, each of them now with her new name in its outbox.
    assert_eq!(
        back.contacts().collect::<Vec<_>>(),
        alice.contacts().collect::<Vec<_>>()
    );
    assert_eq!(back.unsent_messages(), alice.unsent_messages() + 2);
    store.close();

    // And it opens again from its parts.
    let me = open_sotto(profile).await;
    assert_eq!(contact_names(&me).await, ["Bob", "Carol"]);
    assert_eq!(me.display_name(), "Alicia");
    let _ = JsFuture::from(me.wipe()).await;
}

#[wasm_bindgen_test]
async fn contact_records_follow_the_states_generation_and_go_with_their_contact() {
    let profile = "parts-generation";
    let (a, b) = two_copies(profile).await;
    let before = a.bytes_written();
    let records = vec![
        a.contact_record(&fake_part(1, 0xa1)).unwrap(),
        a.contact_record(&fake_part(2, 0xa2)).unwrap(),
    ];
    a.write_state_with(records, &[], b"state 2").await.unwrap();
    assert!(
        a.bytes_written() - before >= 2 * 49 + 7,
        "sealed contact records and the state counted"
    );

    // A stale copy (b read generation 1) neither puts nor deletes a contact record.
    let stale = vec![b.contact_record(&fake_part(1, 0xb1)).unwrap()];
    let e = b.write_state_with(stale, &[2], b"stale").await.unwrap_err();
    assert_eq!(code_of(&e).as_deref(), Some("PROFILE_IN_USE"));
    let (state, parts) = stored_parts(&a).await;
    assert_eq!(state, b"state 2");
    assert_eq!(parts, [(1, fake_part(1, 0xa1)), (2, fake_part(2, 0xa2))]);

    // A removed contact's record goes in the state's transaction.
    a.write_state_with(Vec::new(), &[1], b"state 3")
        .await
        .unwrap();
    let stored = a.read_state_parts().await.unwrap().unwrap();
    let ids: Vec<u64> = stored.contacts.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [2]);
    a.close();
    b.close();
}

#[wasm_bindgen_test]
async fn a_contact_record_opens_only_under_its_own_key() {
    let profile = "parts-swapped";
    let store = with_two_contacts(profile, b"state").await;
    // Each record's key is made from the contact its part names (none for a part too short
    // to name one), so a record read names the contact of its key only if it opens there.
    assert!(store.contact_record(&[7; 8]).is_none());
    let three = store.contact_record(&fake_part(3, 3)).unwrap();
    let four = store.contact_record(&fake_part(4, 4)).unwrap();
    let get = |o: &JsValue, k: &str| Reflect::get(o, &k.into()).unwrap();
    let under_three = |v: JsValue| {
        let o = Object::new();
        Reflect::set(&o, &"k".into(), &get(&three, "k")).unwrap();
        Reflect::set(&o, &"v".into(), &v).unwrap();
        JsValue::from(o)
    };
    // Contact 4's sealed part moved under contact 3's key; a value not sealed under the store
    // key; one too short to be sealed; not bytes: none opens (`STORAGE`).
    for v in [
        get(&four, "v"),
        Uint8Array::from(&[7u8; 60][..]).into(),
        Uint8Array::from(&[7u8; 20][..]).into(),
        JsValue::from_str("not bytes"),
    ] {
        store
            .write_state_with(vec![under_three(v)], &[], b"s")
            .await
            .unwrap();
        let e = store.read_state_parts().await.err().expect("refused");
        assert_eq!(code_of(&e).as_deref(), Some("STORAGE"));
    }
    store
        .write_state_with(Vec::new(), &[3], b"s")
        .await
        .unwrap();
    assert_eq!(
        store
            .read_state_parts()
            .await
            .unwrap()
            .unwrap()
            .contacts
            .len(),
        2
    );
    store.close();

    // Swap the sealed values of the two contact records: neither opens.
    let db = Rexie::builder(&db_name(profile)).build().await.unwrap();
    let tx = db
        .transaction(&["records"], TransactionMode::ReadWrite)
        .unwrap();
    {
        let records = tx.store("records").unwrap();
        let rows: Vec<JsValue> = records
            .get_all(None, None)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| {
                Reflect::get(r, &"k".into())
                    .unwrap()
                    .as_string()
                    .is_some_and(|k| k.contains(':'))
            })
            .collect();
        assert_eq!(rows.len(), 2, "two contact records, keyed under one prefix");
        let v0: Uint8Array = Reflect::get(&rows[0], &"v".into())
            .unwrap()
            .unchecked_into();
        let v1: Uint8Array = Reflect::get(&rows[1], &"v".into())
            .unwrap()
            .unchecked_into();
        Reflect::set(&rows[0], &"v".into(), &v1).unwrap();
        Reflect::set(&rows[1], &"v".into(), &v0).unwrap();
        records.put(&rows[0], None).await.unwrap();
        records.put(&rows[1], None).await.unwrap();
    }
    tx.done().await.unwrap();
    db.close();
    let store = open_store(profile).await;
    let e = store.read_state_parts().await.err().expect("refused");
    assert_eq!(code_of(&e).as_deref(), Some("STORAGE"));
    store.close();
    let _ = delete_database(&db_name(profile)).await;
}

#[wasm_bindgen_test]
async fn a_failed_write_does_not_let_a_stale_copy_write_over_another() {
    // a and b read the same state. a's write fails (nothing stored), b's succeeds: a is now
    // stale, and its next write must be refused, or it would write its core over b's and
    // leave b's contact records beside it (a state that never was; ratchets rolled back).
    let profile = "parts-failed-write";
    let (a, b) = two_copies(profile).await;
    // A record IndexedDB refuses (no key): the write fails and nothing of it is stored.
    let bad = vec![JsValue::from(Object::new())];
    assert!(a.write_state(bad, b"lost").await.is_err());
    b.write_state_with(
        vec![b.contact_record(&fake_part(1, 0xb1)).unwrap()],
        &[],
        b"state 2 (b)",
    )
    .await
    .unwrap();

    let stale = vec![a.contact_record(&fake_part(2, 0xa2)).unwrap()];
    let e = a
        .write_state_with(stale, &[1], b"state 3 (a)")
        .await
        .unwrap_err();
    assert_eq!(code_of(&e).as_deref(), Some("PROFILE_IN_USE"));
    let stored = b.read_state_parts().await.unwrap().unwrap();
    assert_eq!(&stored.state[..], b"state 2 (b)");
    let ids: Vec<u64> = stored.contacts.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [1]);
    // b, whose write was the last, goes on.
    b.write_state(Vec::new(), b"state 3 (b)").await.unwrap();
    a.close();
    b.close();
    let _ = delete_database(&db_name(profile)).await;
}

#[wasm_bindgen_test]
async fn a_write_that_fails_midway_deletes_and_puts_nothing() {
    // A put IndexedDB refuses at once (no key) after the write deleted a contact's record:
    // the whole transaction goes, the deletion too (the core still counts that contact).
    let profile = "parts-failed-midway";
    let store = with_two_contacts(profile, b"state 1").await;
    let bad = vec![
        store.contact_record(&fake_part(2, 0x22)).unwrap(),
        JsValue::from(Object::new()),
    ];
    assert!(store.write_state_with(bad, &[1], b"lost").await.is_err());
    let (state, parts) = stored_parts(&store).await;
    assert_eq!(state, b"state 1");
    assert_eq!(parts, [(1, fake_part(1, 1)), (2, fake_part(2, 2))]);
    store.close();
    let _ = delete_database(&db_name(profile)).await;
}
