//! The relay's protocol state machine on its own thread.
//!
//! `sotto_proto::node::RelayNode` is sans-IO and single-threaded: it peels packets, runs the
//! queue service against the store and says what to send. Each relay runs one on a dedicated
//! OS thread (the store's commits block on fsync, which must not stall the async runtime);
//! connections feed it [`NodeInput`]s through a bounded channel (a full channel pushes back on
//! the connections), and it hands its outputs to the relay's links and connections.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sotto_proto::node::{ConnId, NodeOutput, NodeStats, RelayNode};
use sotto_proto::onion::MemoryReplayCache;
use sotto_proto::service::{QueueService, ServiceConfig};
use tokio::sync::{mpsc, oneshot};

use crate::error::RelayError;
use crate::identity::Identity;
use crate::limits::Limits;
use crate::metrics::{DropReason, RelayMetrics};
use crate::relay::Relay;
use crate::store::RedbStore;

/// The store file's name inside a relay's data directory.
pub const STORE_FILE: &str = "store.redb";

/// Work for the state machine.
#[derive(Debug)]
pub enum NodeInput {
    /// A well-formed binary frame from connection `conn` (browser or relay).
    Frame { conn: ConnId, frame: Vec<u8> },
    /// Connection `conn` closed: forget the tags it bound.
    Disconnected(ConnId),
    /// Time-driven work (redelivery, TTL sweep); sent every second.
    Tick,
}

enum Control {
    Input(NodeInput),
    Stop(oneshot::Sender<()>),
}

/// A relay's handle on its state machine thread. Cheap to clone.
#[derive(Clone)]
pub struct NodeHandle {
    tx: mpsc::Sender<Control>,
    rx: Arc<Mutex<Option<mpsc::Receiver<Control>>>>,
}

/// A relay's node before its thread starts.
pub type Node = RelayNode<RedbStore, MemoryReplayCache>;

impl NodeHandle {
    /// A handle whose thread is started later by [`NodeHandle::start`].
    pub fn new(capacity: usize) -> Self {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        Self {
            tx,
            rx: Arc::new(Mutex::new(Some(rx))),
        }
    }

    /// Sends work, waiting while the channel is full. Errors once the node has stopped.
    pub async fn send(&self, input: NodeInput) -> Result<(), ()> {
        self.tx.send(Control::Input(input)).await.map_err(|_| ())
    }

    /// Sends work if there is room.
    pub fn try_send(&self, input: NodeInput) -> bool {
        self.tx.try_send(Control::Input(input)).is_ok()
    }

    /// Stops the thread after the work queued before, and waits until the store is closed.
    pub async fn stop(&self) {
        let (done_tx, done_rx) = oneshot::channel();
        if self.tx.send(Control::Stop(done_tx)).await.is_ok() {
            let _ = done_rx.await;
        }
    }

    /// Starts the state machine's thread for `relay`.
    pub fn start(&self, relay: Arc<Relay>, node: Node) -> Result<(), RelayError> {
        let rx = self
            .rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| RelayError::Config("relay node started twice".into()))?;
        let rt = tokio::runtime::Handle::current();
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| RelayError::Io {
            context: "system random number generator",
            source: std::io::Error::other(e.to_string()),
        })?;
        let rng = ChaCha20Rng::from_seed(seed);
        seed.fill(0);
        let _ = relay
            .metrics
            .store_commit
            .set(node.service().store().commit_histogram());
        std::thread::Builder::new()
            .name(format!("sotto-relay-{}", relay.name))
            .spawn(move || run(relay, node, rx, rt, rng))
            .map_err(|source| RelayError::Io {
                context: "starting a relay thread",
                source,
            })?;
        Ok(())
    }
}

/// Opens a relay's store and builds its state machine.
pub fn open_node(
    dir: &Path,
    identity: &Identity,
    service: ServiceConfig,
    limits: &Limits,
) -> Result<Node, RelayError> {
    let path = dir.join(STORE_FILE);
    let store = RedbStore::open(&path).map_err(|e| RelayError::store(&path, e))?;
    Ok(RelayNode::new(
        identity.id,
        identity.keys.clone(),
        MemoryReplayCache::new(limits.replay_cache_entries),
        QueueService::new(store, service),
    ))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn run(
    relay: Arc<Relay>,
    mut node: Node,
    mut rx: mpsc::Receiver<Control>,
    rt: tokio::runtime::Handle,
    mut rng: ChaCha20Rng,
) {
    let mut last = NodeStats::default();
    while let Some(control) = rx.blocking_recv() {
        let input = match control {
            Control::Input(i) => i,
            Control::Stop(done) => {
                drop(node);
                let _ = done.send(());
                return;
            }
        };
        let now = unix_now();
        let outputs = match input {
            NodeInput::Frame { conn, frame } => {
                let started = Instant::now();
                let out = node
                    .client_frame(conn, &frame, now, &mut rng)
                    .map_err(|e| e.reason());
                relay.metrics.process_time.observe(started.elapsed());
                out
            }
            NodeInput::Disconnected(conn) => {
                node.disconnected(conn);
                Ok(Vec::new())
            }
            NodeInput::Tick => {
                use std::sync::atomic::Ordering::Relaxed;
                let store = node.service().store();
                let before = (store.total_messages(), store.total_blob_chunks());
                let result = node.tick(now);
                let store = node.service().store();
                let m = &relay.metrics;
                // Between the two counts only the sweep removed anything.
                if let (Ok(b), Ok(a)) = (before.0, store.total_messages()) {
                    m.queue_messages_expired
                        .fetch_add(b.saturating_sub(a), Relaxed);
                }
                if let (Ok(b), Ok(a)) = (before.1, store.total_blob_chunks()) {
                    m.blob_chunks_expired
                        .fetch_add(b.saturating_sub(a), Relaxed);
                }
                update_gauges(&relay.metrics, &node);
                result.map_err(|e| {
                    tracing::warn!(relay = %relay.name, error = %e, "queue tick failed");
                    "store"
                })
            }
        };
        match outputs {
            Ok(outputs) => {
                for out in outputs {
                    match out {
                        NodeOutput::ToRelay { to, packet } => relay.send_to(&rt, to, packet),
                        NodeOutput::ToClient { conn, frame } => relay.push_to_client(conn, frame),
                    }
                }
            }
            Err(reason) => relay.metrics.drop_packet(match reason {
                "replay" => DropReason::Replay,
                "integrity" => DropReason::Integrity,
                "length" => DropReason::BadFrame,
                _ => DropReason::Malformed,
            }),
        }
        let stats = node.stats();
        record(&relay.metrics, &last, &stats);
        last = stats;
    }
}

fn update_gauges(m: &RelayMetrics, node: &Node) {
    use std::sync::atomic::Ordering::Relaxed;
    let store = node.service().store();
    if let Ok(n) = store.total_messages() {
        m.queue_messages.store(n, Relaxed);
    }
    if let Ok(n) = store.total_queues() {
        m.queues.store(n, Relaxed);
    }
    if let Ok(n) = store.total_blob_chunks() {
        m.blob_chunks.store(n, Relaxed);
    }
    m.surbs_held
        .store(node.service().surbs_held() as u64, Relaxed);
}

fn record(m: &RelayMetrics, old: &NodeStats, new: &NodeStats) {
    use std::sync::atomic::Ordering::Relaxed;
    let d = |a: u64, b: u64| b.saturating_sub(a);
    m.packets_forwarded
        .fetch_add(d(old.forwarded, new.forwarded), Relaxed);
    m.packets_delivered.fetch_add(
        d(old.delivered_to_service, new.delivered_to_service),
        Relaxed,
    );
    m.queue_refused
        .fetch_add(d(old.refused_requests, new.refused_requests), Relaxed);
    for _ in 0..d(old.dropped_unbound, new.dropped_unbound) {
        m.drop_packet(DropReason::NoClient);
    }
    for _ in 0..d(old.dropped_requests, new.dropped_requests) {
        m.drop_packet(DropReason::BadCommand);
    }
    for _ in 0..d(old.dropped_internal, new.dropped_internal) {
        m.drop_packet(DropReason::Malformed);
    }
}
