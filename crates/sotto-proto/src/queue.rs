//! Queue commands: what a client asks a queue's relay (inside a forward onion packet) and what
//! the relay answers (through the reply SURB the command carries), plus the `Delivery` frame a
//! relay pushes through a subscriber's SURBs.
//!
//! Byte layouts, tags, error codes and quotas are in `docs/protocol/onion.md`.
//!
//! ## Authorisation
//! Every queue has two Ed25519 keys, both freshly generated for that queue only, so keys never
//! link two queues: the *recipient key* (given in [`Command::Create`]; signs Subscribe, Ack,
//! Delete) and the *sender key* (given once in [`Command::Secure`] by the first sender; signs
//! every Send). A request is signed over [`REQUEST_SIG_LABEL`] followed by all of its bytes up
//! to the signature (version, tag, request id, reply SURB, body with the queue id).
//!
//! The relay side decodes with [`ReceivedRequest::decode`], which already checks self-signed
//! commands (Create, Secure: their key is in the frame) and returns [`Auth`] saying which stored
//! key the rest must be checked with ([`ReceivedRequest::verify`]).

use core::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::PROTOCOL_VERSION;
use crate::ids::QueueId;
use crate::onion::{SURB_SIZE, Surb};
use crate::pow::{self, Challenge};
use crate::sizes::{ONION_PLAINTEXT_SIZE, QUEUE_MESSAGE_SIZE};

/// Domain label of request signatures.
pub const REQUEST_SIG_LABEL: &[u8] = b"sotto/queue/v1/request-sig";
/// Domain label of the proof of work that pays for [`Command::Create`].
pub const CREATE_POW_LABEL: &[u8] = b"sotto/queue/v1/create-pow";

/// Bytes of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Bytes of the request header: version, tag, request id, reply SURB.
pub const REQUEST_HEADER_LEN: usize = 1 + 1 + 8 + SURB_SIZE;
/// Bytes of the response header: version, tag, request id.
pub const RESPONSE_HEADER_LEN: usize = 1 + 1 + 8;

/// The most SURBs a Subscribe can carry and still fit one onion payload.
pub const MAX_SUBSCRIBE_SURBS: usize =
    (ONION_PLAINTEXT_SIZE - REQUEST_HEADER_LEN - QueueId::LEN - 1 - SIGNATURE_LEN) / SURB_SIZE;
/// The most SURBs an Ack can carry (to replenish the subscription).
pub const MAX_ACK_SURBS: usize =
    (ONION_PLAINTEXT_SIZE - REQUEST_HEADER_LEN - QueueId::LEN - MessageId::LEN - 1 - SIGNATURE_LEN)
        / SURB_SIZE;
/// The largest blob chunk (BlobPut data, BlobChunk answer data).
pub const BLOB_CHUNK_SIZE: usize = QUEUE_MESSAGE_SIZE;

/// Bytes of an encoded [`Delivery`].
pub const DELIVERY_LEN: usize = 1 + 1 + QueueId::LEN + MessageId::LEN + 8 + QUEUE_MESSAGE_SIZE;

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
    /// Answer tags.
    pub const OK: u8 = 0x80;
    pub const IDS: u8 = 0x81;
    pub const BLOB_CHUNK: u8 = 0x82;
    pub const ERROR: u8 = 0x8f;
    /// A message pushed through a subscription SURB.
    pub const DELIVERY: u8 = 0x90;
}

// Every frame must fit one onion payload.
const _: () = assert!(
    REQUEST_HEADER_LEN + QueueId::LEN + QUEUE_MESSAGE_SIZE + SIGNATURE_LEN <= ONION_PLAINTEXT_SIZE
);
const _: () =
    assert!(REQUEST_HEADER_LEN + MessageId::LEN + 4 + 2 + BLOB_CHUNK_SIZE <= ONION_PLAINTEXT_SIZE);
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
    /// A SURB inside the frame is malformed. (peer)
    #[error("malformed SURB")]
    BadSurb,
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

// ---------------------------------------------------------------------------------------------
// Keys and ids
// ---------------------------------------------------------------------------------------------

/// An Ed25519 public key that authorises commands on one queue.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuthPublicKey([u8; 32]);

impl AuthPublicKey {
    pub const LEN: usize = 32;

    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn verifying_key(&self) -> Result<ed25519_dalek::VerifyingKey, QueueError> {
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(&self.0).map_err(|_| QueueError::BadKey)?;
        if key.is_weak() {
            return Err(QueueError::BadKey);
        }
        Ok(key)
    }

    /// Verifies `signature` over `REQUEST_SIG_LABEL || signed`.
    fn verify(&self, signed: &[u8], signature: &[u8; SIGNATURE_LEN]) -> Result<(), QueueError> {
        let key = self.verifying_key()?;
        let sig = ed25519_dalek::Signature::from_bytes(signature);
        let mut msg = Vec::with_capacity(REQUEST_SIG_LABEL.len() + signed.len());
        msg.extend_from_slice(REQUEST_SIG_LABEL);
        msg.extend_from_slice(signed);
        key.verify_strict(&msg, &sig)
            .map_err(|_| QueueError::BadSignature)
    }
}

impl fmt::Debug for AuthPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AuthPublicKey({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// An Ed25519 signing key for one queue (recipient's or sender's). Zeroized on drop; never
/// printed.
#[derive(Clone)]
pub struct AuthKeyPair(ed25519_dalek::SigningKey);

impl AuthKeyPair {
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut *seed);
        Self(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    pub fn from_persisted_bytes(seed: [u8; 32]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// The seed, for encrypted persistence only. Zeroized when dropped.
    pub fn to_persisted_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    pub fn public_key(&self) -> AuthPublicKey {
        AuthPublicKey(self.0.verifying_key().to_bytes())
    }

    fn sign(&self, signed: &[u8]) -> [u8; SIGNATURE_LEN] {
        use ed25519_dalek::Signer;
        let mut msg = Vec::with_capacity(REQUEST_SIG_LABEL.len() + signed.len());
        msg.extend_from_slice(REQUEST_SIG_LABEL);
        msg.extend_from_slice(signed);
        self.0.sign(&msg).to_bytes()
    }
}

impl fmt::Debug for AuthKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthKeyPair({:?}, <secret redacted>)", self.public_key())
    }
}

crate::ids::id_type!(
    /// A stored message's id, chosen at random by the relay; the recipient acks by it.
    MessageId,
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
    /// Create a queue owned by `recipient_key`. Paid for with a proof of work over the frame's
    /// bytes before the nonce; `timestamp` (Unix seconds) lets the relay bound how long it
    /// remembers spent proofs. Self-signed by `recipient_key`. Answer: [`ResponseBody::Ids`].
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
    /// (0..=[`MAX_ACK_SURBS`]). Signed by the recipient key.
    Ack {
        recipient_id: QueueId,
        message_id: MessageId,
        surbs: Vec<Surb>,
    },
    /// Delete the queue and its messages. Signed by the recipient key.
    Delete { recipient_id: QueueId },
    /// Store one chunk of an (already encrypted) attachment. Unsigned: the random blob id is the
    /// capability. Answer: Ok.
    BlobPut {
        blob_id: BlobId,
        index: u32,
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
            Self::Ack { .. } => tag::ACK,
            Self::Delete { .. } => tag::DELETE,
            Self::BlobPut { .. } => tag::BLOB_PUT,
            Self::BlobGet { .. } => tag::BLOB_GET,
        }
    }

    pub fn auth(&self) -> Auth {
        match self {
            Self::Create { recipient_key, .. } => Auth::SelfSigned(*recipient_key),
            Self::Secure { sender_key, .. } => Auth::SelfSigned(*sender_key),
            Self::Send { sender_id, .. } => Auth::Sender(*sender_id),
            Self::Subscribe { recipient_id, .. }
            | Self::Ack { recipient_id, .. }
            | Self::Delete { recipient_id } => Auth::Recipient(*recipient_id),
            Self::BlobPut { .. } | Self::BlobGet { .. } => Auth::None,
        }
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<(), QueueError> {
        match self {
            Self::Create {
                recipient_key,
                timestamp,
                pow_nonce,
            } => {
                out.extend_from_slice(recipient_key.as_bytes());
                out.extend_from_slice(&timestamp.to_be_bytes());
                out.extend_from_slice(&pow_nonce.to_be_bytes());
            }
            Self::Secure {
                sender_id,
                sender_key,
            } => {
                out.extend_from_slice(sender_id.as_bytes());
                out.extend_from_slice(sender_key.as_bytes());
            }
            Self::Send { sender_id, message } => {
                if message.len() != QUEUE_MESSAGE_SIZE {
                    return Err(QueueError::WrongMessageSize(message.len()));
                }
                out.extend_from_slice(sender_id.as_bytes());
                out.extend_from_slice(message);
            }
            Self::Subscribe {
                recipient_id,
                surbs,
            } => {
                if surbs.is_empty() || surbs.len() > MAX_SUBSCRIBE_SURBS {
                    return Err(QueueError::OutOfRange);
                }
                out.extend_from_slice(recipient_id.as_bytes());
                put_surbs(out, surbs);
            }
            Self::Ack {
                recipient_id,
                message_id,
                surbs,
            } => {
                if surbs.len() > MAX_ACK_SURBS {
                    return Err(QueueError::OutOfRange);
                }
                out.extend_from_slice(recipient_id.as_bytes());
                out.extend_from_slice(message_id.as_bytes());
                put_surbs(out, surbs);
            }
            Self::Delete { recipient_id } => out.extend_from_slice(recipient_id.as_bytes()),
            Self::BlobPut {
                blob_id,
                index,
                data,
            } => {
                let len = u16::try_from(data.len()).map_err(|_| QueueError::OutOfRange)?;
                if data.len() > BLOB_CHUNK_SIZE {
                    return Err(QueueError::OutOfRange);
                }
                out.extend_from_slice(blob_id.as_bytes());
                out.extend_from_slice(&index.to_be_bytes());
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(data);
            }
            Self::BlobGet { blob_id, index } => {
                out.extend_from_slice(blob_id.as_bytes());
                out.extend_from_slice(&index.to_be_bytes());
            }
        }
        Ok(())
    }

    fn decode_body(tag_byte: u8, r: &mut Reader<'_>) -> Result<Self, QueueError> {
        Ok(match tag_byte {
            tag::CREATE => Self::Create {
                recipient_key: AuthPublicKey(r.array()?),
                timestamp: r.u64()?,
                pow_nonce: r.u64()?,
            },
            tag::SECURE => Self::Secure {
                sender_id: QueueId::from_bytes(r.array()?),
                sender_key: AuthPublicKey(r.array()?),
            },
            tag::SEND => Self::Send {
                sender_id: QueueId::from_bytes(r.array()?),
                message: r.take(QUEUE_MESSAGE_SIZE)?.to_vec(),
            },
            tag::SUBSCRIBE => {
                let recipient_id = QueueId::from_bytes(r.array()?);
                let surbs = r.surbs(1, MAX_SUBSCRIBE_SURBS)?;
                Self::Subscribe {
                    recipient_id,
                    surbs,
                }
            }
            tag::ACK => {
                let recipient_id = QueueId::from_bytes(r.array()?);
                let message_id = MessageId(r.array()?);
                let surbs = r.surbs(0, MAX_ACK_SURBS)?;
                Self::Ack {
                    recipient_id,
                    message_id,
                    surbs,
                }
            }
            tag::DELETE => Self::Delete {
                recipient_id: QueueId::from_bytes(r.array()?),
            },
            tag::BLOB_PUT => {
                let blob_id = BlobId(r.array()?);
                let index = r.u32()?;
                let len = usize::from(r.u16()?);
                if len > BLOB_CHUNK_SIZE {
                    return Err(QueueError::OutOfRange);
                }
                Self::BlobPut {
                    blob_id,
                    index,
                    data: r.take(len)?.to_vec(),
                }
            }
            tag::BLOB_GET => Self::BlobGet {
                blob_id: BlobId(r.array()?),
                index: r.u32()?,
            },
            other => return Err(QueueError::UnknownTag(other)),
        })
    }
}

fn put_surbs(out: &mut Vec<u8>, surbs: &[Surb]) {
    // callers check surbs.len() <= 9
    out.push(u8::try_from(surbs.len()).unwrap_or(u8::MAX));
    for s in surbs {
        out.extend_from_slice(s.as_bytes());
    }
}

/// A request as the client builds it.
#[derive(Clone, Debug)]
pub struct Request {
    /// Chosen by the client to match the answer; echoed in the [`Response`].
    pub request_id: u64,
    /// The SURB the relay answers through.
    pub reply: Surb,
    pub command: Command,
}

impl Request {
    fn encode_unsigned(&self) -> Result<Vec<u8>, QueueError> {
        let mut out = Vec::with_capacity(ONION_PLAINTEXT_SIZE);
        out.push(PROTOCOL_VERSION);
        out.push(self.command.tag());
        out.extend_from_slice(&self.request_id.to_be_bytes());
        out.extend_from_slice(self.reply.as_bytes());
        self.command.encode_body(&mut out)?;
        Ok(out)
    }

    /// Encodes the request and signs it with `signer` when the command needs a signature
    /// ([`Command::auth`]). For Create and Secure, `signer` must be the key in the command.
    pub fn encode(&self, signer: Option<&AuthKeyPair>) -> Result<Vec<u8>, QueueError> {
        let mut out = self.encode_unsigned()?;
        match (self.command.auth(), signer) {
            (Auth::None, None) => {}
            (Auth::None, Some(_)) | (_, None) => return Err(QueueError::Signer),
            (Auth::SelfSigned(key), Some(s)) if s.public_key() != key => {
                return Err(QueueError::Signer);
            }
            (_, Some(s)) => {
                let sig = s.sign(&out);
                out.extend_from_slice(&sig);
            }
        }
        if out.len() > ONION_PLAINTEXT_SIZE {
            return Err(QueueError::Oversize(out.len()));
        }
        Ok(out)
    }

    /// The proof-of-work challenge of a Create request: the frame's bytes before the nonce.
    /// `None` for other commands.
    pub fn pow_challenge(&self) -> Result<Option<Challenge>, QueueError> {
        if !matches!(self.command, Command::Create { .. }) {
            return Ok(None);
        }
        let bytes = self.encode_unsigned()?;
        Ok(Some(create_challenge(&bytes)))
    }

    /// Builds, pays for (solving a `pow_bits` proof of work) and signs a Create request.
    pub fn create(
        request_id: u64,
        reply: Surb,
        recipient: &AuthKeyPair,
        now: u64,
        pow_bits: u8,
    ) -> Result<Vec<u8>, QueueError> {
        let mut req = Request {
            request_id,
            reply,
            command: Command::Create {
                recipient_key: recipient.public_key(),
                timestamp: now,
                pow_nonce: 0,
            },
        };
        let challenge = req.pow_challenge()?.ok_or(QueueError::Signer)?;
        let nonce = pow::solve(&challenge, pow_bits).map_err(|_| QueueError::Pow)?;
        if let Command::Create { pow_nonce, .. } = &mut req.command {
            *pow_nonce = nonce;
        }
        req.encode(Some(recipient))
    }
}

/// Create's PoW covers every byte before the 8-byte nonce (which ends the unsigned frame).
fn create_challenge(unsigned: &[u8]) -> Challenge {
    let cut = unsigned.len().saturating_sub(8);
    Challenge::new(CREATE_POW_LABEL, unsigned.get(..cut).unwrap_or(&[]))
}

/// A request as the relay decoded it. Self-signed commands are already verified; for the
/// others, look up the key named by [`ReceivedRequest::auth`] and call
/// [`ReceivedRequest::verify`] before acting.
#[derive(Clone, Debug)]
pub struct ReceivedRequest {
    pub request_id: u64,
    pub reply: Surb,
    pub command: Command,
    signed_len: usize,
    signature: Option<[u8; SIGNATURE_LEN]>,
    bytes: Vec<u8>,
}

impl ReceivedRequest {
    /// Decodes a request from the plaintext of a delivered onion packet. Rejects truncation,
    /// trailing bytes, oversize, wrong version, unknown tags, malformed SURBs, bad counts, and
    /// bad self-signatures (Create, Secure).
    pub fn decode(bytes: &[u8]) -> Result<Self, QueueError> {
        if bytes.len() > ONION_PLAINTEXT_SIZE {
            return Err(QueueError::Oversize(bytes.len()));
        }
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != PROTOCOL_VERSION {
            return Err(QueueError::WrongVersion(version));
        }
        let tag_byte = r.u8()?;
        let request_id = r.u64()?;
        let reply = Surb::from_bytes(r.take(SURB_SIZE)?).map_err(|_| QueueError::BadSurb)?;
        let command = Command::decode_body(tag_byte, &mut r)?;
        let signed_len = r.pos;
        let signature = match command.auth() {
            Auth::None => None,
            _ => Some(r.array::<SIGNATURE_LEN>()?),
        };
        r.finish()?;
        let req = Self {
            request_id,
            reply,
            command,
            signed_len,
            signature,
            bytes: bytes.to_vec(),
        };
        if let Auth::SelfSigned(key) = req.command.auth() {
            req.verify(&key)?;
        }
        Ok(req)
    }

    /// Which key the request must be signed with.
    pub fn auth(&self) -> Auth {
        self.command.auth()
    }

    /// Checks the request's signature against `key` (the stored recipient or sender key).
    /// Unsigned commands ([`Auth::None`]) fail with [`QueueError::Signer`].
    pub fn verify(&self, key: &AuthPublicKey) -> Result<(), QueueError> {
        let signature = self.signature.as_ref().ok_or(QueueError::Signer)?;
        let signed = self
            .bytes
            .get(..self.signed_len)
            .ok_or(QueueError::Truncated)?;
        key.verify(signed, signature)
    }

    /// For Create: the proof-of-work challenge (the relay keeps it in a spent set until the
    /// request's timestamp leaves its acceptance window). `None` for other commands.
    pub fn pow_challenge(&self) -> Option<Challenge> {
        match self.command {
            Command::Create { .. } => Some(create_challenge(
                self.bytes.get(..self.signed_len).unwrap_or(&[]),
            )),
            _ => None,
        }
    }

    /// For Create: checks the proof of work against `bits`. Other commands: `Ok`.
    pub fn verify_pow(&self, bits: u8) -> Result<(), QueueError> {
        match (&self.command, self.pow_challenge()) {
            (Command::Create { pow_nonce, .. }, Some(c)) => {
                pow::verify(&c, bits, *pow_nonce).map_err(|_| QueueError::Pow)
            }
            _ => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Answers and deliveries
// ---------------------------------------------------------------------------------------------

/// Error codes a relay answers with. Stable numbers (u16 on the wire); codes this build does
/// not know decode as [`ErrorCode::Unknown`] so newer relays can add codes.
#[non_exhaustive]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ErrorCode {
    /// 1: signature missing/invalid, or the queue is already secured (Secure).
    Auth,
    /// 2: no such queue.
    NoQueue,
    /// 3: the queue, blob store or client is over its quota.
    Quota,
    /// 4: proof of work missing or too weak, or already spent.
    Pow,
    /// 5: the id/key already exists (Create with a used key, BlobPut of an existing chunk).
    Duplicate,
    /// 6: something is too large (blob chunk index beyond the limit, …).
    Large,
    /// 7: the command could not be decoded or is not allowed here.
    BadCommand,
    /// 8: no message with that id (Ack).
    NoMessage,
    /// 9: no such blob chunk (BlobGet).
    NoBlob,
    /// 10: the request's timestamp is outside the relay's window (Create).
    Expired,
    /// 11: the relay failed; try again later.
    Internal,
    /// A code this build does not know.
    Unknown(u16),
}

impl ErrorCode {
    pub fn code(self) -> u16 {
        match self {
            Self::Auth => 1,
            Self::NoQueue => 2,
            Self::Quota => 3,
            Self::Pow => 4,
            Self::Duplicate => 5,
            Self::Large => 6,
            Self::BadCommand => 7,
            Self::NoMessage => 8,
            Self::NoBlob => 9,
            Self::Expired => 10,
            Self::Internal => 11,
            Self::Unknown(c) => c,
        }
    }

    pub fn from_code(code: u16) -> Self {
        match code {
            1 => Self::Auth,
            2 => Self::NoQueue,
            3 => Self::Quota,
            4 => Self::Pow,
            5 => Self::Duplicate,
            6 => Self::Large,
            7 => Self::BadCommand,
            8 => Self::NoMessage,
            9 => Self::NoBlob,
            10 => Self::Expired,
            11 => Self::Internal,
            other => Self::Unknown(other),
        }
    }
}

impl From<&QueueError> for ErrorCode {
    /// The code a relay answers a request with that failed to decode or verify.
    fn from(e: &QueueError) -> Self {
        match e {
            QueueError::BadSignature | QueueError::BadKey | QueueError::Signer => Self::Auth,
            QueueError::Pow => Self::Pow,
            QueueError::Oversize(_) => Self::Large,
            _ => Self::BadCommand,
        }
    }
}

/// The body of a relay's answer.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ResponseBody {
    Ok,
    /// Answer to Create.
    Ids {
        recipient_id: QueueId,
        sender_id: QueueId,
    },
    /// Answer to BlobGet.
    BlobChunk {
        index: u32,
        data: Vec<u8>,
    },
    Error(ErrorCode),
}

/// A relay's answer to one request, sealed into the request's reply SURB.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Response {
    pub request_id: u64,
    pub body: ResponseBody,
}

impl Response {
    pub fn encode(&self) -> Result<Vec<u8>, QueueError> {
        let mut out = Vec::with_capacity(RESPONSE_HEADER_LEN + 6 + BLOB_CHUNK_SIZE);
        out.push(PROTOCOL_VERSION);
        out.push(match self.body {
            ResponseBody::Ok => tag::OK,
            ResponseBody::Ids { .. } => tag::IDS,
            ResponseBody::BlobChunk { .. } => tag::BLOB_CHUNK,
            ResponseBody::Error(_) => tag::ERROR,
        });
        out.extend_from_slice(&self.request_id.to_be_bytes());
        match &self.body {
            ResponseBody::Ok => {}
            ResponseBody::Ids {
                recipient_id,
                sender_id,
            } => {
                out.extend_from_slice(recipient_id.as_bytes());
                out.extend_from_slice(sender_id.as_bytes());
            }
            ResponseBody::BlobChunk { index, data } => {
                if data.len() > BLOB_CHUNK_SIZE {
                    return Err(QueueError::OutOfRange);
                }
                let len = u16::try_from(data.len()).map_err(|_| QueueError::OutOfRange)?;
                out.extend_from_slice(&index.to_be_bytes());
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(data);
            }
            ResponseBody::Error(code) => out.extend_from_slice(&code.code().to_be_bytes()),
        }
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, QueueError> {
        if bytes.len() > ONION_PLAINTEXT_SIZE {
            return Err(QueueError::Oversize(bytes.len()));
        }
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != PROTOCOL_VERSION {
            return Err(QueueError::WrongVersion(version));
        }
        let tag_byte = r.u8()?;
        let request_id = r.u64()?;
        let body = match tag_byte {
            tag::OK => ResponseBody::Ok,
            tag::IDS => ResponseBody::Ids {
                recipient_id: QueueId::from_bytes(r.array()?),
                sender_id: QueueId::from_bytes(r.array()?),
            },
            tag::BLOB_CHUNK => {
                let index = r.u32()?;
                let len = usize::from(r.u16()?);
                if len > BLOB_CHUNK_SIZE {
                    return Err(QueueError::OutOfRange);
                }
                ResponseBody::BlobChunk {
                    index,
                    data: r.take(len)?.to_vec(),
                }
            }
            tag::ERROR => ResponseBody::Error(ErrorCode::from_code(r.u16()?)),
            other => return Err(QueueError::UnknownTag(other)),
        };
        r.finish()?;
        Ok(Self { request_id, body })
    }
}

/// A stored message pushed by the relay through one of the subscriber's SURBs. The client acks
/// it by `message_id`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Delivery {
    pub recipient_id: QueueId,
    pub message_id: MessageId,
    /// When the relay received it (Unix seconds).
    pub received_at: u64,
    /// Exactly [`QUEUE_MESSAGE_SIZE`] bytes.
    pub body: Vec<u8>,
}

impl Delivery {
    pub fn encode(&self) -> Result<Vec<u8>, QueueError> {
        if self.body.len() != QUEUE_MESSAGE_SIZE {
            return Err(QueueError::WrongMessageSize(self.body.len()));
        }
        let mut out = Vec::with_capacity(DELIVERY_LEN);
        out.push(PROTOCOL_VERSION);
        out.push(tag::DELIVERY);
        out.extend_from_slice(self.recipient_id.as_bytes());
        out.extend_from_slice(self.message_id.as_bytes());
        out.extend_from_slice(&self.received_at.to_be_bytes());
        out.extend_from_slice(&self.body);
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, QueueError> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != PROTOCOL_VERSION {
            return Err(QueueError::WrongVersion(version));
        }
        let t = r.u8()?;
        if t != tag::DELIVERY {
            return Err(QueueError::UnknownTag(t));
        }
        let d = Self {
            recipient_id: QueueId::from_bytes(r.array()?),
            message_id: MessageId(r.array()?),
            received_at: r.u64()?,
            body: r.take(QUEUE_MESSAGE_SIZE)?.to_vec(),
        };
        r.finish()?;
        Ok(d)
    }
}

/// Whatever arrives at a client through a SURB: an answer or a pushed message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Inbound {
    Response(Response),
    Delivery(Delivery),
}

impl Inbound {
    pub fn decode(bytes: &[u8]) -> Result<Self, QueueError> {
        match bytes.get(1) {
            Some(&tag::DELIVERY) => Delivery::decode(bytes).map(Self::Delivery),
            _ => Response::decode(bytes).map(Self::Response),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], QueueError> {
        let end = self.pos.checked_add(n).ok_or(QueueError::Truncated)?;
        let out = self.bytes.get(self.pos..end).ok_or(QueueError::Truncated)?;
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], QueueError> {
        <[u8; N]>::try_from(self.take(N)?).map_err(|_| QueueError::Truncated)
    }

    fn u8(&mut self) -> Result<u8, QueueError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, QueueError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, QueueError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, QueueError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn surbs(&mut self, min: usize, max: usize) -> Result<Vec<Surb>, QueueError> {
        let n = usize::from(self.u8()?);
        if n < min || n > max {
            return Err(QueueError::OutOfRange);
        }
        (0..n)
            .map(|_| Surb::from_bytes(self.take(SURB_SIZE)?).map_err(|_| QueueError::BadSurb))
            .collect()
    }

    fn finish(&self) -> Result<(), QueueError> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(QueueError::TrailingBytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RelayId;
    use crate::keys::KeyPair;
    use crate::onion::{ConnTag, Hop, build_surb};
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn surb(rng: &mut ChaCha20Rng) -> Surb {
        let route: Vec<Hop> = (0..3u8)
            .map(|i| Hop {
                id: RelayId::from_bytes([i; 32]),
                key: KeyPair::generate(rng).public,
            })
            .collect();
        let conn = ConnTag::random(rng);
        build_surb(rng, &route, conn).unwrap().0
    }

    #[test]
    fn send_fits_and_round_trips_with_signature() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let sender = AuthKeyPair::generate(&mut rng);
        let req = Request {
            request_id: 7,
            reply: surb(&mut rng),
            command: Command::Send {
                sender_id: QueueId::from_bytes([3; 16]),
                message: vec![9; QUEUE_MESSAGE_SIZE],
            },
        };
        let bytes = req.encode(Some(&sender)).unwrap();
        assert!(bytes.len() <= ONION_PLAINTEXT_SIZE);
        let got = ReceivedRequest::decode(&bytes).unwrap();
        assert_eq!(got.command, req.command);
        got.verify(&sender.public_key()).unwrap();
        let other = AuthKeyPair::generate(&mut rng);
        assert_eq!(
            got.verify(&other.public_key()),
            Err(QueueError::BadSignature)
        );
    }

    #[test]
    fn create_with_pow() {
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        let recipient = AuthKeyPair::generate(&mut rng);
        let bytes = Request::create(1, surb(&mut rng), &recipient, 1_800_000_000, 8).unwrap();
        let got = ReceivedRequest::decode(&bytes).unwrap();
        got.verify_pow(8).unwrap();
        assert!(got.pow_challenge().is_some());
    }
}
