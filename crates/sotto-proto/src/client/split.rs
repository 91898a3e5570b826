//! The client state in parts: [`Client::to_parts`] and [`Client::from_parts`], so that a
//! driver can store one record per contact and rewrite only the parts that changed (the cost
//! of a received message then does not grow with the number of contacts). The parts are the
//! sections of [`Client::to_persisted`]'s layout, cut along contacts; the layout is in
//! `docs/PROTOCOL.md`, "Client state (at rest)", "In parts".

use std::collections::{HashMap, HashSet};

use litemap::LiteMap;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::contact::Contact;
use super::error::PersistError;
use super::persist::{
    assemble, read_contact, read_header, read_queues, read_tail, take_version, write_contact,
    write_queues,
};
use super::persist_len::{RECV_QUEUE_LEN, contact_len};
use super::receive::{QueueOwner, RecvQueue};
use super::tracked::{Contacts, Queues};
use super::{CLIENT_STATE_VERSION, Client, ContactId};
use crate::codec::{Reader, SecretWriter, Writer as _, persisted_bytes};
use crate::ids::QueueId;

/// First byte of a core part ([`PersistedParts::core`]): never the first byte of a whole
/// [`super::PersistedClient`] (a layout version), so a reader tells the two apart.
pub const CORE_MARK: u8 = 0xC0;

/// The first layout version written in parts: a part with an older version is refused.
pub const FIRST_SPLIT_VERSION: u8 = 7;

persisted_bytes!(
    /// One part of a serialized [`Client`]: its core or one contact. Holds keys: encrypt it
    /// before it touches storage. Zeroized on drop, never printed.
    PersistedPart,
    "The serialized part (see `docs/PROTOCOL.md`, \"Client state (at rest)\", \"In parts\")."
);

/// SHA-256 of one contact part ([`part_digest`]).
pub type PartDigest = [u8; 32];

/// Domain of the digest of all contact parts that a core carries.
const PARTS_DIGEST_DOMAIN: &[u8] = b"sotto/v1/client-parts";

/// SHA-256 of one contact part's bytes: what the core's digest of the contact parts is made
/// of, and what a driver compares to tell whether a part changed since it last wrote it.
pub fn part_digest(part: &[u8]) -> PartDigest {
    Sha256::digest(part).into()
}

/// The digest of all contact parts that a core carries: SHA-256(`sotto/v1/client-parts` ‖ the
/// [`part_digest`] of every contact part, given in increasing contact id order).
pub fn parts_digest<'a>(digests: impl IntoIterator<Item = &'a PartDigest>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(PARTS_DIGEST_DOMAIN);
    for d in digests {
        h.update(d);
    }
    h.finalize().into()
}

/// A [`Client`]'s state cut in parts (see [`Client::to_parts`]).
#[derive(Debug)]
pub struct PersistedParts {
    /// Everything that is not one contact's: config, relays, name, the receive queues of our
    /// invitations (and of no contact), the number of contacts and the digest of their parts,
    /// requests in flight and the trailing fields. Starts with [`CORE_MARK`].
    pub core: PersistedPart,
    /// One part per contact (contacts being accepted included), in increasing id order:
    /// the contact's fields and the receive queues it owns.
    pub contacts: Vec<ContactPart>,
}

/// One contact's part of [`PersistedParts`].
#[derive(Debug)]
pub struct ContactPart {
    /// The contact.
    pub id: ContactId,
    /// Its part: version ‖ the contact ‖ the receive queues it owns.
    pub part: PersistedPart,
    /// [`part_digest`] of `part`: the core names every part by it.
    pub digest: PartDigest,
}

impl Client {
    /// The state of [`Client::to_persisted`] in parts: a core and one part per contact, so a
    /// driver can keep each in a record of its own and write only the parts whose bytes
    /// changed since its last write (the parts of contacts that are gone are deleted).
    /// [`Client::from_parts`] of all the parts gives back this client.
    pub fn to_parts(&self) -> PersistedParts {
        let (mut owned, others) = queues_by_part(&self.queues, &self.contacts, None);
        let contacts: Vec<ContactPart> = self
            .contacts
            .iter()
            .map(|(id, contact)| {
                let queues = owned.get_mut(id).map(std::mem::take).unwrap_or_default();
                ContactPart::new(*id, contact, queues)
            })
            .collect();
        let core = self.core_part(others, &parts_digest(contacts.iter().map(|c| &c.digest)));
        PersistedParts { core, contacts }
    }

    /// [`Client::to_parts`] for a driver that keeps the parts it wrote: the same core, but
    /// the parts of only the contacts changed since the last call (or since the client was
    /// read from its parts), in increasing id order, and those of `also` (contacts whose
    /// stored part the driver does not know, e.g. after a write that failed). A contact
    /// counts as changed once anything reached it or one of its receive queues mutably (the
    /// client keeps them behind accessors that record it, `tracked`), so a part left out is
    /// byte for byte the one last handed out; a part handed out may also be unchanged. A
    /// client read from the whole state ([`Client::from_persisted`]) or new hands out every
    /// part the first time. The core's digest of the parts is made from the digests kept
    /// of the parts last handed out (or read), updated here.
    pub fn to_changed_parts(
        &mut self,
        also: impl IntoIterator<Item = ContactId>,
    ) -> PersistedParts {
        let mut ids = self.contacts.take_marks();
        ids.extend(self.queues.take_marks());
        ids.extend(also);
        // A contact without a kept digest is encoded too (never the case while every change
        // marks: a part is never left out of the core's digest); wanted with its queues.
        let part_digests = &self.part_digests;
        ids.extend(
            self.contacts
                .keys()
                .filter(|id| !part_digests.contains_key(id)),
        );
        let (mut owned, others) = queues_by_part(&self.queues, &self.contacts, Some(&ids));
        let mut contacts = Vec::new();
        // In increasing id order. The digests of contacts gone stay, unread: the core's
        // digest is made of the present contacts' (ids are never reused, and a contact added
        // is marked).
        for (id, contact) in self.contacts.iter() {
            if ids.contains(id) {
                let queues = owned.get_mut(id).map(std::mem::take).unwrap_or_default();
                let part = ContactPart::new(*id, contact, queues);
                self.part_digests.insert(*id, part.digest);
                contacts.push(part);
            }
        }
        let digests = self
            .contacts
            .keys()
            .filter_map(|id| self.part_digests.get(id));
        let digest = parts_digest(digests);
        // The safety net of the marks (debug builds and tests): every part not handed out is
        // the one whose digest is kept.
        #[cfg(debug_assertions)]
        for c in self.to_parts().contacts {
            debug_assert!(
                self.part_digests.get(&c.id) == Some(&c.digest),
                "a contact's part changed without its contact being marked"
            );
        }
        let core = self.core_part(others, &digest);
        PersistedParts { core, contacts }
    }

    /// Whether [`Client::to_parts`] makes a part for `contact` (a contact being accepted
    /// has one too): a driver deletes the stored parts of the contacts that have none.
    pub fn has_part(&self, contact: ContactId) -> bool {
        self.contacts.contains_key(&contact)
    }

    /// The core part: [`CORE_MARK`], the version, the header, the queues of no present
    /// contact (`others`, sorted), the number of contacts, `digest` of their parts, the tail.
    fn core_part(&self, others: Vec<(&QueueId, &RecvQueue)>, digest: &[u8; 32]) -> PersistedPart {
        let queues = 4 + others.len() * RECV_QUEUE_LEN;
        let mut w = SecretWriter::with_capacity(2 + self.header_tail_len() + queues + 4 + 32);
        w.put_u8(CORE_MARK);
        w.put_u8(CLIENT_STATE_VERSION);
        self.write_header(&mut w);
        write_queues(&mut w, &others);
        w.put_u32(u32::try_from(self.contacts.len()).unwrap_or(u32::MAX));
        w.put_bytes(digest);
        self.write_tail(&mut w);
        PersistedPart(w.into_inner())
    }

    /// Reads the parts [`Client::to_parts`] made (the contacts' in any order): the same
    /// client as [`Client::from_persisted`] of the whole state. Refused
    /// ([`PersistError`]) when a part is damaged, a contact or queue appears twice, there are
    /// more or fewer contact parts than the core counts, a queue or request names a contact
    /// that is not there, a contact's queue is in the core, a contact id was not yet issued,
    /// or the contact parts are not exactly those the core was written with (its digest of
    /// them: an older part of one contact beside a newer core, or the reverse).
    /// Nothing is sent: as after [`Client::from_persisted`].
    pub fn from_parts<I, B>(core: &[u8], contacts: I) -> Result<Client, PersistError>
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        Ok(Client::from_parts_digested(core, contacts)?.0)
    }

    /// [`Client::from_parts`], also handing back the [`part_digest`] of every contact part
    /// read, with its contact id, in increasing id order: the digests it checked against the
    /// core's, which a driver keeps to know what the store holds, without hashing every part
    /// again (the client keeps them too, for [`Client::to_changed_parts`]).
    pub fn from_parts_digested<I, B>(
        core: &[u8],
        contacts: I,
    ) -> Result<(Client, Vec<(ContactId, PartDigest)>), PersistError>
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        let mut r = Reader::new(core);
        if r.take_u8()? != CORE_MARK {
            return Err(PersistError::Invalid("not a core part"));
        }
        let version = take_version(&mut r, FIRST_SPLIT_VERSION)?;
        let header = read_header(&mut r)?;
        let contacts = contacts.into_iter();
        // About one receive queue per contact: the table made once, not grown step by step
        // (its rehashes showed in the profile of an open at 1,000 contacts); a hint, capped.
        let mut queues = HashMap::with_capacity(contacts.size_hint().0.min(1 << 16) + 4);
        // A contact's queues are in its part: `to_parts` leaves here only those of contacts
        // that are gone, which the whole state's reader refuses too.
        read_queues(&mut r, version, &mut queues, &|owner| match owner {
            QueueOwner::Contact(_) => Err(PersistError::Invalid("a contact's queue in the core")),
            QueueOwner::Invitation(_) => Ok(()),
        })?;
        let expected = r.take_u32()?;
        let digest: [u8; 32] = r.extract()?;
        let mut read = Vec::new();
        let mut digests = Vec::new();
        let mut older = Vec::new();
        for part in contacts {
            let part = part.as_ref();
            let (id, contact, version) = read_contact_part(part, header.next_contact, &mut queues)?;
            read.push((id, contact));
            digests.push((id, part_digest(part)));
            if version < CLIENT_STATE_VERSION {
                older.push(id);
            }
        }
        // Sorted by id at once (the parts come in any order: one insert each would move the
        // contacts after it); a second part of one contact leaves a single entry.
        let n = read.len();
        let mut all: LiteMap<ContactId, Contact> = read.into_iter().collect();
        if all.len() != n {
            return Err(PersistError::Invalid("a contact stored twice"));
        }
        let digests: LiteMap<ContactId, PartDigest> = digests.into_iter().collect();
        // A lost (or stray) part shows here, even for a contact nothing else names.
        if u32::try_from(all.len()).ok() != Some(expected) {
            return Err(PersistError::Invalid("contact parts missing or extra"));
        }
        let tail = read_tail(&mut r, version, &mut all)?;
        r.should_be_exhausted()?;
        // Last, so that every other check stays reachable (and fuzzed) with any digest.
        if !bool::from(parts_digest(digests.values()).ct_eq(&digest)) {
            return Err(PersistError::Invalid(
                "a contact part that is not the core's",
            ));
        }
        let read: Vec<(ContactId, PartDigest)> = digests.iter().map(|(id, d)| (*id, *d)).collect();
        // A part of an older layout encodes differently now: marked changed, so the next
        // `to_changed_parts` hands it out in the current layout.
        let mut client = assemble(header, queues, all, tail, Some(digests))?;
        for id in &older {
            client.contacts.get_mut(id);
        }
        Ok((client, read))
    }
}

/// The receive queues of the contacts `wanted` (all when `None`) that are
/// present, by contact, each list in
/// increasing queue id order; and the queues the core holds: those of invitations and of
/// contacts that are gone (where reading refuses them as the whole state's reader does),
/// in increasing id order.
#[allow(clippy::type_complexity)]
fn queues_by_part<'a>(
    queues: &'a Queues,
    contacts: &Contacts,
    wanted: Option<&HashSet<ContactId>>,
) -> (
    LiteMap<ContactId, Vec<(&'a QueueId, &'a RecvQueue)>>,
    Vec<(&'a QueueId, &'a RecvQueue)>,
) {
    let mut owned_flat = Vec::new();
    let mut others = Vec::new();
    for (id, q) in queues.iter() {
        match q.owner {
            QueueOwner::Contact(c) if contacts.contains_key(&c) => {
                if wanted.is_none_or(|ids| ids.contains(&c)) {
                    owned_flat.push((c, id, q));
                }
            }
            QueueOwner::Contact(_) | QueueOwner::Invitation(_) => others.push((id, q)),
        }
    }
    // Grouped by a sort (contact, then queue id), not by inserts into a map.
    owned_flat.sort_unstable_by_key(|(c, id, _)| (*c, **id));
    let mut owned: LiteMap<ContactId, Vec<(&'a QueueId, &'a RecvQueue)>> = LiteMap::new();
    for group in owned_flat.chunk_by(|a, b| a.0 == b.0) {
        if let Some((c, _, _)) = group.first() {
            // In increasing contact order, one group each: each goes at the end.
            owned.insert(*c, group.iter().map(|(_, id, q)| (*id, *q)).collect());
        }
    }
    others.sort_unstable_by_key(|(id, _)| **id);
    (owned, others)
}

impl ContactPart {
    /// version ‖ the contact as in the whole layout ‖ its receive queues (sorted), and its
    /// digest.
    fn new(id: ContactId, contact: &Contact, queues: Vec<(&QueueId, &RecvQueue)>) -> ContactPart {
        let mut w =
            SecretWriter::with_capacity(1 + contact_len(contact) + queues.len() * RECV_QUEUE_LEN);
        w.put_u8(CLIENT_STATE_VERSION);
        write_contact(&mut w, id, contact);
        write_queues(&mut w, &queues);
        let part = PersistedPart(w.into_inner());
        let digest = part_digest(part.as_bytes());
        ContactPart { id, part, digest }
    }
}

/// One contact part and its layout version; its queues go into `queues` (each must be owned
/// by this contact).
fn read_contact_part(
    bytes: &[u8],
    next_contact: ContactId,
    queues: &mut HashMap<QueueId, RecvQueue>,
) -> Result<(ContactId, Contact, u8), PersistError> {
    let mut r = Reader::new(bytes);
    let version = take_version(&mut r, FIRST_SPLIT_VERSION)?;
    let (id, contact) = read_contact(&mut r, version, next_contact)?;
    read_queues(&mut r, version, queues, &|owner| match owner {
        QueueOwner::Contact(c) if *c == id => Ok(()),
        _ => Err(PersistError::Invalid("a queue in another contact's part")),
    })?;
    r.should_be_exhausted()?;
    Ok((id, contact, version))
}
