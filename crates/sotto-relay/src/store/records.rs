//! The byte layouts of the store's records (see the table in [`super`]): integers are
//! big-endian so that byte order is numeric order.

use sotto_proto::ids::QueueId;
use sotto_proto::keys::AuthPublicKey;
use sotto_proto::queue::QueueMessageId;
use sotto_proto::service::{QueueRecord, StoredMessage};

use super::error::StoreError;

pub(super) fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    bytes
        .get(at..at + 8)
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map(u64::from_be_bytes)
}

fn id16_at(bytes: &[u8], at: usize) -> Option<[u8; 16]> {
    bytes
        .get(at..at + 16)
        .and_then(|s| <[u8; 16]>::try_from(s).ok())
}

fn key32_at(bytes: &[u8], at: usize) -> Option<[u8; 32]> {
    bytes
        .get(at..at + 32)
        .and_then(|s| <[u8; 32]>::try_from(s).ok())
}

pub(super) fn cat(parts: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        v.extend_from_slice(p);
    }
    v
}

pub(super) fn encode_queue(q: &QueueRecord) -> Vec<u8> {
    let (flag, key) = match &q.sender_key {
        Some(k) => (1u8, *k.as_bytes()),
        None => (0u8, [0u8; 32]),
    };
    cat(&[
        q.sender_id.as_bytes(),
        q.recipient_key.as_bytes(),
        &[flag],
        &key,
        &q.created_at.to_be_bytes(),
    ])
}

pub(super) fn decode_queue(recipient_id: QueueId, v: &[u8]) -> Result<QueueRecord, StoreError> {
    let bad = || StoreError::new("corrupt queue record");
    let sender_id = QueueId::from_bytes(id16_at(v, 0).ok_or_else(bad)?);
    let recipient_key = AuthPublicKey::from_bytes(key32_at(v, 16).ok_or_else(bad)?);
    let flag = *v.get(48).ok_or_else(bad)?;
    let sender_key = key32_at(v, 49).ok_or_else(bad)?;
    let created_at = u64_at(v, 81).ok_or_else(bad)?;
    Ok(QueueRecord {
        recipient_id,
        sender_id,
        recipient_key,
        sender_key: (flag == 1).then(|| AuthPublicKey::from_bytes(sender_key)),
        created_at,
    })
}

pub(super) fn decode_message(v: &[u8]) -> Result<StoredMessage, StoreError> {
    let bad = || StoreError::new("corrupt message record");
    Ok(StoredMessage {
        id: QueueMessageId::from_bytes(id16_at(v, 0).ok_or_else(bad)?),
        received_at: u64_at(v, 16).ok_or_else(bad)?,
        body: v.get(24..).ok_or_else(bad)?.to_vec(),
    })
}

pub(super) fn queue_range(recipient_id: &QueueId) -> (Vec<u8>, Vec<u8>) {
    (
        cat(&[recipient_id.as_bytes(), &[0u8; 8]]),
        cat(&[recipient_id.as_bytes(), &[0xffu8; 8]]),
    )
}
