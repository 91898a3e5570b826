//! `sotto-relay dev` as a user runs it: the HTTP endpoints, the static files and their
//! headers, WebSocket framing errors, start-up errors and graceful shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::TcpListener;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

async fn get(url: &str) -> reqwest::Response {
    reqwest::Client::new().get(url).send().await.unwrap()
}

#[tokio::test]
async fn serves_health_directory_metrics_and_the_pwa() {
    let root = tempfile::tempdir().unwrap();
    common::web_root(root.path());
    let dev = common::start(&[
        "--relays",
        "3",
        "--ephemeral",
        "--web-root",
        root.path().to_str().unwrap(),
    ]);
    assert_eq!(dev.relay_urls.len(), 3);

    let health = get(&dev.url("/healthz")).await;
    assert_eq!(health.status(), 200);
    let health: serde_json::Value = serde_json::from_str(&health.text().await.unwrap()).unwrap();
    assert_eq!(health["status"], "ok");
    let relays = health["relays"].as_array().unwrap();
    assert_eq!(relays.len(), 3);
    assert!(relays.iter().all(|r| r["up"] == true));

    let dir: serde_json::Value =
        serde_json::from_str(&get(&dev.url("/directory.json")).await.text().await.unwrap())
            .unwrap();
    assert_eq!(dir["version"], 2);
    assert_eq!(dir["signatures"].as_array().unwrap().len(), 3);
    let entries = dir["relays"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    for (entry, url) in entries.iter().zip(&dev.relay_urls) {
        assert_eq!(entry["url"].as_str().unwrap(), url);
        let id = URL_SAFE_NO_PAD
            .decode(entry["id"].as_str().unwrap())
            .unwrap();
        let key = URL_SAFE_NO_PAD
            .decode(entry["sphinx_key"].as_str().unwrap())
            .unwrap();
        assert_eq!((id.len(), key.len()), (32, 32));
        assert_eq!(entry["key_epoch"], 1);
    }

    let index = get(&dev.url("/")).await;
    assert_eq!(index.status(), 200);
    let csp = index.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
        "{csp}"
    );
    for url in &dev.relay_urls {
        assert!(csp.contains(url.as_str()), "{csp} lacks {url}");
    }
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(index.headers()["cache-control"], "no-cache");

    let sw = get(&dev.url("/web/sw.js")).await;
    assert_eq!(sw.status(), 200);
    assert_eq!(sw.headers()["service-worker-allowed"], "/");
    assert!(
        sw.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let wasm = get(&dev.url("/pkg/sotto_bg.wasm")).await;
    assert_eq!(wasm.headers()["content-type"], "application/wasm");
    let manifest = get(&dev.url("/web/manifest.webmanifest")).await;
    assert_eq!(
        manifest.headers()["content-type"],
        "application/manifest+json"
    );

    // Nothing outside index.html, web/ and pkg/ is reachable, however the path is spelled.
    for path in [
        "/secret.txt",
        "/web/../secret.txt",
        "/web/%2e%2e/secret.txt",
        "/pkg/..%2fsecret.txt",
        "/web//etc/passwd",
    ] {
        let resp = get(&dev.url(path)).await;
        assert!(
            resp.status().is_client_error(),
            "{path} gave {}",
            resp.status()
        );
    }

    let metrics = get(&dev.url("/metrics")).await.text().await.unwrap();
    assert!(metrics.contains("sotto_relay_packets_received_total{relay=\"1\"} 0"));
}

#[tokio::test]
async fn websocket_framing_errors_are_typed_and_counted() {
    let dev = common::start(&["--relays", "1", "--ephemeral"]);
    let url = &dev.relay_urls[0];

    // A binary frame of the wrong size: a text error frame, and the connection stays open.
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    ws.send(Message::binary(vec![0x01u8; 100])).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let Message::Text(text) = reply else {
        panic!("expected a text error frame, got {reply:?}")
    };
    let err: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
    assert_eq!(err["error"], "bad_frame");
    // Binding a connection tag is silent.
    let mut bind = vec![0x02u8];
    bind.extend_from_slice(&[7u8; 16]);
    ws.send(Message::binary(bind)).await.unwrap();
    // A text frame: closed with 1003.
    ws.send(Message::text("hello")).await.unwrap();
    let mut close_code = None;
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        match msg {
            Ok(Message::Close(frame)) => {
                close_code = frame.map(|f| f.code);
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert_eq!(close_code, Some(CloseCode::Unsupported));

    // An oversized frame: closed with 1009, and the relay keeps serving.
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let _ = ws.send(Message::binary(vec![0u8; 200 * 1024])).await;
    let mut close_code = None;
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        match msg {
            Ok(Message::Close(frame)) => {
                close_code = frame.map(|f| f.code);
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert_eq!(close_code, Some(CloseCode::Size));

    // A well-sized packet of garbage is dropped silently (no oracle) and counted.
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let mut frame = vec![0x01u8];
    frame.extend(std::iter::repeat_n(0x42u8, sotto_proto::sizes::PACKET_SIZE));
    ws.send(Message::binary(frame)).await.unwrap();

    let health = get(&dev.url("/healthz")).await;
    assert_eq!(health.status(), 200);
    let mut metrics = String::new();
    for _ in 0..50 {
        metrics = get(&dev.url("/metrics")).await.text().await.unwrap();
        // The packet is counted on arrival and its drop once the relay's node processed it.
        if metrics.contains("sotto_relay_packets_received_total{relay=\"1\"} 1")
            && (metrics.contains("reason=\"integrity\"} 1")
                || metrics.contains("reason=\"malformed\"} 1"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for needle in [
        "reason=\"bad_frame\"} 1",
        "reason=\"text_frame\"} 1",
        "reason=\"oversized\"} 1",
        "sotto_relay_packets_received_total{relay=\"1\"} 1",
    ] {
        assert!(
            metrics.contains(needle),
            "metrics lack {needle}:\n{metrics}"
        );
    }
    let dropped_bad_packet =
        metrics.contains("reason=\"integrity\"} 1") || metrics.contains("reason=\"malformed\"} 1");
    assert!(dropped_bad_packet, "{metrics}");
}

#[test]
fn a_busy_port_is_a_one_line_error() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let (status, _out, err) = common::run_to_end(&[
        "dev",
        "--relays",
        "1",
        "--ephemeral",
        "--ws-base-port",
        &port,
        "--http",
        "127.0.0.1:0",
    ]);
    assert!(!status.success());
    assert!(
        err.starts_with("sotto-relay: error: cannot listen on 127.0.0.1:"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(!err.contains("panicked"));

    let (status, _out, err) = common::run_to_end(&[
        "dev",
        "--relays",
        "1",
        "--ephemeral",
        "--ws-base-port",
        "0",
        "--http",
        &format!("127.0.0.1:{port}"),
    ]);
    assert!(!status.success());
    assert!(
        err.starts_with("sotto-relay: error: cannot listen on"),
        "{err}"
    );
}

#[test]
fn a_key_overlap_shorter_than_the_clients_reread_margin_is_refused_at_start() {
    let (status, _out, err) = common::run_to_end(&[
        "dev",
        "--relays",
        "1",
        "--ephemeral",
        "--ws-base-port",
        "0",
        "--http",
        "127.0.0.1:0",
        "--key-epoch-secs",
        "40",
        "--key-overlap-secs",
        "9",
    ]);
    assert!(!status.success());
    assert!(
        err.starts_with("sotto-relay: error:") && err.contains("key overlap must be at least 10 s"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(!err.contains("panicked"));
}

#[test]
fn an_unusable_data_dir_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let (status, _out, err) = common::run_to_end(&[
        "dev",
        "--relays",
        "1",
        "--ws-base-port",
        "0",
        "--http",
        "127.0.0.1:0",
        "--data-dir",
        file.join("state").to_str().unwrap(),
    ]);
    assert!(!status.success());
    assert!(
        err.starts_with("sotto-relay: error: data directory"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn unknown_flags_are_rejected_by_clap() {
    let (status, _out, err) = common::run_to_end(&["dev", "--no-such-flag"]);
    assert_eq!(status.code(), Some(2));
    assert!(err.contains("--no-such-flag"));
    let (status, _, _) = common::run_to_end(&["dev", "--ephemeral", "--data-dir", "/tmp/x"]);
    assert_eq!(status.code(), Some(2));
}

#[test]
fn sigterm_exits_zero_and_frees_the_ports() {
    let mut dev = common::start(&["--relays", "2", "--ephemeral"]);
    let http_port = common::port_of(&dev.http);
    let relay_ports: Vec<u16> = dev.relay_urls.iter().map(|u| common::port_of(u)).collect();
    let status = dev.terminate();
    assert_eq!(status.code(), Some(0));
    for port in std::iter::once(http_port).chain(relay_ports) {
        TcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("port {port} still busy: {e}"));
    }
}

#[tokio::test]
async fn a_restart_keeps_the_relays_identities() {
    let data = tempfile::tempdir().unwrap();
    let args = ["--relays", "2", "--data-dir", data.path().to_str().unwrap()];
    let mut dev = common::start(&args);
    let first: serde_json::Value =
        serde_json::from_str(&get(&dev.url("/directory.json")).await.text().await.unwrap())
            .unwrap();
    assert_eq!(dev.terminate().code(), Some(0));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = data.path().join("relay-1").join("relay.key");
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let dev = common::start(&args);
    let second: serde_json::Value =
        serde_json::from_str(&get(&dev.url("/directory.json")).await.text().await.unwrap())
            .unwrap();
    for (a, b) in first["relays"]
        .as_array()
        .unwrap()
        .iter()
        .zip(second["relays"].as_array().unwrap())
    {
        assert_eq!(a["id"], b["id"]);
        assert_eq!(a["sphinx_key"], b["sphinx_key"]);
        // The relay's descriptor-signing identity key survives too.
        assert_eq!(a["identity_key"], b["identity_key"]);
    }
    // So do the dev authorities' keys.
    let keys = |d: &serde_json::Value| {
        let mut k: Vec<String> = d["signatures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["key"].as_str().unwrap().to_owned())
            .collect();
        k.sort();
        k
    };
    assert_eq!(keys(&first), keys(&second));
}
