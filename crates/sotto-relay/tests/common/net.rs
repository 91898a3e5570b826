//! Messaging clients for tests: `sotto_proto::client::Client` over real WebSockets to a real
//! `sotto-relay dev`, through the load generator's driver (`sotto_loadgen::driver`), plus what
//! the tests record of each person and a loop that runs them together.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use rand_chacha::ChaCha20Rng;
use sotto_loadgen::driver::{self, Inbound, InboxTx, NativeClient};
use sotto_proto::client::{Client, ClientConfig, ContactId, Event};
use sotto_proto::directory::{Directory, Unusable};
use sotto_proto::envelope::Content;
use sotto_proto::invitation::Invitation;
use sotto_proto::onion::Hop;
use tokio::sync::mpsc;

pub use sotto_loadgen::driver::{Inbox, now};

/// The directory as a client sees it: hops and their URLs, in directory order. A dev
/// network's is signed and verified against the keys its `/config.json` names; a `run`
/// relay (no authorities, no `/config.json`) serves its operator's unsigned view.
pub async fn directory(http: &str) -> Vec<(Hop, String)> {
    let url = format!("{http}/directory.json");
    let config = reqwest::get(format!("{http}/config.json")).await.unwrap();
    if config.status() == reqwest::StatusCode::NOT_FOUND {
        let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
        let dir = Directory::parse(&text, Unusable::Refuse).unwrap();
        return dir.hops().map(|(h, u)| (h, u.to_owned())).collect();
    }
    driver::fetch_directory(&url).await.unwrap()
}

pub fn test_config() -> ClientConfig {
    ClientConfig {
        retry_after: 2,
        resubscribe_every: 3,
        ..ClientConfig::default()
    }
}

/// One person: a client and its WebSocket to its gateway (`net`), and what it saw.
pub struct Person {
    pub name: &'static str,
    pub net: NativeClient,
    pub gateway: usize,
    pub contact: Option<ContactId>,
    pub invitation: Option<Invitation>,
    pub received: Vec<String>,
    /// Texts the relay confirmed it stored (Event::Sent), in order.
    pub sent_confirmed: usize,
    pub failures: Vec<String>,
}

impl Person {
    pub fn new(
        name: &'static str,
        rng: &mut ChaCha20Rng,
        dir: &[(Hop, String)],
        gateway: usize,
        config: ClientConfig,
    ) -> Self {
        let hops: Vec<Hop> = dir.iter().map(|(h, _)| *h).collect();
        let client = Client::new(rng, hops, dir[gateway].0.id, name, config).unwrap();
        Self {
            name,
            net: NativeClient::new(client),
            gateway,
            contact: None,
            invitation: None,
            received: Vec::new(),
            sent_confirmed: 0,
            failures: Vec::new(),
        }
    }

    /// (Re)connects to the gateway at `url`; frames arrive in the shared inbox as `index`.
    pub async fn connect(
        &mut self,
        index: usize,
        url: &str,
        inbox: &InboxTx,
        rng: &mut ChaCha20Rng,
    ) {
        let frames = self.net.connect(url, rng).await.unwrap();
        frames.forward(index, inbox.clone());
        self.flush().await;
    }

    /// Closes the WebSocket (a Close frame, as a closing browser tab sends); the reader task
    /// reports the end through the inbox. Until [`Person::connect`] again, frames the client
    /// wants to send are dropped (it retries them later).
    pub async fn go_offline(&mut self) {
        self.net.go_offline().await;
    }

    pub fn disconnected(&mut self, socket: u64) {
        self.net.disconnected(socket);
    }

    /// Drains events (recording them), then sends what the client wants to send.
    pub async fn flush(&mut self) {
        while let Some(event) = self.net.client.poll_event() {
            match event {
                Event::InvitationReady { invitation, .. } => self.invitation = Some(invitation),
                Event::ContactAdded { contact, .. } => self.contact = Some(contact),
                Event::Message { envelope, .. } => match envelope.content {
                    Content::Text(t) => self.received.push(t),
                    other => self.failures.push(format!("unexpected content {other:?}")),
                },
                Event::Sent { .. } => self.sent_confirmed += 1,
                Event::ContactRenamed { .. } | Event::Accepted { .. } => {}
                other => self.failures.push(match (other.what(), other.error()) {
                    (Some(what), Some(error)) => format!("{what}: {error}"),
                    _ => format!("unexpected event {other:?}"),
                }),
            }
        }
        // Offline, or the socket failed: the client retries its requests after reconnecting.
        let _ = self.net.transmit().await;
    }

    pub fn handle(&mut self, rng: &mut ChaCha20Rng, frame: &[u8]) {
        // Replies through reply blocks whose opener was replaced are refused; that is fine.
        self.net.handle(rng, frame);
    }

    pub fn tick(&mut self, rng: &mut ChaCha20Rng) {
        self.net.tick(rng);
    }
}

/// Runs the network until `done` holds or `timeout` passes; returns whether `done` held.
pub async fn drive(
    people: &mut [Person],
    inbox: &mut Inbox,
    rng: &mut ChaCha20Rng,
    timeout: Duration,
    mut step: impl FnMut(&mut [Person], &mut ChaCha20Rng),
    done: impl Fn(&[Person]) -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut ticker = tokio::time::interval(Duration::from_millis(250));
    loop {
        step(people, rng);
        for p in people.iter_mut() {
            p.flush().await;
        }
        if done(people) {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return false,
            _ = ticker.tick() => {
                for p in people.iter_mut() {
                    p.tick(rng);
                }
            }
            got = inbox.recv() => match got {
                Some((i, Inbound::Frame(frame))) => people[i].handle(rng, &frame),
                Some((i, Inbound::Closed(socket))) => people[i].disconnected(socket),
                None => return false,
            },
        }
    }
}

/// The sum over relays of a metric's samples whose line starts with `needle`.
pub async fn metric(http: &str, needle: &str) -> u64 {
    let text = driver::http_get(&format!("{http}/metrics")).await.unwrap();
    text.lines()
        .filter(|l| l.starts_with(needle))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Alice and Bob, on gateways `gateways[0]` and `gateways[1]` of `dir`, connected and
/// introduced through an invitation. Returns them with the channel their sockets feed and the
/// RNG (seeded with `seed`) the test goes on with.
pub async fn pair(
    dir: &[(Hop, String)],
    seed: u64,
    gateways: [usize; 2],
) -> (Vec<Person>, InboxTx, Inbox, ChaCha20Rng) {
    use rand_core::SeedableRng;
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let (tx, mut inbox) = mpsc::unbounded_channel();
    let mut people = vec![
        Person::new("Alice", &mut rng, dir, gateways[0], test_config()),
        Person::new("Bob", &mut rng, dir, gateways[1], test_config()),
    ];
    for (i, p) in people.iter_mut().enumerate() {
        let url = dir[p.gateway].1.clone();
        p.connect(i, &url, &tx, &mut rng).await;
    }
    introduce(&mut people, &mut inbox, &mut rng).await;
    (people, tx, inbox, rng)
}

/// Alice invites Bob; returns once both have the other as a contact.
pub async fn introduce(people: &mut [Person], inbox: &mut Inbox, rng: &mut ChaCha20Rng) {
    people[0].net.client.create_invitation(rng, now()).unwrap();
    let ok = drive(
        people,
        inbox,
        rng,
        Duration::from_secs(30),
        |people, rng| {
            if let Some(inv) = people[0].invitation.take() {
                let link = inv.to_link("http://127.0.0.1");
                let parsed = Invitation::parse_link(&link, now()).unwrap();
                people[1]
                    .net
                    .client
                    .accept_invitation(rng, parsed, now())
                    .unwrap();
            }
        },
        |people| people.iter().all(|p| p.contact.is_some()),
    )
    .await;
    assert!(
        ok,
        "introduction did not finish: failures {:?} {:?}",
        people[0].failures, people[1].failures
    );
}
