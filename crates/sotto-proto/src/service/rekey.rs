//! Recipient authorisation and [`Command::Rekey`]: moving a queue to a new recipient key (see
//! "Moving a queue" in the module docs).

use crate::ids::QueueId;
use crate::keys::AuthPublicKey;
#[cfg(doc)]
use crate::queue::Command;
use crate::queue::{ErrorCode, ReceivedRequest, ResponseBody, SIGNATURE_LEN, verify_moved};

use super::{QueueService, QueueStore};

/// How many [`MovedRecord`]s a relay keeps per queue (the newest): a device whose key is
/// older than these gets [`ErrorCode::Auth`] instead of [`ResponseBody::Moved`].
pub const MOVED_KEPT: usize = 8;

/// Appends `moved` to a queue's records (oldest first) and drops the oldest beyond
/// [`MOVED_KEPT`]: what every [`super::QueueStore::rekey`] keeps.
pub fn keep_moved(records: &mut Vec<MovedRecord>, moved: &MovedRecord) {
    records.push(moved.clone());
    let excess = records.len().saturating_sub(MOVED_KEPT);
    records.drain(..excess);
}

/// What a relay keeps of each of a queue's [`Command::Rekey`]s: the key it replaced and the
/// statement that the queue moved (`moved_sig` by `previous_key` over
/// `MOVED_LABEL || recipient_id || new_recipient_key`, see [`crate::queue::sign_moved`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MovedRecord {
    /// The recipient key before the Rekey.
    pub previous_key: AuthPublicKey,
    /// The recipient key the Rekey put in place.
    pub new_recipient_key: AuthPublicKey,
    /// The previous key's signature of the statement.
    pub moved_sig: [u8; SIGNATURE_LEN],
}

impl<S: QueueStore> QueueService<S> {
    /// Checks a recipient command's signature against the queue's recipient key. A request
    /// that fails it but verifies under a key the queue moved from (one of its kept records)
    /// is refused as [`ErrorCode::Moved`] (that key's statement is kept for the answer);
    /// anything else that fails is [`ErrorCode::Auth`].
    pub(super) fn authorise_recipient(
        &mut self,
        request: &ReceivedRequest,
        recipient_id: &QueueId,
    ) -> Result<(), ErrorCode> {
        let queue = self
            .store
            .queue(recipient_id)
            .map_err(|_| ErrorCode::Internal)?
            .ok_or(ErrorCode::NoQueue)?;
        if request.verify(&queue.recipient_key).is_ok() {
            return Ok(());
        }
        let moved = self
            .store
            .moved(recipient_id)
            .map_err(|_| ErrorCode::Internal)?
            .into_iter()
            .find(|m| request.verify(&m.previous_key).is_ok());
        match moved {
            Some(m) => {
                self.moved = Some(m);
                Err(ErrorCode::Moved)
            }
            None => Err(ErrorCode::Auth),
        }
    }

    /// [`Command::Rekey`]: signed by the current recipient key, with a statement that key
    /// signed, it moves the queue to `new_key` and drops its subscription. A Rekey to the key
    /// in place signed by it is Ok and changes nothing; one signed by a key the queue moved
    /// from (a retry whose first copy was taken, or another restore of the same state) is
    /// answered [`ErrorCode::Moved`] with that key's statement, never Ok: the sender cannot
    /// tell the two apart, and takes the queue one generation further (client `moved`).
    pub(super) fn rekey(
        &mut self,
        request: &ReceivedRequest,
        recipient_id: &QueueId,
        new_key: &AuthPublicKey,
        moved_sig: &[u8; SIGNATURE_LEN],
    ) -> Result<ResponseBody, ErrorCode> {
        let internal = |_: S::Error| ErrorCode::Internal;
        let queue = self
            .store
            .queue(recipient_id)
            .map_err(internal)?
            .ok_or(ErrorCode::NoQueue)?;
        if request.verify(&queue.recipient_key).is_err() {
            // Signed by a key the queue moved from (whoever sent it: a retry of the move, or
            // another restore of the same state): Moved, with that key's statement, so the
            // sender learns where the queue is; else Auth.
            self.authorise_recipient(request, recipient_id)?;
            return Err(ErrorCode::Auth);
        }
        if queue.recipient_key == *new_key {
            return Ok(ResponseBody::Ok);
        }
        verify_moved(&queue.recipient_key, recipient_id, new_key, moved_sig)
            .map_err(|_| ErrorCode::Auth)?;
        let record = MovedRecord {
            previous_key: queue.recipient_key,
            new_recipient_key: *new_key,
            moved_sig: *moved_sig,
        };
        self.store.rekey(recipient_id, &record).map_err(internal)?;
        // The reply blocks held lead to the device that held the previous key.
        self.drop_subscription(recipient_id);
        Ok(ResponseBody::Ok)
    }

    /// Forgets a queue's subscription: its SURBs and the delivery in flight.
    pub(super) fn drop_subscription(&mut self, recipient_id: &QueueId) {
        if let Some(sub) = self.subscriptions.remove(recipient_id) {
            self.surbs_held = self.surbs_held.saturating_sub(sub.surbs.len());
        }
    }
}

#[cfg(test)]
#[path = "rekey_tests.rs"]
mod tests;
