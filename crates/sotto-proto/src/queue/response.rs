//! What comes back to a client through a SURB: a [`Response`] to one of its requests, or a
//! [`Delivery`] pushed through a subscription.

use super::{
    BLOB_CHUNK_SIZE, DELIVERY_LEN, QueueError, QueueMessageId, RESPONSE_HEADER_LEN, SIGNATURE_LEN,
    tag, take_chunk, take_header,
};
use crate::PROTOCOL_VERSION;
use crate::codec::{Reader, Writer};
use crate::ids::QueueId;
use crate::keys::AuthPublicKey;
use crate::sizes::QUEUE_MESSAGE_SIZE;

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
    /// 12: a recipient command signed by the queue's previous recipient key: the queue moved
    /// to another key ([`ResponseBody::Moved`] carries the statement).
    Moved,
    /// A code this build does not know.
    Unknown(u16),
}

impl ErrorCode {
    /// Every code this build knows, in the order of their numbers (1..=12).
    pub const KNOWN: [ErrorCode; 12] = [
        Self::Auth,
        Self::NoQueue,
        Self::Quota,
        Self::Pow,
        Self::Duplicate,
        Self::Large,
        Self::BadCommand,
        Self::NoMessage,
        Self::NoBlob,
        Self::Expired,
        Self::Internal,
        Self::Moved,
    ];

    /// A lower-case name for metrics and logs (`"pow"`, `"no_queue"`, …; `"unknown"` for a
    /// code this build does not know).
    pub fn label(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::NoQueue => "no_queue",
            Self::Quota => "quota",
            Self::Pow => "pow",
            Self::Duplicate => "duplicate",
            Self::Large => "large",
            Self::BadCommand => "bad_command",
            Self::NoMessage => "no_message",
            Self::NoBlob => "no_blob",
            Self::Expired => "expired",
            Self::Internal => "internal",
            Self::Moved => "moved",
            Self::Unknown(_) => "unknown",
        }
    }

    /// Where the code stands in [`ErrorCode::KNOWN`] (its number − 1), `None` for an unknown
    /// code: an index for per-code counters.
    pub fn index(self) -> Option<usize> {
        Self::KNOWN.iter().position(|k| *k == self)
    }

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
            Self::Moved => 12,
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
            12 => Self::Moved,
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
    /// A Create refused as [`ErrorCode::Expired`] (its timestamp is more than the relay's
    /// `max_clock_skew` from the relay's clock), carrying that clock: `relay_time`, Unix
    /// seconds when the relay refused it. The answer comes through the request's own reply
    /// block, so a relay can only tell its own time to its own requests; a client bounds the
    /// offset it takes from it (`client::MAX_CLOCK_OFFSET`). Tag `0x8e`.
    ExpiredAt {
        /// The relay's clock when it refused the Create, Unix seconds.
        relay_time: u64,
    },
    /// A Create or a new blob's BlobPut refused as [`ErrorCode::Pow`] while the relay asks
    /// for more work than its floor because it is under load: `bits` is the difficulty it
    /// asks for now (at most [`crate::pow::MAX_BITS`] on the wire). A client solves once more
    /// at that difficulty if it is within its own bound and sends the request again once.
    /// Tag `0x8d`.
    PowRequired {
        /// Leading zero bits the relay asks for now.
        bits: u8,
    },
    /// A recipient command (Subscribe, Ack, Delete, Rekey) signed by the queue's previous
    /// recipient key, refused as [`ErrorCode::Moved`]: the queue moved to
    /// `new_recipient_key`, and `moved_sig` is the previous key's signature of that
    /// ([`super::verify_moved`]), as the [`super::Command::Rekey`] carried it. A client
    /// believes it only if the signature verifies under its own recipient key. Tag `0x8c`.
    Moved {
        new_recipient_key: AuthPublicKey,
        moved_sig: [u8; SIGNATURE_LEN],
    },
}

impl ResponseBody {
    /// The error code of a refusal (`ExpiredAt` is [`ErrorCode::Expired`]); `None` for an
    /// answer that is not one.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            Self::Error(code) => Some(*code),
            Self::ExpiredAt { .. } => Some(ErrorCode::Expired),
            Self::PowRequired { .. } => Some(ErrorCode::Pow),
            Self::Moved { .. } => Some(ErrorCode::Moved),
            _ => None,
        }
    }
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
        out.put_u8(PROTOCOL_VERSION);
        out.put_u8(match self.body {
            ResponseBody::Ok => tag::OK,
            ResponseBody::Ids { .. } => tag::IDS,
            ResponseBody::BlobChunk { .. } => tag::BLOB_CHUNK,
            ResponseBody::Error(_) => tag::ERROR,
            ResponseBody::ExpiredAt { .. } => tag::EXPIRED_AT,
            ResponseBody::PowRequired { .. } => tag::POW_REQUIRED,
            ResponseBody::Moved { .. } => tag::MOVED,
        });
        out.put_u64(self.request_id);
        match &self.body {
            ResponseBody::Ok => {}
            ResponseBody::Ids {
                recipient_id,
                sender_id,
            } => {
                out.put(recipient_id);
                out.put(sender_id);
            }
            ResponseBody::BlobChunk { index, data } => {
                if data.len() > BLOB_CHUNK_SIZE {
                    return Err(QueueError::OutOfRange);
                }
                out.put_u32(*index);
                out.put_u16_prefixed(data)?;
            }
            ResponseBody::Error(code) => out.put_u16(code.code()),
            ResponseBody::ExpiredAt { relay_time } => out.put_u64(*relay_time),
            ResponseBody::PowRequired { bits } => {
                if *bits > crate::pow::MAX_BITS {
                    return Err(QueueError::OutOfRange);
                }
                out.put_u8(*bits);
            }
            ResponseBody::Moved {
                new_recipient_key,
                moved_sig,
            } => {
                out.put(new_recipient_key);
                out.put(moved_sig);
            }
        }
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, QueueError> {
        let mut r = Reader::new(bytes);
        let (tag_byte, request_id) = take_header(&mut r, bytes.len())?;
        let body = match tag_byte {
            tag::OK => ResponseBody::Ok,
            tag::IDS => ResponseBody::Ids {
                recipient_id: r.extract()?,
                sender_id: r.extract()?,
            },
            tag::BLOB_CHUNK => ResponseBody::BlobChunk {
                index: r.take_u32()?,
                data: take_chunk(&mut r)?,
            },
            tag::ERROR => ResponseBody::Error(ErrorCode::from_code(r.take_u16()?)),
            tag::EXPIRED_AT => ResponseBody::ExpiredAt {
                relay_time: r.take_u64()?,
            },
            tag::POW_REQUIRED => {
                let bits = r.take_u8()?;
                if bits > crate::pow::MAX_BITS {
                    return Err(QueueError::OutOfRange);
                }
                ResponseBody::PowRequired { bits }
            }
            tag::MOVED => ResponseBody::Moved {
                new_recipient_key: r.extract()?,
                moved_sig: r.extract()?,
            },
            other => return Err(QueueError::UnknownTag(other)),
        };
        r.should_be_exhausted()?;
        Ok(Self { request_id, body })
    }
}

/// A stored message pushed by the relay through one of the subscriber's SURBs. The client acks
/// it by `message_id`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Delivery {
    pub recipient_id: QueueId,
    pub message_id: QueueMessageId,
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
        out.put_u8(PROTOCOL_VERSION);
        out.put_u8(tag::DELIVERY);
        out.put(&self.recipient_id);
        out.put(&self.message_id);
        out.put_u64(self.received_at);
        out.put_bytes(&self.body);
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, QueueError> {
        let mut r = Reader::new(bytes);
        let version = r.take_u8()?;
        if version != PROTOCOL_VERSION {
            return Err(QueueError::WrongVersion(version));
        }
        let t = r.take_u8()?;
        if t != tag::DELIVERY {
            return Err(QueueError::UnknownTag(t));
        }
        let d = Self {
            recipient_id: r.extract()?,
            message_id: r.extract()?,
            received_at: r.take_u64()?,
            body: r.take(QUEUE_MESSAGE_SIZE)?.to_vec(),
        };
        r.should_be_exhausted()?;
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
