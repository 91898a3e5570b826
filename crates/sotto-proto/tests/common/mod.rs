//! Shared by the simulation tests: relays in memory and a network in virtual time.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use sotto_proto::ids::RelayId;
use sotto_proto::node::{NodeOutput, RelayNode};
use sotto_proto::onion::{Hop, MemoryReplayCache, RelayKey, RelayKeys};
use sotto_proto::service::{MemoryStore, QueueService, ServiceConfig};

/// Virtual start time (Unix milliseconds).
pub const T0_MS: u64 = 1_800_000_000_000;

pub type Node = RelayNode<MemoryStore, MemoryReplayCache>;

pub enum Wire {
    /// A packet between relays (to relay index).
    Relay(usize, Vec<u8>),
    /// A frame from a client to its gateway (connection id).
    FromClient(usize, Vec<u8>),
    /// A frame from a gateway to a client (connection id).
    ToClient(usize, Vec<u8>),
}

pub struct Net {
    pub rng: ChaCha20Rng,
    pub now_ms: u64,
    pub seq: u64,
    pub queue: BinaryHeap<Reverse<(u64, u64, usize)>>,
    pub slots: Vec<Option<Wire>>,
    pub loss_percent: u32,
    pub lost: u64,
    pub carried: u64,
}

impl Net {
    /// A network that starts at [`T0_MS`] and loses `loss_percent` % of what it carries.
    pub fn new(seed: u64, loss_percent: u32) -> Self {
        Self {
            rng: ChaCha20Rng::seed_from_u64(seed),
            now_ms: T0_MS,
            seq: 0,
            queue: BinaryHeap::new(),
            slots: Vec::new(),
            loss_percent,
            lost: 0,
            carried: 0,
        }
    }

    /// Schedules `wire` after a random 1–40 ms (so packets overtake each other), or loses it.
    pub fn send(&mut self, wire: Wire) {
        if self.rng.next_u32() % 100 < self.loss_percent {
            self.lost += 1;
            return;
        }
        self.carried += 1;
        let delay = 1 + u64::from(self.rng.next_u32() % 40);
        self.seq += 1;
        self.slots.push(Some(wire));
        self.queue.push(Reverse((
            self.now_ms + delay,
            self.seq,
            self.slots.len() - 1,
        )));
    }

    pub fn next_before(&mut self, limit_ms: u64) -> Option<Wire> {
        let Reverse((at, _, _)) = *self.queue.peek()?;
        if at > limit_ms {
            return None;
        }
        let Reverse((at, _, slot)) = self.queue.pop()?;
        self.now_ms = at;
        self.slots[slot].take()
    }
}

pub fn secs(ms: u64) -> u64 {
    ms / 1000
}

/// `count` relays with in-memory stores, and the directory that lists them.
pub fn make_nodes(
    rng: &mut ChaCha20Rng,
    count: usize,
    service_config: &ServiceConfig,
) -> (Vec<Node>, Vec<Hop>) {
    let nodes: Vec<Node> = (0..count)
        .map(|_| {
            let key = RelayKey::generate(rng, 1);
            let id = RelayId::random(rng);
            RelayNode::new(
                id,
                RelayKeys::new(key),
                MemoryReplayCache::new(1 << 16),
                QueueService::new(MemoryStore::new(), service_config.clone()),
            )
        })
        .collect();
    let directory = nodes
        .iter()
        .map(|n| Hop {
            id: n.id(),
            key: n.keys().current().public_key(),
        })
        .collect();
    (nodes, directory)
}

pub fn nodes_index(directory: &[Hop]) -> Vec<RelayId> {
    directory.iter().map(|h| h.id).collect()
}

pub fn route(net: &mut Net, out: NodeOutput, ids: &[RelayId]) {
    match out {
        NodeOutput::ToRelay { to, packet } => {
            let i = ids.iter().position(|id| *id == to).unwrap();
            net.send(Wire::Relay(i, packet.into_bytes()));
        }
        NodeOutput::ToClient { conn, frame } => net.send(Wire::ToClient(conn as usize, frame)),
    }
}
