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
//!
//! # Persistence
//!
//! [`Client::to_persisted`] serializes everything the client needs to continue (keys, ratchet
//! sessions, queues, contacts, unsent messages, requests not yet answered) and
//! [`Client::from_persisted`] reads it back; the layout is in `docs/PROTOCOL.md`, "Client state
//! (at rest)". The bytes hold every secret of the account: the storage layer encrypts them.
//! Reply-block openers and unanswered Subscribes and Acks are not kept. After a restore, and
//! once the WebSocket is open, the driver calls [`Client::connected`] as usual: it subscribes
//! every receive queue again with fresh reply blocks (so the relays redeliver what was not
//! acknowledged), and the next [`Client::tick`] resends the queue creations, Secures and Sends
//! that were in flight.

use core::fmt;
use std::collections::{BTreeMap, HashMap, VecDeque};

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::attachment::{self, AttachmentError};
use crate::envelope::{Attachment, AttachmentKey, BlobId, Content, Envelope, Hello, MessageId};
use crate::handshake::{self, InvitationSecret};
use crate::ids::{QueueId, RelayId};
use crate::invitation::{Invitation, InvitationKind};
use crate::keys::AuthKeyPair;
use crate::onion::{self, ClientFrame, ConnTag, GatewayFrame, Hop, OnionError, SurbId, SurbOpener};
use crate::queue::{
    Command, Delivery, ErrorCode, Inbound, QueueMessageId, Request, Response, ResponseBody,
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
    /// Chunks of an attachment we send were stored; at `done == total` the attachment's
    /// message is queued, and [`Event::Sent`] follows as for a text.
    UploadProgress {
        contact: ContactId,
        message: MessageId,
        done: u32,
        total: u32,
    },
    /// An attachment's relay refused a chunk: the message is not sent.
    UploadFailed {
        contact: ContactId,
        message: MessageId,
        code: ErrorCode,
    },
    /// Chunks of an attachment we fetch arrived.
    DownloadProgress { handle: u64, done: u32, total: u32 },
    /// An attachment asked for with [`Client::fetch_attachment`] arrived whole and verified.
    Downloaded {
        handle: u64,
        data: Zeroizing<Vec<u8>>,
    },
    /// An attachment could not be fetched: expired on its relay ([`ErrorCode::NoBlob`]),
    /// or its chunks do not authenticate.
    DownloadFailed { handle: u64, error: DownloadError },
    /// The contact (or we, through [`Client::set_disappearing`]) set how many seconds
    /// messages of this conversation are kept; 0 keeps them.
    DisappearingChanged {
        contact: ContactId,
        seconds: u32,
        by_contact: bool,
    },
}

/// Why an attachment download failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadError {
    /// The relay refused (usually [`ErrorCode::NoBlob`]: expired or never stored).
    Relay(ErrorCode),
    /// A chunk or the whole file did not verify.
    Corrupt(AttachmentError),
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
    /// A file too large, or a name, type or thumbnail too long. (caller)
    #[error("attachment: {0}")]
    Attachment(#[from] AttachmentError),
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
    /// Seconds messages of this conversation are kept (0: kept).
    disappearing: u32,
}

/// Chunks in flight per attachment transfer.
const TRANSFER_WINDOW: u32 = 8;

/// An attachment on its way to its relay; its message is sent once every chunk is stored.
struct Upload {
    contact: ContactId,
    envelope: Envelope,
    data: Zeroizing<Vec<u8>>,
    next: u32,
    done: u32,
    total: u32,
}

/// An attachment being fetched.
struct Download {
    attachment: Attachment,
    /// Opened chunks, by index.
    chunks: BTreeMap<u32, Zeroizing<Vec<u8>>>,
    next: u32,
    total: u32,
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
    BlobPut {
        upload: u64,
    },
    BlobGet {
        download: u64,
    },
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
    uploads: BTreeMap<u64, Upload>,
    downloads: BTreeMap<u64, Download>,
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
            uploads: BTreeMap::new(),
            downloads: BTreeMap::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    /// Takes a fresh relay directory (relays rotate their Sphinx keys every epoch): routes are
    /// built with these keys from now on. Refused (and nothing changed) when our gateway is
    /// not in it.
    pub fn update_relays(&mut self, relays: Vec<Hop>) -> Result<(), ClientError> {
        if !relays.iter().any(|h| h.id == self.gateway) {
            return Err(ClientError::NoRelays);
        }
        self.relays = relays;
        Ok(())
    }

    pub fn gateway(&self) -> RelayId {
        self.gateway
    }

    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    /// Changes our display name and tells every contact: a hello with the new name goes to
    /// each (they see [`Event::ContactRenamed`]). In an established conversation a hello's
    /// reply address is not used; we send the relay of our receive queue for that contact and
    /// an all-zero queue id. Fails with `TooLarge` (changing nothing) when the name does not
    /// fit a hello (`MAX_DISPLAY_NAME_BYTES`).
    pub fn set_display_name<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        display_name: &str,
        now: u64,
    ) -> Result<(), ClientError> {
        let hello = |relay| Hello {
            reply_relay: relay,
            reply_queue: QueueId::from_bytes([0; QueueId::LEN]),
            display_name: display_name.to_owned(),
        };
        // Checked first, so that a name too long changes nothing.
        if display_name.len() > crate::envelope::MAX_DISPLAY_NAME_BYTES {
            return Err(ClientError::TooLarge);
        }
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

    /// Ids of all contacts, in the order they were added.
    pub fn contact_ids(&self) -> impl Iterator<Item = ContactId> + '_ {
        self.contacts.keys().copied()
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

    /// Sends a file: encrypts it under a fresh key, stores it as blob chunks on a random relay
    /// (a few chunks in flight at a time, [`Event::UploadProgress`] after each), then sends
    /// the message that refers to it. Returns that message's envelope (its id names the
    /// transfer in the events). `thumbnail` is an inline preview (at most
    /// [`crate::envelope::MAX_THUMBNAIL_BYTES`]), empty for none.
    ///
    /// A transfer is not part of the persisted state: after a restore the driver sends the
    /// file again if it still wants to.
    #[allow(clippy::too_many_arguments)]
    pub fn send_attachment<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        contact: ContactId,
        data: &[u8],
        mime: &str,
        name: &str,
        thumbnail: &[u8],
        now: u64,
    ) -> Result<Envelope, ClientError> {
        if !self.contacts.contains_key(&contact) {
            return Err(ClientError::UnknownContact);
        }
        let total = attachment::chunk_count(data.len() as u64)?;
        let blob_relay = self.random_relay(rng);
        let blob_id = BlobId::random(rng);
        let key = AttachmentKey::random(rng);
        let envelope = Envelope::new(
            rng,
            now,
            Content::Attachment(Attachment {
                blob_relay,
                blob_id,
                key,
                size: data.len() as u64,
                sha256: attachment::file_hash(data),
                mime: mime.to_owned(),
                name: name.to_owned(),
                thumbnail: thumbnail.to_vec(),
            }),
        );
        // Refuse names, types and previews that do not fit before anything is uploaded.
        envelope.encode().map_err(|_| ClientError::TooLarge)?;
        let upload = self.next_request_id();
        self.uploads.insert(
            upload,
            Upload {
                contact,
                envelope: envelope.clone(),
                data: Zeroizing::new(data.to_vec()),
                next: 0,
                done: 0,
                total,
            },
        );
        self.pump_upload(rng, upload, now);
        Ok(envelope)
    }

    /// Fetches and verifies the file an attachment refers to. Returns a handle;
    /// [`Event::DownloadProgress`] follows each chunk, then [`Event::Downloaded`] or
    /// [`Event::DownloadFailed`]. Not persisted, like uploads.
    pub fn fetch_attachment<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        attachment: &Attachment,
        now: u64,
    ) -> Result<u64, ClientError> {
        if self.hop(attachment.blob_relay).is_none() {
            return Err(ClientError::UnknownRelay);
        }
        let total = attachment::chunk_count(attachment.size)?;
        let handle = self.next_request_id();
        self.downloads.insert(
            handle,
            Download {
                attachment: attachment.clone(),
                chunks: BTreeMap::new(),
                next: 0,
                total,
            },
        );
        self.pump_download(rng, handle, now);
        Ok(handle)
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
        // Our queues (for invitations and for replies) live on a relay of our choosing.
        let relay = self.random_relay(rng);
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

    /// Requests of one transfer still waiting for an answer.
    fn in_flight(&self, is_ours: impl Fn(&PendingKind) -> bool) -> u32 {
        let n = self.pending.values().filter(|p| is_ours(&p.kind)).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Puts chunks of an upload on the wire until the window is full.
    fn pump_upload<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, upload: u64, now: u64) {
        let flying =
            self.in_flight(|k| matches!(k, PendingKind::BlobPut { upload: u } if *u == upload));
        let mut room = TRANSFER_WINDOW.saturating_sub(flying);
        while room > 0 {
            let Some(u) = self.uploads.get_mut(&upload) else {
                return;
            };
            if u.next >= u.total {
                return;
            }
            let index = u.next;
            u.next += 1;
            let Content::Attachment(a) = &u.envelope.content else {
                return;
            };
            let (relay, blob_id) = (a.blob_relay, a.blob_id);
            let Ok(data) = attachment::seal_chunk(&a.key, &a.blob_id, &u.data, index) else {
                return;
            };
            let command = Command::BlobPut {
                blob_id,
                index,
                data,
            };
            let id = self.next_request_id();
            self.dispatch(
                rng,
                id,
                PendingKind::BlobPut { upload },
                relay,
                command,
                now,
            );
            room -= 1;
        }
    }

    /// Asks for chunks of a download until the window is full.
    fn pump_download<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, download: u64, now: u64) {
        let flying =
            self.in_flight(|k| matches!(k, PendingKind::BlobGet { download: d } if *d == download));
        let mut room = TRANSFER_WINDOW.saturating_sub(flying);
        while room > 0 {
            let Some(d) = self.downloads.get_mut(&download) else {
                return;
            };
            if d.next >= d.total {
                return;
            }
            let index = d.next;
            d.next += 1;
            let command = Command::BlobGet {
                blob_id: d.attachment.blob_id,
                index,
            };
            let relay = d.attachment.blob_relay;
            let id = self.next_request_id();
            self.dispatch(
                rng,
                id,
                PendingKind::BlobGet { download },
                relay,
                command,
                now,
            );
            room -= 1;
        }
    }

    /// Forgets a transfer's requests still in flight.
    fn drop_requests(&mut self, is_ours: impl Fn(&PendingKind) -> bool) {
        let ids: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| is_ours(&p.kind))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if let Some(p) = self.pending.remove(&id) {
                self.openers.remove(&p.surb);
            }
        }
    }

    fn on_chunk_stored<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, upload: u64, now: u64) {
        let Some(u) = self.uploads.get_mut(&upload) else {
            return;
        };
        u.done += 1;
        self.events.push_back(Event::UploadProgress {
            contact: u.contact,
            message: u.envelope.id,
            done: u.done,
            total: u.total,
        });
        if u.done < u.total {
            self.pump_upload(rng, upload, now);
            return;
        }
        if let Some(u) = self.uploads.remove(&upload) {
            // The contact may be gone meanwhile; then there is no one to tell.
            let _ = self.send_envelope(rng, u.contact, &u.envelope, now);
        }
    }

    fn on_chunk_fetched<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        download: u64,
        index: u32,
        data: &[u8],
        now: u64,
    ) {
        let Some(d) = self.downloads.get_mut(&download) else {
            return;
        };
        let a = &d.attachment;
        let opened = match attachment::open_chunk(&a.key, &a.blob_id, index, data) {
            Ok(opened) if index < d.total => opened,
            Ok(_) => return,
            Err(e) => return self.fail_download(download, DownloadError::Corrupt(e)),
        };
        d.chunks.insert(index, opened);
        let (done, total) = (u32::try_from(d.chunks.len()).unwrap_or(u32::MAX), d.total);
        self.events.push_back(Event::DownloadProgress {
            handle: download,
            done,
            total,
        });
        if done < total {
            self.pump_download(rng, download, now);
            return;
        }
        let Some(d) = self.downloads.remove(&download) else {
            return;
        };
        let mut joined = Zeroizing::new(Vec::with_capacity(
            d.chunks.len() * attachment::CHUNK_PLAINTEXT,
        ));
        for chunk in d.chunks.values() {
            joined.extend_from_slice(chunk);
        }
        match attachment::finish(joined, d.attachment.size, &d.attachment.sha256) {
            Ok(data) => self.events.push_back(Event::Downloaded {
                handle: download,
                data,
            }),
            Err(e) => self.events.push_back(Event::DownloadFailed {
                handle: download,
                error: DownloadError::Corrupt(e),
            }),
        }
    }

    fn fail_download(&mut self, download: u64, error: DownloadError) {
        if self.downloads.remove(&download).is_some() {
            self.drop_requests(
                |k| matches!(k, PendingKind::BlobGet { download: d } if *d == download),
            );
            self.events.push_back(Event::DownloadFailed {
                handle: download,
                error,
            });
        }
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
                disappearing: 0,
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
            // `Exists`: a retried chunk whose first copy was stored.
            (
                PendingKind::BlobPut { upload },
                ResponseBody::Ok | ResponseBody::Error(ErrorCode::Duplicate),
            ) => self.on_chunk_stored(rng, upload, now),
            (PendingKind::BlobPut { upload }, ResponseBody::Error(code)) => {
                if let Some(u) = self.uploads.remove(&upload) {
                    self.drop_requests(
                        |k| matches!(k, PendingKind::BlobPut { upload: x } if *x == upload),
                    );
                    self.events.push_back(Event::UploadFailed {
                        contact: u.contact,
                        message: u.envelope.id,
                        code,
                    });
                }
            }
            (PendingKind::BlobGet { download }, ResponseBody::BlobChunk { index, data }) => {
                // The answer must be for the chunk asked for.
                match &pending.command {
                    Command::BlobGet { index: asked, .. } if *asked == index => {
                        self.on_chunk_fetched(rng, download, index, &data, now)
                    }
                    _ => {
                        self.fail_download(download, DownloadError::Corrupt(AttachmentError::Index))
                    }
                }
            }
            (PendingKind::BlobGet { download }, ResponseBody::Error(code)) => {
                self.fail_download(download, DownloadError::Relay(code))
            }
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
                    PendingKind::BlobPut { .. } | PendingKind::BlobGet { .. } => "blob",
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

// ---------------------------------------------------------------------------------------------
// Persistence
// ---------------------------------------------------------------------------------------------

/// First byte of [`PersistedClient`]: the layout's version.
/// Version 2 added each contact's disappearing-messages setting; version 1 is still read.
pub const CLIENT_STATE_VERSION: u8 = 2;

const OWNER_CONTACT: u8 = 0x00;
const OWNER_INVITATION: u8 = 0x01;
const PENDING_CREATE: u8 = 0x01;
const PENDING_SECURE: u8 = 0x02;
const PENDING_SEND: u8 = 0x03;
const PURPOSE_INVITATION: u8 = 0x01;
const PURPOSE_ACCEPT: u8 = 0x02;
/// Secret key ‖ invitation (see [`InvitationSecret::to_persisted_bytes`]).
const INVITATION_SECRET_LEN: usize = 32 + crate::invitation::ENCODED_LEN;
/// Stands in for the SURB of a restored request: no opener has it (random ids are never zero).
const NO_SURB: SurbId = SurbId::from_bytes([0; onion::SURB_ID_LEN]);

/// A serialized [`Client`]. Holds every key of the account: encrypt it before it touches
/// storage. Zeroized on drop, never printed.
pub struct PersistedClient(Zeroizing<Vec<u8>>);

impl PersistedClient {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for PersistedClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersistedClient(<redacted>)")
    }
}

/// Errors reading a persisted client. The bytes come from our own storage, so any of these
/// means corruption or tampering (or a newer build's format).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PersistError {
    #[error("client state is truncated")]
    Truncated,
    #[error("client state has trailing bytes")]
    TrailingBytes,
    #[error("client state version {0} is not supported")]
    UnknownVersion(u8),
    /// A field holds a value the client cannot have written.
    #[error("client state is invalid: {0}")]
    Invalid(&'static str),
}

struct Writer(Zeroizing<Vec<u8>>);

impl Writer {
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_be_bytes());
    }
    /// A count: collections never approach 2³² entries.
    fn count(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
    /// `u16` length ‖ UTF-8. Display names are far shorter; a longer one is cut at a
    /// character boundary.
    fn name(&mut self, name: &str) {
        let mut end = name.len().min(usize::from(u16::MAX));
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let b = name.as_bytes().get(..end).unwrap_or_default();
        self.u16(u16::try_from(b.len()).unwrap_or(0));
        self.bytes(b);
    }
    /// `u32` length ‖ bytes.
    fn long(&mut self, b: &[u8]) {
        self.count(b.len());
        self.bytes(b);
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    off: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PersistError> {
        let end = self.off.checked_add(n).ok_or(PersistError::Truncated)?;
        let out = self
            .bytes
            .get(self.off..end)
            .ok_or(PersistError::Truncated)?;
        self.off = end;
        Ok(out)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], PersistError> {
        self.take(N)?
            .try_into()
            .map_err(|_| PersistError::Truncated)
    }
    fn u8(&mut self) -> Result<u8, PersistError> {
        self.array::<1>().map(|[b]| b)
    }
    fn u16(&mut self) -> Result<u16, PersistError> {
        self.array().map(u16::from_be_bytes)
    }
    fn u32(&mut self) -> Result<u32, PersistError> {
        self.array().map(u32::from_be_bytes)
    }
    fn u64(&mut self) -> Result<u64, PersistError> {
        self.array().map(u64::from_be_bytes)
    }
    fn count(&mut self) -> Result<usize, PersistError> {
        usize::try_from(self.u32()?).map_err(|_| PersistError::Truncated)
    }
    fn long(&mut self) -> Result<&'a [u8], PersistError> {
        let n = self.count()?;
        self.take(n)
    }
    fn string(&mut self) -> Result<String, PersistError> {
        let n = self.u16()?;
        let b = self.take(usize::from(n))?;
        core::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| PersistError::Invalid("name is not UTF-8"))
    }
    fn key(&mut self) -> Result<AuthKeyPair, PersistError> {
        let seed = Zeroizing::new(self.array::<32>()?);
        Ok(AuthKeyPair::from_persisted_bytes(*seed))
    }
    fn flag(&mut self) -> Result<bool, PersistError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(PersistError::Invalid("flag is not 0 or 1")),
        }
    }
}

impl Client {
    /// Serializes the client's state (see the module docs, "Persistence"). Frames not yet
    /// polled and events not yet polled are not included: drain them first.
    pub fn to_persisted(&self) -> PersistedClient {
        let mut w = Writer(Zeroizing::new(Vec::with_capacity(
            256 + self.contacts.len() * 1024 + self.unsent_messages() * 3_600,
        )));
        w.u8(CLIENT_STATE_VERSION);
        let c = &self.config;
        w.u8(c.pow_bits);
        w.u16(u16::try_from(c.subscribe_surbs).unwrap_or(u16::MAX));
        w.u64(c.retry_after);
        w.u64(c.resubscribe_every);
        w.count(self.relays.len());
        for hop in &self.relays {
            w.bytes(hop.id.as_bytes());
            w.bytes(hop.key.as_bytes());
        }
        w.bytes(self.gateway.as_bytes());
        w.bytes(self.conn.as_bytes());
        w.name(&self.display_name);
        w.u64(self.next_request);
        w.u64(self.next_contact);

        // Sorted, so the same state always gives the same bytes.
        let mut queues: Vec<(&QueueId, &RecvQueue)> = self.queues.iter().collect();
        queues.sort_by_key(|(id, _)| **id);
        w.count(queues.len());
        for (id, q) in queues {
            w.bytes(id.as_bytes());
            w.bytes(q.relay.as_bytes());
            w.bytes(&q.key.to_persisted_bytes()[..]);
            match &q.owner {
                QueueOwner::Contact(contact) => {
                    w.u8(OWNER_CONTACT);
                    w.u64(*contact);
                }
                QueueOwner::Invitation(secret) => {
                    w.u8(OWNER_INVITATION);
                    w.bytes(&secret.to_persisted_bytes()[..]);
                }
            }
        }

        w.count(self.contacts.len());
        for (id, contact) in &self.contacts {
            w.u64(*id);
            w.name(&contact.display_name);
            w.long(contact.session.to_persisted().as_bytes());
            let s = &contact.send;
            w.bytes(s.relay.as_bytes());
            w.bytes(s.sender_id.as_bytes());
            w.bytes(&s.key.to_persisted_bytes()[..]);
            w.u8(u8::from(s.secured));
            w.u32(contact.disappearing);
            w.count(contact.outbox.len());
            for (message_id, message) in &contact.outbox {
                w.bytes(message_id.as_bytes());
                w.long(message);
            }
        }

        let kept: Vec<(&u64, &Pending)> = self
            .pending
            .iter()
            .filter(|(_, p)| {
                matches!(
                    p.kind,
                    PendingKind::Create { .. }
                        | PendingKind::Secure { .. }
                        | PendingKind::Send { .. }
                )
            })
            .collect();
        w.count(kept.len());
        for (id, p) in kept {
            w.u64(*id);
            w.bytes(p.relay.as_bytes());
            match &p.kind {
                PendingKind::Create { key, purpose } => {
                    w.u8(PENDING_CREATE);
                    w.bytes(&key.to_persisted_bytes()[..]);
                    match purpose {
                        Purpose::Invitation { handle } => {
                            w.u8(PURPOSE_INVITATION);
                            w.u64(*handle);
                        }
                        Purpose::Accept { invitation } => {
                            w.u8(PURPOSE_ACCEPT);
                            w.bytes(&invitation.to_bytes());
                        }
                    }
                }
                PendingKind::Secure { contact } => {
                    w.u8(PENDING_SECURE);
                    w.u64(*contact);
                }
                PendingKind::Send { contact } => {
                    w.u8(PENDING_SEND);
                    w.u64(*contact);
                }
                PendingKind::Subscribe
                | PendingKind::Ack
                | PendingKind::BlobPut { .. }
                | PendingKind::BlobGet { .. } => {}
            }
        }
        PersistedClient(w.0)
    }

    /// Reads what [`Client::to_persisted`] wrote. Nothing is sent: call
    /// [`Client::connected`] once the gateway's WebSocket is open, then [`Client::tick`] as
    /// usual; requests that were in flight are resent by the first tick.
    pub fn from_persisted(bytes: &[u8]) -> Result<Client, PersistError> {
        let mut r = Reader { bytes, off: 0 };
        let version = r.u8()?;
        if !(1..=CLIENT_STATE_VERSION).contains(&version) {
            return Err(PersistError::UnknownVersion(version));
        }
        let config = ClientConfig {
            pow_bits: r.u8()?,
            subscribe_surbs: usize::from(r.u16()?),
            retry_after: r.u64()?,
            resubscribe_every: r.u64()?,
        };
        let relay_count = r.count()?;
        let mut relays = Vec::new();
        for _ in 0..relay_count {
            let id = RelayId::from_bytes(r.array()?);
            let key = crate::keys::PublicKey::from_bytes(r.array()?);
            relays.push(Hop { id, key });
        }
        let gateway = RelayId::from_bytes(r.array()?);
        if !relays.iter().any(|h| h.id == gateway) {
            return Err(PersistError::Invalid("gateway is not among the relays"));
        }
        let conn = ConnTag::from_bytes(r.array()?);
        let display_name = r.string()?;
        let next_request = r.u64()?;
        let next_contact = r.u64()?;

        let mut queues = HashMap::new();
        // Each list is in strictly increasing order of its key: one state, one encoding.
        let mut last_queue = None;
        let queue_count = r.count()?;
        for _ in 0..queue_count {
            let id = QueueId::from_bytes(r.array()?);
            let relay = RelayId::from_bytes(r.array()?);
            let key = r.key()?;
            let owner = match r.u8()? {
                OWNER_CONTACT => QueueOwner::Contact(r.u64()?),
                OWNER_INVITATION => {
                    let secret =
                        InvitationSecret::from_persisted_bytes(r.take(INVITATION_SECRET_LEN)?)
                            .map_err(|_| PersistError::Invalid("invitation secret"))?;
                    QueueOwner::Invitation(Box::new(secret))
                }
                _ => return Err(PersistError::Invalid("unknown queue owner")),
            };
            let queue = RecvQueue {
                relay,
                key,
                owner,
                subscribed_at: None,
                surbs: Vec::new(),
            };
            if last_queue.is_some_and(|last| last >= id) {
                return Err(PersistError::Invalid("queues out of order"));
            }
            last_queue = Some(id);
            queues.insert(id, queue);
        }

        let mut contacts = BTreeMap::new();
        let contact_count = r.count()?;
        for _ in 0..contact_count {
            let id = r.u64()?;
            if id >= next_contact {
                return Err(PersistError::Invalid("contact id not yet issued"));
            }
            let display_name = r.string()?;
            let session = Session::from_persisted(r.long()?)
                .map_err(|_| PersistError::Invalid("ratchet session"))?;
            let send = SendQueue {
                relay: RelayId::from_bytes(r.array()?),
                sender_id: QueueId::from_bytes(r.array()?),
                key: r.key()?,
                secured: r.flag()?,
            };
            let disappearing = if version >= 2 { r.u32()? } else { 0 };
            let mut outbox = VecDeque::new();
            let outbox_len = r.count()?;
            for _ in 0..outbox_len {
                let message_id = crate::envelope::MessageId::from_bytes(r.array()?);
                let message = r.long()?.to_vec();
                outbox.push_back((message_id, message));
            }
            let contact = Contact {
                display_name,
                session,
                send,
                outbox,
                sending: false,
                disappearing,
            };
            if contacts.keys().next_back().is_some_and(|last| *last >= id) {
                return Err(PersistError::Invalid("contacts out of order"));
            }
            contacts.insert(id, contact);
        }
        if queues.values().any(|q| match q.owner {
            QueueOwner::Contact(c) => !contacts.contains_key(&c),
            QueueOwner::Invitation(_) => false,
        }) {
            return Err(PersistError::Invalid("queue of an unknown contact"));
        }

        let mut pending = BTreeMap::new();
        let pending_count = r.count()?;
        for _ in 0..pending_count {
            let id = r.u64()?;
            if id >= next_request {
                return Err(PersistError::Invalid("request id not yet issued"));
            }
            let relay = RelayId::from_bytes(r.array()?);
            let (kind, command) = match r.u8()? {
                PENDING_CREATE => {
                    let key = r.key()?;
                    let purpose = match r.u8()? {
                        PURPOSE_INVITATION => Purpose::Invitation { handle: r.u64()? },
                        PURPOSE_ACCEPT => {
                            let invitation = Invitation::from_bytes_unchecked(
                                r.take(crate::invitation::ENCODED_LEN)?,
                            )
                            .map_err(|_| PersistError::Invalid("invitation"))?;
                            Purpose::Accept { invitation }
                        }
                        _ => return Err(PersistError::Invalid("unknown queue purpose")),
                    };
                    // The timestamp is set again when the request is resent.
                    let command = Command::Create {
                        recipient_key: key.public_key(),
                        timestamp: 0,
                        pow_nonce: 0,
                    };
                    let kind = PendingKind::Create {
                        key: Box::new(key),
                        purpose,
                    };
                    (kind, command)
                }
                PENDING_SECURE => {
                    let contact = r.u64()?;
                    let c = contacts
                        .get(&contact)
                        .ok_or(PersistError::Invalid("secure for an unknown contact"))?;
                    let command = Command::Secure {
                        sender_id: c.send.sender_id,
                        sender_key: c.send.key.public_key(),
                    };
                    (PendingKind::Secure { contact }, command)
                }
                PENDING_SEND => {
                    let contact = r.u64()?;
                    let c = contacts
                        .get_mut(&contact)
                        .ok_or(PersistError::Invalid("send for an unknown contact"))?;
                    // The message in flight is always the front of the outbox.
                    let message = c
                        .outbox
                        .front()
                        .map(|(_, m)| m.clone())
                        .ok_or(PersistError::Invalid("send with an empty outbox"))?;
                    if c.sending {
                        return Err(PersistError::Invalid("two sends to one contact"));
                    }
                    c.sending = true;
                    let command = Command::Send {
                        sender_id: c.send.sender_id,
                        message,
                    };
                    (PendingKind::Send { contact }, command)
                }
                _ => return Err(PersistError::Invalid("unknown request kind")),
            };
            // Sent at time 0: the first tick after a restore resends it.
            let request = Pending {
                kind,
                relay,
                command,
                sent_at: 0,
                surb: NO_SURB,
            };
            if pending.keys().next_back().is_some_and(|last| *last >= id) {
                return Err(PersistError::Invalid("requests out of order"));
            }
            pending.insert(id, request);
        }
        if r.off != bytes.len() {
            return Err(PersistError::TrailingBytes);
        }
        Ok(Client {
            config,
            relays,
            gateway,
            conn,
            display_name,
            next_request,
            next_contact,
            pending,
            openers: HashMap::new(),
            queues,
            contacts,
            uploads: BTreeMap::new(),
            downloads: BTreeMap::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onion::RelayKey;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const NOW: u64 = 1_800_000_000;

    fn directory(rng: &mut ChaCha20Rng) -> Vec<Hop> {
        (0..4)
            .map(|_| Hop {
                id: RelayId::random(rng),
                key: RelayKey::generate(rng, 1).public_key(),
            })
            .collect()
    }

    /// A client with a queue creation in flight for each purpose.
    fn busy_client(rng: &mut ChaCha20Rng) -> Client {
        let relays = directory(rng);
        let gateway = relays[0].id;
        let mut client = Client::new(
            rng,
            relays.clone(),
            gateway,
            "Alice ✓",
            ClientConfig::default(),
        )
        .unwrap();
        client.create_invitation(rng, NOW).unwrap();
        let their_queue = QueueId::random(rng);
        let secret =
            InvitationSecret::create(rng, InvitationKind::OneTime, relays[2].id, their_queue, NOW);
        client
            .accept_invitation(rng, *secret.invitation(), NOW)
            .unwrap();
        while client.poll_transmit().is_some() {}
        client
    }

    #[test]
    fn round_trip_gives_the_same_bytes() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let client = busy_client(&mut rng);
        let saved = client.to_persisted();
        assert_eq!(saved.as_bytes().first(), Some(&CLIENT_STATE_VERSION));
        let restored = Client::from_persisted(saved.as_bytes()).unwrap();
        assert_eq!(restored.to_persisted().as_bytes(), saved.as_bytes());
        assert_eq!(restored.display_name(), "Alice ✓");
        assert_eq!(restored.gateway(), client.gateway());
        assert_eq!(restored.pending_requests(), 2);
        assert_eq!(restored.config, client.config);
    }

    #[test]
    fn a_new_display_name_is_kept_and_one_too_long_changes_nothing() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let mut client = busy_client(&mut rng);
        let too_long = "x".repeat(crate::envelope::MAX_DISPLAY_NAME_BYTES + 1);
        assert_eq!(
            client.set_display_name(&mut rng, &too_long, NOW),
            Err(ClientError::TooLarge)
        );
        assert_eq!(client.display_name(), "Alice ✓");
        client.set_display_name(&mut rng, "Alicia", NOW).unwrap();
        let restored = Client::from_persisted(client.to_persisted().as_bytes()).unwrap();
        assert_eq!(restored.display_name(), "Alicia");
    }

    #[test]
    fn restored_requests_wait_for_the_driver_then_are_resent() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let saved = busy_client(&mut rng).to_persisted();
        let mut restored = Client::from_persisted(saved.as_bytes()).unwrap();
        assert!(
            restored.poll_transmit().is_none(),
            "restoring sends nothing"
        );
        restored.connected(&mut rng, NOW + 100);
        restored.tick(&mut rng, NOW + 100);
        let frames: Vec<Vec<u8>> = std::iter::from_fn(|| restored.poll_transmit()).collect();
        // The bind, then both queue creations again.
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].first(), Some(&onion::FRAME_BIND));
        assert_eq!(restored.pending_requests(), 2);
        assert_eq!(restored.openers.len(), 2);
    }

    #[test]
    fn every_truncation_and_extension_is_an_error() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let saved = busy_client(&mut rng).to_persisted();
        let bytes = saved.as_bytes();
        for cut in 0..bytes.len() {
            assert!(
                Client::from_persisted(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut long = bytes.to_vec();
        long.push(0);
        assert_eq!(
            Client::from_persisted(&long).err(),
            Some(PersistError::TrailingBytes)
        );
        let mut v = bytes.to_vec();
        v[0] = 9;
        assert_eq!(
            Client::from_persisted(&v).err(),
            Some(PersistError::UnknownVersion(9))
        );
        assert_eq!(
            Client::from_persisted(&[]).err(),
            Some(PersistError::Truncated)
        );
    }

    #[test]
    fn a_gateway_outside_the_directory_is_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let saved = busy_client(&mut rng).to_persisted();
        let mut v = saved.as_bytes().to_vec();
        // version, pow bits, SURBs (2), retry (8), resubscribe (8), relay count (4), 4 × 64.
        let gateway_at = 1 + 1 + 2 + 8 + 8 + 4 + 4 * 64;
        v[gateway_at] ^= 1;
        assert_eq!(
            Client::from_persisted(&v).err(),
            Some(PersistError::Invalid("gateway is not among the relays"))
        );
    }

    #[test]
    fn an_overlong_name_is_cut_at_a_character_boundary() {
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        let relays = directory(&mut rng);
        let name = "é".repeat(40_000);
        let client = Client::new(
            &mut rng,
            relays.clone(),
            relays[0].id,
            &name,
            ClientConfig::default(),
        )
        .unwrap();
        let restored = Client::from_persisted(client.to_persisted().as_bytes()).unwrap();
        assert_eq!(restored.display_name(), "é".repeat(32_767));
    }

    #[test]
    fn debug_shows_no_secret() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let client = busy_client(&mut rng);
        let saved = client.to_persisted();
        assert_eq!(format!("{saved:?}"), "PersistedClient(<redacted>)");
        // The invitation's queue key is in the bytes, and in no Debug output.
        let Some(PendingKind::Create { key, .. }) = client.pending.values().map(|p| &p.kind).next()
        else {
            panic!("a pending create");
        };
        let seed = key.to_persisted_bytes();
        assert!(saved.as_bytes().windows(32).any(|w| w == &seed[..]));
        let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
        for text in [format!("{saved:?}"), format!("{key:?}")] {
            assert!(!text.contains(&hex[..8]));
        }
    }
}
