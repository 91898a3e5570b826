//! The queue service: what a relay does with a request that reached it as the last hop.
//!
//! Sans-IO like the rest of the crate: the relay hands [`QueueService::handle`] the plaintext
//! of a [`crate::onion::Processed::Deliver`], the time and an RNG, and gets back the packets to
//! send (answers through reply SURBs, deliveries through subscription SURBs). Storage is behind
//! [`QueueStore`]: the relay implements it over redb, [`MemoryStore`] serves tests and the
//! simulation. A store call that returns `Ok` must be durable, because the answer that follows
//! tells the sender its message is safe.
//!
//! ## Delivery
//! One message per queue is in flight at a time, oldest first, each through one SURB the
//! recipient handed over (Subscribe replaces the set, Ack adds to it). The next one goes out when the
//! recipient acknowledges (and so deletes) the previous one. A new Subscribe, or
//! [`ServiceConfig::redeliver_after`] seconds without an Ack, sends the oldest unacknowledged
//! message again, so a lost delivery is never a lost message; the recipient drops duplicates
//! by message id. SURBs live in memory only: after a relay restart recipients subscribe again.
//!
//! ## Admission
//! Creating a queue and starting a blob cost proof of work ([`crate::pow`]) bound to this
//! relay and to the epoch of the Sphinx key that peeled the request ([`Scope`], handed in by
//! the node): work for another relay, or for a key epoch the relay no longer holds, is refused
//! with [`ErrorCode::Pow`]. A Create is checked cheapest first: timestamp window, the work
//! (one hash), the spent set, then the signature and the store. A solved Create challenge is
//! spent: it buys one queue, and is remembered until its timestamp leaves the acceptance window
//! ([`ServiceConfig::max_clock_skew`]); the owner's retry of the same Create is still answered
//! with the same ids (nothing new is created), but once that queue is deleted the same work
//! creates nothing. A BlobPut's work is checked only while the relay holds no chunk of the
//! blob: the blob id is then the spent marker, until the blob expires.
//!
//! Files: this one has the store interface and [`QueueService`]; `memory.rs` the
//! [`MemoryStore`].

mod memory;
#[cfg(test)]
mod tests;

pub use memory::MemoryStore;

use std::collections::{HashMap, VecDeque};

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};

use crate::ids::{QueueId, RelayId};
use crate::keys::AuthPublicKey;
use crate::onion::{Packet, Surb};
use crate::pow::{Challenge, Scope};
use crate::queue::{
    BlobId, Command, Delivery, ErrorCode, QueueMessageId, ReceivedRequest, Response, ResponseBody,
};

/// Domain label of the recipient id derived from the recipient key.
pub const RECIPIENT_ID_LABEL: &[u8] = b"sotto/queue/v1/recipient-id";

/// Limits of one relay's queue service. All are per relay and configurable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceConfig {
    /// Messages a queue may hold (SimpleX holds 128).
    pub queue_quota: usize,
    /// Seconds a message is kept when nobody acknowledges it (21 days).
    pub message_ttl: u64,
    /// Seconds a blob chunk is kept (48 hours).
    pub blob_ttl: u64,
    /// Chunks one blob may have.
    pub max_blob_chunks: u32,
    /// SURBs held per queue; more are refused with [`ErrorCode::Quota`].
    pub max_surbs_per_queue: usize,
    /// Leading zero bits the proof of work of a Create, and of a BlobPut starting a new blob,
    /// must have (published as `pow_bits` in the directory).
    pub pow_bits: u8,
    /// How far a Create's timestamp may be from the relay's clock, in seconds.
    pub max_clock_skew: u64,
    /// Seconds after which an unacknowledged delivery is sent again.
    pub redeliver_after: u64,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            queue_quota: 1024,
            message_ttl: 21 * 24 * 3600,
            blob_ttl: 48 * 3600,
            max_blob_chunks: 4096,
            max_surbs_per_queue: 64,
            pow_bits: 16,
            max_clock_skew: 600,
            redeliver_after: 30,
        }
    }
}

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
}

/// A packet the relay must send: to relay `to` (which may be itself).
#[derive(Debug)]
pub struct Outgoing {
    pub to: RelayId,
    pub packet: Packet,
}

/// What became of one request; the relay counts these in its metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done; the answer is among the outgoing packets.
    Ok,
    /// Refused with this code; the error answer is among the outgoing packets.
    Refused(ErrorCode),
    /// Not a request we can answer (undecodable: no reply SURB to answer through). Dropped.
    Dropped,
}

/// The result of [`QueueService::handle`] and [`QueueService::tick`].
#[derive(Debug)]
pub struct Handled {
    pub outcome: Outcome,
    pub outgoing: Vec<Outgoing>,
}

#[derive(Default)]
struct Subscription {
    surbs: VecDeque<Surb>,
    /// The message delivered and not yet acknowledged, and when it went out.
    in_flight: Option<(QueueMessageId, u64)>,
}

/// One relay's queue service over a store.
pub struct QueueService<S> {
    store: S,
    config: ServiceConfig,
    subscriptions: HashMap<QueueId, Subscription>,
    /// Create challenges already paid with, and the timestamp of their Create (pruned by
    /// [`QueueService::tick`] once it leaves the acceptance window).
    spent: HashMap<Challenge, u64>,
}

impl<S: QueueStore> QueueService<S> {
    pub fn new(store: S, config: ServiceConfig) -> Self {
        Self {
            store,
            config,
            subscriptions: HashMap::new(),
            spent: HashMap::new(),
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
        self.subscriptions.values().map(|s| s.surbs.len()).sum()
    }

    /// Create challenges remembered as spent (for metrics and tests).
    pub fn spent_challenges(&self) -> usize {
        self.spent.len()
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
            };
        };
        let mut outgoing = Vec::new();
        let body = match self.execute(&request, scope, now, rng, &mut outgoing) {
            Ok(body) => body,
            Err(code) => ResponseBody::Error(code),
        };
        let outcome = match body {
            ResponseBody::Error(code) => Outcome::Refused(code),
            _ => Outcome::Ok,
        };
        let response = Response {
            request_id: request.request_id,
            body,
        };
        // The answer goes first: a Send's sender learns its message is stored before the
        // recipient may see it, and a Subscribe's Ok precedes the first delivery.
        if let Some(out) = response
            .encode()
            .ok()
            .and_then(|bytes| request.reply.clone().seal(&bytes).ok())
        {
            outgoing.insert(
                0,
                Outgoing {
                    to: out.0,
                    packet: out.1,
                },
            );
        }
        Handled { outcome, outgoing }
    }

    /// Time-driven work: redelivers messages whose delivery was not acknowledged in time and
    /// sweeps expired messages and blobs. Call it every few seconds.
    pub fn tick(&mut self, now: u64) -> Result<(Swept, Vec<Outgoing>), S::Error> {
        let swept = self
            .store
            .sweep(now, now.saturating_sub(self.config.message_ttl))?;
        // A spent challenge whose Create is outside the window is refused as Expired anyway.
        let skew = self.config.max_clock_skew;
        self.spent.retain(|_, at| at.saturating_add(skew) >= now);
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
                    return Err(ErrorCode::Quota);
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
                    return Err(ErrorCode::Quota);
                }
                // A Subscribe replaces the SURBs held: older ones may lead to a connection
                // that is gone.
                self.subscriptions.entry(*recipient_id).or_default().surbs =
                    surbs.iter().cloned().collect();
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
            } => {
                self.authorise_recipient(request, recipient_id)?;
                let removed = self
                    .store
                    .remove_message(recipient_id, message_id)
                    .map_err(internal)?;
                self.add_surbs(recipient_id, surbs)?;
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
                self.subscriptions.remove(recipient_id);
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
                let paid = request.verify_pow(scope, self.config.pow_bits).is_ok();
                let held = self.store.blob_chunk_count(blob_id).map_err(internal)?;
                if held == 0 && !paid {
                    return Err(ErrorCode::Pow);
                }
                if held >= self.config.max_blob_chunks {
                    return Err(ErrorCode::Quota);
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
                Ok(ResponseBody::Ok)
            }
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

    /// A Create whose timestamp is inside the window: the work (one hash), the spent set, then
    /// the signature and the store (see the module's "Admission").
    fn create<R: CryptoRng + ?Sized>(
        &mut self,
        request: &ReceivedRequest,
        scope: &Scope,
        recipient_key: &AuthPublicKey,
        timestamp: u64,
        now: u64,
        rng: &mut R,
    ) -> Result<ResponseBody, ErrorCode> {
        let internal = |_: S::Error| ErrorCode::Internal;
        let challenge = request.pow_challenge(scope).ok_or(ErrorCode::Pow)?;
        request
            .verify_pow(scope, self.config.pow_bits)
            .map_err(|_| ErrorCode::Pow)?;
        let recipient_id = recipient_id_for(recipient_key);
        let ids = |q: QueueRecord| ResponseBody::Ids {
            recipient_id: q.recipient_id,
            sender_id: q.sender_id,
        };
        if self.spent.contains_key(&challenge) {
            // Spent work buys nothing new. Only its owner's retry (the answer was lost) is
            // answered, with the ids of the queue it already bought.
            let existing = self
                .store
                .queue(&recipient_id)
                .map_err(internal)?
                .ok_or(ErrorCode::Pow)?;
            request.verify_self_signed().map_err(|_| ErrorCode::Auth)?;
            return Ok(ids(existing));
        }
        // Only the key's owner can sign a Create for it; the work is spent once it has.
        request.verify_self_signed().map_err(|_| ErrorCode::Auth)?;
        self.spent.insert(challenge, timestamp);
        // Idempotent: a retried Create with fresh work (or after a restart emptied the spent
        // set) gets the same ids.
        if let Some(existing) = self.store.queue(&recipient_id).map_err(internal)? {
            return Ok(ids(existing));
        }
        let record = QueueRecord {
            recipient_id,
            sender_id: QueueId::random(rng),
            recipient_key: *recipient_key,
            sender_key: None,
            created_at: now,
        };
        self.store.insert_queue(&record).map_err(internal)?;
        Ok(ids(record))
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

    fn authorise_recipient(
        &self,
        request: &ReceivedRequest,
        recipient_id: &QueueId,
    ) -> Result<(), ErrorCode> {
        let queue = self
            .store
            .queue(recipient_id)
            .map_err(|_| ErrorCode::Internal)?
            .ok_or(ErrorCode::NoQueue)?;
        request
            .verify(&queue.recipient_key)
            .map_err(|_| ErrorCode::Auth)
    }

    fn add_surbs(&mut self, recipient_id: &QueueId, surbs: &[Surb]) -> Result<(), ErrorCode> {
        let sub = self.subscriptions.entry(*recipient_id).or_default();
        if sub.surbs.len() + surbs.len() > self.config.max_surbs_per_queue {
            return Err(ErrorCode::Quota);
        }
        sub.surbs.extend(surbs.iter().cloned());
        Ok(())
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
        while let Some(surb) = sub.surbs.pop_front() {
            // A SURB that fails to seal is spent and dropped; try the next one.
            if let Ok((to, packet)) = surb.seal(&bytes) {
                sub.in_flight = Some((message.id, now));
                outgoing.push(Outgoing { to, packet });
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
