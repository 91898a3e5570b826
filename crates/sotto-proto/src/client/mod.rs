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
//!    relay to delete the messages just received. A driver that wants the packets of Acks and
//!    Sends built off its critical path (while its write commits, or after the events are
//!    dispatched) turns on [`Client::build_later`]; it takes the packets owed with its write
//!    ([`Client::take_owed`]) and sends what [`Client::build_packets`] makes of them after
//!    that write (with nothing to write, what [`Client::build_owed`] returns).
//!
//! Requests are retried until their relay answers ([`ClientConfig::retry_after`]); receive
//! queues are subscribed again with fresh reply blocks, each on its own jittered timer (within
//! [`ClientConfig::resubscribe_every`] seconds), which also makes the relay resend a delivery
//! that was lost.
//!
//! Against the relays themselves (docs/PROTOCOL.md, "Threat model"): an answer is taken only
//! through the reply block made for its request, a delivery only through one made for its
//! queue; request ids are random; no two queues' subscriptions leave together; our queues and
//! blobs are never on our gateway, and routes never visit a relay twice (see `route`). Sends to one
//! contact go one at a time, so they reach the queue in order; the ratchet rejects a message
//! that a retry stored twice, and each contact's record keeps the ids last read (`read_ids`),
//! so each envelope is shown exactly once.
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
//! - `transfer`: blob uploads and downloads (attachments and relay snapshots);
//! - `snapshot`: the relay snapshot put and fetched through `transfer`;
//! - `deliver`: a decrypted message's envelopes handed on (`read_ids`: repeats dropped);
//! - `persist`: [`Client::to_persisted`] and [`Client::from_persisted`] (`persist_len`: the
//!   bytes its writers reserve);
//! - `split`: the same state in parts, one per contact ([`Client::to_parts`],
//!   [`Client::from_parts`]);
//! - `event` and `error`: what the application is told.
//!
//! # Persistence
//!
//! [`Client::to_persisted`] serializes everything the client needs to continue (keys, ratchet
//! sessions, queues, contacts, unsent messages, requests not yet answered) and
//! [`Client::from_persisted`] reads it back; the layout is in `docs/PROTOCOL.md`, "Client state
//! (at rest)". The bytes hold every secret of the account: the storage layer encrypts them.
//! Reply-block openers and unanswered Subscribes and Acks are not kept. After a restore, and
//! once the WebSocket is open, the driver calls [`Client::connected`] as usual: it schedules
//! every receive queue to be subscribed again with fresh reply blocks over the next seconds
//! (so the relays redeliver what was not acknowledged), and the next [`Client::tick`] resends the queue creations, Secures and Sends
//! that were in flight.

use std::collections::{HashMap, VecDeque};

use litemap::LiteMap;
use rand_core::CryptoRng;

use crate::directory::RelayDescriptor;
use crate::envelope::MessageId;
use crate::ids::RelayId;
use crate::onion::{ClientFrame, ConnTag, GatewayFrame, Hop, OnionError, SurbId, SurbOpener};
use crate::pow::Scope;
use crate::queue::Inbound;

mod contact;
mod deliver;
mod error;
mod event;
mod invitation;
mod moved;
mod persist;
mod persist_len;
mod read_ids;
mod receive;
mod rekey;
mod request;
mod restore;
mod resync;
mod route;
mod snapshot;
mod split;
mod tracked;
mod transfer;
mod verify;

pub use contact::{RETRY_FIRST, RETRY_MAX};
pub use error::{ClientError, Error, PeerMisbehaved, PersistError};
pub use event::Event;
pub use moved::OUTBOX_HOLD;
pub use persist::{CLIENT_STATE_VERSION, PersistedClient};
pub use receive::OwedPackets;
pub use rekey::{REKEY_GENERATIONS, REKEY_KEY_LABEL, REKEY_LABEL, RekeySecret};
pub use resync::{
    ACCEPT_RESEND_MIN, RESYNC_QUIET, RESYNC_RETRY_FIRST, RESYNC_RETRY_MAX, SyncStatus,
};
pub use route::MIN_RELAYS;
pub use snapshot::FetchError as SnapshotFetchError;
pub use split::{
    CORE_MARK, ContactPart, FIRST_SPLIT_VERSION, PartDigest, PersistedPart, PersistedParts,
    part_digest, parts_digest,
};

use request::{Pending, ReplyTo};
use tracked::{Contacts, Queues};
use transfer::{Download, Upload};

/// A contact, as this client numbers them. Local only: never on the wire.
pub type ContactId = u64;

/// The largest clock offset, in seconds either way, a client takes from a relay's
/// [`crate::queue::ResponseBody::ExpiredAt`] (30 days). A relay that claims a clock further
/// from ours than this is not believed: the queue creation fails as
/// [`crate::queue::ErrorCode::Expired`], and the offset stays as it was. This bounds how far a
/// hostile relay can push the timestamps of our invitations and messages.
pub const MAX_CLOCK_OFFSET: u64 = 30 * 24 * 3600;

/// An offset larger than this many seconds (either way) is told to the application, once per
/// client, as [`Event::ClockOffset`]: the device's clock is wrong enough for a person to fix.
pub const CLOCK_OFFSET_REPORT: u64 = 120;

/// What a relay's directory entry says about the work that pays for its queues and blobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelayAdmission {
    /// The epoch of the Sphinx key we route to it with (`"key_epoch"`): work is bound to it.
    pub key_epoch: u32,
    /// Leading zero bits it asks for (`"pow_bits"`); `None`: [`ClientConfig::pow_bits`].
    pub pow_bits: Option<u8>,
}

/// The key epoch assumed for a relay whose directory entry the client was not given
/// ([`Client::new`] and [`Client::update_relays`] take bare hops): a relay's first key is
/// epoch 1.
pub const FIRST_KEY_EPOCH: u32 = 1;

/// Tunables of a [`Client`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// Proof-of-work bits assumed for queue creation and new blobs at a relay whose directory
    /// entry does not say (see [`Client::update_directory`]).
    pub pow_bits: u8,
    /// SURBs handed to a queue's relay on subscribing.
    pub subscribe_surbs: usize,
    /// Seconds before an unanswered request is sent again (along a new route).
    pub retry_after: u64,
    /// Longest time, in seconds, between re-subscriptions of a receive queue: each renewal
    /// is due after a random `resubscribe_every × U(0.5, 1.0)` seconds, on its own timer.
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
    /// Per relay, what its directory entry says about admission work (not persisted: drivers
    /// read the directory on every open).
    admission: HashMap<RelayId, RelayAdmission>,
    gateway: RelayId,
    conn: ConnTag,
    display_name: String,
    next_contact: ContactId,
    pending: LiteMap<u64, Pending>,
    /// Openers of our reply blocks in use, with what each may bring back.
    openers: HashMap<SurbId, (SurbOpener, ReplyTo)>,
    /// Replies that opened but carried something their reply block was not made for.
    rejected_replies: u64,
    queues: Queues,
    contacts: Contacts,
    /// The [`part_digest`] of every contact's part as [`Client::to_changed_parts`] last made
    /// it (or [`Client::from_parts_digested`] read it): right for each contact not marked
    /// changed since (`tracked`); the core's digest of the parts is made from these. Entries
    /// of contacts gone are left (never read: contact ids are not reused).
    part_digests: LiteMap<ContactId, PartDigest>,
    uploads: LiteMap<u64, Upload>,
    /// Uploads a relay refused (or that could not reach one), kept for
    /// [`Client::retry_message`]; not persisted, like uploads.
    failed_uploads: Vec<Upload>,
    downloads: LiteMap<u64, Download>,
    transmit: VecDeque<Vec<u8>>,
    /// Packets are owed rather than built (see [`Client::build_later`]); not persisted.
    later: bool,
    /// Acks owed for deliveries taken while [`Client::build_later`] is on, not yet built
    /// (see [`Client::take_owed`]); not persisted, like the requests they become.
    acks_owed: Vec<receive::OwedAck>,
    /// Contacts whose outbox may send its front message, owed likewise; not persisted.
    sends_owed: Vec<ContactId>,
    events: VecDeque<Event>,
    /// Seconds to add to the device's clock to get the relays' time (see
    /// [`Client::clock_offset`]).
    clock_offset: i64,
    /// [`Event::ClockOffset`] was queued already.
    clock_reported: bool,
    /// Requests resent because no answer came in time (see [`Client::resent_requests`]).
    resent: u64,
    /// The profile was restored on another device (see [`Client::is_moved`]).
    moved: bool,
    /// Sends wait until one of our receive queues' relays took our key, and at the latest
    /// until this time once connected (see `moved`, "Holding sends"); `None`: not holding.
    hold: Option<u64>,
    /// The secret a restore derives its queues' new keys from (`rekey`); `None` for a client
    /// never restored.
    rekey: Option<RekeySecret>,
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
        route::check_directory(&relays, gateway)?;
        Ok(Self {
            config,
            relays,
            admission: HashMap::new(),
            gateway,
            conn: ConnTag::random(rng),
            display_name: display_name.to_owned(),
            next_contact: 1,
            pending: LiteMap::new(),
            openers: HashMap::new(),
            rejected_replies: 0,
            queues: Queues::default(),
            contacts: Contacts::default(),
            part_digests: LiteMap::new(),
            uploads: LiteMap::new(),
            failed_uploads: Vec::new(),
            downloads: LiteMap::new(),
            transmit: VecDeque::new(),
            later: false,
            acks_owed: Vec::new(),
            sends_owed: Vec::new(),
            events: VecDeque::new(),
            clock_offset: 0,
            clock_reported: false,
            resent: 0,
            moved: false,
            hold: None,
            rekey: None,
        })
    }

    /// Seconds (signed) this client adds to the device's clock (the `now` every call takes)
    /// wherever a time leaves the device: the timestamp of a queue creation, which relays check
    /// against their clock, an invitation's expiry and the time stamped on our messages.
    /// Learned from a relay that refused a creation as expired and said its time
    /// ([`crate::queue::ResponseBody::ExpiredAt`], bounded by [`MAX_CLOCK_OFFSET`]); kept
    /// across [`Client::to_persisted`]. 0 until then.
    pub fn clock_offset(&self) -> i64 {
        self.clock_offset
    }

    /// The relays' time at device time `now` (Unix seconds): `now + clock_offset`, saturating.
    pub fn network_time(&self, now: u64) -> u64 {
        now.saturating_add_signed(self.clock_offset)
    }

    /// How many requests were sent again because their answer did not come within
    /// [`ClientConfig::retry_after`] seconds, since this client was made or restored. A driver
    /// that sees it climb may read the relay directory again (a relay may have rotated its
    /// Sphinx key, so packets built for the old one are dropped).
    pub fn resent_requests(&self) -> u64 {
        self.resent
    }

    /// Takes a fresh relay directory (relays rotate their Sphinx keys every epoch): routes are
    /// built with these keys from now on. Refused (and nothing changed) when our gateway is
    /// not in it ([`ClientError::NoRelays`]) or it lists fewer than [`MIN_RELAYS`] relays
    /// ([`ClientError::DirectoryTooSmall`]).
    ///
    /// Key epochs and difficulties stay as the last [`Client::update_directory`] set them: a
    /// driver that reads the directory document should call that instead.
    pub fn update_relays(&mut self, relays: Vec<Hop>) -> Result<(), ClientError> {
        route::check_directory(&relays, self.gateway)?;
        self.relays = relays;
        Ok(())
    }

    /// As [`Client::update_relays`] (same refusals), for a directory read while connected:
    /// when any relay's key changed, every receive queue is also scheduled to be subscribed
    /// again over the next seconds (tick when [`Client::poll_timeout`] says), because the
    /// reply blocks the relays hold for our queues lead through the old keys, which each relay
    /// drops once its overlap is over. Returns whether a key changed. `now`: device time,
    /// Unix seconds.
    pub fn update_relays_at<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        relays: Vec<Hop>,
        now: u64,
    ) -> Result<bool, ClientError> {
        route::check_directory(&relays, self.gateway)?;
        let changed = relays
            .iter()
            .any(|h| !self.relays.iter().any(|old| old == h));
        self.relays = relays;
        if changed {
            self.schedule_all_subscriptions(rng, now);
        }
        Ok(changed)
    }

    /// Takes a fresh relay directory like [`Client::update_relays_at`] (new keys: every
    /// receive queue subscribes again; returns whether a key changed), and with it each
    /// relay's key epoch and proof-of-work difficulty, used for the queues and blobs we create
    /// there from now on. Same errors as [`Client::update_relays`] (and nothing changed then).
    /// `now`: device time, Unix seconds.
    pub fn update_directory<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        relays: &[RelayDescriptor],
        now: u64,
    ) -> Result<bool, ClientError> {
        let changed =
            self.update_relays_at(rng, relays.iter().map(RelayDescriptor::hop).collect(), now)?;
        self.admission = relays
            .iter()
            .map(|r| {
                let admission = RelayAdmission {
                    key_epoch: r.key_epoch,
                    pow_bits: r.pow_bits,
                };
                (r.id, admission)
            })
            .collect();
        Ok(changed)
    }

    /// What work a request for `relay`'s service must carry: its scope (relay and key epoch)
    /// and difficulty, from the directory, else [`FIRST_KEY_EPOCH`] and
    /// [`ClientConfig::pow_bits`].
    pub fn pow_terms(&self, relay: RelayId) -> (Scope, u8) {
        let a = self.admission.get(&relay);
        let scope = Scope {
            relay,
            key_epoch: a.map_or(FIRST_KEY_EPOCH, |a| a.key_epoch),
        };
        (
            scope,
            a.and_then(|a| a.pow_bits).unwrap_or(self.config.pow_bits),
        )
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

    /// Replies dropped because they carried something other than what their reply block was
    /// made for: an answer to another request, or a delivery of another queue (a relay that
    /// holds our reply blocks trying to forge answers). Counted since this client was made or
    /// restored.
    pub fn rejected_replies(&self) -> u64 {
        self.rejected_replies
    }

    /// Messages waiting to be stored by a relay, across all contacts.
    pub fn unsent_messages(&self) -> usize {
        self.contacts
            .values()
            .flat_map(|c| c.outbox.iter().map(|o| o.ids().len()))
            .sum()
    }

    /// The ids of the envelopes waiting to be stored by a relay (texts and files, and also
    /// hellos, names and settings), each with its contact, in each outbox's order: what a
    /// driver restoring a client can still report as sent.
    pub fn unsent_ids(&self) -> impl Iterator<Item = (ContactId, MessageId)> + '_ {
        self.contacts.iter().flat_map(|(id, c)| {
            c.outbox
                .iter()
                .flat_map(move |o| o.ids().iter().map(move |m| (*id, *m)))
        })
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
        if self.moved {
            return None;
        }
        [
            self.next_retry(),
            self.next_renewal(),
            self.next_outbox_retry(),
            self.next_resync_retry(),
            // Not before connecting (`u64::MAX`): then the hold has no time yet.
            self.hold.filter(|at| *at != u64::MAX),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The WebSocket to the gateway is (re)connected: bind our connection tag to it, and
    /// schedule every receive queue to be subscribed again with reply blocks that lead to it.
    /// The subscriptions are spread over the next few seconds, each in a second of its own
    /// (so that no relay sees our queues subscribed in one burst): tick when
    /// [`Client::poll_timeout`] says.
    pub fn connected<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, now: u64) {
        // A profile that moved neither binds nor subscribes: nothing reaches it.
        if self.moved {
            return;
        }
        self.transmit
            .push_front(ClientFrame::Bind(self.conn).encode());
        self.schedule_all_subscriptions(rng, now);
        self.hold_sends_until_confirmed(now);
    }

    /// Time-driven work (none once the profile moved): retries unanswered requests, (re-)subscribes receive queues (at
    /// most one queue per call, and none when a retry left in it: what is left over moves to
    /// a later second), sends again messages refused (after their back-off) or left idle.
    /// [`Client::poll_timeout`] says when there is some.
    pub fn tick<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, now: u64) {
        if self.moved {
            return;
        }
        self.release_hold_at(now);
        let before = self.transmit.len();
        self.retry_due(rng, now);
        let busy = self.transmit.len() > before;
        self.resubscribe_due(rng, now, busy);
        self.retry_outboxes(rng, now);
        self.retry_resyncs(rng, now);
    }

    /// A binary frame from the gateway.
    ///
    /// A reply is taken only through the reply block made for it: the answer to a request
    /// through the block sent with that request (its latest copy), a delivery through a block
    /// handed to that queue's relay for that queue. Anything else that opens is dropped and
    /// counted ([`Client::rejected_replies`]); the request it claims to answer stays pending.
    /// A block is spent only by a reply that opens: garbage naming its id changes nothing
    /// (and fails with [`ClientError::Onion`]).
    pub fn handle_frame<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        frame: &[u8],
        now: u64,
    ) -> Result<(), ClientError> {
        let GatewayFrame::Reply { surb_id, sealed } = GatewayFrame::decode(frame)?;
        let (opener, to) = self.openers.get(&surb_id).ok_or(OnionError::Malformed)?;
        let to = *to;
        let plaintext = opener.open(&sealed)?;
        // Each SURB is single-use: it opened, so it is spent.
        self.openers.remove(&surb_id);
        match (Inbound::decode(&plaintext), to) {
            (Ok(Inbound::Response(response)), ReplyTo::Request(id))
                if response.request_id == id
                    && self.pending.get(&id).is_some_and(|p| p.surb == surb_id) =>
            {
                self.on_response(rng, response, now)
            }
            (Ok(Inbound::Delivery(delivery)), ReplyTo::Queue(queue))
                if delivery.recipient_id == queue =>
            {
                if let Some(s) = self.queues.subscription_mut(&queue) {
                    s.surbs.retain(|s| *s != surb_id);
                }
                self.on_delivery(rng, delivery, now)
            }
            (Ok(_), _) => self.rejected_replies += 1,
            (Err(_), _) => return Err(OnionError::Malformed.into()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod outbox_tests;
#[cfg(test)]
mod tests;
