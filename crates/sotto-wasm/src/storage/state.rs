//! The client state in the store: the `state` record (message counter ‖ the client's core, or,
//! as profiles stored before per-contact records have it, the whole client) with its
//! generation number, and one `contact` record per contact (that contact's part of the client,
//! [`sotto_proto::client::Client::to_parts`]). Read together in one transaction; written
//! together, with other records, in one transaction that first checks the generation.

use std::pin::pin;

use js_sys::Uint8Array;
use rexie::{KeyRange, TransactionMode};
use sotto_proto::client::ContactId;
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use super::crypto::{open, seal};
use super::records::{STATE_KEY, kind};
use super::schema::{STORE, Staged, abandon, all, both, commit_with, corrupt, storage_error};
use super::store::Store;
use crate::error::{ErrorCode, sotto_error};
use crate::js::{bytes_of, get, get_bytes, set};

/// The plaintext generation number of the `state` record (absent in records written before
/// generations: 0).
const GENERATION: &str = "g";

/// The plaintext id of the store that wrote the `state` record (absent in records written
/// before writer ids).
const WRITER: &str = "w";

/// What [`Store::read_state_parts`] finds: the `state` record's plaintext and every contact
/// record's (its contact id, from the part itself, and the part).
pub struct StoredState {
    pub state: Zeroizing<Vec<u8>>,
    pub contacts: Vec<(ContactId, Zeroizing<Vec<u8>>)>,
}

/// One record read by [`Store::read_state_parts_with`]: its plaintext, `None` when there is
/// none, `STORAGE` when it does not open.
pub type ReadRecord = Result<Option<Zeroizing<Vec<u8>>>, JsValue>;

impl Store {
    /// The key of contact `id`'s record: a prefix common to all contact records (so that one
    /// key range holds them all), `:`, then the record's own hashed key.
    fn contact_key(&self, id: ContactId) -> String {
        format!(
            "{}:{}",
            self.contact_prefix(),
            self.hashed(kind::CONTACT, &id.to_be_bytes())
        )
    }

    fn contact_prefix(&self) -> String {
        let h = self.hashed(kind::CONTACT, b"");
        h[..32].to_owned()
    }

    /// The sealed record of one contact's part of the client state (`part`), for
    /// [`Store::write_state_with`]: `{k, v}` with `k` from [`Store::contact_key`], sealed
    /// with `kind::CONTACT ‖ 0 ‖ k` as associated data like every record.
    ///
    /// The key is made from the id `part` names ([`part_contact`]), which is what lets
    /// [`Store::read_state_parts`] trust the id of a record that opens; `None` (nothing
    /// sealed) for a part too short to name one, which [`Client::to_parts`] never makes.
    ///
    /// [`Client::to_parts`]: sotto_proto::client::Client::to_parts
    pub fn contact_record(&self, part: &[u8]) -> Option<JsValue> {
        let o = js_sys::Object::new();
        let k = self.contact_key(part_contact(part)?);
        let sealed = seal(&self.key, &Self::ad(kind::CONTACT, &k), part);
        set(&o, "k", &k.into());
        set(&o, "v", &Uint8Array::from(&sealed[..]).into());
        Some(o.into())
    }

    /// Reads and decrypts the client state, and remembers its generation: the one this store's
    /// next [`Store::write_state`] must find still stored.
    pub async fn read_state(&self) -> Result<Option<Zeroizing<Vec<u8>>>, JsValue> {
        Ok(self.read_state_parts().await?.map(|s| s.state))
    }

    /// The `state` record and every `contact` record (one get and one getAll over the
    /// contact records' key range, in one transaction), decrypted; remembers the state's
    /// generation as [`Store::read_state`] does. A contact record that does not open, or
    /// whose part names another contact than its key, is damage (`STORAGE`).
    pub async fn read_state_parts(&self) -> Result<Option<StoredState>, JsValue> {
        Ok(self.read_state_parts_with(&[]).await?.1)
    }

    /// [`Store::read_state_parts`], and in the same transaction the records `also` (their
    /// kind and key), each decrypted as [`Store::read`] does (a record that does not open is
    /// its own `STORAGE` error, for the caller to weigh): what opening a profile reads, in one
    /// round trip (issue 18). The requests are issued together (IndexedDB answers them in
    /// order), not each after the last one's answer.
    pub async fn read_state_parts_with(
        &self,
        also: &[(&str, &[u8])],
    ) -> Result<(Vec<ReadRecord>, Option<StoredState>), JsValue> {
        let tx = self.tx(TransactionMode::ReadOnly)?;
        let hashed = self.hashed(kind::STATE, STATE_KEY);
        let also: Vec<(&str, String)> = also
            .iter()
            .map(|(kind, key)| (*kind, self.hashed(kind, key)))
            .collect();
        let prefix = self.contact_prefix();
        let range = KeyRange::bound(
            &format!("{prefix}:").into(),
            &format!("{prefix};").into(),
            Some(false),
            Some(true),
        )
        .map_err(|e| storage_error(&e.into()))?;
        let store = tx.store(STORE).map_err(|e| storage_error(&e))?;
        // The state's get first, then those of `also`, in one `all` (one instantiation).
        let (got, rows) = both(
            all(std::iter::once(&hashed)
                .chain(also.iter().map(|(_, k)| k))
                .map(|k| store.get(k.clone().into()))
                .collect()),
            store.get_all(Some(range), None),
        )
        .await;
        let mut got = got.into_iter();
        let v = got.next().transpose();
        let (v, rows) = (
            v.map_err(|e| storage_error(&e))?.flatten(),
            rows.map_err(|e| storage_error(&e))?,
        );
        let also = also
            .iter()
            .zip(got)
            .map(|((kind, k), v)| {
                v.map_err(|e| storage_error(&e))
                    .and_then(|v| self.open_read(kind, k, v))
            })
            .collect();
        let Some(v) = v else {
            self.base.replace((0, None));
            return Ok((also, None));
        };
        self.generation.set(generation_of(&v));
        self.base.replace(writer_of(&v));
        let sealed = get_bytes(&v, "v").ok_or_else(|| corrupt(kind::STATE))?;
        let state = open(&self.key, &Self::ad(kind::STATE, &hashed), &sealed)
            .ok_or_else(|| corrupt(kind::STATE))?;
        // The property names made once, not a JS string per record and property.
        let names = (JsValue::from_str("k"), JsValue::from_str("v"));
        let contacts = rows
            .iter()
            .map(|row| self.open_contact_row(row, &names))
            .collect::<Result<_, _>>()?;
        Ok((also, Some(StoredState { state, contacts })))
    }

    /// One contact record read by [`Store::read_state_parts`], opened: the contact id its part
    /// names and the part (`STORAGE` when it does not open or names none); `names`: the
    /// JavaScript strings `"k"` and `"v"`.
    ///
    /// The record's key is not recomputed from that id (an HMAC per record, on every open;
    /// issue 18): opening the record already proves what that check did.
    /// Its associated data binds `kind::CONTACT` and the key it is stored under, so it opens
    /// only under the key [`Store::contact_record`] sealed it for, and that key is made from
    /// the id the part names (the part's own bytes, checked there). So a record moved to
    /// another key, or made without the store key, does not open, and a record that opens
    /// names the contact its key was made from. What that check never caught (an older
    /// record of the same contact put back under its own key) the core's digest of the parts
    /// refuses ([`sotto_proto::client::Client::from_parts`]); a profile stored whole trusts no
    /// contact record (each is rewritten or deleted by its first write).
    fn open_contact_row(
        &self,
        row: &JsValue,
        (k, v): &(JsValue, JsValue),
    ) -> Result<(ContactId, Zeroizing<Vec<u8>>), JsValue> {
        let property = |name| js_sys::Reflect::get(row, name).unwrap_or(JsValue::UNDEFINED);
        let k = property(k).as_string().ok_or_else(|| corrupt("contact"))?;
        let sealed = bytes_of(&property(v)).ok_or_else(|| corrupt("contact"))?;
        let part = open(&self.key, &Self::ad(kind::CONTACT, &k), &sealed)
            .ok_or_else(|| corrupt("contact"))?;
        let id = part_contact(&part).ok_or_else(|| corrupt("contact"))?;
        Ok((id, part))
    }

    /// [`Store::write_state_with`] with no contact record to delete.
    pub async fn write_state(&self, records: Vec<JsValue>, state: &[u8]) -> Result<(), JsValue> {
        self.write_state_with(records, &[], state).await
    }

    /// Writes `records` (messages, contact records made by [`Store::contact_record`], …) and
    /// the client state `state`, and deletes the records of the contacts `removed`, in one
    /// transaction, as the next generation of the state this store read (or last wrote).
    /// The same transaction checks the stored `state` record: unless this store wrote it (its
    /// writer id) or it is still the one this store read (generation and writer id), another
    /// writer (another tab, an older copy) wrote since, and the transaction is aborted, so
    /// nothing is written or deleted: this fails with `PROFILE_IN_USE`, so a stale copy can
    /// never roll the ratchets (the state's or any contact's) back, nor leave its core beside
    /// another writer's contact records. A failed write of this store changes nothing of that
    /// (a generation number claimed by a failed write no longer lets a stale copy pass).
    ///
    /// The check's read and the deletes and puts are issued together, on this future's first
    /// poll (issue 18): IndexedDB runs a transaction's requests in order, so the read sees the
    /// state as it was before this write, and the check is made when the read returns, while
    /// the puts are still pending (they were issued after it), so the abort still undoes them
    /// all. A caller that polls once and then does other work overlaps the whole commit with
    /// that work, not only what follows the check.
    ///
    /// The generation is claimed before the first await, so writes started one after another
    /// from this store (whose IndexedDB transactions run in the order they were made) each
    /// write a newer one.
    ///
    /// A store made by [`Store::replacing`] makes no check on its first write that commits:
    /// the write clears the database, then puts its `meta` record with the others, in the
    /// same transaction, so the profile there is replaced whole or not at all.
    pub async fn write_state_with(
        &self,
        records: Vec<JsValue>,
        removed: &[ContactId],
        state: &[u8],
    ) -> Result<(), JsValue> {
        let next = self.generation.get().saturating_add(1);
        self.generation.set(next);
        let record = self.record(kind::STATE, STATE_KEY, state, None);
        set(&record, GENERATION, &JsValue::from(next as f64));
        set(&record, WRITER, &self.writer.as_str().into());
        let mut puts = records;
        puts.push(record);
        let written = sealed_len(&puts);
        let tx = self.tx(TransactionMode::ReadWrite)?;
        let store = match tx.store(STORE) {
            Ok(store) => store,
            Err(e) => return Err(abandon(tx, storage_error(&e)).await),
        };
        // A replacing store's first write: everything there goes first, in this transaction.
        let replacing = self.replacing.take();
        let replace = replacing.is_some();
        puts.extend(replacing.clone());
        let hashed = self.hashed(kind::STATE, STATE_KEY);
        let check = async {
            if replace {
                return Ok(());
            }
            let stored = store.get(hashed.into()).await;
            self.check_writer(stored.map_err(|e| storage_error(&e))?.as_ref())
        };
        // The clearing or the deletes, then the puts, each issued on its first poll
        // (`commit_with`); IndexedDB runs them in that order.
        let mut staged: Vec<Staged> = match replace {
            true => vec![Box::pin(store.clear())],
            false => removed
                .iter()
                .map(|id| Box::pin(store.delete(self.contact_key(*id).into())) as Staged)
                .collect(),
        };
        staged.push(Box::pin(store.put_all(puts.into_iter().map(|r| (r, None)))));
        let committed = commit_with(tx, pin!(check), staged).await;
        match &committed {
            Ok(()) => self.add_written(written),
            // Not replaced: the next write tries again.
            Err(_) => *self.replacing.borrow_mut() = replacing,
        }
        committed
    }

    /// The check of [`Store::write_state_with`] on the `state` record it read (`stored`,
    /// `None` when there is none): `PROFILE_IN_USE` unless this store wrote it or it is still
    /// the one this store read.
    fn check_writer(&self, stored: Option<&JsValue>) -> Result<(), JsValue> {
        let stored = stored.map_or((0, None), writer_of);
        let ours = stored.1.as_deref() == Some(self.writer.as_str());
        if !ours && stored != *self.base.borrow() {
            return Err(sotto_error(
                ErrorCode::ProfileInUse,
                "another tab or window wrote this profile since it was opened here; \
                 this copy stopped",
            ));
        }
        Ok(())
    }

    /// Adds the sealed values' lengths of `records` to [`Store::bytes_written`].
    pub(super) fn count_written(&self, records: &[JsValue]) {
        self.add_written(sealed_len(records));
    }

    /// Adds `n` bytes to [`Store::bytes_written`].
    fn add_written(&self, n: u64) {
        self.written.set(self.written.get().saturating_add(n));
    }

    /// Bytes of sealed values this store has put into IndexedDB (by [`Store::write`] and
    /// [`Store::write_state_with`]) since it was opened: what the storage bench reports per
    /// received message.
    pub fn bytes_written(&self) -> u64 {
        self.written.get()
    }
}

/// The sealed values' lengths of `records`, summed (bytes).
fn sealed_len(records: &[JsValue]) -> u64 {
    records
        .iter()
        .map(|r| {
            get(r, "v")
                .dyn_into::<Uint8Array>()
                .map_or(0, |v| u64::from(v.length()))
        })
        .sum()
}

/// The contact a contact part names: its bytes 1..9 (version ‖ contact id, u64 big-endian ‖ …;
/// docs/PROTOCOL.md, "Client state (at rest)", "In parts"); `None` when it is too short.
pub fn part_contact(part: &[u8]) -> Option<ContactId> {
    part.get(1..9)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
}

/// The generation number on a stored `state` record.
fn generation_of(record: &JsValue) -> u64 {
    get(record, GENERATION).as_f64().unwrap_or(0.0) as u64
}

/// The generation number and writer id on a stored `state` record.
fn writer_of(record: &JsValue) -> (u64, Option<String>) {
    (generation_of(record), get(record, WRITER).as_string())
}
