//! [`MemoryStore`]: the [`QueueStore`] kept in memory.

use std::collections::{BTreeMap, VecDeque};

use super::{MovedRecord, QueueRecord, QueueStore, StoredMessage, Swept, Usage};
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
    moved: BTreeMap<QueueId, Vec<MovedRecord>>,
    usage: Usage,
}

fn len64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn body_bytes<'a>(messages: impl IntoIterator<Item = &'a StoredMessage>) -> u64 {
    messages
        .into_iter()
        .map(|m| len64(m.body.len()))
        .fold(0, u64::saturating_add)
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
        if self
            .queues
            .insert(queue.recipient_id, queue.clone())
            .is_none()
        {
            self.usage.queues += 1;
        }
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
            self.usage.queues = self.usage.queues.saturating_sub(1);
        }
        self.moved.remove(recipient_id);
        if let Some(gone) = self.messages.remove(recipient_id) {
            let u = &mut self.usage;
            u.messages = u.messages.saturating_sub(len64(gone.len()));
            u.message_bytes = u.message_bytes.saturating_sub(body_bytes(&gone));
        }
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
        self.usage.messages += 1;
        self.usage.message_bytes = self
            .usage
            .message_bytes
            .saturating_add(len64(message.body.len()));
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
        let Some(at) = messages.iter().position(|m| m.id == *message_id) else {
            return Ok(false);
        };
        if let Some(m) = messages.remove(at) {
            let u = &mut self.usage;
            u.messages = u.messages.saturating_sub(1);
            u.message_bytes = u.message_bytes.saturating_sub(len64(m.body.len()));
        }
        Ok(true)
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
        if self
            .blobs
            .insert((*blob, index), (data.to_vec(), expires_at))
            .is_none()
        {
            self.usage.blob_chunks += 1;
        }
        Ok(())
    }

    fn blob_chunk(&self, blob: &BlobId, index: u32) -> Result<Option<Vec<u8>>, Self::Error> {
        Ok(self.blobs.get(&(*blob, index)).map(|(d, _)| d.clone()))
    }

    fn sweep(&mut self, now: u64, messages_before: u64) -> Result<Swept, Self::Error> {
        let mut swept = Swept::default();
        let mut bytes = 0u64;
        for messages in self.messages.values_mut() {
            let before = messages.len();
            messages.retain(|m| {
                let keep = m.received_at >= messages_before;
                if !keep {
                    bytes = bytes.saturating_add(len64(m.body.len()));
                }
                keep
            });
            swept.messages += before - messages.len();
        }
        let before = self.blobs.len();
        self.blobs.retain(|_, (_, expires_at)| *expires_at > now);
        swept.blob_chunks = before - self.blobs.len();
        let u = &mut self.usage;
        u.messages = u.messages.saturating_sub(len64(swept.messages));
        u.message_bytes = u.message_bytes.saturating_sub(bytes);
        u.blob_chunks = u.blob_chunks.saturating_sub(len64(swept.blob_chunks));
        Ok(swept)
    }

    fn rekey(&mut self, recipient_id: &QueueId, moved: &MovedRecord) -> Result<(), Self::Error> {
        if let Some(q) = self.queues.get_mut(recipient_id) {
            q.recipient_key = moved.new_recipient_key;
            super::keep_moved(self.moved.entry(*recipient_id).or_default(), moved);
        }
        Ok(())
    }

    fn moved(&self, recipient_id: &QueueId) -> Result<Vec<MovedRecord>, Self::Error> {
        Ok(self.moved.get(recipient_id).cloned().unwrap_or_default())
    }

    fn usage(&self) -> Usage {
        self.usage
    }
}
