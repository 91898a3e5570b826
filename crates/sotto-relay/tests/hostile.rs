//! Hostile input: random bytes, truncated, oversized and text frames, replays, requests for
//! unknown queues, bad proofs of work and a flood. The relay keeps serving and counts every
//! drop in `/metrics`. Then floods of SURBs, queues and blob chunks against small relay-wide
//! caps: refused, counted by reason, memory bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::net;
use common::raw::{Gateway, Ws};
use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use sotto_proto::ids::QueueId;
use sotto_proto::keys::AuthKeyPair;
use sotto_proto::onion::{self, ClientFrame};
use sotto_proto::pow::Scope;
use sotto_proto::queue::{BlobId, Command, ErrorCode, ReceivedRequest, Request, ResponseBody};
use sotto_proto::sizes::{PACKET_SIZE, QUEUE_MESSAGE_SIZE};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

async fn metrics(http: &str) -> String {
    reqwest::get(format!("{http}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn value(metrics: &str, relay: &str, reason: &str) -> u64 {
    let needle = format!("sotto_relay_dropped_total{{relay=\"{relay}\",reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&needle))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// `sotto_relay_queue_refused_by_code_total` of `relay` for `code` (e.g. `"pow"`).
fn by_code(metrics: &str, relay: &str, code: &str) -> u64 {
    let needle =
        format!("sotto_relay_queue_refused_by_code_total{{relay=\"{relay}\",code=\"{code}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&needle))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn counter(metrics: &str, name: &str, relay: &str) -> u64 {
    let needle = format!("{name}{{relay=\"{relay}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&needle))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn closed_with(stream: &mut SplitStream<Ws>) -> Option<CloseCode> {
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
        match msg {
            Ok(Message::Close(frame)) => return frame.map(|f| f.code),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_survives_hostile_input_and_counts_it() {
    let dev = common::start(&["--relays", "2", "--ephemeral"]);
    let dir = net::directory(&dev.http).await;
    let (h1, url1) = dir[0].clone();
    let (h2, _) = dir[1].clone();
    let relays = sotto_loadgen::driver::fetch_relays(&format!("{}/directory.json", dev.http))
        .await
        .unwrap();
    // Work for relay 2's queue service: bound to it and its current key epoch.
    let bits = relays[1].pow_bits.unwrap();
    let at_h2 = Scope {
        relay: h2.id,
        key_epoch: relays[1].key_epoch,
    };
    let mut rng = ChaCha20Rng::seed_from_u64(0xBAD);
    let mut gw = Gateway::connect(&url1, &mut rng).await;

    // Random bytes of every shape: bad frames (answered) and bad packets (silent).
    for _ in 0..50 {
        let len = (rng.next_u32() % 6000) as usize;
        let mut junk = vec![0u8; len];
        rng.fill_bytes(&mut junk);
        if junk.first() == Some(&0x02) && len == 17 {
            continue; // a valid bind
        }
        gw.sink.send(Message::binary(junk)).await.unwrap();
    }
    for _ in 0..20 {
        let mut packet = vec![0x01u8; 1 + PACKET_SIZE];
        rng.fill_bytes(&mut packet[1..]);
        gw.sink.send(Message::binary(packet)).await.unwrap();
    }
    // Truncated packet.
    gw.sink
        .send(Message::binary(vec![0x01u8; PACKET_SIZE]))
        .await
        .unwrap();

    // A request for a queue that does not exist: answered with NoQueue through the SURB.
    let route = [h1, h2];
    let back = [h2, h1];
    let stranger = AuthKeyPair::generate(&mut rng);
    let unknown = QueueId::random(&mut rng);
    let (frame, opener, id) = gw.packet(
        &mut rng,
        &route,
        &back,
        Command::Send {
            sender_id: unknown,
            message: vec![0u8; QUEUE_MESSAGE_SIZE],
        },
        Some(&stranger),
    );
    gw.sink.send(Message::binary(frame.clone())).await.unwrap();
    let answer = gw.answer(&opener).await;
    assert_eq!(answer.request_id, id);
    assert_eq!(answer.body, ResponseBody::Error(ErrorCode::NoQueue));
    // The same packet again is a replay: dropped at the first hop, no second answer.
    gw.sink.send(Message::binary(frame)).await.unwrap();

    // A Create whose proof of work is too weak.
    let owner = AuthKeyPair::generate(&mut rng);
    let mut nonce = 0u64;
    let (frame, opener) = loop {
        let command = Command::Create {
            recipient_key: owner.public_key(),
            timestamp: net::now(),
            pow_nonce: nonce,
        };
        let (surb, opener) = onion::build_surb(&mut rng, &back, gw.tag).unwrap();
        let payload = Request {
            request_id: 99,
            reply: Some(surb),
            command,
        }
        .encode(Some(&owner))
        .unwrap();
        if ReceivedRequest::decode(&payload)
            .unwrap()
            .verify_pow(&at_h2, bits)
            .is_err()
        {
            let packet = onion::build_forward(&mut rng, &route, &payload).unwrap();
            break (ClientFrame::Packet(packet).encode(), opener);
        }
        nonce += 1;
    };
    gw.sink.send(Message::binary(frame)).await.unwrap();
    assert_eq!(
        gw.answer(&opener).await.body,
        ResponseBody::Error(ErrorCode::Pow)
    );

    // Work solved for relay 1 is no good at relay 2.
    let at_h1 = Scope {
        relay: h1.id,
        ..at_h2
    };
    let create = |scope: &Scope, key: &AuthKeyPair, timestamp: u64| {
        let mut command = Command::Create {
            recipient_key: key.public_key(),
            timestamp,
            pow_nonce: 0,
        };
        let challenge = command.pow_challenge(scope).unwrap();
        command.set_pow_nonce(sotto_proto::pow::solve(&challenge, bits).unwrap());
        command
    };
    let refused_before = counter(
        &metrics(&dev.http).await,
        "sotto_relay_queue_refused_total",
        "2",
    );
    let pow_before = by_code(&metrics(&dev.http).await, "2", "pow");
    let mut pow_refusals = 1;
    let elsewhere = create(&at_h1, &owner, net::now());
    if elsewhere.verify_pow(&at_h2, bits).is_err() {
        pow_refusals += 1;
        let (frame, opener, _) = gw.packet(&mut rng, &route, &back, elsewhere, Some(&owner));
        gw.sink.send(Message::binary(frame)).await.unwrap();
        assert_eq!(
            gw.answer(&opener).await.body,
            ResponseBody::Error(ErrorCode::Pow)
        );
    }
    // A Create with good work, its retry (new packet, same work: the same ids), then the
    // queue deleted and the same work replayed: spent, refused.
    let paid = create(&at_h2, &owner, net::now());
    let (frame, opener, _) = gw.packet(&mut rng, &route, &back, paid.clone(), Some(&owner));
    gw.sink.send(Message::binary(frame)).await.unwrap();
    let ids = gw.answer(&opener).await.body;
    let ResponseBody::Ids { recipient_id, .. } = ids else {
        panic!("Create refused: {ids:?}");
    };
    let (frame, opener, _) = gw.packet(&mut rng, &route, &back, paid.clone(), Some(&owner));
    gw.sink.send(Message::binary(frame)).await.unwrap();
    assert_eq!(gw.answer(&opener).await.body, ids);
    let (frame, opener, _) = gw.packet(
        &mut rng,
        &route,
        &back,
        Command::Delete { recipient_id },
        Some(&owner),
    );
    gw.sink.send(Message::binary(frame)).await.unwrap();
    assert_eq!(gw.answer(&opener).await.body, ResponseBody::Ok);
    let (frame, opener, _) = gw.packet(&mut rng, &route, &back, paid, Some(&owner));
    gw.sink.send(Message::binary(frame)).await.unwrap();
    assert_eq!(
        gw.answer(&opener).await.body,
        ResponseBody::Error(ErrorCode::Pow)
    );
    let m = metrics(&dev.http).await;
    assert!(
        counter(&m, "sotto_relay_queue_refused_total", "2") > refused_before,
        "{m}"
    );
    // Each refusal is counted under its code: work for another relay and spent work as POW.
    assert_eq!(by_code(&m, "2", "pow"), pow_before + pow_refusals, "{m}");

    // Text and oversized frames close their connections with typed codes.
    let (ws, _) = tokio_tungstenite::connect_async(url1.as_str())
        .await
        .unwrap();
    let (mut sink, mut stream) = ws.split();
    sink.send(Message::text("{\"hello\":1}")).await.unwrap();
    assert_eq!(closed_with(&mut stream).await, Some(CloseCode::Unsupported));
    let (ws, _) = tokio_tungstenite::connect_async(url1.as_str())
        .await
        .unwrap();
    let (mut sink, mut stream) = ws.split();
    let _ = sink.send(Message::binary(vec![0x01u8; 1 << 20])).await;
    assert_eq!(closed_with(&mut stream).await, Some(CloseCode::Size));

    // A flood on one connection: rate limited, then closed (1008).
    let (ws, _) = tokio_tungstenite::connect_async(url1.as_str())
        .await
        .unwrap();
    let (mut sink, mut stream) = ws.split();
    let flood = tokio::spawn(async move {
        for _ in 0..20_000 {
            if sink.feed(Message::binary(vec![0xffu8; 8])).await.is_err() {
                break;
            }
        }
        let _ = sink.flush().await;
    });
    let mut code = None;
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
        if let Ok(Message::Close(frame)) = msg {
            code = frame.map(|f| f.code);
            break;
        }
    }
    let _ = flood.await;
    assert_eq!(code, Some(CloseCode::Policy));

    // Still serving: a blob round trip on the same gateway connection works.
    let blob = BlobId::random(&mut rng);
    let data = vec![0x5au8; 1000];
    let blob_challenge = sotto_proto::queue::blob_challenge(&at_h2, &blob);
    let (frame, opener, _) = gw.packet(
        &mut rng,
        &route,
        &back,
        Command::BlobPut {
            blob_id: blob,
            index: 0,
            pow_nonce: sotto_proto::pow::solve(&blob_challenge, bits).unwrap(),
            data: data.clone(),
        },
        None,
    );
    gw.sink.send(Message::binary(frame)).await.unwrap();
    assert_eq!(gw.answer(&opener).await.body, ResponseBody::Ok);
    let (frame, opener, _) = gw.packet(
        &mut rng,
        &route,
        &back,
        Command::BlobGet {
            blob_id: blob,
            index: 0,
        },
        None,
    );
    gw.sink.send(Message::binary(frame)).await.unwrap();
    assert_eq!(
        gw.answer(&opener).await.body,
        ResponseBody::BlobChunk { index: 0, data }
    );

    let health = reqwest::get(format!("{}/healthz", dev.http)).await.unwrap();
    assert_eq!(health.status(), 200);
    let m = metrics(&dev.http).await;
    assert!(value(&m, "1", "bad_frame") >= 40, "{m}");
    assert!(
        value(&m, "1", "integrity") + value(&m, "1", "malformed") >= 20,
        "{m}"
    );
    assert!(value(&m, "1", "replay") >= 1, "{m}");
    assert!(value(&m, "1", "text_frame") >= 1, "{m}");
    assert!(value(&m, "1", "oversized") >= 1, "{m}");
    assert!(value(&m, "1", "rate_limited") >= 1000, "{m}");
    assert!(
        counter(&m, "sotto_relay_queue_refused_total", "2") >= 2,
        "{m}"
    );
}

/// The resident set of process `pid` in KiB (`VmRSS` in /proc/<pid>/status).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn refused(metrics: &str, relay: &str, reason: &str) -> u64 {
    let needle = format!("sotto_relay_refused_total{{relay=\"{relay}\",reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&needle))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// One request to the queue service at the end of `route`, and its answer.
async fn ask(
    gw: &mut Gateway,
    rng: &mut ChaCha20Rng,
    (route, back): (&[onion::Hop], &[onion::Hop]),
    command: Command,
    signer: Option<&AuthKeyPair>,
) -> ResponseBody {
    let (frame, opener, _) = gw.packet(rng, route, back, command, signer);
    gw.sink.send(Message::binary(frame)).await.unwrap();
    gw.answer(&opener).await.body
}

/// A Create with a proof of work of `bits`; returns the key and the answer.
async fn create(
    gw: &mut Gateway,
    rng: &mut ChaCha20Rng,
    (route, back): (&[onion::Hop], &[onion::Hop]),
    bits: u8,
) -> (AuthKeyPair, ResponseBody) {
    let key = AuthKeyPair::generate(rng);
    let (surb, opener) = onion::build_surb(rng, back, gw.tag).unwrap();
    // Work for the route's last relay, at the first key epoch of a fresh dev network.
    let scope = Scope {
        relay: route.last().unwrap().id,
        key_epoch: sotto_proto::client::FIRST_KEY_EPOCH,
    };
    let payload = Request::create(gw.next_id, surb, &key, net::now(), bits, &scope).unwrap();
    gw.next_id += 1;
    let packet = onion::build_forward(rng, route, &payload).unwrap();
    gw.sink
        .send(Message::binary(ClientFrame::Packet(packet).encode()))
        .await
        .unwrap();
    let body = gw.answer(&opener).await.body;
    (key, body)
}

/// Bounded floods against a relay with small relay-wide caps: SURBs (Subscribe and Ack), queue
/// creations and blob chunks. Each is refused with QUOTA and counted under its reason in
/// /metrics, the relay's memory stays bounded, and a conversation set up before goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_hit_the_relay_wide_caps_and_a_conversation_goes_on() {
    const MAX_QUEUES: usize = 12;
    const MAX_SURBS: usize = 40;
    const MAX_CHUNKS: usize = 100;
    let caps = tempfile::tempdir().unwrap();
    let caps_file = caps.path().join("service.toml");
    std::fs::write(
        &caps_file,
        format!(
            "max_queues = {MAX_QUEUES}\nmax_surbs = {MAX_SURBS}\nmax_surbs_per_queue = 12\n\
             max_blob_chunks_total = {MAX_CHUNKS}\n"
        ),
    )
    .unwrap();
    let dev = common::start(&[
        "--relays",
        "5",
        "--ephemeral",
        "--pow-bits",
        "4",
        "--service-config",
        caps_file.to_str().unwrap(),
    ]);
    let pid = dev.child.id();
    let dir = net::directory(&dev.http).await;
    let (mut people, _tx, mut inbox, mut rng) = net::pair(&dir, 0x0F10_0D00, [0, 3]).await;
    let rss_before = rss_kib(pid);

    // The floods go from relay 1 (our gateway) to the queue service of relay 2.
    let (h1, h2) = (dir[0].0, dir[1].0);
    let (route, back) = ([h1, h2], [h2, h1]);
    let path = (&route[..], &back[..]);
    let mut gw = Gateway::connect(&dir[0].1, &mut rng).await;
    let started = std::time::Instant::now();

    // SURBs: five queues subscribe with the most SURBs a Subscribe carries (9), over and
    // over; only what fits under the relay's cap is held, renewals of held sets still fit.
    let mut owners = Vec::new();
    for _ in 0..5 {
        let (key, body) = create(&mut gw, &mut rng, path, 4).await;
        let ResponseBody::Ids { recipient_id, .. } = body else {
            panic!("create: {body:?}");
        };
        owners.push((key, recipient_id));
    }
    let mut surbs_refused = 0u64;
    for round in 0..40 {
        let (key, recipient_id) = &owners[round % owners.len()];
        let surbs = (0..9)
            .map(|_| onion::build_surb(&mut rng, &back, gw.tag).unwrap().0)
            .collect();
        let command = Command::Subscribe {
            recipient_id: *recipient_id,
            surbs,
        };
        match ask(&mut gw, &mut rng, path, command, Some(key)).await {
            ResponseBody::Ok => {}
            ResponseBody::Error(ErrorCode::Quota) => surbs_refused += 1,
            other => panic!("subscribe: {other:?}"),
        }
    }
    assert!(surbs_refused >= 8, "{surbs_refused} subscriptions refused");
    // Acks of messages the queue never had, each with 9 SURBs: answered NoMessage, none kept.
    let (key, recipient_id) = &owners[0];
    for i in 0..200u32 {
        let surbs = (0..9)
            .map(|_| onion::build_surb(&mut rng, &back, gw.tag).unwrap().0)
            .collect();
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&i.to_be_bytes());
        let command = Command::Ack {
            recipient_id: *recipient_id,
            message_id: sotto_proto::queue::QueueMessageId::from_bytes(id),
            surbs,
            quiet: false,
        };
        let body = ask(&mut gw, &mut rng, path, command, Some(key)).await;
        assert_eq!(body, ResponseBody::Error(ErrorCode::NoMessage));
    }

    // Queues: Creates beyond the cap (the dev relay asks for 4 bits of work).
    let mut queues_refused = 0u64;
    for _ in 0..3 * MAX_QUEUES {
        match create(&mut gw, &mut rng, path, 4).await.1 {
            ResponseBody::Ids { .. } => {}
            ResponseBody::Error(ErrorCode::Quota) => queues_refused += 1,
            other => panic!("create: {other:?}"),
        }
    }
    assert!(queues_refused >= 2 * MAX_QUEUES as u64, "{queues_refused}");

    // Blob chunks: full-size chunks beyond the relay's cap; what is stored is still served.
    let blob = BlobId::random(&mut rng);
    let chunk = vec![0xa5u8; QUEUE_MESSAGE_SIZE];
    // One piece of work pays for the blob (at h2, 4 bits as the dev network asks).
    let at_h2 = Scope {
        relay: h2.id,
        key_epoch: sotto_proto::client::FIRST_KEY_EPOCH,
    };
    let pow_nonce =
        sotto_proto::pow::solve(&sotto_proto::queue::blob_challenge(&at_h2, &blob), 4).unwrap();
    let mut chunks_refused = 0;
    for index in 0..(MAX_CHUNKS + MAX_CHUNKS / 2) as u32 {
        let command = Command::BlobPut {
            blob_id: blob,
            index,
            pow_nonce,
            data: chunk.clone(),
        };
        match ask(&mut gw, &mut rng, path, command, None).await {
            ResponseBody::Ok => {}
            ResponseBody::Error(ErrorCode::Quota) => chunks_refused += 1,
            other => panic!("blob put {index}: {other:?}"),
        }
    }
    assert!(chunks_refused >= MAX_CHUNKS / 2, "{chunks_refused}");
    let command = Command::BlobGet {
        blob_id: blob,
        index: 0,
    };
    assert_eq!(
        ask(&mut gw, &mut rng, path, command, None).await,
        ResponseBody::BlobChunk {
            index: 0,
            data: chunk
        }
    );
    let flood_time = started.elapsed();

    // Every refusal is counted under its reason; the gauges stay under the caps.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let m = metrics(&dev.http).await;
    assert_eq!(refused(&m, "2", "surbs"), surbs_refused, "{m}");
    assert_eq!(refused(&m, "2", "queues"), queues_refused, "{m}");
    assert_eq!(
        refused(&m, "2", "blob_chunks"),
        chunks_refused as u64,
        "{m}"
    );
    assert!(
        counter(&m, "sotto_relay_surbs_held", "2") <= MAX_SURBS as u64,
        "{m}"
    );
    assert_eq!(
        counter(&m, "sotto_relay_queues", "2"),
        MAX_QUEUES as u64,
        "{m}"
    );
    assert_eq!(
        counter(&m, "sotto_relay_blob_chunks", "2"),
        MAX_CHUNKS as u64,
        "{m}"
    );
    let rss_after = rss_kib(pid);
    eprintln!(
        "floods took {flood_time:?}; relay process VmRSS {rss_before} KiB before, {rss_after} KiB after"
    );
    assert!(
        rss_after < rss_before + 256 * 1024,
        "{rss_before} → {rss_after} KiB"
    );

    // The conversation set up before the floods still delivers, both ways.
    for (who, p) in ["alice", "bob"].iter().zip(people.iter_mut()) {
        let contact = p.contact.unwrap();
        for i in 0..3 {
            p.net
                .client
                .send_text(&mut rng, contact, &format!("{who}-{i}"), net::now())
                .unwrap();
        }
    }
    let ok = net::drive(
        &mut people,
        &mut inbox,
        &mut rng,
        Duration::from_secs(60),
        |_, _| {},
        |people| people.iter().all(|p| p.received.len() >= 3),
    )
    .await;
    assert!(
        ok,
        "after the floods: Alice got {:?}, Bob got {:?}; failures {:?} {:?}",
        people[0].received, people[1].received, people[0].failures, people[1].failures
    );
}

/// `sotto_relay_pow_bits` of `relay`, polled until `done` holds or `secs` pass.
async fn pow_bits_until(http: &str, relay: &str, secs: u64, done: impl Fn(u64) -> bool) -> u64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let bits = counter(&metrics(http).await, "sotto_relay_pow_bits", relay);
        if done(bits) || std::time::Instant::now() > deadline {
            return bits;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A flood of paid queue creations raises the difficulty the relay asks for (its gauge and
/// its directory entry); work at the old difficulty is answered PowRequired with the new one;
/// once the flood stops the difficulty falls back to the floor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_paid_creates_raises_the_difficulty_until_it_stops() {
    let config = tempfile::tempdir().unwrap();
    let file = config.path().join("service.toml");
    std::fs::write(
        &file,
        "admission_rate = 5\nadmission_window_secs = 2\nmax_pow_bits = 8\n",
    )
    .unwrap();
    let dev = common::start(&[
        "--relays",
        "2",
        "--ephemeral",
        "--pow-bits",
        "4",
        "--service-config",
        file.to_str().unwrap(),
    ]);
    let dir = net::directory(&dev.http).await;
    let (h1, h2) = (dir[0].0, dir[1].0);
    let (route, back) = ([h1, h2], [h2, h1]);
    let path = (&route[..], &back[..]);
    let mut rng = ChaCha20Rng::seed_from_u64(0xF100D);
    let mut gw = Gateway::connect(&dir[0].1, &mut rng).await;
    assert_eq!(pow_bits_until(&dev.http, "2", 0, |_| true).await, 4);

    // 30 queue creations with good work, as fast as the relay answers: over the rate of 5
    // per 2 s window by far.
    for i in 0..30 {
        let bits = counter(&metrics(&dev.http).await, "sotto_relay_pow_bits", "2");
        let (_, body) = create(&mut gw, &mut rng, path, bits as u8).await;
        assert!(
            matches!(
                body,
                ResponseBody::Ids { .. } | ResponseBody::PowRequired { .. }
            ),
            "create {i}: {body:?}"
        );
    }
    let raised = pow_bits_until(&dev.http, "2", 5, |b| b > 4).await;
    assert!((5..=8).contains(&raised), "pow_bits {raised}");
    let relays = sotto_loadgen::driver::fetch_relays(&format!("{}/directory.json", dev.http))
        .await
        .unwrap();
    assert!(relays[1].pow_bits.unwrap() > 4, "{:?}", relays[1].pow_bits);
    assert_eq!(
        relays[0].pow_bits,
        Some(4),
        "the other relay was not flooded"
    );

    // Work at the floor is now short: answered with the bits asked for (a few tries, as
    // 4-bit work meets more bits now and then).
    let mut asked = None;
    for _ in 0..12 {
        if let (_, ResponseBody::PowRequired { bits }) = create(&mut gw, &mut rng, path, 4).await {
            asked = Some(bits);
            break;
        }
    }
    let asked = asked.expect("a PowRequired answer");
    assert!(asked > 4 && asked <= 8, "{asked}");
    let m = metrics(&dev.http).await;
    assert!(by_code(&m, "2", "pow") >= 1, "{m}");

    // Quiet: one bit down per 2 s window, back to the floor.
    assert_eq!(pow_bits_until(&dev.http, "2", 20, |b| b == 4).await, 4);
}
