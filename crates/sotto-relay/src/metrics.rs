//! Per-relay counters, rendered as Prometheus text by `/metrics`.
//!
//! Counters only count; they never carry a queue id, a key or an address.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

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
}

impl DropReason {
    pub const ALL: [DropReason; 13] = [
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
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|r| *r == self).unwrap_or(0)
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
    pub link_reconnects: AtomicU64,
    dropped: [AtomicU64; DropReason::ALL.len()],
}

impl RelayMetrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn drop_packet(&self, reason: DropReason) {
        if let Some(c) = self.dropped.get(reason.index()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped
            .get(reason.index())
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

type Getter = fn(&RelayMetrics) -> &AtomicU64;

/// Renders the metrics of several relays, labelled with their short names (`relay="1"`).
pub fn render<'a>(relays: impl Iterator<Item = (&'a str, &'a RelayMetrics)> + Clone) -> String {
    let mut out = String::new();
    let counters: [(&str, &str, Getter); 12] = [
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
            "Queue messages and blobs removed by the TTL sweeper",
            |m| &m.queue_messages_expired,
        ),
        (
            "sotto_relay_link_reconnects_total",
            "Relay-to-relay link (re)connections",
            |m| &m.link_reconnects,
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
    let name = "sotto_relay_dropped_total";
    let _ = writeln!(
        out,
        "# HELP {name} Frames, packets or deliveries dropped, by reason\n# TYPE {name} counter"
    );
    for (relay, m) in relays {
        for reason in DropReason::ALL {
            let _ = writeln!(
                out,
                "{name}{{relay=\"{relay}\",reason=\"{}\"}} {}",
                reason.label(),
                m.dropped(reason)
            );
        }
    }
    out
}
