//! `sotto-relay run --config relay.toml`: one production relay.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::net::{self, Person};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use tokio::sync::mpsc;

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
async fn one_relay_serves_a_conversation_and_stops_on_sigterm() {
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

    // Every route is this one relay, three times: packets to itself are processed in place.
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let (tx, mut inbox) = mpsc::unbounded_channel();
    let mut people = vec![
        Person::new("Alice", &mut rng, &directory, 0, net::test_config()),
        Person::new("Bob", &mut rng, &directory, 0, net::test_config()),
    ];
    for (i, p) in people.iter_mut().enumerate() {
        let url = directory[0].1.clone();
        p.connect(i, &url, &tx, &mut rng).await;
    }
    net::introduce(&mut people, &mut inbox, &mut rng).await;
    let contact = people[1].contact.unwrap();
    for i in 0..20 {
        people[1]
            .client
            .send_text(&mut rng, contact, &format!("bob-{i}"), net::now())
            .unwrap();
    }
    let ok = net::drive(
        &mut people,
        &mut inbox,
        &mut rng,
        Duration::from_secs(60),
        |_, _| {},
        |p| p[0].received.len() >= 20,
    )
    .await;
    assert!(ok, "Alice got {}", people[0].received.len());
    let want: Vec<String> = (0..20).map(|i| format!("bob-{i}")).collect();
    assert_eq!(people[0].received, want);

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
