//! The byte layouts of the store's records (see the table in [`super`]): integers are
//! big-endian so that byte order is numeric order. Read and written with
//! [`sotto_proto::codec`].

use sotto_proto::codec::{Reader, Writer as _};
use sotto_proto::ids::QueueId;
use sotto_proto::keys::AuthPublicKey;
use sotto_proto::queue::QueueMessageId;
use sotto_proto::service::{QueueRecord, StoredMessage};

use super::error::StoreError;

/// The big-endian `u64` a value starts with (an expiry or a sequence number), whatever follows.
pub(super) fn leading_u64(bytes: &[u8]) -> Option<u64> {
    Reader::new(bytes).take_u64().ok()
}

/// The concatenation of `parts`: a composite table key.
pub(super) fn cat(parts: &[&[u8]]) -> Vec<u8> {
    let mut w = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        w.put_bytes(p);
    }
    w
}

/// `sender_id (16) · recipient_key (32) · has_sender_key (1) · sender_key or zeros (32) ·
/// created_at (8)`.
pub(super) fn encode_queue(q: &QueueRecord) -> Vec<u8> {
    let (flag, key) = match &q.sender_key {
        Some(k) => (1u8, *k.as_bytes()),
        None => (0u8, [0u8; 32]),
    };
    let mut w = Vec::with_capacity(16 + 32 + 1 + 32 + 8);
    w.put(&q.sender_id);
    w.put(q.recipient_key.as_bytes());
    w.put_u8(flag);
    w.put(&key);
    w.put_u64(q.created_at);
    w
}

pub(super) fn decode_queue(recipient_id: QueueId, v: &[u8]) -> Result<QueueRecord, StoreError> {
    let bad = |_| StoreError::new("corrupt queue record");
    let mut r = Reader::new(v);
    let sender_id: QueueId = r.extract().map_err(bad)?;
    let recipient_key = AuthPublicKey::from_bytes(r.extract().map_err(bad)?);
    let flag = r.take_u8().map_err(bad)?;
    let sender_key: [u8; 32] = r.extract().map_err(bad)?;
    let created_at = r.take_u64().map_err(bad)?;
    r.should_be_exhausted().map_err(bad)?;
    Ok(QueueRecord {
        recipient_id,
        sender_id,
        recipient_key,
        sender_key: (flag == 1).then(|| AuthPublicKey::from_bytes(sender_key)),
        created_at,
    })
}

/// `id (16) · received_at (8) · body (the rest)`.
pub(super) fn decode_message(v: &[u8]) -> Result<StoredMessage, StoreError> {
    let bad = |_| StoreError::new("corrupt message record");
    let mut r = Reader::new(v);
    Ok(StoredMessage {
        id: r.extract::<QueueMessageId>().map_err(bad)?,
        received_at: r.take_u64().map_err(bad)?,
        body: r.take_rest().to_vec(),
    })
}

pub(super) fn queue_range(recipient_id: &QueueId) -> (Vec<u8>, Vec<u8>) {
    (
        cat(&[recipient_id.as_bytes(), &[0u8; 8]]),
        cat(&[recipient_id.as_bytes(), &[0xffu8; 8]]),
    )
}
