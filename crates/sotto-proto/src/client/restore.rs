//! A profile restored on a new device from a backup of its state (issue 16): before anything
//! is encrypted again, every conversation resynchronises (`super::resync`), announcing the
//! restore, so that no message key the old device may have used after the backup is used
//! again. See `docs/PROTOCOL.md`, "Restore".

use rand_core::CryptoRng;

use super::{Client, ContactId, PersistError, RekeySecret};
use crate::keys::PublicKey;

impl Client {
    /// A client restored from `bytes` (what [`Client::to_persisted`] wrote, e.g. a backup's
    /// state) made at `since` (seconds, the backup's time). Unlike
    /// [`Client::from_persisted`], it treats every ratchet session as possibly used further by
    /// another device: each contact gets a resync request at once (marked restored, with
    /// `since`, so the peer reports the gap: [`super::Event::ContactRestored`]), any request
    /// of the old device's is abandoned, and messages written before the new session exists
    /// wait for it ([`super::SyncStatus::Resyncing`] until [`super::Event::Resynced`]).
    /// Messages already encrypted in the backup's outbox go out as they are (the same bytes,
    /// not a new encryption); envelopes not yet encrypted wait for the new session. Every receive queue gets a new recipient key of the next
    /// generation derived from `rekey` (the phrase's [`RekeySecret::from_root`], see
    /// `rekey`), put in place by a Rekey on the queue's own timer before its first Subscribe
    /// (see `moved`); persist the client before driving it. An old device that comes back
    /// then gets [`super::Event::ProfileMoved`]. A state exported from a device that had
    /// moved is restored as not moved (this restore takes the queues over again). Then drive
    /// it as after [`Client::from_persisted`] ([`Client::connected`], [`Client::tick`]).
    pub fn restored<R: CryptoRng + ?Sized>(
        rng: &mut R,
        bytes: &[u8],
        since: u64,
        now: u64,
        rekey: RekeySecret,
    ) -> Result<Client, PersistError> {
        let mut client = Client::from_persisted(bytes)?;
        // A new takeover: whatever the device the state came from had learnt, these queues
        // are ours again once our Rekeys are taken.
        client.moved = false;
        client.hold = (!client.queues.is_empty()).then_some(u64::MAX);
        client.rekey = Some(rekey);
        // A connection tag of our own: the old device, if it comes back to the same gateway,
        // binds the old one, and must not be handed the replies meant for us.
        client.conn = crate::onion::ConnTag::random(rng);
        let ids: Vec<ContactId> = client.contacts.keys().copied().collect();
        for contact in ids {
            if let Some(c) = client.contacts.get_mut(&contact) {
                c.sync.pending = None;
                c.sync.quiet_until = 0;
                // The old device's resync messages (not the one in flight, whose answer is
                // awaited) are dropped: ours replaces them.
                c.drop_waiting(super::contact::Outgoing::is_control);
            }
            client.start_resync_as(rng, contact, Some(since), now);
        }
        // Our receive queues move to the next generation's keys (`super::rekey`), so an old
        // device that comes back learns the profile moved instead of taking our deliveries.
        client.start_rekeys();
        Ok(client)
    }

    /// Where sending to `contact` stands (`ratchet::Session::send_position`): our ratchet
    /// public key and the next message number; `None` for an unknown contact. For
    /// diagnostics and tests: messages at different positions never share a message key.
    pub fn send_position(&self, contact: ContactId) -> Option<(PublicKey, u32)> {
        self.contacts
            .get(&contact)
            .map(|c| c.session.send_position())
    }
}
