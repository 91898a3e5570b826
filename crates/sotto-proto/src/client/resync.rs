//! A contact's messages that our ratchet cannot place (a header under no key we hold, or a
//! number already used by a message that is not one we received: the peer went back):
//! reported ([`Event::DecryptFailed`])
//! and repaired by a resynchronisation (`crate::ratchet::resync`): we send a
//! [`ResyncRequest`] on the contact's send queue, they answer with the first message of a new
//! session. See `docs/PROTOCOL.md`, "Ratchet resynchronisation".
//!
//! Rules: at most one request of ours in flight per contact, resent with back-off
//! ([`RESYNC_RETRY_FIRST`] doubling to [`RESYNC_RETRY_MAX`]); no new resync within
//! [`RESYNC_QUIET`] of the last one (so that garbage a relay injects cannot make us resync in
//! a loop); a request is answered once per nonce (a replay changes nothing; a repeat of the
//! last one gets the same answer again, at most every [`ACCEPT_RESEND_MIN`]); when both sides
//! ask at once, a restored device's request wins (`super::restore`), else the one with the
//! lower key (bytewise). Messages written while ours
//! is in flight wait and are encrypted under the new session. The previous session stays to
//! decrypt what was in flight until the first message under the new one arrives.

use std::collections::VecDeque;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::contact::Outgoing;
use super::error::{Error, PersistError};
use super::event::Event;
use super::receive::QueueOwner;
use super::{Client, ContactId};
use crate::codec::{Reader, SecretWriter, Writer as _};
use crate::envelope::{Content, Envelope, Hello, MessageId};
use crate::ids::QueueId;
use crate::keys::{KeyPair, SecretKey};
use crate::ratchet::resync::{NONCE_LEN, ResyncRequest, ResyncSecret};
use crate::ratchet::{AD_LEN, Session, TYPE_RESYNC_ACCEPT, TYPE_RESYNC_REQUEST};

/// Seconds before our unanswered request is sent again; doubles with each attempt.
pub const RESYNC_RETRY_FIRST: u64 = 30;
/// Longest wait (seconds) between two sends of one request.
pub const RESYNC_RETRY_MAX: u64 = 3600;
/// Seconds after a resync (started or done) in which no new one is started.
pub const RESYNC_QUIET: u64 = 300;
/// Fewest seconds between two sends of the same answer to a repeated request.
pub const ACCEPT_RESEND_MIN: u64 = 10;
/// Nonces of answered (or refused) requests remembered per contact.
const SEEN_NONCES: usize = 32;
/// Body tags of the last messages received per contact, to tell a redelivery from a peer
/// that sends again under a message number it used before (its state went back). A
/// redelivery is of the queue's newest messages (one delivery is in flight per queue, and a
/// sender retries a message before it sends the next), so a few would do; 32 tags are 257
/// bytes, written with the contact on every message received (issue 18: with the 32 read ids
/// of `read_ids.rs`, the write stays under 2 KB once both windows are full).
const RECENT_TAGS: usize = 32;
/// The most tags a stored state may hold: [`RECENT_TAGS`] was 64 before issue 18's steady
/// state was measured. Such a state is read whole and drops to 32 at its next message (so
/// that it encodes back to the bytes it was read from until it changes).
const RECENT_TAGS_STORED: usize = 64;
/// Bytes kept of a message's body tag: the last 8 of the message (from layout version 9;
/// the last 16, its whole AEAD tag, before). A new message matches a kept tag by chance with
/// probability 2^-64 per tag; a relay can make bytes that match on purpose whatever the
/// length (it saw the messages), which makes a delivery of them a redelivery, dropped: no
/// more than withholding the message, which it can do anyway.
const TAG_LEN: usize = 8;
/// Bytes of each body tag in layouts before version 9.
const TAG_LEN_V8: usize = 16;

/// Where a conversation's encryption stands, for the application to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncStatus {
    /// Messages both ways decrypt (as far as we know).
    Ok,
    /// A message could not be decrypted; our resync request waits for the contact's answer.
    Resyncing,
}

impl SyncStatus {
    /// `"ok"` or `"resyncing"`, the words drivers hand on.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Resyncing => "resyncing",
        }
    }
}

/// Our request in flight.
pub(super) struct PendingResync {
    key: KeyPair,
    request: ResyncRequest,
    attempts: u32,
    retry_at: u64,
}

/// The answer we gave last, sent again if its request comes again.
struct LastAccept {
    nonce: [u8; NONCE_LEN],
    message: Vec<u8>,
    sent_at: u64,
}

/// One contact's resynchronisation state (persisted with the contact).
pub(super) struct SyncState {
    secret: ResyncSecret,
    pub(super) pending: Option<PendingResync>,
    previous: Option<Session>,
    last_accept: Option<LastAccept>,
    seen: VecDeque<[u8; NONCE_LEN]>,
    pub(super) quiet_until: u64,
    /// Padded envelopes written while our request is in flight.
    pub(super) held: Vec<(MessageId, Zeroizing<Vec<u8>>)>,
    /// Body tags of the last [`RECENT_TAGS`] messages received.
    recent: VecDeque<[u8; TAG_LEN]>,
    /// The secret is [`ResyncSecret::legacy`] (a contact stored before resync existed): it is
    /// computable by whoever saw the invitation link and the hello, so such a contact neither
    /// asks for nor answers a resync (a failure is still reported).
    pub(super) legacy: bool,
    /// Our last request that the contact answered, while its quiet time lasts: (announces a
    /// restore, `E_a`). A request of theirs that loses to it by the tie rule crossed ours on
    /// the way (it was written before they had our request) and is stale: answering it would
    /// move them to a third session we never hear of.
    won: Option<(bool, [u8; 32])>,
}

impl SyncState {
    pub(super) fn new(secret: ResyncSecret) -> Self {
        Self {
            secret,
            pending: None,
            previous: None,
            last_accept: None,
            seen: VecDeque::new(),
            quiet_until: 0,
            held: Vec::new(),
            recent: VecDeque::new(),
            legacy: false,
            won: None,
        }
    }

    /// For a contact stored before resynchronisation existed (see [`ResyncSecret::legacy`]):
    /// marked [`SyncState::legacy`], so it never resyncs.
    pub(super) fn legacy(ad: &[u8; AD_LEN]) -> Option<Self> {
        ResyncSecret::legacy(ad).ok().map(|secret| Self {
            legacy: true,
            ..Self::new(secret)
        })
    }

    /// At least the length of what [`SyncState::write`] writes, for reserving a writer.
    pub(super) fn persisted_len(&self) -> usize {
        let fixed = 256 + SEEN_NONCES * NONCE_LEN + RECENT_TAGS_STORED * TAG_LEN;
        let previous = self.previous.as_ref().map_or(0, |s| 4 + s.persisted_len());
        let accept = self
            .last_accept
            .as_ref()
            .map_or(0, |a| 32 + a.message.len());
        let held: usize = self.held.iter().map(|(_, p)| 20 + p.len()).sum();
        fixed + previous + accept + held
    }

    pub(super) fn status(&self) -> SyncStatus {
        if self.pending.is_some() {
            SyncStatus::Resyncing
        } else {
            SyncStatus::Ok
        }
    }

    /// Holds a padded envelope until the new session exists; `false` if none is awaited.
    pub(super) fn hold(&mut self, id: MessageId, plain: &Zeroizing<Vec<u8>>) -> bool {
        if self.pending.is_none() {
            return false;
        }
        self.held.push((id, plain.clone()));
        true
    }

    /// Remembers `message`'s body tag among the last [`RECENT_TAGS`] received (read, a resync
    /// message, or one that could not be read), so that the same bytes again are a
    /// redelivery.
    pub(super) fn note_received(&mut self, message: &[u8]) {
        if let Some(tag) = body_tag(message) {
            self.recent.push_back(tag);
            while self.recent.len() > RECENT_TAGS {
                self.recent.pop_front();
            }
        }
    }

    /// Whether `message` is one of the last [`RECENT_TAGS`] received (by its body tag; read,
    /// or noted as unreadable): a redelivery, or a retry the relay stored twice.
    pub(super) fn seen_before(&self, message: &[u8]) -> bool {
        body_tag(message).is_some_and(|t| self.recent.contains(&t))
    }

    /// The body tags kept, oldest first.
    #[cfg(test)]
    pub(super) fn recent_tags(&self) -> impl Iterator<Item = &[u8; TAG_LEN]> {
        self.recent.iter()
    }

    fn remember(&mut self, nonce: [u8; NONCE_LEN]) {
        self.seen.push_back(nonce);
        while self.seen.len() > SEEN_NONCES {
            self.seen.pop_front();
        }
    }

    /// secret ‖ flags ‖ [pending] ‖ [previous] ‖ [last accept] ‖ [won] ‖ quiet until ‖ seen ‖
    /// recent ‖ held;
    /// see `docs/PROTOCOL.md`, "Client state (at rest)".
    pub(super) fn write(&self, w: &mut SecretWriter) {
        w.put_bytes(&self.secret.to_persisted_bytes()[..]);
        let restored = self.pending.as_ref().and_then(|p| p.request.restored);
        let flags = u8::from(self.pending.is_some())
            | u8::from(self.previous.is_some()) << 1
            | u8::from(self.last_accept.is_some()) << 2
            | u8::from(restored.is_some()) << 3
            | u8::from(self.legacy) << 4
            | u8::from(self.won.is_some()) << 5;
        w.put_u8(flags);
        if let Some(p) = &self.pending {
            w.put_bytes(&p.key.secret.to_persisted_bytes()[..]);
            w.put_bytes(&p.request.nonce);
            w.put_u32(p.attempts);
            w.put_u64(p.retry_at);
        }
        if let Some(since) = restored {
            w.put_u64(since);
        }
        if let Some(s) = &self.previous {
            put_long(w, s.to_persisted().as_bytes());
        }
        if let Some(a) = &self.last_accept {
            w.put_bytes(&a.nonce);
            w.put_u64(a.sent_at);
            put_long(w, &a.message);
        }
        if let Some((restored, key)) = &self.won {
            w.put_u8(u8::from(*restored));
            w.put_bytes(key);
        }
        w.put_u64(self.quiet_until);
        w.put_u8(u8::try_from(self.seen.len()).unwrap_or(0));
        for n in &self.seen {
            w.put_bytes(n);
        }
        w.put_u8(u8::try_from(self.recent.len()).unwrap_or(0));
        for t in &self.recent {
            w.put_bytes(t);
        }
        w.put_u32(u32::try_from(self.held.len()).unwrap_or(0));
        for (id, plain) in &self.held {
            w.put_bytes(id.as_bytes());
            put_long(w, plain);
        }
    }

    /// Reads what [`SyncState::write`] wrote in layout `version` (≥ 5).
    pub(super) fn read(r: &mut Reader<'_>, version: u8) -> Result<Self, &'static str> {
        let e = |_| "resync state";
        let secret = ResyncSecret::from_persisted_bytes(&Zeroizing::new(r.extract().map_err(e)?));
        let flags = r.take_u8().map_err(e)?;
        if flags & !0x3f != 0 || flags & 0x09 == 0x08 {
            return Err("resync state flags");
        }
        let mut state = Self::new(secret);
        state.legacy = flags & 0x10 != 0;
        if flags & 1 != 0 {
            let seed = Zeroizing::new(r.extract::<[u8; 32]>().map_err(e)?);
            let secret = SecretKey::from_persisted_bytes(*seed);
            let key = KeyPair {
                public: secret.public_key(),
                secret,
            };
            let mut request = ResyncRequest {
                key: key.public,
                nonce: r.extract().map_err(e)?,
                restored: None,
            };
            let attempts = r.take_u32().map_err(e)?;
            let retry_at = r.take_u64().map_err(e)?;
            if flags & 8 != 0 {
                request = request.restored(r.take_u64().map_err(e)?);
            }
            state.pending = Some(PendingResync {
                key,
                request,
                attempts,
                retry_at,
            });
        }
        if flags & 2 != 0 {
            let bytes = r.take_u32_prefixed().map_err(e)?;
            state.previous = Some(Session::from_persisted(bytes).map_err(|_| "resync session")?);
        }
        if flags & 4 != 0 {
            state.last_accept = Some(LastAccept {
                nonce: r.extract().map_err(e)?,
                sent_at: r.take_u64().map_err(e)?,
                message: r.take_u32_prefixed().map_err(e)?.to_vec(),
            });
        }
        if flags & 0x20 != 0 {
            let restored = match r.take_u8().map_err(e)? {
                0 => false,
                1 => true,
                _ => return Err("resync state: won"),
            };
            state.won = Some((restored, r.extract().map_err(e)?));
        }
        state.quiet_until = r.take_u64().map_err(e)?;
        for _ in 0..r.take_u8().map_err(e)? {
            state.seen.push_back(r.extract().map_err(e)?);
        }
        for _ in 0..r.take_u8().map_err(e)? {
            let tag = if version >= 9 {
                r.extract().map_err(e)?
            } else {
                body_tag(&r.extract::<[u8; TAG_LEN_V8]>().map_err(e)?).ok_or("resync state")?
            };
            state.recent.push_back(tag);
        }
        if state.seen.len() > SEEN_NONCES || state.recent.len() > RECENT_TAGS_STORED {
            return Err("resync state: too many nonces");
        }
        for _ in 0..r.take_u32().map_err(e)? {
            let id = MessageId::from_bytes(r.extract().map_err(e)?);
            let plain = Zeroizing::new(r.take_u32_prefixed().map_err(e)?.to_vec());
            state.held.push((id, plain));
        }
        Ok(state)
    }
}

fn body_tag(message: &[u8]) -> Option<[u8; TAG_LEN]> {
    message
        .len()
        .checked_sub(TAG_LEN)
        .and_then(|at| message.get(at..))
        .and_then(|t| t.try_into().ok())
}

fn put_long(w: &mut SecretWriter, b: &[u8]) {
    w.put_u32(u32::try_from(b.len()).unwrap_or(u32::MAX));
    w.put_bytes(b);
}

/// Whether an outbox entry is a resync message (its relay's `Ok` is no [`Event::Sent`]).
pub(super) fn is_control(message: &[u8]) -> bool {
    matches!(
        message.get(1),
        Some(&TYPE_RESYNC_REQUEST | &TYPE_RESYNC_ACCEPT)
    )
}

/// The back-off before the `attempts`-th resend of a request.
fn retry_wait(attempts: u32) -> u64 {
    RESYNC_RETRY_FIRST
        .saturating_mul(1 << attempts.min(16))
        .min(RESYNC_RETRY_MAX)
}

impl Client {
    /// Test hook: gives `contact` the secret a contact stored before resync gets
    /// ([`ResyncSecret::legacy`], marked legacy, as `Client::from_persisted` of a version 4
    /// state does) and returns the session's associated data it is computed from. Not for
    /// applications.
    #[doc(hidden)]
    pub fn use_legacy_resync_secret(&mut self, contact: ContactId) -> Option<[u8; AD_LEN]> {
        let c = self.contacts.get_mut(&contact)?;
        let ad = *c.session.associated_data();
        c.sync = SyncState::legacy(&ad)?;
        Some(ad)
    }

    /// Where the conversation with `contact` stands; `None` for an unknown contact.
    pub fn sync_status(&self, contact: ContactId) -> Option<SyncStatus> {
        self.contacts.get(&contact).map(|c| c.sync.status())
    }

    /// A message on a contact's queue: a resync request or accept, or a ratchet message
    /// (under the current session, else the previous one). One neither session can place is
    /// reported and starts a resync; a duplicate or replay is dropped quietly.
    pub(super) fn on_contact_message<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        contact: ContactId,
        body: &[u8],
        now: u64,
    ) {
        if is_control(body) {
            // Noted as seen (its repeats are handled by nonce), so that a redelivery of it,
            // after a reload too, is acknowledged with an answered Ack (`Client::ack`).
            if let Some(c) = self.contacts.get_mut(&contact) {
                c.sync.note_received(body);
            }
            return match body.get(1) {
                Some(&TYPE_RESYNC_REQUEST) => self.on_resync_request(rng, contact, body, now),
                _ => self.on_resync_accept(rng, contact, body, now),
            };
        }
        let Some(c) = self.contacts.get_mut(&contact) else {
            return;
        };
        // A message we read before, handed to us again (a relay's redelivery after a lost
        // acknowledgement, a retry stored twice): dropped. It is checked by its body tag, not
        // by whether a header key opens it, because the chain it came on may be gone by now
        // (the ratchet stepped on meanwhile) and it must still not count as a failure.
        if c.sync.seen_before(body) {
            return;
        }
        let received = match c.session.decrypt(rng, body) {
            Ok(plain) => {
                // The first message under the new session: nothing more comes under the old.
                c.sync.previous = None;
                Some(plain)
            }
            Err(_) => c
                .sync
                .previous
                .as_mut()
                .and_then(|p| p.decrypt(rng, body).ok()),
        };
        if let Some(plain) = received {
            c.sync.note_received(body);
            return self.deliver(contact, &plain, now);
        }
        // Not one we read, and no session can open it: garbage, or the peer sending again
        // under a message number it used before (its state went back). Either way it is
        // reported, and a resync starts (at most one per quiet period). Its bytes are noted
        // as seen: the same again (a redelivery) is dropped, not reported twice, and its Ack
        // is answered like a read message's (`Client::ack`), after a reload too.
        c.sync.note_received(body);
        self.events.push_back(Event::DecryptFailed { contact });
        self.start_resync(rng, contact, now);
    }

    /// Starts a resync with `contact` unless one of ours is in flight or the last one was
    /// less than [`RESYNC_QUIET`] ago.
    fn start_resync<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, contact: ContactId, now: u64) {
        self.start_resync_as(rng, contact, None, now);
    }

    /// [`Client::start_resync`], announcing a restore from a backup made at `restored`.
    pub(super) fn start_resync_as<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        contact: ContactId,
        restored: Option<u64>,
        now: u64,
    ) {
        let Some(c) = self.contacts.get_mut(&contact) else {
            return;
        };
        if c.sync.pending.is_some()
            || now < c.sync.quiet_until
            || (c.sync.legacy && restored.is_none())
        {
            return;
        }
        c.sync.won = None;
        let key = KeyPair::generate(rng);
        let mut request = ResyncRequest::new(rng, key.public);
        if let Some(since) = restored {
            request = request.restored(since);
        }
        c.sync.pending = Some(PendingResync {
            key,
            request,
            attempts: 0,
            retry_at: now.saturating_add(RESYNC_RETRY_FIRST),
        });
        c.sync.quiet_until = now.saturating_add(RESYNC_QUIET);
        if c.sync.legacy {
            // Restored, and no safe resync: its session may have been used further by the old
            // device, so nothing more is encrypted under it. Sends wait (`Resyncing`) and no
            // request is sent or retried; the person must invite the contact again.
            if let Some(p) = c.sync.pending.as_mut() {
                p.retry_at = u64::MAX;
            }
            self.events.push_back(Event::ResyncStarted { contact });
            return;
        }
        // Both sides hold one secret: a relay could hand our request back to us. Its nonce is
        // remembered, so we never answer it.
        c.sync.remember(request.nonce);
        let message = request.encode(rng, &c.sync.secret, c.session.associated_data());
        self.events.push_back(Event::ResyncStarted { contact });
        self.queue_control(rng, contact, message, now);
    }

    /// Puts a resync message first in the contact's outbox (behind the one in flight).
    fn queue_control<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        contact: ContactId,
        message: Vec<u8>,
        now: u64,
    ) {
        let Some(c) = self.contacts.get_mut(&contact) else {
            return;
        };
        let at = usize::from(c.sending).min(c.outbox.len());
        c.outbox
            .insert(at, Outgoing::Sealed(vec![MessageId::random(rng)], message));
        self.pump_outbox(rng, contact, now);
    }

    fn on_resync_request<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        contact: ContactId,
        body: &[u8],
        now: u64,
    ) {
        let Some(c) = self.contacts.get_mut(&contact) else {
            return;
        };
        if c.sync.legacy {
            // Its secret may be known to a relay: never answered (see `SyncState::legacy`).
            return;
        }
        let ad = *c.session.associated_data();
        let Ok(request) = ResyncRequest::parse(body, &c.sync.secret, &ad) else {
            return;
        };
        if c.sync.seen.contains(&request.nonce) {
            // A repeat: the same answer again if it was our last one (theirs may be lost).
            let again = match &mut c.sync.last_accept {
                Some(a) if a.nonce == request.nonce && now >= a.sent_at + ACCEPT_RESEND_MIN => {
                    a.sent_at = now;
                    Some(a.message.clone())
                }
                _ => None,
            };
            if let Some(message) = again {
                self.queue_control(rng, contact, message, now);
            }
            return;
        }
        c.sync.remember(request.nonce);
        if let Some(since) = request.restored {
            // The contact's device restored from a backup: what it had from us (and sent us)
            // after `since` is not on it. Told once per request.
            self.events
                .push_back(Event::ContactRestored { contact, since });
        }
        let Some(c) = self.contacts.get_mut(&contact) else {
            return;
        };
        let theirs = (request.restored.is_some(), request.key.as_bytes());
        if let Some(ours) = &c.sync.pending
            && (ours.request.restored.is_some(), theirs.1) > (theirs.0, ours.request.key.as_bytes())
        {
            // Both asked at once: a restored side's request wins (it must not go on with its
            // old session), else the lower key; it is ours.
            return;
        }
        if let Some((restored, key)) = &c.sync.won
            && now < c.sync.quiet_until
            && (*restored, theirs.1) > (theirs.0, key)
        {
            // The same tie, decided already: this request crossed ours (which they answered)
            // and arrives late. Stale; the session they answered with stands.
            return;
        }
        let hello = self.resync_hello(rng, contact, now);
        let Some(c) = self.contacts.get_mut(&contact) else {
            return;
        };
        let Ok(plain) = hello.encode() else {
            return;
        };
        let Ok((session, message)) = c
            .session
            .accept_resync(rng, &c.sync.secret, &request, &plain)
        else {
            return;
        };
        c.sync.pending = None;
        c.sync.won = None;
        c.sync.previous = Some(core::mem::replace(&mut c.session, session));
        c.sync.quiet_until = now.saturating_add(RESYNC_QUIET);
        // A request of ours still waiting in the outbox lost the tie: it must not follow our
        // accept (the one in flight, if any, is the `won` rule's case on their side).
        c.drop_waiting(Outgoing::is_resync_request);
        c.sync.last_accept = Some(LastAccept {
            nonce: request.nonce,
            message: message.clone(),
            sent_at: now,
        });
        self.queue_control(rng, contact, message, now);
        self.flush_held(rng, contact, now);
        self.events.push_back(Event::Resynced { contact });
    }

    fn on_resync_accept<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        contact: ContactId,
        body: &[u8],
        now: u64,
    ) {
        let Some(c) = self.contacts.get_mut(&contact) else {
            return;
        };
        let Some(p) = &c.sync.pending else {
            return;
        };
        let won = (p.request.restored.is_some(), *p.request.key.as_bytes());
        let Ok((session, _hello)) =
            c.session
                .open_resync_accept(rng, &c.sync.secret, &p.request, &p.key, body)
        else {
            return;
        };
        c.sync.pending = None;
        c.sync.won = Some(won);
        c.sync.previous = Some(core::mem::replace(&mut c.session, session));
        c.sync.quiet_until = now.saturating_add(RESYNC_QUIET);
        self.flush_held(rng, contact, now);
        self.events.push_back(Event::Resynced { contact });
    }

    /// The envelope an accept carries: our name, as a rename would send it.
    fn resync_hello<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        contact: ContactId,
        now: u64,
    ) -> Envelope {
        let relay = self
            .queues
            .values()
            .find(|q| matches!(q.owner, QueueOwner::Contact(c) if c == contact))
            .map_or(self.gateway, |q| q.relay);
        Envelope::new(
            rng,
            self.network_time(now),
            Content::Hello(Hello {
                reply_relay: relay,
                reply_queue: QueueId::from_bytes([0; QueueId::LEN]),
                display_name: self.display_name.clone(),
            }),
        )
    }

    /// Queues the envelopes held during our request, to be sealed under the new session,
    /// each expiring from now as if written now (see `super::contact::expiry`). One that
    /// does not decode (damaged storage) fails.
    fn flush_held<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, contact: ContactId, now: u64) {
        let Some(c) = self.contacts.get_mut(&contact) else {
            return;
        };
        let mut damaged = Vec::new();
        for (id, plain) in core::mem::take(&mut c.sync.held) {
            // Held padded (the layout kept from before outboxes held envelopes).
            match Envelope::decode(&plain).and_then(|e| Ok((e.encode_unpadded()?, e.content))) {
                Ok((unpadded, content)) => {
                    let expires = super::contact::expiry(&content, c.disappearing, now);
                    c.outbox.push(Outgoing::Envelope(id, unpadded, expires));
                }
                Err(_) => damaged.push(id),
            }
        }
        let error = Error::Storage(PersistError::Invalid("held envelope"));
        self.fail_each(contact, damaged, &error);
        self.pump_outbox(rng, contact, now);
    }

    /// Sends again each request of ours that is due and not still waiting in its outbox.
    pub(super) fn retry_resyncs<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, now: u64) {
        let due =
            self.contacts_where(&|c| c.sync.pending.as_ref().is_some_and(|p| p.retry_at <= now));
        for contact in due {
            let Some(c) = self.contacts.get_mut(&contact) else {
                continue;
            };
            let waiting = c.outbox.iter().any(Outgoing::is_control);
            let Some(p) = c.sync.pending.as_mut() else {
                continue;
            };
            p.attempts = p.attempts.saturating_add(1);
            p.retry_at = now.saturating_add(retry_wait(p.attempts));
            c.sync.quiet_until = c.sync.quiet_until.max(p.retry_at);
            if waiting {
                continue;
            }
            let message = p
                .request
                .encode(rng, &c.sync.secret, c.session.associated_data());
            self.queue_control(rng, contact, message, now);
        }
    }

    /// When the next request of ours is due to be sent again.
    pub(super) fn next_resync_retry(&self) -> Option<u64> {
        self.contacts
            .values()
            .filter_map(|c| c.sync.pending.as_ref().map(|p| p.retry_at))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(state: &SyncState) -> Zeroizing<Vec<u8>> {
        let mut w = SecretWriter::with_capacity(4096);
        state.write(&mut w);
        w.into_inner()
    }

    /// A message ending in tag `i` (its last 16 bytes, the AEAD tag).
    fn message(i: u8) -> Vec<u8> {
        let mut m = vec![0xee; 40];
        m.extend_from_slice(&[i; TAG_LEN_V8]);
        m
    }

    /// The window keeps the newest [`RECENT_TAGS`]; a state stored with 64 whole tags
    /// (layout 8, before issue 18's steady state) reads, keeping their last 8 bytes, and drops
    /// to 32 at its next message; 65 is refused.
    #[test]
    fn the_window_of_body_tags_is_32_and_older_states_of_64_still_read() {
        let mut state = SyncState::new(ResyncSecret::from_persisted_bytes(&[7; 32]));
        for i in 0..40 {
            state.note_received(&message(i));
        }
        assert_eq!(state.recent.len(), RECENT_TAGS);
        assert!(!state.seen_before(&message(7)));
        assert!(state.seen_before(&message(8)) && state.seen_before(&message(39)));
        let bytes = encode(&state);
        let back = SyncState::read(&mut Reader::new(&bytes), 9).expect("reads back");
        assert_eq!(encode(&back)[..], bytes[..]);

        // Layout 8: the same fields, each tag whole (16 bytes).
        let v8 = |tags: u8| {
            let empty = encode(&SyncState::new(ResyncSecret::from_persisted_bytes(
                &[7; 32],
            )));
            let mut b = empty[..empty.len() - 5].to_vec();
            b.push(tags);
            for i in 0..tags {
                b.extend_from_slice(&[i; TAG_LEN_V8]);
            }
            b.extend_from_slice(&[0; 4]);
            b
        };
        let bytes = v8(64);
        let mut r = Reader::new(&bytes);
        let mut read = SyncState::read(&mut r, 8).expect("64 tags read");
        assert!(r.should_be_exhausted().is_ok());
        assert_eq!(read.recent.len(), 64);
        assert!(read.seen_before(&message(0)));
        read.note_received(&message(64));
        assert_eq!(read.recent.len(), RECENT_TAGS);
        assert!(!read.seen_before(&message(32)));
        assert!(read.seen_before(&message(33)) && read.seen_before(&message(64)));
        assert!(SyncState::read(&mut Reader::new(&v8(65)), 8).is_err());
    }
}
