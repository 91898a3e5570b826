//! Invitations: the queue behind one we hand out and the hello that turns it into a contact;
//! accepting someone else's (our reply queue, then their queue secured and our hello sent).

use rand_core::CryptoRng;

use super::Client;
use super::contact::SendQueue;
use super::error::{ClientError, Error, PeerMisbehaved};
use super::event::Event;
use super::receive::{QueueOwner, RecvQueue, Subscription};
use super::request::{PendingKind, Purpose};
use crate::envelope::{Content, Envelope, Hello};
use crate::handshake::{self, HandshakeError, InvitationSecret};
use crate::ids::{QueueId, RelayId};
use crate::invitation::{Invitation, InvitationKind};
use crate::keys::AuthKeyPair;
use crate::queue::Command;
use crate::ratchet::Session;
use crate::ratchet::resync::ResyncSecret;

impl Client {
    /// Asks a random relay for a queue and makes a one-time invitation for it. The invitation
    /// arrives as [`Event::InvitationReady`] with the returned handle.
    pub fn create_invitation<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
    ) -> Result<u64, ClientError> {
        self.not_moved()?;
        let handle = self.new_request_id(rng);
        self.create_queue(rng, handle, Purpose::Invitation { handle }, now)?;
        Ok(handle)
    }

    /// Accepts someone's invitation: creates our reply queue, then secures theirs and sends
    /// the hello. Once their queue is secured the contact appears as [`Event::ContactAdded`]
    /// and [`Event::Accepted`] carries the returned handle; if accepting fails,
    /// [`Event::AcceptFailed`] does, and no contact is added (or left behind). Refused, with
    /// nothing changed: an expired invitation, one on a relay we do not know, and one of our
    /// own that is still waiting for its contact ([`ClientError::OwnInvitation`]).
    pub fn accept_invitation<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        invitation: Invitation,
        now: u64,
    ) -> Result<u64, ClientError> {
        self.not_moved()?;
        if invitation.is_expired(self.network_time(now)) {
            return Err(HandshakeError::Expired.into());
        }
        if !self.relays.iter().any(|h| h.id == invitation.relay) {
            return Err(ClientError::UnknownRelay);
        }
        if self.is_own_invitation(&invitation) {
            return Err(ClientError::OwnInvitation);
        }
        // The handle is the queue creation's request id (see `Purpose::Accept`).
        let handle = self.new_request_id(rng);
        self.create_queue(rng, handle, Purpose::Accept { invitation }, now)?;
        Ok(handle)
    }

    /// Whether `invitation` is one of ours still waiting on its queue (same relay, queue and
    /// handshake key).
    fn is_own_invitation(&self, invitation: &Invitation) -> bool {
        self.queues.values().any(|q| match &q.owner {
            QueueOwner::Invitation(secret) => {
                let own = secret.invitation();
                own.relay == invitation.relay
                    && own.queue == invitation.queue
                    && own.handshake_key == invitation.handshake_key
            }
            QueueOwner::Contact(_) => false,
        })
    }

    /// Gives up an acceptance (`handle` from [`Client::accept_invitation`]), e.g. when the
    /// caller's deadline passed: its queue creation is forgotten, or its contact (not yet
    /// announced) removed with its queue. Nothing of it remains and a late answer is ignored.
    /// False (and nothing changed) when the acceptance is done or failed already.
    pub fn cancel_accept(&mut self, handle: u64) -> bool {
        let creating = self.pending.get(&handle).is_some_and(|p| {
            matches!(
                p.kind,
                PendingKind::Create {
                    purpose: Purpose::Accept { .. },
                    ..
                }
            )
        });
        if creating {
            if let Some(p) = self.pending.remove(&handle) {
                self.openers.remove(&p.surb);
            }
            return true;
        }
        let contact = self
            .contacts
            .iter()
            .find(|(_, c)| c.accepting == Some(handle))
            .map(|(id, _)| *id);
        contact.is_some_and(|contact| {
            self.remove_contact(contact);
            true
        })
    }

    /// Gives up an invitation not ready yet (`handle` from [`Client::create_invitation`]):
    /// its queue creation is forgotten, so no [`Event::InvitationReady`] follows. False when
    /// it is ready or failed already.
    pub fn cancel_invitation(&mut self, handle: u64) -> bool {
        let ours = |k: &PendingKind| matches!(k, PendingKind::Create { purpose: Purpose::Invitation { handle: h }, .. } if *h == handle);
        let found = self.pending.values().any(|p| ours(&p.kind));
        self.drop_requests(ours);
        found
    }

    pub(super) fn create_queue<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        id: u64,
        purpose: Purpose,
        now: u64,
    ) -> Result<(), ClientError> {
        // Our queues (for invitations and for replies) live on a relay of our choosing, never
        // our gateway (which knows our address).
        let relay = self.hosting_relay(rng)?;
        let key = AuthKeyPair::generate(rng);
        let command = Command::Create {
            recipient_key: key.public_key(),
            timestamp: now,
            pow_nonce: 0,
        };
        self.dispatch(
            rng,
            id,
            PendingKind::Create {
                key: Box::new(key),
                purpose,
                clock_retried: false,
                pow_retried: false,
            },
            relay,
            command,
            now,
        );
        Ok(())
    }

    /// Our queue exists: an invitation for it is ready, or (accepting) the conversation
    /// starts. `request_id` is the creation's, the handle of an acceptance.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_queue_created<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        request_id: u64,
        relay: RelayId,
        key: AuthKeyPair,
        purpose: Purpose,
        recipient_id: QueueId,
        sender_id: QueueId,
        now: u64,
    ) {
        if self.queues.contains_key(&recipient_id) {
            return;
        }
        // Times that leave the device (the invitation's expiry, the hello's stamp) are the
        // network's.
        let network_now = self.network_time(now);
        match purpose {
            Purpose::Invitation { handle } => {
                let secret = InvitationSecret::create(
                    rng,
                    InvitationKind::OneTime,
                    relay,
                    sender_id,
                    network_now,
                );
                let invitation = *secret.invitation();
                self.queues.insert(
                    recipient_id,
                    RecvQueue {
                        relay,
                        key,
                        owner: QueueOwner::Invitation(Box::new(secret)),
                        subscription: Subscription::default(),
                        next_key: None,
                    },
                );
                self.schedule_subscription(recipient_id, now);
                self.events
                    .push_back(Event::InvitationReady { handle, invitation });
            }
            Purpose::Accept { invitation } => {
                let accepted = match handshake::accept_invitation(
                    rng,
                    &invitation,
                    relay,
                    sender_id,
                    &self.display_name,
                    network_now,
                ) {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        let error = match e {
                            // Keys that give no session: the inviter's doing.
                            HandshakeError::Decrypt | HandshakeError::NotAHello => {
                                Error::PeerMisbehaved(PeerMisbehaved::Invitation(e))
                            }
                            // Expired meanwhile, or our name does not fit a hello.
                            _ => Error::Misuse(ClientError::Invitation(e)),
                        };
                        self.events.push_back(Event::AcceptFailed {
                            handle: request_id,
                            error,
                        });
                        return;
                    }
                };
                let send = SendQueue {
                    relay: invitation.relay,
                    sender_id: invitation.queue,
                    key: AuthKeyPair::generate(rng),
                    secured: false,
                };
                // The inviter tells us its name in its first message.
                let contact = self.add_contact(
                    String::new(),
                    accepted.session,
                    send,
                    Some(request_id),
                    accepted.resync_secret,
                );
                if let Some(c) = self.contacts.get_mut(&contact) {
                    c.outbox.push(super::contact::Outgoing::Sealed(
                        vec![accepted.envelope.id],
                        accepted.first_message,
                    ));
                }
                self.queues.insert(
                    recipient_id,
                    RecvQueue {
                        relay,
                        key,
                        owner: QueueOwner::Contact(contact),
                        subscription: Subscription::default(),
                        next_key: None,
                    },
                );
                self.schedule_subscription(recipient_id, now);
                self.secure(rng, contact, now);
            }
        }
    }

    /// The first message on an invitation's queue was a valid hello: its sender becomes a
    /// contact, the queue becomes theirs, and our hello (with our name) goes back.
    pub(super) fn on_hello<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        queue_id: QueueId,
        own: Invitation,
        (session, resync): (Session, ResyncSecret),
        hello: Hello,
        now: u64,
    ) {
        let send = SendQueue {
            relay: hello.reply_relay,
            sender_id: hello.reply_queue,
            key: AuthKeyPair::generate(rng),
            secured: false,
        };
        // One-time: the invitation's secret is dropped; the queue now belongs to the
        // conversation.
        // The peer's name, made safe to show (`crate::names`).
        let name = crate::names::sanitize(&hello.display_name);
        let contact = self.add_contact(name, session, send, None, resync);
        if let Some(mut q) = self.queues.get_mut(&queue_id) {
            q.owner = QueueOwner::Contact(contact);
        }
        // Our first message tells the new contact our name (the reply address in it is the
        // queue they already write to).
        let hello = Envelope::new(
            rng,
            self.network_time(now),
            Content::Hello(Hello {
                reply_relay: own.relay,
                reply_queue: own.queue,
                display_name: self.display_name.clone(),
            }),
        );
        let _ = self.send_envelope(rng, contact, &hello, now);
        self.secure(rng, contact, now);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{NOW, client};
    use super::*;
    use crate::client::ClientError;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// An invitation created and made ready: the relay (our gateway) answered its Create with
    /// fresh ids. Returns the relay, the recipient and sender ids, and the invitation.
    fn made_ready(
        rng: &mut ChaCha20Rng,
        c: &mut Client,
    ) -> (RelayId, QueueId, QueueId, Invitation) {
        let handle = c.create_invitation(rng, NOW).unwrap();
        let relay = c.gateway();
        let key = AuthKeyPair::generate(rng);
        let (recipient, sender) = (QueueId::random(rng), QueueId::random(rng));
        // The answer settles the Create.
        c.pending.clear();
        c.on_queue_created(
            rng,
            handle,
            relay,
            key,
            Purpose::Invitation { handle },
            recipient,
            sender,
            NOW,
        );
        let invitation = std::iter::from_fn(|| c.poll_event())
            .find_map(|e| match e {
                Event::InvitationReady { invitation, .. } => Some(invitation),
                _ => None,
            })
            .unwrap();
        (relay, recipient, sender, invitation)
    }

    #[test]
    fn our_own_waiting_invitation_is_refused_and_adds_nothing() {
        let mut rng = ChaCha20Rng::seed_from_u64(14);
        let mut c = client(&mut rng);
        let (relay, _, sender, invitation) = made_ready(&mut rng, &mut c);
        let link = invitation.to_link("https://sotto.example");
        let parsed = Invitation::parse_link(&link, NOW).unwrap();
        let requests = c.pending_requests();
        assert_eq!(
            c.accept_invitation(&mut rng, parsed, NOW),
            Err(ClientError::OwnInvitation)
        );
        assert_eq!(c.pending_requests(), requests, "nothing was sent");
        assert_eq!(c.contact_ids().count(), 0, "no contact was added");
        assert!(c.poll_event().is_none());

        // Someone else's invitation, on the same relay, is accepted.
        let theirs =
            InvitationSecret::create(&mut rng, InvitationKind::OneTime, relay, sender, NOW);
        assert!(
            c.accept_invitation(&mut rng, *theirs.invitation(), NOW)
                .is_ok()
        );
    }

    #[test]
    fn a_peer_name_that_breaks_the_rule_arrives_cleaned() {
        let mut rng = ChaCha20Rng::seed_from_u64(15);
        let mut c = client(&mut rng);
        let (relay, recipient, _, invitation) = made_ready(&mut rng, &mut c);
        // A peer whose hello bypasses the rule: a right-to-left override, a zero-width space
        // and a line break around a look-alike name.
        let reply_queue = QueueId::random(&mut rng);
        let accepted = handshake::accept_invitation(
            &mut rng,
            &invitation,
            relay,
            reply_queue,
            "\u{202E}ecilA\u{200B}\nSmith",
            NOW,
        )
        .unwrap();
        let delivery = crate::queue::Delivery {
            recipient_id: recipient,
            message_id: crate::queue::QueueMessageId::from_bytes([7; 16]),
            received_at: NOW,
            body: accepted.first_message,
        };
        c.on_delivery(&mut rng, delivery, NOW);
        let name = std::iter::from_fn(|| c.poll_event())
            .find_map(|e| match e {
                Event::ContactAdded { display_name, .. } => Some(display_name),
                _ => None,
            })
            .unwrap();
        assert_eq!(name, "ecilA Smith");
        assert_eq!(c.contacts().next().map(|(_, n)| n), Some("ecilA Smith"));
    }
}
