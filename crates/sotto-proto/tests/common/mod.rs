//! Shared by the simulation tests: relays in memory and a network in virtual time.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

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
        NodeOutput::ToRelay { to, packet, .. } => {
            let i = ids.iter().position(|id| *id == to).unwrap();
            net.send(Wire::Relay(i, packet.into_bytes()));
        }
        NodeOutput::ToClient { conn, frame, .. } => net.send(Wire::ToClient(conn as usize, frame)),
    }
}

/// Clients and relays on one virtual network, stepped together: the driver loop of the
/// simulation tests in one place. Events are collected per client in `events`.
pub struct World {
    pub rng: ChaCha20Rng,
    pub nodes: Vec<Node>,
    pub directory: Vec<Hop>,
    pub net: Net,
    pub clients: Vec<sotto_proto::client::Client>,
    pub gateways: Vec<usize>,
    pub events: Vec<Vec<sotto_proto::client::Event>>,
    /// Packets for these relays (indices) are not handed to them but queued in
    /// `intercepted`, for a test playing a hostile relay; [`World::deliver`] passes one on.
    pub intercept: Vec<usize>,
    pub intercepted: VecDeque<(usize, Vec<u8>)>,
    /// When set, frames for clients are queued in `to_clients` instead of handed to them;
    /// [`World::hand_to_client`] passes one on.
    pub intercept_clients: bool,
    pub to_clients: VecDeque<(usize, Vec<u8>)>,
    /// Clients that are closed: not ticked or drained, and frames to them are lost.
    pub offline: Vec<bool>,

    /// Seconds each client's device clock is ahead of true time (negative: behind). Every
    /// `now` a client is handed is true time plus this. 0 unless a test sets it.
    pub client_skew: Vec<i64>,
    /// Seconds every relay's clock is ahead of true time (a test playing relays whose clock
    /// is wrong, or that lie about it).
    pub relay_skew: i64,
    /// What a driver storing each client's parts holds, by contact (the digest of each part
    /// stored), kept by [`assert_changed_parts_complete`] at every write.
    pub stored_parts:
        Vec<BTreeMap<sotto_proto::client::ContactId, sotto_proto::client::PartDigest>>,
    /// The contacts whose parts each client's writes handed out, in order.
    pub handed_parts: Vec<Vec<sotto_proto::client::ContactId>>,
    /// Whether [`World::step`] checks `to_changed_parts` at every write (it takes the
    /// clients' marks: off for a test that writes the parts itself).
    pub check_changed_parts: bool,
    next_tick: u64,
}

impl World {
    /// Five relays (PoW 4 bits), and one connected client per name, on gateways 0, 1, ….
    pub fn new(seed: u64, loss_percent: u32, names: &[&str]) -> Self {
        Self::with_service(seed, loss_percent, names, ServiceConfig::default())
    }

    /// As [`World::new`], with the relays' limits from `service` (PoW and redelivery set as
    /// in `new`).
    pub fn with_service(
        seed: u64,
        loss_percent: u32,
        names: &[&str],
        service: ServiceConfig,
    ) -> Self {
        use sotto_proto::client::{Client, ClientConfig};
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let service = ServiceConfig {
            pow_bits: 4,
            redeliver_after: 4,
            ..service
        };
        let (nodes, directory) = make_nodes(&mut rng, 5, &service);
        let net = Net::new(seed ^ 0xfeed, loss_percent);
        let config = ClientConfig {
            pow_bits: 4,
            subscribe_surbs: 6,
            retry_after: 3,
            resubscribe_every: 10,
        };
        let mut clients = Vec::new();
        let mut gateways = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let gateway = i % 5;
            let mut c = Client::new(
                &mut rng,
                directory.clone(),
                directory[gateway].id,
                name,
                config.clone(),
            )
            .unwrap();
            c.connected(&mut rng, secs(net.now_ms));
            clients.push(c);
            gateways.push(gateway);
        }
        let events = names.iter().map(|_| Vec::new()).collect();
        let offline = names.iter().map(|_| false).collect();
        let client_skew = names.iter().map(|_| 0).collect();
        let stored_parts = names.iter().map(|_| BTreeMap::new()).collect();
        let handed_parts = names.iter().map(|_| Vec::new()).collect();
        let next_tick = net.now_ms;
        Self {
            rng,
            nodes,
            directory,
            net,
            clients,
            gateways,
            events,
            intercept: Vec::new(),
            intercepted: VecDeque::new(),
            intercept_clients: false,
            to_clients: VecDeque::new(),
            offline,
            client_skew,
            relay_skew: 0,
            stored_parts,
            handed_parts,
            check_changed_parts: true,
            next_tick,
        }
    }

    /// What client `who`'s device clock says now (true time plus its skew), Unix seconds.
    pub fn client_now(&self, who: usize) -> u64 {
        self.now().saturating_add_signed(self.client_skew[who])
    }

    /// What the relays' clocks say now, Unix seconds.
    pub fn relay_now(&self) -> u64 {
        self.now().saturating_add_signed(self.relay_skew)
    }

    /// Hands a packet to relay `to` now, as the network would.
    pub fn deliver(&mut self, to: usize, packet: &[u8]) {
        let ids = nodes_index(&self.directory);
        let now = self.relay_now();
        if let Ok(outs) = self.nodes[to].packet(packet, now, &mut self.rng) {
            for out in outs {
                route(&mut self.net, out, &ids);
            }
        }
    }

    /// What relay `to`'s queue service would get from `packet`, if it is the packet's last
    /// hop (peeled with a fresh replay cache, so the packet can still be delivered).
    pub fn peek(&self, to: usize, packet: &[u8]) -> Option<sotto_proto::queue::ReceivedRequest> {
        use sotto_proto::onion::{Processed, process};
        let mut fresh = MemoryReplayCache::new(4);
        match process(packet, self.nodes[to].keys(), &mut fresh).ok()? {
            Processed::Deliver { payload, .. } => {
                sotto_proto::queue::ReceivedRequest::decode(&payload).ok()
            }
            _ => None,
        }
    }

    /// Hands a frame to client `who` now, as its gateway would; returns what the client says.
    pub fn hand_to_client(
        &mut self,
        who: usize,
        frame: &[u8],
    ) -> Result<(), sotto_proto::client::ClientError> {
        let now = self.client_now(who);
        self.clients[who].handle_frame(&mut self.rng, frame, now)
    }

    /// The texts client `who` was shown, in arrival order.
    pub fn texts(&self, who: usize) -> Vec<String> {
        use sotto_proto::client::Event;
        use sotto_proto::envelope::Content;
        self.events[who]
            .iter()
            .filter_map(|e| match e {
                Event::Message { envelope, .. } => match &envelope.content {
                    Content::Text(t) => Some(t.clone()),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    pub fn now(&self) -> u64 {
        secs(self.net.now_ms)
    }

    /// Drains the clients, ticks everyone once a virtual second, and carries what is due in
    /// the next 5 virtual ms.
    pub fn step(&mut self) {
        let true_now = self.now();
        for (i, c) in self.clients.iter_mut().enumerate() {
            if self.offline[i] {
                continue;
            }
            let mut wrote = false;
            while let Some(e) = c.poll_event() {
                self.events[i].push(e);
                wrote = true;
            }
            while let Some(frame) = c.poll_transmit() {
                self.net.send(Wire::FromClient(i, frame));
                wrote = true;
            }
            // A client building its packets later (`Client::build_later`) builds them now,
            // as the browser's driver does after its write.
            let now = true_now.saturating_add_signed(self.client_skew[i]);
            for frame in c.build_owed(&mut self.rng, now) {
                self.net.send(Wire::FromClient(i, frame));
                wrote = true;
            }
            // Where a driver would write the state (it had something to say or send), the
            // state in parts gives back the whole state.
            if wrote {
                assert_parts_round_trip(c);
            }
            if wrote && self.check_changed_parts {
                let handed = assert_changed_parts_complete(c, &mut self.stored_parts[i]);
                self.handed_parts[i].extend(handed);
            }
        }
        let ids = nodes_index(&self.directory);
        let now = self.relay_now();
        if self.net.now_ms >= self.next_tick {
            self.next_tick = self.net.now_ms + 1000;
            for node in &mut self.nodes {
                for out in node.tick(now).unwrap() {
                    route(&mut self.net, out, &ids);
                }
            }
            let true_now = self.now();
            for (i, c) in self.clients.iter_mut().enumerate() {
                if !self.offline[i] {
                    let now = true_now.saturating_add_signed(self.client_skew[i]);
                    c.tick(&mut self.rng, now);
                }
            }
        }
        let limit = self.net.now_ms + 5;
        match self.net.next_before(limit) {
            None => self.net.now_ms = limit,
            Some(Wire::Relay(to, packet)) if self.intercept.contains(&to) => {
                self.intercepted.push_back((to, packet));
            }
            Some(Wire::ToClient(who, frame)) if self.intercept_clients => {
                self.to_clients.push_back((who, frame));
            }
            Some(Wire::Relay(to, packet)) => {
                let now = self.relay_now();
                if let Ok(outs) = self.nodes[to].packet(&packet, now, &mut self.rng) {
                    for out in outs {
                        route(&mut self.net, out, &ids);
                    }
                }
            }
            Some(Wire::FromClient(who, frame)) => {
                let now = self.relay_now();
                let gw = self.gateways[who];
                if let Ok(outs) =
                    self.nodes[gw].client_frame(who as u64, &frame, now, &mut self.rng)
                {
                    for out in outs {
                        route(&mut self.net, out, &ids);
                    }
                }
            }
            Some(Wire::ToClient(who, _)) if self.offline[who] => {}
            Some(Wire::ToClient(who, frame)) => {
                let _ = self.hand_to_client(who, &frame);
            }
        }
    }

    /// Client `who` is opened again: reconnected, it subscribes its queues anew.
    pub fn reopen(&mut self, who: usize) {
        self.offline[who] = false;
        let now = self.client_now(who);
        self.clients[who].connected(&mut self.rng, now);
    }

    /// Steps until `done` holds (checked after each step) or `limit_secs` of virtual time pass.
    pub fn run_until(&mut self, limit_secs: u64, mut done: impl FnMut(&World) -> bool) -> bool {
        let deadline = self.net.now_ms + limit_secs * 1000;
        while self.net.now_ms < deadline {
            self.step();
            if done(self) {
                return true;
            }
        }
        false
    }

    /// Client 0 invites client 1; returns their contact ids (0's for 1, 1's for 0) once both
    /// know each other's names.
    pub fn connect(
        &mut self,
    ) -> (
        sotto_proto::client::ContactId,
        sotto_proto::client::ContactId,
    ) {
        self.introduce(0, 1)
    }

    /// Client `a` invites client `b`; returns their contact ids (`a`'s for `b`, `b`'s for `a`)
    /// once both know each other's names.
    pub fn introduce(
        &mut self,
        a: usize,
        b: usize,
    ) -> (
        sotto_proto::client::ContactId,
        sotto_proto::client::ContactId,
    ) {
        use sotto_proto::client::Event;
        let (from_a, from_b) = (self.events[a].len(), self.events[b].len());
        let now = self.client_now(a);
        self.clients[a]
            .create_invitation(&mut self.rng, now)
            .unwrap();
        let ready = self.run_until(120, |w| {
            w.events[a][from_a..]
                .iter()
                .any(|e| matches!(e, Event::InvitationReady { .. }))
        });
        assert!(ready, "the invitation was made");
        let invitation = self.events[a][from_a..]
            .iter()
            .find_map(|e| match e {
                Event::InvitationReady { invitation, .. } => Some(*invitation),
                _ => None,
            })
            .unwrap();
        let now = self.client_now(b);
        self.clients[b]
            .accept_invitation(&mut self.rng, invitation, now)
            .unwrap();
        let named = self.run_until(300, |w| {
            w.events[a][from_a..]
                .iter()
                .any(|e| matches!(e, Event::ContactAdded { .. }))
                && w.events[b][from_b..]
                    .iter()
                    .any(|e| matches!(e, Event::ContactRenamed { .. }))
        });
        assert!(named, "both sides know each other");
        let contact_of = |w: &World, i: usize, from: usize| {
            w.events[i][from..]
                .iter()
                .find_map(|e| match e {
                    Event::ContactAdded { contact, .. } => Some(*contact),
                    _ => None,
                })
                .unwrap()
        };
        (contact_of(self, a, from_a), contact_of(self, b, from_b))
    }
}

/// `Client::from_parts` of `client.to_parts()` (its contacts in reverse order) persists to
/// the same bytes as `client` itself: no part of the state is left out of the parts.
pub fn assert_parts_round_trip(client: &sotto_proto::client::Client) {
    let parts = client.to_parts();
    let back = sotto_proto::client::Client::from_parts(
        parts.core.as_bytes(),
        parts.contacts.iter().rev().map(|c| c.part.as_bytes()),
    )
    .expect("the parts read back");
    assert_eq!(
        back.to_persisted().as_bytes(),
        client.to_persisted().as_bytes(),
        "the parts hold the whole state"
    );
}

/// The differential check of `Client::to_changed_parts` against a full `Client::to_parts`:
/// the parts it hands out, put into `stored` (what a driver holds: each part's digest, by
/// contact; the parts of contacts gone deleted), leave exactly the parts of the full encoding,
/// each part handed out is the full encoding's byte for byte, and the core is the full one's.
/// Returns the contacts whose parts were handed out.
pub fn assert_changed_parts_complete(
    client: &mut sotto_proto::client::Client,
    stored: &mut BTreeMap<sotto_proto::client::ContactId, sotto_proto::client::PartDigest>,
) -> Vec<sotto_proto::client::ContactId> {
    let full = client.to_parts();
    let changed = client.to_changed_parts([]);
    assert_eq!(
        changed.core.as_bytes(),
        full.core.as_bytes(),
        "the core is the full encoding's"
    );
    for c in &changed.contacts {
        let whole = full
            .contacts
            .iter()
            .find(|f| f.id == c.id)
            .expect("a present contact");
        assert_eq!(c.part.as_bytes(), whole.part.as_bytes());
        assert_eq!(c.digest, whole.digest);
        stored.insert(c.id, c.digest);
    }
    stored.retain(|id, _| client.has_part(*id));
    let want: BTreeMap<_, _> = full.contacts.iter().map(|c| (c.id, c.digest)).collect();
    assert_eq!(
        *stored, want,
        "a contact's part changed and was not handed out by to_changed_parts"
    );
    changed.contacts.iter().map(|c| c.id).collect()
}

/// The rekey secret of test profile `profile`'s recovery phrase (entropy `[profile; 32]`).
pub fn rekey_secret(profile: u8) -> sotto_proto::client::RekeySecret {
    let phrase = sotto_proto::mnemonic::Mnemonic::from_entropy(&[profile; 32]);
    sotto_proto::client::RekeySecret::from_root(&phrase.root_secret())
}
