//! The IndexedDB store in headless Chromium: encryption at rest, passphrases, schema version,
//! paging.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use js_sys::{Object, Reflect, Uint8Array};
use rexie::{Rexie, TransactionMode};
use sotto_proto::envelope::{Attachment, AttachmentKey, BlobId};
use sotto_proto::ids::RelayId;
use sotto_wasm::storage::{FileRecord, MessageRecord, SCHEMA_VERSION, Store, db_name, kind};
use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Cheap Argon2id costs: the tests check the format, not the cost.
async fn open(profile: &str, passphrase: Option<&str>) -> Result<Store, JsValue> {
    Store::open_with(profile, passphrase, 1024, 1).await
}

fn code_of(e: &JsValue) -> Option<String> {
    Reflect::get(e, &"code".into())
        .ok()
        .and_then(|v| v.as_string())
}

/// Every raw value of the profile's database, as read by IndexedDB itself.
async fn raw_records(profile: &str) -> Vec<JsValue> {
    let db = Rexie::builder(&db_name(profile)).build().await.unwrap();
    let tx = db
        .transaction(&["records"], TransactionMode::ReadOnly)
        .unwrap();
    let rows = tx
        .store("records")
        .unwrap()
        .get_all(None, None)
        .await
        .unwrap();
    drop(tx);
    db.close();
    rows
}

/// The bytes of every field of a raw record (strings as UTF-8, byte arrays as they are).
fn raw_bytes(record: &JsValue) -> Vec<u8> {
    let mut out = Vec::new();
    for key in Object::keys(record.unchecked_ref::<Object>()).iter() {
        let v = Reflect::get(record, &key).unwrap();
        if let Some(s) = v.as_string() {
            out.extend_from_slice(s.as_bytes());
        } else if let Some(b) = v.dyn_ref::<Uint8Array>() {
            out.extend_from_slice(&b.to_vec());
        } else if let Some(n) = v.as_f64() {
            out.extend_from_slice(n.to_string().as_bytes());
        }
        out.extend_from_slice(key.as_string().unwrap().as_bytes());
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn message(seq: u64, contact: u64, text: &str) -> MessageRecord {
    // Even ones are ours (no receive time), odd ones theirs.
    MessageRecord::text_message(
        seq,
        format!("{seq:032x}"),
        contact,
        text.to_owned(),
        1_700_000_000 + seq,
        (!seq.is_multiple_of(2)).then_some(1_700_000_100 + seq),
    )
}

/// A message record in schema 1's layout: seq ‖ contact ‖ sent ‖ received ‖ outgoing ‖ id
/// (u8 length) ‖ text.
fn v1_bytes(m: &MessageRecord) -> Vec<u8> {
    let mut w = Vec::new();
    for n in [
        m.seq,
        m.contact,
        m.sent_at,
        m.received_at.unwrap_or(u64::MAX),
    ] {
        w.extend_from_slice(&n.to_be_bytes());
    }
    w.push(u8::from(m.outgoing));
    w.push(m.id.len() as u8);
    w.extend_from_slice(m.id.as_bytes());
    w.extend_from_slice(m.text.as_bytes());
    w
}

/// Sets the profile's `meta.schema` behind the store's back.
async fn set_raw_schema(profile: &str, schema: u32) {
    let db = Rexie::builder(&db_name(profile)).build().await.unwrap();
    let tx = db
        .transaction(&["records"], TransactionMode::ReadWrite)
        .unwrap();
    let store = tx.store("records").unwrap();
    let meta = store.get("meta".into()).await.unwrap().unwrap();
    Reflect::set(&meta, &"schema".into(), &schema.into()).unwrap();
    store.put(&meta, None).await.unwrap();
    drop(store);
    tx.done().await.unwrap();
    db.close();
}

#[wasm_bindgen_test]
async fn nothing_is_stored_in_plaintext() {
    let profile = "at-rest profile Alice";
    let marker = b"PLAINTEXT-MARKER-7f3a";
    let store = open(profile, Some("correct horse")).await.unwrap();
    assert!(store.created);
    assert!(
        !store.db_name().contains("Alice"),
        "the database name hides the profile"
    );
    assert!(store.db_name().starts_with("sotto-"));
    let mut state = b"client state ".to_vec();
    state.extend_from_slice(marker);
    let m = message(0, 7, "hello PLAINTEXT-MARKER-7f3a");
    store
        .write(vec![
            store.record(kind::STATE, b"client", &state, None),
            store.message_record(&m),
        ])
        .await
        .unwrap();

    let rows = raw_records(profile).await;
    assert_eq!(rows.len(), 3, "meta, state and one message");
    for row in &rows {
        let bytes = raw_bytes(row);
        assert!(
            !contains(&bytes, marker),
            "a raw record holds the plaintext marker"
        );
        assert!(!contains(&bytes, b"client"), "record keys are hashed");
        assert!(!contains(&bytes, m.id.as_bytes()), "message ids are hashed");
    }

    // It reads back through the store key.
    assert_eq!(
        &store.read(kind::STATE, b"client").await.unwrap().unwrap()[..],
        &state[..]
    );
    assert_eq!(store.messages(7, 10, None).await.unwrap(), vec![m]);
    store.wipe().await.unwrap();
}

#[wasm_bindgen_test]
async fn a_wrong_passphrase_is_refused_and_changes_nothing() {
    let profile = "passphrase profile";
    let store = open(profile, Some("right")).await.unwrap();
    store
        .write(vec![store.record(
            kind::STATE,
            b"client",
            b"secret state",
            None,
        )])
        .await
        .unwrap();
    store.close();
    let before: Vec<Vec<u8>> = raw_records(profile).await.iter().map(raw_bytes).collect();

    for wrong in [Some("wrong"), Some("Right"), None] {
        let Err(e) = open(profile, wrong).await else {
            panic!("{wrong:?} must not open the profile");
        };
        assert_eq!(code_of(&e).as_deref(), Some("WRONG_PASSPHRASE"));
    }
    let after: Vec<Vec<u8>> = raw_records(profile).await.iter().map(raw_bytes).collect();
    assert_eq!(before, after, "a wrong passphrase changes nothing");

    let store = open(profile, Some("right")).await.unwrap();
    assert!(!store.created);
    assert_eq!(
        &store.read(kind::STATE, b"client").await.unwrap().unwrap()[..],
        b"secret state"
    );
    store.wipe().await.unwrap();
}

#[wasm_bindgen_test]
async fn a_profile_without_passphrase_opens_only_without_one() {
    let profile = "no passphrase";
    let store = open(profile, None).await.unwrap();
    store.close();
    let Err(e) = open(profile, Some("anything")).await else {
        panic!("a passphrase the profile never had must be refused");
    };
    assert_eq!(code_of(&e).as_deref(), Some("WRONG_PASSPHRASE"));
    let store = open(profile, None).await.unwrap();
    assert!(!store.created);
    store.wipe().await.unwrap();
}

#[wasm_bindgen_test]
async fn the_schema_version_and_kdf_are_stored() {
    let profile = "schema profile";
    let store = open(profile, Some("pw")).await.unwrap();
    assert_eq!(store.opened_schema, sotto_wasm::storage::SCHEMA_VERSION);
    let rows = raw_records(profile).await;
    let meta = rows
        .iter()
        .find(|r| Reflect::get(r, &"k".into()).unwrap().as_string().as_deref() == Some("meta"))
        .expect("a meta record");
    let field = |k: &str| Reflect::get(meta, &k.into()).unwrap();
    assert_eq!(field("schema").as_f64(), Some(f64::from(SCHEMA_VERSION)));
    assert_eq!(field("kdf").as_string().as_deref(), Some("argon2id"));
    assert_eq!(field("m").as_f64(), Some(1024.0));
    assert_eq!(field("t").as_f64(), Some(1.0));
    assert_eq!(field("p").as_f64(), Some(1.0));
    assert_eq!(field("salt").dyn_into::<Uint8Array>().unwrap().length(), 16);
    store.wipe().await.unwrap();
    let dbs = raw_database_exists(profile).await;
    assert!(!dbs, "wipe deletes the database");
}

async fn raw_database_exists(profile: &str) -> bool {
    let name = db_name(profile);
    let window = web_sys::window().unwrap();
    let factory = Reflect::get(&window, &"indexedDB".into()).unwrap();
    let databases: js_sys::Function = Reflect::get(&factory, &"databases".into())
        .unwrap()
        .dyn_into()
        .unwrap();
    let list = wasm_bindgen_futures::JsFuture::from(
        databases
            .call0(&factory)
            .unwrap()
            .dyn_into::<js_sys::Promise>()
            .unwrap(),
    )
    .await
    .unwrap();
    js_sys::Array::from(&list).iter().any(|d| {
        Reflect::get(&d, &"name".into())
            .unwrap()
            .as_string()
            .as_deref()
            == Some(name.as_str())
    })
}

#[wasm_bindgen_test]
async fn messages_page_by_conversation_newest_last() {
    let profile = "paging profile";
    let store = open(profile, None).await.unwrap();
    let mut records = Vec::new();
    for seq in 0..10 {
        // Two conversations, interleaved.
        records.push(store.message_record(&message(seq, seq % 2, &format!("m{seq}"))));
    }
    store.write(records).await.unwrap();
    let texts = |ms: Vec<MessageRecord>| ms.into_iter().map(|m| m.text).collect::<Vec<_>>();
    assert_eq!(
        texts(store.messages(0, 3, None).await.unwrap()),
        ["m4", "m6", "m8"]
    );
    assert_eq!(
        texts(store.messages(1, 2, None).await.unwrap()),
        ["m7", "m9"]
    );
    let seq = store.message_seq(&format!("{:032x}", 4)).await.unwrap();
    assert_eq!(seq, Some(4));
    assert_eq!(
        texts(store.messages(0, 10, seq).await.unwrap()),
        ["m0", "m2"]
    );
    assert!(store.messages(2, 10, None).await.unwrap().is_empty());
    // A page of exactly the messages there are, of one, of none, and one below a message.
    assert_eq!(
        texts(store.messages(1, 5, None).await.unwrap()),
        ["m1", "m3", "m5", "m7", "m9"]
    );
    assert_eq!(texts(store.messages(1, 1, None).await.unwrap()), ["m9"]);
    assert!(store.messages(1, 0, None).await.unwrap().is_empty());
    assert_eq!(
        texts(store.messages(0, 2, seq).await.unwrap()),
        ["m0", "m2"]
    );
    assert_eq!(texts(store.messages(0, 1, seq).await.unwrap()), ["m2"]);
    assert!(store.messages(0, 3, Some(0)).await.unwrap().is_empty());
    store.wipe().await.unwrap();
}

#[wasm_bindgen_test]
fn a_quota_error_becomes_storage_quota() {
    let quota = || {
        web_sys::DomException::new_with_message_and_name("the disk is full", "QuotaExceededError")
            .unwrap()
    };
    for e in [
        rexie::Error::from(idb::Error::DomException(quota())),
        rexie::Error::from(idb::Error::AddFailed(quota().into())),
    ] {
        let js = sotto_wasm::storage::storage_error(&e);
        assert_eq!(code_of(&js).as_deref(), Some("STORAGE_QUOTA"), "{e:?}");
    }
    let other =
        web_sys::DomException::new_with_message_and_name("nope", "InvalidStateError").unwrap();
    let js =
        sotto_wasm::storage::storage_error(&rexie::Error::from(idb::Error::DomException(other)));
    assert_eq!(code_of(&js).as_deref(), Some("STORAGE"));
}

#[wasm_bindgen_test]
async fn a_schema_1_profile_is_migrated_on_open() {
    let profile = "migration profile";
    let store = open(profile, Some("pw")).await.unwrap();
    let old: Vec<MessageRecord> = (0..4)
        .map(|seq| message(seq, 7, &format!("old {seq}")))
        .collect();
    let records = old
        .iter()
        .map(|m| {
            store.record(
                kind::MESSAGE,
                m.id.as_bytes(),
                &v1_bytes(m),
                Some(store.message_index(m.contact, m.seq)),
            )
        })
        .collect();
    store.write(records).await.unwrap();
    store.close();
    drop(store);
    set_raw_schema(profile, 1).await;

    let store = open(profile, Some("pw")).await.unwrap();
    assert_eq!(store.opened_schema, 1, "the profile was found at schema 1");
    assert_eq!(
        store.messages(7, 10, None).await.unwrap(),
        old,
        "every message kept, with a status"
    );
    store.close();
    drop(store);
    let store = open(profile, Some("pw")).await.unwrap();
    assert_eq!(
        store.opened_schema, SCHEMA_VERSION,
        "and written back at the new schema"
    );
    assert_eq!(store.messages(7, 10, None).await.unwrap(), old);
    store.wipe().await.unwrap();
}

#[wasm_bindgen_test]
async fn an_unknown_future_schema_is_refused_and_left_alone() {
    let profile = "future profile";
    let store = open(profile, None).await.unwrap();
    store
        .write(vec![store.message_record(&message(1, 1, "keep me"))])
        .await
        .unwrap();
    store.close();
    drop(store);
    set_raw_schema(profile, 99).await;
    let e = open(profile, None).await.err().expect("refused");
    assert_eq!(code_of(&e).as_deref(), Some("STORAGE"));
    set_raw_schema(profile, SCHEMA_VERSION).await;
    let store = open(profile, None).await.unwrap();
    assert_eq!(
        store.messages(1, 10, None).await.unwrap()[0].text,
        "keep me"
    );
    store.wipe().await.unwrap();
}

#[wasm_bindgen_test]
async fn files_and_their_messages_are_encrypted_and_deletable() {
    let profile = "files profile";
    let store = open(profile, None).await.unwrap();
    let mut m = message(3, 2, "");
    m.expires_at = Some(1_800_000_000);
    m.file = Some(FileRecord {
        attachment: Attachment {
            blob_relay: RelayId::from_bytes([1; 32]),
            blob_id: BlobId::from_bytes([2; 16]),
            key: AttachmentKey::from_bytes([3; 32]),
            size: 11,
            sha256: [4; 32],
            mime: "text/plain".into(),
            name: "secret-plan.txt".into(),
            thumbnail: vec![5; 10],
        },
        voice: false,
        ready: true,
    });
    store
        .write(vec![
            store.message_record(&m),
            store.record(kind::FILE, m.id.as_bytes(), b"hello files", None),
        ])
        .await
        .unwrap();
    for r in raw_records(profile).await {
        let raw = raw_bytes(&r);
        assert!(
            !contains(&raw, b"hello files"),
            "no file bytes in plaintext"
        );
        assert!(
            !contains(&raw, b"secret-plan"),
            "no file names in plaintext"
        );
    }
    assert_eq!(store.message(&m.id).await.unwrap(), Some(m.clone()));
    assert_eq!(
        store
            .read(kind::FILE, m.id.as_bytes())
            .await
            .unwrap()
            .as_deref()
            .map(|b| b.to_vec()),
        Some(b"hello files".to_vec())
    );
    store
        .delete(&[
            (kind::MESSAGE, m.id.as_bytes()),
            (kind::FILE, m.id.as_bytes()),
        ])
        .await
        .unwrap();
    assert_eq!(store.message(&m.id).await.unwrap(), None);
    assert!(
        store
            .read(kind::FILE, m.id.as_bytes())
            .await
            .unwrap()
            .is_none()
    );
    store.wipe().await.unwrap();
}

#[wasm_bindgen_test]
fn the_local_record_keeps_the_snapshot_slot_and_reads_older_records() {
    use sotto_wasm::storage::Local;
    let mut local = Local::default();
    local.expiry.insert((7, "ab".to_owned(), 3));
    let old = local.encode();
    // A record written before the relay snapshot reads with no slot.
    assert_eq!(Local::decode(&old).unwrap().snapshot, None);
    local.snapshot = Some((20_788, 5));
    let bytes = local.encode();
    assert_eq!(bytes.len(), old.len() + 12);
    let back = Local::decode(&bytes).unwrap();
    assert_eq!(back.snapshot, Some((20_788, 5)));
    assert_eq!(back.expiry, local.expiry);
    // A cut slot, or bytes after it, are refused.
    assert!(Local::decode(&bytes[..bytes.len() - 1]).is_none());
    let mut long = bytes.clone();
    long.push(0);
    assert!(Local::decode(&long).is_none());
}
