//! The plaintext layouts of this crate's records (big-endian, bounds-checked): messages (schema
//! 2, and schema 1 for the migration) and the `local` bookkeeping record, read and written
//! with [`sotto_proto::codec`]. The sealed wrapping around them is in `store.rs`.

use std::collections::{BTreeMap, BTreeSet};

use sotto_proto::client::ContactId;
use sotto_proto::codec::{Reader, SecretWriter, Writer};
use sotto_proto::envelope::{Attachment, AttachmentKey, BlobId};
use sotto_proto::ids::RelayId;
use zeroize::Zeroizing;

/// Record kinds (part of every record's associated data and hashed key).
pub mod kind {
    pub const STATE: &str = "state";
    /// One contact's part of the client state, keyed by its contact id (u64, big-endian).
    pub const CONTACT: &str = "contact";
    pub const MNEMONIC: &str = "mnemonic";
    pub const MESSAGE: &str = "msg";
    /// A file's bytes, keyed by its message id.
    pub const FILE: &str = "file";
    /// The local bookkeeping: messages due to disappear, transfers to resume.
    pub const LOCAL: &str = "local";
    /// The last relay directory that verified (its signed JSON text), for opening offline.
    pub const DIRECTORY: &str = "directory";
}

/// The key of the `state` record: message counter (u64) ‖ the client's core part (or, in
/// profiles stored before per-contact records, the whole persisted client).
pub const STATE_KEY: &[u8] = b"client";
/// The key of the `mnemonic` record: the recovery phrase's words, UTF-8.
pub const MNEMONIC_KEY: &[u8] = b"phrase";
/// The key of the `directory` record: the signed directory's JSON text, UTF-8.
pub const DIRECTORY_KEY: &[u8] = b"directory";
/// The key of the `local` record ([`Local`]).
pub const LOCAL_KEY: &[u8] = b"local";

/// Where a message is: ours on the way (`Sending`), stored by a relay (`Sent`), not sent
/// (`Failed`), or theirs (`Received`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Sending = 0,
    Sent = 1,
    Failed = 2,
    Received = 3,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Failed => "failed",
            Status::Received => "received",
        }
    }
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            0 => Status::Sending,
            1 => Status::Sent,
            2 => Status::Failed,
            3 => Status::Received,
            _ => return None,
        })
    }
}

/// A message's attachment: the reference to its blob (with the blob's key, so the record is
/// as secret as the rest of the store), whether it was a voice note, and whether its bytes are
/// stored locally (a [`kind::FILE`] record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRecord {
    pub attachment: Attachment,
    pub voice: bool,
    pub ready: bool,
}

/// A decrypted message record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRecord {
    pub seq: u64,
    pub id: String,
    pub contact: u64,
    pub text: String,
    pub sent_at: u64,
    pub received_at: Option<u64>,
    pub outgoing: bool,
    pub status: Status,
    /// Unix seconds when the message disappears.
    pub expires_at: Option<u64>,
    pub file: Option<FileRecord>,
}

/// First byte of a schema-2 message record.
const RECORD_V2: u8 = 2;

/// Writes `b` preceded by its length in `len_bytes` (1, 2 or 4) bytes, as [`take_prefixed`]
/// reads it. Callers keep `b` within the length's range (names ≤ 255 bytes, previews ≤ 2048);
/// anything longer is cut there rather than written with a wrong length.
pub(crate) fn put_prefixed<W: Writer>(w: &mut W, len_bytes: usize, b: &[u8]) {
    let max = match len_bytes {
        1 => 0xff,
        2 => 0xffff,
        _ => u32::MAX as usize,
    };
    let b = b.get(..b.len().min(max)).unwrap_or_default();
    // Cut to fit above, so the length always fits its prefix and nothing is refused.
    let fits = match len_bytes {
        1 => w.put_u8_prefixed(b),
        2 => w.put_u16_prefixed(b),
        _ => w.put_u32_prefixed(b),
    };
    debug_assert!(fits.is_ok());
}

/// Bytes preceded by their length in `len_bytes` (1, 2 or 4) bytes; `None` past the end.
pub(crate) fn take_prefixed<'a>(r: &mut Reader<'a>, len_bytes: usize) -> Option<&'a [u8]> {
    match len_bytes {
        1 => r.take_u8_prefixed(),
        2 => r.take_u16_prefixed(),
        _ => r.take_u32_prefixed(),
    }
    .ok()
}

/// The fields both message schemas start with: seq ‖ contact ‖ sent ‖ received (u64 each) ‖
/// outgoing (u8).
fn take_head(r: &mut Reader<'_>) -> Option<(u64, u64, u64, u64, bool)> {
    Some((
        r.take_u64().ok()?,
        r.take_u64().ok()?,
        r.take_u64().ok()?,
        r.take_u64().ok()?,
        r.take_u8().ok()? == 1,
    ))
}

/// UTF-8 preceded by its length in `len_bytes` (1, 2 or 4) bytes.
pub(crate) fn take_string(r: &mut Reader<'_>, len_bytes: usize) -> Option<String> {
    Some(
        std::str::from_utf8(take_prefixed(r, len_bytes)?)
            .ok()?
            .to_owned(),
    )
}

impl MessageRecord {
    /// A text message as schema 1 knew it: ours when it has no receive time (then `Sent`),
    /// theirs otherwise (`Received`); no expiry, no file.
    pub fn text_message(
        seq: u64,
        id: String,
        contact: u64,
        text: String,
        sent_at: u64,
        received_at: Option<u64>,
    ) -> Self {
        let outgoing = received_at.is_none();
        MessageRecord {
            seq,
            id,
            contact,
            text,
            sent_at,
            received_at,
            outgoing,
            status: if outgoing {
                Status::Sent
            } else {
                Status::Received
            },
            expires_at: None,
            file: None,
        }
    }

    /// Schema 2: `2` ‖ seq ‖ contact ‖ sent ‖ received (u64::MAX: none) ‖ outgoing ‖ status ‖
    /// expires (u64::MAX: none) ‖ id (u8 length) ‖ text (u32 length) ‖ has file, and if so:
    /// relay ‖ blob id ‖ key ‖ size ‖ sha256 ‖ mime (u8 len) ‖ name (u8 len) ‖ thumbnail
    /// (u16 len) ‖ voice ‖ ready. Integers big-endian.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut w = SecretWriter::with_capacity(64 + self.text.len());
        w.put_u8(RECORD_V2);
        for n in [
            self.seq,
            self.contact,
            self.sent_at,
            self.received_at.unwrap_or(u64::MAX),
        ] {
            w.put_u64(n);
        }
        w.put_u8(u8::from(self.outgoing));
        w.put_u8(self.status as u8);
        w.put_u64(self.expires_at.unwrap_or(u64::MAX));
        put_prefixed(&mut w, 1, self.id.as_bytes());
        put_prefixed(&mut w, 4, self.text.as_bytes());
        match &self.file {
            None => w.put_u8(0),
            Some(f) => {
                let a = &f.attachment;
                w.put_u8(1);
                w.put(&a.blob_relay);
                w.put(&a.blob_id);
                w.put_bytes(a.key.expose());
                w.put_u64(a.size);
                w.put(&a.sha256);
                put_prefixed(&mut w, 1, a.mime.as_bytes());
                put_prefixed(&mut w, 1, a.name.as_bytes());
                put_prefixed(&mut w, 2, &a.thumbnail);
                w.put_u8(u8::from(f.voice));
                w.put_u8(u8::from(f.ready));
            }
        }
        w.into_inner()
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Reader::new(b);
        if r.take_u8().ok()? != RECORD_V2 {
            return None;
        }
        let (seq, contact, sent_at, received, outgoing) = take_head(&mut r)?;
        let status = Status::from_byte(r.take_u8().ok()?)?;
        let expires = r.take_u64().ok()?;
        let id = take_string(&mut r, 1)?;
        let text = take_string(&mut r, 4)?;
        let file = match r.take_u8().ok()? {
            0 => None,
            1 => {
                let attachment = Attachment {
                    blob_relay: RelayId::from_bytes(r.extract().ok()?),
                    blob_id: BlobId::from_bytes(r.extract().ok()?),
                    key: AttachmentKey::from_bytes(*Zeroizing::new(r.extract::<[u8; 32]>().ok()?)),
                    size: r.take_u64().ok()?,
                    sha256: r.extract().ok()?,
                    mime: take_string(&mut r, 1)?,
                    name: take_string(&mut r, 1)?,
                    thumbnail: take_prefixed(&mut r, 2)?.to_vec(),
                };
                Some(FileRecord {
                    attachment,
                    voice: r.take_u8().ok()? == 1,
                    ready: r.take_u8().ok()? == 1,
                })
            }
            _ => return None,
        };
        Some(MessageRecord {
            seq,
            id,
            contact,
            text,
            sent_at,
            received_at: (received != u64::MAX).then_some(received),
            outgoing,
            status,
            expires_at: (expires != u64::MAX).then_some(expires),
            file,
        })
    }

    /// Schema 1: seq ‖ contact ‖ sent ‖ received ‖ outgoing ‖ id (u8 length) ‖ text.
    pub fn decode_v1(b: &[u8]) -> Option<Self> {
        let mut r = Reader::new(b);
        let (seq, contact, sent_at, received, outgoing) = take_head(&mut r)?;
        let id = take_string(&mut r, 1)?;
        let text = std::str::from_utf8(r.take_rest()).ok()?.to_owned();
        // Schema 1 kept a receive time exactly for messages that were not ours.
        let received_at = (!outgoing).then_some(received);
        Some(Self::text_message(
            seq,
            id,
            contact,
            text,
            sent_at,
            received_at,
        ))
    }
}

/// Local bookkeeping kept with the client state: when messages disappear, and the transfers
/// to resume (downloads) or to mark failed (uploads) after a reload.
#[derive(Default)]
pub struct Local {
    /// Messages due to disappear: (unix seconds, message id, contact), soonest first.
    pub expiry: BTreeSet<(u64, String, ContactId)>,
    /// Downloads to start again after a reload: message id → contact.
    pub downloads: BTreeMap<String, ContactId>,
    /// Uploads that a reload cut (marked failed on open): message id → contact.
    pub uploads: BTreeMap<String, ContactId>,
    /// The relay snapshot's next version: (backup period, next slot in it). A slot is taken
    /// here (and written) before its upload starts, so none is ever used twice.
    pub snapshot: Option<(u64, u32)>,
}

impl Local {
    /// Three lists of (u64, id, contact): `count ‖ (expires ‖ id len ‖ id ‖ contact)*`, the
    /// transfers with 0 for the time; then, once a snapshot slot was taken, its period u64 ‖
    /// next slot u32 (absent in records written before the relay snapshot).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Vec::new();
        let mut list = |items: Vec<(u64, &String, ContactId)>| {
            w.put_u32(items.len() as u32);
            for (at, id, contact) in items {
                w.put_u64(at);
                put_prefixed(&mut w, 1, id.as_bytes());
                w.put_u64(contact);
            }
        };
        list(
            self.expiry
                .iter()
                .map(|(at, id, c)| (*at, id, *c))
                .collect(),
        );
        list(self.downloads.iter().map(|(id, c)| (0, id, *c)).collect());
        list(self.uploads.iter().map(|(id, c)| (0, id, *c)).collect());
        if let Some((period, slot)) = self.snapshot {
            w.put_u64(period);
            w.put_u32(slot);
        }
        w
    }

    /// Reads what [`Local::encode`] wrote; `None` when it is damaged or has bytes left.
    pub fn decode(b: &[u8]) -> Option<Local> {
        let mut r = Reader::new(b);
        let mut lists: Vec<Vec<(u64, String, ContactId)>> = Vec::new();
        for _ in 0..3 {
            let n = r.take_u32().ok()?;
            let mut items = Vec::new();
            for _ in 0..n {
                let at = r.take_u64().ok()?;
                let id = take_string(&mut r, 1)?;
                items.push((at, id, r.take_u64().ok()?));
            }
            lists.push(items);
        }
        let snapshot = if r.remaining() == 0 {
            None
        } else {
            Some((r.take_u64().ok()?, r.take_u32().ok()?))
        };
        r.should_be_exhausted().ok()?;
        let mut lists = lists.into_iter();
        // Filled by `extend` (one insert each: a later duplicate wins, as with `collect`), not
        // `collect`, whose bulk build sorts with the standard library's stable sort: the
        // wasm's only other stable sorts are gone, so it would bring that code back alone
        // (issue 18).
        let mut local = Local::default();
        local.expiry.extend(lists.next()?);
        local
            .downloads
            .extend(lists.next()?.into_iter().map(|(_, id, c)| (id, c)));
        local
            .uploads
            .extend(lists.next()?.into_iter().map(|(_, id, c)| (id, c)));
        local.snapshot = snapshot;
        Some(local)
    }
}
