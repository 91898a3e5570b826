//! What became of a request: [`Outcome`], [`Handled`], and the [`Limit`] a refused one hit.

use super::Outgoing;
use crate::queue::ErrorCode;

/// A limit a request would have passed. Answered [`ErrorCode::Quota`] on the wire; the relay
/// counts each in its metrics under [`Limit::label`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// The queue holds [`super::ServiceConfig::queue_quota`] messages.
    QueueMessages,
    /// The relay holds [`super::ServiceConfig::max_queues`] queues.
    Queues,
    /// The relay stores [`super::ServiceConfig::max_messages`] messages.
    Messages,
    /// The message would take the relay past [`super::ServiceConfig::max_message_bytes`].
    MessageBytes,
    /// The blob has [`super::ServiceConfig::max_blob_chunks`] chunks.
    BlobChunksPerBlob,
    /// The relay stores [`super::ServiceConfig::max_blob_chunks_total`] blob chunks.
    BlobChunks,
    /// More SURBs than [`super::ServiceConfig::max_surbs_per_queue`] for one queue.
    QueueSurbs,
    /// The relay holds [`super::ServiceConfig::max_surbs`] SURBs.
    Surbs,
    /// The relay remembers [`super::ServiceConfig::max_spent`] spent Create challenges: new
    /// work cannot be admitted until older ones leave the window.
    Spent,
}

impl Limit {
    /// Every limit, in a fixed order (for metrics).
    pub const ALL: [Limit; 9] = [
        Self::QueueMessages,
        Self::Queues,
        Self::Messages,
        Self::MessageBytes,
        Self::BlobChunksPerBlob,
        Self::BlobChunks,
        Self::QueueSurbs,
        Self::Surbs,
        Self::Spent,
    ];

    /// The limit's name as a Prometheus label value (`"queues"`, `"surbs"`, …).
    pub fn label(self) -> &'static str {
        match self {
            Self::QueueMessages => "queue_messages",
            Self::Queues => "queues",
            Self::Messages => "messages",
            Self::MessageBytes => "message_bytes",
            Self::BlobChunksPerBlob => "blob_chunks_per_blob",
            Self::BlobChunks => "blob_chunks",
            Self::QueueSurbs => "queue_surbs",
            Self::Surbs => "surbs",
            Self::Spent => "spent",
        }
    }

    /// The limit's position in [`Limit::ALL`].
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|l| *l == self).unwrap_or(0)
    }
}

/// What became of one request; the relay counts these in its metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done; the answer is among the outgoing packets.
    Ok,
    /// Refused with this code; the error answer is among the outgoing packets.
    Refused(ErrorCode),
    /// Refused with [`ErrorCode::Quota`] because the request would have passed this limit;
    /// nothing changed. The error answer is among the outgoing packets.
    Full(Limit),
    /// Not a request we can answer (undecodable: no reply SURB to answer through). Dropped.
    Dropped,
}

/// The result of [`super::QueueService::handle`] and [`super::QueueService::tick`].
#[derive(Debug)]
pub struct Handled {
    pub outcome: Outcome,
    pub outgoing: Vec<Outgoing>,
    /// A limit that kept part of a request that succeeded out: the SURBs of an Ack beyond the
    /// queue's or the relay's limit, which are not kept. `None` for refusals (see
    /// [`Outcome::Full`]).
    pub limited: Option<Limit>,
}
