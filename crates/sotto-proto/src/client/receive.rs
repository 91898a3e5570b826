//! Our receive queues: subscribing them (and again, before the relay's reply blocks run
//! out), deliveries, and the Acks that delete what was delivered.

use rand_core::CryptoRng;

use super::event::Event;
use super::request::PendingKind;
use super::{Client, ContactId};
use crate::envelope::Content;
use crate::handshake::InvitationSecret;
use crate::ids::{QueueId, RelayId};
use crate::keys::AuthKeyPair;
use crate::onion::SurbId;
use crate::queue::{Command, Delivery, QueueMessageId};

/// The recipient side of one of our queues.
pub(super) struct RecvQueue {
    pub(super) relay: RelayId,
    pub(super) key: AuthKeyPair,
    pub(super) owner: QueueOwner,
    pub(super) subscribed_at: Option<u64>,
    pub(super) surbs: Vec<SurbId>,
}

/// Whose messages a receive queue holds.
pub(super) enum QueueOwner {
    /// Waiting for the first message from whoever uses the invitation.
    Invitation(Box<InvitationSecret>),
    Contact(ContactId),
}

impl Client {
    pub(super) fn subscribe<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        queue: QueueId,
        now: u64,
    ) {
        let Some(relay) = self.queues.get(&queue).map(|q| q.relay) else {
            return;
        };
        let mut surbs = Vec::new();
        let mut ids = Vec::new();
        for _ in 0..self.config.subscribe_surbs {
            if let Ok((surb, id)) = self.new_surb(rng) {
                surbs.push(surb);
                ids.push(id);
            }
        }
        if let Some(q) = self.queues.get_mut(&queue) {
            // The relay replaces the SURBs it held: their openers can go.
            for old in q.surbs.drain(..) {
                self.openers.remove(&old);
            }
            q.surbs = ids;
            q.subscribed_at = Some(now);
        }
        // A subscription not yet answered is replaced by this one.
        let stale: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| {
                matches!(&p.command, Command::Subscribe { recipient_id, .. } if *recipient_id == queue)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            if let Some(p) = self.pending.remove(&id) {
                self.openers.remove(&p.surb);
            }
        }
        let id = self.next_request_id();
        let command = Command::Subscribe {
            recipient_id: queue,
            surbs,
        };
        self.dispatch(rng, id, PendingKind::Subscribe, relay, command, now);
    }

    /// Subscribes again every receive queue whose subscription is
    /// [`super::ClientConfig::resubscribe_every`] seconds old.
    pub(super) fn resubscribe_due<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, now: u64) {
        let stale: Vec<QueueId> = self
            .queues
            .iter()
            .filter(|(_, q)| {
                q.subscribed_at
                    .is_some_and(|at| now.saturating_sub(at) >= self.config.resubscribe_every)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            self.subscribe(rng, id, now);
        }
    }

    /// When the oldest subscription is due to be renewed.
    pub(super) fn next_renewal(&self) -> Option<u64> {
        self.queues
            .values()
            .filter_map(|q| q.subscribed_at)
            .map(|at| at.saturating_add(self.config.resubscribe_every))
            .min()
    }

    /// The contact whose queue a Subscribe or Ack names (`None`: an invitation's queue, or
    /// one gone meanwhile).
    pub(super) fn queue_contact(&self, command: &Command) -> Option<ContactId> {
        let (Command::Subscribe { recipient_id, .. } | Command::Ack { recipient_id, .. }) = command
        else {
            return None;
        };
        match self.queues.get(recipient_id)?.owner {
            QueueOwner::Contact(contact) => Some(contact),
            QueueOwner::Invitation(_) => None,
        }
    }

    /// A message on one of our queues: a hello on an invitation's queue, or a contact's
    /// message. Either way it is acknowledged, so the relay deletes it.
    pub(super) fn on_delivery<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        delivery: Delivery,
        now: u64,
    ) {
        let queue_id = delivery.recipient_id;
        let Some(queue) = self.queues.get_mut(&queue_id) else {
            return;
        };
        match &mut queue.owner {
            QueueOwner::Invitation(secret) => {
                let own = *secret.invitation();
                if let Ok((session, hello, _)) = secret.receive_hello(rng, &delivery.body, now) {
                    self.on_hello(rng, queue_id, own, session, hello, now);
                }
            }
            QueueOwner::Contact(contact) => {
                let contact = *contact;
                if let Some(c) = self.contacts.get_mut(&contact) {
                    // Duplicates (a message a retry stored twice, a redelivery) and forgeries
                    // fail here and are simply acknowledged away.
                    if let Ok(envelope) = c.session.receive(rng, &delivery.body) {
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
                            }),
                        }
                    }
                }
            }
        }
        self.ack(rng, queue_id, delivery.message_id, now);
    }

    pub(super) fn ack<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        queue: QueueId,
        message_id: QueueMessageId,
        now: u64,
    ) {
        let Some(relay) = self.queues.get(&queue).map(|q| q.relay) else {
            return;
        };
        // One fresh SURB replaces the one the delivery used.
        let mut surbs = Vec::new();
        if let Ok((surb, id)) = self.new_surb(rng) {
            surbs.push(surb);
            if let Some(q) = self.queues.get_mut(&queue) {
                q.surbs.push(id);
            }
        }
        let command = Command::Ack {
            recipient_id: queue,
            message_id,
            surbs,
        };
        let id = self.next_request_id();
        self.dispatch(rng, id, PendingKind::Ack, relay, command, now);
    }
}
