//! Message history behind one trait: where a profile's messages and files are kept, and how
//! (and whether) they and the client state are written before the driver sends anything.
//!
//! Two implementations: [`memory::MemoryHistory`] for a `'memory'` profile (everything in
//! this page, nothing written) and [`idb::IdbHistory`] for an `'indexeddb'` profile (queued
//! and written in one sealed transaction per pump, through [`crate::storage::Store`]). The
//! driver only talks to [`History`], so it has no memory-versus-IndexedDB branches.

pub mod idb;
pub mod memory;

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use sotto_proto::client::{Client, ContactId, PartDigest, PersistedParts};
use wasm_bindgen::JsValue;
use zeroize::Zeroizing;

use crate::storage::{Local, MessageRecord, Store};

/// The randomness the drivers hand the core: the browser's CSPRNG.
pub type Rng = rand_core::UnwrapErr<getrandom::SysRng>;

/// A result that may need IndexedDB to arrive (a ready one for memory).
pub type Pending<T> = Pin<Box<dyn Future<Output = Result<T, JsValue>>>>;

/// A result at hand, as a [`Pending`].
pub fn ready<T: 'static>(v: T) -> Pending<T> {
    Box::pin(std::future::ready(Ok(v)))
}

/// A change made to a kept message (its status, its file's readiness).
pub type Change = Box<dyn FnOnce(&mut MessageRecord)>;

/// One write of everything not yet stored, made by [`History::take_write`]: the queued
/// records, the contact records whose part changed, the contacts whose records go, then the
/// sealed client state (its core). The driver awaits it before it sends the frames (and their
/// Acks) that the state reflects, then hands it back ([`History::write_done`]).
pub struct Write {
    store: Rc<Store>,
    records: Vec<JsValue>,
    parts: StateParts,
    /// Its number among the writes taken (the history's count when it was taken).
    number: u64,
    /// The bookkeeping as it was when the write was taken ([`Local::encode`]): what the store
    /// holds once it commits (put by it, or already there).
    local: Vec<u8>,
}

/// The client state as one write stores it: the `state` record's plaintext (message counter ‖
/// the client's core part), the contact records to put, the contacts whose records to delete,
/// and the digests of the parts put (what the store holds once the write commits).
pub struct StateParts {
    state: Zeroizing<Vec<u8>>,
    contacts: Vec<JsValue>,
    removed: Vec<ContactId>,
    digests: Vec<(ContactId, PartDigest)>,
}

/// What the store holds of each contact's part: its digest
/// ([`sotto_proto::client::part_digest`]; a write puts a contact record only when the part's
/// digest differs), or `None` for a record whose bytes are not known to match (written by an
/// older layout: rewritten by the next write). Digests of sealed-away state, compared to
/// decide what to write: nothing is decided from them that an observer of the writes does not
/// see.
pub type Written = HashMap<ContactId, Option<PartDigest>>;

impl StateParts {
    /// `client`'s state for `store`, where the store holds `written`: the core with the
    /// message counter `seq`, a record for each contact whose part is not the one stored, and
    /// the contacts stored but gone from the client. Only the parts of contacts the client
    /// marked changed since its last write, and of those `written` does not know, are made
    /// ([`Client::to_changed_parts`]); of those, only the ones whose digest differs from the
    /// stored one are put.
    pub fn new(store: &Store, seq: u64, client: &mut Client, written: &Written) -> StateParts {
        let unknown: Vec<ContactId> = written
            .iter()
            .filter(|(_, digest)| digest.is_none())
            .map(|(id, _)| *id)
            .collect();
        let parts = client.to_changed_parts(unknown);
        // The contacts stored but gone: a look up in the client's contacts for each.
        let removed = written
            .keys()
            .filter(|id| !client.has_part(**id))
            .copied()
            .collect();
        StateParts::of(store, seq, &parts, written, removed)
    }

    /// `client`'s whole state for a store that holds none of it yet (a new or restored
    /// profile's first write): the core and every contact's part ([`Client::to_parts`]).
    pub fn whole(store: &Store, seq: u64, client: &Client) -> StateParts {
        StateParts::of(store, seq, &client.to_parts(), &Written::new(), Vec::new())
    }

    /// The core of `parts` with `seq`, a record for each of its contact parts whose digest
    /// is not the one `written` holds, and `removed`.
    fn of(
        store: &Store,
        seq: u64,
        parts: &PersistedParts,
        written: &Written,
        removed: Vec<ContactId>,
    ) -> StateParts {
        let mut state = Zeroizing::new(seq.to_be_bytes().to_vec());
        state.extend_from_slice(parts.core.as_bytes());
        let mut contacts = Vec::new();
        let mut digests = Vec::new();
        for c in &parts.contacts {
            // Always a record: every part `to_parts` makes names its contact (else nothing
            // is counted as written, and the next write tries again).
            if written.get(&c.id) != Some(&Some(c.digest))
                && let Some(record) = store.contact_record(c.part.as_bytes())
            {
                contacts.push(record);
                digests.push((c.id, c.digest));
            }
        }
        StateParts {
            state,
            contacts,
            removed,
            digests,
        }
    }

    /// This write is taken and may reach the store (even when it seems to fail): until it
    /// commits, the contacts whose records it puts count as stored with bytes not known, so
    /// a write taken meanwhile deletes their records if their contacts are gone by then (else
    /// the store would keep a record its core does not count), and puts them again otherwise.
    pub fn taken(&self, written: &mut Written) {
        for (id, _) in &self.digests {
            written.insert(*id, None);
        }
    }

    /// The contacts whose records this write puts.
    pub fn puts(&self) -> impl Iterator<Item = ContactId> + '_ {
        self.digests.iter().map(|(id, _)| *id)
    }

    /// Keeps, of the contacts whose records this write puts, only those `keep` says
    /// [`StateParts::commit`] records as stored (the others stay unknown in [`Written`]).
    pub fn retain_puts(&mut self, mut keep: impl FnMut(ContactId) -> bool) {
        self.digests.retain(|(id, _)| keep(*id));
    }

    /// Writes these parts and `records` in one transaction ([`Store::write_state_with`]).
    pub async fn write(&self, store: &Store, records: Vec<JsValue>) -> Result<(), JsValue> {
        let mut all = records;
        all.extend(self.contacts.iter().cloned());
        store
            .write_state_with(all, &self.removed, &self.state)
            .await
    }

    /// What the store holds once this write committed, after `written`.
    pub fn commit(self, written: &mut Written) {
        for id in &self.removed {
            written.remove(id);
        }
        for (id, digest) in self.digests {
            written.insert(id, Some(digest));
        }
    }
}

impl Write {
    /// Writes the records and the state in one transaction, waiting for the commit
    /// ([`Store::write_state_with`]: `PROFILE_IN_USE` when another writer stored a newer
    /// state).
    pub async fn run(&self) -> Result<(), JsValue> {
        self.parts.write(&self.store, self.records.clone()).await
    }
}

/// Where a profile's messages and their files are kept.
pub trait History {
    /// Keeps a new message (giving it its local sequence number where it has one) and hands
    /// back what was kept.
    fn keep(&mut self, m: MessageRecord) -> MessageRecord;

    /// Keeps a file's bytes for its message.
    fn keep_file(&mut self, id: &str, data: Zeroizing<Vec<u8>>);

    /// Changes a kept message: at once where it is still in memory (or queued), else read,
    /// changed and written back on its own.
    fn update(&mut self, id: &str, change: Change);

    /// A contact was added: its conversation exists from now on (even without messages).
    fn add_contact(&mut self, contact: ContactId);

    /// Whether `contact` has a conversation to page through (`client` knows the contacts).
    fn has_conversation(&self, client: &Client, contact: ContactId) -> bool;

    /// The newest `limit` messages with `contact`, oldest first, ending just before the
    /// message `before` (an unknown id gives an empty page, a missing one the newest page).
    fn page(
        &self,
        contact: ContactId,
        limit: usize,
        before: Option<String>,
    ) -> Pending<Vec<MessageRecord>>;

    /// The file of message `id` and its MIME type, when it is kept here.
    fn file(&self, id: &str) -> Pending<Option<(String, Zeroizing<Vec<u8>>)>>;

    /// Forgets the messages `ids` and their files (disappearing messages whose time is up).
    fn expire(&mut self, ids: &BTreeSet<&String>);

    /// The next message's local sequence number (written in front of the client state).
    fn seq(&self) -> u64;

    /// Something is queued for the next write.
    fn dirty(&self) -> bool;

    /// Everything queued, the bookkeeping `local` (unless the store holds it as it is) and
    /// the sealed client state as one write; `None` where nothing is ever written ('memory').
    fn take_write(&mut self, local: &Local, client: &mut Client) -> Option<Write>;

    /// A write from [`History::take_write`] ended: when it committed, the contact parts it
    /// put are what the store holds (but for those a later write in flight puts too: they
    /// stay unknown until it ends); when it failed, its records go in front of the next
    /// write (and its contact parts, still unknown to the store, are put by the next one).
    fn write_done(&mut self, write: Write, committed: bool);

    /// A new profile is starting: keeps its recovery phrase (made from `rng`) and its first
    /// client state, before anything is sent. Nothing to do for 'memory'.
    fn start_profile(&self, client: &Client, rng: &mut Rng) -> Pending<()>;

    /// The profile's store, for what only a saved profile has (recovery phrase, backups);
    /// `None` for 'memory' or once closed.
    fn store(&self) -> Option<Rc<Store>>;

    /// Lets go of the store (closing the profile): writes stop; the caller closes or wipes it.
    fn take_store(&mut self) -> Option<Rc<Store>>;
}

/// A profile restored from its recovery phrase and backup (`Sotto.restore`), checked and
/// ready to keep: the client (already `Client::restored`), the phrase, the next message
/// sequence number, and the messages that have not expired.
pub struct Seed {
    pub client: Client,
    pub phrase: Zeroizing<String>,
    pub seq: u64,
    pub messages: Vec<MessageRecord>,
    /// The relay snapshot's next slot (period, slot): after the version a restore from the
    /// words found; `None` after a restore from a file (then the slots the old device used
    /// are skipped as the relay answers `Duplicate`).
    pub snapshot: Option<(u64, u32)>,
    /// `replace: true` was given: a saved profile of that name may be overwritten. Without it
    /// the check is made again under the profile's lock, just before writing (one may have
    /// been saved during a restore's search).
    pub replace: bool,
}

impl Seed {
    /// Expiries of the seed's disappearing messages, as [`Local`] keeps them.
    pub fn local(&self) -> Local {
        let mut local = Local {
            snapshot: self.snapshot,
            ..Local::default()
        };
        for m in &self.messages {
            if let Some(at) = m.expires_at {
                local.expiry.insert((at, m.id.clone(), m.contact));
            }
        }
        local
    }
}

/// The whole-state bytes (for backups and relay snapshots, which carry the whole client):
/// sequence counter (u64) ‖ the persisted client.
pub fn state_bytes(seq: u64, client: &Client) -> Zeroizing<Vec<u8>> {
    let mut bytes = Zeroizing::new(seq.to_be_bytes().to_vec());
    bytes.extend_from_slice(client.to_persisted().as_bytes());
    bytes
}

#[cfg(all(test, target_arch = "wasm32"))]
#[path = "parts_tests.rs"]
mod parts_tests;
