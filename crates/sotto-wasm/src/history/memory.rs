//! The history of a `'memory'` profile: every conversation and file in this page, gone when it
//! closes. Nothing is written.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use sotto_proto::client::{Client, ContactId};
use zeroize::Zeroizing;

use super::idb::Restored;
use super::{Change, History, Pending, Rng, Seed, Write, ready};
use crate::storage::{Local, MessageRecord, Store};

/// Messages by conversation and files by message id, in memory.
#[derive(Default)]
pub struct MemoryHistory {
    history: BTreeMap<ContactId, Vec<MessageRecord>>,
    files: HashMap<String, Vec<u8>>,
}

impl MemoryHistory {
    /// A history holding a restored profile's messages, and the profile to open.
    pub fn seeded(seed: Seed) -> (MemoryHistory, Restored) {
        let local = seed.local();
        let mut history = MemoryHistory::default();
        for contact in seed.client.contact_ids() {
            history.add_contact(contact);
        }
        for m in seed.messages {
            history.keep(m);
        }
        let restored = Restored {
            client: seed.client,
            local,
            resume: Vec::new(),
            kept_directory: None,
            phrase: None,
        };
        (history, restored)
    }
}

impl History for MemoryHistory {
    fn keep(&mut self, m: MessageRecord) -> MessageRecord {
        self.history.entry(m.contact).or_default().push(m.clone());
        m
    }

    fn keep_file(&mut self, id: &str, data: Zeroizing<Vec<u8>>) {
        self.files.insert(id.to_owned(), data.to_vec());
    }

    fn update(&mut self, id: &str, change: Change) {
        if let Some(m) = self.history.values_mut().flatten().find(|m| m.id == id) {
            change(m);
        }
    }

    fn add_contact(&mut self, contact: ContactId) {
        self.history.entry(contact).or_default();
    }

    fn has_conversation(&self, _client: &Client, contact: ContactId) -> bool {
        self.history.contains_key(&contact)
    }

    fn page(
        &self,
        contact: ContactId,
        limit: usize,
        before: Option<String>,
    ) -> Pending<Vec<MessageRecord>> {
        let history = self
            .history
            .get(&contact)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let end = match &before {
            Some(id) => history.iter().position(|m| m.id == *id).unwrap_or(0),
            None => history.len(),
        };
        let start = end.saturating_sub(limit);
        ready(history.get(start..end).unwrap_or_default().to_vec())
    }

    fn file(&self, id: &str) -> Pending<Option<(String, Zeroizing<Vec<u8>>)>> {
        let mime = self
            .history
            .values()
            .flatten()
            .find(|m| m.id == id)
            .and_then(|m| m.file.as_ref())
            .map(|f| f.attachment.mime.clone());
        ready(match (mime, self.files.get(id)) {
            (Some(mime), Some(data)) => Some((mime, Zeroizing::new(data.clone()))),
            _ => None,
        })
    }

    fn expire(&mut self, ids: &BTreeSet<&String>) {
        for list in self.history.values_mut() {
            list.retain(|m| !ids.contains(&m.id));
        }
        self.files.retain(|id, _| !ids.contains(id));
    }

    fn seq(&self) -> u64 {
        0
    }

    fn dirty(&self) -> bool {
        false
    }

    fn take_write(&mut self, _local: &Local, _client: &mut Client) -> Option<Write> {
        None
    }

    fn write_done(&mut self, _write: Write, _committed: bool) {}

    fn start_profile(&self, _client: &Client, _rng: &mut Rng) -> Pending<()> {
        ready(())
    }

    fn store(&self) -> Option<Rc<Store>> {
        None
    }

    fn take_store(&mut self) -> Option<Rc<Store>> {
        None
    }
}
