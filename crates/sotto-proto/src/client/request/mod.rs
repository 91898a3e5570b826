//! Requests in flight: building and sending them, resending the unanswered ones, and the
//! answers that settle them.

use rand_core::CryptoRng;

use super::error::{Error, PeerMisbehaved};
use super::event::Event;
use super::{Client, ContactId};
use crate::attachment::AttachmentError;
use crate::ids::{QueueId, RelayId};
use crate::invitation::Invitation;
use crate::keys::AuthKeyPair;
use crate::onion::{ClientFrame, SurbId};
use crate::pow;
use crate::queue::{Command, ErrorCode, Request, Response, ResponseBody};

/// Seconds a Create's solved work is reused by its retries: half the relays' default clock
/// window (600 s), so a retry still lands inside it. Older work is solved again, with a new
/// timestamp.
pub const CREATE_WORK_REUSE_SECS: u64 = 300;

/// The most leading zero bits a client solves when a relay under load asks for more work than
/// its directory entry said ([`ResponseBody::PowRequired`]): 2^24 hashes, some seconds in a
/// browser. A relay asking for more fails the request as [`ErrorCode::Quota`] (the relay is too
/// busy to admit us now) instead of keeping the page solving for minutes.
pub const MAX_RETRY_POW_BITS: u8 = 24;

/// Why a queue is created.
pub(super) enum Purpose {
    /// A queue for an invitation we hand out.
    Invitation { handle: u64 },
    /// A queue for replies from the inviter, created when accepting their invitation. The
    /// handle of the acceptance is the creation's request id.
    Accept { invitation: Invitation },
}

/// What a request is for: what its answer settles.
pub(super) enum PendingKind {
    Create {
        key: Box<AuthKeyPair>,
        purpose: Purpose,
        /// Already sent again at once after a relay refused its time and told us its clock:
        /// a second such refusal fails it (never a loop).
        clock_retried: bool,
        /// Already solved again at the difficulty a relay asked for
        /// ([`ResponseBody::PowRequired`]): a second such answer fails it.
        pow_retried: bool,
    },
    Secure {
        contact: ContactId,
    },
    Send {
        contact: ContactId,
    },
    Subscribe,
    Ack,
    /// A Rekey of one of our receive queues (see `moved`).
    Rekey,
    BlobPut {
        upload: u64,
        /// As [`PendingKind::Create`]'s `pow_retried`.
        pow_retried: bool,
    },
    BlobGet {
        download: u64,
    },
}

/// What a reply block may bring back: it is made for one request or for one of our queues,
/// and a reply through it that carries anything else is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReplyTo {
    /// The answer to the request with this id.
    Request(u64),
    /// Deliveries of this receive queue.
    Queue(QueueId),
}

/// A request sent and not yet answered.
pub(super) struct Pending {
    pub(super) kind: PendingKind,
    /// The relay whose queue service answers.
    pub(super) relay: RelayId,
    pub(super) command: Command,
    pub(super) sent_at: u64,
    pub(super) surb: SurbId,
}

impl Client {
    /// A fresh request id: 64 random bits (never 0, never one in flight), so that ids on
    /// different queues say nothing about each other.
    pub(super) fn new_request_id<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> u64 {
        loop {
            let id = rng.next_u64();
            if id != 0 && !self.pending.contains_key(&id) {
                return id;
            }
        }
    }

    /// Builds the request (with a fresh reply block, and for Create and BlobPut the proof of
    /// work the relay asks for, solved unless the command's is still good),
    /// wraps it for `relay` and queues the packet; remembers it until answered.
    pub(super) fn dispatch<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        request_id: u64,
        kind: PendingKind,
        relay: RelayId,
        mut command: Command,
        now: u64,
    ) {
        // Nothing leaves a profile that moved to another device.
        if self.moved {
            return;
        }
        // Commands whose signing key is gone (a contact or queue deleted meanwhile) are dropped.
        let Ok((reply, surb)) = self.new_surb(rng, relay, ReplyTo::Request(request_id)) else {
            return;
        };
        // Work already solved (a retry's, a blob's) is kept while it is good for the relay's
        // current epoch and difficulty, and for a Create while its timestamp is fresh by the
        // network's clock (the relay checks it against its own; see `network_time`).
        let network_now = self.network_time(now);
        let (scope, bits) = self.pow_terms(relay);
        if let Some(challenge) = command.pow_challenge(&scope) {
            let stale = matches!(command, Command::Create { timestamp, .. }
                if timestamp > network_now || network_now - timestamp > CREATE_WORK_REUSE_SECS);
            if stale || command.verify_pow(&scope, bits).is_err() {
                let challenge = match &mut command {
                    Command::Create { timestamp, .. } => {
                        *timestamp = network_now;
                        command.pow_challenge(&scope).unwrap_or(challenge)
                    }
                    _ => challenge,
                };
                let Ok(nonce) = pow::solve(&challenge, bits) else {
                    self.openers.remove(&surb);
                    return;
                };
                command.set_pow_nonce(nonce);
            }
        }
        let signer = match &kind {
            PendingKind::Create { key, .. } => Some((**key).clone()),
            _ => self.signer_for(&kind, &command),
        };
        let request = Request {
            request_id,
            reply: Some(reply),
            command: command.clone(),
        };
        let encoded = request.encode(signer.as_ref());
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

    pub(super) fn signer_for(&self, kind: &PendingKind, command: &Command) -> Option<AuthKeyPair> {
        match (kind, command) {
            (PendingKind::Secure { contact }, _) | (PendingKind::Send { contact }, _) => {
                self.contacts.get(contact).map(|c| c.send.key.clone())
            }
            (_, Command::Subscribe { recipient_id, .. })
            | (_, Command::Ack { recipient_id, .. })
            | (_, Command::Delete { recipient_id })
            | (_, Command::Rekey { recipient_id, .. }) => {
                self.queues.get(recipient_id).map(|q| q.key.clone())
            }
            _ => None,
        }
    }

    /// Requests of one transfer still waiting for an answer.
    pub(super) fn in_flight(&self, is_ours: impl Fn(&PendingKind) -> bool) -> u32 {
        let n = self.pending.values().filter(|p| is_ours(&p.kind)).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Forgets a transfer's requests still in flight.
    pub(super) fn drop_requests(&mut self, is_ours: impl Fn(&PendingKind) -> bool) {
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

    /// Resends every request unanswered for [`super::ClientConfig::retry_after`] seconds
    /// (along a new route, with a new reply block).
    pub(super) fn retry_due<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, now: u64) {
        let due: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| now.saturating_sub(p.sent_at) >= self.config.retry_after)
            .filter(|(_, p)| !self.holds(&p.kind))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some(p) = self.pending.remove(&id) {
                self.openers.remove(&p.surb);
                self.resent = self.resent.saturating_add(1);
                self.dispatch(rng, id, p.kind, p.relay, p.command, now);
            }
        }
    }

    /// When the oldest unanswered request is due to be resent.
    pub(super) fn next_retry(&self) -> Option<u64> {
        self.pending
            .values()
            .filter(|p| !self.holds(&p.kind))
            .map(|p| p.sent_at.saturating_add(self.config.retry_after))
            .min()
    }

    /// An answer from a relay's queue service: settles the request it answers.
    pub(super) fn on_response<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        response: Response,
        now: u64,
    ) {
        // An answer to a request we already gave up on (or answered twice) is ignored.
        let Some(pending) = self.pending.remove(&response.request_id) else {
            return;
        };
        match (pending.kind, response.body) {
            (
                PendingKind::Create { key, purpose, .. },
                ResponseBody::Ids {
                    recipient_id,
                    sender_id,
                },
            ) => self.on_queue_created(
                rng,
                response.request_id,
                pending.relay,
                *key,
                purpose,
                recipient_id,
                sender_id,
                now,
            ),
            (PendingKind::Secure { contact }, ResponseBody::Ok) => {
                self.on_secured(rng, contact, now)
            }
            (PendingKind::Send { contact }, ResponseBody::Ok) => {
                if let Some(c) = self.contacts.get_mut(&contact) {
                    c.sending = false;
                    c.refusals = 0;
                    if let Some(sent) = (!c.outbox.is_empty()).then(|| c.outbox.remove(0))
                        && !sent.is_control()
                    {
                        for message in sent.ids() {
                            self.events.push_back(Event::Sent {
                                contact,
                                message: *message,
                            });
                        }
                    }
                }
                self.pump_outbox(rng, contact, now);
            }
            (PendingKind::Subscribe, ResponseBody::Ok) => self.release_hold(),
            (PendingKind::Rekey, ResponseBody::Ok) => self.on_rekeyed(&pending.command, now),
            (
                kind,
                ResponseBody::Moved {
                    new_recipient_key,
                    moved_sig,
                },
            ) => {
                let pending = Pending {
                    kind,
                    relay: pending.relay,
                    command: pending.command,
                    sent_at: pending.sent_at,
                    surb: pending.surb,
                };
                let statement = (new_recipient_key, moved_sig);
                self.on_moved(response.request_id, pending, statement, now);
            }
            // `Exists`: a retried chunk whose first copy was stored.
            (PendingKind::BlobPut { upload, .. }, ResponseBody::Ok) => {
                self.on_chunk_stored(rng, upload, now)
            }
            (PendingKind::BlobPut { upload, .. }, ResponseBody::Error(ErrorCode::Duplicate)) => {
                self.on_chunk_duplicate(rng, upload, now)
            }
            (kind, ResponseBody::PowRequired { bits }) => {
                let again = (pending.relay, pending.command, pending.surb);
                self.on_pow_required(rng, response.request_id, kind, again, bits, now)
            }
            (PendingKind::BlobPut { upload, .. }, ResponseBody::Error(code)) => {
                self.fail_upload(upload, Error::RelayRefused(code))
            }
            (PendingKind::BlobGet { download }, ResponseBody::BlobChunk { index, data }) => {
                // The answer must be for the chunk asked for.
                match &pending.command {
                    Command::BlobGet { index: asked, .. } if *asked == index => {
                        self.on_chunk_fetched(rng, download, index, &data, now)
                    }
                    _ => self.fail_download(
                        download,
                        Error::PeerMisbehaved(PeerMisbehaved::Attachment(AttachmentError::Index)),
                    ),
                }
            }
            (PendingKind::BlobGet { download }, ResponseBody::Error(code)) => {
                self.fail_download(download, Error::RelayRefused(code))
            }
            // Acks of messages already deleted (a retried Ack) are fine.
            (PendingKind::Ack, ResponseBody::Ok | ResponseBody::Error(ErrorCode::NoMessage)) => {}
            (kind @ PendingKind::Create { .. }, ResponseBody::ExpiredAt { relay_time }) => {
                let again = (pending.relay, pending.command, pending.surb);
                self.on_clock_refused(rng, response.request_id, kind, again, relay_time, now)
            }
            (kind, ResponseBody::Error(code)) => {
                self.on_refused(rng, response.request_id, kind, &pending.command, code, now)
            }
            (kind, ResponseBody::ExpiredAt { .. }) => self.on_refused(
                rng,
                response.request_id,
                kind,
                &pending.command,
                ErrorCode::Expired,
                now,
            ),
            (kind, _) => self.on_wrong_answer(
                response.request_id,
                Pending {
                    kind,
                    relay: pending.relay,
                    command: pending.command,
                    sent_at: pending.sent_at,
                    surb: pending.surb,
                },
            ),
        }
    }

    /// The relay answered a request with an answer of another kind: tells the application
    /// ([`Error::PeerMisbehaved`] with [`PeerMisbehaved::WrongAnswer`]). A queue creation or
    /// a transfer fails for good; anything else (a Send above all: its message stays first
    /// in the outbox) stays pending and is sent again at its retry time, so nothing waits
    /// forever on one bad answer.
    pub(super) fn on_wrong_answer(&mut self, request_id: u64, pending: Pending) {
        let error = Error::PeerMisbehaved(PeerMisbehaved::WrongAnswer);
        let event = match &pending.kind {
            PendingKind::Create {
                purpose: Purpose::Invitation { handle },
                ..
            } => Event::InvitationFailed {
                handle: *handle,
                error,
            },
            PendingKind::Create {
                purpose: Purpose::Accept { .. },
                ..
            } => Event::AcceptFailed {
                handle: request_id,
                error,
            },
            PendingKind::BlobPut { upload, .. } => return self.fail_upload(*upload, error),
            PendingKind::BlobGet { download } => return self.fail_download(*download, error),
            PendingKind::Secure { contact } => Event::SecureFailed {
                contact: *contact,
                error,
            },
            PendingKind::Send { contact } => {
                // One failure for each envelope of the message in flight.
                let Some(event) = self.front_failed(*contact, error) else {
                    return;
                };
                event
            }
            PendingKind::Subscribe | PendingKind::Rekey => Event::SubscribeFailed {
                contact: self.queue_contact(&pending.command),
                error,
            },
            PendingKind::Ack => Event::AckFailed {
                contact: self.queue_contact(&pending.command),
                error,
            },
        };
        self.events.push_back(event);
        if !matches!(pending.kind, PendingKind::Create { .. }) {
            self.pending.insert(request_id, pending);
        }
    }

    /// A relay refused a queue creation's timestamp and told us its clock (`relay_time`, at
    /// our `now`). The first time, and when the offset is within [`super::MAX_CLOCK_OFFSET`],
    /// we take the offset and send the creation again at once (same id, new reply block and
    /// proof of work, timestamp in the relay's time). Otherwise it fails for good as
    /// [`ErrorCode::Expired`]: a relay cannot make us loop, nor move our clock by more than
    /// the bound.
    fn on_clock_refused<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        request_id: u64,
        kind: PendingKind,
        (relay, command, surb): (RelayId, Command, SurbId),
        relay_time: u64,
        now: u64,
    ) {
        let offset = i128::from(relay_time) - i128::from(now);
        let believable = offset.unsigned_abs() <= u128::from(super::MAX_CLOCK_OFFSET);
        match (kind, i64::try_from(offset)) {
            (
                PendingKind::Create {
                    key,
                    purpose,
                    clock_retried: false,
                    pow_retried,
                },
                Ok(offset),
            ) if believable => {
                self.learn_clock_offset(offset);
                self.openers.remove(&surb);
                let kind = PendingKind::Create {
                    key,
                    purpose,
                    clock_retried: true,
                    pow_retried,
                };
                self.dispatch(rng, request_id, kind, relay, command, now);
            }
            (kind, _) => self.on_refused(rng, request_id, kind, &command, ErrorCode::Expired, now),
        }
    }

    /// A relay under load refused the work of a Create or a new blob's chunk and asked for
    /// `bits`. The first time, and when `bits` is within [`MAX_RETRY_POW_BITS`], we take
    /// `bits` as the relay's difficulty (until the next directory says otherwise), solve again
    /// and send the request once more (same id, new reply block). A second such answer fails
    /// it as [`ErrorCode::Pow`], and a relay asking for more than the bound fails it as
    /// [`ErrorCode::Quota`] (busy): never a loop, never minutes of solving.
    fn on_pow_required<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        request_id: u64,
        kind: PendingKind,
        (relay, command, surb): (RelayId, Command, SurbId),
        bits: u8,
        now: u64,
    ) {
        let kind = match kind {
            PendingKind::Create {
                key,
                purpose,
                clock_retried,
                pow_retried: false,
            } if bits <= MAX_RETRY_POW_BITS => PendingKind::Create {
                key,
                purpose,
                clock_retried,
                pow_retried: true,
            },
            PendingKind::BlobPut {
                upload,
                pow_retried: false,
            } if bits <= MAX_RETRY_POW_BITS => PendingKind::BlobPut {
                upload,
                pow_retried: true,
            },
            kind => {
                let code = if bits > MAX_RETRY_POW_BITS {
                    ErrorCode::Quota
                } else {
                    ErrorCode::Pow
                };
                if let PendingKind::BlobPut { upload, .. } = kind {
                    return self.fail_upload(upload, Error::RelayRefused(code));
                }
                return self.on_refused(rng, request_id, kind, &command, code, now);
            }
        };
        let key_epoch = self.pow_terms(relay).0.key_epoch;
        let admission = self
            .admission
            .entry(relay)
            .or_insert(super::RelayAdmission {
                key_epoch,
                pow_bits: None,
            });
        admission.pow_bits = Some(bits);
        self.openers.remove(&surb);
        self.dispatch(rng, request_id, kind, relay, command, now);
    }

    /// Takes a clock offset a relay told us; reports it once if it is large.
    fn learn_clock_offset(&mut self, offset: i64) {
        self.clock_offset = offset;
        if offset.unsigned_abs() > super::CLOCK_OFFSET_REPORT && !self.clock_reported {
            self.clock_reported = true;
            self.events
                .push_back(Event::ClockOffset { seconds: offset });
        }
    }

    /// A relay refused a request for good: tells the application what failed.
    fn on_refused<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        request_id: u64,
        kind: PendingKind,
        command: &Command,
        code: ErrorCode,
        now: u64,
    ) {
        let error = Error::RelayRefused(code);
        let event = match kind {
            PendingKind::Create {
                purpose: Purpose::Invitation { handle },
                ..
            } => Event::InvitationFailed { handle, error },
            PendingKind::Create {
                purpose: Purpose::Accept { .. },
                ..
            } => Event::AcceptFailed {
                handle: request_id,
                error,
            },
            PendingKind::Secure { contact } => self.on_secure_refused(contact, error),
            // The message in flight is the front of the outbox; it stays there.
            PendingKind::Send { contact } => {
                let Some(event) = self.on_send_refused(rng, contact, error, now) else {
                    return;
                };
                event
            }
            PendingKind::Subscribe | PendingKind::Rekey => Event::SubscribeFailed {
                contact: self.queue_contact(command),
                error,
            },
            PendingKind::Ack => Event::AckFailed {
                contact: self.queue_contact(command),
                error,
            },
            // Refused chunks end their transfer (see `on_response`).
            PendingKind::BlobPut { .. } | PendingKind::BlobGet { .. } => return,
        };
        self.events.push_back(event);
    }
}

#[cfg(test)]
pub(super) mod tests;
