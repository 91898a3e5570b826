//! Message history behind one trait: where a profile's messages and files are kept, and how
//! (and whether) they and the client state are written before the driver sends anything.
//!
//! Two implementations: [`memory::MemoryHistory`] for a `'memory'` profile (everything in
//! this page, nothing written) and [`idb::IdbHistory`] for an `'indexeddb'` profile (queued
//! and written in one sealed transaction per pump, through [`crate::storage::Store`]). The
//! driver only talks to [`History`], so it has no memory-versus-IndexedDB branches.

pub mod idb;
pub mod memory;

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use sotto_proto::client::{Client, ContactId};
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
/// records, then the sealed client state. The driver awaits it before it sends the frames
/// (and their Acks) that the state reflects.
pub struct Write {
    store: Rc<Store>,
    records: Vec<JsValue>,
    state: Zeroizing<Vec<u8>>,
}

impl Write {
    /// Writes the records and the state in one transaction, waiting for the commit
    /// ([`Store::write_state`]: `PROFILE_IN_USE` when another writer stored a newer state).
    pub async fn run(&self) -> Result<(), JsValue> {
        self.store
            .write_state(self.records.clone(), &self.state)
            .await
    }

    /// The records (without the state, which the next write renews), to be written again
    /// after a failure: see [`History::write_failed`].
    pub fn into_records(self) -> Vec<JsValue> {
        self.records
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

    /// Everything queued, the bookkeeping `local` and the sealed client state as one write;
    /// `None` where nothing is ever written ('memory').
    fn take_write(&mut self, local: &Local, client: &Client) -> Option<Write>;

    /// A write failed: its records go in front of the next one.
    fn write_failed(&mut self, records: Vec<JsValue>);

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

/// The sealed-state bytes: sequence counter (u64) ‖ the persisted client.
pub fn state_bytes(seq: u64, client: &Client) -> Zeroizing<Vec<u8>> {
    let mut bytes = Zeroizing::new(seq.to_be_bytes().to_vec());
    bytes.extend_from_slice(client.to_persisted().as_bytes());
    bytes
}
