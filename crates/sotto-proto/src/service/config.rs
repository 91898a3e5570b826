//! [`ServiceConfig`]: the limits and admission settings of one relay's queue service.

/// Limits of one relay's queue service. All are per relay and configurable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceConfig {
    /// Messages a queue may hold (SimpleX holds 128).
    pub queue_quota: usize,
    /// Seconds a message is kept when nobody acknowledges it (21 days).
    pub message_ttl: u64,
    /// Seconds a blob chunk is kept (48 hours).
    pub blob_ttl: u64,
    /// Chunks one blob may have.
    pub max_blob_chunks: u32,
    /// SURBs held per queue; more are refused with [`ErrorCode::Quota`](crate::queue::ErrorCode::Quota).
    pub max_surbs_per_queue: usize,
    /// Leading zero bits the proof of work of a Create, and of a BlobPut starting a new blob,
    /// must have when the relay is not under load: the floor of the difficulty (see
    /// "Admission"; the current value, [`QueueService::pow_bits`](super::QueueService::pow_bits), is what the directory
    /// publishes as `pow_bits`).
    pub pow_bits: u8,
    /// The most leading zero bits the difficulty rises to under load (at most
    /// [`crate::pow::MAX_BITS`]; below `pow_bits` means `pow_bits`).
    pub max_pow_bits: u8,
    /// Paid admissions (Creates, new blobs) per [`ServiceConfig::admission_window`] above
    /// which the difficulty rises; `0` keeps it at `pow_bits`.
    pub admission_rate: u64,
    /// Seconds of one window over which admissions are counted (at least 1).
    pub admission_window: u64,
    /// Spent Create challenges remembered at most (about 80 bytes each); new work beyond it
    /// is refused ([`Limit::Spent`](super::Limit::Spent)).
    pub max_spent: usize,
    /// How far a Create's timestamp may be from the relay's clock, in seconds.
    pub max_clock_skew: u64,
    /// Seconds after which an unacknowledged delivery is sent again.
    pub redeliver_after: u64,
    /// Seconds a subscription SURB is held before it is dropped unused. Longer than the
    /// clients' renewal interval (`ClientConfig::resubscribe_every`, 60 s), so a recipient that
    /// stays online always has fresh SURBs at its relay.
    pub surb_ttl: u64,
    /// Queues the relay holds in all; a Create beyond it is refused ([`Limit::Queues`](super::Limit::Queues)).
    pub max_queues: u64,
    /// Messages the relay stores in all queues together ([`Limit::Messages`](super::Limit::Messages)).
    pub max_messages: u64,
    /// Bytes of message bodies the relay stores in all ([`Limit::MessageBytes`](super::Limit::MessageBytes)).
    pub max_message_bytes: u64,
    /// Blob chunks (at most 3584 bytes each) the relay stores in all ([`Limit::BlobChunks`](super::Limit::BlobChunks)).
    pub max_blob_chunks_total: u64,
    /// Subscription SURBs (about 400 bytes each) the relay holds in memory in all queues
    /// together ([`Limit::Surbs`](super::Limit::Surbs)).
    pub max_surbs: usize,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            queue_quota: 1024,
            message_ttl: 21 * 24 * 3600,
            blob_ttl: 48 * 3600,
            max_blob_chunks: 4096,
            max_surbs_per_queue: 64,
            pow_bits: 16,
            max_pow_bits: 24,
            admission_rate: 600,
            admission_window: 60,
            max_spent: 250_000,
            max_clock_skew: 600,
            redeliver_after: 30,
            surb_ttl: 120,
            max_queues: 1_000_000,
            max_messages: 1_000_000,
            max_message_bytes: 4 << 30,
            max_blob_chunks_total: 500_000,
            max_surbs: 250_000,
        }
    }
}
