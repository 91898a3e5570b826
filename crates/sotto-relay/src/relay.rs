//! One relay: its WebSocket listener, the per-connection loop, onion processing, forwarding
//! over relay-to-relay links, and gateway delivery of SURB replies to bound browsers.
//!
//! Every connection (a browser or another relay) speaks the same framing: each binary
//! WebSocket message is one [`ClientFrame`] (`0x01 || packet` or `0x02 || conn tag`), and the
//! relay answers only with [`GatewayFrame`](sotto_proto::onion::GatewayFrame)s (binary) and, for framing mistakes, text error
//! frames (`{"error":"…","message":"…"}`). The wire details are in `docs/protocol/relay.md`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use sotto_proto::directory::{PreviousKey, RelayDescriptor, SignedDescriptor};
use sotto_proto::ids::RelayId;
use sotto_proto::keys::AuthKeyPair;
use sotto_proto::node::ConnId;
use sotto_proto::onion::{ClientFrame, OnionError, Packet};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::actor::{Node, NodeHandle, NodeInput, NodeOutputs};

use crate::error::RelayError;
use crate::identity::{Identity, KeyPolicy, PublishedKeys};
use crate::limits::{Limits, TokenBucket};
use crate::link::{self, LinkOwner};
use crate::metrics::{DropReason, RelayMetrics};
pub use crate::shutdown::stopped;

/// What a relay is, before it runs.
#[derive(Clone, Debug)]
pub struct RelayInfo {
    /// A short local name for logs and metrics labels (`"1"`, `"2"`, …). Not secret, not the id.
    pub name: String,
    pub id: RelayId,
    /// The URL the directory publishes for this relay.
    pub url: String,
    pub keys: PublishedKeys,
    /// The queue service's proof-of-work bits at start (its floor), published in the
    /// directory until the service says otherwise (the `sotto_relay_pow_bits` gauge).
    pub pow_bits: u8,
    /// The relay's Ed25519 identity key: it signs the relay's descriptor.
    pub signing_key: AuthKeyPair,
}

type ClientTx = mpsc::Sender<Message>;

/// How long a WebSocket opening handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// The relay pings every connection this often…
const PING_EVERY: Duration = Duration::from_secs(20);
/// …and closes one from which nothing (not even a pong) arrived for this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(65);

/// One running relay.
pub struct Relay {
    /// A short local name for logs and metrics labels (`"1"`, `"2"`, …). Not secret, not the id.
    pub name: String,
    pub id: RelayId,
    pub url: String,
    pub local_addr: SocketAddr,
    keys: RwLock<PublishedKeys>,
    signing_key: AuthKeyPair,
    /// The last signed descriptor (signed again only when the entry changes).
    signed: Mutex<Option<SignedDescriptor>>,
    pub metrics: RelayMetrics,
    pub limits: Limits,
    peers: RwLock<HashMap<RelayId, RelayDescriptor>>,
    links: Mutex<HashMap<RelayId, mpsc::Sender<Packet>>>,
    conns: Mutex<HashMap<ConnId, ClientTx>>,
    node: NodeHandle,
    alive: AtomicBool,
    open_connections: AtomicUsize,
    pending_handshakes: AtomicUsize,
    next_conn_id: AtomicU64,
    shutdown: watch::Receiver<bool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Binds a TCP listener (a relay's, its HTTP side's, an authority's); [`RelayError::Bind`]
/// names the address if that fails.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, RelayError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| RelayError::Bind { addr, source })
}

impl Relay {
    /// A relay with its own node handle (a queue of `limits.node_queue`), its node actor
    /// started on `node` with its identity and key policy: what `run` and `dev` do for each
    /// relay they serve.
    pub fn start(
        info: RelayInfo,
        local_addr: SocketAddr,
        limits: &Limits,
        shutdown: watch::Receiver<bool>,
        (node, identity, policy): (Node, Identity, KeyPolicy),
    ) -> Result<Arc<Self>, RelayError> {
        let handle = NodeHandle::new(limits.node_queue);
        let relay = Self::new(info, local_addr, limits.clone(), handle, shutdown);
        relay.node().start(relay.clone(), node, identity, policy)?;
        Ok(relay)
    }

    pub fn new(
        info: RelayInfo,
        local_addr: SocketAddr,
        limits: Limits,
        node: NodeHandle,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Self> {
        Arc::new(Self {
            name: info.name,
            id: info.id,
            url: info.url,
            local_addr,
            metrics: {
                let m = RelayMetrics::default();
                m.pow_bits
                    .store(u64::from(info.pow_bits), Ordering::Relaxed);
                m.key_epoch
                    .store(u64::from(info.keys.key_epoch), Ordering::Relaxed);
                m
            },
            keys: RwLock::new(info.keys),
            signing_key: info.signing_key,
            signed: Mutex::new(None),
            limits,
            peers: RwLock::new(HashMap::new()),
            links: Mutex::new(HashMap::new()),
            conns: Mutex::new(HashMap::new()),
            node,
            alive: AtomicBool::new(false),
            open_connections: AtomicUsize::new(0),
            pending_handshakes: AtomicUsize::new(0),
            next_conn_id: AtomicU64::new(1),
            shutdown,
        })
    }

    /// This relay's directory entry (its keys as of now).
    pub fn entry(&self) -> RelayDescriptor {
        let keys = self.published_keys();
        RelayDescriptor {
            id: self.id,
            url: self.url.clone(),
            sphinx_key: keys.sphinx_key,
            key_epoch: keys.key_epoch,
            key_rotates_at: Some(keys.rotates_at),
            previous_key: keys
                .previous
                .map(|(sphinx_key, key_epoch, valid_until)| PreviousKey {
                    sphinx_key,
                    key_epoch,
                    valid_until,
                }),
            pow_bits: Some(self.pow_bits()),
        }
    }

    /// This relay's entry signed with its identity key at `now` (Unix seconds): the last
    /// one while the entry is the same, a new one when it changed (a key rotation).
    pub fn signed_entry(&self, now: u64) -> SignedDescriptor {
        let entry = self.entry();
        let mut signed = lock(&self.signed);
        match &*signed {
            Some(d) if d.relay == entry => d.clone(),
            _ => {
                let d = SignedDescriptor::sign(entry, &self.signing_key, now);
                *signed = Some(d.clone());
                d
            }
        }
    }

    /// The difficulty the queue service asks for now (it rises under load; updated every
    /// tick), which the directory entry publishes as `pow_bits`.
    pub fn pow_bits(&self) -> u8 {
        u8::try_from(self.metrics.pow_bits.load(Ordering::Relaxed)).unwrap_or(u8::MAX)
    }

    /// The keys this relay publishes now.
    pub fn published_keys(&self) -> PublishedKeys {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the relays this one can forward to.
    pub fn set_directory(&self, entries: &[RelayDescriptor]) {
        let mut peers = self.peers.write().unwrap_or_else(|p| p.into_inner());
        peers.clear();
        for e in entries {
            peers.insert(e.id, e.clone());
        }
    }

    /// Whether the relay serves its listener ([`Relay::serve`] was called and has not ended).
    pub fn is_accepting(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    /// A real liveness check: the accept loop runs and a loopback TCP connect succeeds within
    /// two seconds (generous: a loaded 2-core machine can starve the runtime for a moment).
    pub async fn probe(&self) -> bool {
        if !self.is_accepting() {
            return false;
        }
        matches!(
            tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(self.local_addr)).await,
            Ok(Ok(_))
        )
    }

    /// The handle of this relay's protocol state machine.
    pub fn node(&self) -> &NodeHandle {
        &self.node
    }

    /// Accepts connections on `listener` (bound already) until shutdown, then closes them
    /// (1001 going away); the future returns then. The relay counts as accepting
    /// ([`Relay::is_accepting`]) from this call on, not from the future's first poll: the
    /// listener queues connections meanwhile, and a health check right after start (the
    /// runtime may not have polled the spawned task yet on a loaded machine) must not fail.
    pub fn serve(
        self: Arc<Self>,
        listener: TcpListener,
    ) -> impl std::future::Future<Output = ()> + Send {
        self.alive.store(true, Ordering::Release);
        self.accept_loop(listener)
    }

    async fn accept_loop(self: Arc<Self>, listener: TcpListener) {
        let mut shutdown = self.shutdown.clone();
        let mut conns = JoinSet::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stopped(&mut shutdown) => break,
                _ = tick.tick() => {
                    // Skipped when the node is busy: the next tick does the work.
                    let _ = self.node.try_send(NodeInput::Tick);
                }
                accepted = listener.accept() => match accepted {
                    Ok((stream, _peer)) => {
                        // The peer address is deliberately not kept or logged.
                        let relay = self.clone();
                        conns.spawn(async move { relay.connection(stream).await });
                    }
                    Err(e) => {
                        tracing::warn!(relay = %self.name, error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        self.alive.store(false, Ordering::Release);
        drop(listener);
        let drain = async { while conns.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(3), drain)
            .await
            .is_err()
        {
            conns.abort_all();
        }
        lock(&self.links).clear();
        // Everything queued before is processed; then the store closes cleanly.
        self.node.stop().await;
    }

    fn ws_config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .max_message_size(Some(self.limits.max_frame_bytes))
            .max_frame_size(Some(self.limits.max_frame_bytes))
    }

    async fn connection(self: Arc<Self>, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        // Unfinished handshakes are capped separately, so slow openers cannot hold the relay.
        let pending = self.pending_handshakes.fetch_add(1, Ordering::AcqRel) + 1;
        if pending > self.limits.max_pending_handshakes {
            self.pending_handshakes.fetch_sub(1, Ordering::AcqRel);
            self.metrics.drop_packet(DropReason::TooManyConnections);
            return;
        }
        let handshake = tokio::time::timeout(
            HANDSHAKE_TIMEOUT,
            tokio_tungstenite::accept_async_with_config(stream, Some(self.ws_config())),
        )
        .await;
        self.pending_handshakes.fetch_sub(1, Ordering::AcqRel);
        let Ok(Ok(mut ws)) = handshake else {
            return;
        };
        RelayMetrics::inc(&self.metrics.connections_total);
        let open = self.open_connections.fetch_add(1, Ordering::AcqRel) + 1;
        if open > self.limits.max_connections {
            self.open_connections.fetch_sub(1, Ordering::AcqRel);
            self.metrics.drop_packet(DropReason::TooManyConnections);
            let _ = ws
                .close(Some(close(
                    CloseCode::Again,
                    "relay is at its connection cap",
                )))
                .await;
            return;
        }
        self.metrics
            .connections_open
            .store(open as u64, Ordering::Relaxed);
        let conn_id = self.next_conn_id.fetch_add(1, Ordering::Relaxed);
        self.clone().run_connection(ws, conn_id).await;
        // Unbind every tag this connection bound (unless another connection took it over).
        lock(&self.conns).remove(&conn_id);
        let _ = self.node.send(NodeInput::Disconnected(conn_id)).await;
        let open = self.open_connections.fetch_sub(1, Ordering::AcqRel) - 1;
        self.metrics
            .connections_open
            .store(open as u64, Ordering::Relaxed);
    }

    async fn run_connection(self: Arc<Self>, ws: WebSocketStream<TcpStream>, conn_id: u64) {
        let (mut sink, mut stream) = ws.split();
        let (tx, mut rx) = mpsc::channel::<Message>(self.limits.client_queue);
        lock(&self.conns).insert(conn_id, tx.clone());
        let writer = tokio::spawn(async move {
            while let Some(msg) = rx.recv().await {
                let is_close = matches!(msg, Message::Close(_));
                if sink.send(msg).await.is_err() || is_close {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let mut shutdown = self.shutdown.clone();
        let mut bucket = TokenBucket::new(
            self.limits.frames_per_second,
            self.limits.frame_burst,
            Instant::now(),
        );
        let mut bound = 0usize;
        let mut strikes = 0u32;
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        let mut last_heard = Instant::now();
        loop {
            let next = tokio::select! {
                _ = ping.tick() => {
                    if last_heard.elapsed() > IDLE_TIMEOUT {
                        let _ = tx.send(close_message(CloseCode::Away, "idle")).await;
                        break;
                    }
                    let _ = tx.try_send(Message::Ping(Vec::new().into()));
                    continue;
                }
                _ = stopped(&mut shutdown) => {
                    let _ = tx.send(close_message(CloseCode::Away, "relay shutting down")).await;
                    break;
                }
                next = stream.next() => next,
            };
            let msg = match next {
                None => break,
                Some(Ok(msg)) => {
                    last_heard = Instant::now();
                    msg
                }
                Some(Err(WsError::Capacity(_))) => {
                    self.metrics.drop_packet(DropReason::Oversized);
                    let _ = tx
                        .send(close_message(CloseCode::Size, "frame too large"))
                        .await;
                    break;
                }
                Some(Err(_)) => break,
            };
            match msg {
                Message::Binary(bytes) => {
                    if !bucket.take(Instant::now()) {
                        self.metrics.drop_packet(DropReason::RateLimited);
                        strikes += 1;
                        if strikes > self.limits.rate_limit_strikes {
                            let _ = tx
                                .send(close_message(CloseCode::Policy, "rate limit"))
                                .await;
                            break;
                        }
                        continue;
                    }
                    strikes = strikes.saturating_sub(1);
                    let frame = match ClientFrame::decode(&bytes) {
                        Ok(frame @ ClientFrame::Packet(_)) => {
                            RelayMetrics::inc(&self.metrics.packets_received);
                            frame
                        }
                        Ok(frame @ ClientFrame::Bind(_)) => {
                            if bound >= self.limits.max_tags_per_connection {
                                self.metrics.drop_packet(DropReason::BadFrame);
                                let _ = tx.try_send(error_frame(
                                    "too_many_tags",
                                    "this connection has bound the most tags it may",
                                ));
                                continue;
                            }
                            bound += 1;
                            frame
                        }
                        Err(e) => {
                            self.metrics.drop_packet(DropReason::BadFrame);
                            let _ = tx.try_send(error_frame("bad_frame", &frame_error_text(&e)));
                            continue;
                        }
                    };
                    let input = NodeInput::Frame {
                        conn: conn_id,
                        frame,
                    };
                    if self.node.send(input).await.is_err() {
                        break;
                    }
                }
                Message::Text(_) => {
                    self.metrics.drop_packet(DropReason::TextFrame);
                    let _ = tx
                        .send(close_message(CloseCode::Unsupported, "binary frames only"))
                        .await;
                    break;
                }
                Message::Close(_) => break,
                // tungstenite answers pings itself.
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
        drop(tx);
        // Closing handshake: let the writer send our Close, then read (and discard) until the
        // peer's Close or 1 s, so the socket is not torn down under unread data (an RST would
        // make the peer lose our Close frame).
        let linger = async {
            let _ = writer.await;
            while let Some(Ok(msg)) = stream.next().await {
                if matches!(msg, Message::Close(_)) {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), linger).await;
    }
}

/// The relay carries out its state machine's outputs.
impl NodeOutputs for Relay {
    fn name(&self) -> &str {
        &self.name
    }

    fn metrics(&self) -> &RelayMetrics {
        &self.metrics
    }

    /// Pushes an encoded gateway frame down connection `conn`.
    fn push_to_client(&self, conn: ConnId, frame: Vec<u8>) {
        let tx = lock(&self.conns).get(&conn).cloned();
        let Some(tx) = tx else {
            self.metrics.drop_packet(DropReason::NoClient);
            return;
        };
        match tx.try_send(Message::binary(frame)) {
            Ok(()) => RelayMetrics::inc(&self.metrics.replies_to_client),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.metrics.drop_packet(DropReason::ClientSlow)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.metrics.drop_packet(DropReason::NoClient)
            }
        }
    }

    /// Queues `packet` on the link to `next`, opening the link on first use (on `rt`).
    fn send_to(self: &Arc<Self>, rt: &tokio::runtime::Handle, next: RelayId, packet: Packet) {
        let mut links = lock(&self.links);
        let tx = match links.get(&next) {
            Some(tx) if !tx.is_closed() => tx.clone(),
            _ => {
                let peer = self
                    .peers
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&next)
                    .cloned();
                let Some(peer) = peer else {
                    self.metrics.drop_packet(DropReason::UnknownNextHop);
                    return;
                };
                let (tx, rx) = mpsc::channel(self.limits.link_queue);
                links.insert(next, tx.clone());
                rt.spawn(link::run(self.clone(), peer.id, peer.url, rx));
                tx
            }
        };
        drop(links);
        if tx.try_send(packet).is_err() {
            self.metrics.drop_packet(DropReason::LinkFull);
        }
    }

    /// Publishes new keys (after a rotation).
    fn publish_keys(&self, keys: PublishedKeys) {
        self.metrics
            .key_epoch
            .store(u64::from(keys.key_epoch), Ordering::Relaxed);
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
    }
}

/// A link needs the relay's name, counters and shutdown flag.
impl LinkOwner for Relay {
    fn name(&self) -> &str {
        &self.name
    }

    fn metrics(&self) -> &RelayMetrics {
        &self.metrics
    }

    fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.clone()
    }
}

/// A WebSocket close message with this code and reason.
fn close_message(code: CloseCode, reason: &'static str) -> Message {
    Message::Close(Some(close(code, reason)))
}

fn close(code: CloseCode, reason: &'static str) -> CloseFrame {
    CloseFrame {
        code,
        reason: reason.into(),
    }
}

fn error_frame(code: &str, message: &str) -> Message {
    Message::text(serde_json::json!({ "error": code, "message": message }).to_string())
}

fn frame_error_text(e: &OnionError) -> String {
    match e {
        OnionError::WrongLength { expected, got } => {
            format!("wrong frame length: expected {expected} bytes after the tag, got {got}")
        }
        _ => "unknown frame tag".to_owned(),
    }
}
