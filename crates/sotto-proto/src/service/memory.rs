//! [`MemoryStore`]: the [`QueueStore`] kept in memory.

use std::collections::{BTreeMap, VecDeque};

use super::{QueueRecord, QueueStore, StoredMessage, Swept};
use crate::ids::QueueId;
use crate::keys::AuthPublicKey;
use crate::queue::{BlobId, QueueMessageId};

/// An in-memory [`QueueStore`]: for tests, the simulation, and relays run with `--ephemeral`
/// semantics where nothing needs to outlive the process.
#[derive(Default, Debug, Clone)]
pub struct MemoryStore {
    queues: BTreeMap<QueueId, QueueRecord>,
    by_sender: BTreeMap<QueueId, QueueId>,
    messages: BTreeMap<QueueId, VecDeque<StoredMessage>>,
    blobs: BTreeMap<(BlobId, u32), (Vec<u8>, u64)>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Messages stored across all queues.
    pub fn total_messages(&self) -> usize {
        self.messages.values().map(VecDeque::len).sum()
    }
}

impl QueueStore for MemoryStore {
    type Error = core::convert::Infallible;

    fn insert_queue(&mut self, queue: &QueueRecord) -> Result<(), Self::Error> {
        self.by_sender.insert(queue.sender_id, queue.recipient_id);
        self.queues.insert(queue.recipient_id, queue.clone());
        Ok(())
    }

    fn queue(&self, recipient_id: &QueueId) -> Result<Option<QueueRecord>, Self::Error> {
        Ok(self.queues.get(recipient_id).cloned())
    }

    fn recipient_for_sender(&self, sender_id: &QueueId) -> Result<Option<QueueId>, Self::Error> {
        Ok(self.by_sender.get(sender_id).copied())
    }

    fn set_sender_key(
        &mut self,
        recipient_id: &QueueId,
        key: &AuthPublicKey,
    ) -> Result<(), Self::Error> {
        if let Some(q) = self.queues.get_mut(recipient_id) {
            q.sender_key = Some(*key);
        }
        Ok(())
    }

    fn delete_queue(&mut self, recipient_id: &QueueId) -> Result<(), Self::Error> {
        if let Some(q) = self.queues.remove(recipient_id) {
            self.by_sender.remove(&q.sender_id);
        }
        self.messages.remove(recipient_id);
        Ok(())
    }

    fn push_message(
        &mut self,
        recipient_id: &QueueId,
        message: &StoredMessage,
    ) -> Result<(), Self::Error> {
        self.messages
            .entry(*recipient_id)
            .or_default()
            .push_back(message.clone());
        Ok(())
    }

    fn message_count(&self, recipient_id: &QueueId) -> Result<usize, Self::Error> {
        Ok(self.messages.get(recipient_id).map_or(0, VecDeque::len))
    }

    fn oldest_message(&self, recipient_id: &QueueId) -> Result<Option<StoredMessage>, Self::Error> {
        Ok(self
            .messages
            .get(recipient_id)
            .and_then(|m| m.front().cloned()))
    }

    fn remove_message(
        &mut self,
        recipient_id: &QueueId,
        message_id: &QueueMessageId,
    ) -> Result<bool, Self::Error> {
        let Some(messages) = self.messages.get_mut(recipient_id) else {
            return Ok(false);
        };
        let before = messages.len();
        messages.retain(|m| m.id != *message_id);
        Ok(messages.len() != before)
    }

    fn blob_chunk_count(&self, blob: &BlobId) -> Result<u32, Self::Error> {
        let n = self.blobs.range((*blob, 0)..=(*blob, u32::MAX)).count();
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn put_blob_chunk(
        &mut self,
        blob: &BlobId,
        index: u32,
        data: &[u8],
        expires_at: u64,
    ) -> Result<(), Self::Error> {
        self.blobs
            .insert((*blob, index), (data.to_vec(), expires_at));
        Ok(())
    }

    fn blob_chunk(&self, blob: &BlobId, index: u32) -> Result<Option<Vec<u8>>, Self::Error> {
        Ok(self.blobs.get(&(*blob, index)).map(|(d, _)| d.clone()))
    }

    fn sweep(&mut self, now: u64, messages_before: u64) -> Result<Swept, Self::Error> {
        let mut swept = Swept::default();
        for messages in self.messages.values_mut() {
            let before = messages.len();
            messages.retain(|m| m.received_at >= messages_before);
            swept.messages += before - messages.len();
        }
        let before = self.blobs.len();
        self.blobs.retain(|_, (_, expires_at)| *expires_at > now);
        swept.blob_chunks = before - self.blobs.len();
        Ok(swept)
    }
}
