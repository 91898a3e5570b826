//! An open profile store: sealed records keyed by their HMAC, reading, writing, deleting, and
//! paging a conversation through the `conv` index.

use std::pin::pin;

use js_sys::{Object, Uint8Array};
use rexie::{KeyRange, Rexie, TransactionMode};
use sotto_proto::crypto::{hkdf_sha256, hmac_sha256};
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use super::crypto::{ARGON2_M_KIB, ARGON2_T, WRAP_AD, kek, open, random, seal, wrap_into};
use super::records::{MNEMONIC_KEY, MessageRecord, kind};
use super::schema::{
    CONV_INDEX, SCHEMA_VERSION, STORE, Staged, commit_with, corrupt, db_name, delete_database,
    get_meta, open_db, put_all, read_meta, storage_error,
};
use crate::error::{ErrorCode, sotto_error};
use crate::js::{get, get_bytes, hex, set};
/// An open profile store. The store key is zeroized when this is dropped.
pub struct Store {
    /// Borrowed only briefly (never across an await), so `close` can always take it.
    db: std::cell::RefCell<Option<Rexie>>,
    name: String,
    pub(super) key: Zeroizing<[u8; 32]>,
    index_key: Zeroizing<[u8; 32]>,
    /// The schema version found when the profile was opened (before any migration).
    pub opened_schema: u32,
    /// True when this open created the profile.
    pub created: bool,
    /// The generation of the client state this store last read or claimed for a write (see
    /// [`Store::write_state`]); 0 before any.
    pub(super) generation: std::cell::Cell<u64>,
    /// This store's writer id (random hex, new on every open), put on every `state` record it
    /// writes (see [`Store::write_state_with`]).
    pub(super) writer: String,
    /// The generation and writer id of the `state` record this store last read ((0, `None`)
    /// before any, or when there was none).
    pub(super) base: std::cell::RefCell<(u64, Option<String>)>,
    /// Bytes of sealed values put into IndexedDB by this store's writes (see
    /// [`Store::bytes_written`]).
    pub(super) written: std::cell::Cell<u64>,
    /// A store made by [`Store::replacing`]: its new `meta` record, not written yet. Its
    /// first state write clears the database and puts it with everything else, in one
    /// transaction ([`Store::write_state_with`]).
    pub(super) replacing: std::cell::RefCell<Option<JsValue>>,
}

impl Store {
    /// Opens (or creates) a profile's database and unwraps (or makes) its key, with these
    /// Argon2id costs for a new profile; the records are not migrated yet
    /// (`opened_schema` says from what). A wrong passphrase gives `WRONG_PASSPHRASE`.
    pub(super) async fn unlock(
        profile: &str,
        passphrase: Option<&str>,
        m_kib: u32,
        t: u32,
    ) -> Result<Store, JsValue> {
        Self::unlock_or_replace(profile, passphrase, m_kib, t, false).await
    }

    /// A new store for `profile` that replaces what its database holds (a restore with
    /// `replace`), or makes it: a new key under `passphrase`, whose `meta` record is written
    /// by the first state write, which first clears the database, all in one transaction
    /// ([`Store::write_state_with`]). Until that write commits the database holds what it
    /// held (nothing half-made: a write that fails leaves the old profile whole). For that
    /// one write only, then closed: no other write of it is guarded so (a restore's,
    /// `IdbHistory::open_seeded`).
    pub async fn replacing(profile: &str, passphrase: Option<&str>) -> Result<Store, JsValue> {
        Self::unlock_or_replace(profile, passphrase, ARGON2_M_KIB, ARGON2_T, true).await
    }

    async fn unlock_or_replace(
        profile: &str,
        passphrase: Option<&str>,
        m_kib: u32,
        t: u32,
        replace: bool,
    ) -> Result<Store, JsValue> {
        let name = db_name(profile);
        let db = open_db(&name).await?;
        let meta = if replace { None } else { read_meta(&db).await? };
        let mut created = false;
        let mut replacing = None;
        let (key, schema) = match meta {
            Some(meta) => {
                let schema = get(&meta, "schema").as_f64().unwrap_or(0.0) as u32;
                // (A damaged record is damage before it is a wrong passphrase.)
                get_bytes(&meta, "salt").ok_or_else(|| corrupt("salt"))?;
                get_bytes(&meta, "wrapped").ok_or_else(|| corrupt("key"))?;
                let Some(plain) = unwrap_key(&meta, passphrase)? else {
                    db.close();
                    return Err(wrong_passphrase());
                };
                let num = |k: &str| get(&meta, k).as_f64().unwrap_or(0.0) as u32;
                let key: [u8; 32] = plain[..].try_into().map_err(|_| corrupt("key length"))?;
                let key = Zeroizing::new(key);
                // Weaker Argon2id costs than today's: rewrap the key with today's, now that
                // the passphrase is known to be right.
                let weaker = num("m") < m_kib || num("t") < t;
                if passphrase.is_some() && weaker {
                    let meta: Object = meta.unchecked_into();
                    wrap_into(&meta, &key, passphrase, m_kib, t)?;
                    put_meta(&db, meta).await?;
                }
                (key, schema)
            }
            None => {
                created = true;
                let key = Zeroizing::new(random::<32>());
                let meta = Object::new();
                set(&meta, "k", &"meta".into());
                set(&meta, "schema", &SCHEMA_VERSION.into());
                wrap_into(&meta, &key, passphrase, m_kib, t)?;
                if replace {
                    replacing = Some(meta.into());
                } else {
                    put_meta(&db, meta).await?;
                }
                (key, SCHEMA_VERSION)
            }
        };
        let mut index_key = Zeroizing::new([0u8; 32]);
        hkdf_sha256(&[], &key[..], b"sotto/v1/record-index", &mut index_key[..])
            .map_err(|_| corrupt("key derivation"))?;
        let store = Store {
            db: std::cell::RefCell::new(Some(db)),
            name,
            key,
            index_key,
            opened_schema: schema,
            created,
            generation: std::cell::Cell::new(0),
            writer: crate::js::hex(&random::<16>()),
            base: std::cell::RefCell::new((0, None)),
            written: std::cell::Cell::new(0),
            replacing: std::cell::RefCell::new(replacing),
        };
        Ok(store)
    }

    /// Upgrades the records from schema `from` to [`SCHEMA_VERSION`], in one transaction: it
    pub(super) fn tx(&self, mode: TransactionMode) -> Result<rexie::Transaction, JsValue> {
        let db = self
            .db
            .try_borrow()
            .map_err(|_| sotto_error(ErrorCode::Closed, "the profile store is closed"))?;
        db.as_ref()
            .ok_or_else(|| sotto_error(ErrorCode::Closed, "the profile store is closed"))?
            .transaction(&[STORE], mode)
            .map_err(|e| storage_error(&e))
    }

    pub(super) fn hashed(&self, kind: &str, key: &[u8]) -> String {
        let mut data = kind.as_bytes().to_vec();
        data.push(0);
        data.extend_from_slice(key);
        hex(&hmac_sha256(&self.index_key[..], &data))
    }

    fn conv_prefix(&self, contact: u64) -> String {
        let h = self.hashed("conv", &contact.to_be_bytes());
        h[..32].to_owned()
    }

    /// Associated data: kind ‖ 0 ‖ the record's (hashed) key, so a value only opens where
    /// it was written.
    pub(super) fn ad(kind: &str, hashed: &str) -> Vec<u8> {
        let mut ad = kind.as_bytes().to_vec();
        ad.push(0);
        ad.extend_from_slice(hashed.as_bytes());
        ad
    }

    /// An encrypted record `{k, v}` (and `i` when given), ready for [`Store::write`].
    pub fn record(&self, kind: &str, key: &[u8], value: &[u8], index: Option<String>) -> JsValue {
        let o = Object::new();
        let hashed = self.hashed(kind, key);
        set(&o, "k", &hashed.clone().into());
        if let Some(i) = index {
            set(&o, "i", &i.into());
        }
        let sealed = seal(&self.key, &Self::ad(kind, &hashed), value);
        set(&o, "v", &Uint8Array::from(&sealed[..]).into());
        o.into()
    }

    /// Decrypts a raw message row read through the conversation index: its hashed key and
    /// the record `decode` reads from its plaintext (`STORAGE` if either fails).
    pub(super) fn open_message_row(
        &self,
        v: &JsValue,
        decode: fn(&[u8]) -> Option<MessageRecord>,
    ) -> Result<(String, MessageRecord), JsValue> {
        let sealed = get_bytes(v, "v").ok_or_else(|| corrupt("message"))?;
        let hashed = get(v, "k").as_string().ok_or_else(|| corrupt("message"))?;
        let plain = open(&self.key, &Self::ad(kind::MESSAGE, &hashed), &sealed)
            .ok_or_else(|| corrupt("message"))?;
        let m = decode(&plain).ok_or_else(|| corrupt("message"))?;
        Ok((hashed, m))
    }

    /// The record of a message.
    pub fn message_record(&self, m: &MessageRecord) -> JsValue {
        let index = self.message_index(m.contact, m.seq);
        self.record(kind::MESSAGE, m.id.as_bytes(), &m.encode(), Some(index))
    }

    /// The conversation index value of a message: the hashed contact and the sequence number.
    pub fn message_index(&self, contact: u64, seq: u64) -> String {
        format!("{}:{:016x}", self.conv_prefix(contact), seq)
    }

    /// Deletes records (by kind and key) in one transaction.
    pub async fn delete(&self, keys: &[(&str, &[u8])]) -> Result<(), JsValue> {
        if keys.is_empty() {
            return Ok(());
        }
        let tx = self.tx(TransactionMode::ReadWrite)?;
        let store = tx.store(STORE).map_err(|e| storage_error(&e))?;
        // Issued together, committed at once (`commit_with`).
        let deletes = keys
            .iter()
            .map(|(kind, key)| Box::pin(store.delete(self.hashed(kind, key).into())) as Staged)
            .collect();
        commit_with(tx, pin!(async { Ok(()) }), deletes).await
    }

    /// One message by id.
    pub async fn message(&self, id: &str) -> Result<Option<MessageRecord>, JsValue> {
        match self.read(kind::MESSAGE, id.as_bytes()).await? {
            Some(b) => MessageRecord::decode(&b)
                .map(Some)
                .ok_or_else(|| corrupt("message")),
            None => Ok(None),
        }
    }

    /// Writes records in one transaction and waits until it is committed.
    pub async fn write(&self, records: Vec<JsValue>) -> Result<(), JsValue> {
        if records.is_empty() {
            return Ok(());
        }
        self.count_written(&records);
        put_all(self.tx(TransactionMode::ReadWrite)?, records).await
    }

    /// Reads and decrypts one record.
    pub async fn read(
        &self,
        kind: &str,
        key: &[u8],
    ) -> Result<Option<Zeroizing<Vec<u8>>>, JsValue> {
        let tx = self.tx(TransactionMode::ReadOnly)?;
        let hashed = self.hashed(kind, key);
        let v = tx
            .store(STORE)
            .map_err(|e| storage_error(&e))?
            .get(hashed.clone().into())
            .await
            .map_err(|e| storage_error(&e))?;
        self.open_read(kind, &hashed, v)
    }

    /// The plaintext of a record of `kind` read under the hashed key `hashed` (`v`: what the
    /// get found), `STORAGE` when it does not open.
    pub(super) fn open_read(
        &self,
        kind: &str,
        hashed: &str,
        v: Option<JsValue>,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, JsValue> {
        let Some(v) = v else { return Ok(None) };
        let sealed = get_bytes(&v, "v").ok_or_else(|| corrupt(kind))?;
        open(&self.key, &Self::ad(kind, hashed), &sealed)
            .map(Some)
            .ok_or_else(|| corrupt(kind))
    }

    /// The newest `limit` messages with `contact` whose sequence number is below `before`,
    /// oldest first.
    pub async fn messages(
        &self,
        contact: u64,
        limit: u32,
        before: Option<u64>,
    ) -> Result<Vec<MessageRecord>, JsValue> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let prefix = self.conv_prefix(contact);
        let lower = JsValue::from(format!("{prefix}:"));
        let upper = JsValue::from(format!("{prefix}:{:016x}", before.unwrap_or(u64::MAX)));
        let range = |lower: &JsValue| {
            KeyRange::bound(lower, &upper, Some(false), Some(before.is_some()))
                .map_err(|e| storage_error(&e.into()))
        };
        crate::js::mark("page:start");
        let tx = self.tx(TransactionMode::ReadOnly)?;
        let store = tx.store(STORE).map_err(|e| storage_error(&e))?;
        let index = store.index(CONV_INDEX).map_err(|e| storage_error(&e))?;
        // The page's oldest index key: a cursor from the newest back, moved `limit - 1` in
        // one step (none: fewer messages than that). Then the page in one getAll from it,
        // oldest first (issue 18: a cursor stepped once per message answered each step on
        // its own, 50 round trips for a page of 50).
        let skip = limit - 1;
        let oldest = index
            .scan(
                Some(range(&lower)?),
                Some(1),
                (skip > 0).then_some(skip),
                Some(rexie::Direction::Prev),
            )
            .await
            .map_err(|e| storage_error(&e))?
            .into_iter()
            .next()
            .map_or(lower, |(key, _)| key);
        crate::js::mark("page:cursor");
        let rows = index
            .get_all(Some(range(&oldest)?), Some(limit))
            .await
            .map_err(|e| storage_error(&e))?;
        crate::js::mark("page:rows");
        let mut out = Vec::with_capacity(rows.len());
        for v in rows {
            let (hashed, m) = self.open_message_row(&v, MessageRecord::decode)?;
            if m.contact != contact || self.hashed(kind::MESSAGE, m.id.as_bytes()) != hashed {
                return Err(corrupt("message"));
            }
            out.push(m);
        }
        Ok(out)
    }

    /// The sequence number of a stored message, by its id.
    pub async fn message_seq(&self, id: &str) -> Result<Option<u64>, JsValue> {
        Ok(self.message(id).await?.map(|m| m.seq))
    }

    /// The recovery phrase kept with the profile (`STORAGE` when it is missing or damaged).
    pub async fn phrase(&self) -> Result<Zeroizing<String>, JsValue> {
        let phrase = self
            .read(kind::MNEMONIC, MNEMONIC_KEY)
            .await?
            .ok_or_else(|| {
                sotto_error(ErrorCode::Storage, "this profile has no recovery phrase")
            })?;
        let text = std::str::from_utf8(&phrase)
            .map_err(|_| sotto_error(ErrorCode::Storage, "the stored phrase is damaged"))?;
        Ok(Zeroizing::new(text.to_owned()))
    }

    /// The raw IndexedDB name of this profile's database.
    pub fn db_name(&self) -> &str {
        &self.name
    }

    /// Closes the database (writes in flight fail). The store key is zeroized when the
    /// `Store` is dropped.
    pub fn close(&self) {
        if let Ok(mut db) = self.db.try_borrow_mut()
            && let Some(db) = db.take()
        {
            db.close();
        }
    }

    /// Closes and deletes the whole database; the key is zeroized.
    pub async fn wipe(self) -> Result<(), JsValue> {
        self.close();
        let name = self.name.clone();
        drop(self);
        delete_database(&name).await
    }
}

impl Store {
    /// Whether `passphrase` (`None`: no passphrase) is the one that opens this profile: the
    /// same check as [`Store::open`], changing nothing.
    pub async fn check_passphrase(&self, passphrase: Option<&str>) -> Result<bool, JsValue> {
        Ok(unwrap_key(&self.meta().await?, passphrase)?.is_some())
    }
}

/// The store key that `meta` wraps, unwrapped with `passphrase` (`None`: no passphrase);
/// `None` when it is the wrong one (a profile with a passphrase opened without one, or the
/// other way round, included); `STORAGE` when `meta` is damaged. (One copy for
/// [`Store::open`] and [`Store::check_passphrase`]: the wasm's size, issue 18.)
fn unwrap_key(
    meta: &JsValue,
    passphrase: Option<&str>,
) -> Result<Option<Zeroizing<Vec<u8>>>, JsValue> {
    let kdf = get(meta, "kdf").as_string().unwrap_or_default();
    match (kdf.as_str(), passphrase) {
        ("argon2id", Some(_)) | ("none", None) => {}
        _ => return Ok(None),
    }
    let salt = get_bytes(meta, "salt").ok_or_else(|| corrupt("salt"))?;
    let wrapped = get_bytes(meta, "wrapped").ok_or_else(|| corrupt("key"))?;
    let num = |k: &str| get(meta, k).as_f64().unwrap_or(0.0) as u32;
    let kek = kek(passphrase, &salt, num("m"), num("t"), num("p"))?;
    Ok(open(&kek, WRAP_AD, &wrapped))
}

/// `WRONG_PASSPHRASE`.
fn wrong_passphrase() -> JsValue {
    sotto_error(
        ErrorCode::WrongPassphrase,
        "wrong passphrase for this profile",
    )
}

impl Store {
    /// Rewraps the store key for `new` (`None`: no passphrase) with today's Argon2id costs,
    /// when `old` is the passphrase that opens this profile; else `WRONG_PASSPHRASE` and
    /// nothing changes. The records stay as they are (the store key is the same).
    pub async fn change_passphrase(
        &self,
        old: Option<&str>,
        new: Option<&str>,
    ) -> Result<(), JsValue> {
        self.change_passphrase_with(old, new, ARGON2_M_KIB, ARGON2_T)
            .await
    }

    /// [`Store::change_passphrase`] with other Argon2id costs (tests use cheap ones).
    pub async fn change_passphrase_with(
        &self,
        old: Option<&str>,
        new: Option<&str>,
        m_kib: u32,
        t: u32,
    ) -> Result<(), JsValue> {
        if !self.check_passphrase(old).await? {
            return Err(wrong_passphrase());
        }
        let meta = self.meta().await?;
        let meta: Object = meta.unchecked_into();
        wrap_into(&meta, &self.key, new, m_kib, t)?;
        put_all(self.tx(TransactionMode::ReadWrite)?, vec![meta.into()]).await
    }

    /// The plaintext `meta` record.
    pub async fn meta(&self) -> Result<JsValue, JsValue> {
        get_meta(self.tx(TransactionMode::ReadOnly)?)
            .await?
            .ok_or_else(|| corrupt("meta"))
    }
}

/// Writes the meta record `meta` to `db` (in a transaction of its own).
async fn put_meta(db: &Rexie, meta: Object) -> Result<(), JsValue> {
    let tx = db
        .transaction(&[STORE], TransactionMode::ReadWrite)
        .map_err(|e| storage_error(&e))?;
    put_all(tx, vec![meta.into()]).await
}
