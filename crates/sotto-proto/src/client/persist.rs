//! Persistence: [`Client::to_persisted`] and [`Client::from_persisted`], written with
//! [`crate::codec`] (into a [`SecretWriter`]: the state holds every key). The layout is in
//! `docs/PROTOCOL.md`, "Client state (at rest)".

use std::collections::{HashMap, VecDeque};

use litemap::LiteMap;

use zeroize::Zeroizing;

use super::contact::{Contact, Outgoing, SendQueue};
use super::error::PersistError;
use super::persist_len::{RECV_QUEUE_LEN, contact_len};
use super::read_ids::ReadIds;
use super::receive::{QueueOwner, RecvQueue, Subscription};
use super::request::{Pending, PendingKind, Purpose};
use super::resync::SyncState;
use super::tracked::{Contacts, Queues};
use super::{Client, ClientConfig, ContactId};
use crate::codec::{Reader, SecretWriter, Writer as _, persisted_bytes};
use crate::envelope::{Envelope, MessageId};
use crate::handshake::InvitationSecret;
use crate::ids::{QueueId, RelayId};
use crate::invitation::Invitation;
use crate::keys::AuthKeyPair;
use crate::onion::{self, ConnTag, Hop, SurbId};
use crate::queue::Command;
use crate::ratchet::Session;

/// First byte of [`PersistedClient`]: the layout's version.
/// Version 2 added each contact's disappearing-messages setting, version 3 each contact's
/// verified mark and the clock offset, version 4 each contact's acceptance in progress,
/// version 5 each contact's resynchronisation state, version 6 each receive queue's key it
/// is moving to and the moved flag, version 7 the rekey secret of a restored client
/// ([`super::RekeySecret`]), version 8 outboxes of envelopes and sealed messages (batches)
/// and each contact's ids last read, version 9 keeps those ids and the body tags of the
/// messages last received as 8 bytes each, not 16 (issue 18: bytes written per message);
/// versions 1 to 8 are still read (unverified, offset 0, no acceptance in progress, the
/// resync secret derived from the session AD: `ResyncSecret::legacy`; no queue moving, not
/// moved; no rekey secret; each outbox entry a sealed message of one envelope; no ids read;
/// ids and tags cut to 8 bytes).
pub const CLIENT_STATE_VERSION: u8 = 9;

const OWNER_CONTACT: u8 = 0x00;
const OWNER_INVITATION: u8 = 0x01;
const PENDING_CREATE: u8 = 0x01;
const PENDING_SECURE: u8 = 0x02;
const PENDING_SEND: u8 = 0x03;
const PURPOSE_INVITATION: u8 = 0x01;
const PURPOSE_ACCEPT: u8 = 0x02;
pub(super) const OUTGOING_ENVELOPE: u8 = 0x01;
pub(super) const OUTGOING_SEALED: u8 = 0x02;
/// An envelope with its expiry (see `super::contact::expiry`).
const OUTGOING_EXPIRING: u8 = 0x03;
/// Secret key ‖ invitation (see [`InvitationSecret::to_persisted_bytes`]).
const INVITATION_SECRET_LEN: usize = 32 + crate::invitation::ENCODED_LEN;
/// Stands in for the SURB of a restored request: no opener has it (random ids are never zero).
const NO_SURB: SurbId = SurbId::from_bytes([0; onion::SURB_ID_LEN]);

persisted_bytes!(
    /// A serialized [`Client`]. Holds every key of the account: encrypt it before it touches
    /// storage. Zeroized on drop, never printed.
    PersistedClient,
    "The serialized state (see `docs/PROTOCOL.md`, \"Client state (at rest)\")."
);

/// A count: collections never approach 2³² entries.
fn put_count(w: &mut SecretWriter, n: usize) {
    w.put_u32(u32::try_from(n).unwrap_or(u32::MAX));
}

/// `u16` length ‖ UTF-8. Display names are far shorter; a longer one is cut at a character
/// boundary.
fn put_name(w: &mut SecretWriter, name: &str) {
    let mut end = name.len().min(usize::from(u16::MAX));
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    let b = name.as_bytes().get(..end).unwrap_or_default();
    w.put_u16(u16::try_from(b.len()).unwrap_or(0));
    w.put_bytes(b);
}

/// `u32` length ‖ bytes.
fn put_long(w: &mut SecretWriter, b: &[u8]) {
    put_count(w, b.len());
    w.put_bytes(b);
}

fn count(r: &mut Reader<'_>) -> Result<usize, PersistError> {
    usize::try_from(r.take_u32()?).map_err(|_| PersistError::Truncated)
}

fn name(r: &mut Reader<'_>) -> Result<String, PersistError> {
    core::str::from_utf8(r.take_u16_prefixed()?)
        .map(str::to_owned)
        .map_err(|_| PersistError::Invalid("name is not UTF-8"))
}

fn auth_key(r: &mut Reader<'_>) -> Result<AuthKeyPair, PersistError> {
    let seed = Zeroizing::new(r.extract::<[u8; 32]>()?);
    Ok(AuthKeyPair::from_persisted_bytes(*seed))
}

fn flag(r: &mut Reader<'_>) -> Result<bool, PersistError> {
    match r.take_u8()? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(PersistError::Invalid("flag is not 0 or 1")),
    }
}

impl Client {
    /// Serializes the client's state (see the module docs, "Persistence"). Frames not yet
    /// polled and events not yet polled are not included: drain them first.
    pub fn to_persisted(&self) -> PersistedClient {
        let contacts: usize = self.contacts.values().map(contact_len).sum();
        let queues = 4 + self.queues.keys().count() * RECV_QUEUE_LEN;
        let mut w = SecretWriter::with_capacity(1 + self.header_tail_len() + queues + contacts);
        w.put_u8(CLIENT_STATE_VERSION);
        self.write_header(&mut w);
        // Sorted, so the same state always gives the same bytes. The ids are distinct (map
        // keys), so an unstable sort gives the same order, without a stable sort in the wasm.
        let mut queues: Vec<(&QueueId, &RecvQueue)> = self.queues.iter().collect();
        queues.sort_unstable_by_key(|(id, _)| **id);
        write_queues(&mut w, &queues);
        put_count(&mut w, self.contacts.len());
        for (id, contact) in self.contacts.iter() {
            write_contact(&mut w, *id, contact);
        }
        self.write_tail(&mut w);
        PersistedClient(w.into_inner())
    }

    /// Config, relays, gateway, connection tag, display name, the unused field and the next
    /// contact id: the fields before the receive queues.
    pub(super) fn write_header(&self, w: &mut SecretWriter) {
        let c = &self.config;
        w.put_u8(c.pow_bits);
        w.put_u16(u16::try_from(c.subscribe_surbs).unwrap_or(u16::MAX));
        w.put_u64(c.retry_after);
        w.put_u64(c.resubscribe_every);
        put_count(w, self.relays.len());
        for hop in &self.relays {
            w.put_bytes(hop.id.as_bytes());
            w.put_bytes(hop.key.as_bytes());
        }
        w.put_bytes(self.gateway.as_bytes());
        w.put_bytes(self.conn.as_bytes());
        put_name(w, &self.display_name);
        // Formerly the next request id; ids are random now and this field is always 0.
        w.put_u64(0);
        w.put_u64(self.next_contact);
    }

    /// Requests in flight, clock offset, moved flag and rekey secret: the fields after the
    /// contacts.
    pub(super) fn write_tail(&self, w: &mut SecretWriter) {
        let kept: Vec<(&u64, &Pending)> = self
            .pending
            .iter()
            .filter(|(_, p)| {
                matches!(
                    p.kind,
                    PendingKind::Create { .. }
                        | PendingKind::Secure { .. }
                        | PendingKind::Send { .. }
                )
            })
            .collect();
        put_count(w, kept.len());
        for (id, p) in kept {
            w.put_u64(*id);
            w.put_bytes(p.relay.as_bytes());
            match &p.kind {
                PendingKind::Create { key, purpose, .. } => {
                    w.put_u8(PENDING_CREATE);
                    w.put_bytes(&key.to_persisted_bytes()[..]);
                    match purpose {
                        Purpose::Invitation { handle } => {
                            w.put_u8(PURPOSE_INVITATION);
                            w.put_u64(*handle);
                        }
                        Purpose::Accept { invitation } => {
                            w.put_u8(PURPOSE_ACCEPT);
                            w.put_bytes(&invitation.to_bytes());
                        }
                    }
                }
                PendingKind::Secure { contact } => {
                    w.put_u8(PENDING_SECURE);
                    w.put_u64(*contact);
                }
                PendingKind::Send { contact } => {
                    w.put_u8(PENDING_SEND);
                    w.put_u64(*contact);
                }
                PendingKind::Subscribe
                | PendingKind::Ack
                | PendingKind::Rekey
                | PendingKind::BlobPut { .. }
                | PendingKind::BlobGet { .. } => {}
            }
        }
        w.put_u64(self.clock_offset.cast_unsigned());
        w.put_u8(u8::from(self.moved));
        match &self.rekey {
            Some(secret) => {
                w.put_u8(1);
                w.put_bytes(secret.to_persisted_bytes());
            }
            None => w.put_u8(0),
        }
    }

    /// Reads what [`Client::to_persisted`] wrote. Nothing is sent: call
    /// [`Client::connected`] once the gateway's WebSocket is open, then [`Client::tick`] as
    /// usual; requests that were in flight are resent by the first tick.
    pub fn from_persisted(bytes: &[u8]) -> Result<Client, PersistError> {
        let mut r = Reader::new(bytes);
        let version = take_version(&mut r, 1)?;
        let header = read_header(&mut r)?;
        let mut queues = HashMap::new();
        read_queues(&mut r, version, &mut queues, &|_| Ok(()))?;
        let mut contacts = LiteMap::new();
        for _ in 0..count(&mut r)? {
            let (id, contact) = read_contact(&mut r, version, header.next_contact)?;
            // Appended only after every id before it: refused otherwise.
            if contacts.try_append(id, contact).is_some() {
                return Err(PersistError::Invalid("contacts out of order"));
            }
        }
        let tail = read_tail(&mut r, version, &mut contacts)?;
        r.should_be_exhausted()?;
        assemble(header, queues, contacts, tail, None)
    }
}

/// The layout version at the start of `r`, refused outside `min..=`[`CLIENT_STATE_VERSION`].
pub(super) fn take_version(r: &mut Reader<'_>, min: u8) -> Result<u8, PersistError> {
    let version = r.take_u8()?;
    if !(min..=CLIENT_STATE_VERSION).contains(&version) {
        return Err(PersistError::UnknownVersion(version));
    }
    Ok(version)
}

/// Receive queues: count ‖ each queue, in increasing order of id.
pub(super) fn write_queues(w: &mut SecretWriter, queues: &[(&QueueId, &RecvQueue)]) {
    put_count(w, queues.len());
    for (id, q) in queues {
        w.put_bytes(id.as_bytes());
        w.put_bytes(q.relay.as_bytes());
        w.put_bytes(&q.key.to_persisted_bytes()[..]);
        match &q.owner {
            QueueOwner::Contact(contact) => {
                w.put_u8(OWNER_CONTACT);
                w.put_u64(*contact);
            }
            QueueOwner::Invitation(secret) => {
                w.put_u8(OWNER_INVITATION);
                w.put_bytes(&secret.to_persisted_bytes()[..]);
            }
        }
        match &q.next_key {
            Some(next) => {
                w.put_u8(1);
                w.put_bytes(&next.to_persisted_bytes()[..]);
            }
            None => w.put_u8(0),
        }
    }
}

/// One contact: its id, then everything kept of it.
pub(super) fn write_contact(w: &mut SecretWriter, id: ContactId, contact: &Contact) {
    w.put_u64(id);
    put_name(w, &contact.display_name);
    put_long(w, contact.session.to_persisted().as_bytes());
    let s = &contact.send;
    w.put_bytes(s.relay.as_bytes());
    w.put_bytes(s.sender_id.as_bytes());
    w.put_bytes(&s.key.to_persisted_bytes()[..]);
    w.put_u8(u8::from(s.secured));
    w.put_u32(contact.disappearing);
    match &contact.verified {
        Some(fingerprint) => {
            w.put_u8(1);
            w.put_bytes(fingerprint);
        }
        None => w.put_u8(0),
    }
    // An acceptance still securing the inviter's queue: restored as one, so that it stays
    // out of `contacts()` and a refusal removes it (never a half contact).
    match contact.accepting {
        Some(handle) => {
            w.put_u8(1);
            w.put_u64(handle);
        }
        None => w.put_u8(0),
    }
    put_count(w, contact.outbox.len());
    for entry in &contact.outbox {
        match entry {
            Outgoing::Envelope(id, unpadded, None) => {
                w.put_u8(OUTGOING_ENVELOPE);
                w.put_bytes(id.as_bytes());
                put_long(w, unpadded);
            }
            Outgoing::Envelope(id, unpadded, Some(expires)) => {
                w.put_u8(OUTGOING_EXPIRING);
                w.put_bytes(id.as_bytes());
                w.put_u64(*expires);
                put_long(w, unpadded);
            }
            Outgoing::Sealed(ids, message) => {
                w.put_u8(OUTGOING_SEALED);
                w.put_u16(u16::try_from(ids.len()).unwrap_or(0));
                for id in ids {
                    w.put_bytes(id.as_bytes());
                }
                put_long(w, message);
            }
        }
    }
    // Version 8: the ids last read (see `super::read_ids`).
    contact.read.write(w);
    contact.sync.write(w);
}

/// What [`Client::write_header`] wrote.
pub(super) struct Header {
    config: ClientConfig,
    relays: Vec<Hop>,
    gateway: RelayId,
    conn: ConnTag,
    display_name: String,
    pub(super) next_contact: ContactId,
}

/// What [`Client::write_tail`] wrote.
pub(super) struct Tail {
    pending: LiteMap<u64, Pending>,
    clock_offset: i64,
    moved: bool,
    rekey: Option<super::RekeySecret>,
}

pub(super) fn read_header(r: &mut Reader<'_>) -> Result<Header, PersistError> {
    let config = ClientConfig {
        pow_bits: r.take_u8()?,
        subscribe_surbs: usize::from(r.take_u16()?),
        retry_after: r.take_u64()?,
        resubscribe_every: r.take_u64()?,
    };
    let relay_count = count(r)?;
    let mut relays = Vec::new();
    for _ in 0..relay_count {
        let id = RelayId::from_bytes(r.extract()?);
        let key = crate::keys::PublicKey::from_bytes(r.extract()?);
        relays.push(Hop { id, key });
    }
    let gateway = RelayId::from_bytes(r.extract()?);
    if !relays.iter().any(|h| h.id == gateway) {
        return Err(PersistError::Invalid("gateway is not among the relays"));
    }
    let conn = ConnTag::from_bytes(r.extract()?);
    let display_name = name(r)?;
    // Formerly the next request id (ids are random now): read and ignored.
    let _unused = r.take_u64()?;
    let next_contact = r.take_u64()?;
    Ok(Header {
        config,
        relays,
        gateway,
        conn,
        display_name,
        next_contact,
    })
}

/// Reads a list of receive queues (strictly increasing ids) into `queues`, each owner first
/// checked by `owner_ok`; an id already in `queues` is refused.
pub(super) fn read_queues(
    r: &mut Reader<'_>,
    version: u8,
    queues: &mut HashMap<QueueId, RecvQueue>,
    owner_ok: &dyn Fn(&QueueOwner) -> Result<(), PersistError>,
) -> Result<(), PersistError> {
    // Each list is in strictly increasing order of its key: one state, one encoding.
    let mut last_queue = None;
    for _ in 0..count(r)? {
        let id = QueueId::from_bytes(r.extract()?);
        let relay = RelayId::from_bytes(r.extract()?);
        let key = auth_key(r)?;
        let owner = match r.take_u8()? {
            OWNER_CONTACT => QueueOwner::Contact(r.take_u64()?),
            OWNER_INVITATION => {
                let secret = InvitationSecret::from_persisted_bytes(r.take(INVITATION_SECRET_LEN)?)
                    .map_err(|_| PersistError::Invalid("invitation secret"))?;
                QueueOwner::Invitation(Box::new(secret))
            }
            _ => return Err(PersistError::Invalid("unknown queue owner")),
        };
        owner_ok(&owner)?;
        let next_key = if version >= 6 && flag(r)? {
            Some(auth_key(r)?)
        } else {
            None
        };
        let queue = RecvQueue {
            relay,
            key,
            owner,
            subscription: Subscription::default(),
            next_key,
        };
        if last_queue.is_some_and(|last| last >= id) {
            return Err(PersistError::Invalid("queues out of order"));
        }
        last_queue = Some(id);
        if queues.insert(id, queue).is_some() {
            return Err(PersistError::Invalid("a queue stored twice"));
        }
    }
    Ok(())
}

/// One contact as [`write_contact`] wrote it; its id must be below `next_contact`.
pub(super) fn read_contact(
    r: &mut Reader<'_>,
    version: u8,
    next_contact: ContactId,
) -> Result<(ContactId, Contact), PersistError> {
    let id = r.take_u64()?;
    if id >= next_contact {
        return Err(PersistError::Invalid("contact id not yet issued"));
    }
    let display_name = name(r)?;
    let session = Session::from_persisted(r.take_u32_prefixed()?)
        .map_err(|_| PersistError::Invalid("ratchet session"))?;
    let send = SendQueue {
        relay: RelayId::from_bytes(r.extract()?),
        sender_id: QueueId::from_bytes(r.extract()?),
        key: auth_key(r)?,
        secured: flag(r)?,
    };
    let disappearing = if version >= 2 { r.take_u32()? } else { 0 };
    let verified = if version >= 3 && flag(r)? {
        Some(r.extract()?)
    } else {
        None
    };
    let accepting = if version >= 4 && flag(r)? {
        Some(r.take_u64()?)
    } else {
        None
    };
    if accepting.is_some() && send.secured {
        return Err(PersistError::Invalid("a secured queue still accepting"));
    }
    let mut outbox = Vec::new();
    for _ in 0..count(r)? {
        outbox.push(read_outgoing(r, version)?);
    }
    // Version 8 added the ids last read (see `super::read_ids`).
    let read = if version >= 8 {
        ReadIds::read(r, version)?
    } else {
        ReadIds::default()
    };
    let sync = if version >= 5 {
        SyncState::read(r, version).map_err(PersistError::Invalid)?
    } else {
        SyncState::legacy(session.associated_data())
            .ok_or(PersistError::Invalid("resync secret"))?
    };
    let contact = Contact {
        display_name,
        session,
        send,
        outbox,
        sending: false,
        disappearing,
        refusals: 0,
        retry_at: None,
        accepting,
        verified,
        sync,
        read,
    };
    Ok((id, contact))
}

/// One outbox entry. Before version 8 each was a sealed message of one envelope: id ‖ len32
/// message.
fn read_outgoing(r: &mut Reader<'_>, version: u8) -> Result<Outgoing, PersistError> {
    let kind = if version >= 8 {
        r.take_u8()?
    } else {
        OUTGOING_SEALED
    };
    match kind {
        OUTGOING_ENVELOPE | OUTGOING_EXPIRING => {
            let id = MessageId::from_bytes(r.extract()?);
            let expires = (kind == OUTGOING_EXPIRING)
                .then(|| r.take_u64())
                .transpose()?;
            let unpadded = Zeroizing::new(r.take_u32_prefixed()?.to_vec());
            // One envelope that fits in a message alone, under its own id.
            if Envelope::decode_unpadded(&unpadded).map(|e| e.id) != Ok(id) {
                return Err(PersistError::Invalid("outbox envelope"));
            }
            Ok(Outgoing::Envelope(id, unpadded, expires))
        }
        OUTGOING_SEALED => {
            let n = if version >= 8 {
                usize::from(r.take_u16()?)
            } else {
                1
            };
            if n == 0 {
                return Err(PersistError::Invalid("a sealed message of no envelope"));
            }
            let mut ids = Vec::with_capacity(n);
            for _ in 0..n {
                ids.push(MessageId::from_bytes(r.extract()?));
            }
            Ok(Outgoing::Sealed(ids, r.take_u32_prefixed()?.to_vec()))
        }
        _ => Err(PersistError::Invalid("unknown outbox entry")),
    }
}

/// The fields after the contacts; a request names a contact of `contacts` (a Send marks its
/// contact as sending).
pub(super) fn read_tail(
    r: &mut Reader<'_>,
    version: u8,
    contacts: &mut LiteMap<ContactId, Contact>,
) -> Result<Tail, PersistError> {
    let mut pending: LiteMap<u64, Pending> = LiteMap::new();
    for _ in 0..count(r)? {
        let id = r.take_u64()?;
        let relay = RelayId::from_bytes(r.extract()?);
        let (kind, command) = match r.take_u8()? {
            PENDING_CREATE => {
                let key = auth_key(r)?;
                let purpose = match r.take_u8()? {
                    PURPOSE_INVITATION => Purpose::Invitation {
                        handle: r.take_u64()?,
                    },
                    PURPOSE_ACCEPT => {
                        let invitation = Invitation::from_bytes_unchecked(
                            r.take(crate::invitation::ENCODED_LEN)?,
                        )
                        .map_err(|_| PersistError::Invalid("invitation"))?;
                        Purpose::Accept { invitation }
                    }
                    _ => return Err(PersistError::Invalid("unknown queue purpose")),
                };
                // The timestamp is set again when the request is resent.
                let command = Command::Create {
                    recipient_key: key.public_key(),
                    timestamp: 0,
                    pow_nonce: 0,
                };
                let kind = PendingKind::Create {
                    key: Box::new(key),
                    purpose,
                    clock_retried: false,
                    pow_retried: false,
                };
                (kind, command)
            }
            PENDING_SECURE => {
                let contact = r.take_u64()?;
                let c = contacts
                    .get(&contact)
                    .ok_or(PersistError::Invalid("secure for an unknown contact"))?;
                let command = Command::Secure {
                    sender_id: c.send.sender_id,
                    sender_key: c.send.key.public_key(),
                };
                (PendingKind::Secure { contact }, command)
            }
            PENDING_SEND => {
                let contact = r.take_u64()?;
                let c = contacts
                    .get_mut(&contact)
                    .ok_or(PersistError::Invalid("send for an unknown contact"))?;
                // The message in flight is always the front of the outbox.
                let message = match c.outbox.first() {
                    Some(Outgoing::Sealed(_, m)) => m.clone(),
                    _ => return Err(PersistError::Invalid("send with no sealed message")),
                };
                if c.sending {
                    return Err(PersistError::Invalid("two sends to one contact"));
                }
                c.sending = true;
                let command = Command::Send {
                    sender_id: c.send.sender_id,
                    message,
                };
                (PendingKind::Send { contact }, command)
            }
            _ => return Err(PersistError::Invalid("unknown request kind")),
        };
        // Sent at time 0: the first tick after a restore resends it.
        let request = Pending {
            kind,
            relay,
            command,
            sent_at: 0,
            surb: NO_SURB,
        };
        if pending.keys().next_back().is_some_and(|last| *last >= id) {
            return Err(PersistError::Invalid("requests out of order"));
        }
        pending.insert(id, request);
    }
    let clock_offset = if version >= 3 {
        let offset = r.take_u64()?.cast_signed();
        if offset.unsigned_abs() > super::MAX_CLOCK_OFFSET {
            return Err(PersistError::Invalid("clock offset out of range"));
        }
        offset
    } else {
        0
    };
    let moved = version >= 6 && flag(r)?;
    let rekey = if version >= 7 && flag(r)? {
        Some(super::RekeySecret::from_persisted_bytes(&Zeroizing::new(
            r.extract::<[u8; 32]>()?,
        )))
    } else {
        None
    };
    Ok(Tail {
        pending,
        clock_offset,
        moved,
        rekey,
    })
}

/// The client the read sections make, once every queue's contact is known to exist.
/// `digests`: the [`super::part_digest`] of every contact's part as read (from parts), so
/// that no contact starts marked changed; `None` (from the whole state): every one is.
pub(super) fn assemble(
    header: Header,
    queues: HashMap<QueueId, RecvQueue>,
    contacts: LiteMap<ContactId, Contact>,
    tail: Tail,
    digests: Option<LiteMap<ContactId, super::PartDigest>>,
) -> Result<Client, PersistError> {
    if queues.values().any(|q| match q.owner {
        QueueOwner::Contact(c) => !contacts.contains_key(&c),
        QueueOwner::Invitation(_) => false,
    }) {
        return Err(PersistError::Invalid("queue of an unknown contact"));
    }
    let queues_empty = queues.is_empty();
    let moved = tail.moved;
    let mut client = Client {
        config: header.config,
        relays: header.relays,
        // Directory data, read again by the driver on every open.
        admission: HashMap::new(),
        gateway: header.gateway,
        conn: header.conn,
        display_name: header.display_name,
        rejected_replies: 0,
        next_contact: header.next_contact,
        pending: tail.pending,
        openers: HashMap::new(),
        queues: Queues::new(queues),
        contacts: match digests {
            Some(_) => Contacts::unmarked(contacts),
            None => Contacts::all_marked(contacts),
        },
        part_digests: digests.unwrap_or_default(),
        uploads: LiteMap::new(),
        failed_uploads: Vec::new(),
        downloads: LiteMap::new(),
        transmit: VecDeque::new(),
        later: false,
        acks_owed: Vec::new(),
        sends_owed: Vec::new(),
        events: VecDeque::new(),
        clock_offset: tail.clock_offset,
        clock_reported: false,
        resent: 0,
        moved,
        // Opened from storage: another device may have taken the queues over meanwhile.
        hold: (!moved && !queues_empty).then_some(u64::MAX),
        rekey: tail.rekey,
    };
    client.check_security_codes();
    Ok(client)
}

#[cfg(test)]
#[path = "persist_tests.rs"]
mod tests;
