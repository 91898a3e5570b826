//! `sotto-relay loadgen`: a native load generator that drives a running network (loopback
//! only) with real clients built on `sotto-proto`.
//!
//! * **messages** (default): `--pairs` conversations set up through invitations, then text
//!   messages at the offered `--rate` for `--warmup` + `--duration` seconds, alternating
//!   direction and pair. Each text carries its send time (nanoseconds since the run started,
//!   read just before `Client::send_text`); the recipient's `Event::Message` closes the
//!   measurement. Prints offered rate, achieved throughput, latency percentiles, lost and
//!   duplicated messages, the relays' packet rate and per-frame processing time from
//!   `/metrics`, the bare X25519 rate of this machine, and a WebSocket ping→pong floor.
//! * **`--echo`**: only the floor: sequential WebSocket pings to every relay for `--duration`.
//! * **`--create-queues N`**: creates N queues (Create with proof of work, then Subscribe with
//!   8 SURBs, as a client does), for memory measurements; `--rss-pid` reads a process's
//!   `VmRSS` before and after.
//!
//! The last line of every mode is `LOADGEN_JSON {…}` for scripts.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use serde_json::json;
use sotto_proto::client::{Client, ClientConfig, ContactId, Event};
use sotto_proto::envelope::Content;
use sotto_proto::invitation::Invitation;
use sotto_proto::keys::SecretKey;
use sotto_proto::onion::{self, ClientFrame, ConnTag, GatewayFrame, Hop, SurbOpener};
use sotto_proto::queue::{AuthKeyPair, Command, Inbound, Request, ResponseBody};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::error::RelayError;
use crate::web;

/// Highest offered rate accepted (messages per second).
pub const MAX_RATE: f64 = 5000.0;
/// Longest run accepted (seconds, warm-up and measurement each).
pub const MAX_DURATION: f64 = 120.0;
/// Most pairs, and most queues for `--create-queues`.
pub const MAX_PAIRS: usize = 500;
pub const MAX_QUEUES: usize = 100_000;

/// Options of `sotto-relay loadgen`.
#[derive(Clone, Debug)]
pub struct LoadgenOptions {
    /// `http://127.0.0.1:PORT/directory.json` of the network (loopback only).
    pub directory: String,
    pub rate: f64,
    pub duration: f64,
    pub warmup: f64,
    pub pairs: usize,
    /// Characters per text message (at least the timestamp header).
    pub size: usize,
    /// Seconds to wait for stragglers after the last send.
    pub drain: f64,
    pub pow_bits: u8,
    pub echo: bool,
    pub create_queues: Option<usize>,
    pub rss_pid: Option<u32>,
    pub seed: Option<u64>,
}

fn bad(msg: impl Into<String>) -> RelayError {
    RelayError::Config(msg.into())
}

/// Whether `host` (as in a URL's authority, without the port) is a loopback name.
fn is_loopback_host(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1")
}

/// Splits `scheme://host:port/path` into (scheme, host, port, path).
fn split_url(url: &str) -> Result<(&str, &str, u16, &str), RelayError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad(format!("not a URL: {url}")))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !p.contains(']') => (
            h,
            p.parse::<u16>()
                .map_err(|_| bad(format!("bad port in {url}")))?,
        ),
        _ => (
            authority,
            match scheme {
                "http" | "ws" => 80,
                _ => 443,
            },
        ),
    };
    Ok((scheme, host, port, path))
}

/// Refuses anything but `http://` or `ws://` URLs on a loopback host.
fn require_loopback(url: &str, schemes: &[&str]) -> Result<(), RelayError> {
    let (scheme, host, _, _) = split_url(url)?;
    if !schemes.contains(&scheme) {
        return Err(bad(format!("{url}: expected {}", schemes.join(" or "))));
    }
    if !is_loopback_host(host) {
        return Err(bad(format!(
            "{url}: loadgen only drives networks on loopback (127.0.0.1, localhost, ::1)"
        )));
    }
    Ok(())
}

impl LoadgenOptions {
    pub fn validate(&self) -> Result<(), RelayError> {
        require_loopback(&self.directory, &["http"])?;
        if !(self.rate > 0.0 && self.rate <= MAX_RATE) {
            return Err(bad(format!("--rate must be in (0, {MAX_RATE}]")));
        }
        for (name, v) in [
            ("--duration", self.duration),
            ("--warmup", self.warmup),
            ("--drain", self.drain),
        ] {
            if !(0.0..=MAX_DURATION).contains(&v) {
                return Err(bad(format!(
                    "{name} must be in [0, {MAX_DURATION}] seconds"
                )));
            }
        }
        if self.duration <= 0.0 {
            return Err(bad("--duration must be positive"));
        }
        if self.pairs == 0 || self.pairs > MAX_PAIRS {
            return Err(bad(format!("--pairs must be in 1..={MAX_PAIRS}")));
        }
        if self.size > 2048 {
            return Err(bad("--size must be at most 2048"));
        }
        if let Some(n) = self.create_queues
            && (n == 0 || n > MAX_QUEUES)
        {
            return Err(bad(format!("--create-queues must be in 1..={MAX_QUEUES}")));
        }
        Ok(())
    }
}

/// A minimal HTTP/1.0 GET (loopback only; the relay's endpoints answer with a length).
async fn http_get(url: &str) -> Result<String, RelayError> {
    let (_, host, port, path) = split_url(url)?;
    let io = |e: std::io::Error| bad(format!("GET {url}: {e}"));
    let addr = if host == "localhost" {
        "127.0.0.1".to_owned()
    } else {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned()
    };
    let fut = async {
        let mut s = tokio::net::TcpStream::connect((addr.as_str(), port))
            .await
            .map_err(io)?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
            .await
            .map_err(io)?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.map_err(io)?;
        Ok::<_, RelayError>(buf)
    };
    let buf = tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .map_err(|_| bad(format!("GET {url}: timed out")))??;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| bad(format!("GET {url}: no HTTP response")))?;
    if !head.starts_with("HTTP/1.") || head.split_whitespace().nth(1) != Some("200") {
        return Err(bad(format!(
            "GET {url}: {}",
            head.lines().next().unwrap_or("")
        )));
    }
    Ok(body.to_owned())
}

/// The network as a client sees it: hops and their WebSocket URLs.
async fn fetch_directory(url: &str) -> Result<Vec<(Hop, String)>, RelayError> {
    let text = http_get(url).await?;
    let entries = web::parse_directory(&text).map_err(|e| bad(format!("{url}: {e}")))?;
    if entries.is_empty() {
        return Err(bad(format!("{url}: no relays")));
    }
    let mut out = Vec::new();
    for e in entries {
        require_loopback(&e.url, &["ws"])?;
        out.push((
            Hop {
                id: e.id,
                key: e.sphinx_key,
            },
            e.url,
        ));
    }
    Ok(out)
}

/// Numeric samples of `/metrics`, summed over relays, by metric name (labels other than
/// `relay` keep the name distinct: `name{reason="x"}`).
async fn fetch_metrics(base: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    let Ok(text) = http_get(&format!("{base}/metrics")).await else {
        return out;
    };
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((key, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(v) = value.parse::<f64>() else {
            continue;
        };
        let name = key.split('{').next().unwrap_or(key).to_owned();
        *out.entry(name).or_insert(0.0) += v;
    }
    out
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn rng_from(seed: Option<u64>) -> Result<ChaCha20Rng, RelayError> {
    match seed {
        Some(s) => Ok(ChaCha20Rng::seed_from_u64(s)),
        None => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| bad(format!("random seed: {e}")))?;
            Ok(ChaCha20Rng::from_seed(seed))
        }
    }
}

/// Percentiles of a sample (milliseconds).
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Summary {
    pub n: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

/// Nearest-rank percentiles of `samples` (any unit; not sorted yet).
pub fn summarize(samples: &mut [f64]) -> Summary {
    if samples.is_empty() {
        return Summary::default();
    }
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    let rank = |q: f64| {
        let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
        samples.get(i).copied().unwrap_or(0.0)
    };
    Summary {
        n,
        p50: rank(0.50),
        p90: rank(0.90),
        p99: rank(0.99),
        max: samples.last().copied().unwrap_or(0.0),
        mean: samples.iter().sum::<f64>() / n as f64,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn print_summary(label: &str, s: &Summary) {
    println!(
        "{label}: n={} p50={:.3} ms p90={:.3} ms p99={:.3} ms max={:.3} ms mean={:.3} ms",
        s.n, s.p50, s.p90, s.p99, s.max, s.mean
    );
}

fn json_line(v: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "LOADGEN_JSON {v}");
    let _ = out.flush();
}

/// Runs the load generator; prints its report on stdout.
pub async fn run(opts: LoadgenOptions) -> Result<(), RelayError> {
    opts.validate()?;
    let dir = fetch_directory(&opts.directory).await?;
    let base = opts
        .directory
        .rsplit_once('/')
        .map_or(opts.directory.as_str(), |(b, _)| b)
        .to_owned();
    println!("loadgen: {} relays from {}", dir.len(), opts.directory);
    if opts.echo {
        let samples = echo(&dir, opts.duration, 100_000).await?;
        let s = summarize(&mut samples.clone());
        print_summary("websocket ping->pong", &s);
        json_line(&json!({"mode": "echo", "relays": dir.len(), "rtt_ms": s}));
        return Ok(());
    }
    if let Some(n) = opts.create_queues {
        return create_queues(&opts, &dir, n).await;
    }
    messages(&opts, &dir, &base).await
}

// ---------------------------------------------------------------------------------------------
// Echo floor

/// Sequential WebSocket ping→pong round trips, round robin over the relays, for `secs` or
/// `max` samples. Returns milliseconds.
async fn echo(dir: &[(Hop, String)], secs: f64, max: usize) -> Result<Vec<f64>, RelayError> {
    let mut sockets = Vec::new();
    for (_, url) in dir {
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .map_err(|e| bad(format!("connect {url}: {e}")))?;
        sockets.push(ws);
    }
    let mut samples = Vec::new();
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut i = 0u64;
    while Instant::now() < end && samples.len() < max {
        let n = sockets.len();
        let Some(ws) = sockets.get_mut((i as usize) % n) else {
            break;
        };
        i += 1;
        let payload = i.to_be_bytes().to_vec();
        let started = Instant::now();
        ws.send(Message::Ping(payload.clone().into()))
            .await
            .map_err(|e| bad(format!("ping: {e}")))?;
        loop {
            match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
                Ok(Some(Ok(Message::Pong(p)))) if p.as_ref() == payload.as_slice() => break,
                Ok(Some(Ok(_))) => {}
                _ => return Err(bad("a relay did not answer a ping")),
            }
        }
        samples.push(ms(started.elapsed()));
    }
    for mut ws in sockets {
        let _ = ws.close(None).await;
    }
    Ok(samples)
}

// ---------------------------------------------------------------------------------------------
// Bare X25519

/// X25519 Diffie-Hellman operations per second on one core of this machine.
fn x25519_rate(rng: &mut ChaCha20Rng) -> f64 {
    let a = SecretKey::generate(rng);
    let b = SecretKey::generate(rng).public_key();
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_millis(500) {
        for _ in 0..100 {
            let s = a.diffie_hellman(&b);
            std::hint::black_box(&s);
        }
        n += 100;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

// ---------------------------------------------------------------------------------------------
// Messages

enum Cmd {
    CreateInvitation,
    Accept(Invitation),
    Send { contact: ContactId, seq: u64 },
}

enum Up {
    Invitation(usize, Invitation),
    Contact(usize, ContactId),
    Delivered { seq: u64, sent_ns: u64, at_ns: u64 },
    Sent,
    Failed(String),
    Gone(usize, String),
}

/// A text's header: `lg SEQ SENT_NS `; the rest is padding.
fn text_for(seq: u64, sent_ns: u64, size: usize) -> String {
    let mut t = format!("lg {seq} {sent_ns} ");
    while t.len() < size {
        t.push('.');
    }
    t
}

fn parse_text(text: &str) -> Option<(u64, u64)> {
    let mut it = text.split(' ');
    (it.next()? == "lg").then_some(())?;
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

struct ClientTask {
    index: usize,
    client: Client,
    url: String,
    rng: ChaCha20Rng,
    epoch: Instant,
    size: usize,
}

impl ClientTask {
    async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<Cmd>, up: mpsc::UnboundedSender<Up>) {
        let result = self.run_inner(&mut cmds, &up).await;
        if let Err(e) = result {
            let _ = up.send(Up::Gone(self.index, e));
        }
    }

    async fn run_inner(
        &mut self,
        cmds: &mut mpsc::UnboundedReceiver<Cmd>,
        up: &mpsc::UnboundedSender<Up>,
    ) -> Result<(), String> {
        let (ws, _) = tokio_tungstenite::connect_async(self.url.as_str())
            .await
            .map_err(|e| format!("connect {}: {e}", self.url))?;
        let (mut sink, mut stream) = ws.split();
        self.client.connected(&mut self.rng, unix_now());
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    None => return Ok(()),
                    Some(Cmd::CreateInvitation) => {
                        self.client
                            .create_invitation(&mut self.rng, unix_now())
                            .map_err(|e| e.to_string())?;
                    }
                    Some(Cmd::Accept(inv)) => {
                        self.client
                            .accept_invitation(&mut self.rng, inv, unix_now())
                            .map_err(|e| e.to_string())?;
                    }
                    Some(Cmd::Send { contact, seq }) => {
                        let sent_ns = self.epoch.elapsed().as_nanos() as u64;
                        let text = text_for(seq, sent_ns, self.size);
                        self.client
                            .send_text(&mut self.rng, contact, &text, unix_now())
                            .map_err(|e| e.to_string())?;
                    }
                },
                msg = stream.next() => match msg {
                    Some(Ok(Message::Binary(b))) => {
                        let _ = self.client.handle_frame(&mut self.rng, &b, unix_now());
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(format!("websocket: {e}")),
                    None => return Err("the gateway closed the connection".into()),
                },
                _ = tick.tick() => self.client.tick(&mut self.rng, unix_now()),
            }
            while let Some(event) = self.client.poll_event() {
                let at_ns = self.epoch.elapsed().as_nanos() as u64;
                let msg = match event {
                    Event::InvitationReady { invitation, .. } => {
                        Up::Invitation(self.index, invitation)
                    }
                    Event::ContactAdded { contact, .. } => Up::Contact(self.index, contact),
                    Event::Message { envelope, .. } => match envelope.content {
                        Content::Text(t) => match parse_text(&t) {
                            Some((seq, sent_ns)) => Up::Delivered {
                                seq,
                                sent_ns,
                                at_ns,
                            },
                            None => continue,
                        },
                        _ => continue,
                    },
                    Event::Sent { .. } => Up::Sent,
                    other => match (other.what(), other.error()) {
                        (Some(what), Some(error)) => Up::Failed(format!("{what}: {error}")),
                        _ => continue,
                    },
                };
                let _ = up.send(msg);
            }
            let mut any = false;
            while let Some(frame) = self.client.poll_transmit() {
                sink.feed(Message::binary(frame))
                    .await
                    .map_err(|e| format!("websocket: {e}"))?;
                any = true;
            }
            if any {
                sink.flush().await.map_err(|e| format!("websocket: {e}"))?;
            }
        }
    }
}

async fn messages(
    opts: &LoadgenOptions,
    dir: &[(Hop, String)],
    base: &str,
) -> Result<(), RelayError> {
    let mut rng = rng_from(opts.seed)?;
    let x25519 = x25519_rate(&mut rng);
    println!("bare X25519: {x25519:.0} DH/s on one core");
    let mut floor = echo(dir, 2.0, 500).await?;
    let floor = summarize(&mut floor);
    print_summary("websocket ping->pong floor", &floor);

    let hops: Vec<Hop> = dir.iter().map(|(h, _)| *h).collect();
    let epoch = Instant::now();
    let (up_tx, mut up) = mpsc::unbounded_channel();
    let mut cmd_tx = Vec::new();
    let config = ClientConfig {
        pow_bits: opts.pow_bits,
        ..ClientConfig::default()
    };
    for i in 0..2 * opts.pairs {
        let g = i % dir.len();
        let (hop, url) = dir.get(g).cloned().ok_or_else(|| bad("empty directory"))?;
        let client = Client::new(
            &mut rng,
            hops.clone(),
            hop.id,
            &format!("lg{i}"),
            config.clone(),
        )
        .map_err(|e| bad(format!("client: {e}")))?;
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let (tx, rx) = mpsc::unbounded_channel();
        cmd_tx.push(tx);
        let task = ClientTask {
            index: i,
            client,
            url,
            rng: ChaCha20Rng::from_seed(seed),
            epoch,
            size: opts.size,
        };
        tokio::spawn(task.run(rx, up_tx.clone()));
    }
    drop(up_tx);

    // Introductions: client 2k invites client 2k+1.
    let setup = Instant::now();
    for k in 0..opts.pairs {
        let _ = cmd_tx.get(2 * k).map(|t| t.send(Cmd::CreateInvitation));
    }
    let mut contacts: Vec<Option<ContactId>> = vec![None; 2 * opts.pairs];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while contacts.iter().any(Option::is_none) {
        let got = tokio::time::timeout_at(deadline, up.recv())
            .await
            .map_err(|_| {
                bad(format!(
                    "set-up timed out: {} of {} clients have their contact",
                    contacts.iter().flatten().count(),
                    contacts.len()
                ))
            })?;
        match got {
            Some(Up::Invitation(i, inv)) => {
                let _ = cmd_tx.get(i + 1).map(|t| t.send(Cmd::Accept(inv)));
            }
            Some(Up::Contact(i, c)) => {
                if let Some(slot) = contacts.get_mut(i) {
                    *slot = Some(c);
                }
            }
            Some(Up::Gone(i, e)) => return Err(bad(format!("client {i}: {e}"))),
            Some(Up::Failed(e)) => return Err(bad(format!("set-up failed: {e}"))),
            Some(_) => {}
            None => return Err(bad("all clients stopped")),
        }
    }
    let contacts: Vec<ContactId> = contacts.into_iter().flatten().collect();
    println!(
        "set up {} pairs in {:.1} s",
        opts.pairs,
        setup.elapsed().as_secs_f64()
    );

    let before = fetch_metrics(base).await;
    let warmup_msgs = (opts.warmup * opts.rate).round() as u64;
    let total_msgs = warmup_msgs + (opts.duration * opts.rate).round() as u64;
    let mut sent_at: Vec<Option<u64>> = vec![None; total_msgs as usize];
    let mut delivered = vec![false; total_msgs as usize];
    let mut latencies = Vec::new();
    let mut duplicates = 0u64;
    let mut failures = Vec::new();
    let mut confirmed = 0u64;
    let mut measure_start_ns = None;
    let mut last_delivery_ns = 0u64;
    let start = Instant::now();
    let mut seq = 0u64;
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut drain_deadline: Option<Instant> = None;
    let mut handle = |msg: Up,
                      delivered: &mut Vec<bool>,
                      latencies: &mut Vec<f64>,
                      last: &mut u64|
     -> Result<(), RelayError> {
        match msg {
            Up::Delivered {
                seq,
                sent_ns,
                at_ns,
            } => {
                let Some(slot) = delivered.get_mut(seq as usize) else {
                    return Ok(());
                };
                if *slot {
                    duplicates += 1;
                    return Ok(());
                }
                *slot = true;
                if seq >= warmup_msgs {
                    latencies.push(at_ns.saturating_sub(sent_ns) as f64 / 1e6);
                    *last = (*last).max(at_ns);
                }
            }
            Up::Sent => confirmed += 1,
            Up::Failed(e) => failures.push(e),
            Up::Gone(i, e) => return Err(bad(format!("client {i}: {e}"))),
            _ => {}
        }
        Ok(())
    };
    loop {
        if seq >= total_msgs && drain_deadline.is_none() {
            drain_deadline = Some(Instant::now() + Duration::from_secs_f64(opts.drain));
        }
        if let Some(d) = drain_deadline {
            let measured_done = delivered.iter().skip(warmup_msgs as usize).all(|d| *d);
            if measured_done || Instant::now() >= d {
                break;
            }
        }
        tokio::select! {
            _ = ticker.tick(), if seq < total_msgs => {
                let due = ((start.elapsed().as_secs_f64() * opts.rate) as u64).min(total_msgs);
                while seq < due {
                    let k = (seq as usize) % opts.pairs;
                    let dir_bit = ((seq as usize) / opts.pairs) % 2;
                    let from = 2 * k + dir_bit;
                    if seq == warmup_msgs {
                        measure_start_ns = Some(epoch.elapsed().as_nanos() as u64);
                    }
                    if let (Some(tx), Some(contact)) = (cmd_tx.get(from), contacts.get(from)) {
                        let _ = tx.send(Cmd::Send { contact: *contact, seq });
                    }
                    if let Some(s) = sent_at.get_mut(seq as usize) {
                        *s = Some(epoch.elapsed().as_nanos() as u64);
                    }
                    seq += 1;
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(50)), if seq >= total_msgs => {}
            got = up.recv() => match got {
                Some(msg) => handle(msg, &mut delivered, &mut latencies, &mut last_delivery_ns)?,
                None => return Err(bad("all clients stopped")),
            },
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    drop(cmd_tx);
    let after = fetch_metrics(base).await;

    let measured = total_msgs.saturating_sub(warmup_msgs);
    let got = latencies.len() as u64;
    let lost = measured.saturating_sub(got);
    let window_ns = last_delivery_ns.saturating_sub(measure_start_ns.unwrap_or(0));
    let throughput = if window_ns > 0 {
        got as f64 / (window_ns as f64 / 1e9)
    } else {
        0.0
    };
    let lat = summarize(&mut latencies);
    let d = |k: &str| after.get(k).copied().unwrap_or(0.0) - before.get(k).copied().unwrap_or(0.0);
    let received = d("sotto_relay_packets_received_total");
    let forwarded = d("sotto_relay_packets_forwarded_total");
    let proc_n = d("sotto_relay_process_seconds_count");
    let proc_s = d("sotto_relay_process_seconds_sum");
    let commit_n = d("sotto_relay_store_commit_seconds_count");
    let commit_s = d("sotto_relay_store_commit_seconds_sum");
    let dropped = d("sotto_relay_dropped_total");
    let per_core = if proc_s > 0.0 { proc_n / proc_s } else { 0.0 };
    let mean_proc_us = if proc_n > 0.0 {
        proc_s / proc_n * 1e6
    } else {
        0.0
    };
    let mean_commit_us = if commit_n > 0.0 {
        commit_s / commit_n * 1e6
    } else {
        0.0
    };

    let mut report = String::new();
    let _ = writeln!(
        report,
        "offered {:.0} msg/s for {:.0} s (+{:.0} s warm-up), {} pairs, {} chars per text",
        opts.rate, opts.duration, opts.warmup, opts.pairs, opts.size
    );
    let _ = writeln!(
        report,
        "delivered {got} of {measured} measured messages: throughput {throughput:.1} msg/s, lost {lost}, duplicates {duplicates}, relay-confirmed sends {confirmed}, failures {}",
        failures.len()
    );
    print!("{report}");
    print_summary("end-to-end latency (send_text -> Event::Message)", &lat);
    println!(
        "relays: {:.0} packets/s received, {:.0} forwarded/s, {dropped:.0} dropped; \
         {mean_proc_us:.1} µs per frame in the state machine ({per_core:.0} frames/s/core, \
         {:.2}x the bare X25519 rate); store commit {mean_commit_us:.0} µs mean over {commit_n:.0}",
        received / elapsed,
        forwarded / elapsed,
        if x25519 > 0.0 { per_core / x25519 } else { 0.0 },
    );
    for f in failures.iter().take(5) {
        println!("failure: {f}");
    }
    json_line(&json!({
        "mode": "messages",
        "relays": dir.len(),
        "offered_rate": opts.rate,
        "duration_s": opts.duration,
        "warmup_s": opts.warmup,
        "pairs": opts.pairs,
        "size": opts.size,
        "measured": measured,
        "delivered": got,
        "lost": lost,
        "duplicates": duplicates,
        "failures": failures.len(),
        "throughput_msgs_per_s": throughput,
        "latency_ms": lat,
        "echo_floor_ms": floor,
        "x25519_per_s": x25519,
        "relay": {
            "packets_received_per_s": received / elapsed,
            "packets_forwarded_per_s": forwarded / elapsed,
            "dropped": dropped,
            "process_mean_us": mean_proc_us,
            "frames_per_s_per_core": per_core,
            "per_core_vs_x25519": if x25519 > 0.0 { per_core / x25519 } else { 0.0 },
            "store_commit_mean_us": mean_commit_us,
            "store_commits": commit_n,
        },
    }));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Queue creation (memory measurement)

fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// SURBs handed over with each Subscribe (what `ClientConfig::default` does).
const SUBSCRIBE_SURBS: usize = 8;
/// Requests in flight per worker.
const WINDOW: usize = 32;
const WORKERS: usize = 4;

struct Worker {
    dir: Arc<Vec<(Hop, String)>>,
    gateway: usize,
    rng: ChaCha20Rng,
    pow_bits: u8,
}

impl Worker {
    /// Two different relays other than `end` (as a client picks its middle hops), when the
    /// directory has that many.
    fn two_others(&mut self, end: usize) -> [usize; 2] {
        let n = self.dir.len();
        let mut pick = |avoid: &[usize]| {
            let pool: Vec<usize> = (0..n).filter(|i| !avoid.contains(i)).collect();
            if pool.is_empty() {
                end
            } else {
                pool.get((self.rng.next_u32() as usize) % pool.len())
                    .copied()
                    .unwrap_or(end)
            }
        };
        let a = pick(&[end]);
        let b = pick(&[end, a]);
        [a, b]
    }

    /// A route from our gateway to `target`'s queue service and a reply block back to our
    /// gateway.
    fn request(
        &mut self,
        tag: ConnTag,
        target: usize,
        build: impl FnOnce(onion::Surb) -> Result<Vec<u8>, String>,
    ) -> Result<(Vec<u8>, SurbOpener), String> {
        let dir = self.dir.clone();
        let hop = |i: usize| dir.get(i).map(|(h, _)| *h).ok_or("no relay");
        let [a, b] = self.two_others(self.gateway);
        let back = [hop(a)?, hop(b)?, hop(self.gateway)?];
        let (surb, opener) =
            onion::build_surb(&mut self.rng, &back, tag).map_err(|e| e.to_string())?;
        let payload = build(surb)?;
        // The packet enters at our gateway (the relay this connection reaches).
        let [m, _] = self.two_others(target);
        let m = if m == self.gateway {
            self.two_others(target)[1]
        } else {
            m
        };
        let route = [hop(self.gateway)?, hop(m)?, hop(target)?];
        let packet =
            onion::build_forward(&mut self.rng, &route, &payload).map_err(|e| e.to_string())?;
        Ok((ClientFrame::Packet(packet).encode(), opener))
    }

    /// Creates and subscribes `count` queues; returns how many were created and subscribed.
    async fn run(mut self, count: usize) -> Result<usize, String> {
        let url = self
            .dir
            .get(self.gateway)
            .map(|(_, u)| u.clone())
            .ok_or("no relay")?;
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .map_err(|e| format!("connect {url}: {e}"))?;
        let (mut sink, mut stream) = ws.split();
        let tag = ConnTag::random(&mut self.rng);
        sink.send(Message::binary(ClientFrame::Bind(tag).encode()))
            .await
            .map_err(|e| e.to_string())?;
        let mut done = 0usize;
        let mut subscribed = 0usize;
        let mut next_id = 1u64;
        while done < count {
            let batch = WINDOW.min(count - done);
            // Create: (opener, key, target relay) per request.
            let mut pending = HashMap::new();
            for _ in 0..batch {
                let key = AuthKeyPair::generate(&mut self.rng);
                let target = (self.rng.next_u32() as usize) % self.dir.len();
                let id = next_id;
                next_id += 1;
                let (pow_bits, now) = (self.pow_bits, unix_now());
                let (frame, opener) = self.request(tag, target, |surb| {
                    Request::create(id, surb, &key, now, pow_bits).map_err(|e| e.to_string())
                })?;
                sink.feed(Message::binary(frame))
                    .await
                    .map_err(|e| e.to_string())?;
                pending.insert(opener.id(), (opener, key, target));
            }
            sink.flush().await.map_err(|e| e.to_string())?;
            let mut created = Vec::new();
            for body in answers(&mut stream, &mut pending, batch).await? {
                if let (ResponseBody::Ids { recipient_id, .. }, key, target) = body {
                    created.push((recipient_id, key, target));
                }
            }
            // Subscribe each new queue with SURBs, as a client does.
            let mut pending = HashMap::new();
            let n = created.len();
            for (recipient_id, key, target) in created {
                let mut surbs = Vec::new();
                for _ in 0..SUBSCRIBE_SURBS {
                    let [a, b] = self.two_others(self.gateway);
                    let hops: Vec<Hop> = [a, b, self.gateway]
                        .iter()
                        .filter_map(|i| self.dir.get(*i).map(|(h, _)| *h))
                        .collect();
                    let (surb, _) =
                        onion::build_surb(&mut self.rng, &hops, tag).map_err(|e| e.to_string())?;
                    surbs.push(surb);
                }
                let id = next_id;
                next_id += 1;
                let (frame, opener) = self.request(tag, target, |reply| {
                    Request {
                        request_id: id,
                        reply,
                        command: Command::Subscribe {
                            recipient_id,
                            surbs,
                        },
                    }
                    .encode(Some(&key))
                    .map_err(|e| e.to_string())
                })?;
                sink.feed(Message::binary(frame))
                    .await
                    .map_err(|e| e.to_string())?;
                pending.insert(opener.id(), (opener, key, target));
            }
            sink.flush().await.map_err(|e| e.to_string())?;
            let ok = answers(&mut stream, &mut pending, n)
                .await?
                .into_iter()
                .filter(|(b, _, _)| *b == ResponseBody::Ok)
                .count();
            done += batch;
            subscribed += ok;
        }
        let _ = sink.close().await;
        Ok(subscribed)
    }
}

type Pending = HashMap<sotto_proto::onion::SurbId, (SurbOpener, AuthKeyPair, usize)>;

/// Reads gateway frames until `want` answers arrived (or 20 s passed).
async fn answers<S>(
    stream: &mut S,
    pending: &mut Pending,
    want: usize,
) -> Result<Vec<(ResponseBody, AuthKeyPair, usize)>, String>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while out.len() < want {
        let msg = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => break,
            Ok(Some(Ok(m))) => m,
            Ok(_) => return Err("the gateway closed the connection".into()),
        };
        let Message::Binary(bytes) = msg else {
            continue;
        };
        let Ok(GatewayFrame::Reply { surb_id, sealed }) = GatewayFrame::decode(&bytes) else {
            continue;
        };
        let Some((opener, key, target)) = pending.remove(&surb_id) else {
            continue;
        };
        let Ok(plain) = opener.open(&sealed) else {
            continue;
        };
        if let Ok(Inbound::Response(r)) = Inbound::decode(&plain) {
            out.push((r.body, key, target));
        }
    }
    Ok(out)
}

async fn create_queues(
    opts: &LoadgenOptions,
    dir: &[(Hop, String)],
    count: usize,
) -> Result<(), RelayError> {
    let mut rng = rng_from(opts.seed)?;
    let rss_before = opts.rss_pid.and_then(vm_rss_kib);
    let dir = Arc::new(dir.to_vec());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let share = count / WORKERS + usize::from(w < count % WORKERS);
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let worker = Worker {
            dir: dir.clone(),
            gateway: w % dir.len(),
            rng: ChaCha20Rng::from_seed(seed),
            pow_bits: opts.pow_bits,
        };
        tasks.push(tokio::spawn(worker.run(share)));
    }
    let mut subscribed = 0;
    for t in tasks {
        match t.await {
            Ok(Ok(n)) => subscribed += n,
            Ok(Err(e)) => return Err(bad(format!("queue creation: {e}"))),
            Err(e) => return Err(bad(format!("queue creation: {e}"))),
        }
    }
    let secs = started.elapsed().as_secs_f64();
    // Let the relays refresh their gauges.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let base = opts
        .directory
        .rsplit_once('/')
        .map_or(opts.directory.as_str(), |(b, _)| b)
        .to_owned();
    let m = fetch_metrics(&base).await;
    let queues = m.get("sotto_relay_queues").copied().unwrap_or(0.0);
    let surbs = m.get("sotto_relay_surbs_held").copied().unwrap_or(0.0);
    let rss_after = opts.rss_pid.and_then(vm_rss_kib);
    println!(
        "created and subscribed {subscribed} of {count} queues in {secs:.1} s; the network now holds \
         {queues:.0} queues and {surbs:.0} SURBs"
    );
    if let (Some(pid), Some(b), Some(a)) = (opts.rss_pid, rss_before, rss_after) {
        println!(
            "VmRSS of pid {pid}: {:.1} MiB before, {:.1} MiB after",
            b as f64 / 1024.0,
            a as f64 / 1024.0
        );
    }
    json_line(&json!({
        "mode": "create_queues",
        "relays": dir.len(),
        "requested": count,
        "subscribed": subscribed,
        "seconds": secs,
        "queues_in_network": queues,
        "surbs_held": surbs,
        "rss_pid": opts.rss_pid,
        "rss_kib_before": rss_before,
        "rss_kib_after": rss_after,
    }));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> LoadgenOptions {
        LoadgenOptions {
            directory: "http://127.0.0.1:8080/directory.json".into(),
            rate: 100.0,
            duration: 10.0,
            warmup: 2.0,
            pairs: 10,
            size: 64,
            drain: 10.0,
            pow_bits: 16,
            echo: false,
            create_queues: None,
            rss_pid: None,
            seed: None,
        }
    }

    #[test]
    fn only_loopback_and_bounded_runs_are_accepted() {
        assert!(opts().validate().is_ok());
        for url in [
            "http://localhost:8080/directory.json",
            "http://[::1]:8080/directory.json",
        ] {
            let o = LoadgenOptions {
                directory: url.into(),
                ..opts()
            };
            assert!(o.validate().is_ok(), "{url}");
        }
        for url in [
            "http://10.0.0.1:8080/directory.json",
            "http://example.org/directory.json",
            "https://127.0.0.1/directory.json",
            "http://127.0.0.1.evil:80/",
        ] {
            let o = LoadgenOptions {
                directory: url.into(),
                ..opts()
            };
            assert!(o.validate().is_err(), "{url}");
        }
        let o = LoadgenOptions {
            rate: 5001.0,
            ..opts()
        };
        assert!(o.validate().is_err());
        let o = LoadgenOptions {
            duration: 121.0,
            ..opts()
        };
        assert!(o.validate().is_err());
        assert!(require_loopback("ws://203.0.113.9:9101", &["ws"]).is_err());
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = summarize(&mut v);
        assert_eq!((s.p50, s.p90, s.p99, s.max), (50.0, 90.0, 99.0, 100.0));
        assert_eq!(summarize(&mut []).n, 0);
        assert_eq!(parse_text(&text_for(7, 123, 40)), Some((7, 123)));
        assert_eq!(text_for(7, 123, 40).len(), 40);
    }
}
