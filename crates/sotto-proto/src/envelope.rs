//! Message content and its fixed-size encoding.
//!
//! Every envelope encodes to exactly [`ENVELOPE_SIZE`] bytes, whatever it carries, so that a
//! ratchet message is always [`crate::sizes::QUEUE_MESSAGE_SIZE`] bytes. Layout (integers
//! big-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | version (= [`crate::PROTOCOL_VERSION`]) |
//! | 1 | 16 | message id |
//! | 17 | 8 | sent at, Unix seconds (u64) |
//! | 25 | 1 | content tag |
//! | 26 | 2 | body length `L` (u16) |
//! | 28 | `L` | body, by tag (below) |
//! | 28 + `L` | rest | zero padding (every byte must be 0) |
//!
//! Bodies (`len8`/`len16` = a u8/u16 length followed by that many bytes):
//!
//! | tag | content | body |
//! |---|---|---|
//! | 1 | text | UTF-8 text, all `L` bytes (at most [`MAX_TEXT_BYTES`]) |
//! | 2 | attachment | blob relay id (32) ‖ blob id (16) ‖ key (32) ‖ size (u64) ‖ SHA-256 (32) ‖ len8 mime (UTF-8) ‖ len8 name (UTF-8) ‖ len16 thumbnail (at most [`MAX_THUMBNAIL_BYTES`]) |
//! | 3 | receipt | kind (1 = delivered, 2 = read) ‖ count (u16, 1..=[`MAX_RECEIPT_IDS`]) ‖ count × message id (16) |
//! | 4 | disappearing timer | seconds (u32; 0 = off) |
//! | 5 | hello | reply relay id (32) ‖ reply queue sender id (16) ‖ len8 display name (UTF-8, at most [`MAX_DISPLAY_NAME_BYTES`]) |
//! | 6 | batch | see [`batch`]: several envelopes in one ratchet message |
//!
//! A body must be consumed exactly; anything else is an error. An envelope without its zero
//! padding (the first `28 + L` bytes) is its *unpadded* encoding: what an outbox keeps and a
//! batch carries.

use core::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::PROTOCOL_VERSION;
use crate::codec::{CodecError, Reader, SecretWriter, Writer};
use crate::crypto::Secret32;
use crate::ids::{QueueId, RelayId};
use crate::ratchet::{self, RatchetError, Session};

pub mod batch;
pub use batch::{decode_message, decode_message_each, encode_message, fit_in_message};

/// The plaintext of every ratchet message: `QUEUE_MESSAGE_SIZE - ratchet::OVERHEAD`.
pub const ENVELOPE_SIZE: usize = ratchet::BODY_LEN;
/// Version, id, sent-at, tag and body length.
pub const ENVELOPE_HEADER_LEN: usize = 28;
/// The largest body.
pub const MAX_BODY_BYTES: usize = ENVELOPE_SIZE - ENVELOPE_HEADER_LEN;
/// The longest text message, in UTF-8 bytes.
pub const MAX_TEXT_BYTES: usize = MAX_BODY_BYTES;
/// The largest inline thumbnail of an attachment.
pub const MAX_THUMBNAIL_BYTES: usize = 2048;
/// The most message ids in one receipt.
pub const MAX_RECEIPT_IDS: usize = 200;
/// The longest display name, in UTF-8 bytes.
pub const MAX_DISPLAY_NAME_BYTES: usize = 128;

const TAG_TEXT: u8 = 1;
const TAG_ATTACHMENT: u8 = 2;
const TAG_RECEIPT: u8 = 3;
const TAG_TIMER: u8 = 4;
const TAG_HELLO: u8 = 5;
/// A batch of envelopes ([`batch`]); never inside a batch.
const TAG_BATCH: u8 = 6;

/// Encoding and decoding errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The content does not fit in an envelope (or a field exceeds its limit).
    #[error("content too large for one message")]
    TooLarge,
    #[error("envelope must be {ENVELOPE_SIZE} bytes, got {found}")]
    WrongSize { found: usize },
    #[error("envelope version {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("unknown content tag {0}")]
    UnknownTag(u8),
    #[error("envelope body is truncated")]
    Truncated,
    #[error("a length points past the end")]
    LengthPastEnd,
    #[error("envelope body has trailing bytes")]
    TrailingBytes,
    #[error("envelope padding is not zero")]
    NonZeroPadding,
    #[error("text is not valid UTF-8")]
    InvalidUtf8,
    /// A field holds a value outside its range (unknown receipt kind, empty receipt, a
    /// batch of fewer than two or with a non-zero id or time).
    #[error("invalid field value")]
    InvalidValue,
    /// A batch where one envelope is expected: inside a batch, or given to
    /// [`Envelope::decode`] (a batch is read with [`decode_message`]).
    #[error("a batch where one envelope is expected")]
    NestedBatch,
}

impl From<CodecError> for EnvelopeError {
    fn from(e: CodecError) -> Self {
        match e {
            CodecError::Truncated { .. } => Self::Truncated,
            CodecError::TrailingBytes { .. } => Self::TrailingBytes,
            // Reading: a length prefix past the end. Writing: a field too long for its prefix.
            CodecError::BadLength { .. } => Self::LengthPastEnd,
        }
    }
}

crate::ids::id_type!(
    /// The end-to-end id of one message within a conversation, chosen at random by its
    /// sender; receipts refer to it. Not the relay-assigned [`crate::queue::QueueMessageId`].
    MessageId,
    16
);
/// Identifies a stored attachment blob on its relay (the queue protocol's blob id).
pub use crate::queue::BlobId;

/// The key an attachment blob is encrypted with. Zeroized on drop, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct AttachmentKey(Secret32);

impl AttachmentKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Secret32::from_bytes(bytes))
    }
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut b = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut b[..]);
        Self::from_bytes(*b)
    }
    /// The key bytes, for the blob cipher.
    pub fn expose(&self) -> &[u8; 32] {
        self.0.expose()
    }
}

impl fmt::Debug for AttachmentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AttachmentKey(<redacted>)")
    }
}

/// A reference to an encrypted blob stored on a relay.
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    pub blob_relay: RelayId,
    pub blob_id: BlobId,
    pub key: AttachmentKey,
    /// Plaintext size in bytes.
    pub size: u64,
    /// SHA-256 of the plaintext.
    pub sha256: [u8; 32],
    /// At most 255 bytes.
    pub mime: String,
    /// File name; at most 255 bytes.
    pub name: String,
    /// Inline preview (e.g. a small JPEG); empty for none. At most [`MAX_THUMBNAIL_BYTES`].
    pub thumbnail: Vec<u8>,
}

impl fmt::Debug for Attachment {
    /// Sizes and type only; the name, hash and key stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("blob_relay", &self.blob_relay)
            .field("blob_id", &self.blob_id)
            .field("size", &self.size)
            .field("mime", &self.mime)
            .field("thumbnail_bytes", &self.thumbnail.len())
            .finish_non_exhaustive()
    }
}

/// Which receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReceiptKind {
    Delivered,
    Read,
}

/// The handshake's first message: where to reply and what to call the sender.
#[derive(Clone, PartialEq, Eq)]
pub struct Hello {
    pub reply_relay: RelayId,
    pub reply_queue: QueueId,
    pub display_name: String,
}

impl fmt::Debug for Hello {
    /// The display name stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hello")
            .field("reply_relay", &self.reply_relay)
            .field("reply_queue", &self.reply_queue)
            .finish_non_exhaustive()
    }
}

/// What a message says.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Content {
    Text(String),
    Attachment(Attachment),
    Receipt {
        kind: ReceiptKind,
        ids: Vec<MessageId>,
    },
    /// Messages disappear this many seconds after being read; 0 turns it off.
    DisappearingTimer {
        seconds: u32,
    },
    Hello(Hello),
}

impl fmt::Debug for Content {
    /// Never prints text, names or keys: only the kind and sizes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Content::Text(t) => write!(f, "Text({} bytes)", t.len()),
            Content::Attachment(a) => write!(f, "Attachment({} bytes)", a.size),
            Content::Receipt { kind, ids } => write!(f, "Receipt({kind:?}, {} ids)", ids.len()),
            Content::DisappearingTimer { seconds } => write!(f, "DisappearingTimer({seconds}s)"),
            Content::Hello(h) => write!(f, "Hello({:?}, {:?})", h.reply_relay, h.reply_queue),
        }
    }
}

/// One message: id, time and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub id: MessageId,
    pub sent_at: u64,
    pub content: Content,
}

impl Envelope {
    /// A new envelope with a random id.
    pub fn new<R: CryptoRng + ?Sized>(rng: &mut R, sent_at: u64, content: Content) -> Self {
        Self {
            id: MessageId::random(rng),
            sent_at,
            content,
        }
    }

    /// Encodes to exactly [`ENVELOPE_SIZE`] bytes.
    pub fn encode(&self) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
        let mut out = self.encode_unpadded()?;
        out.resize(ENVELOPE_SIZE, 0);
        Ok(out)
    }

    /// Encodes without the zero padding: `28 + L` bytes (see the module docs), at most
    /// [`ENVELOPE_SIZE`]. [`EnvelopeError::TooLarge`] when it would not fit in an envelope.
    pub fn encode_unpadded(&self) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
        let mut body = SecretWriter::with_capacity(MAX_BODY_BYTES);
        let tag = encode_body(&self.content, &mut body)?;
        frame(&self.id, self.sent_at, tag, &body.into_inner())
    }

    /// Decodes exactly [`ENVELOPE_SIZE`] bytes holding one envelope
    /// ([`EnvelopeError::NestedBatch`] for a batch: see [`decode_message`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let raw = Raw::padded(bytes)?;
        raw.single()
    }

    /// Decodes an unpadded encoding ([`Envelope::encode_unpadded`]): exactly `28 + L` bytes,
    /// one envelope (not a batch).
    pub fn decode_unpadded(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        if bytes.len() > ENVELOPE_SIZE {
            return Err(EnvelopeError::TooLarge);
        }
        let mut r = Reader::new(bytes);
        let raw = Raw::read(&mut r)?;
        r.should_be_exhausted()?;
        raw.single()
    }
}

/// Version ‖ `id` ‖ `sent_at` ‖ `tag` ‖ len16 `body`: an unpadded encoding (see the module
/// docs), of one envelope or of a batch ([`batch::encode_message`]); [`EnvelopeError::TooLarge`]
/// for a body over [`MAX_BODY_BYTES`].
fn frame(
    id: &MessageId,
    sent_at: u64,
    tag: u8,
    body: &[u8],
) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(EnvelopeError::TooLarge);
    }
    let mut out = SecretWriter::with_capacity(ENVELOPE_SIZE);
    out.put_u8(PROTOCOL_VERSION);
    out.put(id);
    out.put_u64(sent_at);
    out.put_u8(tag);
    out.put_u16_prefixed(body)
        .map_err(|_| EnvelopeError::TooLarge)?;
    Ok(out.into_inner())
}

/// An envelope's header and body, its content not yet decoded.
struct Raw<'a> {
    id: MessageId,
    sent_at: u64,
    tag: u8,
    body: &'a [u8],
}

impl<'a> Raw<'a> {
    /// Version, id, sent-at, tag and body from `r`.
    fn read(r: &mut Reader<'a>) -> Result<Self, EnvelopeError> {
        let version = r.take_u8()?;
        if version != PROTOCOL_VERSION {
            return Err(EnvelopeError::UnsupportedVersion(version));
        }
        Ok(Self {
            id: r.extract()?,
            sent_at: r.take_u64()?,
            tag: r.take_u8()?,
            body: r.take_u16_prefixed()?,
        })
    }

    /// Exactly [`ENVELOPE_SIZE`] bytes: the envelope, then zero padding.
    fn padded(bytes: &'a [u8]) -> Result<Self, EnvelopeError> {
        if bytes.len() != ENVELOPE_SIZE {
            return Err(EnvelopeError::WrongSize { found: bytes.len() });
        }
        let mut r = Reader::new(bytes);
        let raw = Self::read(&mut r)?;
        if r.take_rest().iter().any(|&b| b != 0) {
            return Err(EnvelopeError::NonZeroPadding);
        }
        Ok(raw)
    }

    /// The envelope it holds, which must not be a batch.
    fn single(self) -> Result<Envelope, EnvelopeError> {
        if self.tag == TAG_BATCH {
            return Err(EnvelopeError::NestedBatch);
        }
        Ok(Envelope {
            id: self.id,
            sent_at: self.sent_at,
            content: decode_body(self.tag, self.body)?,
        })
    }
}

fn put_len8<W: Writer + ?Sized>(out: &mut W, bytes: &[u8]) -> Result<(), EnvelopeError> {
    out.put_u8_prefixed(bytes)
        .map_err(|_| EnvelopeError::TooLarge)
}

fn encode_body<W: Writer + ?Sized>(content: &Content, out: &mut W) -> Result<u8, EnvelopeError> {
    Ok(match content {
        Content::Text(text) => {
            if text.len() > MAX_TEXT_BYTES {
                return Err(EnvelopeError::TooLarge);
            }
            out.put_bytes(text.as_bytes());
            TAG_TEXT
        }
        Content::Attachment(a) => {
            if a.thumbnail.len() > MAX_THUMBNAIL_BYTES {
                return Err(EnvelopeError::TooLarge);
            }
            out.put(&a.blob_relay);
            out.put(&a.blob_id);
            out.put(a.key.expose());
            out.put_u64(a.size);
            out.put(&a.sha256);
            put_len8(out, a.mime.as_bytes())?;
            put_len8(out, a.name.as_bytes())?;
            out.put_u16_prefixed(&a.thumbnail)
                .map_err(|_| EnvelopeError::TooLarge)?;
            TAG_ATTACHMENT
        }
        Content::Receipt { kind, ids } => {
            if ids.is_empty() {
                return Err(EnvelopeError::InvalidValue);
            }
            if ids.len() > MAX_RECEIPT_IDS {
                return Err(EnvelopeError::TooLarge);
            }
            out.put_u8(match kind {
                ReceiptKind::Delivered => 1,
                ReceiptKind::Read => 2,
            });
            let count = u16::try_from(ids.len()).map_err(|_| EnvelopeError::TooLarge)?;
            out.put_u16(count);
            for id in ids {
                out.put(id);
            }
            TAG_RECEIPT
        }
        Content::DisappearingTimer { seconds } => {
            out.put_u32(*seconds);
            TAG_TIMER
        }
        Content::Hello(h) => {
            if h.display_name.len() > MAX_DISPLAY_NAME_BYTES {
                return Err(EnvelopeError::TooLarge);
            }
            out.put(&h.reply_relay);
            out.put(&h.reply_queue);
            put_len8(out, h.display_name.as_bytes())?;
            TAG_HELLO
        }
    })
}

fn decode_body(tag: u8, body: &[u8]) -> Result<Content, EnvelopeError> {
    let mut r = Reader::new(body);
    let content = match tag {
        TAG_TEXT => Content::Text(utf8(r.take_rest())?),
        TAG_ATTACHMENT => {
            let blob_relay = r.extract()?;
            let blob_id = r.extract()?;
            let key = AttachmentKey::from_bytes(*Zeroizing::new(r.extract::<[u8; 32]>()?));
            let size = r.take_u64()?;
            let sha256 = r.extract()?;
            let mime = utf8(r.take_u8_prefixed()?)?;
            let name = utf8(r.take_u8_prefixed()?)?;
            let len = usize::from(r.take_u16()?);
            if len > MAX_THUMBNAIL_BYTES {
                return Err(EnvelopeError::TooLarge);
            }
            let thumbnail = r.take(len)?.to_vec();
            Content::Attachment(Attachment {
                blob_relay,
                blob_id,
                key,
                size,
                sha256,
                mime,
                name,
                thumbnail,
            })
        }
        TAG_RECEIPT => {
            let kind = match r.take_u8()? {
                1 => ReceiptKind::Delivered,
                2 => ReceiptKind::Read,
                _ => return Err(EnvelopeError::InvalidValue),
            };
            let count = usize::from(r.take_u16()?);
            if count == 0 {
                return Err(EnvelopeError::InvalidValue);
            }
            if count > MAX_RECEIPT_IDS {
                return Err(EnvelopeError::TooLarge);
            }
            let mut ids = Vec::with_capacity(count);
            for _ in 0..count {
                ids.push(r.extract()?);
            }
            Content::Receipt { kind, ids }
        }
        TAG_TIMER => Content::DisappearingTimer {
            seconds: r.take_u32()?,
        },
        TAG_HELLO => {
            let reply_relay = r.extract()?;
            let reply_queue = r.extract()?;
            let name = r.take_u8_prefixed()?;
            if name.len() > MAX_DISPLAY_NAME_BYTES {
                return Err(EnvelopeError::TooLarge);
            }
            Content::Hello(Hello {
                reply_relay,
                reply_queue,
                display_name: utf8(name)?,
            })
        }
        other => return Err(EnvelopeError::UnknownTag(other)),
    };
    r.should_be_exhausted()?;
    Ok(content)
}

fn utf8(bytes: &[u8]) -> Result<String, EnvelopeError> {
    core::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| EnvelopeError::InvalidUtf8)
}

/// Sending or receiving an envelope through a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    #[error(transparent)]
    Ratchet(#[from] RatchetError),
    /// Sending: the content does not encode. Receiving: the peer sent an authentic message
    /// whose content is malformed (the ratchet has consumed it).
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
}

impl Session {
    /// Encodes and encrypts one envelope into a queue message.
    pub fn send<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        envelope: &Envelope,
    ) -> Result<Vec<u8>, SessionError> {
        let plain = envelope.encode()?;
        Ok(self.encrypt(rng, &plain)?)
    }

    /// Decrypts and decodes one queue message that holds one envelope (a batch is
    /// [`EnvelopeError::NestedBatch`]: see [`Session::receive_all`]).
    pub fn receive<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        message: &[u8],
    ) -> Result<Envelope, SessionError> {
        let plain = self.decrypt(rng, message)?;
        Ok(Envelope::decode(&plain)?)
    }

    /// Decrypts and decodes one queue message: its envelope, or a batch's envelopes in order
    /// ([`decode_message`]).
    pub fn receive_all<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        message: &[u8],
    ) -> Result<Vec<Envelope>, SessionError> {
        let plain = self.decrypt(rng, message)?;
        Ok(decode_message(&plain)?)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    pub(crate) fn samples(rng: &mut ChaCha20Rng) -> Vec<Envelope> {
        let contents = vec![
            Content::Text("hello, Sotto ✓".into()),
            Content::Text(String::new()),
            Content::Text("x".repeat(MAX_TEXT_BYTES)),
            Content::Attachment(Attachment {
                blob_relay: RelayId::random(rng),
                blob_id: BlobId::random(rng),
                key: AttachmentKey::random(rng),
                size: 123_456,
                sha256: [7; 32],
                mime: "image/jpeg".into(),
                name: "cat.jpg".into(),
                thumbnail: vec![1, 2, 3],
            }),
            Content::Receipt {
                kind: ReceiptKind::Read,
                ids: vec![MessageId::random(rng), MessageId::random(rng)],
            },
            Content::DisappearingTimer { seconds: 86_400 },
            Content::Hello(Hello {
                reply_relay: RelayId::random(rng),
                reply_queue: QueueId::random(rng),
                display_name: "Bob".into(),
            }),
        ];
        contents
            .into_iter()
            .map(|c| Envelope::new(rng, 1_800_000_000, c))
            .collect()
    }

    #[test]
    fn every_kind_round_trips_at_fixed_size() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        for env in samples(&mut rng) {
            let bytes = env.encode().unwrap();
            assert_eq!(bytes.len(), ENVELOPE_SIZE);
            assert_eq!(Envelope::decode(&bytes).unwrap(), env);
        }
        assert_eq!(ENVELOPE_SIZE, 3466);
        assert_eq!(MAX_TEXT_BYTES, 3438);
    }

    #[test]
    fn oversize_is_too_large() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let env = Envelope::new(&mut rng, 0, Content::Text("x".repeat(MAX_TEXT_BYTES + 1)));
        assert_eq!(env.encode().unwrap_err(), EnvelopeError::TooLarge);
        let ids = (0..=MAX_RECEIPT_IDS)
            .map(|_| MessageId::random(&mut rng))
            .collect();
        let env = Envelope::new(
            &mut rng,
            0,
            Content::Receipt {
                kind: ReceiptKind::Read,
                ids,
            },
        );
        assert_eq!(env.encode().unwrap_err(), EnvelopeError::TooLarge);
    }

    #[test]
    fn malformed_inputs_get_typed_errors() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let env = &samples(&mut rng)[0];
        let good = env.encode().unwrap().to_vec();
        let body_len = env_body_len(&good);
        assert_eq!(
            Envelope::decode(&good[..10]).unwrap_err(),
            EnvelopeError::WrongSize { found: 10 }
        );
        let mut b = good.clone();
        b[0] = 2;
        assert_eq!(
            Envelope::decode(&b).unwrap_err(),
            EnvelopeError::UnsupportedVersion(2)
        );
        let mut b = good.clone();
        b[25] = 99;
        assert_eq!(
            Envelope::decode(&b).unwrap_err(),
            EnvelopeError::UnknownTag(99)
        );
        let mut b = good.clone();
        b[26..28].copy_from_slice(&0xffffu16.to_be_bytes());
        assert_eq!(
            Envelope::decode(&b).unwrap_err(),
            EnvelopeError::LengthPastEnd
        );
        let mut b = good.clone();
        b[ENVELOPE_SIZE - 1] = 1;
        assert_eq!(
            Envelope::decode(&b).unwrap_err(),
            EnvelopeError::NonZeroPadding
        );
        let mut b = good.clone();
        b[28] = 0xff;
        assert_eq!(
            Envelope::decode(&b).unwrap_err(),
            EnvelopeError::InvalidUtf8
        );
        // A timer body one byte too long / too short.
        let timer = Envelope::new(&mut rng, 0, Content::DisappearingTimer { seconds: 5 });
        let mut b = timer.encode().unwrap().to_vec();
        b[26..28].copy_from_slice(&5u16.to_be_bytes());
        assert_eq!(
            Envelope::decode(&b).unwrap_err(),
            EnvelopeError::TrailingBytes
        );
        b[26..28].copy_from_slice(&3u16.to_be_bytes());
        b[31] = 0;
        assert_eq!(Envelope::decode(&b).unwrap_err(), EnvelopeError::Truncated);
        assert!(body_len > 0);
    }

    fn env_body_len(b: &[u8]) -> usize {
        usize::from(u16::from_be_bytes([b[26], b[27]]))
    }

    #[test]
    fn debug_hides_text() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let env = &samples(&mut rng)[0];
        assert!(!format!("{env:?}").contains("hello"));
    }

    #[test]
    fn session_send_receive() {
        let (mut a, mut b, mut rng) = crate::ratchet::tests::pair(8);
        for env in samples(&mut rng.clone()) {
            let m = a.send(&mut rng, &env).unwrap();
            assert_eq!(b.receive(&mut rng, &m).unwrap(), env);
        }
    }
}
