//! Per-relay counters, rendered as Prometheus text by `/metrics`.
//!
//! Counters only count; they never carry a queue id, a key or an address.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sotto_proto::node::NodeDropReason;
use sotto_proto::queue::ErrorCode;
use sotto_proto::service::Limit;

/// Upper bounds (seconds) of the latency histograms' buckets; `+Inf` is implied.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 1.0,
];

/// A Prometheus histogram of durations with the fixed [`LATENCY_BUCKETS`]; lock-free.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Per-bucket (not cumulative) counts; the last one is `+Inf`.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = LATENCY_BUCKETS
            .iter()
            .position(|le| secs <= *le)
            .unwrap_or(LATENCY_BUCKETS.len());
        if let Some(b) = self.buckets.get(i) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Sum of the observations, in seconds.
    pub fn sum_secs(&self) -> f64 {
        self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9
    }

    fn render(&self, out: &mut String, name: &str, relay: &str) {
        let mut cumulative = 0u64;
        for (i, b) in self.buckets.iter().enumerate() {
            cumulative += b.load(Ordering::Relaxed);
            let le = LATENCY_BUCKETS
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |le| le.to_string());
            let _ = writeln!(
                out,
                "{name}_bucket{{relay=\"{relay}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(out, "{name}_sum{{relay=\"{relay}\"}} {}", self.sum_secs());
        let _ = writeln!(out, "{name}_count{{relay=\"{relay}\"}} {}", self.count());
    }
}

/// Why a frame, packet or delivery was dropped. Each reason is one Prometheus label value.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// A text WebSocket frame (the protocol is binary only). The connection is closed.
    TextFrame,
    /// A binary frame that is not a well-formed client frame (wrong length, unknown tag).
    BadFrame,
    /// A frame above the hard frame-size cap. The connection is closed.
    Oversized,
    /// The packet's header did not verify under this relay's keys.
    Integrity,
    /// The packet's replay tag was already seen in this key epoch.
    Replay,
    /// The packet is malformed (bad key encoding, routing, version, destination, payload).
    Malformed,
    /// The next hop is not in this relay's directory.
    UnknownNextHop,
    /// The link to the next hop has a full queue (or is gone).
    LinkFull,
    /// A SURB reply arrived for a connection tag nobody has bound (the browser left).
    NoClient,
    /// The browser's outgoing queue was full.
    ClientSlow,
    /// The connection exceeded its rate limit.
    RateLimited,
    /// The relay is at its connection cap.
    TooManyConnections,
    /// A queue command that could not be decoded or executed.
    BadCommand,
    /// An answer held back for a group commit that failed (the client retries).
    StoreFailed,
}

impl DropReason {
    pub const ALL: [DropReason; 14] = [
        Self::TextFrame,
        Self::BadFrame,
        Self::Oversized,
        Self::Integrity,
        Self::Replay,
        Self::Malformed,
        Self::UnknownNextHop,
        Self::LinkFull,
        Self::NoClient,
        Self::ClientSlow,
        Self::RateLimited,
        Self::TooManyConnections,
        Self::BadCommand,
        Self::StoreFailed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::TextFrame => "text_frame",
            Self::BadFrame => "bad_frame",
            Self::Oversized => "oversized",
            Self::Integrity => "integrity",
            Self::Replay => "replay",
            Self::Malformed => "malformed",
            Self::UnknownNextHop => "unknown_next_hop",
            Self::LinkFull => "link_full",
            Self::NoClient => "no_client",
            Self::ClientSlow => "client_slow",
            Self::RateLimited => "rate_limited",
            Self::TooManyConnections => "too_many_connections",
            Self::BadCommand => "bad_command",
            Self::StoreFailed => "store_failed",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// How the state machine's reasons for refusing a frame are counted.
impl From<NodeDropReason> for DropReason {
    fn from(reason: NodeDropReason) -> Self {
        match reason {
            NodeDropReason::Replay => Self::Replay,
            NodeDropReason::Integrity => Self::Integrity,
            NodeDropReason::Length => Self::BadFrame,
            _ => Self::Malformed,
        }
    }
}

/// Counters and gauges for one relay.
#[derive(Debug, Default)]
pub struct RelayMetrics {
    pub connections_total: AtomicU64,
    pub connections_open: AtomicU64,
    pub packets_received: AtomicU64,
    pub packets_forwarded: AtomicU64,
    /// Packets whose payload this relay handed to its own queue service.
    pub packets_delivered: AtomicU64,
    /// SURB replies pushed down a browser's WebSocket.
    pub replies_to_client: AtomicU64,
    /// Queue requests refused with an error code (answered through their reply SURB).
    pub queue_refused: AtomicU64,
    /// Messages stored now, across queues (gauge, updated every tick).
    pub queue_messages: AtomicU64,
    /// Queues stored now (gauge, updated every tick).
    pub queues: AtomicU64,
    /// Subscription SURBs held in memory now (gauge, updated every tick).
    pub surbs_held: AtomicU64,
    pub queue_messages_expired: AtomicU64,
    /// Attachment blob chunks stored now (gauge, updated every tick).
    pub blob_chunks: AtomicU64,
    pub blob_chunks_expired: AtomicU64,
    pub link_reconnects: AtomicU64,
    /// Batches of frames the state machine processed (one store transaction each).
    pub batches: AtomicU64,
    /// The current Sphinx key epoch (gauge).
    pub key_epoch: AtomicU64,
    /// Leading zero bits the queue service asks of a Create or a new blob now (gauge; it
    /// rises under load), which the directory entry publishes as `pow_bits`.
    pub pow_bits: AtomicU64,
    /// Time the state machine spent on one input frame (peel, forward or execute a command).
    pub process_time: Histogram,
    /// Time of one group commit of the store (one batch of frames), fsync included. Set when
    /// the relay's state machine starts (the store owns the histogram).
    pub store_commit: OnceLock<Arc<Histogram>>,
    dropped: [AtomicU64; DropReason::ALL.len()],
    /// Queue requests refused with QUOTA, by the limit they would have passed.
    refused: [AtomicU64; Limit::ALL.len()],
    /// Queue requests refused, by the code they were answered with.
    refused_codes: [AtomicU64; ErrorCode::KNOWN.len()],
}

/// Adds `n` to the counter at `slot`, if there is one.
fn add(slot: Option<&AtomicU64>, n: u64) {
    if let Some(c) = slot {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

/// The counter at `slot`, 0 if there is none.
fn load(slot: Option<&AtomicU64>) -> u64 {
    slot.map_or(0, |c| c.load(Ordering::Relaxed))
}

impl RelayMetrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn drop_packet(&self, reason: DropReason) {
        add(self.dropped.get(reason.index()), 1);
    }

    /// Counts `n` requests refused because of `limit`.
    pub fn refuse(&self, limit: Limit, n: u64) {
        add(self.refused.get(limit.index()), n);
    }

    /// Counts `n` requests answered with `code`.
    pub fn refuse_with(&self, code: ErrorCode, n: u64) {
        add(code.index().and_then(|i| self.refused_codes.get(i)), n);
    }

    /// Requests answered with `code` so far.
    pub fn refused_with(&self, code: ErrorCode) -> u64 {
        load(code.index().and_then(|i| self.refused_codes.get(i)))
    }

    /// Requests refused because of `limit` so far.
    pub fn refused(&self, limit: Limit) -> u64 {
        load(self.refused.get(limit.index()))
    }

    pub fn dropped(&self, reason: DropReason) -> u64 {
        load(self.dropped.get(reason.index()))
    }
}

type Getter = fn(&RelayMetrics) -> &AtomicU64;

/// Renders the metrics of several relays, labelled with their short names (`relay="1"`).
pub fn render<'a>(relays: impl Iterator<Item = (&'a str, &'a RelayMetrics)> + Clone) -> String {
    let mut out = String::new();
    let counters: [(&str, &str, Getter); 17] = [
        (
            "sotto_relay_connections_total",
            "WebSocket connections accepted",
            |m| &m.connections_total,
        ),
        (
            "sotto_relay_connections_open",
            "WebSocket connections open now (gauge)",
            |m| &m.connections_open,
        ),
        (
            "sotto_relay_packets_received_total",
            "Onion packets received",
            |m| &m.packets_received,
        ),
        (
            "sotto_relay_packets_forwarded_total",
            "Onion packets forwarded to the next relay",
            |m| &m.packets_forwarded,
        ),
        (
            "sotto_relay_packets_delivered_total",
            "Onion packets delivered to this relay's queue service",
            |m| &m.packets_delivered,
        ),
        (
            "sotto_relay_replies_to_client_total",
            "SURB replies pushed to a browser",
            |m| &m.replies_to_client,
        ),
        (
            "sotto_relay_queue_refused_total",
            "Queue requests refused with an error code",
            |m| &m.queue_refused,
        ),
        (
            "sotto_relay_queue_messages",
            "Messages stored now (gauge)",
            |m| &m.queue_messages,
        ),
        ("sotto_relay_queues", "Queues stored now (gauge)", |m| {
            &m.queues
        }),
        (
            "sotto_relay_surbs_held",
            "Subscription reply blocks held now (gauge)",
            |m| &m.surbs_held,
        ),
        (
            "sotto_relay_queue_messages_expired_total",
            "Queue messages removed by the TTL sweeper",
            |m| &m.queue_messages_expired,
        ),
        (
            "sotto_relay_blob_chunks",
            "Attachment blob chunks stored now (gauge)",
            |m| &m.blob_chunks,
        ),
        (
            "sotto_relay_blob_chunks_expired_total",
            "Attachment blob chunks removed by the TTL sweeper",
            |m| &m.blob_chunks_expired,
        ),
        (
            "sotto_relay_link_reconnects_total",
            "Relay-to-relay link (re)connections",
            |m| &m.link_reconnects,
        ),
        (
            "sotto_relay_batches_total",
            "Batches of frames the state machine processed (one group commit each)",
            |m| &m.batches,
        ),
        (
            "sotto_relay_key_epoch",
            "Current Sphinx key epoch (gauge)",
            |m| &m.key_epoch,
        ),
        (
            "sotto_relay_pow_bits",
            "Proof-of-work bits asked of a queue creation or a new blob now (gauge)",
            |m| &m.pow_bits,
        ),
    ];
    for (name, help, get) in counters {
        let kind = if !name.ends_with("_total") {
            "gauge"
        } else {
            "counter"
        };
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (relay, m) in relays.clone() {
            let _ = writeln!(
                out,
                "{name}{{relay=\"{relay}\"}} {}",
                get(m).load(Ordering::Relaxed)
            );
        }
    }
    let name = "sotto_relay_process_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Time the relay's state machine spent on one input frame\n# TYPE {name} histogram"
    );
    for (relay, m) in relays.clone() {
        m.process_time.render(&mut out, name, relay);
    }
    let name = "sotto_relay_store_commit_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Time of one group commit of the queue store (a batch of frames), fsync included\n# TYPE {name} histogram"
    );
    for (relay, m) in relays.clone() {
        if let Some(h) = m.store_commit.get() {
            h.render(&mut out, name, relay);
        } else {
            Histogram::default().render(&mut out, name, relay);
        }
    }
    labelled(
        &mut out,
        relays.clone(),
        (
            "sotto_relay_dropped_total",
            "Frames, packets or deliveries dropped, by reason",
        ),
        DropReason::ALL.map(|r| (r.label(), move |m: &RelayMetrics| m.dropped(r))),
        "reason",
    );
    labelled(
        &mut out,
        relays.clone(),
        (
            "sotto_relay_queue_refused_by_code_total",
            "Queue requests refused, by the error code of the answer",
        ),
        ErrorCode::KNOWN.map(|c| (c.label(), move |m: &RelayMetrics| m.refused_with(c))),
        "code",
    );
    labelled(
        &mut out,
        relays,
        (
            "sotto_relay_refused_total",
            "Queue requests refused with QUOTA, by the limit they would have passed",
        ),
        Limit::ALL.map(|l| (l.label(), move |m: &RelayMetrics| m.refused(l))),
        "reason",
    );
    out
}

/// Writes one counter family with a label: its HELP and TYPE lines, then for every relay one
/// line per `(label value, read)` in `series`, labelled `key="value"`.
fn labelled<'a, F: Fn(&RelayMetrics) -> u64, const N: usize>(
    out: &mut String,
    relays: impl Iterator<Item = (&'a str, &'a RelayMetrics)>,
    (name, help): (&str, &str),
    series: [(&str, F); N],
    key: &str,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (relay, m) in relays {
        for (value, read) in &series {
            let _ = writeln!(
                out,
                "{name}{{relay=\"{relay}\",{key}=\"{value}\"}} {}",
                read(m)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_render_cumulative_buckets_sum_and_count() {
        let m = RelayMetrics::default();
        m.process_time.observe(Duration::from_micros(30));
        m.process_time.observe(Duration::from_millis(3));
        m.process_time.observe(Duration::from_secs(5));
        let h = Arc::new(Histogram::default());
        h.observe(Duration::from_micros(700));
        m.store_commit.set(h).unwrap();
        m.refuse(Limit::Surbs, 3);
        m.refuse_with(ErrorCode::Pow, 2);
        m.refuse_with(ErrorCode::Unknown(99), 5);
        m.drop_packet(DropReason::Replay);
        m.pow_bits.store(18, Ordering::Relaxed);
        let text = render([("1", &m)].into_iter());
        for line in [
            "# TYPE sotto_relay_process_seconds histogram",
            "sotto_relay_process_seconds_bucket{relay=\"1\",le=\"0.000025\"} 0",
            "sotto_relay_process_seconds_bucket{relay=\"1\",le=\"0.00005\"} 1",
            "sotto_relay_process_seconds_bucket{relay=\"1\",le=\"0.005\"} 2",
            "sotto_relay_process_seconds_bucket{relay=\"1\",le=\"1\"} 2",
            "sotto_relay_process_seconds_bucket{relay=\"1\",le=\"+Inf\"} 3",
            "sotto_relay_process_seconds_count{relay=\"1\"} 3",
            "sotto_relay_store_commit_seconds_bucket{relay=\"1\",le=\"0.001\"} 1",
            "sotto_relay_store_commit_seconds_count{relay=\"1\"} 1",
            "# TYPE sotto_relay_refused_total counter",
            "sotto_relay_refused_total{relay=\"1\",reason=\"surbs\"} 3",
            "sotto_relay_refused_total{relay=\"1\",reason=\"queues\"} 0",
            "# TYPE sotto_relay_queue_refused_by_code_total counter",
            "sotto_relay_queue_refused_by_code_total{relay=\"1\",code=\"pow\"} 2",
            "sotto_relay_queue_refused_by_code_total{relay=\"1\",code=\"auth\"} 0",
            "# TYPE sotto_relay_dropped_total counter",
            "sotto_relay_dropped_total{relay=\"1\",reason=\"replay\"} 1",
            "sotto_relay_refused_total{relay=\"1\",reason=\"spent\"} 0",
            "# TYPE sotto_relay_pow_bits gauge",
            "sotto_relay_pow_bits{relay=\"1\"} 18",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
        let sum = text
            .lines()
            .find_map(|l| l.strip_prefix("sotto_relay_process_seconds_sum{relay=\"1\"} "))
            .unwrap();
        assert!((sum.parse::<f64>().unwrap() - 5.00303).abs() < 1e-6);
    }
}
