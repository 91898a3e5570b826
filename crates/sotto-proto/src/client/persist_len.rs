//! How many bytes the writers of a client state reserve (`super::persist`,
//! `super::split`): at least what they write, each variable part by its actual size, so that a
//! writer of secrets never grows (a grown buffer leaves a copy of them behind).

use super::Client;
use super::contact::{Contact, Outgoing};

/// At most the length of one receive queue as `super::persist::write_queues` writes it:
/// recipient id, relay, key seed, an invitation's owner (the longer), a next key.
pub(super) const RECV_QUEUE_LEN: usize =
    16 + 32 + 32 + 1 + 32 + crate::invitation::ENCODED_LEN + 33;

/// At least the length of what `super::persist::write_contact` writes, each variable part
/// (session, outbox entries, resync state, read ids) by its actual size.
pub(super) fn contact_len(contact: &Contact) -> usize {
    let outbox: usize = contact
        .outbox
        .iter()
        .map(|o| match o {
            Outgoing::Envelope(_, plain, _) => 1 + 16 + 8 + 4 + plain.len(),
            Outgoing::Sealed(ids, message) => 1 + 2 + 16 * ids.len() + 4 + message.len(),
        })
        .sum();
    // Id, name (≤ 2 + 65,535), send queue, the small fields, the counts.
    let fixed = 8 + 2 + contact.display_name.len() + 4 + 32 + 16 + 32 + 1 + 64;
    fixed
        + contact.session.persisted_len()
        + outbox
        + contact.read.persisted_len()
        + contact.sync.persisted_len()
}

impl Client {
    /// At least the length of what `Client::write_header` and `Client::write_tail` write
    /// (a request at most 256 bytes), for reserving a writer.
    pub(super) fn header_tail_len(&self) -> usize {
        let header = 19 + 4 + 64 * self.relays.len() + 32 + 16 + 2 + self.display_name.len() + 16;
        header + 4 + 256 * self.pending.len() + 8 + 1 + 33 + 64
    }
}
