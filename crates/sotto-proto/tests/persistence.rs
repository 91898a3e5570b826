//! A client survives being stored and restored: two clients and five relays in virtual time,
//! with both clients restored from their persisted bytes at every awkward moment (queue
//! creation in flight, invitation outstanding, handshake in flight, a message in flight), and
//! every message still arrives exactly once, in order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Net, Node, Wire, make_nodes, nodes_index, route, secs};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sotto_proto::client::{Client, ClientConfig, ContactId, Event};
use sotto_proto::envelope::Content;
use sotto_proto::ids::RelayId;
use sotto_proto::invitation::Invitation;
use sotto_proto::onion::Hop;
use sotto_proto::service::ServiceConfig;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const NAMES: [&str; 2] = ["alice", "bob"];

struct Person {
    client: Client,
    gateway: usize,
    /// The current WebSocket; a reload opens a new one.
    conn: usize,
    contact: Option<ContactId>,
    contact_name: String,
    invitation: Option<Invitation>,
    received: Vec<String>,
    sent_acknowledged: usize,
    written: usize,
    restores: usize,
}

impl Person {
    fn on_event(&mut self, event: Event) {
        match event {
            Event::InvitationReady { invitation, .. } => self.invitation = Some(invitation),
            Event::ContactAdded {
                contact,
                display_name,
            } => {
                self.contact = Some(contact);
                self.contact_name = display_name;
            }
            Event::ContactRenamed { display_name, .. } => self.contact_name = display_name,
            Event::Message { envelope, .. } => match envelope.content {
                Content::Text(t) => self.received.push(t),
                other => panic!("unexpected content {other:?}"),
            },
            Event::Sent { .. } => self.sent_acknowledged += 1,
            Event::Accepted { .. } => {}
            other => panic!("unexpected event {other:?}"),
        }
    }
}

struct World {
    rng: ChaCha20Rng,
    nodes: Vec<Node>,
    ids: Vec<RelayId>,
    net: Net,
    people: Vec<Person>,
    next_tick: u64,
}

impl World {
    fn new() -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(0x5077_0001);
        let service_config = ServiceConfig {
            pow_bits: 6,
            redeliver_after: 4,
            ..ServiceConfig::default()
        };
        let (nodes, directory): (Vec<Node>, Vec<Hop>) = make_nodes(&mut rng, 5, &service_config);
        let client_config = ClientConfig {
            pow_bits: 6,
            subscribe_surbs: 6,
            retry_after: 3,
            resubscribe_every: 10,
        };
        let net = Net::new(7, 0);
        let now = secs(net.now_ms);
        let people = [("Alice", 0usize), ("Bob", 3usize)]
            .into_iter()
            .enumerate()
            .map(|(i, (name, gateway))| {
                let mut client = Client::new(
                    &mut rng,
                    directory.clone(),
                    directory[gateway].id,
                    name,
                    client_config.clone(),
                )
                .unwrap();
                client.connected(&mut rng, now);
                Person {
                    client,
                    gateway,
                    conn: i,
                    contact: None,
                    contact_name: String::new(),
                    invitation: None,
                    received: Vec::new(),
                    sent_acknowledged: 0,
                    written: 0,
                    restores: 0,
                }
            })
            .collect();
        Self {
            rng,
            nodes,
            ids: nodes_index(&directory),
            net,
            people,
            next_tick: T0_TICK,
        }
    }

    fn now(&self) -> u64 {
        secs(self.net.now_ms)
    }

    /// Hands events to the app and frames to the network.
    fn drain(&mut self) {
        for p in &mut self.people {
            while let Some(event) = p.client.poll_event() {
                p.on_event(event);
            }
            while let Some(frame) = p.client.poll_transmit() {
                self.net.send(Wire::FromClient(p.conn, frame));
            }
        }
    }

    /// One step of the world: drain, tick every virtual second, carry one packet.
    fn step(&mut self) {
        self.drain();
        let now_ms = self.net.now_ms;
        if now_ms >= self.next_tick {
            self.next_tick = now_ms + 1000;
            let now = secs(now_ms);
            for i in 0..self.nodes.len() {
                for out in self.nodes[i].tick(now).unwrap() {
                    route(&mut self.net, out, &self.ids);
                }
            }
            for p in &mut self.people {
                p.client.tick(&mut self.rng, now);
            }
            self.drain();
        }
        let step_limit = self.net.now_ms + 5;
        let now = |net: &Net| secs(net.now_ms);
        match self.net.next_before(step_limit) {
            None => self.net.now_ms = step_limit,
            Some(Wire::Relay(to, packet)) => {
                let t = now(&self.net);
                if let Ok(outs) = self.nodes[to].packet(&packet, t, &mut self.rng) {
                    for out in outs {
                        route(&mut self.net, out, &self.ids);
                    }
                }
            }
            Some(Wire::FromClient(conn, frame)) => {
                let t = now(&self.net);
                // Frames still on a WebSocket that closed (before a reload) are gone.
                let Some(gw) = self
                    .people
                    .iter()
                    .find(|p| p.conn == conn)
                    .map(|p| p.gateway)
                else {
                    return;
                };
                if let Ok(outs) = self.nodes[gw].client_frame(conn as u64, &frame, t, &mut self.rng)
                {
                    for out in outs {
                        route(&mut self.net, out, &self.ids);
                    }
                }
            }
            Some(Wire::ToClient(conn, frame)) => {
                let t = now(&self.net);
                // Frames for a closed WebSocket (before a reload) are gone.
                if let Some(p) = self.people.iter_mut().find(|p| p.conn == conn) {
                    let _ = p.client.handle_frame(&mut self.rng, &frame, t);
                }
            }
        }
    }

    fn run_until(&mut self, what: &str, done: impl Fn(&World) -> bool) {
        let deadline = self.net.now_ms + 600_000;
        while !done(self) {
            if self.net.now_ms >= deadline {
                for p in &self.people {
                    eprintln!(
                        "contact {:?} name {:?} pending {} unsent {} received {} sent {}",
                        p.contact,
                        p.contact_name,
                        p.client.pending_requests(),
                        p.client.unsent_messages(),
                        p.received.len(),
                        p.sent_acknowledged
                    );
                }
                panic!("timed out waiting for {what}");
            }
            self.step();
        }
        self.drain();
    }

    /// Stores person `i`, drops the client (and the frames it had not sent yet, and its
    /// WebSocket), restores it from the bytes and reconnects.
    fn reload(&mut self, i: usize) {
        // The app stores what the events said first.
        self.drain_events_only(i);
        let now = self.now();
        let p = &mut self.people[i];
        let saved = p.client.to_persisted();
        // `SOTTO_DUMP_CLIENT_STATE=fuzz/corpus/client_state` seeds the fuzzer with real states.
        if let Some(dir) = std::env::var_os("SOTTO_DUMP_CLIENT_STATE") {
            let path = std::path::Path::new(&dir).join(format!("{}-{}", NAMES[i], p.restores));
            std::fs::write(path, saved.as_bytes()).unwrap();
        }
        // Every other reload reads the state in parts, as a driver that keeps one record per
        // contact does.
        let restored = if p.restores % 2 == 1 {
            let parts = p.client.to_parts();
            let contacts = parts.contacts.iter().map(|c| c.part.as_bytes());
            Client::from_parts(parts.core.as_bytes(), contacts).unwrap()
        } else {
            Client::from_persisted(saved.as_bytes()).unwrap()
        };
        assert_eq!(
            restored.to_persisted().as_bytes(),
            saved.as_bytes(),
            "a restored client persists to the same bytes"
        );
        assert_eq!(restored.display_name(), p.client.display_name());
        assert_eq!(
            restored.contacts().collect::<Vec<_>>(),
            p.client.contacts().collect::<Vec<_>>()
        );
        assert_eq!(restored.unsent_messages(), p.client.unsent_messages());
        p.client = restored;
        self.nodes[p.gateway].disconnected(p.conn as u64);
        p.conn += 2;
        p.restores += 1;
        p.client.connected(&mut self.rng, now);
    }

    /// The page goes away: events are handled (a driver stores them first), frames not yet
    /// sent are lost.
    fn drain_events_only(&mut self, i: usize) {
        let p = &mut self.people[i];
        while p.client.poll_transmit().is_some() {}
        while let Some(event) = p.client.poll_event() {
            p.on_event(event);
        }
    }

    /// Person `i` writes its next message.
    fn write(&mut self, i: usize) {
        let now = self.now();
        let p = &mut self.people[i];
        let text = format!("{}-{}", NAMES[i], p.written);
        p.client
            .send_text(&mut self.rng, p.contact.unwrap(), &text, now)
            .unwrap();
        p.written += 1;
    }

    /// Both write until each has written `total` messages, one every 50 ms, and wait until
    /// all arrived and were stored.
    fn converse(&mut self, total: usize) {
        let target = [total, total];
        let mut next_write = self.net.now_ms;
        let deadline = self.net.now_ms + 600_000;
        loop {
            if self.net.now_ms >= next_write {
                next_write = self.net.now_ms + 50;
                for (i, t) in target.iter().enumerate() {
                    if self.people[i].written < *t {
                        self.write(i);
                    }
                }
            }
            let done = (0..2).all(|i| {
                self.people[1 - i].received.len() >= target[i]
                    && self.people[i].sent_acknowledged >= target[i]
            });
            if done {
                break;
            }
            assert!(self.net.now_ms < deadline, "conversation stalled");
            self.step();
        }
    }
}

const T0_TICK: u64 = common::T0_MS;

fn expect(who: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{who}-{i}")).collect()
}

#[test]
fn a_conversation_survives_restores_at_every_stage() {
    let mut w = World::new();

    // Alice's queue creation is in flight when she reloads; the restored client retries it.
    let now = w.now();
    w.people[0]
        .client
        .create_invitation(&mut w.rng, now)
        .unwrap();
    w.step();
    assert_eq!(w.people[0].client.pending_requests(), 1);
    w.reload(0);
    w.run_until("the invitation", |w| w.people[0].invitation.is_some());

    // Her queue now waits for a hello, owned by the invitation's secret.
    w.reload(0);
    let invitation = w.people[0].invitation.take().unwrap();
    let link = invitation.to_link("https://sotto.example");
    let now = w.now();
    let parsed = Invitation::parse_link(&link, now).unwrap();
    w.people[1]
        .client
        .accept_invitation(&mut w.rng, parsed, now)
        .unwrap();
    // Bob's reply queue is being created when he reloads.
    w.step();
    w.reload(1);
    w.run_until("both contacts", |w| {
        w.people[0].contact_name == "Bob" && w.people[1].contact_name == "Alice"
    });

    // Ten messages each way.
    w.converse(10);

    // Both reload, between messages.
    w.reload(0);
    w.reload(1);
    let alice = w.people[0].contact.unwrap();
    assert_eq!(
        w.people[0].client.contact_ids().collect::<Vec<_>>(),
        [alice]
    );

    // Alice reloads while a Send is on its way and unanswered (once a relay took a Subscribe
    // of hers: until then a reloaded client holds its sends).
    w.run_until("a subscription taken", |w| !w.people[0].client.sends_held());
    w.write(0);
    w.step();
    assert_eq!(w.people[0].client.unsent_messages(), 1);
    assert!(w.people[0].client.pending_requests() >= 1);
    let queued: Vec<_> = w.people[0].client.unsent_ids().collect();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].0, alice);
    w.reload(0);
    // The restored client names the same message as unsent (a driver reports it when sent).
    assert_eq!(w.people[0].client.unsent_ids().collect::<Vec<_>>(), queued);

    // Ten more each way (Alice's first is the one in flight).
    w.converse(20);
    // Let duplicates (a Send retried after the reload) arrive, if any.
    let settle = w.net.now_ms + 30_000;
    w.run_until("settling", |w| w.net.now_ms >= settle);

    assert_eq!(
        w.people[1].received,
        expect("alice", 20),
        "Bob got each once, in order"
    );
    assert_eq!(
        w.people[0].received,
        expect("bob", 20),
        "Alice got each once, in order"
    );
    assert_eq!(w.people[0].restores, 4);
    assert_eq!(w.people[1].restores, 2);
    let names: Vec<String> = w.people[0]
        .client
        .contacts()
        .map(|(_, n)| n.to_owned())
        .collect();
    assert_eq!(names, ["Bob"]);
    let names: Vec<String> = w.people[1]
        .client
        .contacts()
        .map(|(_, n)| n.to_owned())
        .collect();
    assert_eq!(names, ["Alice"]);
}
