//! Queue commands: what a client asks a queue's relay (inside a forward onion packet) and what
//! the relay answers (through the reply SURB the command carries), plus the `Delivery` frame a
//! relay pushes through a subscriber's SURBs.
//!
//! Byte layouts, tags, error codes and quotas are in `docs/protocol/onion.md`.
//!
//! ## Authorisation
//! Every queue has two Ed25519 keys, both freshly generated for that queue only, so keys never
//! link two queues: the *recipient key* (given in [`Command::Create`], replaced by
//! [`Command::Rekey`]; signs Subscribe, Ack, Delete, Rekey) and the *sender key* (given once in [`Command::Secure`] by the first sender; signs
//! every Send). A request is signed over [`REQUEST_SIG_LABEL`] followed by all of its bytes up
//! to the signature (version, tag, request id, reply SURB, body with the queue id).
//!
//! The relay side decodes with [`ReceivedRequest::decode`], which already checks self-signed
//! commands (Create, Secure: their key is in the frame) and returns [`Auth`] saying which stored
//! key the rest must be checked with ([`ReceivedRequest::verify`]). The keys are
//! [`AuthKeyPair`] / [`AuthPublicKey`] in [`crate::keys`].
//!
//! Files: this one has the constants, errors, ids and [`Command`] bodies; `request.rs` the
//! request frame ([`Request`], [`ReceivedRequest`]); `response.rs` what comes back
//! ([`Response`], [`Delivery`], [`Inbound`]). Everything is read and written with
//! [`crate::codec`]; every decoder refuses trailing bytes.

mod moved;
mod request;
mod response;
#[cfg(test)]
mod tests;

pub use moved::{MOVED_LABEL, sign_moved, verify_moved};
pub use request::{ReceivedRequest, Request, blob_challenge, create_challenge};
pub use response::{Delivery, ErrorCode, Inbound, Response, ResponseBody};

use crate::codec::{CodecError, Reader, Writer};
use crate::ids::QueueId;
#[cfg(doc)]
use crate::keys::AuthKeyPair;
use crate::keys::{AUTH_SIGNATURE_LEN, AuthKeyError, AuthPublicKey};
use crate::onion::{SURB_SIZE, Surb};
use crate::sizes::{ONION_PLAINTEXT_SIZE, QUEUE_MESSAGE_SIZE};

/// Domain label of request signatures.
pub const REQUEST_SIG_LABEL: &[u8] = b"sotto/queue/v1/request-sig";
/// Domain label of the proof of work that pays for [`Command::Create`].
pub const CREATE_POW_LABEL: &[u8] = b"sotto/queue/v1/create-pow";
/// Domain label of the proof of work that pays for a new blob ([`Command::BlobPut`]).
pub const BLOB_POW_LABEL: &[u8] = b"sotto/queue/v1/blob-pow";

/// Bytes of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = AUTH_SIGNATURE_LEN;
/// Bytes of the request header: version, tag, request id, reply SURB.
pub const REQUEST_HEADER_LEN: usize = 1 + 1 + 8 + SURB_SIZE;
/// Bytes of the response header: version, tag, request id.
pub const RESPONSE_HEADER_LEN: usize = 1 + 1 + 8;

/// The most SURBs a Subscribe can carry and still fit one onion payload.
pub const MAX_SUBSCRIBE_SURBS: usize =
    (ONION_PLAINTEXT_SIZE - REQUEST_HEADER_LEN - QueueId::LEN - 1 - SIGNATURE_LEN) / SURB_SIZE;
/// The most SURBs an Ack can carry (to replenish the subscription).
pub const MAX_ACK_SURBS: usize = (ONION_PLAINTEXT_SIZE
    - REQUEST_HEADER_LEN
    - QueueId::LEN
    - QueueMessageId::LEN
    - 1
    - SIGNATURE_LEN)
    / SURB_SIZE;
/// The largest blob chunk (BlobPut data, BlobChunk answer data).
pub const BLOB_CHUNK_SIZE: usize = QUEUE_MESSAGE_SIZE;

/// Bytes of an encoded [`Delivery`].
pub const DELIVERY_LEN: usize = 1 + 1 + QueueId::LEN + QueueMessageId::LEN + 8 + QUEUE_MESSAGE_SIZE;

/// Command tags.
pub mod tag {
    pub const CREATE: u8 = 0x01;
    pub const SECURE: u8 = 0x02;
    pub const SEND: u8 = 0x03;
    pub const SUBSCRIBE: u8 = 0x04;
    pub const ACK: u8 = 0x05;
    pub const DELETE: u8 = 0x06;
    pub const BLOB_PUT: u8 = 0x07;
    pub const BLOB_GET: u8 = 0x08;
    pub const REKEY: u8 = 0x09;
    /// An Ack that is not answered: same body as [`ACK`], no reply block (its reply SURB
    /// field is all zero), and the relay sends nothing back.
    pub const ACK_QUIET: u8 = 0x0a;
    /// Answer tags.
    pub const OK: u8 = 0x80;
    pub const IDS: u8 = 0x81;
    pub const BLOB_CHUNK: u8 = 0x82;
    /// A recipient command signed by the queue's previous recipient key: the queue moved to a
    /// new one, with the statement that says so.
    pub const MOVED: u8 = 0x8c;
    /// Work refused while the relay asks for more than its floor, with the bits it asks for.
    pub const POW_REQUIRED: u8 = 0x8d;
    /// A refused Create whose timestamp is outside the relay's window, with the relay's clock.
    pub const EXPIRED_AT: u8 = 0x8e;
    pub const ERROR: u8 = 0x8f;
    /// A message pushed through a subscription SURB.
    pub const DELIVERY: u8 = 0x90;
}

// Every frame must fit one onion payload.
const _: () = assert!(
    REQUEST_HEADER_LEN + QueueId::LEN + QUEUE_MESSAGE_SIZE + SIGNATURE_LEN <= ONION_PLAINTEXT_SIZE
);
const _: () = assert!(
    REQUEST_HEADER_LEN + QueueMessageId::LEN + 4 + 8 + 2 + BLOB_CHUNK_SIZE <= ONION_PLAINTEXT_SIZE
);
const _: () = assert!(DELIVERY_LEN <= ONION_PLAINTEXT_SIZE);
const _: () = assert!(MAX_SUBSCRIBE_SURBS >= 1 && MAX_ACK_SURBS >= 1);

/// Errors from encoding, decoding and checking queue frames.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The frame ends before its fields do. (peer)
    #[error("truncated frame")]
    Truncated,
    /// Bytes after the last field. (peer)
    #[error("trailing bytes after frame")]
    TrailingBytes,
    /// The frame is longer than an onion payload. (peer or caller)
    #[error("frame too large: {0} bytes")]
    Oversize(usize),
    /// A protocol version this build does not speak. (peer)
    #[error("unsupported version {0}")]
    WrongVersion(u8),
    /// A command or answer tag this build does not know. (peer)
    #[error("unknown tag {0:#04x}")]
    UnknownTag(u8),
    /// A count or length field out of its range. (peer or caller)
    #[error("field out of range")]
    OutOfRange,
    /// A queue message that is not exactly [`QUEUE_MESSAGE_SIZE`] bytes. (caller)
    #[error("queue message must be {QUEUE_MESSAGE_SIZE} bytes, got {0}")]
    WrongMessageSize(usize),
    /// A SURB inside the frame is malformed, or the reply SURB field of a request that is
    /// not answered ([`tag::ACK_QUIET`]) is not all zero. (peer)
    #[error("malformed SURB")]
    BadSurb,
    /// A request built with a reply block for a command that is not answered, or without
    /// one for a command that is ([`Command::answered`]). (caller)
    #[error("reply block does not match the command")]
    Reply,
    /// A public key that is not a valid (or is a weak) Ed25519 key. (peer)
    #[error("invalid auth key")]
    BadKey,
    /// The signature does not verify. (peer)
    #[error("bad signature")]
    BadSignature,
    /// The proof of work does not meet the difficulty. (peer)
    #[error("insufficient proof of work")]
    Pow,
    /// Encoding a command that must be signed without a key, or with a key other than the
    /// one in the frame, or signing a command that takes no signature. (caller)
    #[error("wrong or missing signing key for this command")]
    Signer,
}

impl From<CodecError> for QueueError {
    fn from(e: CodecError) -> Self {
        match e {
            CodecError::Truncated { .. } => Self::Truncated,
            CodecError::TrailingBytes { .. } => Self::TrailingBytes,
            // A length past the end, or too long to encode.
            CodecError::BadLength { .. } => Self::OutOfRange,
        }
    }
}

impl From<AuthKeyError> for QueueError {
    fn from(e: AuthKeyError) -> Self {
        match e {
            AuthKeyError::BadKey => Self::BadKey,
            AuthKeyError::BadSignature => Self::BadSignature,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Ids
// ---------------------------------------------------------------------------------------------

crate::ids::id_type!(
    /// The relay-assigned id of a message stored in a queue (SimpleX's `msgId`), chosen at
    /// random by the relay when the message arrives; the recipient acks by it. Not the
    /// end-to-end [`crate::envelope::MessageId`], which the sender picks and only the two
    /// ends see.
    QueueMessageId,
    16
);
crate::ids::id_type!(
    /// A blob's id, chosen at random by the uploader. Knowing it is the capability to read it.
    BlobId,
    16
);

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

/// A command to a queue's relay.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Command {
    /// Create a queue owned by `recipient_key`. Paid for with a proof of work over the relay,
    /// its key epoch, `recipient_key` and `timestamp` ([`create_challenge`]); `timestamp`
    /// (Unix seconds) lets the relay bound how long it remembers spent proofs. Self-signed by
    /// `recipient_key`. Answer: [`ResponseBody::Ids`].
    Create {
        recipient_key: AuthPublicKey,
        timestamp: u64,
        pow_nonce: u64,
    },
    /// Secure a fresh queue with the first sender's key; after this every Send must be signed
    /// with it and further Secures fail (the invitation is dead). Self-signed by `sender_key`.
    Secure {
        sender_id: QueueId,
        sender_key: AuthPublicKey,
    },
    /// Append a message (exactly [`QUEUE_MESSAGE_SIZE`] bytes). Signed by the sender key.
    Send {
        sender_id: QueueId,
        message: Vec<u8>,
    },
    /// Hand the relay SURBs (1..=[`MAX_SUBSCRIBE_SURBS`]) to push pending and future messages
    /// through, one message per SURB. Signed by the recipient key.
    Subscribe {
        recipient_id: QueueId,
        surbs: Vec<Surb>,
    },
    /// Acknowledge (and so delete) a delivered message, optionally handing over more SURBs
    /// (0..=[`MAX_ACK_SURBS`]). Signed by the recipient key. Answer: Ok (`NO_MESSAGE` when
    /// the queue does not hold the message); none when `quiet`.
    Ack {
        recipient_id: QueueId,
        message_id: QueueMessageId,
        surbs: Vec<Surb>,
        /// Sent under [`tag::ACK_QUIET`]: the request carries no reply block and the relay
        /// answers nothing (a lost one is covered by the relay's redelivery and the
        /// recipient's duplicate drop). Otherwise [`tag::ACK`], answered like any request.
        quiet: bool,
    },
    /// Delete the queue and its messages. Signed by the recipient key.
    Delete { recipient_id: QueueId },
    /// Replace the queue's recipient key with `new_recipient_key` (a profile restored on a
    /// new device takes its queues over). Signed, as every recipient command, by the current
    /// recipient key, which also signs `moved_sig`: the statement
    /// `MOVED_LABEL || recipient_id || new_recipient_key` ([`sign_moved`]). The relay keeps
    /// the previous key and the statement, drops the queue's subscription, and answers a
    /// recipient command still signed by the previous key with [`ResponseBody::Moved`].
    /// Answer: Ok (also to a retry, once the new key is in place).
    Rekey {
        recipient_id: QueueId,
        new_recipient_key: AuthPublicKey,
        moved_sig: [u8; SIGNATURE_LEN],
    },
    /// Store one chunk of an (already encrypted) attachment. Unsigned: the random blob id is the
    /// capability. `pow_nonce` pays for a new blob: work over the relay, its key epoch and
    /// `blob_id` ([`blob_challenge`]), solved once per blob and carried by every chunk; the
    /// relay checks it only when it holds no chunk of the blob yet. Answer: Ok.
    BlobPut {
        blob_id: BlobId,
        index: u32,
        pow_nonce: u64,
        data: Vec<u8>,
    },
    /// Fetch one chunk. Answer: [`ResponseBody::BlobChunk`].
    BlobGet { blob_id: BlobId, index: u32 },
}

/// Which key a command must be signed with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Auth {
    /// No signature (blob commands).
    None,
    /// Signed by the key inside the command (Create, Secure); checked by `decode`.
    SelfSigned(AuthPublicKey),
    /// Signed by the recipient key stored for this recipient id.
    Recipient(QueueId),
    /// Signed by the sender key stored for the queue with this sender id.
    Sender(QueueId),
}

impl Command {
    pub fn tag(&self) -> u8 {
        match self {
            Self::Create { .. } => tag::CREATE,
            Self::Secure { .. } => tag::SECURE,
            Self::Send { .. } => tag::SEND,
            Self::Subscribe { .. } => tag::SUBSCRIBE,
            Self::Ack { quiet: false, .. } => tag::ACK,
            Self::Ack { quiet: true, .. } => tag::ACK_QUIET,
            Self::Delete { .. } => tag::DELETE,
            Self::BlobPut { .. } => tag::BLOB_PUT,
            Self::BlobGet { .. } => tag::BLOB_GET,
            Self::Rekey { .. } => tag::REKEY,
        }
    }

    /// Whether the relay answers the command, through the request's reply block. Only a
    /// quiet Ack ([`tag::ACK_QUIET`]) is not answered, and it carries no reply block.
    pub fn answered(&self) -> bool {
        !matches!(self, Self::Ack { quiet: true, .. })
    }

    pub fn auth(&self) -> Auth {
        match self {
            Self::Create { recipient_key, .. } => Auth::SelfSigned(*recipient_key),
            Self::Secure { sender_key, .. } => Auth::SelfSigned(*sender_key),
            Self::Send { sender_id, .. } => Auth::Sender(*sender_id),
            Self::Subscribe { recipient_id, .. }
            | Self::Ack { recipient_id, .. }
            | Self::Delete { recipient_id }
            | Self::Rekey { recipient_id, .. } => Auth::Recipient(*recipient_id),
            Self::BlobPut { .. } | Self::BlobGet { .. } => Auth::None,
        }
    }

    fn encode_body<W: Writer + ?Sized>(&self, out: &mut W) -> Result<(), QueueError> {
        match self {
            Self::Create {
                recipient_key,
                timestamp,
                pow_nonce,
            } => {
                out.put(recipient_key);
                out.put_u64(*timestamp);
                out.put_u64(*pow_nonce);
            }
            Self::Secure {
                sender_id,
                sender_key,
            } => {
                out.put(sender_id);
                out.put(sender_key);
            }
            Self::Send { sender_id, message } => {
                if message.len() != QUEUE_MESSAGE_SIZE {
                    return Err(QueueError::WrongMessageSize(message.len()));
                }
                out.put(sender_id);
                out.put_bytes(message);
            }
            Self::Subscribe {
                recipient_id,
                surbs,
            } => {
                if surbs.is_empty() || surbs.len() > MAX_SUBSCRIBE_SURBS {
                    return Err(QueueError::OutOfRange);
                }
                out.put(recipient_id);
                put_surbs(out, surbs)?;
            }
            Self::Ack {
                recipient_id,
                message_id,
                surbs,
                ..
            } => {
                if surbs.len() > MAX_ACK_SURBS {
                    return Err(QueueError::OutOfRange);
                }
                out.put(recipient_id);
                out.put(message_id);
                put_surbs(out, surbs)?;
            }
            Self::Delete { recipient_id } => out.put(recipient_id),
            Self::BlobPut {
                blob_id,
                index,
                pow_nonce,
                data,
            } => {
                if data.len() > BLOB_CHUNK_SIZE {
                    return Err(QueueError::OutOfRange);
                }
                out.put(blob_id);
                out.put_u32(*index);
                out.put_u64(*pow_nonce);
                out.put_u16_prefixed(data)?;
            }
            Self::BlobGet { blob_id, index } => {
                out.put(blob_id);
                out.put_u32(*index);
            }
            Self::Rekey {
                recipient_id,
                new_recipient_key,
                moved_sig,
            } => {
                out.put(recipient_id);
                out.put(new_recipient_key);
                out.put(moved_sig);
            }
        }
        Ok(())
    }

    fn decode_body(tag_byte: u8, r: &mut Reader<'_>) -> Result<Self, QueueError> {
        Ok(match tag_byte {
            tag::CREATE => Self::Create {
                recipient_key: r.extract()?,
                timestamp: r.take_u64()?,
                pow_nonce: r.take_u64()?,
            },
            tag::SECURE => Self::Secure {
                sender_id: r.extract()?,
                sender_key: r.extract()?,
            },
            tag::SEND => Self::Send {
                sender_id: r.extract()?,
                message: r.take(QUEUE_MESSAGE_SIZE)?.to_vec(),
            },
            tag::SUBSCRIBE => {
                let recipient_id = r.extract()?;
                let surbs = take_surbs(r, 1, MAX_SUBSCRIBE_SURBS)?;
                Self::Subscribe {
                    recipient_id,
                    surbs,
                }
            }
            tag::ACK | tag::ACK_QUIET => {
                let recipient_id = r.extract()?;
                let message_id = r.extract()?;
                let surbs = take_surbs(r, 0, MAX_ACK_SURBS)?;
                Self::Ack {
                    recipient_id,
                    message_id,
                    surbs,
                    quiet: tag_byte == tag::ACK_QUIET,
                }
            }
            tag::DELETE => Self::Delete {
                recipient_id: r.extract()?,
            },
            tag::BLOB_PUT => {
                let blob_id = r.extract()?;
                let index = r.take_u32()?;
                let pow_nonce = r.take_u64()?;
                Self::BlobPut {
                    blob_id,
                    index,
                    pow_nonce,
                    data: take_chunk(r)?,
                }
            }
            tag::BLOB_GET => Self::BlobGet {
                blob_id: r.extract()?,
                index: r.take_u32()?,
            },
            tag::REKEY => Self::Rekey {
                recipient_id: r.extract()?,
                new_recipient_key: r.extract()?,
                moved_sig: r.extract()?,
            },
            other => return Err(QueueError::UnknownTag(other)),
        })
    }
}

/// A SURB count (u8) and the SURBs. Callers check the count against the command's maximum.
/// Reads the header every request and response starts with (`version u8 || tag u8 ||
/// request_id u64`), after checking that the whole message (`len` bytes) fits an onion
/// payload. Returns `(tag, request_id)`; a wrong version or oversize input is an error.
pub(crate) fn take_header(r: &mut Reader<'_>, len: usize) -> Result<(u8, u64), QueueError> {
    if len > ONION_PLAINTEXT_SIZE {
        return Err(QueueError::Oversize(len));
    }
    let version = r.take_u8()?;
    if version != crate::PROTOCOL_VERSION {
        return Err(QueueError::WrongVersion(version));
    }
    Ok((r.take_u8()?, r.take_u64()?))
}

/// A blob chunk: `u16` length ‖ bytes. A length over [`BLOB_CHUNK_SIZE`] is
/// [`QueueError::OutOfRange`] (checked before the bytes are read).
pub(crate) fn take_chunk(r: &mut Reader<'_>) -> Result<Vec<u8>, QueueError> {
    let len = usize::from(r.take_u16()?);
    if len > BLOB_CHUNK_SIZE {
        return Err(QueueError::OutOfRange);
    }
    Ok(r.take(len)?.to_vec())
}

fn put_surbs<W: Writer + ?Sized>(out: &mut W, surbs: &[Surb]) -> Result<(), QueueError> {
    out.put_u8(u8::try_from(surbs.len()).map_err(|_| QueueError::OutOfRange)?);
    for s in surbs {
        out.put_bytes(s.as_bytes());
    }
    Ok(())
}

/// A SURB count in `min..=max` and that many SURBs.
fn take_surbs(r: &mut Reader<'_>, min: usize, max: usize) -> Result<Vec<Surb>, QueueError> {
    let n = usize::from(r.take_u8()?);
    if n < min || n > max {
        return Err(QueueError::OutOfRange);
    }
    (0..n)
        .map(|_| Surb::from_bytes(r.take(SURB_SIZE)?).map_err(|_| QueueError::BadSurb))
        .collect()
}
