//! A messaging client, sans-IO: invitations, contacts, sending and receiving through queues
//! and onion packets.
//!
//! The browser library and the native test clients drive a [`Client`] the same way:
//! 1. after a WebSocket to the gateway opens, call [`Client::connected`];
//! 2. hand every binary frame from the gateway to [`Client::handle_frame`];
//! 3. call [`Client::tick`] every second or so;
//! 4. after each call, drain [`Client::poll_event`] and then [`Client::poll_transmit`] (frames
//!    for the gateway), in that order. A driver that persists must store what the events say
//!    (messages, contacts) *before* it sends the frames: among them are the Acks that tell the
//!    relay to delete the messages just received.
//!
//! Requests are retried until their relay answers ([`ClientConfig::retry_after`]); receive
//! queues are subscribed again every [`ClientConfig::resubscribe_every`] seconds with fresh
//! reply blocks, which also makes the relay resend a delivery that was lost. Sends to one
//! contact go one at a time, so they reach the queue in order; the ratchet rejects a message
//! that a retry stored twice, so each is shown exactly once.

use std::collections::{BTreeMap, HashMap, VecDeque};

use rand_core::CryptoRng;

use crate::envelope::{Content, Envelope, Hello};
use crate::handshake::{self, InvitationSecret};
use crate::ids::{QueueId, RelayId};
use crate::invitation::{Invitation, InvitationKind};
use crate::onion::{self, ClientFrame, ConnTag, GatewayFrame, Hop, OnionError, SurbId, SurbOpener};
use crate::queue::{
    AuthKeyPair, Command, Delivery, ErrorCode, Inbound, MessageId as QueueMessageId, Request,
    Response, ResponseBody,
};
use crate::ratchet::Session;

/// A contact, as this client numbers them. Local only: never on the wire.
pub type ContactId = u64;

/// Tunables of a [`Client`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// Proof-of-work bits the relays ask for on queue creation.
    pub pow_bits: u8,
    /// SURBs handed to a queue's relay on subscribing.
    pub subscribe_surbs: usize,
    /// Seconds before an unanswered request is sent again (along a new route).
    pub retry_after: u64,
    /// Seconds between re-subscriptions of each receive queue.
    pub resubscribe_every: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            pow_bits: 16,
            subscribe_surbs: 8,
            retry_after: 5,
            resubscribe_every: 60,
        }
    }
}

/// What happened, for the application.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// An invitation asked for with [`Client::create_invitation`] is ready to share.
    InvitationReady { handle: u64, invitation: Invitation },
    /// A new contact: the other side of an invitation.
    ContactAdded {
        contact: ContactId,
        display_name: String,
    },
    /// A contact told us its display name (or a new one).
    ContactRenamed {
        contact: ContactId,
        display_name: String,
    },
    /// A message arrived.
    Message {
        contact: ContactId,
        envelope: Envelope,
        received_at: u64,
    },
    /// A relay stored a message we sent: it will reach the contact.
    Sent {
        contact: ContactId,
        message: crate::envelope::MessageId,
    },
    /// A relay refused a request for good.
    Failed { what: &'static str, code: ErrorCode },
}

/// Errors from the client API.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The relay list is too short to build routes, or the gateway is not in it. (caller)
    #[error("need at least one relay, with the gateway among them")]
    NoRelays,
    /// An invitation's relay is not in our directory. (caller or peer)
    #[error("the invitation's relay is unknown")]
    UnknownRelay,
    /// No such contact. (caller)
    #[error("unknown contact")]
    UnknownContact,
    /// The text does not fit one message. (caller)
    #[error("message too large")]
    TooLarge,
    /// The invitation is expired or otherwise unusable. (caller or peer)
    #[error("invalid invitation: {0}")]
    Invitation(#[from] handshake::HandshakeError),
    /// An onion packet could not be built or a frame decoded. (peer or caller)
    #[error("onion: {0}")]
    Onion(#[from] OnionError),
}

/// The recipient side of one of our queues.
struct RecvQueue {
    relay: RelayId,
    key: AuthKeyPair,
    owner: QueueOwner,
    subscribed_at: Option<u64>,
    surbs: Vec<SurbId>,
}

enum QueueOwner {
    /// Waiting for the first message from whoever uses the invitation.
    Invitation(Box<InvitationSecret>),
    Contact(ContactId),
}

/// The sender side of a contact's queue.
struct SendQueue {
    relay: RelayId,
    sender_id: QueueId,
    key: AuthKeyPair,
    secured: bool,
}

struct Contact {
    display_name: String,
    session: Session,
    send: SendQueue,
    /// Queue messages waiting to be sent, oldest first; the front one is in flight when
    /// `sending` is set.
    outbox: VecDeque<(crate::envelope::MessageId, Vec<u8>)>,
    sending: bool,
}

enum Purpose {
    /// A queue for an invitation we hand out.
    Invitation { handle: u64 },
    /// A queue for replies from the inviter, created when accepting their invitation.
    Accept { invitation: Invitation },
}

enum PendingKind {
    Create {
        key: Box<AuthKeyPair>,
        purpose: Purpose,
    },
    Secure {
        contact: ContactId,
    },
    Send {
        contact: ContactId,
    },
    Subscribe,
    Ack,
}

struct Pending {
    kind: PendingKind,
    /// The relay whose queue service answers.
    relay: RelayId,
    command: Command,
    sent_at: u64,
    surb: SurbId,
}

/// One person's messaging state on one device.
pub struct Client {
    config: ClientConfig,
    relays: Vec<Hop>,
    gateway: RelayId,
    conn: ConnTag,
    display_name: String,
    next_request: u64,
    next_contact: ContactId,
    pending: BTreeMap<u64, Pending>,
    openers: HashMap<SurbId, SurbOpener>,
    queues: HashMap<QueueId, RecvQueue>,
    contacts: BTreeMap<ContactId, Contact>,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
}

impl Client {
    /// A client that reaches the network through `gateway`, one of `relays`.
    pub fn new<R: CryptoRng + ?Sized>(
        rng: &mut R,
        relays: Vec<Hop>,
        gateway: RelayId,
        display_name: &str,
        config: ClientConfig,
    ) -> Result<Self, ClientError> {
        if !relays.iter().any(|h| h.id == gateway) {
            return Err(ClientError::NoRelays);
        }
        Ok(Self {
            config,
            relays,
            gateway,
            conn: ConnTag::random(rng),
            display_name: display_name.to_owned(),
            next_request: 1,
            next_contact: 1,
            pending: BTreeMap::new(),
            openers: HashMap::new(),
            queues: HashMap::new(),
            contacts: BTreeMap::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    pub fn gateway(&self) -> RelayId {
        self.gateway
    }

    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    /// Contacts with their display names, in the order they were added.
    pub fn contacts(&self) -> impl Iterator<Item = (ContactId, &str)> {
        self.contacts
            .iter()
            .map(|(id, c)| (*id, c.display_name.as_str()))
    }

    /// Requests sent and not yet answered.
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    /// Messages waiting to be stored by a relay, across all contacts.
    pub fn unsent_messages(&self) -> usize {
        self.contacts.values().map(|c| c.outbox.len()).sum()
    }

    /// The next frame to send to the gateway.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The WebSocket to the gateway is (re)connected: bind our connection tag to it and
    /// subscribe every receive queue again with reply blocks that lead to it.
    pub fn connected<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, now: u64) {
        self.transmit
            .push_front(ClientFrame::Bind(self.conn).encode());
        let ids: Vec<QueueId> = self.queues.keys().copied().collect();
        for id in ids {
            self.subscribe(rng, id, now);
        }
    }

    /// Asks a random relay for a queue and makes a one-time invitation for it. The invitation
    /// arrives as [`Event::InvitationReady`] with the returned handle.
    pub fn create_invitation<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
    ) -> Result<u64, ClientError> {
        let handle = self.next_request;
        self.create_queue(rng, Purpose::Invitation { handle }, now)?;
        Ok(handle)
    }

    /// Accepts someone's invitation: creates our reply queue, then secures theirs and sends
    /// the hello. The contact appears as [`Event::ContactAdded`].
    pub fn accept_invitation<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        invitation: Invitation,
        now: u64,
    ) -> Result<(), ClientError> {
        if invitation.is_expired(now) {
            return Err(handshake::HandshakeError::Expired.into());
        }
        if !self.relays.iter().any(|h| h.id == invitation.relay) {
            return Err(ClientError::UnknownRelay);
        }
        self.create_queue(rng, Purpose::Accept { invitation }, now)
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

    /// Time-driven work: retries unanswered requests, re-subscribes receive queues.
    pub fn tick<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, now: u64) {
        let due: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| now.saturating_sub(p.sent_at) >= self.config.retry_after)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some(p) = self.pending.remove(&id) {
                self.openers.remove(&p.surb);
                self.dispatch(rng, id, p.kind, p.relay, p.command, now);
            }
        }
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

    /// A binary frame from the gateway.
    pub fn handle_frame<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        frame: &[u8],
        now: u64,
    ) -> Result<(), ClientError> {
        let GatewayFrame::Reply { surb_id, sealed } = GatewayFrame::decode(frame)?;
        // Each SURB is single-use: its opener goes with the first reply through it.
        let opener = self.openers.remove(&surb_id).ok_or(OnionError::Malformed)?;
        let plaintext = opener.open(&sealed)?;
        match Inbound::decode(&plaintext) {
            Ok(Inbound::Response(response)) => self.on_response(rng, response, now),
            Ok(Inbound::Delivery(delivery)) => self.on_delivery(rng, delivery, now),
            Err(_) => return Err(OnionError::Malformed.into()),
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------

    fn create_queue<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        purpose: Purpose,
        now: u64,
    ) -> Result<(), ClientError> {
        let relay = match &purpose {
            // Reply queues live on a relay of our choosing; so do invitation queues.
            Purpose::Invitation { .. } | Purpose::Accept { .. } => self.random_relay(rng),
        };
        let key = AuthKeyPair::generate(rng);
        let command = Command::Create {
            recipient_key: key.public_key(),
            timestamp: now,
            pow_nonce: 0,
        };
        let id = self.next_request_id();
        self.dispatch(
            rng,
            id,
            PendingKind::Create {
                key: Box::new(key),
                purpose,
            },
            relay,
            command,
            now,
        );
        Ok(())
    }

    fn next_request_id(&mut self) -> u64 {
        let id = self.next_request;
        self.next_request += 1;
        id
    }

    fn random_relay<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> RelayId {
        let i = (rng.next_u32() as usize) % self.relays.len().max(1);
        self.relays.get(i).map_or(self.gateway, |h| h.id)
    }

    fn hop(&self, id: RelayId) -> Option<Hop> {
        self.relays.iter().find(|h| h.id == id).copied()
    }

    /// A relay other than the ones in `avoid`, if the directory has one.
    fn middle<R: CryptoRng + ?Sized>(&self, rng: &mut R, avoid: &[RelayId]) -> Option<Hop> {
        let choices: Vec<&Hop> = self
            .relays
            .iter()
            .filter(|h| !avoid.contains(&h.id))
            .collect();
        let pool: Vec<&Hop> = if choices.is_empty() {
            self.relays.iter().collect()
        } else {
            choices
        };
        let i = (rng.next_u32() as usize) % pool.len().max(1);
        pool.get(i).map(|h| **h)
    }

    /// A reply block leading back to us through two random relays and our gateway.
    fn new_surb<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
    ) -> Result<(onion::Surb, SurbId), ClientError> {
        let gateway = self.hop(self.gateway).ok_or(ClientError::NoRelays)?;
        let first = self
            .middle(rng, &[self.gateway])
            .ok_or(ClientError::NoRelays)?;
        let second = self
            .middle(rng, &[self.gateway, first.id])
            .ok_or(ClientError::NoRelays)?;
        let (surb, opener) = onion::build_surb(rng, &[first, second, gateway], self.conn)?;
        let id = opener.id();
        self.openers.insert(id, opener);
        Ok((surb, id))
    }

    /// Builds the request (with a fresh reply block, and for Create a fresh proof of work),
    /// wraps it for `relay` and queues the packet; remembers it until answered.
    fn dispatch<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        request_id: u64,
        kind: PendingKind,
        relay: RelayId,
        mut command: Command,
        now: u64,
    ) {
        // Commands whose signing key is gone (a contact or queue deleted meanwhile) are dropped.
        let Ok((reply, surb)) = self.new_surb(rng) else {
            return;
        };
        let encoded = match (&kind, &mut command) {
            (PendingKind::Create { key, .. }, Command::Create { timestamp, .. }) => {
                *timestamp = now;
                Request::create(request_id, reply, key, now, self.config.pow_bits)
            }
            _ => {
                let signer = self.signer_for(&kind, &command);
                let request = Request {
                    request_id,
                    reply,
                    command: command.clone(),
                };
                request.encode(signer.as_ref())
            }
        };
        let Ok(payload) = encoded else {
            self.openers.remove(&surb);
            return;
        };
        let Some(packet) = self.forward_packet(rng, relay, &payload) else {
            self.openers.remove(&surb);
            return;
        };
        self.transmit
            .push_back(ClientFrame::Packet(packet).encode());
        self.pending.insert(
            request_id,
            Pending {
                kind,
                relay,
                command,
                sent_at: now,
                surb,
            },
        );
    }

    fn signer_for(&self, kind: &PendingKind, command: &Command) -> Option<AuthKeyPair> {
        match (kind, command) {
            (PendingKind::Secure { contact }, _) | (PendingKind::Send { contact }, _) => {
                self.contacts.get(contact).map(|c| c.send.key.clone())
            }
            (_, Command::Subscribe { recipient_id, .. })
            | (_, Command::Ack { recipient_id, .. })
            | (_, Command::Delete { recipient_id }) => {
                self.queues.get(recipient_id).map(|q| q.key.clone())
            }
            _ => None,
        }
    }

    fn forward_packet<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        last: RelayId,
        payload: &[u8],
    ) -> Option<onion::Packet> {
        let gateway = self.hop(self.gateway)?;
        let last = self.hop(last)?;
        let middle = self.middle(rng, &[gateway.id, last.id])?;
        onion::build_forward(rng, &[gateway, middle, last], payload).ok()
    }

    fn subscribe<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, queue: QueueId, now: u64) {
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

    fn pump_outbox<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, contact: ContactId, now: u64) {
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
        let id = self.next_request_id();
        self.dispatch(rng, id, PendingKind::Send { contact }, relay, command, now);
    }

    fn secure<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, contact: ContactId, now: u64) {
        let Some(c) = self.contacts.get(&contact) else {
            return;
        };
        let command = Command::Secure {
            sender_id: c.send.sender_id,
            sender_key: c.send.key.public_key(),
        };
        let relay = c.send.relay;
        let id = self.next_request_id();
        self.dispatch(
            rng,
            id,
            PendingKind::Secure { contact },
            relay,
            command,
            now,
        );
    }

    fn add_contact(
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
            },
        );
        self.events.push_back(Event::ContactAdded {
            contact: id,
            display_name,
        });
        id
    }

    fn on_response<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, response: Response, now: u64) {
        // An answer to a request we already gave up on (or answered twice) is ignored.
        let Some(pending) = self.pending.remove(&response.request_id) else {
            return;
        };
        match (pending.kind, response.body) {
            (
                PendingKind::Create { key, purpose },
                ResponseBody::Ids {
                    recipient_id,
                    sender_id,
                },
            ) => self.on_queue_created(
                rng,
                pending.relay,
                *key,
                purpose,
                recipient_id,
                sender_id,
                now,
            ),
            (PendingKind::Secure { contact }, ResponseBody::Ok) => {
                if let Some(c) = self.contacts.get_mut(&contact) {
                    c.send.secured = true;
                }
                self.pump_outbox(rng, contact, now);
            }
            (PendingKind::Send { contact }, ResponseBody::Ok) => {
                if let Some(c) = self.contacts.get_mut(&contact) {
                    c.sending = false;
                    if let Some((message, _)) = c.outbox.pop_front() {
                        self.events.push_back(Event::Sent { contact, message });
                    }
                }
                self.pump_outbox(rng, contact, now);
            }
            (PendingKind::Subscribe, ResponseBody::Ok) => {}
            // Acks of messages already deleted (a retried Ack) are fine.
            (PendingKind::Ack, ResponseBody::Ok | ResponseBody::Error(ErrorCode::NoMessage)) => {}
            (kind, ResponseBody::Error(code)) => {
                let what = match kind {
                    PendingKind::Create { .. } => "create queue",
                    PendingKind::Secure { .. } => "secure queue",
                    PendingKind::Send { contact } => {
                        if let Some(c) = self.contacts.get_mut(&contact) {
                            c.sending = false;
                        }
                        "send"
                    }
                    PendingKind::Subscribe => "subscribe",
                    PendingKind::Ack => "acknowledge",
                };
                self.events.push_back(Event::Failed { what, code });
            }
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_queue_created<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
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
        match purpose {
            Purpose::Invitation { handle } => {
                let secret =
                    InvitationSecret::create(rng, InvitationKind::OneTime, relay, sender_id, now);
                let invitation = *secret.invitation();
                self.queues.insert(
                    recipient_id,
                    RecvQueue {
                        relay,
                        key,
                        owner: QueueOwner::Invitation(Box::new(secret)),
                        subscribed_at: None,
                        surbs: Vec::new(),
                    },
                );
                self.subscribe(rng, recipient_id, now);
                self.events
                    .push_back(Event::InvitationReady { handle, invitation });
            }
            Purpose::Accept { invitation } => {
                let Ok(accepted) = handshake::accept_invitation(
                    rng,
                    &invitation,
                    relay,
                    sender_id,
                    &self.display_name,
                    now,
                ) else {
                    self.events.push_back(Event::Failed {
                        what: "accept invitation",
                        code: ErrorCode::Expired,
                    });
                    return;
                };
                let send = SendQueue {
                    relay: invitation.relay,
                    sender_id: invitation.queue,
                    key: AuthKeyPair::generate(rng),
                    secured: false,
                };
                // The inviter tells us its name in its first message.
                let contact = self.add_contact(String::new(), accepted.session, send);
                if let Some(c) = self.contacts.get_mut(&contact) {
                    c.outbox
                        .push_back((accepted.envelope.id, accepted.first_message));
                }
                self.queues.insert(
                    recipient_id,
                    RecvQueue {
                        relay,
                        key,
                        owner: QueueOwner::Contact(contact),
                        subscribed_at: None,
                        surbs: Vec::new(),
                    },
                );
                self.subscribe(rng, recipient_id, now);
                self.secure(rng, contact, now);
            }
        }
    }

    fn on_delivery<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, delivery: Delivery, now: u64) {
        let queue_id = delivery.recipient_id;
        let Some(queue) = self.queues.get_mut(&queue_id) else {
            return;
        };
        match &mut queue.owner {
            QueueOwner::Invitation(secret) => {
                let own = *secret.invitation();
                if let Ok((session, hello, _)) = secret.receive_hello(rng, &delivery.body, now) {
                    let send = SendQueue {
                        relay: hello.reply_relay,
                        sender_id: hello.reply_queue,
                        key: AuthKeyPair::generate(rng),
                        secured: false,
                    };
                    // One-time: the invitation's secret is dropped; the queue now belongs to
                    // the conversation.
                    let contact = self.add_contact(hello.display_name, session, send);
                    if let Some(q) = self.queues.get_mut(&queue_id) {
                        q.owner = QueueOwner::Contact(contact);
                    }
                    // Our first message tells the new contact our name (the reply address in
                    // it is the queue they already write to).
                    let hello = Envelope::new(
                        rng,
                        now,
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
            QueueOwner::Contact(contact) => {
                let contact = *contact;
                if let Some(c) = self.contacts.get_mut(&contact) {
                    // Duplicates (a message a retry stored twice, a redelivery) and forgeries
                    // fail here and are simply acknowledged away.
                    if let Ok(envelope) = c.session.receive(rng, &delivery.body) {
                        match &envelope.content {
                            Content::Hello(hello) => {
                                c.display_name = hello.display_name.clone();
                                self.events.push_back(Event::ContactRenamed {
                                    contact,
                                    display_name: hello.display_name.clone(),
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

    fn ack<R: CryptoRng + ?Sized>(
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
