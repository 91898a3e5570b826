//! `sotto-relay run --config relay.toml`: one production relay.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::net::{self};
use common::raw::Gateway;
use futures_util::SinkExt;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sotto_proto::keys::AuthKeyPair;
use sotto_proto::onion::{self, ClientFrame};
use sotto_proto::queue::{BlobId, Command as Cmd, ErrorCode, Request, ResponseBody};
use sotto_proto::sizes::QUEUE_MESSAGE_SIZE;
use sotto_relay::actor::STORE_FILE;
use sotto_relay::store::RedbStore;
use tokio_tungstenite::tungstenite::Message;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Running {
    child: std::process::Child,
    http: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn start(config: &std::path::Path, env: &[(&str, &str)]) -> Running {
    let mut child = Command::new(common::BIN)
        .arg("run")
        .arg("--config")
        .arg(config)
        .envs(env.iter().copied())
        .env("SOTTO_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(
        first.starts_with("relay listening on 127.0.0.1:"),
        "{first}"
    );
    let second = lines.next().unwrap().unwrap();
    let http = second
        .strip_prefix("relay endpoints at ")
        .unwrap()
        .to_owned();
    std::thread::spawn(move || for _ in lines {});
    Running { child, http }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_relay_serves_its_directory_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:1\"\npublic_url = \"ws://127.0.0.1:{port}\"\n\
             data_dir = \"{}\"\nhttp = \"127.0.0.1:0\"\n[limits]\nmax_connections = 64\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    // The environment overrides the file's (unusable) listen address.
    let listen = format!("127.0.0.1:{port}");
    let mut relay = start(&config, &[("SOTTO_LISTEN", listen.as_str())]);

    let health = reqwest::get(format!("{}/healthz", relay.http))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let directory = net::directory(&relay.http).await;
    assert_eq!(directory.len(), 1);
    assert_eq!(directory[0].1, format!("ws://127.0.0.1:{port}"));

    // One relay is too few for a route that never repeats a relay and never puts our queues
    // on our gateway: a client refuses such a directory with a clear error (issue 12).
    let hops: Vec<_> = directory.iter().map(|(h, _)| *h).collect();
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let refused = sotto_proto::client::Client::new(
        &mut rng,
        hops,
        directory[0].0.id,
        "Alice",
        sotto_proto::client::ClientConfig::default(),
    );
    assert!(matches!(
        refused,
        Err(sotto_proto::client::ClientError::DirectoryTooSmall { have: 1, .. })
    ));

    common::signal(relay.child.id(), "TERM");
    let status = common::wait_timeout(&mut relay.child, Duration::from_secs(15)).unwrap();
    assert_eq!(status.code(), Some(0));
    TcpListener::bind(("127.0.0.1", port)).unwrap();
}

#[test]
fn a_bad_config_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("relay.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nsurprise = 1\n").unwrap();
    let (status, _, err) = common::run_to_end(&["run", "--config", config.to_str().unwrap()]);
    assert_eq!(status.code(), Some(1));
    assert!(err.starts_with("sotto-relay: error: config: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    let (status, _, err) = common::run_to_end(&["run", "--config", "/nonexistent/relay.toml"]);
    assert_eq!(status.code(), Some(1));
    assert!(err.contains("cannot read /nonexistent/relay.toml"), "{err}");
}

/// Messages nobody acknowledged and blob chunks are swept once past their TTLs (here 2 s,
/// from the config's `[service]` section): gone from `/metrics`' gauges, from the protocol
/// (a BlobGet answers NoBlob) and from the store file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_and_blobs_past_their_ttl_are_swept() {
    const MESSAGES: usize = 5;
    const CHUNKS: u32 = 3;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\npublic_url = \"ws://127.0.0.1:{port}\"\n\
             data_dir = \"{}\"\nhttp = \"127.0.0.1:0\"\n\
             [service]\nmessage_ttl_secs = 2\nblob_ttl_secs = 2\npow_bits = 8\n",
            data.display()
        ),
    )
    .unwrap();
    let mut relay = start(&config, &[]);
    let directory = net::directory(&relay.http).await;
    let (hop, url) = directory[0].clone();
    let route = [hop, hop, hop];
    let mut rng = ChaCha20Rng::seed_from_u64(0xE8_91FE);
    let mut gw = Gateway::connect(&url, &mut rng).await;

    // A queue (Create, Secure) holding MESSAGES unacknowledged messages.
    let owner = AuthKeyPair::generate(&mut rng);
    let (surb, opener) = onion::build_surb(&mut rng, &route, gw.tag).unwrap();
    let scope = sotto_proto::pow::Scope {
        relay: hop.id,
        key_epoch: 1,
    };
    let payload = Request::create(1, surb, &owner, net::now(), 8, &scope).unwrap();
    let packet = onion::build_forward(&mut rng, &route, &payload).unwrap();
    gw.sink
        .send(Message::binary(ClientFrame::Packet(packet).encode()))
        .await
        .unwrap();
    let ResponseBody::Ids { sender_id, .. } = gw.answer(&opener).await.body else {
        panic!("Create refused");
    };
    let sender = AuthKeyPair::generate(&mut rng);
    let mut commands = vec![Cmd::Secure {
        sender_id,
        sender_key: sender.public_key(),
    }];
    for i in 0..MESSAGES {
        commands.push(Cmd::Send {
            sender_id,
            message: vec![i as u8; QUEUE_MESSAGE_SIZE],
        });
    }
    // Blob chunks.
    let blob = BlobId::random(&mut rng);
    let blob_nonce =
        sotto_proto::pow::solve(&sotto_proto::queue::blob_challenge(&scope, &blob), 8).unwrap();
    for index in 0..CHUNKS {
        commands.push(Cmd::BlobPut {
            blob_id: blob,
            index,
            pow_nonce: blob_nonce,
            data: vec![0xb1; 1000],
        });
    }
    for command in commands {
        let signer = (!matches!(command, Cmd::BlobPut { .. })).then_some(&sender);
        let (frame, opener, _) = gw.packet(&mut rng, &route, &route, command, signer);
        gw.sink.send(Message::binary(frame)).await.unwrap();
        assert_eq!(gw.answer(&opener).await.body, ResponseBody::Ok);
    }

    // Swept within a few seconds (TTL 2 s, the sweeper runs every second).
    let expired = |name: &'static str| net::metric(&relay.http, name);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let messages = expired("sotto_relay_queue_messages_expired_total{").await;
        let chunks = expired("sotto_relay_blob_chunks_expired_total{").await;
        let stored = expired("sotto_relay_queue_messages{").await
            + expired("sotto_relay_blob_chunks{").await;
        if messages >= MESSAGES as u64 && chunks >= u64::from(CHUNKS) && stored == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not swept: {messages} messages and {chunks} chunks expired, {stored} left"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (frame, opener, _) = gw.packet(
        &mut rng,
        &route,
        &route,
        Cmd::BlobGet {
            blob_id: blob,
            index: 0,
        },
        None,
    );
    gw.sink.send(Message::binary(frame)).await.unwrap();
    assert_eq!(
        gw.answer(&opener).await.body,
        ResponseBody::Error(ErrorCode::NoBlob)
    );

    common::signal(relay.child.id(), "TERM");
    let status = common::wait_timeout(&mut relay.child, Duration::from_secs(15)).unwrap();
    assert_eq!(status.code(), Some(0));
    let store = RedbStore::open(&data.join(STORE_FILE)).unwrap();
    assert_eq!(store.total_messages().unwrap(), 0);
    assert_eq!(store.total_blob_chunks().unwrap(), 0);
    assert_eq!(store.total_queues().unwrap(), 1, "the queue itself stays");
}
