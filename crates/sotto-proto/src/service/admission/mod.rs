//! Admission: the difficulty that follows the load, the spent set of Create work, and the
//! Create command itself (checked cheapest first).
//!
//! **Difficulty.** The service counts the *paid admissions* of each window of
//! [`ServiceConfig::admission_window`] seconds: Creates whose work met the difficulty asked for
//! then and was spent, and BlobPuts that stored the first chunk of a new blob. (Subscription
//! SURB deposits pay with a queue signature, not with work, and are capped by [`Limit::Surbs`]
//! instead.) Only work that paid and bought something counts, so requests with bad work, or
//! one good request replayed, cannot raise the price for everyone else. When a window ends:
//!
//! * more than [`ServiceConfig::admission_rate`] paid admissions: the difficulty rises by one
//!   bit per doubling over the rate (`rate < n ≤ 2·rate`: +1, `≤ 4·rate`: +2, …), at most to
//!   [`ServiceConfig::max_pow_bits`];
//! * at most half the rate: it falls by one bit (never below [`ServiceConfig::pow_bits`]); a
//!   window that passed with no request at all counts as such a window;
//! * otherwise it stays.
//!
//! The rise is relative to the difficulty of the window, so a flood whose senders keep paying
//! settles where they can afford about `admission_rate` admissions per window; the fall is one
//! step at a time, so the price does not swing back at once when a flood pauses.
//! `admission_rate = 0` keeps the difficulty at `pow_bits`.
//!
//! **Spent set.** A Create challenge that paid is remembered until its timestamp leaves the
//! acceptance window. The set holds at most [`ServiceConfig::max_spent`] challenges: when it is
//! full, a Create with new work is refused ([`Limit::Spent`], answered QUOTA) rather than the
//! set grow; the tick frees room as timestamps age out.

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use rand_core::CryptoRng;

use super::{Limit, QueueRecord, QueueService, QueueStore, ServiceConfig, recipient_id_for};
use crate::ids::QueueId;
use crate::keys::AuthPublicKey;
use crate::pow::{Challenge, MAX_BITS, Scope};
use crate::queue::{ErrorCode, ReceivedRequest, ResponseBody};

/// The admission state of one queue service: the current difficulty, the window's count and
/// the spent Create challenges.
#[derive(Debug)]
pub(super) struct Admission {
    /// Leading zero bits asked for now.
    bits: u8,
    /// When the current window started (Unix seconds); `None` before the first request.
    window_start: Option<u64>,
    /// Paid admissions in the current window.
    paid: u64,
    /// Create challenges already paid with, and the timestamp of their Create.
    spent: HashMap<Challenge, u64>,
}

impl Admission {
    pub(super) fn new(config: &ServiceConfig) -> Self {
        Self {
            bits: config.pow_bits.min(MAX_BITS),
            window_start: None,
            paid: 0,
            spent: HashMap::new(),
        }
    }

    /// The difficulty asked for now.
    pub(super) fn bits(&self) -> u8 {
        self.bits
    }

    /// Counts one admission whose work met [`Admission::bits`].
    pub(super) fn paid(&mut self) {
        self.paid = self.paid.saturating_add(1);
    }

    /// Ends the windows that are over at `now` and sets the difficulty from their counts.
    pub(super) fn roll(&mut self, now: u64, config: &ServiceConfig) {
        let window = config.admission_window.max(1);
        let Some(start) = self.window_start else {
            self.window_start = Some(now);
            return;
        };
        let ended = now.saturating_sub(start) / window;
        if ended == 0 {
            return;
        }
        let base = config.pow_bits.min(MAX_BITS);
        let max = config.max_pow_bits.clamp(base, MAX_BITS);
        let rate = config.admission_rate;
        if rate == 0 {
            self.bits = base;
        } else if self.paid > rate {
            let mut doublings = 0u8;
            let mut bound = rate;
            while self.paid > bound && doublings < MAX_BITS {
                bound = bound.saturating_mul(2);
                doublings += 1;
            }
            self.bits = self.bits.saturating_add(doublings).min(max);
        } else if self.paid.saturating_mul(2) <= rate {
            self.bits = self.bits.saturating_sub(1).max(base);
        }
        // Windows after the first that ended passed without a request: one step down each.
        let quiet = u8::try_from(ended - 1).unwrap_or(u8::MAX);
        self.bits = self.bits.saturating_sub(quiet).max(base).min(max);
        self.paid = 0;
        self.window_start = Some(start.saturating_add(ended.saturating_mul(window)));
    }

    /// Create challenges remembered as spent.
    pub(super) fn spent_len(&self) -> usize {
        self.spent.len()
    }

    /// Forgets the spent challenges whose Create is outside the window at `now`.
    pub(super) fn prune(&mut self, now: u64, max_clock_skew: u64) {
        self.spent
            .retain(|_, at| at.saturating_add(max_clock_skew) >= now);
    }
}

impl<S: QueueStore> QueueService<S> {
    /// A Create whose timestamp is inside the window, checked cheapest first: the work (one
    /// hash), the spent set, the store's room (O(1)), then the signature and the store (see
    /// the module's "Admission").
    pub(super) fn create<R: CryptoRng + ?Sized>(
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
            .verify_pow(scope, self.admission.bits())
            .map_err(|_| ErrorCode::Pow)?;
        let recipient_id = recipient_id_for(recipient_key);
        let ids = |q: QueueRecord| ResponseBody::Ids {
            recipient_id: q.recipient_id,
            sender_id: q.sender_id,
        };
        if self.admission.spent.contains_key(&challenge) {
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
        // New work, and no room to remember it: refused rather than the set grow.
        if self.admission.spent_len() >= self.config.max_spent {
            return Err(self.full(Limit::Spent));
        }
        // Full: refused before the signature (the dearer check) and before the work is spent,
        // so the client's retry may use it again. The owner's retry of a queue that exists is
        // still answered below.
        if self.store.usage().queues >= self.config.max_queues
            && self.store.queue(&recipient_id).map_err(internal)?.is_none()
        {
            return Err(self.full(Limit::Queues));
        }
        // Only the key's owner can sign a Create for it; the work is spent once it has.
        request.verify_self_signed().map_err(|_| ErrorCode::Auth)?;
        self.admission.spent.insert(challenge, timestamp);
        self.admission.paid();
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
}
