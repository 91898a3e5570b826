//! The statement a [`Command::Rekey`] carries and a [`ResponseBody::Moved`] hands back: "this
//! queue's recipient key moved to `new_recipient_key`", signed by the key it moved from.
//!
//! A relay only stores and returns it: the client that still holds the previous key checks it
//! against that key ([`verify_moved`]), so a relay cannot make a device believe its profile
//! moved.

#[cfg(doc)]
use super::{Command, ResponseBody};
use super::{QueueError, SIGNATURE_LEN};
use crate::ids::QueueId;
use crate::keys::{AuthKeyPair, AuthPublicKey};

/// Domain label of the moved statement: `MOVED_LABEL || recipient_id (16) ||
/// new_recipient_key (32)`, signed with Ed25519 by the previous recipient key.
pub const MOVED_LABEL: &[u8] = b"sotto-moved-v1";

fn statement(recipient_id: &QueueId, new_recipient_key: &AuthPublicKey) -> [u8; 48] {
    let mut out = [0u8; 48];
    let (id, key) = out.split_at_mut(QueueId::LEN);
    id.copy_from_slice(recipient_id.as_bytes());
    key.copy_from_slice(new_recipient_key.as_bytes());
    out
}

/// Signs, with the queue's current recipient key `previous`, that the queue `recipient_id`
/// moves to `new_recipient_key` (the `moved_sig` of a [`Command::Rekey`]).
pub fn sign_moved(
    previous: &AuthKeyPair,
    recipient_id: &QueueId,
    new_recipient_key: &AuthPublicKey,
) -> [u8; SIGNATURE_LEN] {
    previous.sign(MOVED_LABEL, &statement(recipient_id, new_recipient_key))
}

/// Checks (strictly) that `moved_sig` is `previous`'s signature of the statement that queue
/// `recipient_id` moved to `new_recipient_key`.
///
/// # Errors
/// [`QueueError::BadKey`] when `previous` or `new_recipient_key` is not a valid Ed25519 key
/// (a queue must never move to a key nobody can sign with); [`QueueError::BadSignature`] when
/// the signature does not verify.
pub fn verify_moved(
    previous: &AuthPublicKey,
    recipient_id: &QueueId,
    new_recipient_key: &AuthPublicKey,
    moved_sig: &[u8; SIGNATURE_LEN],
) -> Result<(), QueueError> {
    new_recipient_key.check()?;
    Ok(previous.verify(
        MOVED_LABEL,
        &statement(recipient_id, new_recipient_key),
        moved_sig,
    )?)
}
