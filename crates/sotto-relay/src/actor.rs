//! The relay's protocol state machine on its own thread.
//!
//! `sotto_proto::node::RelayNode` is sans-IO and single-threaded: it peels packets, runs the
//! queue service against the store and says what to send. Each relay runs one on a dedicated
//! OS thread (the store's commits block on fsync, which must not stall the async runtime);
//! connections feed it [`NodeInput`]s through a bounded channel (a full channel pushes back on
//! the connections), and it hands its outputs to a [`NodeOutputs`] (the relay, which owns the
//! links and connections; this module does not know the relay).
//!
//! **Group commit.** The thread takes what is queued (up to [`MAX_BATCH`] inputs) as one
//! batch: one redb write transaction for the queue store and one for the replay cache. An
//! input's outputs go out at once unless it used the store after the batch wrote something
//! (a Send's answer, an Ack's, …): those are held until the batch's commit (one fsync)
//! returned, so no answer that depends on a write leaves the relay before the write is on
//! disk. Deliveries ([`NodeOutput::is_delivery`]) never wait: they carry only messages the
//! batch accepted, and if the commit is lost (a crash, a failed commit) the sender, who got no
//! answer, sends again and the recipient drops the duplicate (docs/PROTOCOL.md §4
//! "Durability"). Packets that only pass through (forwarding, gateway pushes) do not wait for
//! the disk. The replay cache commits without a sync per batch and with one on
//! every tick (each second) and on shutdown (see [`crate::replay`]).
//!
//! **Keys.** On every tick the thread rotates the Sphinx key when its epoch is over and retires
//! the previous key when its overlap is over ([`Identity::maintain`]), drops the retired
//! epochs' replay tags, and publishes the new keys in the relay's directory entry.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sotto_proto::ids::RelayId;
use sotto_proto::node::{ConnId, NodeOutput, NodeStats, RelayNode};
use sotto_proto::onion::{ClientFrame, Packet};
use sotto_proto::queue::ErrorCode;
use sotto_proto::service::{Limit, QueueService, ServiceConfig};
use tokio::sync::{mpsc, oneshot};

use crate::error::RelayError;
use crate::identity::{Identity, KeyPolicy, PublishedKeys};
use crate::metrics::{DropReason, RelayMetrics};
use crate::replay::{REPLAY_FILE, RedbReplayCache};
use crate::store::RedbStore;

/// The store file's name inside a relay's data directory.
pub const STORE_FILE: &str = "store.redb";

/// At most this many inputs go into one batch (one group commit).
pub const MAX_BATCH: usize = 512;

/// Where the state machine's outputs go. The relay implements it; the actor calls it from its
/// own thread (hence `rt`, the runtime to spawn on).
pub trait NodeOutputs: Send + Sync + 'static {
    /// A short local name for logs (`"1"`, `"2"`, …).
    fn name(&self) -> &str;
    /// The relay's counters, which the actor updates.
    fn metrics(&self) -> &RelayMetrics;
    /// Sends `packet` to relay `to` (over a link, opened on `rt` if need be), or drops it and
    /// counts the drop.
    fn send_to(self: &Arc<Self>, rt: &tokio::runtime::Handle, to: RelayId, packet: Packet);
    /// Pushes an encoded gateway frame down client connection `conn`, or counts the drop.
    fn push_to_client(&self, conn: ConnId, frame: Vec<u8>);
    /// Publishes the relay's keys after a rotation or retirement.
    fn publish_keys(&self, keys: PublishedKeys);
}

/// Work for the state machine.
#[derive(Debug)]
pub enum NodeInput {
    /// A client frame from connection `conn` (browser or relay), decoded once by the
    /// connection loop.
    Frame { conn: ConnId, frame: ClientFrame },
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
pub type Node = RelayNode<RedbStore, RedbReplayCache>;

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

    /// Starts the state machine's thread, sending its outputs to `relay`; it owns `identity`
    /// from now on and rotates its keys under `policy`.
    pub fn start<O: NodeOutputs>(
        &self,
        relay: Arc<O>,
        node: Node,
        identity: Identity,
        policy: KeyPolicy,
    ) -> Result<(), RelayError> {
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
            .metrics()
            .store_commit
            .set(node.service().store().commit_histogram());
        std::thread::Builder::new()
            .name(format!("sotto-relay-{}", relay.name()))
            .spawn(move || {
                let mut actor = Actor {
                    relay,
                    node,
                    identity,
                    policy,
                    rt,
                    rng,
                    last: NodeStats::default(),
                    held: Vec::new(),
                };
                let done = actor.run(rx);
                // The store and the replay cache close here, before `stop` returns.
                drop(actor);
                if let Some(done) = done {
                    let _ = done.send(());
                }
            })
            .map_err(|source| RelayError::Io {
                context: "starting a relay thread",
                source,
            })?;
        Ok(())
    }
}

/// Loads (or creates) a relay's identity in `dir` and brings its keys up to date: a relay that
/// was down past its rotation time rotates before it publishes anything.
pub fn load_identity(dir: &Path, policy: &KeyPolicy) -> Result<Identity, RelayError> {
    let now = unix_now();
    let mut identity = Identity::load_or_create(dir, now)?;
    identity.maintain(now, policy)?;
    Ok(identity)
}

/// Opens a relay's store and replay cache and builds its state machine.
pub fn open_node(
    dir: &Path,
    identity: &Identity,
    service: ServiceConfig,
) -> Result<Node, RelayError> {
    let path = dir.join(STORE_FILE);
    let store = RedbStore::open(&path).map_err(|e| RelayError::store(&path, e))?;
    let replay_path = dir.join(REPLAY_FILE);
    let replay = RedbReplayCache::open(&replay_path, &identity.epochs())
        .map_err(|e| RelayError::store(&replay_path, e))?;
    Ok(RelayNode::new(
        identity.id,
        identity.keys.clone(),
        replay,
        QueueService::new(store, service),
    ))
}

/// Unix time in seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

struct Actor<O: NodeOutputs> {
    relay: Arc<O>,
    node: Node,
    identity: Identity,
    policy: KeyPolicy,
    rt: tokio::runtime::Handle,
    rng: ChaCha20Rng,
    last: NodeStats,
    /// Outputs waiting for the batch's commit.
    held: Vec<NodeOutput>,
}

impl<O: NodeOutputs> Actor<O> {
    /// Runs until stopped; returns the stopper's completion signal.
    fn run(&mut self, mut rx: mpsc::Receiver<Control>) -> Option<oneshot::Sender<()>> {
        while let Some(first) = rx.blocking_recv() {
            if let Err(e) = self.node.service_mut().store_mut().begin_batch() {
                // Without a batch every write commits (and syncs) on its own: still correct.
                tracing::warn!(relay = %self.relay.name(), error = %e, "cannot open a batch");
            }
            if let Err(e) = self.node.replay_mut().begin_batch() {
                tracing::warn!(relay = %self.relay.name(), error = %e, "cannot open a replay batch");
            }
            let mut next = Some(first);
            let mut taken = 0;
            let mut sync_replay = false;
            let mut stop = None;
            while let Some(control) = next.take() {
                match control {
                    Control::Input(NodeInput::Tick) => {
                        sync_replay = true;
                        self.input(NodeInput::Tick);
                    }
                    Control::Input(input) => self.input(input),
                    Control::Stop(done) => {
                        sync_replay = true;
                        stop = Some(done);
                        break;
                    }
                }
                taken += 1;
                if taken < MAX_BATCH {
                    next = rx.try_recv().ok();
                }
            }
            self.commit(sync_replay);
            if stop.is_some() {
                return stop;
            }
        }
        // Every handle is gone: flush what is left.
        self.commit(true);
        None
    }

    /// Ends the batch: commits the replay tags (synced if `sync_replay`) and the queue store,
    /// then sends what waited for the commit (or drops it if the commit failed).
    fn commit(&mut self, sync_replay: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        if let Err(e) = self.node.replay_mut().commit_batch(sync_replay) {
            tracing::warn!(relay = %self.relay.name(), error = %e, "replay cache commit failed");
        }
        let held = std::mem::take(&mut self.held);
        match self.node.service_mut().store_mut().commit_batch() {
            Ok(_) => self.dispatch(held),
            Err(e) => {
                tracing::warn!(relay = %self.relay.name(), error = %e, "store commit failed");
                for _ in &held {
                    self.relay.metrics().drop_packet(DropReason::StoreFailed);
                }
            }
        }
        self.relay.metrics().batches.fetch_add(1, Relaxed);
        let stats = self.node.stats();
        record(self.relay.metrics(), &self.last, &stats);
        self.last = stats;
    }

    fn dispatch(&self, outputs: Vec<NodeOutput>) {
        for out in outputs {
            match out {
                NodeOutput::ToRelay { to, packet, .. } => self.relay.send_to(&self.rt, to, packet),
                NodeOutput::ToClient { conn, frame, .. } => {
                    self.relay.push_to_client(conn, frame);
                }
            }
        }
    }

    fn input(&mut self, input: NodeInput) {
        let now = unix_now();
        let calls = self.node.service().store().calls();
        let outputs = match input {
            NodeInput::Frame { conn, frame } => {
                let started = Instant::now();
                let out = self
                    .node
                    .decoded_client_frame(conn, frame, now, &mut self.rng)
                    .map_err(|e| DropReason::from(e.drop_reason()));
                self.relay.metrics().process_time.observe(started.elapsed());
                out
            }
            NodeInput::Disconnected(conn) => {
                self.node.disconnected(conn);
                Ok(Vec::new())
            }
            NodeInput::Tick => self.tick(now),
        };
        match outputs {
            Ok(outputs) => {
                let used = self.node.service().store().calls() != calls;
                self.emit(outputs, used);
            }
            Err(reason) => self.relay.metrics().drop_packet(reason),
        }
    }

    /// Sends an input's outputs, or holds them for the batch's commit: those of an input that
    /// `used_store` after this batch wrote to it wait, except deliveries, which carry only
    /// messages the store accepted (see the module's "Group commit").
    fn emit(&mut self, outputs: Vec<NodeOutput>, used_store: bool) {
        if used_store && self.node.service().store().batch_dirty() {
            let (now, later) = outputs.into_iter().partition(NodeOutput::is_delivery);
            self.held.extend(later);
            self.dispatch(now);
        } else {
            self.dispatch(outputs);
        }
    }

    /// Keys, the queue service's timers and the gauges. A failed tick is counted as a
    /// `malformed` drop, as it always was.
    fn tick(&mut self, now: u64) -> Result<Vec<NodeOutput>, DropReason> {
        use std::sync::atomic::Ordering::Relaxed;
        self.maintain_keys(now);
        let store = self.node.service().store();
        let before = (store.total_messages(), store.total_blob_chunks());
        let result = self.node.tick(now);
        let store = self.node.service().store();
        let m = self.relay.metrics();
        // Between the two counts only the sweep removed anything.
        if let (Ok(b), Ok(a)) = (before.0, store.total_messages()) {
            m.queue_messages_expired
                .fetch_add(b.saturating_sub(a), Relaxed);
        }
        if let (Ok(b), Ok(a)) = (before.1, store.total_blob_chunks()) {
            m.blob_chunks_expired
                .fetch_add(b.saturating_sub(a), Relaxed);
        }
        update_gauges(self.relay.metrics(), &self.node);
        result.map_err(|e| {
            tracing::warn!(relay = %self.relay.name(), error = %e, "queue tick failed");
            DropReason::Malformed
        })
    }

    /// Rotates and retires keys when due; publishes the result.
    fn maintain_keys(&mut self, now: u64) {
        let change = match self.identity.maintain(now, &self.policy) {
            Ok(change) => change,
            Err(e) => {
                // The old keys stay in use; the next tick tries again.
                tracing::warn!(relay = %self.relay.name(), error = %e, "key rotation failed");
                return;
            }
        };
        if change.is_empty() {
            return;
        }
        *self.node.keys_mut() = self.identity.keys.clone();
        if let Some(epoch) = change.rotated_to {
            tracing::info!(relay = %self.relay.name(), epoch, "sphinx key rotated");
        }
        if !change.retired.is_empty() {
            let keep = self.identity.epochs();
            let replay = self.node.replay_mut();
            if let Err(e) = replay
                .retain_epochs(&keep)
                .and_then(|()| replay.begin_batch())
            {
                tracing::warn!(relay = %self.relay.name(), error = %e, "dropping old replay tags failed");
            }
        }
        self.relay
            .publish_keys(self.identity.published(&self.policy));
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
    m.pow_bits
        .store(u64::from(node.service().pow_bits()), Relaxed);
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
    for limit in Limit::ALL {
        let i = limit.index();
        if let (Some(a), Some(b)) = (old.refused_full.get(i), new.refused_full.get(i)) {
            m.refuse(limit, d(*a, *b));
        }
    }
    for (code, (a, b)) in ErrorCode::KNOWN
        .into_iter()
        .zip(old.refused_codes.iter().zip(&new.refused_codes))
    {
        m.refuse_with(code, d(*a, *b));
    }
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

#[cfg(test)]
#[path = "actor_tests.rs"]
mod tests;
