//! `sotto-relay authority` with a real relay network: it polls the relay's `/descriptor`,
//! signs a directory that a client verifies with the authority's key, and signs again after
//! the relay's key rotates (the new key in a directory that still verifies).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sotto_proto::directory::{DirectoryTrust, SignedDirectory};
use sotto_proto::keys::AuthKeyPair;

const AUTHORITY_HTTP: &str = "127.0.0.1:18339";

async fn signed(url: &str) -> Option<SignedDirectory> {
    let text = reqwest::get(url).await.ok()?.text().await.ok()?;
    SignedDirectory::parse(&text).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authority_signs_what_relays_publish_and_signs_again_after_a_rotation() {
    let data = tempfile::tempdir().unwrap();
    let dir_arg = data.path().join("dev");
    let dir_arg = dir_arg.to_str().unwrap();
    let dev = common::start(&[
        "--relays",
        "1",
        "--data-dir",
        dir_arg,
        "--key-epoch-secs",
        "15",
        "--key-overlap-secs",
        "10",
    ]);
    let key_file = data.path().join("authority.key");
    let config = data.path().join("authority.toml");
    std::fs::write(
        &config,
        format!(
            "key_files = [{key:?}]\nlisten = \"{AUTHORITY_HTTP}\"\nrelays = [\"{http}/descriptor\"]\n\
             poll_secs = 1\nlifetime_secs = 600\n",
            key = key_file.to_str().unwrap(),
            http = dev.http,
        ),
    )
    .unwrap();
    let mut authority = Command::new(common::BIN)
        .args(["authority", "--config", config.to_str().unwrap()])
        .env("SOTTO_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let url = format!("http://{AUTHORITY_HTTP}/directory.json");
    let deadline = Instant::now() + Duration::from_secs(20);
    let first = loop {
        if let Some(d) = signed(&url).await
            && !d.relays.is_empty()
        {
            break d;
        }
        assert!(
            Instant::now() < deadline,
            "the authority never served a directory"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The key file exists now, private; its key is what clients trust.
    let seed: [u8; 32] = std::fs::read(&key_file).unwrap().try_into().unwrap();
    let trust = DirectoryTrust::new(
        vec![AuthKeyPair::from_persisted_bytes(seed).public_key()],
        1,
    )
    .unwrap();
    let now = sotto_loadgen::driver::now();
    let relays = first.verify(&trust, now).unwrap().relays;
    let epoch = relays[0].key_epoch;
    // The same relay as the dev network's own signed directory lists.
    let dev_doc = signed(&dev.url("/directory.json")).await.unwrap();
    assert_eq!(dev_doc.relays[0].relay.id, relays[0].id);
    assert!(first.valid_until >= now + 500);

    // The relay rotates its key within 15 s: the authority signs a directory with the new key.
    let deadline = Instant::now() + Duration::from_secs(30);
    let rotated = loop {
        let d = signed(&url).await.unwrap();
        if d.relays[0].relay.key_epoch > epoch {
            break d;
        }
        assert!(
            Instant::now() < deadline,
            "no directory with the rotated key"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let relays2 = rotated
        .verify(&trust, sotto_loadgen::driver::now())
        .unwrap()
        .relays;
    assert_eq!(relays2[0].key_epoch, epoch + 1);
    assert_ne!(relays2[0].sphinx_key, relays[0].sphinx_key);
    assert_eq!(
        relays2[0].previous_key.map(|p| p.sphinx_key),
        Some(relays[0].sphinx_key)
    );
    // A wrong key refuses it.
    let wrong = DirectoryTrust::new(
        vec![AuthKeyPair::from_persisted_bytes([1; 32]).public_key()],
        1,
    )
    .unwrap();
    assert!(
        rotated
            .verify(&wrong, sotto_loadgen::driver::now())
            .is_err()
    );
    let _ = authority.kill();
    let _ = authority.wait();
}
