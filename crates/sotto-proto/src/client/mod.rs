//! A messaging client, sans-IO: invitations, contacts, sending and receiving through queues
//! and onion packets.
//!
//! The browser library and the native test clients drive a [`Client`] the same way:
//! 1. after a WebSocket to the gateway opens, call [`Client::connected`];
//! 2. hand every binary frame from the gateway to [`Client::handle_frame`];
//! 3. call [`Client::tick`] when [`Client::poll_timeout`] says something is due (or simply
//!    every second or so);
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
//! # Where things are
//!
//! This module holds the facade (construction, frames in, time in, frames and events out).
//! The rest is split along the client's seams:
//! - `request`: requests in flight, their retries, and the answers that settle them;
//! - `route`: relay, route and reply-block (SURB) choice;
//! - `contact`: contacts, their send queues and outboxes;
//! - `receive`: our receive queues (subscriptions, deliveries, acknowledgements);
//! - `invitation`: making and accepting invitations;
//! - `transfer`: attachment uploads and downloads;
//! - `persist`: [`Client::to_persisted`] and [`Client::from_persisted`];
//! - `event` and `error`: what the application is told.
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

use std::collections::{BTreeMap, HashMap, VecDeque};

use rand_core::CryptoRng;

use crate::ids::{QueueId, RelayId};
use crate::onion::{ClientFrame, ConnTag, GatewayFrame, Hop, OnionError, SurbId, SurbOpener};
use crate::queue::Inbound;

mod contact;
mod error;
mod event;
mod invitation;
mod persist;
mod receive;
mod request;
mod route;
mod transfer;

pub use contact::{RETRY_FIRST, RETRY_MAX};
pub use error::{ClientError, Error, PeerMisbehaved, PersistError};
pub use event::Event;
pub use persist::{CLIENT_STATE_VERSION, PersistedClient};

use contact::Contact;
use receive::RecvQueue;
use request::Pending;
use transfer::{Download, Upload};

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

    /// The relay our WebSocket goes to.
    pub fn gateway(&self) -> RelayId {
        self.gateway
    }

    /// Our display name, as contacts see it.
    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    /// Ids of all contacts, in the order they were added.
    pub fn contact_ids(&self) -> impl Iterator<Item = ContactId> + '_ {
        self.contacts().map(|(id, _)| id)
    }

    /// Contacts with their display names, in the order they were added. A contact whose
    /// acceptance is not done yet (see [`Client::accept_invitation`]) is not among them.
    pub fn contacts(&self) -> impl Iterator<Item = (ContactId, &str)> {
        self.contacts
            .iter()
            .filter(|(_, c)| c.accepting.is_none())
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

    /// The earliest time (Unix seconds, the unit of `now` in [`Client::tick`]) at which
    /// [`Client::tick`] has work: an unanswered request to resend (which also keeps attachment
    /// transfers' windows moving) or a receive queue to subscribe again. `None` when nothing
    /// is waiting. The time may be in the past (requests restored by
    /// [`Client::from_persisted`] are due at once): tick without sleeping then.
    pub fn poll_timeout(&self) -> Option<u64> {
        [
            self.next_retry(),
            self.next_renewal(),
            self.next_outbox_retry(),
        ]
        .into_iter()
        .flatten()
        .min()
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

    /// Time-driven work: retries unanswered requests, re-subscribes receive queues, sends
    /// again messages refused (after their back-off) or left idle.
    /// [`Client::poll_timeout`] says when there is some.
    pub fn tick<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, now: u64) {
        self.retry_due(rng, now);
        self.resubscribe_due(rng, now);
        self.retry_outboxes(rng, now);
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::InvitationSecret;
    use crate::invitation::InvitationKind;
    use crate::onion::RelayKey;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    pub(super) const NOW: u64 = 1_800_000_000;

    /// A client with four relays, the first its gateway.
    pub(super) fn client(rng: &mut ChaCha20Rng) -> Client {
        let relays: Vec<Hop> = (0..4)
            .map(|_| Hop {
                id: RelayId::random(rng),
                key: RelayKey::generate(rng, 1).public_key(),
            })
            .collect();
        let gateway = relays[0].id;
        Client::new(rng, relays, gateway, "Alice", ClientConfig::default()).unwrap()
    }

    #[test]
    fn nothing_to_do_is_no_timeout() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let mut client = client(&mut rng);
        assert_eq!(client.poll_timeout(), None);
        client.connected(&mut rng, NOW);
        assert_eq!(client.poll_timeout(), None);
    }

    #[test]
    fn a_request_is_due_at_its_retry_time_and_resent_then() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let mut client = client(&mut rng);
        let retry = client.config.retry_after;
        client.create_invitation(&mut rng, NOW).unwrap();
        assert!(client.poll_transmit().is_some());
        assert_eq!(client.poll_timeout(), Some(NOW + retry));

        // Too early: nothing is resent.
        client.tick(&mut rng, NOW + retry - 1);
        assert!(client.poll_transmit().is_none());
        assert_eq!(client.poll_timeout(), Some(NOW + retry));

        // On time: resent, and due again one retry later.
        client.tick(&mut rng, NOW + retry);
        assert!(client.poll_transmit().is_some());
        assert!(client.poll_transmit().is_none());
        assert_eq!(client.pending_requests(), 1);
        assert_eq!(client.poll_timeout(), Some(NOW + 2 * retry));
    }

    #[test]
    fn the_earliest_of_retries_and_renewals_is_due() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let mut client = client(&mut rng);
        let (retry, every) = (client.config.retry_after, client.config.resubscribe_every);
        let their_queue = QueueId::random(&mut rng);
        let secret = InvitationSecret::create(
            &mut rng,
            InvitationKind::OneTime,
            client.gateway(),
            their_queue,
            NOW,
        );
        client
            .accept_invitation(&mut rng, *secret.invitation(), NOW)
            .unwrap();
        // A queue subscribed at NOW + 1 (as if its creation were answered then), with no
        // request in flight: the renewal is next.
        let pending = std::mem::take(&mut client.pending);
        let queue = QueueId::random(&mut rng);
        client.queues.insert(
            queue,
            RecvQueue {
                relay: client.gateway(),
                key: crate::keys::AuthKeyPair::generate(&mut rng),
                owner: receive::QueueOwner::Contact(1),
                subscribed_at: Some(NOW + 1),
                surbs: Vec::new(),
            },
        );
        assert_eq!(client.poll_timeout(), Some(NOW + 1 + every));
        // With the request back, its retry comes first.
        client.pending = pending;
        assert_eq!(client.poll_timeout(), Some(NOW + retry));
        // Ticking at the renewal time re-subscribes: a Subscribe is now in flight too.
        client.pending.clear();
        client.tick(&mut rng, NOW + 1 + every);
        assert_eq!(client.pending_requests(), 1);
        assert_eq!(client.poll_timeout(), Some(NOW + 1 + every + retry));
    }
}
