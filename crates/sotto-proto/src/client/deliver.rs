//! A contact's message that decrypted: its envelopes handed on in order, each as if it came
//! alone; one whose id was read before dropped (`super::read_ids`), one that cannot be read
//! reported on its own ([`Event::Unreadable`]) without costing the others.

use super::event::Event;
use super::{Client, ContactId};
use crate::envelope::{Content, Envelope, decode_message_each};

impl Client {
    /// The plaintext of a message from `contact` that decrypted: a single envelope or a
    /// batch. A malformed message (its frame: size, padding, a batch's counts or lengths) is
    /// one [`Event::Unreadable`]; within a batch whose frame checks out, each envelope that
    /// cannot be read is one, and the others are delivered. No resync: the sessions agree.
    pub(super) fn deliver(&mut self, contact: ContactId, plain: &[u8], now: u64) {
        let Some(c) = self.contacts.get_mut(&contact) else {
            return;
        };
        let mut entries = decode_message_each(plain).unwrap_or_else(|error| vec![Err(error)]);
        // Repeats are dropped first (twice in a batch, or sealed again by a restored device).
        // The batch's own ids are compared too: a batch (≤ 255) is longer than the window.
        let mut batch = Vec::with_capacity(entries.len());
        entries.retain(|e| {
            e.as_ref().map_or(true, |e| {
                let fresh = !batch.contains(&e.id) && c.read.note(e.id);
                batch.push(e.id);
                fresh
            })
        });
        for entry in entries {
            match entry {
                Ok(envelope) => self.on_envelope(contact, envelope, now),
                Err(error) => self.events.push_back(Event::Unreadable { contact, error }),
            }
        }
    }

    /// An envelope from `contact` that decrypted.
    pub(super) fn on_envelope(&mut self, contact: ContactId, envelope: Envelope, now: u64) {
        let Some(c) = self.contacts.get_mut(&contact) else {
            return;
        };
        match &envelope.content {
            Content::Hello(hello) => {
                // A peer's name, made safe to show (`crate::names`).
                let name = crate::names::sanitize(&hello.display_name);
                c.display_name = name.clone();
                self.events.push_back(Event::ContactRenamed {
                    contact,
                    display_name: name,
                });
            }
            Content::DisappearingTimer { seconds } => {
                c.disappearing = *seconds;
                self.events.push_back(Event::DisappearingChanged {
                    contact,
                    seconds: *seconds,
                    by_contact: true,
                });
            }
            _ => self.events.push_back(Event::Message {
                contact,
                envelope,
                received_at: now,
                disappearing: c.disappearing,
            }),
        }
    }
}
