//! Contacts: their ratchet sessions, the queues we send to and the outboxes that feed them,
//! one message in flight per contact. An outbox holds envelopes, sealed (encrypted) when they
//! leave: as many from its front as fit in one message, as a batch
//! (`crate::envelope::batch`), encrypted once; the sealed message stays first until a relay
//! stores it, and is sent again unchanged (never encrypted again) on every retry.

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::error::{ClientError, Error};
use super::event::Event;
use super::read_ids::ReadIds;
use super::receive::{QueueOwner, RecvQueue};
use super::request::PendingKind;
use super::resync::SyncState;
use super::{Client, ContactId};
use crate::envelope::{Content, Envelope, Hello, MessageId, encode_message, fit_in_message};
use crate::ids::{QueueId, RelayId};
use crate::keys::AuthKeyPair;
use crate::queue::Command;
use crate::ratchet::Session;
use crate::ratchet::resync::ResyncSecret;

/// The sender side of a contact's queue.
pub(super) struct SendQueue {
    pub(super) relay: RelayId,
    pub(super) sender_id: QueueId,
    pub(super) key: AuthKeyPair,
    pub(super) secured: bool,
}

/// One entry of an outbox.
pub(super) enum Outgoing {
    /// An envelope waiting to leave, in its unpadded encoding
    /// ([`Envelope::encode_unpadded`]): sealed when it leaves, alone or in a batch. With
    /// its expiry (device Unix seconds; see [`expiry`]): dropped then if it is still here.
    Envelope(MessageId, Zeroizing<Vec<u8>>, Option<u64>),
    /// A queue message sealed already, sent unchanged until a relay stores it: a batch of
    /// envelopes (their ids, in order; one for a single envelope), or a resync message (one
    /// random id, see `super::resync::is_control`).
    Sealed(Vec<MessageId>, Vec<u8>),
}

impl Outgoing {
    /// The ids of the envelopes it carries.
    pub(super) fn ids(&self) -> &[MessageId] {
        match self {
            Outgoing::Envelope(id, ..) => core::slice::from_ref(id),
            Outgoing::Sealed(ids, _) => ids,
        }
    }

    /// Whether it is a resync message (whose relay's `Ok` is no [`Event::Sent`]).
    pub(super) fn is_control(&self) -> bool {
        matches!(self, Outgoing::Sealed(_, m) if super::resync::is_control(m))
    }

    /// Whether it is one of our resync requests.
    pub(super) fn is_resync_request(&self) -> bool {
        matches!(self, Outgoing::Sealed(_, m) if m.get(1) == Some(&crate::ratchet::TYPE_RESYNC_REQUEST))
    }
}

/// One contact.
pub(super) struct Contact {
    pub(super) display_name: String,
    pub(super) session: Session,
    pub(super) send: SendQueue,
    /// Envelopes and sealed messages waiting to be sent, oldest first; the front one is
    /// sealed and in flight when `sending` is set. A `Vec`, not a `VecDeque`: taking the
    /// front shifts the rest (an outbox holds a few entries, a burst some hundreds), and the
    /// wasm has no `VecDeque` code for `Outgoing` (issue 18, size).
    pub(super) outbox: Vec<Outgoing>,
    pub(super) sending: bool,
    /// Seconds messages of this conversation are kept (0: kept).
    pub(super) disappearing: u32,
    /// Refusals of the front message in a row (the back-off's exponent).
    pub(super) refusals: u32,
    /// When the front message, refused, is sent again (Unix seconds).
    pub(super) retry_at: Option<u64>,
    /// Accepting an invitation (the acceptance's handle): the contact is not announced, and
    /// is removed if their queue cannot be secured (a used one-time link).
    pub(super) accepting: Option<u64>,
    /// Set when the person compared security codes with this contact: the fingerprint of
    /// the code they compared ([`crate::verify::SecurityCode::fingerprint`]).
    pub(super) verified: Option<[u8; 32]>,
    /// Resynchronisation: its secret, a request in flight, the previous session.
    pub(super) sync: SyncState,
    /// The ids of the envelopes last read from the contact: a repeat is dropped.
    pub(super) read: ReadIds,
}

/// First wait (seconds) before a refused message is sent again; it doubles with each refusal
/// in a row up to [`RETRY_MAX`], and a random part of up to half of it is taken off.
pub const RETRY_FIRST: u64 = 2;
/// Longest wait (seconds) before a refused message is sent again.
pub const RETRY_MAX: u64 = 60;

/// The back-off after `refusals` refusals in a row: `RETRY_FIRST · 2^(refusals-1)` capped at
/// [`RETRY_MAX`], minus up to half of it at random (so that many clients do not retry in step).
fn back_off<R: CryptoRng + ?Sized>(rng: &mut R, refusals: u32) -> u64 {
    let exp = refusals.saturating_sub(1).min(16);
    let wait = RETRY_FIRST.saturating_mul(1 << exp).min(RETRY_MAX);
    let half = wait / 2;
    wait - u64::from(rng.next_u32()) % (half + 1)
}

impl Client {
    /// Changes our display name and tells every contact: a hello with the new name goes to
    /// each (they see [`Event::ContactRenamed`]). In an established conversation a hello's
    /// reply address is not used; we send the relay of our receive queue for that contact and
    /// an all-zero queue id. The name is trimmed and must pass the rule of `crate::names`
    /// (1–64 visible characters, no control, format, bidi or line-break characters): otherwise
    /// [`ClientError::InvalidName`] says why, and nothing changes. [`ClientError::Moved`]
    /// (nothing changes) once the profile moved.
    pub fn set_display_name<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        display_name: &str,
        now: u64,
    ) -> Result<(), ClientError> {
        // Checked first, so that a refusal changes nothing.
        self.not_moved()?;
        let display_name = crate::names::validate(display_name)?;
        let hello = |relay| Hello {
            reply_relay: relay,
            reply_queue: QueueId::from_bytes([0; QueueId::LEN]),
            display_name: display_name.to_owned(),
        };
        self.display_name = display_name.to_owned();
        let ids: Vec<ContactId> = self.contacts.keys().copied().collect();
        for contact in ids {
            let relay = self
                .queues
                .values()
                .find(|q| matches!(q.owner, QueueOwner::Contact(c) if c == contact))
                .map_or(self.gateway, |q| q.relay);
            let envelope = Envelope::new(rng, self.network_time(now), Content::Hello(hello(relay)));
            self.send_envelope(rng, contact, &envelope, now)?;
        }
        Ok(())
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
        self.not_moved()?;
        let envelope = Envelope::new(rng, self.network_time(now), Content::Text(text.to_owned()));
        self.send_envelope(rng, contact, &envelope, now)?;
        Ok(envelope)
    }

    /// Queues any envelope for `contact`, to be encrypted when it leaves (with the others
    /// waiting then, as many as fit in one message). [`ClientError::TooLarge`] (nothing is
    /// queued) when it does not fit in a message alone.
    pub fn send_envelope<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        contact: ContactId,
        envelope: &Envelope,
        now: u64,
    ) -> Result<(), ClientError> {
        self.not_moved()?;
        let c = self
            .contacts
            .get_mut(&contact)
            .ok_or(ClientError::UnknownContact)?;
        let unpadded = envelope
            .encode_unpadded()
            .map_err(|_| ClientError::TooLarge)?;
        // While our resync request is in flight, messages wait for the new session.
        if c.sync.pending.is_some() {
            let mut plain = unpadded.clone();
            plain.resize(crate::envelope::ENVELOPE_SIZE, 0);
            if c.sync.hold(envelope.id, &plain) {
                return Ok(());
            }
        }
        let expires = expiry(&envelope.content, c.disappearing, now);
        c.outbox
            .push(Outgoing::Envelope(envelope.id, unpadded, expires));
        self.pump_outbox(rng, contact, now);
        Ok(())
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
        self.not_moved()?;
        let c = self
            .contacts
            .get_mut(&contact)
            .ok_or(ClientError::UnknownContact)?;
        c.disappearing = seconds;
        let envelope = Envelope::new(
            rng,
            self.network_time(now),
            Content::DisappearingTimer { seconds },
        );
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

    pub(super) fn pump_outbox<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        contact: ContactId,
        now: u64,
    ) {
        if self.held() {
            return;
        }
        let Some(c) = self.contacts.get_mut(&contact) else {
            return;
        };
        if c.sending || !c.send.secured || c.retry_at.is_some() {
            return;
        }
        // Sealed now, built later or not: a state written before the Send is built holds the
        // sealed message it carries (and the ratchet step that made it), so the message is
        // never sealed twice under one message key.
        match c.seal_front(rng) {
            Ok(true) => {}
            Ok(false) => return,
            Err(ids) => {
                // Not sealed (the session refused): tried again after a back-off as for a
                // refusal, not at once on every tick.
                c.refusals = c.refusals.saturating_add(1);
                c.retry_at = Some(now.saturating_add(back_off(rng, c.refusals)));
                return self.fail_each(contact, ids, &Error::Encrypt);
            }
        }
        if self.later {
            if !self.sends_owed.contains(&contact) {
                self.sends_owed.push(contact);
            }
            return;
        }
        let Some(Outgoing::Sealed(_, message)) = c.outbox.first() else {
            return;
        };
        let message = message.clone();
        c.sending = true;
        let command = Command::Send {
            sender_id: c.send.sender_id,
            message,
        };
        let relay = c.send.relay;
        let id = self.new_request_id(rng);
        self.dispatch(rng, id, PendingKind::Send { contact }, relay, command, now);
        // Not built (no route to the queue's relay now, e.g. it left the directory): the
        // outbox is left idle and tried again after a back-off as for a refusal, not marked
        // as sending with nothing in flight (which nothing would ever end).
        if !self.pending.contains_key(&id)
            && let Some(c) = self.contacts.get_mut(&contact)
        {
            c.sending = false;
            c.refusals = c.refusals.saturating_add(1);
            c.retry_at = Some(now.saturating_add(back_off(rng, c.refusals)));
        }
    }

    pub(super) fn secure<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        contact: ContactId,
        now: u64,
    ) {
        let Some(c) = self.contacts.get(&contact) else {
            return;
        };
        let command = Command::Secure {
            sender_id: c.send.sender_id,
            sender_key: c.send.key.public_key(),
        };
        let relay = c.send.relay;
        let id = self.new_request_id(rng);
        self.dispatch(
            rng,
            id,
            PendingKind::Secure { contact },
            relay,
            command,
            now,
        );
    }

    /// Adds a contact. Announced ([`Event::ContactAdded`]) now, or (`accepting`: the handle of
    /// an acceptance) once their queue is secured, see [`Client::on_secured`].
    pub(super) fn add_contact(
        &mut self,
        display_name: String,
        session: Session,
        send: SendQueue,
        accepting: Option<u64>,
        resync: ResyncSecret,
    ) -> ContactId {
        let id = self.next_contact;
        self.next_contact += 1;
        self.contacts.insert(
            id,
            Contact {
                display_name: display_name.clone(),
                session,
                send,
                outbox: Vec::new(),
                sending: false,
                disappearing: 0,
                refusals: 0,
                retry_at: None,
                accepting,
                verified: None,
                sync: SyncState::new(resync),
                read: ReadIds::default(),
            },
        );
        if accepting.is_none() {
            self.events.push_back(Event::ContactAdded {
                contact: id,
                display_name,
            });
        }
        id
    }

    /// The relay secured the contact's queue: its messages go now; an acceptance is done.
    pub(super) fn on_secured<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        contact: ContactId,
        now: u64,
    ) {
        let Some(c) = self.contacts.get_mut(&contact) else {
            return;
        };
        c.send.secured = true;
        if let Some(handle) = c.accepting.take() {
            let display_name = c.display_name.clone();
            self.events.push_back(Event::ContactAdded {
                contact,
                display_name,
            });
            self.events.push_back(Event::Accepted { handle, contact });
        }
        self.pump_outbox(rng, contact, now);
    }

    /// The relay refused to secure the contact's queue. Accepting an invitation, that ends
    /// the acceptance (`Auth`: someone else secured it, the one-time link was used): the
    /// contact and its receive queue are removed. Otherwise its messages wait.
    pub(super) fn on_secure_refused(&mut self, contact: ContactId, error: Error) -> Event {
        match self.contacts.get(&contact).and_then(|c| c.accepting) {
            Some(handle) => {
                self.remove_contact(contact);
                Event::AcceptFailed { handle, error }
            }
            None => Event::SecureFailed { contact, error },
        }
    }

    /// Forgets a contact that was never announced, its receive queues and its requests.
    pub(super) fn remove_contact(&mut self, contact: ContactId) {
        self.contacts.remove(&contact);
        let owned = |q: &RecvQueue| matches!(q.owner, QueueOwner::Contact(c) if c == contact);
        let queues: Vec<QueueId> = self
            .queues
            .iter()
            .filter(|(_, q)| owned(q))
            .map(|(id, _)| *id)
            .collect();
        for id in &queues {
            self.queues.remove(id);
        }
        self.drop_requests(|k| {
            matches!(k, PendingKind::Secure { contact: c } | PendingKind::Send { contact: c } if *c == contact)
        });
        let stale: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| match &p.command {
                Command::Subscribe { recipient_id, .. } | Command::Ack { recipient_id, .. } => {
                    queues.contains(recipient_id)
                }
                _ => false,
            })
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            if let Some(p) = self.pending.remove(&id) {
                self.openers.remove(&p.surb);
            }
        }
    }

    /// A relay refused the message in flight to `contact`: it stays first in the outbox and
    /// is sent again after a back-off ([`RETRY_FIRST`] doubling to [`RETRY_MAX`] seconds).
    pub(super) fn on_send_refused<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        contact: ContactId,
        error: Error,
        now: u64,
    ) -> Option<Event> {
        let c = self.contacts.get_mut(&contact)?;
        c.sending = false;
        c.refusals = c.refusals.saturating_add(1);
        c.retry_at = Some(now.saturating_add(back_off(rng, c.refusals)));
        self.front_failed(contact, error)
    }

    /// [`Event::SendFailed`] for each envelope of `contact`'s front message but the last,
    /// which is returned (`None`: an empty outbox).
    pub(super) fn front_failed(&mut self, contact: ContactId, error: Error) -> Option<Event> {
        let mut ids = self.contacts.get(&contact)?.outbox.first()?.ids().to_vec();
        let last = ids.pop()?;
        self.fail_each(contact, ids, &error);
        Some(Event::SendFailed {
            contact,
            message: last,
            error,
        })
    }

    /// Sends `message` (still in an outbox: not yet stored) again now, without waiting for
    /// its back-off; or, for a file whose upload failed, uploads it again (see
    /// `Client::retry_upload`). Returns its contact; `UnknownMessage` when neither holds it
    /// (it was stored already, or never queued). A message behind another waits for that one.
    pub fn retry_message<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        message: MessageId,
        now: u64,
    ) -> Result<ContactId, ClientError> {
        self.not_moved()?;
        let Some((contact, c)) = self
            .contacts
            .iter_mut()
            .find(|(_, c)| c.outbox.iter().any(|o| o.ids().contains(&message)))
        else {
            return self.retry_upload(rng, message, now);
        };
        let contact = *contact;
        c.retry_at = None;
        c.refusals = 0;
        self.pump_outbox(rng, contact, now);
        Ok(contact)
    }

    /// Sends the front message of every outbox that is idle (not in flight, queue secured)
    /// and due: after a refusal's back-off, or left idle (e.g. by a restore). Fails what a
    /// stranded contact (see [`Contact::stranded`]) can never send.
    pub(super) fn retry_outboxes<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, now: u64) {
        self.drop_expired(now);
        let stranded = self.contacts_where(&Contact::stranded);
        for contact in stranded {
            self.fail_unsealed(contact, &Error::NoSession);
        }
        let due = self.contacts_where(&|c| Self::idle_outbox(c).is_some_and(|at| at <= now));
        for contact in due {
            if let Some(c) = self.contacts.get_mut(&contact) {
                c.retry_at = None;
            }
            self.pump_outbox(rng, contact, now);
        }
    }

    /// [`Event::SendFailed`] with `error` for each envelope of `contact` not sealed yet (in
    /// its outbox or held for a new session), all taken out: they will never be sent.
    pub(super) fn fail_unsealed(&mut self, contact: ContactId, error: &Error) {
        let Some(c) = self.contacts.get_mut(&contact) else {
            return;
        };
        let mut failed = take_envelopes(&mut c.outbox, None);
        failed.extend(c.sync.held.drain(..).map(|(id, _)| id));
        self.fail_each(contact, failed, error);
    }

    /// The contacts for which `select` holds, in id order. A `dyn` predicate and a loop: one
    /// function for every caller, not an iterator chain instantiated for each (less wasm).
    pub(super) fn contacts_where(&self, select: &dyn Fn(&Contact) -> bool) -> Vec<ContactId> {
        let mut out = Vec::new();
        for (id, c) in self.contacts.iter() {
            if select(c) {
                out.push(*id);
            }
        }
        out
    }

    /// [`Event::SendFailed`] with `error` for each of `messages`, in order.
    pub(super) fn fail_each(
        &mut self,
        contact: ContactId,
        messages: Vec<MessageId>,
        error: &Error,
    ) {
        for message in messages {
            self.events.push_back(Event::SendFailed {
                contact,
                message,
                error: error.clone(),
            });
        }
    }

    /// Drops the envelopes waiting in outboxes whose expiry is past, each failed
    /// ([`Error::Expired`]): the plaintext of a disappearing message is not kept after it.
    fn drop_expired(&mut self, now: u64) {
        let due = self.contacts_where(&|c| c.next_expiry().is_some_and(|at| at <= now));
        for contact in due {
            let Some(c) = self.contacts.get_mut(&contact) else {
                continue;
            };
            let failed = take_envelopes(&mut c.outbox, Some(now));
            self.fail_each(contact, failed, &Error::Expired);
        }
    }

    /// When the earliest idle outbox is due (see [`Client::retry_outboxes`]).
    pub(super) fn next_outbox_retry(&self) -> Option<u64> {
        if self.contacts.values().any(Contact::stranded) {
            return Some(0);
        }
        let expiry = self
            .contacts
            .values()
            .filter_map(Contact::next_expiry)
            .min();
        if self.held() {
            return expiry;
        }
        let idle = self.contacts.values().filter_map(Self::idle_outbox).min();
        idle.into_iter().chain(expiry).min()
    }

    fn idle_outbox(c: &Contact) -> Option<u64> {
        (!c.sending && c.send.secured && c.ready()).then_some(c.retry_at.unwrap_or(0))
    }
}

/// Takes out of `outbox` the envelopes not sealed yet (`expired_at`: `None`, all of them;
/// `Some(now)`, those whose expiry is at or before `now`), the rest kept in order; their ids
/// in order. One function for both (not two closures given to `retain`): less code in the wasm.
fn take_envelopes(outbox: &mut Vec<Outgoing>, expired_at: Option<u64>) -> Vec<MessageId> {
    let mut taken = Vec::new();
    outbox.retain(|o| match (o, expired_at) {
        (Outgoing::Envelope(id, ..), None) => {
            taken.push(*id);
            false
        }
        (Outgoing::Envelope(id, _, Some(at)), Some(now)) if *at <= now => {
            taken.push(*id);
            false
        }
        _ => true,
    });
    taken
}

/// When an envelope queued at `now` (device Unix seconds) expires in its outbox: a text or
/// an attachment in a conversation whose messages are kept `seconds` (0: kept), as the
/// driver's copy of it does; `None` for the rest (receipts, settings, hellos).
pub(super) fn expiry(content: &Content, seconds: u32, now: u64) -> Option<u64> {
    (seconds > 0 && matches!(content, Content::Text(_) | Content::Attachment(_)))
        .then(|| now.saturating_add(u64::from(seconds)))
}

impl Contact {
    /// Drops the outbox's entries for which `drop` holds, but not the one in flight (the
    /// front while `sending`). One function for its callers (less code in the wasm).
    pub(super) fn drop_waiting(&mut self, drop: fn(&Outgoing) -> bool) {
        let in_flight = usize::from(self.sending);
        let mut at = 0;
        self.outbox.retain(|o| {
            at += 1;
            at <= in_flight || !drop(o)
        });
    }

    /// The earliest expiry of the envelopes waiting in the outbox.
    fn next_expiry(&self) -> Option<u64> {
        self.outbox
            .iter()
            .filter_map(|o| match o {
                Outgoing::Envelope(_, _, at) => *at,
                Outgoing::Sealed(..) => None,
            })
            .min()
    }

    /// Whether envelopes wait that can never be sealed: the contact was restored from a backup
    /// and cannot resynchronise (legacy, its request never sent: see
    /// `Client::start_resync_as`), so no new session comes for them.
    fn stranded(&self) -> bool {
        self.sync.legacy
            && self.sync.pending.is_some()
            && (!self.sync.held.is_empty()
                || self
                    .outbox
                    .iter()
                    .any(|o| matches!(o, Outgoing::Envelope(..))))
    }

    /// Whether the outbox's front can leave: sealed, or envelopes that may be sealed now (not
    /// while our resync request is in flight: they wait for the new session).
    fn ready(&self) -> bool {
        match self.outbox.first() {
            Some(Outgoing::Sealed(..)) => true,
            Some(Outgoing::Envelope(..)) => self.sync.pending.is_none(),
            None => false,
        }
    }

    /// Seals the outbox's front: envelopes at the front become one sealed message (as many as
    /// fit, see [`fit_in_message`]). Whether the front is a sealed message now (`false`: the
    /// outbox is empty or its front is not ready, see [`Contact::ready`]); `Err` with the ids
    /// of the envelopes that could not be sealed (they stay as they are).
    fn seal_front<R: CryptoRng + ?Sized>(&mut self, rng: &mut R) -> Result<bool, Vec<MessageId>> {
        if !self.ready() {
            return Ok(false);
        }
        let lens = self.outbox.iter().map_while(|o| match o {
            Outgoing::Envelope(_, plain, _) => Some(plain.len()),
            Outgoing::Sealed(..) => None,
        });
        let n = fit_in_message(lens);
        if n > 0 {
            // Loops, not iterator chains collected: less code in the wasm.
            let mut parts: Vec<&[u8]> = Vec::with_capacity(n);
            for o in self.outbox.iter().take(n) {
                if let Outgoing::Envelope(_, plain, _) = o {
                    parts.push(plain);
                }
            }
            // Each was encoded (or read) as fitting alone, and `n` fit together; the session
            // may refuse (no sending chain, its counter exhausted).
            let sealed = encode_message(&parts)
                .ok()
                .and_then(|plain| self.session.encrypt(rng, &plain).ok());
            let mut ids = Vec::with_capacity(n);
            let Some(message) = sealed else {
                for o in self.outbox.iter().take(n) {
                    ids.extend_from_slice(o.ids());
                }
                return Err(ids);
            };
            for o in self.outbox.drain(..n) {
                if let Outgoing::Envelope(id, ..) = o {
                    ids.push(id);
                }
            }
            self.outbox.insert(0, Outgoing::Sealed(ids, message));
        }
        Ok(matches!(self.outbox.first(), Some(Outgoing::Sealed(..))))
    }
}
