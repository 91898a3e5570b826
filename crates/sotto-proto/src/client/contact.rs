//! Contacts: their ratchet sessions, the queues we send to and the outboxes that feed them,
//! one message in flight per contact.

use std::collections::VecDeque;

use rand_core::CryptoRng;

use super::error::ClientError;
use super::event::Event;
use super::receive::QueueOwner;
use super::request::PendingKind;
use super::{Client, ContactId};
use crate::envelope::{Content, Envelope, Hello, MessageId};
use crate::ids::{QueueId, RelayId};
use crate::keys::AuthKeyPair;
use crate::queue::Command;
use crate::ratchet::Session;

/// The sender side of a contact's queue.
pub(super) struct SendQueue {
    pub(super) relay: RelayId,
    pub(super) sender_id: QueueId,
    pub(super) key: AuthKeyPair,
    pub(super) secured: bool,
}

/// One contact.
pub(super) struct Contact {
    pub(super) display_name: String,
    pub(super) session: Session,
    pub(super) send: SendQueue,
    /// Queue messages waiting to be sent, oldest first; the front one is in flight when
    /// `sending` is set.
    pub(super) outbox: VecDeque<(MessageId, Vec<u8>)>,
    pub(super) sending: bool,
    /// Seconds messages of this conversation are kept (0: kept).
    pub(super) disappearing: u32,
}

impl Client {
    /// Changes our display name and tells every contact: a hello with the new name goes to
    /// each (they see [`Event::ContactRenamed`]). In an established conversation a hello's
    /// reply address is not used; we send the relay of our receive queue for that contact and
    /// an all-zero queue id. The name is trimmed and must pass the rule of `crate::names`
    /// (1–64 visible characters, no control, format, bidi or line-break characters): otherwise
    /// [`ClientError::InvalidName`] says why, and nothing changes.
    pub fn set_display_name<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        display_name: &str,
        now: u64,
    ) -> Result<(), ClientError> {
        // Checked first, so that a name refused changes nothing.
        let display_name = crate::names::validate(display_name)?;
        let hello = |relay| Hello {
            reply_relay: relay,
            reply_queue: QueueId::from_bytes([0; QueueId::LEN]),
            display_name: display_name.to_owned(),
        };
        self.display_name = display_name.to_owned();
        let ids: Vec<ContactId> = self.contacts.keys().copied().collect();
        for contact in ids {
            let relay = self
                .queues
                .values()
                .find(|q| matches!(q.owner, QueueOwner::Contact(c) if c == contact))
                .map_or(self.gateway, |q| q.relay);
            let envelope = Envelope::new(rng, now, Content::Hello(hello(relay)));
            self.send_envelope(rng, contact, &envelope, now)?;
        }
        Ok(())
    }

    /// Queues `text` for `contact`; it is sent as soon as the queue allows. Returns the
    /// message's id; [`Event::Sent`] follows when a relay stored it.
    pub fn send_text<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        contact: ContactId,
        text: &str,
        now: u64,
    ) -> Result<Envelope, ClientError> {
        let envelope = Envelope::new(rng, now, Content::Text(text.to_owned()));
        self.send_envelope(rng, contact, &envelope, now)?;
        Ok(envelope)
    }

    /// Encrypts and queues any envelope for `contact`.
    pub fn send_envelope<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        contact: ContactId,
        envelope: &Envelope,
        now: u64,
    ) -> Result<(), ClientError> {
        let c = self
            .contacts
            .get_mut(&contact)
            .ok_or(ClientError::UnknownContact)?;
        let message = c
            .session
            .send(rng, envelope)
            .map_err(|_| ClientError::TooLarge)?;
        c.outbox.push_back((envelope.id, message));
        self.pump_outbox(rng, contact, now);
        Ok(())
    }

    /// Sets how long messages with `contact` are kept (0: kept) and tells the contact.
    /// Returns the message that carries the setting.
    pub fn set_disappearing<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        contact: ContactId,
        seconds: u32,
        now: u64,
    ) -> Result<Envelope, ClientError> {
        let c = self
            .contacts
            .get_mut(&contact)
            .ok_or(ClientError::UnknownContact)?;
        c.disappearing = seconds;
        let envelope = Envelope::new(rng, now, Content::DisappearingTimer { seconds });
        self.send_envelope(rng, contact, &envelope, now)?;
        self.events.push_back(Event::DisappearingChanged {
            contact,
            seconds,
            by_contact: false,
        });
        Ok(envelope)
    }

    /// Seconds messages with `contact` are kept (0: kept), or `None` for an unknown contact.
    pub fn disappearing(&self, contact: ContactId) -> Option<u32> {
        self.contacts.get(&contact).map(|c| c.disappearing)
    }

    pub(super) fn pump_outbox<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        contact: ContactId,
        now: u64,
    ) {
        let Some(c) = self.contacts.get_mut(&contact) else {
            return;
        };
        if c.sending || !c.send.secured {
            return;
        }
        let Some((_, message)) = c.outbox.front() else {
            return;
        };
        c.sending = true;
        let command = Command::Send {
            sender_id: c.send.sender_id,
            message: message.clone(),
        };
        let relay = c.send.relay;
        let id = self.new_request_id(rng);
        self.dispatch(rng, id, PendingKind::Send { contact }, relay, command, now);
    }

    pub(super) fn secure<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        contact: ContactId,
        now: u64,
    ) {
        let Some(c) = self.contacts.get(&contact) else {
            return;
        };
        let command = Command::Secure {
            sender_id: c.send.sender_id,
            sender_key: c.send.key.public_key(),
        };
        let relay = c.send.relay;
        let id = self.new_request_id(rng);
        self.dispatch(
            rng,
            id,
            PendingKind::Secure { contact },
            relay,
            command,
            now,
        );
    }

    pub(super) fn add_contact(
        &mut self,
        display_name: String,
        session: Session,
        send: SendQueue,
    ) -> ContactId {
        let id = self.next_contact;
        self.next_contact += 1;
        self.contacts.insert(
            id,
            Contact {
                display_name: display_name.clone(),
                session,
                send,
                outbox: VecDeque::new(),
                sending: false,
                disappearing: 0,
            },
        );
        self.events.push_back(Event::ContactAdded {
            contact: id,
            display_name,
        });
        id
    }
}
