//! The relay's durable queue store: `sotto_proto::service::QueueStore` over redb.
//!
//! **Group commit.** The relay's state machine opens one write transaction for a whole batch
//! of frames ([`RedbStore::begin_batch`]): every call of that batch, reads included, goes
//! through it (so a request sees the writes of the requests before it), and
//! [`RedbStore::commit_batch`] commits it once with `Durability::Immediate` (one fsync for the
//! batch). The state machine holds back every answer that depends on the batch's writes until
//! that commit returned, so an acknowledged message still survives a crash (SIGKILL, power loss
//! after the fsync). Outside a batch every mutating call is its own synced transaction.
//!
//! Tables (all keys and values are byte strings; integers are big-endian so that byte order
//! is numeric order):
//!
//! | table | key | value |
//! |---|---|---|
//! | `queues` | recipient id (16) | sender id (16) · recipient key (32) · has sender key (1) · sender key (32) · created at (8) |
//! | `senders` | sender id (16) | recipient id (16) |
//! | `messages` | recipient id (16) · sequence (8) | message id (16) · received at (8) · body |
//! | `message_ids` | recipient id (16) · message id (16) | sequence (8) |
//! | `message_expiry` | received at (8) · recipient id (16) · sequence (8) | — |
//! | `blobs` | blob id (16) · chunk index (4) | expires at (8) · data |
//! | `blob_expiry` | expires at (8) · blob id (16) · chunk index (4) | — |
//! | `meta` | `"next_seq"` | next message sequence number (8) |
//! | `moved` | recipient id (16) | up to 8 (`MOVED_KEPT`) records, oldest first, each: previous recipient key (32) · new recipient key (32) · moved signature (64) |
//!
//! The sequence number is relay-wide and only grows, so a queue's messages come out of
//! `messages` oldest first.
//!
//! **Usage.** The totals the service's relay-wide limits need ([`Usage`]) are counted in memory:
//! read from the tables when the store opens (the message bytes by one scan of `messages`), then
//! updated by every write. A batch that is aborted puts back the counts it started with.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use sotto_proto::ids::QueueId;
use sotto_proto::keys::AuthPublicKey;
use sotto_proto::queue::{BlobId, QueueMessageId};
use sotto_proto::service::{MovedRecord, QueueRecord, QueueStore, StoredMessage, Swept, Usage};

use crate::metrics::Histogram;

mod error;
mod records;

pub use error::StoreError;
use error::err;

use records::{cat, decode_message, decode_queue, encode_queue, leading_u64, queue_range};

type Bytes = &'static [u8];
const QUEUES: TableDefinition<Bytes, Bytes> = TableDefinition::new("queues");
const SENDERS: TableDefinition<Bytes, Bytes> = TableDefinition::new("senders");
const MESSAGES: TableDefinition<Bytes, Bytes> = TableDefinition::new("messages");
const MESSAGE_IDS: TableDefinition<Bytes, Bytes> = TableDefinition::new("message_ids");
const MESSAGE_EXPIRY: TableDefinition<Bytes, Bytes> = TableDefinition::new("message_expiry");
const BLOBS: TableDefinition<Bytes, Bytes> = TableDefinition::new("blobs");
const BLOB_EXPIRY: TableDefinition<Bytes, Bytes> = TableDefinition::new("blob_expiry");
const META: TableDefinition<Bytes, Bytes> = TableDefinition::new("meta");
const MOVED: TableDefinition<Bytes, Bytes> = TableDefinition::new("moved");
const NEXT_SEQ: &[u8] = b"next_seq";

/// At most this many expired entries are removed per sweep call, so one sweep never holds the
/// store for long; the next tick continues.
const SWEEP_BATCH: usize = 10_000;

/// The redb-backed queue store of one relay.
pub struct RedbStore {
    path: PathBuf,
    db: Database,
    commit_time: Arc<Histogram>,
    batch: Option<Batch>,
    /// Store calls so far (reads and writes), so the driver can tell whether a frame used the
    /// store at all.
    calls: Cell<u64>,
    /// What the store holds, including the open batch's writes.
    usage: Usage,
}

/// An open group-commit transaction.
struct Batch {
    tx: redb::WriteTransaction,
    /// Something was written (the commit needs an fsync, and answers must wait for it).
    dirty: bool,
    /// A write failed half-way: the batch is aborted instead of committed.
    failed: bool,
    /// The usage before the batch, put back if it is aborted.
    usage_before: Usage,
}

/// Runs `$body` with `$t` bound to table `$def`, read through the open batch if there is one
/// (so reads see the batch's own writes), else through a fresh read transaction.
macro_rules! with_table {
    ($self:ident, $def:expr, |$t:ident| $body:expr) => {{
        $self.calls.set($self.calls.get() + 1);
        match &$self.batch {
            Some(batch) => {
                let $t = batch.tx.open_table($def).map_err(err)?;
                $body
            }
            None => {
                let tx = $self.db.begin_read().map_err(err)?;
                let $t = tx.open_table($def).map_err(err)?;
                $body
            }
        }
    }};
}

mod moved;

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl RedbStore {
    /// Opens (or creates) the store file. Fails if another process has it open.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(err)?;
        let tx = db.begin_write().map_err(err)?;
        for def in [
            QUEUES,
            SENDERS,
            MESSAGES,
            MESSAGE_IDS,
            MESSAGE_EXPIRY,
            BLOBS,
            BLOB_EXPIRY,
            META,
            MOVED,
        ] {
            tx.open_table(def).map_err(err)?;
        }
        tx.commit().map_err(err)?;
        let usage = count_usage(&db)?;
        Ok(Self {
            path: path.to_path_buf(),
            db,
            commit_time: Arc::default(),
            batch: None,
            calls: Cell::new(0),
            usage,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The histogram of write-transaction times (begin to durable commit).
    pub fn commit_histogram(&self) -> Arc<Histogram> {
        self.commit_time.clone()
    }

    /// Opens the group-commit transaction (no-op if one is open).
    pub fn begin_batch(&mut self) -> Result<(), StoreError> {
        if self.batch.is_none() {
            let mut tx = self.db.begin_write().map_err(err)?;
            tx.set_durability(Durability::Immediate).map_err(err)?;
            self.batch = Some(Batch {
                tx,
                dirty: false,
                failed: false,
                usage_before: self.usage,
            });
        }
        Ok(())
    }

    /// Whether the open batch has written anything (answers that used the store must wait
    /// for [`Self::commit_batch`]).
    pub fn batch_dirty(&self) -> bool {
        self.batch.as_ref().is_some_and(|b| b.dirty)
    }

    /// Store calls made so far (a counter; compare two readings).
    pub fn calls(&self) -> u64 {
        self.calls.get()
    }

    /// Commits the open batch with an fsync; returns whether anything was written. A batch
    /// in which a write failed is aborted (none of its writes happen) and reported as an error.
    pub fn commit_batch(&mut self) -> Result<bool, StoreError> {
        let Some(batch) = self.batch.take() else {
            return Ok(false);
        };
        if batch.failed {
            self.usage = batch.usage_before;
            batch.tx.abort().map_err(err)?;
            return Err(StoreError::new("batch aborted after a failed write"));
        }
        if !batch.dirty {
            batch.tx.abort().map_err(err)?;
            return Ok(false);
        }
        let started = Instant::now();
        let usage_before = batch.usage_before;
        if let Err(e) = batch.tx.commit() {
            self.usage = usage_before;
            return Err(err(e));
        }
        self.commit_time.observe(started.elapsed());
        Ok(true)
    }

    fn write<T>(
        &mut self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.calls.set(self.calls.get() + 1);
        if let Some(batch) = &mut self.batch {
            batch.dirty = true;
            let out = f(&batch.tx);
            batch.failed |= out.is_err();
            return out;
        }
        let started = Instant::now();
        let mut tx = self.db.begin_write().map_err(err)?;
        tx.set_durability(Durability::Immediate).map_err(err)?;
        let out = f(&tx)?;
        tx.commit().map_err(err)?;
        self.commit_time.observe(started.elapsed());
        Ok(out)
    }

    /// Messages stored across all queues (for tests and metrics).
    pub fn total_messages(&self) -> Result<u64, StoreError> {
        use redb::ReadableTableMetadata;
        with_table!(self, MESSAGES, |t| t.len().map_err(err))
    }

    /// Attachment blob chunks stored.
    pub fn total_blob_chunks(&self) -> Result<u64, StoreError> {
        use redb::ReadableTableMetadata;
        with_table!(self, BLOBS, |t| t.len().map_err(err))
    }

    /// Queues stored.
    pub fn total_queues(&self) -> Result<u64, StoreError> {
        use redb::ReadableTableMetadata;
        with_table!(self, QUEUES, |t| t.len().map_err(err))
    }
}

/// The store's totals, counted from its tables (once, when it opens).
fn count_usage(db: &Database) -> Result<Usage, StoreError> {
    use redb::ReadableTableMetadata;
    let tx = db.begin_read().map_err(err)?;
    let queues = tx.open_table(QUEUES).map_err(err)?.len().map_err(err)?;
    let blob_chunks = tx.open_table(BLOBS).map_err(err)?.len().map_err(err)?;
    let messages = tx.open_table(MESSAGES).map_err(err)?;
    let mut usage = Usage {
        queues,
        messages: 0,
        message_bytes: 0,
        blob_chunks,
    };
    for entry in messages.iter().map_err(err)? {
        let (_, v) = entry.map_err(err)?;
        usage.messages += 1;
        usage.message_bytes = usage
            .message_bytes
            .saturating_add(body_len(v.value().len()));
    }
    Ok(usage)
}

/// The body length of a `messages` value of `value_len` bytes (message id and time first).
fn body_len(value_len: usize) -> u64 {
    u64::try_from(value_len.saturating_sub(24)).unwrap_or(u64::MAX)
}

impl QueueStore for RedbStore {
    type Error = StoreError;

    fn insert_queue(&mut self, queue: &QueueRecord) -> Result<(), Self::Error> {
        let added = self.write(|tx| {
            let added = tx
                .open_table(QUEUES)
                .map_err(err)?
                .insert(
                    queue.recipient_id.as_bytes().as_slice(),
                    encode_queue(queue).as_slice(),
                )
                .map_err(err)?
                .is_none();
            tx.open_table(SENDERS)
                .map_err(err)?
                .insert(
                    queue.sender_id.as_bytes().as_slice(),
                    queue.recipient_id.as_bytes().as_slice(),
                )
                .map_err(err)?;
            Ok(added)
        })?;
        if added {
            self.usage.queues += 1;
        }
        Ok(())
    }

    fn queue(&self, recipient_id: &QueueId) -> Result<Option<QueueRecord>, Self::Error> {
        with_table!(self, QUEUES, |table| {
            match table.get(recipient_id.as_bytes().as_slice()).map_err(err)? {
                Some(v) => decode_queue(*recipient_id, v.value()).map(Some),
                None => Ok(None),
            }
        })
    }

    fn recipient_for_sender(&self, sender_id: &QueueId) -> Result<Option<QueueId>, Self::Error> {
        with_table!(self, SENDERS, |table| {
            Ok(table
                .get(sender_id.as_bytes().as_slice())
                .map_err(err)?
                .and_then(|v| QueueId::from_slice(v.value())))
        })
    }

    fn set_sender_key(
        &mut self,
        recipient_id: &QueueId,
        key: &AuthPublicKey,
    ) -> Result<(), Self::Error> {
        self.write(|tx| {
            let mut table = tx.open_table(QUEUES).map_err(err)?;
            let record = match table.get(recipient_id.as_bytes().as_slice()).map_err(err)? {
                Some(v) => Some(decode_queue(*recipient_id, v.value())?),
                None => None,
            };
            if let Some(mut record) = record {
                record.sender_key = Some(*key);
                table
                    .insert(
                        recipient_id.as_bytes().as_slice(),
                        encode_queue(&record).as_slice(),
                    )
                    .map_err(err)?;
            }
            Ok(())
        })
    }

    fn delete_queue(&mut self, recipient_id: &QueueId) -> Result<(), Self::Error> {
        let (existed, messages, bytes) = self.write(|tx| {
            let mut queues = tx.open_table(QUEUES).map_err(err)?;
            let record = match queues
                .remove(recipient_id.as_bytes().as_slice())
                .map_err(err)?
            {
                Some(v) => Some(decode_queue(*recipient_id, v.value())?),
                None => None,
            };
            drop(queues);
            tx.open_table(MOVED)
                .map_err(err)?
                .remove(recipient_id.as_bytes().as_slice())
                .map_err(err)?;
            let existed = record.is_some();
            if let Some(record) = record {
                tx.open_table(SENDERS)
                    .map_err(err)?
                    .remove(record.sender_id.as_bytes().as_slice())
                    .map_err(err)?;
            }
            let mut messages = tx.open_table(MESSAGES).map_err(err)?;
            let mut ids = tx.open_table(MESSAGE_IDS).map_err(err)?;
            let mut expiry = tx.open_table(MESSAGE_EXPIRY).map_err(err)?;
            let (lo, hi) = queue_range(recipient_id);
            let mut doomed = Vec::new();
            let mut bytes = 0u64;
            for entry in messages
                .range::<&[u8]>(lo.as_slice()..=hi.as_slice())
                .map_err(err)?
            {
                let (k, v) = entry.map_err(err)?;
                let m = decode_message(v.value())?;
                bytes = bytes.saturating_add(body_len(v.value().len()));
                doomed.push((k.value().to_vec(), m));
            }
            let count = u64::try_from(doomed.len()).unwrap_or(u64::MAX);
            for (key, m) in doomed {
                messages.remove(key.as_slice()).map_err(err)?;
                ids.remove(cat(&[recipient_id.as_bytes(), m.id.as_bytes()]).as_slice())
                    .map_err(err)?;
                let seq = key.get(16..24).unwrap_or_default();
                expiry
                    .remove(
                        cat(&[&m.received_at.to_be_bytes(), recipient_id.as_bytes(), seq])
                            .as_slice(),
                    )
                    .map_err(err)?;
            }
            Ok((existed, count, bytes))
        })?;
        let u = &mut self.usage;
        if existed {
            u.queues = u.queues.saturating_sub(1);
        }
        u.messages = u.messages.saturating_sub(messages);
        u.message_bytes = u.message_bytes.saturating_sub(bytes);
        Ok(())
    }

    fn push_message(
        &mut self,
        recipient_id: &QueueId,
        message: &StoredMessage,
    ) -> Result<(), Self::Error> {
        self.write(|tx| {
            let mut meta = tx.open_table(META).map_err(err)?;
            let seq = meta
                .get(NEXT_SEQ)
                .map_err(err)?
                .and_then(|v| leading_u64(v.value()))
                .unwrap_or(1);
            meta.insert(NEXT_SEQ, seq.saturating_add(1).to_be_bytes().as_slice())
                .map_err(err)?;
            let seq = seq.to_be_bytes();
            tx.open_table(MESSAGES)
                .map_err(err)?
                .insert(
                    cat(&[recipient_id.as_bytes(), &seq]).as_slice(),
                    cat(&[
                        message.id.as_bytes(),
                        &message.received_at.to_be_bytes(),
                        &message.body,
                    ])
                    .as_slice(),
                )
                .map_err(err)?;
            tx.open_table(MESSAGE_IDS)
                .map_err(err)?
                .insert(
                    cat(&[recipient_id.as_bytes(), message.id.as_bytes()]).as_slice(),
                    seq.as_slice(),
                )
                .map_err(err)?;
            tx.open_table(MESSAGE_EXPIRY)
                .map_err(err)?
                .insert(
                    cat(&[
                        &message.received_at.to_be_bytes(),
                        recipient_id.as_bytes(),
                        &seq,
                    ])
                    .as_slice(),
                    [].as_slice(),
                )
                .map_err(err)?;
            Ok(())
        })?;
        let body = u64::try_from(message.body.len()).unwrap_or(u64::MAX);
        self.usage.messages += 1;
        self.usage.message_bytes = self.usage.message_bytes.saturating_add(body);
        Ok(())
    }

    fn message_count(&self, recipient_id: &QueueId) -> Result<usize, Self::Error> {
        let (lo, hi) = queue_range(recipient_id);
        with_table!(self, MESSAGES, |table| {
            Ok(table
                .range::<&[u8]>(lo.as_slice()..=hi.as_slice())
                .map_err(err)?
                .count())
        })
    }

    fn oldest_message(&self, recipient_id: &QueueId) -> Result<Option<StoredMessage>, Self::Error> {
        let (lo, hi) = queue_range(recipient_id);
        with_table!(self, MESSAGES, |table| {
            let mut range = table
                .range::<&[u8]>(lo.as_slice()..=hi.as_slice())
                .map_err(err)?;
            match range.next() {
                Some(entry) => {
                    let (_, v) = entry.map_err(err)?;
                    decode_message(v.value()).map(Some)
                }
                None => Ok(None),
            }
        })
    }

    fn remove_message(
        &mut self,
        recipient_id: &QueueId,
        message_id: &QueueMessageId,
    ) -> Result<bool, Self::Error> {
        // Look first in a read transaction: an Ack for a message already gone (a retried Ack)
        // costs no write.
        let id_key = cat(&[recipient_id.as_bytes(), message_id.as_bytes()]);
        let present: bool = with_table!(self, MESSAGE_IDS, |table| {
            table.get(id_key.as_slice()).map_err(err)?.is_some()
        });
        if !present {
            return Ok(false);
        }
        let removed = self.write(|tx| {
            let mut ids = tx.open_table(MESSAGE_IDS).map_err(err)?;
            let Some(seq) = ids
                .remove(id_key.as_slice())
                .map_err(err)?
                .and_then(|v| <[u8; 8]>::try_from(v.value()).ok())
            else {
                return Ok(None);
            };
            drop(ids);
            let mut messages = tx.open_table(MESSAGES).map_err(err)?;
            let removed = messages
                .remove(cat(&[recipient_id.as_bytes(), &seq]).as_slice())
                .map_err(err)?
                .map(|v| decode_message(v.value()))
                .transpose()?;
            drop(messages);
            let body = removed
                .as_ref()
                .map(|m| u64::try_from(m.body.len()).unwrap_or(u64::MAX));
            if let Some(m) = removed {
                tx.open_table(MESSAGE_EXPIRY)
                    .map_err(err)?
                    .remove(
                        cat(&[&m.received_at.to_be_bytes(), recipient_id.as_bytes(), &seq])
                            .as_slice(),
                    )
                    .map_err(err)?;
            }
            Ok(Some(body))
        })?;
        let Some(body) = removed else {
            return Ok(false);
        };
        if let Some(bytes) = body {
            let u = &mut self.usage;
            u.messages = u.messages.saturating_sub(1);
            u.message_bytes = u.message_bytes.saturating_sub(bytes);
        }
        Ok(true)
    }

    fn blob_chunk_count(&self, blob: &BlobId) -> Result<u32, Self::Error> {
        let lo = cat(&[blob.as_bytes(), &[0u8; 4]]);
        let hi = cat(&[blob.as_bytes(), &[0xffu8; 4]]);
        with_table!(self, BLOBS, |table| {
            let n = table
                .range::<&[u8]>(lo.as_slice()..=hi.as_slice())
                .map_err(err)?
                .count();
            Ok(u32::try_from(n).unwrap_or(u32::MAX))
        })
    }

    fn put_blob_chunk(
        &mut self,
        blob: &BlobId,
        index: u32,
        data: &[u8],
        expires_at: u64,
    ) -> Result<(), Self::Error> {
        let added = self.write(|tx| {
            let key = cat(&[blob.as_bytes(), &index.to_be_bytes()]);
            let mut blobs = tx.open_table(BLOBS).map_err(err)?;
            let old = blobs
                .insert(
                    key.as_slice(),
                    cat(&[&expires_at.to_be_bytes(), data]).as_slice(),
                )
                .map_err(err)?
                .and_then(|v| leading_u64(v.value()));
            drop(blobs);
            let mut expiry = tx.open_table(BLOB_EXPIRY).map_err(err)?;
            if let Some(old) = old {
                expiry
                    .remove(cat(&[&old.to_be_bytes(), &key]).as_slice())
                    .map_err(err)?;
            }
            expiry
                .insert(
                    cat(&[&expires_at.to_be_bytes(), &key]).as_slice(),
                    [].as_slice(),
                )
                .map_err(err)?;
            Ok(old.is_none())
        })?;
        if added {
            self.usage.blob_chunks += 1;
        }
        Ok(())
    }

    fn blob_chunk(&self, blob: &BlobId, index: u32) -> Result<Option<Vec<u8>>, Self::Error> {
        let key = cat(&[blob.as_bytes(), &index.to_be_bytes()]);
        with_table!(self, BLOBS, |table| {
            Ok(table
                .get(key.as_slice())
                .map_err(err)?
                .and_then(|v| v.value().get(8..).map(<[u8]>::to_vec)))
        })
    }

    fn sweep(&mut self, now: u64, messages_before: u64) -> Result<Swept, Self::Error> {
        // Find what is due in a read transaction; write only when something is.
        let mut msgs = Vec::new();
        with_table!(self, MESSAGE_EXPIRY, |expiry| {
            for entry in expiry
                .range::<&[u8]>(..messages_before.to_be_bytes().as_slice())
                .map_err(err)?
                .take(SWEEP_BATCH)
            {
                msgs.push(entry.map_err(err)?.0.value().to_vec());
            }
        });
        let mut blobs = Vec::new();
        with_table!(self, BLOB_EXPIRY, |expiry| {
            for entry in expiry
                .range::<&[u8]>(..=now.to_be_bytes().as_slice())
                .map_err(err)?
                .take(SWEEP_BATCH)
            {
                blobs.push(entry.map_err(err)?.0.value().to_vec());
            }
        });
        if msgs.is_empty() && blobs.is_empty() {
            return Ok(Swept::default());
        }
        let (swept, bytes) = self.write(|tx| {
            let mut swept = Swept::default();
            let mut bytes = 0u64;
            let mut expiry = tx.open_table(MESSAGE_EXPIRY).map_err(err)?;
            let mut messages = tx.open_table(MESSAGES).map_err(err)?;
            let mut ids = tx.open_table(MESSAGE_IDS).map_err(err)?;
            for key in &msgs {
                // received_at (8) · recipient (16) · seq (8)
                let Some(rest) = key.get(8..32) else { continue };
                expiry.remove(key.as_slice()).map_err(err)?;
                if let Some(v) = messages.remove(rest).map_err(err)? {
                    let m = decode_message(v.value())?;
                    bytes = bytes.saturating_add(body_len(v.value().len()));
                    let recipient = rest.get(..16).unwrap_or_default();
                    ids.remove(cat(&[recipient, m.id.as_bytes()]).as_slice())
                        .map_err(err)?;
                    swept.messages += 1;
                }
            }
            drop((expiry, messages, ids));
            let mut expiry = tx.open_table(BLOB_EXPIRY).map_err(err)?;
            let mut table = tx.open_table(BLOBS).map_err(err)?;
            for key in &blobs {
                // expires_at (8) · blob (16) · index (4)
                let Some(rest) = key.get(8..28) else { continue };
                expiry.remove(key.as_slice()).map_err(err)?;
                if table.remove(rest).map_err(err)?.is_some() {
                    swept.blob_chunks += 1;
                }
            }
            Ok((swept, bytes))
        })?;
        let n = |x: usize| u64::try_from(x).unwrap_or(u64::MAX);
        let u = &mut self.usage;
        u.messages = u.messages.saturating_sub(n(swept.messages));
        u.message_bytes = u.message_bytes.saturating_sub(bytes);
        u.blob_chunks = u.blob_chunks.saturating_sub(n(swept.blob_chunks));
        Ok(swept)
    }

    fn rekey(&mut self, recipient_id: &QueueId, moved: &MovedRecord) -> Result<(), Self::Error> {
        self.write(|tx| moved::rekey(tx, recipient_id, moved))
    }

    fn moved(&self, recipient_id: &QueueId) -> Result<Vec<MovedRecord>, Self::Error> {
        with_table!(self, MOVED, |table| moved::read(&table, recipient_id))
    }

    fn usage(&self) -> Usage {
        self.usage
    }
}

#[cfg(test)]
mod tests;
