//! The history of an `'indexeddb'` profile: new messages and files are queued and written,
//! sealed, with the client state in one transaction per pump; older ones are read back from
//! the [`Store`] page by page. Also what opening a saved profile restores.

use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use sotto_proto::client::{CORE_MARK, Client, ContactId};
use sotto_proto::mnemonic::Mnemonic;
use wasm_bindgen::JsValue;
use zeroize::Zeroizing;

use super::{Change, History, Pending, Rng, Seed, StateParts, Write, Written, ready};
use crate::error::{ErrorCode, sotto_error};
use crate::storage::{
    DIRECTORY_KEY, LOCAL_KEY, Local, MNEMONIC_KEY, MessageRecord, Status, Store, kind,
};

/// What a saved profile brings back when it is opened: its client, its bookkeeping, and the
/// messages whose downloads start again.
pub struct Restored {
    /// The client as it was last written.
    pub client: Client,
    /// Expiries and transfers; uploads that a reload cut are already marked failed.
    pub local: Local,
    /// Messages with a file still to download.
    pub resume: Vec<MessageRecord>,
    /// The text of the directory the profile kept (not verified: see
    /// `driver::directory::verify_kept`), read with the state; `None` when there is none or
    /// it cannot be read.
    pub kept_directory: Option<String>,
    /// The recovery phrase the profile keeps, read with the state; `None` when there is none
    /// or it cannot be read (then it has no relay snapshot).
    pub phrase: Option<Zeroizing<String>>,
}

/// Messages and files of a saved profile: queued here until the next write, then in the store.
pub struct IdbHistory {
    /// `None` once the profile is closed.
    store: Option<Rc<Store>>,
    /// The next message's local sequence number (orders a conversation in storage).
    seq: u64,
    /// Messages not yet written.
    unsaved: Vec<MessageRecord>,
    /// Files not yet written, by message id.
    unsaved_files: Vec<(String, Zeroizing<Vec<u8>>)>,
    /// Sealed records of a write that failed, written again by the next one.
    retry_records: Vec<JsValue>,
    /// What the store holds of each contact's part (see [`StateParts`]).
    written: Written,
    /// The writes taken so far (each [`Write`] is numbered by it).
    writes_taken: u64,
    /// For each contact whose record a write in flight puts, the number of the last such
    /// write: until that one ends, the contact's stored part stays unknown in `written`, even
    /// when an earlier write that put it commits.
    putting: HashMap<ContactId, u64>,
    /// The bookkeeping the store holds ([`Local::encode`]), as the last write left it; `None`
    /// when not known: no write from this page committed yet, the last one failed, or writes
    /// overlapped (`Sotto`'s own writes beside the pump's) since. A write taken with none in
    /// flight puts the `local` record only when it differs (issue 18: one request less per
    /// message, each costing the page and the browser a few tenths of a ms).
    local_stored: Option<Vec<u8>>,
    /// The writes taken and not yet ended.
    in_flight: u32,
    /// Writes were in flight together since `in_flight` was last 0.
    overlapped: bool,
}

impl IdbHistory {
    /// Opens (or creates) `profile`'s store; for a saved profile, also what it restores. A
    /// reload cut every upload: those messages are marked failed here, and written so.
    pub async fn open(
        profile: &str,
        passphrase: Option<&str>,
    ) -> Result<(IdbHistory, Option<Restored>), JsValue> {
        let store = Store::open(profile, passphrase).await?;
        crate::js::mark("idb:store");
        // The bookkeeping, the kept directory, the phrase, the state and the contact records
        // in one transaction (issue 18).
        let also = [
            (kind::LOCAL, LOCAL_KEY),
            (kind::DIRECTORY, DIRECTORY_KEY),
            (kind::MNEMONIC, MNEMONIC_KEY),
        ];
        let (read, stored) = if store.created {
            (Vec::new(), None)
        } else {
            store.read_state_parts_with(&also).await?
        };
        crate::js::mark("idb:read");
        let mut read = read.into_iter();
        let local_bytes = read.next().transpose()?.flatten();
        // Unreadable, these two are as if absent (as the open and the snapshot
        // root read them before).
        let kept_directory = read
            .next()
            .and_then(|r| r.ok().flatten())
            .and_then(|b| String::from_utf8(b.to_vec()).ok());
        let phrase = read
            .next()
            .and_then(|r| r.ok().flatten())
            .and_then(|b| Some(Zeroizing::new(std::str::from_utf8(&b).ok()?.to_owned())));
        let mut local = Local::default();
        let mut resume = Vec::new();
        if let Some(bytes) = local_bytes {
            local = Local::decode(&bytes).ok_or_else(damaged)?;
            sweep_expired(&store, &mut local).await?;
            // Downloads start again; uploads (whose transfer state is gone) failed. (One
            // loop, one await of `Store::message`: the wasm's size, issue 18.)
            let downloads = local.downloads.len();
            let ids: Vec<String> = (local.downloads.keys().cloned())
                .chain(std::mem::take(&mut local.uploads).into_keys())
                .collect();
            let mut records = Vec::new();
            for (i, id) in ids.iter().enumerate() {
                match store.message(id).await? {
                    Some(m) if i < downloads => resume.push(m),
                    Some(mut m) => {
                        m.status = Status::Failed;
                        records.push(store.message_record(&m));
                    }
                    None => {}
                }
            }
            if !records.is_empty() {
                records.push(store.record(kind::LOCAL, LOCAL_KEY, &local.encode(), None));
                store.write(records).await?;
            }
        }
        crate::js::mark("idb:local");
        let mut seq = 0;
        let mut restored = None;
        let mut written = Written::new();
        if let Some(stored) = stored {
            seq = stored
                .state
                .get(..8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(damaged)?;
            let body = stored.state.get(8..).unwrap_or_default();
            let client = if body.first() == Some(&CORE_MARK) {
                // The digests `from_parts` checked are those of the parts stored (each part
                // hashed once; issue 18).
                Client::from_parts_digested(body, stored.contacts.iter().map(|(_, p)| &p[..])).map(
                    |(client, digests)| {
                        written.extend(digests.into_iter().map(|(id, d)| (id, Some(d))));
                        client
                    },
                )
            } else {
                // Stored whole (before per-contact records): the first write splits it, and
                // rewrites (or deletes) any contact record found beside it.
                for (id, _) in &stored.contacts {
                    written.insert(*id, None);
                }
                Client::from_persisted(body)
            }
            .map_err(|e| sotto_error(ErrorCode::Storage, &format!("the stored profile: {e}")))?;
            crate::js::mark("idb:parts");
            restored = Some(Restored {
                client,
                local,
                resume,
                kept_directory,
                phrase,
            });
        }
        let history = IdbHistory {
            store: Some(Rc::new(store)),
            seq,
            unsaved: Vec::new(),
            unsaved_files: Vec::new(),
            retry_records: Vec::new(),
            written,
            writes_taken: 0,
            putting: HashMap::new(),
            local_stored: None,
            in_flight: 0,
            overlapped: false,
        };
        Ok((history, restored))
    }
}

impl IdbHistory {
    /// Writes a restored profile into `profile`'s store in one transaction (a saved one of
    /// that name, with `replace`, is cleared in the same transaction: [`Store::replacing`]),
    /// then opens it as a saved profile. A write that fails leaves what was there: the saved
    /// profile whole, or no database.
    pub async fn open_seeded(
        profile: &str,
        passphrase: Option<&str>,
        seed: Seed,
    ) -> Result<(IdbHistory, Option<Restored>), JsValue> {
        let saved = crate::storage::probe(profile).await?.is_some();
        if saved && !seed.replace {
            return Err(crate::error::sotto_error(
                crate::error::ErrorCode::ProfileExists,
                &format!(
                    "a profile named '{profile}' is saved here; pass replace: true to overwrite it"
                ),
            ));
        }
        // The store is used for this one write only, then closed.
        let written = async {
            let store = Store::replacing(profile, passphrase).await?;
            let local = seed.local();
            let mut records =
                vec![store.record(kind::MNEMONIC, MNEMONIC_KEY, seed.phrase.as_bytes(), None)];
            records.extend(seed.messages.iter().map(|m| store.message_record(m)));
            records.push(store.record(kind::LOCAL, LOCAL_KEY, &local.encode(), None));
            let parts = StateParts::whole(&store, seed.seq, &seed.client);
            let written = parts.write(&store, records).await;
            store.close();
            written
        };
        if let Err(e) = written.await {
            // Nothing half-made: a saved profile is as it was (the write aborted); a database
            // made for a new one (however far it got) goes again.
            if !saved {
                let _ = crate::storage::delete_database(&crate::storage::db_name(profile)).await;
            }
            return Err(e);
        }
        Self::open(profile, passphrase).await
    }
}

/// Deletes the disappearing messages whose time is up while the profile was closed (and their
/// files), and writes the bookkeeping without them: nothing expired is there to be read once
/// the profile is open. The closed page saw them already, so no `expired` event is due.
async fn sweep_expired(store: &Store, local: &mut Local) -> Result<(), JsValue> {
    let now = crate::js::now();
    let mut doomed = Vec::new();
    while let Some(first) = local.expiry.first() {
        if first.0 > now {
            break;
        }
        let Some((_, id, _)) = local.expiry.pop_first() else {
            break;
        };
        local.downloads.remove(&id);
        local.uploads.remove(&id);
        doomed.push(id);
    }
    if doomed.is_empty() {
        return Ok(());
    }
    let keys: Vec<(&str, &[u8])> = doomed
        .iter()
        .flat_map(|id| [(kind::MESSAGE, id.as_bytes()), (kind::FILE, id.as_bytes())])
        .collect();
    store.delete(&keys).await?;
    store
        .write(vec![store.record(
            kind::LOCAL,
            LOCAL_KEY,
            &local.encode(),
            None,
        )])
        .await
}

fn damaged() -> JsValue {
    sotto_error(ErrorCode::Storage, "the stored profile is damaged")
}

impl History for IdbHistory {
    fn keep(&mut self, mut m: MessageRecord) -> MessageRecord {
        m.seq = self.seq;
        self.seq += 1;
        self.unsaved.push(m.clone());
        m
    }

    fn keep_file(&mut self, id: &str, data: Zeroizing<Vec<u8>>) {
        self.unsaved_files.push((id.to_owned(), data));
    }

    fn update(&mut self, id: &str, change: Change) {
        if let Some(m) = self.unsaved.iter_mut().find(|m| m.id == id) {
            change(m);
            return;
        }
        if let Some(store) = self.store.clone() {
            let id = id.to_owned();
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(Some(mut m)) = store.message(&id).await {
                    change(&mut m);
                    let _ = store.write(vec![store.message_record(&m)]).await;
                }
            });
        }
    }

    fn add_contact(&mut self, _contact: ContactId) {}

    fn has_conversation(&self, client: &Client, contact: ContactId) -> bool {
        client.contacts().any(|(id, _)| id == contact)
    }

    fn page(
        &self,
        contact: ContactId,
        limit: usize,
        before: Option<String>,
    ) -> Pending<Vec<MessageRecord>> {
        let Some(store) = self.store.clone() else {
            return ready(Vec::new());
        };
        Box::pin(async move {
            // `before` is a message id: the page ends just before it (an unknown id gives an
            // empty page).
            let before_seq = match before {
                Some(id) => match store.message_seq(&id).await? {
                    Some(seq) => Some(seq),
                    None => return Ok(Vec::new()),
                },
                None => None,
            };
            let limit = u32::try_from(limit).unwrap_or(u32::MAX);
            store.messages(contact, limit, before_seq).await
        })
    }

    fn file(&self, id: &str) -> Pending<Option<(String, Zeroizing<Vec<u8>>)>> {
        let Some(store) = self.store.clone() else {
            return ready(None);
        };
        let pending = self
            .unsaved_files
            .iter()
            .find(|(f, _)| f == id)
            .map(|(_, d)| Zeroizing::new(d.to_vec()));
        let id = id.to_owned();
        Box::pin(async move {
            let Some(m) = store.message(&id).await? else {
                return Ok(None);
            };
            let Some(f) = m.file else {
                return Ok(None);
            };
            let data = match pending {
                Some(d) => Some(d),
                None => store.read(kind::FILE, id.as_bytes()).await?,
            };
            Ok(data.map(|d| (f.attachment.mime, d)))
        })
    }

    fn expire(&mut self, ids: &BTreeSet<&String>) {
        self.unsaved.retain(|m| !ids.contains(&m.id));
        self.unsaved_files.retain(|(id, _)| !ids.contains(id));
        if let Some(store) = self.store.clone() {
            let doomed: Vec<String> = ids.iter().map(|s| (*s).clone()).collect();
            wasm_bindgen_futures::spawn_local(async move {
                let keys: Vec<(&str, &[u8])> = doomed
                    .iter()
                    .flat_map(|id| [(kind::MESSAGE, id.as_bytes()), (kind::FILE, id.as_bytes())])
                    .collect();
                let _ = store.delete(&keys).await;
            });
        }
    }

    fn seq(&self) -> u64 {
        self.seq
    }

    fn dirty(&self) -> bool {
        !self.unsaved.is_empty() || !self.unsaved_files.is_empty() || !self.retry_records.is_empty()
    }

    fn take_write(&mut self, local: &Local, client: &mut Client) -> Option<Write> {
        let store = self.store.clone()?;
        let mut records = std::mem::take(&mut self.retry_records);
        let unsaved = std::mem::take(&mut self.unsaved);
        records.extend(unsaved.iter().map(|m| store.message_record(m)));
        let files = std::mem::take(&mut self.unsaved_files);
        records.extend(
            files
                .iter()
                .map(|(id, data)| store.record(kind::FILE, id.as_bytes(), data, None)),
        );
        let local = local.encode();
        if self.in_flight > 0 || self.local_stored.as_ref() != Some(&local) {
            records.push(store.record(kind::LOCAL, LOCAL_KEY, &local, None));
        }
        // Writes in flight together: what the store holds after them is not known here (the
        // order of their commits is IndexedDB's).
        if self.in_flight > 0 {
            self.local_stored = None;
            self.overlapped = true;
        }
        self.in_flight += 1;
        let parts = StateParts::new(&store, self.seq, client, &self.written);
        parts.taken(&mut self.written);
        self.writes_taken += 1;
        let number = self.writes_taken;
        for id in parts.puts() {
            self.putting.insert(id, number);
        }
        Some(Write {
            store,
            records,
            parts,
            number,
            local,
        })
    }

    fn write_done(&mut self, write: Write, committed: bool) {
        let Write {
            records,
            mut parts,
            number,
            local,
            ..
        } = write;
        // Known only from a write that committed alone: with none beside it since the last
        // time none was in flight, it put `local` or found it there.
        self.in_flight = self.in_flight.saturating_sub(1);
        let alone = self.in_flight == 0 && !std::mem::take(&mut self.overlapped);
        self.local_stored = (committed && alone).then_some(local);
        // A contact a later write also puts (its part may have changed in between) stays
        // unknown until that write ends: were this commit to record it, the client would
        // leave its part out of the next writes while the later one may still fail.
        let putting = &mut self.putting;
        parts.retain_puts(|id| {
            let last = putting.get(&id) == Some(&number);
            if last {
                putting.remove(&id);
            }
            last
        });
        if committed {
            parts.commit(&mut self.written);
        } else {
            let mut records = records;
            records.append(&mut self.retry_records);
            self.retry_records = records;
        }
    }

    fn start_profile(&self, client: &Client, rng: &mut Rng) -> Pending<()> {
        let Some(store) = self.store.clone() else {
            return ready(());
        };
        // A new profile: its recovery phrase and first state, before anything is sent.
        let mnemonic = Mnemonic::generate(rng);
        let phrase = mnemonic.phrase();
        let records = vec![store.record(kind::MNEMONIC, MNEMONIC_KEY, phrase.as_bytes(), None)];
        // A new client has no contact yet: the core is the whole state.
        let parts = StateParts::whole(&store, 0, client);
        Box::pin(async move { parts.write(&store, records).await })
    }

    fn store(&self) -> Option<Rc<Store>> {
        self.store.clone()
    }

    fn take_store(&mut self) -> Option<Rc<Store>> {
        self.store.take()
    }
}
