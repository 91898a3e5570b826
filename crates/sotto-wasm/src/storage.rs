//! The encrypted IndexedDB store of one profile (through `rexie`).
//!
//! One database per profile, named `sotto-<hex of SHA-256("sotto/v1/profile-db" ‖ profile)[..8]>`
//! so the profile's name does not show. One object store, `records`, keyed by `k` with an
//! index `conv` over `i`:
//!
//! - `meta` (the only plaintext record): `{k: "meta", schema, kdf, salt, m, t, p, wrapped}`.
//!   `wrapped` = nonce ‖ tag ‖ ChaCha20-Poly1305(KEK, store key, ad = "sotto/v1/store-key").
//!   KEK = Argon2id(passphrase, salt, m = 19 MiB, t = 2, p = 1) (`kdf: "argon2id"`), or, with no
//!   passphrase, HKDF-SHA256 of a fixed label (`kdf: "none"`): that only hides the key from
//!   casual inspection; the passphrase is what protects it.
//! - every other record: `{k: hex(HMAC(index key, kind ‖ key)), i?, v}` where
//!   `v` = nonce ‖ tag ‖ ChaCha20-Poly1305(store key, value, ad = kind ‖ key), the index key
//!   is HKDF(store key, "sotto/v1/record-index"). Messages carry
//!   `i` = hex(HMAC(index key, "conv" ‖ contact)) ‖ ":" ‖ 16 hex digits of a local sequence
//!   number, so a conversation pages in order without showing who or when.
//!
//! The store key lives in a `Zeroizing` box and never reaches JS.

use js_sys::{Object, Reflect, Uint8Array};
use rexie::{Index, KeyRange, ObjectStore, Rexie, TransactionMode};
use sha2::{Digest, Sha256};
use sotto_proto::crypto::{TAG_LEN, aead_open, aead_seal, hkdf_sha256, hmac_sha256};
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use sotto_proto::envelope::{Attachment, AttachmentKey, BlobId};
use sotto_proto::ids::RelayId;

use crate::messenger::{code, sotto_error};

/// The layout version of the records (stored in `meta.schema`).
/// 2 added message status, expiry and attachments; profiles of schema 1 are migrated on open.
pub const SCHEMA_VERSION: u32 = 2;
const STORE: &str = "records";
const CONV_INDEX: &str = "conv";
const NONE_LABEL: &[u8] = b"sotto/v1/no-passphrase";
const WRAP_AD: &[u8] = b"sotto/v1/store-key";
/// Argon2id parameters for new profiles: 19 MiB, 2 passes, 1 lane (OWASP's minimum for
/// Argon2id; a few hundred ms in a browser). Stored with the profile, so they can change.
pub const ARGON2_M_KIB: u32 = 19 * 1024;
pub const ARGON2_T: u32 = 2;
pub const ARGON2_P: u32 = 1;

/// Record kinds (part of every record's associated data and hashed key).
pub mod kind {
    pub const STATE: &str = "state";
    pub const MNEMONIC: &str = "mnemonic";
    pub const MESSAGE: &str = "msg";
    /// A file's bytes, keyed by its message id.
    pub const FILE: &str = "file";
    /// The local bookkeeping: messages due to disappear, transfers to resume.
    pub const LOCAL: &str = "local";
}

/// The IndexedDB name of a profile.
pub fn db_name(profile: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"sotto/v1/profile-db");
    h.update(profile.as_bytes());
    let d = h.finalize();
    format!("sotto-{}", crate::messenger::hex(&d[..8]))
}

/// A `SottoError` for an IndexedDB failure: `STORAGE_QUOTA` for a QuotaExceededError, else `STORAGE`.
pub fn storage_error(e: &rexie::Error) -> JsValue {
    let text = format!("{e} {e:?}");
    if text.contains("Quota") {
        sotto_error(
            code::STORAGE_QUOTA,
            "the browser's storage quota is exhausted",
        )
    } else {
        sotto_error(code::STORAGE, &format!("IndexedDB: {e}"))
    }
}

fn corrupt(what: &str) -> JsValue {
    sotto_error(
        code::STORAGE,
        &format!("the stored profile is damaged: {what}"),
    )
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // The browser's RNG does not fail; if it did, a zero nonce/key would be caught nowhere,
    // so refuse loudly instead.
    if getrandom::fill(&mut b).is_err() {
        wasm_bindgen::throw_str("no cryptographic RNG");
    }
    b
}

/// nonce ‖ tag ‖ ciphertext.
fn seal(key: &[u8; 32], ad: &[u8], plain: &[u8]) -> Vec<u8> {
    let nonce: [u8; 12] = random();
    let mut buf = Zeroizing::new(plain.to_vec());
    let tag = aead_seal(key, &nonce, ad, &mut buf).unwrap_or([0; TAG_LEN]);
    let mut out = Vec::with_capacity(12 + TAG_LEN + buf.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&tag);
    out.extend_from_slice(&buf);
    out
}

fn open(key: &[u8; 32], ad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let nonce: [u8; 12] = sealed.get(..12)?.try_into().ok()?;
    let tag: [u8; TAG_LEN] = sealed.get(12..12 + TAG_LEN)?.try_into().ok()?;
    let mut buf = Zeroizing::new(sealed.get(12 + TAG_LEN..)?.to_vec());
    aead_open(key, &nonce, ad, &mut buf, &tag).ok()?;
    Some(buf)
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &k.into()).unwrap_or(JsValue::UNDEFINED)
}

fn bytes_of(o: &JsValue, k: &str) -> Option<Vec<u8>> {
    let v = get(o, k);
    v.dyn_ref::<Uint8Array>().map(Uint8Array::to_vec)
}

fn set(o: &Object, k: &str, v: &JsValue) {
    let _ = Reflect::set(o, &k.into(), v);
}

fn kek(
    passphrase: Option<&str>,
    salt: &[u8],
    m: u32,
    t: u32,
    p: u32,
) -> Result<Zeroizing<[u8; 32]>, JsValue> {
    let mut out = Zeroizing::new([0u8; 32]);
    match passphrase {
        Some(pw) => {
            let params = argon2::Params::new(m, t, p, Some(32))
                .map_err(|_| corrupt("key derivation parameters"))?;
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                .hash_password_into(pw.as_bytes(), salt, &mut out[..])
                .map_err(|_| corrupt("key derivation"))?;
        }
        None => {
            hkdf_sha256(salt, NONE_LABEL, NONE_LABEL, &mut out[..])
                .map_err(|_| corrupt("key derivation"))?;
        }
    }
    Ok(out)
}

/// Where a message is: ours on the way (`Sending`), stored by a relay (`Sent`), not sent
/// (`Failed`), or theirs (`Received`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Sending = 0,
    Sent = 1,
    Failed = 2,
    Received = 3,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Failed => "failed",
            Status::Received => "received",
        }
    }
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            0 => Status::Sending,
            1 => Status::Sent,
            2 => Status::Failed,
            3 => Status::Received,
            _ => return None,
        })
    }
}

/// A message's attachment: the reference to its blob (with the blob's key, so the record is
/// as secret as the rest of the store), whether it was a voice note, and whether its bytes are
/// stored locally (a [`kind::FILE`] record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRecord {
    pub attachment: Attachment,
    pub voice: bool,
    pub ready: bool,
}

/// A decrypted message record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRecord {
    pub seq: u64,
    pub id: String,
    pub contact: u64,
    pub text: String,
    pub sent_at: u64,
    pub received_at: Option<u64>,
    pub outgoing: bool,
    pub status: Status,
    /// Unix seconds when the message disappears.
    pub expires_at: Option<u64>,
    pub file: Option<FileRecord>,
}

/// First byte of a schema-2 message record.
const RECORD_V2: u8 = 2;

/// Reads the big-endian layouts of this crate's records (messages, `local`, backups): every
/// read is bounds-checked and gives `None` past the end.
pub(crate) struct Cursor<'a>(pub(crate) &'a [u8]);

impl<'a> Cursor<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    pub(crate) fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }
    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.array()?))
    }
    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.array()?))
    }
    /// Bytes preceded by their length in `len_bytes` (1, 2 or 4) bytes.
    pub(crate) fn bytes(&mut self, len_bytes: usize) -> Option<&'a [u8]> {
        let n = match len_bytes {
            1 => usize::from(self.u8()?),
            2 => usize::from(u16::from_be_bytes(self.array()?)),
            _ => usize::try_from(u32::from_be_bytes(self.array()?)).ok()?,
        };
        self.take(n)
    }
    pub(crate) fn string(&mut self, len_bytes: usize) -> Option<String> {
        Some(std::str::from_utf8(self.bytes(len_bytes)?).ok()?.to_owned())
    }
}

/// Writes `b` preceded by its length in `len_bytes` (1, 2 or 4) bytes, as [`Cursor::bytes`]
/// reads it. Callers keep `b` within the length's range (names ≤ 255 bytes, previews ≤ 2048);
/// anything longer is cut there rather than written with a wrong length.
pub(crate) fn put_bytes(w: &mut Vec<u8>, len_bytes: usize, b: &[u8]) {
    let max = match len_bytes {
        1 => 0xff,
        2 => 0xffff,
        _ => u32::MAX as usize,
    };
    let b = b.get(..b.len().min(max)).unwrap_or_default();
    let n = b.len() as u32;
    w.extend_from_slice(&n.to_be_bytes()[4 - len_bytes.min(4)..]);
    w.extend_from_slice(b);
}

impl MessageRecord {
    /// A text message as schema 1 knew it: ours when it has no receive time (then `Sent`),
    /// theirs otherwise (`Received`); no expiry, no file.
    pub fn text_message(
        seq: u64,
        id: String,
        contact: u64,
        text: String,
        sent_at: u64,
        received_at: Option<u64>,
    ) -> Self {
        let outgoing = received_at.is_none();
        MessageRecord {
            seq,
            id,
            contact,
            text,
            sent_at,
            received_at,
            outgoing,
            status: if outgoing {
                Status::Sent
            } else {
                Status::Received
            },
            expires_at: None,
            file: None,
        }
    }

    /// Schema 2: `2` ‖ seq ‖ contact ‖ sent ‖ received (u64::MAX: none) ‖ outgoing ‖ status ‖
    /// expires (u64::MAX: none) ‖ id (u8 length) ‖ text (u32 length) ‖ has file, and if so:
    /// relay ‖ blob id ‖ key ‖ size ‖ sha256 ‖ mime (u8 len) ‖ name (u8 len) ‖ thumbnail
    /// (u16 len) ‖ voice ‖ ready. Integers big-endian.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Zeroizing::new(Vec::with_capacity(64 + self.text.len()));
        w.push(RECORD_V2);
        for n in [
            self.seq,
            self.contact,
            self.sent_at,
            self.received_at.unwrap_or(u64::MAX),
        ] {
            w.extend_from_slice(&n.to_be_bytes());
        }
        w.push(u8::from(self.outgoing));
        w.push(self.status as u8);
        w.extend_from_slice(&self.expires_at.unwrap_or(u64::MAX).to_be_bytes());
        put_bytes(&mut w, 1, self.id.as_bytes());
        put_bytes(&mut w, 4, self.text.as_bytes());
        match &self.file {
            None => w.push(0),
            Some(f) => {
                let a = &f.attachment;
                w.push(1);
                w.extend_from_slice(a.blob_relay.as_bytes());
                w.extend_from_slice(a.blob_id.as_bytes());
                w.extend_from_slice(a.key.expose());
                w.extend_from_slice(&a.size.to_be_bytes());
                w.extend_from_slice(&a.sha256);
                put_bytes(&mut w, 1, a.mime.as_bytes());
                put_bytes(&mut w, 1, a.name.as_bytes());
                put_bytes(&mut w, 2, &a.thumbnail);
                w.push(u8::from(f.voice));
                w.push(u8::from(f.ready));
            }
        }
        w
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Cursor(b);
        if r.u8()? != RECORD_V2 {
            return None;
        }
        let (seq, contact, sent_at, received) = (r.u64()?, r.u64()?, r.u64()?, r.u64()?);
        let outgoing = r.u8()? == 1;
        let status = Status::from_byte(r.u8()?)?;
        let expires = r.u64()?;
        let id = r.string(1)?;
        let text = r.string(4)?;
        let file = match r.u8()? {
            0 => None,
            1 => {
                let attachment = Attachment {
                    blob_relay: RelayId::from_bytes(r.array()?),
                    blob_id: BlobId::from_bytes(r.array()?),
                    key: AttachmentKey::from_bytes(*Zeroizing::new(r.array::<32>()?)),
                    size: r.u64()?,
                    sha256: r.array()?,
                    mime: r.string(1)?,
                    name: r.string(1)?,
                    thumbnail: r.bytes(2)?.to_vec(),
                };
                Some(FileRecord {
                    attachment,
                    voice: r.u8()? == 1,
                    ready: r.u8()? == 1,
                })
            }
            _ => return None,
        };
        Some(MessageRecord {
            seq,
            id,
            contact,
            text,
            sent_at,
            received_at: (received != u64::MAX).then_some(received),
            outgoing,
            status,
            expires_at: (expires != u64::MAX).then_some(expires),
            file,
        })
    }

    /// Schema 1: seq ‖ contact ‖ sent ‖ received ‖ outgoing ‖ id (u8 length) ‖ text.
    pub fn decode_v1(b: &[u8]) -> Option<Self> {
        let mut r = Cursor(b);
        let (seq, contact, sent_at, received) = (r.u64()?, r.u64()?, r.u64()?, r.u64()?);
        let outgoing = r.u8()? == 1;
        let id = r.string(1)?;
        let text = std::str::from_utf8(r.0).ok()?.to_owned();
        // Schema 1 kept a receive time exactly for messages that were not ours.
        let received_at = (!outgoing).then_some(received);
        Some(Self::text_message(
            seq,
            id,
            contact,
            text,
            sent_at,
            received_at,
        ))
    }
}

/// An open profile store. The store key is zeroized when this is dropped.
pub struct Store {
    /// Borrowed only briefly (never across an await), so `close` can always take it.
    db: std::cell::RefCell<Option<Rexie>>,
    name: String,
    key: Zeroizing<[u8; 32]>,
    index_key: Zeroizing<[u8; 32]>,
    /// The schema version found when the profile was opened (before any migration).
    pub opened_schema: u32,
    /// True when this open created the profile.
    pub created: bool,
}

impl Store {
    /// Opens (or creates) a profile's store. A wrong passphrase gives `WRONG_PASSPHRASE` and
    /// changes nothing.
    pub async fn open(profile: &str, passphrase: Option<&str>) -> Result<Store, JsValue> {
        Self::open_with(profile, passphrase, ARGON2_M_KIB, ARGON2_T).await
    }

    /// [`Store::open`] with other Argon2id costs for a new profile (tests use cheap ones).
    pub async fn open_with(
        profile: &str,
        passphrase: Option<&str>,
        m_kib: u32,
        t: u32,
    ) -> Result<Store, JsValue> {
        let name = db_name(profile);
        let db = open_db(&name).await?;
        let tx = db
            .transaction(&[STORE], TransactionMode::ReadOnly)
            .map_err(|e| storage_error(&e))?;
        let meta = tx
            .store(STORE)
            .map_err(|e| storage_error(&e))?
            .get("meta".into())
            .await
            .map_err(|e| storage_error(&e))?;
        drop(tx);
        let mut created = false;
        let (key, schema) = match meta {
            Some(meta) => {
                let schema = get(&meta, "schema").as_f64().unwrap_or(0.0) as u32;
                let kdf = get(&meta, "kdf").as_string().unwrap_or_default();
                let salt = bytes_of(&meta, "salt").ok_or_else(|| corrupt("salt"))?;
                let wrapped = bytes_of(&meta, "wrapped").ok_or_else(|| corrupt("key"))?;
                let wrong =
                    || sotto_error(code::WRONG_PASSPHRASE, "wrong passphrase for this profile");
                match (kdf.as_str(), passphrase) {
                    ("argon2id", Some(_)) | ("none", None) => {}
                    _ => {
                        db.close();
                        return Err(wrong());
                    }
                }
                let num = |k: &str| get(&meta, k).as_f64().unwrap_or(0.0) as u32;
                let kek = kek(passphrase, &salt, num("m"), num("t"), num("p"))?;
                let Some(plain) = open(&kek, WRAP_AD, &wrapped) else {
                    db.close();
                    return Err(wrong());
                };
                let key: [u8; 32] = plain[..].try_into().map_err(|_| corrupt("key length"))?;
                (Zeroizing::new(key), schema)
            }
            None => {
                created = true;
                let key = Zeroizing::new(random::<32>());
                let salt: [u8; 16] = random();
                let kek = kek(passphrase, &salt, m_kib, t, ARGON2_P)?;
                let wrapped = seal(&kek, WRAP_AD, &key[..]);
                let meta = Object::new();
                set(&meta, "k", &"meta".into());
                set(&meta, "schema", &SCHEMA_VERSION.into());
                set(
                    &meta,
                    "kdf",
                    &(if passphrase.is_some() {
                        "argon2id"
                    } else {
                        "none"
                    })
                    .into(),
                );
                set(&meta, "salt", &Uint8Array::from(&salt[..]).into());
                set(&meta, "m", &m_kib.into());
                set(&meta, "t", &t.into());
                set(&meta, "p", &ARGON2_P.into());
                set(&meta, "wrapped", &Uint8Array::from(&wrapped[..]).into());
                let tx = db
                    .transaction(&[STORE], TransactionMode::ReadWrite)
                    .map_err(|e| storage_error(&e))?;
                put_all(tx, vec![meta.into()]).await?;
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
        };
        if let Err(e) = store.migrate(schema).await {
            store.close();
            return Err(e);
        }
        Ok(store)
    }

    /// Upgrades the records from schema `from` to [`SCHEMA_VERSION`], in one transaction: it
    /// all happens or nothing does.
    async fn migrate(&self, from: u32) -> Result<(), JsValue> {
        match from {
            SCHEMA_VERSION => return Ok(()),
            1 => {}
            _ => {
                return Err(sotto_error(
                    code::STORAGE,
                    &format!("cannot migrate the stored profile from schema {from}"),
                ));
            }
        }
        // 1 → 2: message records get a status, an expiry and room for a file.
        let tx = self.tx(TransactionMode::ReadWrite)?;
        let store = tx.store(STORE).map_err(|e| storage_error(&e))?;
        let rows = store
            .index(CONV_INDEX)
            .map_err(|e| storage_error(&e))?
            .scan(None, None, None, None)
            .await
            .map_err(|e| storage_error(&e))?;
        let mut records = Vec::new();
        for (_, v) in rows {
            let (_, plain) = self.open_message_row(&v)?;
            let m = MessageRecord::decode_v1(&plain).ok_or_else(|| corrupt("message"))?;
            records.push(self.message_record(&m));
        }
        let meta = store
            .get("meta".into())
            .await
            .map_err(|e| storage_error(&e))?
            .ok_or_else(|| corrupt("meta"))?;
        let _ = Reflect::set(&meta, &"schema".into(), &SCHEMA_VERSION.into());
        records.push(meta);
        drop(store);
        put_all(tx, records).await
    }

    fn tx(&self, mode: TransactionMode) -> Result<rexie::Transaction, JsValue> {
        let db = self
            .db
            .try_borrow()
            .map_err(|_| sotto_error(code::CLOSED, "the profile store is closed"))?;
        db.as_ref()
            .ok_or_else(|| sotto_error(code::CLOSED, "the profile store is closed"))?
            .transaction(&[STORE], mode)
            .map_err(|e| storage_error(&e))
    }

    fn hashed(&self, kind: &str, key: &[u8]) -> String {
        let mut data = kind.as_bytes().to_vec();
        data.push(0);
        data.extend_from_slice(key);
        crate::messenger::hex(&hmac_sha256(&self.index_key[..], &data))
    }

    fn conv_prefix(&self, contact: u64) -> String {
        let h = self.hashed("conv", &contact.to_be_bytes());
        h[..32].to_owned()
    }

    /// Associated data: kind ‖ 0 ‖ the record's (hashed) key, so a value only opens where
    /// it was written.
    fn ad(kind: &str, hashed: &str) -> Vec<u8> {
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
    /// its plaintext.
    fn open_message_row(&self, v: &JsValue) -> Result<(String, Zeroizing<Vec<u8>>), JsValue> {
        let sealed = bytes_of(v, "v").ok_or_else(|| corrupt("message"))?;
        let hashed = get(v, "k").as_string().ok_or_else(|| corrupt("message"))?;
        let plain = open(&self.key, &Self::ad(kind::MESSAGE, &hashed), &sealed)
            .ok_or_else(|| corrupt("message"))?;
        Ok((hashed, plain))
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
        {
            let store = tx.store(STORE).map_err(|e| storage_error(&e))?;
            for (kind, key) in keys {
                store
                    .delete(self.hashed(kind, key).into())
                    .await
                    .map_err(|e| storage_error(&e))?;
            }
        }
        match tx.done().await.map_err(|e| storage_error(&e))? {
            rexie::TransactionResult::Committed => Ok(()),
            _ => Err(sotto_error(code::STORAGE, "IndexedDB aborted a delete")),
        }
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
        put_all(self.tx(TransactionMode::ReadWrite)?, records).await
    }

    /// Reads and decrypts one record.
    pub async fn read(
        &self,
        kind: &str,
        key: &[u8],
    ) -> Result<Option<Zeroizing<Vec<u8>>>, JsValue> {
        let tx = self.tx(TransactionMode::ReadOnly)?;
        let v = tx
            .store(STORE)
            .map_err(|e| storage_error(&e))?
            .get(self.hashed(kind, key).into())
            .await
            .map_err(|e| storage_error(&e))?;
        let Some(v) = v else { return Ok(None) };
        let sealed = bytes_of(&v, "v").ok_or_else(|| corrupt(kind))?;
        open(&self.key, &Self::ad(kind, &self.hashed(kind, key)), &sealed)
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
        let prefix = self.conv_prefix(contact);
        let lower = JsValue::from(format!("{prefix}:"));
        let upper = JsValue::from(format!("{prefix}:{:016x}", before.unwrap_or(u64::MAX)));
        let range = KeyRange::bound(&lower, &upper, Some(false), Some(before.is_some()))
            .map_err(|e| storage_error(&e.into()))?;
        let tx = self.tx(TransactionMode::ReadOnly)?;
        let store = tx.store(STORE).map_err(|e| storage_error(&e))?;
        let index = store.index(CONV_INDEX).map_err(|e| storage_error(&e))?;
        let rows = index
            .scan(Some(range), Some(limit), None, Some(rexie::Direction::Prev))
            .await
            .map_err(|e| storage_error(&e))?;
        let mut out = Vec::new();
        for (_, v) in rows {
            let (hashed, plain) = self.open_message_row(&v)?;
            let m = MessageRecord::decode(&plain).ok_or_else(|| corrupt("message"))?;
            if m.contact != contact || self.hashed(kind::MESSAGE, m.id.as_bytes()) != hashed {
                return Err(corrupt("message"));
            }
            out.push(m);
        }
        out.reverse();
        Ok(out)
    }

    /// The sequence number of a stored message, by its id.
    pub async fn message_seq(&self, id: &str) -> Result<Option<u64>, JsValue> {
        Ok(self.message(id).await?.map(|m| m.seq))
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

/// Opens (or creates) a profile's database with its one object store and index.
async fn open_db(name: &str) -> Result<Rexie, JsValue> {
    Rexie::builder(name)
        .version(1)
        .add_object_store(
            ObjectStore::new(STORE)
                .key_path("k")
                .add_index(Index::new(CONV_INDEX, "i")),
        )
        .build()
        .await
        .map_err(|e| storage_error(&e))
}

/// Deletes a database by name.
pub async fn delete_database(name: &str) -> Result<(), JsValue> {
    Rexie::delete(name).await.map_err(|e| storage_error(&e))
}

async fn put_all(tx: rexie::Transaction, records: Vec<JsValue>) -> Result<(), JsValue> {
    {
        let store = tx.store(STORE).map_err(|e| storage_error(&e))?;
        store
            .put_all(records.into_iter().map(|r| (r, None)))
            .await
            .map_err(|e| storage_error(&e))?;
    }
    match tx.done().await.map_err(|e| storage_error(&e))? {
        rexie::TransactionResult::Committed => Ok(()),
        // We never abort a write: the browser did, which is how a quota error shows.
        _ => Err(sotto_error(
            code::STORAGE_QUOTA,
            "IndexedDB aborted the write (storage quota exhausted?)",
        )),
    }
}

/// What can be known of a saved profile before it is opened.
pub struct ProfileInfo {
    /// A passphrase protects it (`kdf: "argon2id"`).
    pub passphrase: bool,
}

/// Whether `profile` is saved in this browser, and whether a passphrase protects it. Reads only
/// the plaintext `meta` record; creates nothing (a database that `open` would have to create
/// is not there, so `None`).
pub async fn probe(profile: &str) -> Result<Option<ProfileInfo>, JsValue> {
    let name = db_name(profile);
    if let Some(names) = database_names().await
        && !names.contains(&name)
    {
        return Ok(None);
    }
    let db = open_db(&name).await?;
    let meta = read_meta(&db).await;
    db.close();
    match meta? {
        Some(meta) => Ok(Some(ProfileInfo {
            passphrase: get(&meta, "kdf").as_string().as_deref() == Some("argon2id"),
        })),
        None => {
            // No `indexedDB.databases()` here, and opening made an empty database: remove it.
            delete_database(&name).await?;
            Ok(None)
        }
    }
}

/// The names of this origin's databases, where the browser can list them.
async fn database_names() -> Option<Vec<String>> {
    let idb = Reflect::get(&js_sys::global(), &"indexedDB".into()).ok()?;
    let list: js_sys::Function = Reflect::get(&idb, &"databases".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let promise: js_sys::Promise = list.call0(&idb).ok()?.dyn_into().ok()?;
    let dbs = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    let dbs: js_sys::Array = dbs.dyn_into().ok()?;
    Some(
        dbs.iter()
            .filter_map(|d| get(&d, "name").as_string())
            .collect(),
    )
}

async fn read_meta(db: &Rexie) -> Result<Option<JsValue>, JsValue> {
    let tx = db
        .transaction(&[STORE], TransactionMode::ReadOnly)
        .map_err(|e| storage_error(&e))?;
    tx.store(STORE)
        .map_err(|e| storage_error(&e))?
        .get("meta".into())
        .await
        .map_err(|e| storage_error(&e))
}

impl Store {
    /// Whether `passphrase` (`None`: no passphrase) is the one that opens this profile: the
    /// same check as [`Store::open`], changing nothing.
    pub async fn check_passphrase(&self, passphrase: Option<&str>) -> Result<bool, JsValue> {
        let meta = {
            let tx = self.tx(TransactionMode::ReadOnly)?;
            tx.store(STORE)
                .map_err(|e| storage_error(&e))?
                .get("meta".into())
                .await
                .map_err(|e| storage_error(&e))?
                .ok_or_else(|| corrupt("meta"))?
        };
        let kdf = get(&meta, "kdf").as_string().unwrap_or_default();
        match (kdf.as_str(), passphrase) {
            ("argon2id", Some(_)) | ("none", None) => {}
            _ => return Ok(false),
        }
        let salt = bytes_of(&meta, "salt").ok_or_else(|| corrupt("salt"))?;
        let wrapped = bytes_of(&meta, "wrapped").ok_or_else(|| corrupt("key"))?;
        let num = |k: &str| get(&meta, k).as_f64().unwrap_or(0.0) as u32;
        let kek = kek(passphrase, &salt, num("m"), num("t"), num("p"))?;
        Ok(open(&kek, WRAP_AD, &wrapped).is_some())
    }
}
