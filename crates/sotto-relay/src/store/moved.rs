//! The `moved` table: what the store keeps of a queue's last Rekey ([`MovedRecord`]), written
//! in the same transaction as the queue's new recipient key.

use redb::{ReadableTable, WriteTransaction};
use sotto_proto::codec::{Reader, Writer as _};
use sotto_proto::ids::QueueId;
use sotto_proto::keys::AuthPublicKey;
use sotto_proto::service::MovedRecord;

use super::error::{StoreError, err};
use super::records::{decode_queue, encode_queue};
use super::{MOVED, QUEUES};

/// `previous_key (32) · new_recipient_key (32) · moved_sig (64)`.
fn encode(m: &MovedRecord) -> Vec<u8> {
    let mut w = Vec::with_capacity(32 + 32 + 64);
    w.put(m.previous_key.as_bytes());
    w.put(m.new_recipient_key.as_bytes());
    w.put(&m.moved_sig);
    w
}

fn decode(v: &[u8]) -> Result<MovedRecord, StoreError> {
    let bad = |_| StoreError::new("corrupt moved record");
    let mut r = Reader::new(v);
    let previous_key = AuthPublicKey::from_bytes(r.extract().map_err(bad)?);
    let new_recipient_key = AuthPublicKey::from_bytes(r.extract().map_err(bad)?);
    let moved_sig = r.extract().map_err(bad)?;
    r.should_be_exhausted().map_err(bad)?;
    Ok(MovedRecord {
        previous_key,
        new_recipient_key,
        moved_sig,
    })
}

/// Puts the new recipient key in the queue's record and keeps `moved` (replacing any earlier
/// one); nothing when the queue does not exist.
pub(super) fn rekey(
    tx: &WriteTransaction,
    recipient_id: &QueueId,
    moved: &MovedRecord,
) -> Result<(), StoreError> {
    let key = recipient_id.as_bytes().as_slice();
    let mut queues = tx.open_table(QUEUES).map_err(err)?;
    let record = match queues.get(key).map_err(err)? {
        Some(v) => Some(decode_queue(*recipient_id, v.value())?),
        None => None,
    };
    let Some(mut record) = record else {
        return Ok(());
    };
    record.recipient_key = moved.new_recipient_key;
    queues
        .insert(key, encode_queue(&record).as_slice())
        .map_err(err)?;
    tx.open_table(MOVED)
        .map_err(err)?
        .insert(key, encode(moved).as_slice())
        .map_err(err)?;
    Ok(())
}

/// The queue's moved record, read through `table` (the batch's or a read transaction's).
pub(super) fn read(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    recipient_id: &QueueId,
) -> Result<Option<MovedRecord>, StoreError> {
    match table.get(recipient_id.as_bytes().as_slice()).map_err(err)? {
        Some(v) => decode(v.value()).map(Some),
        None => Ok(None),
    }
}
