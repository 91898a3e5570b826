//! A profile that moved to another device (issue 16): the restored device takes every receive
//! queue over with a Rekey, and a device that comes back with the old keys learns it moved
//! from the relays' [`ResponseBody::Moved`] and stops. See `docs/PROTOCOL.md`, "Restore".
//!
//! **The new device.** [`Client::restored`] gives every receive queue the recipient key of its
//! next generation, derived from the recovery phrase (`super::rekey`; `RecvQueue::next_key`,
//! persisted with the state before anything is sent). The queue's own
//! timer (the one its Subscribes use, so requests for different queues never leave together)
//! then sends a Rekey signed by the old key instead of a Subscribe; the relay's Ok makes the
//! new key the queue's key, and the queue is subscribed in a second of its own. A crash before
//! the answer sends the same Rekey again (Ed25519 signatures are deterministic). A `Moved`
//! answering that Rekey with a key of ours — our own next key (a retry whose first copy was
//! taken, or an earlier restore of the same state that made the same move) or a later
//! generation (an earlier restore of the phrase, whose device may have lost it) — is adopted:
//! the queue takes that key and moves on to the generation after it (at most
//! [`super::rekey::REKEY_GENERATIONS`]). So no restore of the phrase is ever locked out, the
//! last restore wins, and a device that restored the same state earlier is told it moved
//! instead of sharing the queues silently.
//!
//! **The old device.** A [`ResponseBody::Moved`] is believed only when its statement verifies
//! under our own recipient key of the queue the command named: a relay cannot forge it. An
//! answer that does not verify is a relay misbehaving ([`PeerMisbehaved::WrongAnswer`]; the
//! request stays pending). A verified one answering a Subscribe or Ack (or a Rekey, naming a
//! key we cannot derive) puts the client in the moved state, for good.
//!
//! **Holding sends.** A client opened from storage with receive queues holds its sends (the
//! outboxes, and Sends that were in flight) until a relay takes one of its queues' Subscribe
//! or Rekey, or [`OUTBOX_HOLD`] seconds after [`Client::connected`] at the latest; one queue
//! is subscribed at once then. So an old device that comes back learns it moved before a
//! message it had queued leaves: the message fails ([`Error::Moved`]) instead of reaching a
//! peer that now talks to the new device.

#[cfg(doc)]
use super::PeerMisbehaved;
use super::error::{ClientError, Error};
use super::event::Event;
use super::rekey::REKEY_GENERATIONS;
use super::request::{Pending, PendingKind, Purpose};
use super::{Client, ContactId};
use crate::ids::{QueueId, RelayId};
use crate::keys::{AuthKeyPair, AuthPublicKey};
#[cfg(doc)]
use crate::queue::ResponseBody;
use crate::queue::{Command, SIGNATURE_LEN, sign_moved, verify_moved};

use rand_core::CryptoRng;

/// The longest a client opened from storage holds its sends after connecting, in seconds,
/// when no relay answers its first Subscribes (see "Holding sends").
pub const OUTBOX_HOLD: u64 = 30;

impl Client {
    /// Whether sends are held (see "Holding sends").
    pub(super) fn held(&self) -> bool {
        self.hold.is_some()
    }

    /// Whether this client, opened from storage, still holds its sends until a relay takes
    /// one of its receive queues' Subscribe or Rekey (at most [`OUTBOX_HOLD`] seconds after
    /// [`Client::connected`]): so a device whose profile moved elsewhere sends nothing before
    /// it learns so. Messages written meanwhile wait in their outboxes.
    pub fn sends_held(&self) -> bool {
        self.held()
    }

    /// Whether a request of `kind` waits for the hold to end (Sends).
    pub(super) fn holds(&self, kind: &PendingKind) -> bool {
        self.held() && matches!(kind, PendingKind::Send { .. })
    }

    /// On connecting while sends are held: they wait at most [`OUTBOX_HOLD`] seconds more,
    /// and one queue (the first due) is subscribed at once.
    pub(super) fn hold_sends_until_confirmed(&mut self, now: u64) {
        if !self.held() {
            return;
        }
        self.hold = Some(now.saturating_add(OUTBOX_HOLD));
        let first = self
            .queues
            .iter()
            .filter_map(|(id, q)| q.subscription.renew_at.map(|at| (at, *id)))
            .min();
        if let Some((_, id)) = first
            && let Some(s) = self.queues.subscription_mut(&id)
        {
            s.renew_at = None;
            self.schedule_subscription(id, now);
        }
    }

    /// A relay took one of our queues' Subscribe or Rekey: the queues are ours; sends go.
    pub(super) fn release_hold(&mut self) {
        self.hold = None;
    }

    /// Ends the hold once its time is up.
    pub(super) fn release_hold_at(&mut self, now: u64) {
        if self.hold.is_some_and(|until| now >= until) {
            self.hold = None;
        }
    }

    /// How many receive queues are still moving to a new recipient key (a restored
    /// profile's Rekeys not yet taken): a driver that keeps a relay snapshot writes a new one
    /// when this falls, so that the snapshot holds the keys in place.
    pub fn queues_moving(&self) -> usize {
        self.queues
            .values()
            .filter(|q| q.next_key.is_some())
            .count()
    }

    /// Whether the profile was restored on another device, which took its queues over
    /// ([`Event::ProfileMoved`]): this client then sends and receives nothing, and every call
    /// that would send fails with [`ClientError::Moved`]. Kept across
    /// [`Client::to_persisted`].
    pub fn is_moved(&self) -> bool {
        self.moved
    }

    /// [`ClientError::Moved`] once the profile moved.
    pub(super) fn not_moved(&self) -> Result<(), ClientError> {
        if self.moved {
            Err(ClientError::Moved)
        } else {
            Ok(())
        }
    }

    /// Gives every receive queue the key of its next generation to move to (a restored
    /// profile's, see `super::rekey`): each queue's next Subscribe is a Rekey first. A queue
    /// whose key is of no generation we recognise (its first key) moves to generation 1.
    pub(super) fn start_rekeys(&mut self) {
        let Some(secret) = &self.rekey else {
            return;
        };
        self.queues.for_each_mut(|id, q| {
            let generation = secret.generation_of(id, &q.key.public_key()).unwrap_or(0);
            q.next_key = Some(secret.key(id, generation.saturating_add(1)));
        });
    }

    /// A relay answered our Rekey of `queue` with a statement (verified under our key) that
    /// the queue moved to `moved_to`: when that is a key of ours (an earlier restore of this
    /// phrase made it, see `super::rekey`), the queue takes it as its key and moves on to the
    /// generation after it, at once; `false` (nothing changed) when it is not ours.
    fn adopt_own_key(&mut self, queue: QueueId, moved_to: &AuthPublicKey, now: u64) -> bool {
        let Some(secret) = &self.rekey else {
            return false;
        };
        // The last generation has no derivable successor: a relay answering so is not
        // followed further.
        let Some(generation) = secret
            .generation_of(&queue, moved_to)
            .filter(|g| *g < REKEY_GENERATIONS)
        else {
            return false;
        };
        let (key, next) = (
            secret.key(&queue, generation),
            secret.key(&queue, generation.saturating_add(1)),
        );
        let Some(mut q) = self.queues.get_mut(&queue) else {
            return false;
        };
        q.key = key;
        q.next_key = Some(next);
        q.subscription.renew_at = None;
        drop(q);
        self.schedule_subscription(queue, now);
        true
    }

    /// The Rekey of `queue` to its next key, signed (the statement) by its key; `None` when
    /// the queue is not moving.
    pub(super) fn rekey_command(&self, queue: QueueId) -> Option<Command> {
        let q = self.queues.get(&queue)?;
        let new_recipient_key = q.next_key.as_ref()?.public_key();
        Some(Command::Rekey {
            recipient_id: queue,
            new_recipient_key,
            moved_sig: sign_moved(&q.key, &queue, &new_recipient_key),
        })
    }

    /// Sends a queue's Rekey (in place of its Subscribe, on its timer); an earlier one not
    /// yet answered is replaced. If no answer settles it, the queue's next renewal sends it
    /// again.
    pub(super) fn send_rekey<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        queue: QueueId,
        relay: RelayId,
        command: Command,
        now: u64,
    ) {
        if let Some(s) = self.queues.subscription_mut(&queue) {
            s.renew_at = None;
        }
        let renew_at = self.renewal_time(rng, now);
        if let Some(s) = self.queues.subscription_mut(&queue) {
            s.renew_at = Some(renew_at);
        }
        self.drop_requests_for(queue, |k| matches!(k, PendingKind::Rekey));
        let id = self.new_request_id(rng);
        self.dispatch(rng, id, PendingKind::Rekey, relay, command, now);
    }

    /// Forgets the requests of `kind` that name our receive queue `queue`.
    fn drop_requests_for(&mut self, queue: QueueId, kind: impl Fn(&PendingKind) -> bool) {
        let ids: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| kind(&p.kind) && recipient_of(&p.command) == Some(queue))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if let Some(p) = self.pending.remove(&id) {
                self.openers.remove(&p.surb);
            }
        }
    }

    /// A relay took our Rekey: the new key is the queue's key from now on, and the queue is
    /// subscribed with it in a second of its own.
    pub(super) fn on_rekeyed(&mut self, command: &Command, now: u64) {
        let Command::Rekey {
            recipient_id,
            new_recipient_key,
            ..
        } = command
        else {
            return;
        };
        let Some(mut q) = self.queues.get_mut(recipient_id) else {
            return;
        };
        if q.next_key.as_ref().map(AuthKeyPair::public_key) != Some(*new_recipient_key) {
            return;
        }
        if let Some(next) = q.next_key.take() {
            q.key = next;
        }
        q.subscription.renew_at = None;
        drop(q);
        self.hold = None;
        self.schedule_subscription(*recipient_id, now.saturating_add(1));
    }

    /// A relay answered a request with [`ResponseBody::Moved`]. Believed only if the statement
    /// verifies under our recipient key of the queue the request named; then, unless it is
    /// our own Rekey taking effect, the profile moved ([`Client::enter_moved`]). Otherwise the
    /// relay misbehaved: reported, and the request stays pending.
    pub(super) fn on_moved(
        &mut self,
        request_id: u64,
        pending: Pending,
        (new_recipient_key, moved_sig): (AuthPublicKey, [u8; SIGNATURE_LEN]),
        now: u64,
    ) {
        let verified = recipient_of(&pending.command)
            .and_then(|queue| self.queues.get(&queue).map(|q| (queue, q)))
            .is_some_and(|(queue, q)| {
                verify_moved(&q.key.public_key(), &queue, &new_recipient_key, &moved_sig).is_ok()
            });
        if !verified {
            return self.on_wrong_answer(request_id, pending);
        }
        let queue = recipient_of(&pending.command);
        let names_our_next = queue
            .and_then(|q| self.queues.get(&q))
            .and_then(|q| q.next_key.as_ref())
            .is_some_and(|k| k.public_key() == new_recipient_key);
        if names_our_next {
            // The move to our own next key: our Rekey's retry, or an earlier restore of the
            // same state that made the same move (its keys are ours too). With the rekey
            // secret, that key is adopted and the queue moves one generation further, so the
            // last restore wins and the earlier device is told; never a reason to stop.
            let rekey = matches!(pending.kind, PendingKind::Rekey);
            if rekey && self.rekey.is_none() {
                return self.on_rekeyed(&pending.command, now);
            }
            if rekey
                && let Some(q) = queue
                && self.adopt_own_key(q, &new_recipient_key, now)
            {
                self.openers.remove(&pending.surb);
                return;
            }
            return self.on_wrong_answer(request_id, pending);
        }
        self.openers.remove(&pending.surb);
        // Only our own Rekey (a restore taking the queues over) adopts a key of ours: a
        // Subscribe or Ack answered so is a device the profile moved away from.
        if matches!(pending.kind, PendingKind::Rekey)
            && let Some(queue) = recipient_of(&pending.command)
            && self.adopt_own_key(queue, &new_recipient_key, now)
        {
            return;
        }
        self.enter_moved();
    }

    /// The profile moved: tells the application ([`Event::ProfileMoved`]), stops every timer,
    /// forgets every request in flight (queue creations, acceptances, uploads and downloads
    /// fail: [`Event::DownloadFailed`], [`Event::SnapshotFetchFailed`]), and
    /// fails the messages still in outboxes ([`Event::SendFailed`] with [`Error::Moved`]).
    pub(super) fn enter_moved(&mut self) {
        if self.moved {
            return;
        }
        self.moved = true;
        self.events.push_back(Event::ProfileMoved);
        let mut openers = Vec::new();
        for s in self.queues.subscriptions_mut() {
            s.renew_at = None;
            openers.append(&mut s.surbs);
        }
        for (id, p) in std::mem::take(&mut self.pending) {
            openers.push(p.surb);
            match p.kind {
                PendingKind::Create {
                    purpose: Purpose::Invitation { handle },
                    ..
                } => self.events.push_back(Event::InvitationFailed {
                    handle,
                    error: Error::Moved,
                }),
                PendingKind::Create {
                    purpose: Purpose::Accept { .. },
                    ..
                } => self.events.push_back(Event::AcceptFailed {
                    handle: id,
                    error: Error::Moved,
                }),
                // An acceptance securing the inviter's queue fails as a refused Secure's
                // would (no half contact is left).
                PendingKind::Secure { contact } => {
                    let event = self.on_secure_refused(contact, Error::Moved);
                    self.events.push_back(event);
                }
                _ => {}
            }
        }
        for surb in openers {
            self.openers.remove(&surb);
        }
        let uploads: Vec<u64> = self.uploads.keys().copied().collect();
        for upload in uploads {
            self.fail_upload(upload, Error::Moved);
        }
        let downloads: Vec<u64> = self.downloads.keys().copied().collect();
        for download in downloads {
            self.fail_download(download, Error::Moved);
        }
        let mut failed: Vec<(ContactId, crate::envelope::MessageId)> = Vec::new();
        for (id, c) in self.contacts.iter_mut() {
            c.sending = false;
            c.retry_at = None;
            for o in c.outbox.drain(..) {
                if !o.is_control() {
                    failed.extend(o.ids().iter().map(|message| (*id, *message)));
                }
            }
        }
        for (contact, message) in failed {
            self.events.push_back(Event::SendFailed {
                contact,
                message,
                error: Error::Moved,
            });
        }
    }
}

/// The receive queue a recipient command names.
fn recipient_of(command: &Command) -> Option<QueueId> {
    match command {
        Command::Subscribe { recipient_id, .. }
        | Command::Ack { recipient_id, .. }
        | Command::Delete { recipient_id }
        | Command::Rekey { recipient_id, .. } => Some(*recipient_id),
        _ => None,
    }
}
