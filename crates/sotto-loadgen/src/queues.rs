//! The `--create-queues` mode: creates and subscribes queues as clients do (Create with proof
//! of work, then Subscribe with SURBs), for memory measurements.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use serde_json::json;
use sotto_proto::directory::RelayDescriptor;
use sotto_proto::keys::AuthKeyPair;
use sotto_proto::onion::{self, ClientFrame, ConnTag, GatewayFrame, Hop, SurbOpener};
use sotto_proto::pow::Scope;
use sotto_proto::queue::{Command, Inbound, Request, ResponseBody};
use tokio_tungstenite::tungstenite::Message;

use crate::driver::{fetch_metrics, now};
use crate::error::{LoadgenError, failed};
use crate::options::LoadgenOptions;
use crate::report::json_line;

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
    /// Per relay (as in `dir`): the key epoch its work is bound to and the bits it asks for.
    admission: Arc<Vec<(u32, u8)>>,
    gateway: usize,
    rng: ChaCha20Rng,
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
            // Create: (frame, opener, key, target relay) per request.
            let mut requests = Vec::new();
            for _ in 0..batch {
                let key = AuthKeyPair::generate(&mut self.rng);
                let target = (self.rng.next_u32() as usize) % self.dir.len();
                let id = next_id;
                next_id += 1;
                let (key_epoch, pow_bits) =
                    self.admission.get(target).copied().ok_or("no relay")?;
                let scope = Scope {
                    relay: self.dir.get(target).map(|(h, _)| h.id).ok_or("no relay")?,
                    key_epoch,
                };
                let now = now();
                let (frame, opener) = self.request(tag, target, |surb| {
                    Request::create(id, surb, &key, now, pow_bits, &scope)
                        .map_err(|e| e.to_string())
                })?;
                requests.push((frame, opener, key, target));
            }
            let mut created = Vec::new();
            for body in exchange(&mut sink, &mut stream, requests).await? {
                if let (ResponseBody::Ids { recipient_id, .. }, key, target) = body {
                    created.push((recipient_id, key, target));
                }
            }
            // Subscribe each new queue with SURBs, as a client does.
            let mut requests = Vec::new();
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
                        reply: Some(reply),
                        command: Command::Subscribe {
                            recipient_id,
                            surbs,
                        },
                    }
                    .encode(Some(&key))
                    .map_err(|e| e.to_string())
                })?;
                requests.push((frame, opener, key, target));
            }
            let ok = exchange(&mut sink, &mut stream, requests)
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

/// Sends each request's frame on `sink` and reads the answers that arrive (see [`answers`]),
/// each with its request's key and target relay.
async fn exchange<K, S>(
    sink: &mut K,
    stream: &mut S,
    requests: Vec<(Vec<u8>, SurbOpener, AuthKeyPair, usize)>,
) -> Result<Vec<(ResponseBody, AuthKeyPair, usize)>, String>
where
    K: futures_util::Sink<Message, Error = tokio_tungstenite::tungstenite::Error> + Unpin,
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let want = requests.len();
    let mut pending = Pending::new();
    for (frame, opener, key, target) in requests {
        sink.feed(Message::binary(frame))
            .await
            .map_err(|e| e.to_string())?;
        pending.insert(opener.id(), (opener, key, target));
    }
    sink.flush().await.map_err(|e| e.to_string())?;
    answers(stream, &mut pending, want).await
}

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

/// Creates and subscribes `count` queues over four workers; prints what the network holds.
pub(crate) async fn create_queues(
    opts: &LoadgenOptions,
    relays: &[RelayDescriptor],
    count: usize,
) -> Result<(), LoadgenError> {
    let mut rng = opts.rng()?;
    let rss_before = opts.rss_pid.and_then(vm_rss_kib);
    let dir: Arc<Vec<(Hop, String)>> =
        Arc::new(relays.iter().map(|r| (r.hop(), r.url.clone())).collect());
    // Each relay's published difficulty, else ours.
    let admission = Arc::new(
        relays
            .iter()
            .map(|r| (r.key_epoch, r.pow_bits.unwrap_or(opts.pow_bits)))
            .collect::<Vec<_>>(),
    );
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let share = count / WORKERS + usize::from(w < count % WORKERS);
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let worker = Worker {
            dir: dir.clone(),
            admission: admission.clone(),
            gateway: w % dir.len(),
            rng: ChaCha20Rng::from_seed(seed),
        };
        tasks.push(tokio::spawn(worker.run(share)));
    }
    let mut subscribed = 0;
    for t in tasks {
        match t.await {
            Ok(Ok(n)) => subscribed += n,
            Ok(Err(e)) => return Err(failed(format!("queue creation: {e}"))),
            Err(e) => return Err(failed(format!("queue creation: {e}"))),
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
