//! Two native clients built on `sotto-proto` talk through a real `sotto-relay dev` network of
//! five relays: three hops each way, in order, exactly once; and across a relay crash.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::net::{self};

/// Messages each way: the 1,000 by default (about 90 s in a debug build on a loaded
/// two-core machine); `SOTTO_TEST_MESSAGES=150` for a quicker run.
fn messages() -> usize {
    std::env::var("SOTTO_TEST_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// How long the delivery of `n` messages each way may take: 90 s, more for long runs.
fn allowance(n: usize) -> Duration {
    Duration::from_secs(90.max(n as u64 / 3))
}

fn expect(who: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{who}-{i}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_exchange_messages_in_order_exactly_once() {
    let n = messages();
    let dev = common::start(&["--relays", "5", "--ephemeral"]);
    let dir = net::directory(&dev.http).await;
    assert_eq!(dir.len(), 5);
    let (mut people, _tx, mut inbox, mut rng) = net::pair(&dir, 0x5077_0001, [0, 3]).await;

    for i in 0..n {
        for (who, p) in ["alice", "bob"].iter().zip(people.iter_mut()) {
            let contact = p.contact.unwrap();
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
        allowance(n),
        |_, _| {},
        |people| {
            people
                .iter()
                .all(|p| p.received.len() >= n && p.sent_confirmed >= n)
        },
    )
    .await;
    assert!(
        ok,
        "not all delivered: Alice got {}, Bob got {}, confirmed {} / {}",
        people[0].received.len(),
        people[1].received.len(),
        people[0].sent_confirmed,
        people[1].sent_confirmed
    );
    assert_eq!(people[1].received, expect("alice", n));
    assert_eq!(people[0].received, expect("bob", n));
    assert!(
        people.iter().all(|p| p.failures.is_empty()),
        "failure events: Alice {:?}, Bob {:?}",
        people[0].failures,
        people[1].failures
    );

    // The traffic really went through the relays, and the gateways pushed replies: at least
    // as many ratchet messages as the texts need when batched as fully as a batch allows
    // (several texts share one message, PROTOCOL.md §5), each at least three forwarded
    // packet-hops and one reply.
    let least = 2 * n.div_ceil(sotto_proto::envelope::batch::MAX_BATCH) as u64;
    assert!(net::metric(&dev.http, "sotto_relay_packets_forwarded_total").await > 3 * least);
    assert!(net::metric(&dev.http, "sotto_relay_replies_to_client_total").await > least);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_message_survives_a_relay_crash() {
    // Enough to crash mid-flight; the exchange test above carries the long conversation.
    let n = messages().min(150);
    let data = tempfile::tempdir().unwrap();
    let data_arg = data.path().to_str().unwrap().to_owned();
    let args = ["--relays", "5", "--data-dir", data_arg.as_str()];
    let mut dev = common::start(&args);
    let dir = net::directory(&dev.http).await;
    let (mut people, tx, mut inbox, mut rng) = net::pair(&dir, 0x5077_0002, [1, 4]).await;

    // Alice writes; Bob is offline-ish: he is connected, but we crash the relays mid-flight.
    let contact = people[0].contact.unwrap();
    for i in 0..n {
        people[0]
            .net
            .client
            .send_text(&mut rng, contact, &format!("alice-{i}"), net::now())
            .unwrap();
    }
    let crash_after = n / 3;
    let ok = net::drive(
        &mut people,
        &mut inbox,
        &mut rng,
        Duration::from_secs(60),
        |_, _| {},
        |people| people[0].sent_confirmed >= crash_after,
    )
    .await;
    assert!(
        ok,
        "only {} stored before the crash",
        people[0].sent_confirmed
    );
    dev.kill();
    let confirmed_before_crash = people[0].sent_confirmed;
    let received_before_crash = people[1].received.len();
    eprintln!("crash: {confirmed_before_crash} stored, {received_before_crash} received before it");

    // Restart on the same data directory: same ids and keys (new ports, so clients re-read
    // the directory and reconnect, as a browser would).
    let dev = common::start(&args);
    let dir2 = net::directory(&dev.http).await;
    for ((a, _), (b, _)) in dir.iter().zip(&dir2) {
        assert_eq!(a, b, "relay identity changed across restart");
    }
    // The old sockets' ends may be reported after the new sockets opened: a client ignores
    // the end of a socket older than its latest (NativeClient::disconnected).
    for (i, p) in people.iter_mut().enumerate() {
        let url = dir2[p.gateway].1.clone();
        p.connect(i, &url, &tx, &mut rng).await;
    }
    let ok = net::drive(
        &mut people,
        &mut inbox,
        &mut rng,
        allowance(n),
        |_, _| {},
        |people| people[1].received.len() >= n && people[0].sent_confirmed >= n,
    )
    .await;
    assert!(
        ok,
        "after the crash Bob has {} of {n} (had {received_before_crash}, {confirmed_before_crash} confirmed before the crash)",
        people[1].received.len()
    );
    // Every message Alice was told was stored arrived; in fact all did, in order, once.
    assert_eq!(people[1].received, expect("alice", n));
}
