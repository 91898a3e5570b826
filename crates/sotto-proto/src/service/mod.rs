//! The queue service: what a relay does with a request that reached it as the last hop.
//!
//! Sans-IO like the rest of the crate: the relay hands [`QueueService::handle`] the plaintext
//! of a [`crate::onion::Processed::Deliver`], the time and an RNG, and gets back the packets to
//! send (answers through reply SURBs, deliveries through subscription SURBs). Storage is behind
//! [`QueueStore`]: the relay implements it over redb, [`MemoryStore`] serves tests and the
//! simulation. What a store call wrote must be durable before the answer that follows leaves,
//! because it tells the sender its message is safe; a delivery may leave before
//! ([`Outgoing::delivery`]).
//!
//! ## Delivery
//! One message per queue is in flight at a time, oldest first, each through one SURB the
//! recipient handed over (Subscribe replaces the set, Ack adds to it). A SURB is dropped
//! [`ServiceConfig::surb_ttl`] seconds after it arrived and never used after that. The next one goes out when the
//! recipient acknowledges (and so deletes) the previous one. A new Subscribe, or
//! [`ServiceConfig::redeliver_after`] seconds without an Ack, sends the oldest unacknowledged
//! message again, so a lost delivery (or a lost Ack) is never a lost message; the recipient
//! drops duplicates by message id. A quiet Ack (`Command::Ack` with `quiet`) carries no reply
//! block and is applied like any Ack but never answered. SURBs live in memory only: after a
//! relay restart recipients subscribe again.
//!
//! ## Limits
//! Besides the per-queue and per-blob limits, the relay as a whole holds at most
//! [`ServiceConfig::max_queues`] queues, [`ServiceConfig::max_messages`] messages of
//! [`ServiceConfig::max_message_bytes`] bytes in all, [`ServiceConfig::max_blob_chunks_total`]
//! blob chunks and [`ServiceConfig::max_surbs`] SURBs. The totals come from
//! [`QueueStore::usage`] (counters the store keeps, O(1)) and from the service's own SURB count.
//! A request that would pass a limit is answered [`ErrorCode::Quota`] and changes nothing; the
//! service reports which limit as [`Outcome::Full`] so the relay can count it. Everything that
//! does not add to what is stored keeps working when the relay is full: Secure, Subscribe (it
//! replaces the SURBs held), Ack, Delete, BlobGet, and Create of a queue that exists. An Ack
//! keeps only the SURBs that fit ([`Handled::limited`] says which limit kept the rest out). A Send is
//! refused when its queue or the relay's message limits are reached: stored messages are the
//! relay's disk, and the sender's client keeps the message and retries it later.
//!
//! ## Admission
//! Creating a queue and starting a blob cost proof of work ([`crate::pow`]) bound to this
//! relay and to the epoch of the Sphinx key that peeled the request ([`Scope`], handed in by
//! the node): work for another relay, or for a key epoch the relay no longer holds, is refused
//! with [`ErrorCode::Pow`]. A Create is checked cheapest first: timestamp window, the work
//! (one hash), the spent set and its cap, the relay's room for queues (O(1)), then the
//! signature and the store. A solved Create challenge is spent: it buys one queue, and is
//! remembered until its timestamp leaves the acceptance window
//! ([`ServiceConfig::max_clock_skew`]); the owner's retry of the same Create is still answered
//! with the same ids (nothing new is created), but once that queue is deleted the same work
//! creates nothing. A Create refused because the relay is full does not spend its work. A
//! BlobPut's work is checked only while the relay holds no chunk of the blob: the blob id is
//! then the spent marker, until the blob expires.
//!
//! The difficulty follows the load: above [`ServiceConfig::admission_rate`] paid admissions
//! per [`ServiceConfig::admission_window`] it rises one bit per doubling (up to
//! [`ServiceConfig::max_pow_bits`]), and it falls one bit per quiet window back to
//! [`ServiceConfig::pow_bits`] ([`QueueService::pow_bits`] is the value now; the rules are in
//! `admission.rs`). While it is above the floor, work that falls short is answered
//! [`ResponseBody::PowRequired`] with the bits asked for, so a client that read an older
//! directory solves once more.
//!
//! ## Moving a queue
//! [`Command::Rekey`] replaces a queue's recipient key (a profile restored on another device
//! takes its queues over). The store keeps the previous key and the signed statement
//! ([`MovedRecord`]; the last [`MOVED_KEPT`] of a queue, so that after two restores the first
//! device is told too), and the queue's subscription is dropped, so the device that held the
//! previous key gets no more deliveries. A recipient command that fails under the current key
//! but verifies under a previous one is answered [`ResponseBody::Moved`] with the statement
//! that key signed instead of [`ErrorCode::Auth`]. A retried Rekey (signed by a previous key,
//! naming the key now in place) is answered Ok and changes nothing.
//!
//! Files: this one has the store interface and [`QueueService`]; `admission.rs` the
//! difficulty, the spent set and Create; `rekey.rs` Rekey and recipient authorisation; `config.rs` the [`ServiceConfig`]; `outcome.rs` what [`QueueService::handle`] reports;
//! `memory.rs` the [`MemoryStore`].

#[cfg(test)]
mod ack_tests;
mod admission;
mod config;
mod memory;
mod outcome;
mod rekey;
#[cfg(test)]
mod tests;

pub use config::ServiceConfig;
pub use memory::MemoryStore;
pub use outcome::{Handled, Limit, Outcome};
pub use rekey::{MOVED_KEPT, MovedRecord, keep_moved};

use std::collections::{HashMap, VecDeque};

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};

use crate::ids::{QueueId, RelayId};
use crate::keys::AuthPublicKey;
use crate::onion::{Packet, Surb};
use crate::pow::Scope;
use crate::queue::{
    BlobId, Command, Delivery, ErrorCode, QueueMessageId, ReceivedRequest, Response, ResponseBody,
};

/// Domain label of the recipient id derived from the recipient key.
pub const RECIPIENT_ID_LABEL: &[u8] = b"sotto/queue/v1/recipient-id";

/// A queue as the relay stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueRecord {
    pub recipient_id: QueueId,
    pub sender_id: QueueId,
    pub recipient_key: AuthPublicKey,
    pub sender_key: Option<AuthPublicKey>,
    pub created_at: u64,
}

/// A message as the relay stores it: the opaque end-to-end encrypted body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    pub id: QueueMessageId,
    pub received_at: u64,
    pub body: Vec<u8>,
}

/// What the sweeper removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub messages: usize,
    pub blob_chunks: usize,
}

/// What a store holds, in all queues and blobs together. Kept up to date by the store itself,
/// so that reading it costs O(1) on every request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Queues stored.
    pub queues: u64,
    /// Messages stored, across queues.
    pub messages: u64,
    /// Bytes of the stored messages' bodies.
    pub message_bytes: u64,
    /// Blob chunks stored, across blobs.
    pub blob_chunks: u64,
}

/// The relay's durable state. Every mutating call that returns `Ok` has reached stable storage.
pub trait QueueStore {
    type Error: core::fmt::Display;

    fn insert_queue(&mut self, queue: &QueueRecord) -> Result<(), Self::Error>;
    fn queue(&self, recipient_id: &QueueId) -> Result<Option<QueueRecord>, Self::Error>;
    fn recipient_for_sender(&self, sender_id: &QueueId) -> Result<Option<QueueId>, Self::Error>;
    fn set_sender_key(
        &mut self,
        recipient_id: &QueueId,
        key: &AuthPublicKey,
    ) -> Result<(), Self::Error>;
    /// Removes the queue and all its messages.
    fn delete_queue(&mut self, recipient_id: &QueueId) -> Result<(), Self::Error>;
    fn push_message(
        &mut self,
        recipient_id: &QueueId,
        message: &StoredMessage,
    ) -> Result<(), Self::Error>;
    fn message_count(&self, recipient_id: &QueueId) -> Result<usize, Self::Error>;
    fn oldest_message(&self, recipient_id: &QueueId) -> Result<Option<StoredMessage>, Self::Error>;
    /// Returns whether the message was there.
    fn remove_message(
        &mut self,
        recipient_id: &QueueId,
        message_id: &QueueMessageId,
    ) -> Result<bool, Self::Error>;
    fn blob_chunk_count(&self, blob: &BlobId) -> Result<u32, Self::Error>;
    fn put_blob_chunk(
        &mut self,
        blob: &BlobId,
        index: u32,
        data: &[u8],
        expires_at: u64,
    ) -> Result<(), Self::Error>;
    fn blob_chunk(&self, blob: &BlobId, index: u32) -> Result<Option<Vec<u8>>, Self::Error>;
    /// Removes messages received before `messages_before` and blob chunks expired at `now`.
    fn sweep(&mut self, now: u64, messages_before: u64) -> Result<Swept, Self::Error>;
    /// Replaces the queue's recipient key with `moved.new_recipient_key` and keeps `moved`
    /// after the queue's earlier records (the oldest dropped beyond [`MOVED_KEPT`]), in one
    /// durable step. No effect on a queue that does not exist. [`QueueStore::delete_queue`]
    /// removes the records with the queue.
    fn rekey(&mut self, recipient_id: &QueueId, moved: &MovedRecord) -> Result<(), Self::Error>;
    /// The records of the queue's last [`Command::Rekey`]s (at most [`MOVED_KEPT`]), oldest
    /// first; empty when it never moved.
    fn moved(&self, recipient_id: &QueueId) -> Result<Vec<MovedRecord>, Self::Error>;
    /// What the store holds now, as seen by the calls so far (O(1): counters the store keeps
    /// across every call above, initialised when the store is opened).
    fn usage(&self) -> Usage;
}

/// A packet the relay must send: to relay `to` (which may be itself).
#[derive(Debug)]
pub struct Outgoing {
    pub to: RelayId,
    pub packet: Packet,
    /// A delivery through a subscription SURB (`true`), not an answer through a request's
    /// reply SURB. A delivery carries only a message the store accepted, so a driver that
    /// commits its store in batches may send it before the batch's commit; an answer waits for
    /// it (docs/PROTOCOL.md §4 "Durability").
    pub delivery: bool,
}

#[derive(Default)]
struct Subscription {
    /// SURBs and when each expires (Unix seconds), oldest first: expiry times only grow.
    surbs: VecDeque<(Surb, u64)>,
    /// The message delivered and not yet acknowledged, and when it went out.
    in_flight: Option<(QueueMessageId, u64)>,
}

/// One relay's queue service over a store.
pub struct QueueService<S> {
    store: S,
    config: ServiceConfig,
    subscriptions: HashMap<QueueId, Subscription>,
    /// SURBs held across all subscriptions (the sum of their lengths).
    surbs_held: usize,
    /// The limit the request being executed hit, if any (read by [`QueueService::handle`]).
    hit: Option<Limit>,
    /// The current difficulty and the spent Create challenges (pruned by
    /// [`QueueService::tick`] once their timestamp leaves the acceptance window).
    admission: admission::Admission,
    /// The statement a request signed by a queue's previous key is answered with (set by
    /// `authorise_recipient`, read by [`QueueService::handle`]).
    moved: Option<MovedRecord>,
}

impl<S: QueueStore> QueueService<S> {
    pub fn new(store: S, config: ServiceConfig) -> Self {
        Self {
            store,
            subscriptions: HashMap::new(),
            surbs_held: 0,
            hit: None,
            moved: None,
            admission: admission::Admission::new(&config),
            config,
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// SURBs held across all queues (for metrics and limits).
    pub fn surbs_held(&self) -> usize {
        self.surbs_held
    }

    /// Create challenges remembered as spent (for metrics and tests).
    pub fn spent_challenges(&self) -> usize {
        self.admission.spent_len()
    }

    /// Leading zero bits the work of a Create or a new blob must have now: between
    /// [`ServiceConfig::pow_bits`] and [`ServiceConfig::max_pow_bits`], following the load
    /// (see "Admission"). The relay publishes it as `pow_bits` in its directory entry.
    pub fn pow_bits(&self) -> u8 {
        self.admission.bits()
    }

    /// Handles the plaintext of a request that reached this relay as the last hop. `scope`
    /// names this relay and the epoch of the Sphinx key that peeled the packet
    /// ([`crate::onion::Processed::Deliver`]); proofs of work must be bound to it.
    pub fn handle<R: CryptoRng + ?Sized>(
        &mut self,
        payload: &[u8],
        scope: &Scope,
        now: u64,
        rng: &mut R,
    ) -> Handled {
        // A Create's signature is checked after its (cheaper) proof of work, in `create`.
        let Ok(request) = ReceivedRequest::decode_unchecked_create(payload) else {
            return Handled {
                outcome: Outcome::Dropped,
                outgoing: Vec::new(),
                limited: None,
            };
        };
        let mut outgoing = Vec::new();
        self.hit = None;
        self.moved = None;
        self.admission.roll(now, &self.config);
        let body = match self.execute(&request, scope, now, rng, &mut outgoing) {
            Ok(body) => body,
            // A refused timestamp is answered with our clock, so the client can correct its own.
            Err(ErrorCode::Expired) => ResponseBody::ExpiredAt { relay_time: now },
            // Work refused while the difficulty is raised is answered with the difficulty, so
            // a client whose directory is older can solve once more. At the floor the answer
            // is the plain POW error older clients know.
            Err(ErrorCode::Pow) if self.admission.bits() > self.config.pow_bits => {
                ResponseBody::PowRequired {
                    bits: self.admission.bits(),
                }
            }
            // A command signed by the key the queue moved from: the statement, so that the
            // device holding that key can check it and stop.
            Err(ErrorCode::Moved) => match self.moved.take() {
                Some(m) => ResponseBody::Moved {
                    new_recipient_key: m.new_recipient_key,
                    moved_sig: m.moved_sig,
                },
                None => ResponseBody::Error(ErrorCode::Auth),
            },
            Err(code) => ResponseBody::Error(code),
        };
        let (outcome, limited) = match (body.error_code(), self.hit.take()) {
            (Some(ErrorCode::Quota), Some(limit)) => (Outcome::Full(limit), None),
            (Some(code), _) => (Outcome::Refused(code), None),
            (None, limited) => (Outcome::Ok, limited),
        };
        let response = Response {
            request_id: request.request_id,
            body,
        };
        // The answer is listed first. A driver that commits in batches sends it only after the
        // commit, and a delivery at once (`Outgoing::delivery`), so the recipient may see a
        // message before its sender hears it is stored (clients take either order). A request
        // without a reply block (a quiet Ack) is not answered: its outcome is only counted.
        if let Some(reply) = request.reply.clone()
            && let Some(out) = response
                .encode()
                .ok()
                .and_then(|bytes| reply.seal(&bytes).ok())
        {
            outgoing.insert(
                0,
                Outgoing {
                    to: out.0,
                    packet: out.1,
                    delivery: false,
                },
            );
        }
        Handled {
            outcome,
            outgoing,
            limited,
        }
    }

    /// Time-driven work: drops expired SURBs, redelivers messages whose delivery was not
    /// acknowledged in time and sweeps expired messages and blobs. Call it every few seconds.
    pub fn tick(&mut self, now: u64) -> Result<(Swept, Vec<Outgoing>), S::Error> {
        self.expire_surbs(now);
        let swept = self
            .store
            .sweep(now, now.saturating_sub(self.config.message_ttl))?;
        // A spent challenge whose Create is outside the window is refused as Expired anyway.
        self.admission.prune(now, self.config.max_clock_skew);
        self.admission.roll(now, &self.config);
        let due: Vec<QueueId> = self
            .subscriptions
            .iter()
            .filter(|(_, s)| {
                s.in_flight
                    .is_some_and(|(_, at)| now.saturating_sub(at) >= self.config.redeliver_after)
            })
            .map(|(id, _)| *id)
            .collect();
        let mut outgoing = Vec::new();
        for id in due {
            if let Some(sub) = self.subscriptions.get_mut(&id) {
                sub.in_flight = None;
            }
            self.pump(&id, now, &mut outgoing)?;
        }
        Ok((swept, outgoing))
    }

    fn execute<R: CryptoRng + ?Sized>(
        &mut self,
        request: &ReceivedRequest,
        scope: &Scope,
        now: u64,
        rng: &mut R,
        outgoing: &mut Vec<Outgoing>,
    ) -> Result<ResponseBody, ErrorCode> {
        let internal = |_: S::Error| ErrorCode::Internal;
        match &request.command {
            Command::Create {
                recipient_key,
                timestamp,
                ..
            } => {
                if timestamp.abs_diff(now) > self.config.max_clock_skew {
                    return Err(ErrorCode::Expired);
                }
                self.create(request, scope, recipient_key, *timestamp, now, rng)
            }
            Command::Secure {
                sender_id,
                sender_key,
            } => {
                let queue = self.queue_by_sender(sender_id)?;
                let recipient_id = queue.recipient_id;
                match queue.sender_key {
                    None => {
                        self.store
                            .set_sender_key(&recipient_id, sender_key)
                            .map_err(internal)?;
                        Ok(ResponseBody::Ok)
                    }
                    // A retried Secure by the same sender succeeds; anyone else is refused.
                    Some(key) if key == *sender_key => Ok(ResponseBody::Ok),
                    Some(_) => Err(ErrorCode::Auth),
                }
            }
            Command::Send { sender_id, message } => {
                let queue = self.queue_by_sender(sender_id)?;
                let recipient_id = queue.recipient_id;
                let key = queue.sender_key.ok_or(ErrorCode::Auth)?;
                request.verify(&key).map_err(|_| ErrorCode::Auth)?;
                if self.store.message_count(&recipient_id).map_err(internal)?
                    >= self.config.queue_quota
                {
                    return Err(self.full(Limit::QueueMessages));
                }
                let usage = self.store.usage();
                if usage.messages >= self.config.max_messages {
                    return Err(self.full(Limit::Messages));
                }
                let bytes = u64::try_from(message.len()).unwrap_or(u64::MAX);
                if usage.message_bytes.saturating_add(bytes) > self.config.max_message_bytes {
                    return Err(self.full(Limit::MessageBytes));
                }
                let stored = StoredMessage {
                    id: QueueMessageId::random(rng),
                    received_at: now,
                    body: message.clone(),
                };
                self.store
                    .push_message(&recipient_id, &stored)
                    .map_err(internal)?;
                self.pump(&recipient_id, now, outgoing).map_err(internal)?;
                Ok(ResponseBody::Ok)
            }
            Command::Subscribe {
                recipient_id,
                surbs,
            } => {
                self.authorise_recipient(request, recipient_id)?;
                if surbs.len() > self.config.max_surbs_per_queue {
                    return Err(self.full(Limit::QueueSurbs));
                }
                // A Subscribe replaces the SURBs held (older ones may lead to a connection
                // that is gone), so only what it adds counts against the relay's limit.
                let held = self
                    .subscriptions
                    .get(recipient_id)
                    .map_or(0, |s| s.surbs.len());
                if surbs.len() > held
                    && self.surbs_held.saturating_sub(held) + surbs.len() > self.config.max_surbs
                {
                    return Err(self.full(Limit::Surbs));
                }
                let expires = now.saturating_add(self.config.surb_ttl);
                self.surbs_held = self.surbs_held.saturating_sub(held) + surbs.len();
                self.subscriptions.entry(*recipient_id).or_default().surbs =
                    surbs.iter().map(|s| (s.clone(), expires)).collect();
                // A (re)subscription means the recipient may have missed the delivery in
                // flight: send the oldest unacknowledged message again.
                if let Some(sub) = self.subscriptions.get_mut(recipient_id) {
                    sub.in_flight = None;
                }
                self.pump(recipient_id, now, outgoing).map_err(internal)?;
                Ok(ResponseBody::Ok)
            }
            Command::Ack {
                recipient_id,
                message_id,
                surbs,
                ..
            } => {
                self.authorise_recipient(request, recipient_id)?;
                let removed = self
                    .store
                    .remove_message(recipient_id, message_id)
                    .map_err(internal)?;
                // An Ack for a message the queue does not hold (a retry, or made up) adds no
                // SURBs: otherwise Acks alone would keep any number of queues' SURBs topped up.
                // An Ack that deleted its message succeeds; of its SURBs only those within the
                // queue's and the relay's limits are kept (the relay counts the limit hit).
                if removed {
                    self.add_surbs(recipient_id, surbs, now);
                }
                if let Some(sub) = self.subscriptions.get_mut(recipient_id)
                    && sub.in_flight.is_some_and(|(id, _)| id == *message_id)
                {
                    sub.in_flight = None;
                }
                self.pump(recipient_id, now, outgoing).map_err(internal)?;
                if removed {
                    Ok(ResponseBody::Ok)
                } else {
                    Err(ErrorCode::NoMessage)
                }
            }
            Command::Delete { recipient_id } => {
                self.authorise_recipient(request, recipient_id)?;
                self.store.delete_queue(recipient_id).map_err(internal)?;
                self.drop_subscription(recipient_id);
                Ok(ResponseBody::Ok)
            }
            Command::BlobPut {
                blob_id,
                index,
                data,
                ..
            } => {
                if *index >= self.config.max_blob_chunks {
                    return Err(ErrorCode::Large);
                }
                // A new blob is paid for (one hash); further chunks of a blob already held
                // need no new work (its id is the spent marker while it lives).
                let paid = request.verify_pow(scope, self.admission.bits()).is_ok();
                let held = self.store.blob_chunk_count(blob_id).map_err(internal)?;
                if held == 0 && !paid {
                    return Err(ErrorCode::Pow);
                }
                if held >= self.config.max_blob_chunks {
                    return Err(self.full(Limit::BlobChunksPerBlob));
                }
                if self.store.usage().blob_chunks >= self.config.max_blob_chunks_total {
                    return Err(self.full(Limit::BlobChunks));
                }
                // First write wins: nobody can replace a chunk someone else may be reading.
                if self
                    .store
                    .blob_chunk(blob_id, *index)
                    .map_err(internal)?
                    .is_some()
                {
                    return Err(ErrorCode::Duplicate);
                }
                self.store
                    .put_blob_chunk(
                        blob_id,
                        *index,
                        data,
                        now.saturating_add(self.config.blob_ttl),
                    )
                    .map_err(internal)?;
                if held == 0 {
                    self.admission.paid();
                }
                Ok(ResponseBody::Ok)
            }
            Command::Rekey {
                recipient_id,
                new_recipient_key,
                moved_sig,
            } => self.rekey(request, recipient_id, new_recipient_key, moved_sig),
            Command::BlobGet { blob_id, index } => {
                let data = self
                    .store
                    .blob_chunk(blob_id, *index)
                    .map_err(internal)?
                    .ok_or(ErrorCode::NoBlob)?;
                Ok(ResponseBody::BlobChunk {
                    index: *index,
                    data,
                })
            }
            // Commands added to the codec later are refused until the service knows them.
            #[allow(unreachable_patterns)]
            _ => Err(ErrorCode::BadCommand),
        }
    }

    fn queue_by_sender(&self, sender_id: &QueueId) -> Result<QueueRecord, ErrorCode> {
        let recipient_id = self
            .store
            .recipient_for_sender(sender_id)
            .map_err(|_| ErrorCode::Internal)?
            .ok_or(ErrorCode::NoQueue)?;
        self.store
            .queue(&recipient_id)
            .map_err(|_| ErrorCode::Internal)?
            .ok_or(ErrorCode::NoQueue)
    }

    /// Notes the limit a request hit; returns the code it is answered with.
    fn full(&mut self, limit: Limit) -> ErrorCode {
        self.hit = Some(limit);
        ErrorCode::Quota
    }

    /// Adds as many of `surbs` as fit under the queue's and the relay's limits, expiring
    /// `surb_ttl` seconds from `now`; notes the limit that kept any out.
    fn add_surbs(&mut self, recipient_id: &QueueId, surbs: &[Surb], now: u64) {
        if surbs.is_empty() {
            return;
        }
        let held = self
            .subscriptions
            .get(recipient_id)
            .map_or(0, |s| s.surbs.len());
        let queue_room = self.config.max_surbs_per_queue.saturating_sub(held);
        let relay_room = self.config.max_surbs.saturating_sub(self.surbs_held);
        let take = surbs.len().min(queue_room).min(relay_room);
        if take < surbs.len() {
            self.hit = Some(if queue_room <= relay_room {
                Limit::QueueSurbs
            } else {
                Limit::Surbs
            });
        }
        if take == 0 {
            return;
        }
        let expires = now.saturating_add(self.config.surb_ttl);
        let sub = self.subscriptions.entry(*recipient_id).or_default();
        sub.surbs
            .extend(surbs.iter().take(take).map(|s| (s.clone(), expires)));
        self.surbs_held += take;
    }

    /// Drops the SURBs whose time is up, and subscriptions left with nothing to remember.
    fn expire_surbs(&mut self, now: u64) {
        let mut dropped = 0;
        self.subscriptions.retain(|_, sub| {
            while sub.surbs.front().is_some_and(|(_, exp)| *exp <= now) {
                sub.surbs.pop_front();
                dropped += 1;
            }
            !sub.surbs.is_empty() || sub.in_flight.is_some()
        });
        self.surbs_held = self.surbs_held.saturating_sub(dropped);
    }

    /// Sends the oldest message of a subscribed queue if none is in flight and a SURB is at hand.
    fn pump(
        &mut self,
        recipient_id: &QueueId,
        now: u64,
        outgoing: &mut Vec<Outgoing>,
    ) -> Result<(), S::Error> {
        let Some(sub) = self.subscriptions.get_mut(recipient_id) else {
            return Ok(());
        };
        // Expired SURBs are never used, even between two ticks.
        while sub.surbs.front().is_some_and(|(_, exp)| *exp <= now) {
            sub.surbs.pop_front();
            self.surbs_held = self.surbs_held.saturating_sub(1);
        }
        if sub.in_flight.is_some() || sub.surbs.is_empty() {
            return Ok(());
        }
        let Some(message) = self.store.oldest_message(recipient_id)? else {
            return Ok(());
        };
        let delivery = Delivery {
            recipient_id: *recipient_id,
            message_id: message.id,
            received_at: message.received_at,
            body: message.body,
        };
        let Ok(bytes) = delivery.encode() else {
            return Ok(());
        };
        while let Some((surb, expires)) = sub.surbs.pop_front() {
            self.surbs_held = self.surbs_held.saturating_sub(1);
            if expires <= now {
                continue;
            }
            // A SURB that fails to seal is spent and dropped; try the next one.
            if let Ok((to, packet)) = surb.seal(&bytes) {
                sub.in_flight = Some((message.id, now));
                outgoing.push(Outgoing {
                    to,
                    packet,
                    delivery: true,
                });
                break;
            }
        }
        Ok(())
    }
}

/// The recipient id a relay assigns to the queue created with `key`.
pub fn recipient_id_for(key: &AuthPublicKey) -> QueueId {
    let digest = Sha256::new()
        .chain_update(RECIPIENT_ID_LABEL)
        .chain_update(key.as_bytes())
        .finalize();
    let mut id = [0u8; QueueId::LEN];
    for (dst, src) in id.iter_mut().zip(digest.iter()) {
        *dst = *src;
    }
    QueueId::from_bytes(id)
}
