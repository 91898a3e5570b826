//! One relay, sans-IO: peel, forward, serve queues, push replies to the browsers it is the
//! gateway of.
//!
//! The relay binary drives a [`RelayNode`] with WebSocket frames and the clock, and carries out
//! its [`NodeOutput`]s; the simulation test drives several with virtual time. Packets whose next
//! hop is this relay itself are processed in place, never sent to the network.

use std::collections::{HashMap, VecDeque};

use rand_core::CryptoRng;

use crate::ids::RelayId;
use crate::onion::{
    self, ClientFrame, ConnTag, GatewayFrame, OnionError, Packet, Processed, RelayKeys, ReplayCache,
};
use crate::pow::Scope;
use crate::queue::ErrorCode;
use crate::service::{Limit, Outcome, QueueService, QueueStore};

/// The driver's handle for one client (browser) WebSocket connection.
pub type ConnId = u64;

/// Something the driver must send.
///
/// `delivery` marks a queue delivery (a packet the queue service sent through a subscription
/// SURB, or what this relay made of one routed to itself): it carries only a message the store
/// accepted, so a driver that commits its store in batches may send it before the commit,
/// while everything else that used the store waits for it (docs/PROTOCOL.md §4 "Durability").
#[derive(Debug)]
pub enum NodeOutput {
    /// A packet for another relay's WebSocket.
    ToRelay {
        to: RelayId,
        packet: Packet,
        delivery: bool,
    },
    /// An encoded [`GatewayFrame`] for a client connection of this relay.
    ToClient {
        conn: ConnId,
        frame: Vec<u8>,
        delivery: bool,
    },
}

impl NodeOutput {
    /// Whether this is a queue delivery (see [`NodeOutput`]).
    pub fn is_delivery(&self) -> bool {
        match self {
            Self::ToRelay { delivery, .. } | Self::ToClient { delivery, .. } => *delivery,
        }
    }
}

/// Why a frame was not accepted. The driver counts these by [`NodeError::drop_reason`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    #[error("onion: {0}")]
    Onion(#[from] OnionError),
}

/// What a driver counts a refused frame as: a stable, typed reason for its metrics.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeDropReason {
    /// The packet's replay tag was already seen in this key epoch.
    Replay,
    /// The packet's header did not verify under this relay's keys.
    Integrity,
    /// The frame or packet has the wrong length.
    Length,
    /// Anything else wrong with the packet (key encoding, routing, version, payload).
    Malformed,
}

impl NodeError {
    /// Why the frame was dropped, for the driver's metrics.
    pub fn drop_reason(&self) -> NodeDropReason {
        match self {
            Self::Onion(OnionError::Replay) => NodeDropReason::Replay,
            Self::Onion(OnionError::Integrity) => NodeDropReason::Integrity,
            Self::Onion(OnionError::WrongLength { .. }) => NodeDropReason::Length,
            Self::Onion(_) => NodeDropReason::Malformed,
        }
    }
}

/// Counters a relay exposes in its metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    pub forwarded: u64,
    pub delivered_to_service: u64,
    pub pushed_to_clients: u64,
    /// A reply for a connection tag nobody has bound (the browser is gone): dropped; the queue
    /// keeps the message until it is acknowledged.
    pub dropped_unbound: u64,
    /// Requests the queue service could not decode (no reply SURB to answer through).
    pub dropped_requests: u64,
    /// Requests the queue service refused with an error code.
    pub refused_requests: u64,
    /// Of those, the ones refused because they would have passed a limit, per
    /// [`crate::service::Limit`] (indexed by [`crate::service::Limit::index`]), plus the
    /// Acks whose SURBs were not all kept.
    pub refused_full: [u64; Limit::ALL.len()],
    /// Refused requests by the code they were answered with (indexed by
    /// [`crate::queue::ErrorCode::index`]; Expired counts the ExpiredAt answers).
    pub refused_codes: [u64; ErrorCode::KNOWN.len()],
    /// Packets between hops of this relay that failed (e.g. replays inside one process).
    pub dropped_internal: u64,
}

/// One relay's state machine.
pub struct RelayNode<S, C> {
    id: RelayId,
    keys: RelayKeys,
    replay: C,
    service: QueueService<S>,
    bindings: HashMap<ConnTag, ConnId>,
    stats: NodeStats,
}

impl<S: QueueStore, C: ReplayCache> RelayNode<S, C> {
    pub fn new(id: RelayId, keys: RelayKeys, replay: C, service: QueueService<S>) -> Self {
        Self {
            id,
            keys,
            replay,
            service,
            bindings: HashMap::new(),
            stats: NodeStats::default(),
        }
    }

    pub fn id(&self) -> RelayId {
        self.id
    }

    pub fn keys(&self) -> &RelayKeys {
        &self.keys
    }

    pub fn keys_mut(&mut self) -> &mut RelayKeys {
        &mut self.keys
    }

    /// The replay cache, for the driver's batching and key-epoch housekeeping.
    pub fn replay(&self) -> &C {
        &self.replay
    }

    pub fn replay_mut(&mut self) -> &mut C {
        &mut self.replay
    }

    pub fn service(&self) -> &QueueService<S> {
        &self.service
    }

    pub fn service_mut(&mut self) -> &mut QueueService<S> {
        &mut self.service
    }

    pub fn stats(&self) -> NodeStats {
        self.stats
    }

    /// A binary frame from a client connection: a bind or a packet to process as first hop.
    pub fn client_frame<R: CryptoRng + ?Sized>(
        &mut self,
        conn: ConnId,
        frame: &[u8],
        now: u64,
        rng: &mut R,
    ) -> Result<Vec<NodeOutput>, NodeError> {
        self.decoded_client_frame(conn, ClientFrame::decode(frame)?, now, rng)
    }

    /// A client frame the driver has already decoded (see [`RelayNode::client_frame`]).
    pub fn decoded_client_frame<R: CryptoRng + ?Sized>(
        &mut self,
        conn: ConnId,
        frame: ClientFrame,
        now: u64,
        rng: &mut R,
    ) -> Result<Vec<NodeOutput>, NodeError> {
        match frame {
            ClientFrame::Bind(tag) => {
                // Rebinding moves the tag to the newest connection, so SURBs handed out before
                // a reconnect keep working.
                self.bindings.insert(tag, conn);
                Ok(Vec::new())
            }
            ClientFrame::Packet(packet) => self.packet(packet.as_bytes(), now, rng),
        }
    }

    /// A client connection closed: replies for its tags are dropped from now on.
    pub fn disconnected(&mut self, conn: ConnId) {
        self.bindings.retain(|_, c| *c != conn);
    }

    /// Connections currently bound (for metrics).
    pub fn bound_connections(&self) -> usize {
        self.bindings.len()
    }

    /// A packet from another relay (or from a client, through [`RelayNode::client_frame`]).
    pub fn packet<R: CryptoRng + ?Sized>(
        &mut self,
        packet: &[u8],
        now: u64,
        rng: &mut R,
    ) -> Result<Vec<NodeOutput>, NodeError> {
        let first = onion::process(packet, &self.keys, &mut self.replay)?;
        let mut out = Vec::new();
        let mut work = VecDeque::from([(first, false)]);
        while let Some((processed, delivery)) = work.pop_front() {
            match processed {
                Processed::Forward { next, packet } => {
                    self.stats.forwarded += 1;
                    self.route(next, packet, delivery, &mut work, &mut out);
                }
                Processed::Deliver { payload, key_epoch } => {
                    self.stats.delivered_to_service += 1;
                    let scope = Scope {
                        relay: self.id,
                        key_epoch,
                    };
                    let handled = self.service.handle(&payload, &scope, now, rng);
                    match handled.outcome {
                        Outcome::Ok => {}
                        Outcome::Refused(code) => {
                            self.stats.refused_requests += 1;
                            if let Some(n) = code
                                .index()
                                .and_then(|i| self.stats.refused_codes.get_mut(i))
                            {
                                *n += 1;
                            }
                        }
                        Outcome::Full(limit) => {
                            self.stats.refused_requests += 1;
                            if let Some(n) = ErrorCode::Quota
                                .index()
                                .and_then(|i| self.stats.refused_codes.get_mut(i))
                            {
                                *n += 1;
                            }
                            if let Some(n) = self.stats.refused_full.get_mut(limit.index()) {
                                *n += 1;
                            }
                        }
                        Outcome::Dropped => self.stats.dropped_requests += 1,
                    }
                    if let Some(limit) = handled.limited
                        && let Some(n) = self.stats.refused_full.get_mut(limit.index())
                    {
                        *n += 1;
                    }
                    for o in handled.outgoing {
                        self.route(o.to, o.packet, o.delivery, &mut work, &mut out);
                    }
                }
                Processed::ToClient {
                    connection,
                    surb_id,
                    sealed,
                } => match self.bindings.get(&connection) {
                    Some(conn) => {
                        self.stats.pushed_to_clients += 1;
                        out.push(NodeOutput::ToClient {
                            conn: *conn,
                            frame: GatewayFrame::Reply { surb_id, sealed }.encode(),
                            delivery,
                        });
                    }
                    None => self.stats.dropped_unbound += 1,
                },
            }
        }
        Ok(out)
    }

    /// Time-driven work: redelivery of unacknowledged messages, expiry sweeps.
    pub fn tick(&mut self, now: u64) -> Result<Vec<NodeOutput>, S::Error> {
        let (_, outgoing) = self.service.tick(now)?;
        let mut out = Vec::new();
        let mut work = VecDeque::new();
        for o in outgoing {
            self.route(o.to, o.packet, o.delivery, &mut work, &mut out);
        }
        // Packets routed to ourselves are processed in place.
        while let Some((processed, delivery)) = work.pop_front() {
            if let Processed::Forward { next, packet } = processed {
                self.route(next, packet, delivery, &mut work, &mut out);
            } else if let Processed::ToClient {
                connection,
                surb_id,
                sealed,
            } = processed
                && let Some(conn) = self.bindings.get(&connection)
            {
                out.push(NodeOutput::ToClient {
                    conn: *conn,
                    frame: GatewayFrame::Reply { surb_id, sealed }.encode(),
                    delivery,
                });
            }
        }
        Ok(out)
    }

    fn route(
        &mut self,
        to: RelayId,
        packet: Packet,
        delivery: bool,
        work: &mut VecDeque<(Processed, bool)>,
        out: &mut Vec<NodeOutput>,
    ) {
        if to == self.id {
            match onion::process(packet.as_bytes(), &self.keys, &mut self.replay) {
                Ok(p) => work.push_back((p, delivery)),
                Err(_) => self.stats.dropped_internal += 1,
            }
        } else {
            out.push(NodeOutput::ToRelay {
                to,
                packet,
                delivery,
            });
        }
    }
}
