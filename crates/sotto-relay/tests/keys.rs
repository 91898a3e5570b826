//! Sphinx key rotation and the durable replay cache, through a real `sotto-relay dev`:
//! the directory publishes each rotation (with the previous key during the overlap); a packet
//! built for the previous key is processed during the overlap and dropped after it; a replayed
//! packet is dropped after the relay was killed and restarted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::net;
use common::raw::Gateway;
use futures_util::{SinkExt, StreamExt};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sotto_proto::ids::QueueId;
use sotto_proto::keys::{AuthKeyPair, PublicKey};
use sotto_proto::onion::{GatewayFrame, Hop, SurbOpener};
use sotto_proto::queue::{Command, ErrorCode, ResponseBody};
use sotto_proto::sizes::QUEUE_MESSAGE_SIZE;
use tokio_tungstenite::tungstenite::Message;

async fn directory_doc(http: &str) -> serde_json::Value {
    let text = reqwest::get(format!("{http}/directory.json"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

async fn metric(http: &str, line_prefix: &str) -> u64 {
    let text = reqwest::get(format!("{http}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(line_prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn key(v: &serde_json::Value) -> PublicKey {
    let bytes = URL_SAFE_NO_PAD.decode(v.as_str().unwrap()).unwrap();
    PublicKey::from_bytes(bytes.try_into().unwrap())
}

/// A request the relay answers without any state: a Send to a queue that does not exist.
fn probe(gw: &mut Gateway, rng: &mut ChaCha20Rng, route: Hop, back: Hop) -> (Vec<u8>, SurbOpener) {
    let stranger = AuthKeyPair::generate(rng);
    let command = Command::Send {
        sender_id: QueueId::random(rng),
        message: vec![0u8; QUEUE_MESSAGE_SIZE],
    };
    let (frame, opener, _) = gw.packet(rng, &[route], &[back], command, Some(&stranger));
    (frame, opener)
}

/// Whether an answer for `opener` arrives within `wait`.
async fn answered(gw: &mut Gateway, opener: &SurbOpener, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, gw.stream.next()).await {
        if let Message::Binary(bytes) = msg
            && let Ok(GatewayFrame::Reply { surb_id, .. }) = GatewayFrame::decode(&bytes)
            && surb_id == opener.id()
        {
            return true;
        }
    }
    false
}

/// Polls the directory until `pred` holds for relay 0's entry (at most `wait`).
async fn wait_for_entry(
    http: &str,
    wait: Duration,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + wait;
    loop {
        let doc = directory_doc(http).await;
        let entry = doc["relays"][0].clone();
        if pred(&entry) {
            return entry;
        }
        assert!(
            Instant::now() < deadline,
            "directory never showed it: {entry}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_previous_key_works_during_the_overlap_and_not_after() {
    let data = tempfile::tempdir().unwrap();
    let dir_arg = data.path().to_str().unwrap().to_owned();
    let args = [
        "--relays",
        "1",
        "--data-dir",
        dir_arg.as_str(),
        "--key-epoch-secs",
        "20",
        "--key-overlap-secs",
        "10",
        "--pow-bits",
        "3",
    ];
    let dev = common::start(&args);
    let first = directory_doc(&dev.http).await["relays"][0].clone();
    assert_eq!(first["pow_bits"], 3, "{first}");
    let epoch0 = first["key_epoch"].as_u64().unwrap();
    let key0 = key(&first["sphinx_key"]);
    assert!(first["key_rotates_at"].as_u64().unwrap() > net::now().saturating_sub(21));
    let id = net::directory(&dev.http).await[0].0.id;
    let url = dev.relay_urls[0].clone();
    let old = Hop { id, key: key0 };
    let mut rng = ChaCha20Rng::seed_from_u64(0xE90C);
    let mut gw = Gateway::connect(&url, &mut rng).await;
    let (frame, opener) = probe(&mut gw, &mut rng, old, old);
    gw.sink.send(Message::binary(frame)).await.unwrap();
    assert!(answered(&mut gw, &opener, Duration::from_secs(10)).await);

    // The relay rotates: the directory shows the new key and, during the overlap, the old one.
    let rotated = wait_for_entry(&dev.http, Duration::from_secs(25), |e| {
        e["key_epoch"].as_u64() == Some(epoch0 + 1)
    })
    .await;
    let key1 = key(&rotated["sphinx_key"]);
    assert_ne!(key1, key0);
    assert_eq!(
        key(&rotated["previous_key"]["sphinx_key"]),
        key0,
        "{rotated}"
    );
    assert_eq!(rotated["previous_key"]["key_epoch"].as_u64(), Some(epoch0));
    let new = Hop { id, key: key1 };

    // During the overlap a packet built for the previous key is still processed (its reply
    // SURB uses the new key).
    let (frame, opener) = probe(&mut gw, &mut rng, old, new);
    gw.sink.send(Message::binary(frame)).await.unwrap();
    assert!(
        answered(&mut gw, &opener, Duration::from_secs(10)).await,
        "a packet for the previous key was dropped during the overlap"
    );

    // After the overlap (and before the next rotation) the old key is gone.
    let after = wait_for_entry(&dev.http, Duration::from_secs(15), |e| {
        e["previous_key"].is_null()
    })
    .await;
    assert_eq!(after["key_epoch"].as_u64(), Some(epoch0 + 1), "{after}");
    let integrity = "sotto_relay_dropped_total{relay=\"1\",reason=\"integrity\"} ";
    let dropped_before = metric(&dev.http, integrity).await;
    let (frame, opener) = probe(&mut gw, &mut rng, old, new);
    gw.sink.send(Message::binary(frame)).await.unwrap();
    assert!(
        !answered(&mut gw, &opener, Duration::from_secs(2)).await,
        "a packet for a retired key was processed"
    );
    assert_eq!(metric(&dev.http, integrity).await, dropped_before + 1);
    // The current key works.
    let (frame, opener) = probe(&mut gw, &mut rng, new, new);
    gw.sink.send(Message::binary(frame)).await.unwrap();
    assert!(answered(&mut gw, &opener, Duration::from_secs(10)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_is_dropped_after_a_crash_and_restart() {
    let data = tempfile::tempdir().unwrap();
    let dir_arg = data.path().to_str().unwrap().to_owned();
    let args = ["--relays", "1", "--data-dir", dir_arg.as_str()];
    let mut dev = common::start(&args);
    let (hop, url) = net::directory(&dev.http).await[0].clone();
    let mut rng = ChaCha20Rng::seed_from_u64(0x4E91A1);
    let mut gw = Gateway::connect(&url, &mut rng).await;
    let (frame, opener) = probe(&mut gw, &mut rng, hop, hop);
    gw.sink.send(Message::binary(frame.clone())).await.unwrap();
    let answer = gw.answer(&opener).await;
    assert_eq!(answer.body, ResponseBody::Error(ErrorCode::NoQueue));
    // Tags are synced to disk on the relay's tick, once a second; then it is killed.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    dev.kill();

    let dev = common::start(&args);
    let (hop2, url2) = net::directory(&dev.http).await[0].clone();
    assert_eq!(hop2, hop, "the relay's id and key survive the restart");
    let mut gw2 = Gateway::connect(&url2, &mut rng).await;
    // Make sure the new connection is bound before the replay (its reply would come here).
    gw2.sink
        .send(Message::binary(
            sotto_proto::onion::ClientFrame::Bind(gw.tag).encode(),
        ))
        .await
        .unwrap();
    gw2.sink.send(Message::binary(frame)).await.unwrap();
    assert!(
        !answered(&mut gw2, &opener, Duration::from_secs(3)).await,
        "a replayed packet was processed after the restart"
    );
    let replays = "sotto_relay_dropped_total{relay=\"1\",reason=\"replay\"} ";
    assert_eq!(metric(&dev.http, replays).await, 1);
    // A fresh packet is processed.
    let (frame, opener) = probe(&mut gw2, &mut rng, hop, hop);
    gw2.sink.send(Message::binary(frame)).await.unwrap();
    assert!(answered(&mut gw2, &opener, Duration::from_secs(10)).await);
}
