//! The `moved` table: what the store keeps of a queue's last Rekeys ([`MovedRecord`]s, at
//! most [`MOVED_KEPT`], oldest first, one after the other), written in the same transaction
//! as the queue's new recipient key. A value of one record (what earlier relays wrote) reads
//! as a list of one.

use redb::{ReadableTable, WriteTransaction};
use sotto_proto::codec::{Reader, Writer as _};
use sotto_proto::ids::QueueId;
use sotto_proto::keys::AuthPublicKey;
use sotto_proto::service::{MOVED_KEPT, MovedRecord, keep_moved};

use super::error::{StoreError, err};
use super::records::{decode_queue, encode_queue};
use super::{MOVED, QUEUES};

/// Bytes of one record: `previous_key (32) · new_recipient_key (32) · moved_sig (64)`.
const RECORD_LEN: usize = 32 + 32 + 64;

/// The records one after the other.
fn encode(records: &[MovedRecord]) -> Vec<u8> {
    let mut w = Vec::with_capacity(RECORD_LEN * records.len());
    for m in records {
        w.put(m.previous_key.as_bytes());
        w.put(m.new_recipient_key.as_bytes());
        w.put(&m.moved_sig);
    }
    w
}

fn decode(v: &[u8]) -> Result<Vec<MovedRecord>, StoreError> {
    let bad = |_| StoreError::new("corrupt moved record");
    if v.is_empty() || !v.len().is_multiple_of(RECORD_LEN) || v.len() / RECORD_LEN > MOVED_KEPT {
        return Err(StoreError::new("corrupt moved record"));
    }
    let mut r = Reader::new(v);
    let mut records = Vec::with_capacity(v.len() / RECORD_LEN);
    while r.remaining() > 0 {
        let previous_key = AuthPublicKey::from_bytes(r.extract().map_err(bad)?);
        let new_recipient_key = AuthPublicKey::from_bytes(r.extract().map_err(bad)?);
        let moved_sig = r.extract().map_err(bad)?;
        records.push(MovedRecord {
            previous_key,
            new_recipient_key,
            moved_sig,
        });
    }
    Ok(records)
}

/// Puts the new recipient key in the queue's record and keeps `moved` after the queue's
/// earlier records (the oldest dropped beyond [`MOVED_KEPT`]); nothing when the queue does
/// not exist.
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
    let mut table = tx.open_table(MOVED).map_err(err)?;
    let mut records = read(&table, recipient_id)?;
    keep_moved(&mut records, moved);
    table
        .insert(key, encode(&records).as_slice())
        .map_err(err)?;
    Ok(())
}

/// The queue's moved records, oldest first, read through `table` (the batch's or a read
/// transaction's).
pub(super) fn read(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    recipient_id: &QueueId,
) -> Result<Vec<MovedRecord>, StoreError> {
    match table.get(recipient_id.as_bytes().as_slice()).map_err(err)? {
        Some(v) => decode(v.value()),
        None => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn record(n: u8) -> MovedRecord {
        MovedRecord {
            previous_key: AuthPublicKey::from_bytes([n; 32]),
            new_recipient_key: AuthPublicKey::from_bytes([n + 1; 32]),
            moved_sig: [n; 64],
        }
    }

    #[test]
    fn records_round_trip_and_malformed_values_are_refused() {
        let records: Vec<MovedRecord> = (1..=3).map(record).collect();
        assert_eq!(decode(&encode(&records)).unwrap(), records);
        // One record (what earlier relays wrote) is a list of one.
        assert_eq!(decode(&encode(&records[..1])).unwrap(), records[..1]);
        let bytes = encode(&records);
        for bad in [
            &[][..],
            &bytes[..RECORD_LEN - 1],
            &bytes[..RECORD_LEN + 1],
            &bytes[..bytes.len() - 1],
        ] {
            assert!(decode(bad).is_err(), "{} bytes", bad.len());
        }
        let many: Vec<MovedRecord> = (1..=9).map(record).collect();
        assert!(decode(&encode(&many)).is_err(), "more than MOVED_KEPT");
    }
}
