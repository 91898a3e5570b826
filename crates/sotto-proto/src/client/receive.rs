//! Our receive queues: subscribing them (and again, before the relay's reply blocks run
//! out), deliveries, and the Acks that delete what was delivered.

use std::collections::HashSet;

use rand_core::CryptoRng;

use super::request::{PendingKind, ReplyTo};
use super::{Client, ContactId};
use crate::handshake::InvitationSecret;
use crate::ids::{QueueId, RelayId};
use crate::keys::AuthKeyPair;
use crate::onion::{ClientFrame, SurbId};
use crate::queue::{Command, Delivery, QueueMessageId, Request};

/// The recipient side of one of our queues.
pub(super) struct RecvQueue {
    pub(super) relay: RelayId,
    pub(super) key: AuthKeyPair,
    pub(super) owner: QueueOwner,
    /// Its timer and reply blocks (not persisted: no part holds them).
    pub(super) subscription: Subscription,
    /// A recipient key this queue is moving to (a restored profile's, see `moved`): while
    /// set, the queue's timer sends a Rekey signed by `key` instead of a Subscribe; the
    /// relay's Ok makes it `key`.
    pub(super) next_key: Option<AuthKeyPair>,
}

/// A receive queue's subscription: nothing of it is persisted, so changing it changes no
/// part (`super::tracked::Queues::subscription_mut`).
#[derive(Default)]
pub(super) struct Subscription {
    /// When the next Subscribe for this queue is due (Unix seconds); `None`: not scheduled.
    /// Each queue has its own timer, in a second no other queue's uses.
    pub(super) renew_at: Option<u64>,
    /// The reply blocks handed to the queue's relay with the last Subscribe.
    pub(super) surbs: Vec<SurbId>,
}

/// Packets owed, taken by [`Client::take_owed`] and built by [`Client::build_packets`]: the
/// Acks of deliveries and the contacts whose outbox may send its front message. Holds ids
/// only (no key material).
#[derive(Default)]
pub struct OwedPackets {
    acks: Vec<OwedAck>,
    sends: Vec<ContactId>,
}

impl OwedPackets {
    /// Whether nothing is owed.
    pub fn is_empty(&self) -> bool {
        self.acks.is_empty() && self.sends.is_empty()
    }

    /// Whether an outbox's Send is owed: a packet on its message's path (the Acks are not:
    /// the message they acknowledge is already in).
    pub fn has_sends(&self) -> bool {
        !self.sends.is_empty()
    }
}

/// An Ack a delivery owes, built by [`Client::build_packets`].
pub(super) struct OwedAck {
    queue: QueueId,
    message_id: QueueMessageId,
    quiet: bool,
}

/// Whose messages a receive queue holds.
pub(super) enum QueueOwner {
    /// Waiting for the first message from whoever uses the invitation.
    Invitation(Box<InvitationSecret>),
    Contact(ContactId),
}

/// Seconds over which [`Client::connected`] spreads the first subscriptions (one more per
/// queue, so each can have a second of its own).
const CONNECT_SPREAD: u64 = 4;

impl Client {
    /// Schedules every receive queue's next Subscribe within the next few seconds, each in a
    /// second of its own, in random order.
    pub(super) fn schedule_all_subscriptions<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
    ) {
        let mut ids: Vec<QueueId> = self.queues.keys().copied().collect();
        ids.sort_unstable();
        for s in self.queues.subscriptions_mut() {
            s.renew_at = None;
        }
        let span = CONNECT_SPREAD + ids.len() as u64;
        // The seconds taken so far (every other timer was just cleared): one set rather than
        // a look through every queue for each second tried, which grew with the square of
        // the number of queues (tens of ms at 1,000 contacts in the browser, on every open).
        let mut taken = HashSet::with_capacity(ids.len());
        // Every queue's draw taken in one call (issue 18): in the browser each call to the
        // generator is a `crypto.getRandomValues` across the JavaScript boundary.
        let mut draws = vec![0u8; ids.len() * 8];
        rng.fill_bytes(&mut draws);
        for (id, draw) in ids.into_iter().zip(draws.chunks_exact(8)) {
            let draw = draw.try_into().map_or(0, u64::from_le_bytes);
            let mut at = now.saturating_add(draw % span);
            while !taken.insert(at) && at < u64::MAX {
                at += 1;
            }
            if let Some(s) = self.queues.subscription_mut(&id) {
                s.renew_at = Some(at);
            }
        }
    }

    /// Schedules a new queue's first Subscribe in the first free second from `now` on (not at
    /// once: it would leave together with whatever else this moment sends).
    pub(super) fn schedule_subscription(&mut self, queue: QueueId, now: u64) {
        let at = self.free_second(now);
        if let Some(s) = self.queues.subscription_mut(&queue) {
            s.renew_at = Some(at);
        }
    }

    /// The first second from `at` on that no receive queue's timer uses.
    fn free_second(&self, mut at: u64) -> u64 {
        while self
            .queues
            .values()
            .any(|q| q.subscription.renew_at == Some(at))
        {
            at = at.saturating_add(1);
        }
        at
    }

    /// The time of a queue's next renewal, subscribed at `now`: after a random
    /// `resubscribe_every × U(0.5, 1.0)` seconds, in a free second.
    pub(super) fn renewal_time<R: CryptoRng + ?Sized>(&self, rng: &mut R, now: u64) -> u64 {
        let every = self.config.resubscribe_every.max(1);
        let half = every / 2;
        let wait = every - half + rng.next_u64() % (half + 1);
        self.free_second(now.saturating_add(wait))
    }

    pub(super) fn subscribe<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        queue: QueueId,
        now: u64,
    ) {
        let Some(relay) = self.queues.get(&queue).map(|q| q.relay) else {
            return;
        };
        // A queue moving to a new key is rekeyed first, on its own timer.
        if let Some(command) = self.rekey_command(queue) {
            return self.send_rekey(rng, queue, relay, command, now);
        }
        let mut surbs = Vec::new();
        let mut ids = Vec::new();
        for _ in 0..self.config.subscribe_surbs {
            if let Ok((surb, id)) = self.new_surb(rng, relay, ReplyTo::Queue(queue)) {
                surbs.push(surb);
                ids.push(id);
            }
        }
        if let Some(s) = self.queues.subscription_mut(&queue) {
            s.renew_at = None;
        }
        let renew_at = self.renewal_time(rng, now);
        if let Some(s) = self.queues.subscription_mut(&queue) {
            // The relay replaces the SURBs it held: their openers can go.
            for old in s.surbs.drain(..) {
                self.openers.remove(&old);
            }
            s.surbs = ids;
            s.renew_at = Some(renew_at);
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
        let id = self.new_request_id(rng);
        let command = Command::Subscribe {
            recipient_id: queue,
            surbs,
        };
        self.dispatch(rng, id, PendingKind::Subscribe, relay, command, now);
    }

    /// Subscribes the receive queue whose timer is due first. Only one per call, and none
    /// when `busy` (other requests left in this tick): queues left over move to free seconds
    /// from `now + 1` on, so that requests for different queues never leave together.
    pub(super) fn resubscribe_due<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        busy: bool,
    ) {
        let mut due: Vec<(u64, QueueId)> = self
            .queues
            .iter()
            .filter_map(|(id, q)| {
                q.subscription
                    .renew_at
                    .filter(|at| *at <= now)
                    .map(|at| (at, *id))
            })
            .collect();
        due.sort_unstable();
        let mut due = due.into_iter().map(|(_, id)| id);
        if !busy && let Some(first) = due.next() {
            self.subscribe(rng, first, now);
        }
        for id in due {
            if let Some(s) = self.queues.subscription_mut(&id) {
                s.renew_at = None;
            }
            let at = self.free_second(now.saturating_add(1));
            if let Some(s) = self.queues.subscription_mut(&id) {
                s.renew_at = Some(at);
            }
        }
    }

    /// When the next receive queue is due to be (re-)subscribed.
    pub(super) fn next_renewal(&self) -> Option<u64> {
        self.queues
            .values()
            .filter_map(|q| q.subscription.renew_at)
            .min()
    }

    /// The contact whose queue a Subscribe, Ack or Rekey names (`None`: an invitation's queue, or
    /// one gone meanwhile).
    pub(super) fn queue_contact(&self, command: &Command) -> Option<ContactId> {
        let (Command::Subscribe { recipient_id, .. }
        | Command::Ack { recipient_id, .. }
        | Command::Rekey { recipient_id, .. }) = command
        else {
            return None;
        };
        match self.queues.get(recipient_id)?.owner {
            QueueOwner::Contact(contact) => Some(contact),
            QueueOwner::Invitation(_) => None,
        }
    }

    /// A message on one of our queues: a hello on an invitation's queue, or a contact's
    /// message. Either way it is acknowledged, so the relay deletes it.
    pub(super) fn on_delivery<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        delivery: Delivery,
        now: u64,
    ) {
        let queue_id = delivery.recipient_id;
        // An invitation's expiry is in the network's time.
        let network_now = self.network_time(now);
        let Some(owner) = self.queues.get(&queue_id).map(|q| match q.owner {
            QueueOwner::Invitation(_) => None,
            QueueOwner::Contact(c) => Some(c),
        }) else {
            return;
        };
        // Whether the Ack may be quiet: only for a message not seen before on a contact's
        // queue (see `ack`).
        let mut quiet = false;
        match owner {
            None => {
                let hello = match self.queues.get_mut(&queue_id).as_deref_mut() {
                    Some(RecvQueue {
                        owner: QueueOwner::Invitation(secret),
                        ..
                    }) => {
                        let own = *secret.invitation();
                        if let Ok((session, hello, _)) =
                            secret.receive_hello(rng, &delivery.body, network_now)
                            && let Ok(resync) = secret.resync_secret(session.associated_data())
                        {
                            Some((own, session, resync, hello))
                        } else {
                            None
                        }
                    }
                    _ => None,
                };
                if let Some((own, session, resync, hello)) = hello {
                    self.on_hello(rng, queue_id, own, (session, resync), hello, now);
                    // The queue is the contact's now, and the hello the first message on it: a
                    // retry of the peer's that the relay stored twice is a redelivery.
                    if let Some(QueueOwner::Contact(contact)) =
                        self.queues.get(&queue_id).map(|q| &q.owner)
                        && let Some(c) = self.contacts.get_mut(contact)
                    {
                        c.sync.note_received(&delivery.body);
                    }
                }
            }
            Some(contact) => {
                quiet = self
                    .contacts
                    .get(&contact)
                    .is_some_and(|c| !c.sync.seen_before(&delivery.body));
                // Duplicates (a message a retry stored twice, a redelivery) are dropped; a
                // message the ratchet cannot place is reported and starts a resync.
                self.on_contact_message(rng, contact, &delivery.body, now);
            }
        }
        if self.later {
            self.acks_owed.push(OwedAck {
                queue: queue_id,
                message_id: delivery.message_id,
                quiet,
            });
        } else {
            self.ack(rng, queue_id, delivery.message_id, quiet, now);
        }
    }

    /// Packets built later: while on, the Ack a delivery owes and the Send of an outbox's
    /// front message are not built at once (a fresh reply block and a forward packet each:
    /// the costly part of taking or sending a message) but owed, until
    /// [`Client::build_owed`] (or [`Client::take_owed`] and [`Client::build_packets`]). A
    /// driver that persists turns it on to take them with its write of what the call changed
    /// and build them while that write commits (or, when only Acks are owed and events wait,
    /// after dispatching those: [`OwedPackets::has_sends`]), and one that does not to build
    /// them after dispatching the events. Building them changes nothing a state needs when it is opened
    /// again: the reply blocks are held in memory only, and the pending Send that a state
    /// written before it was built lacks is sent again from its outbox, a duplicate the
    /// receiver drops. So a state written before they are built lacks nothing that matters,
    /// provided the packets built come only from what it holds (the ciphertexts they carry,
    /// the deliveries they acknowledge): hence [`Client::take_owed`] with the write. Off by
    /// default; not persisted.
    pub fn build_later(&mut self, on: bool) {
        self.later = on;
    }

    /// Whether packets are owed (see [`Client::build_later`]). A driver that persists counts
    /// them as a change to write: the deliveries and messages they come from changed the
    /// state, and the write comes before they leave.
    pub fn packets_owed(&self) -> bool {
        !self.acks_owed.is_empty() || !self.sends_owed.is_empty()
    }

    /// Takes the packets owed now (see [`Client::build_later`]), to be built by
    /// [`Client::build_packets`]: a driver that persists takes them with its write, so that
    /// what it builds while the write commits comes only from what that write holds (a
    /// message written after the write was taken, in the same turn of the page, waits for the
    /// next write). What is owed later stays owed. Dropped unbuilt (the driver closed), nothing
    /// is lost: the relay delivers an unacknowledged message again, and an outbox left idle
    /// sends again at the next [`Client::tick`].
    pub fn take_owed(&mut self) -> OwedPackets {
        OwedPackets {
            acks: std::mem::take(&mut self.acks_owed),
            sends: std::mem::take(&mut self.sends_owed),
        }
    }

    /// Builds packets taken by [`Client::take_owed`], the Acks in the order their deliveries
    /// came, then the Sends, and hands back their frames for the gateway (not queued for
    /// [`Client::poll_transmit`]: the caller sends them after its write of the state they come
    /// from). An answered Ack is kept to be retried as before; a quiet one is not; a Send is
    /// pending as if built at once (an outbox that can no longer send, its contact gone, already
    /// sending or the profile moved, builds nothing; one with no route to its queue's relay
    /// now is left idle and tried again after a back-off, [`RETRY_FIRST`](super::RETRY_FIRST)
    /// seconds doubling as for a refusal).
    pub fn build_packets<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        owed: OwedPackets,
        now: u64,
    ) -> Vec<Vec<u8>> {
        let later = std::mem::replace(&mut self.later, false);
        let before = self.transmit.len();
        for a in owed.acks {
            self.ack(rng, a.queue, a.message_id, a.quiet, now);
        }
        for contact in owed.sends {
            self.pump_outbox(rng, contact, now);
        }
        self.later = later;
        self.transmit.drain(before..).collect()
    }

    /// Builds every packet owed now: [`Client::take_owed`] then [`Client::build_packets`], for
    /// a driver with nothing to write first.
    pub fn build_owed<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, now: u64) -> Vec<Vec<u8>> {
        let owed = self.take_owed();
        self.build_packets(rng, owed, now)
    }

    /// Acknowledges a delivered message, handing the relay one fresh SURB for the one the
    /// delivery used. `quiet` for a message first seen on a contact's queue: a quiet Ack (no
    /// reply block, no answer, not kept nor retried), a lost one being covered by the relay's
    /// redelivery. Otherwise an answered Ack, retried until answered: a redelivery (bytes the
    /// contact's state notes as seen, read or not, so known across reloads) means that an
    /// earlier Ack did not take effect (lost, or a relay that drops quiet Acks); an
    /// invitation's queue gets one or two deliveries in all. The choice depends only on what
    /// is stored, never on what this page remembers, so a relay that redelivers cannot tell
    /// a reload by it.
    pub(super) fn ack<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        queue: QueueId,
        message_id: QueueMessageId,
        quiet: bool,
        now: u64,
    ) {
        let Some(relay) = self.queues.get(&queue).map(|q| q.relay) else {
            return;
        };
        // One fresh SURB replaces the one the delivery used.
        let mut surbs = Vec::new();
        if let Ok((surb, id)) = self.new_surb(rng, relay, ReplyTo::Queue(queue)) {
            surbs.push(surb);
            if let Some(s) = self.queues.subscription_mut(&queue) {
                s.surbs.push(id);
            }
        }
        let command = Command::Ack {
            recipient_id: queue,
            message_id,
            surbs,
            quiet,
        };
        let id = self.new_request_id(rng);
        if quiet {
            self.dispatch_unanswered(rng, id, relay, &command);
        } else {
            self.dispatch(rng, id, PendingKind::Ack, relay, command, now);
        }
    }

    /// Sends a request the relay does not answer (a quiet Ack): no reply block is built, and
    /// nothing is kept to wait for an answer or to retry it.
    fn dispatch_unanswered<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        request_id: u64,
        relay: RelayId,
        command: &Command,
    ) {
        // Nothing leaves a profile that moved to another device.
        if self.moved {
            return;
        }
        let signer = self.signer_for(&PendingKind::Ack, command);
        let request = Request {
            request_id,
            reply: None,
            command: command.clone(),
        };
        let Ok(payload) = request.encode(signer.as_ref()) else {
            return;
        };
        if let Some(packet) = self.forward_packet(rng, relay, &payload) {
            self.transmit
                .push_back(ClientFrame::Packet(packet).encode());
        }
    }
}
