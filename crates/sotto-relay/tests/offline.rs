//! Offline recipient: messages sent while the recipient's WebSocket is closed wait in its
//! queue, arrive (in order, once) when it reconnects and subscribes again, and are gone from
//! the relays' stores once it acknowledged them. The texts are long, so that each fills a
//! message alone (short ones would leave batched, many to a message: PROTOCOL.md §5) and the
//! queues hold one message per text.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::net::{self};
use sotto_relay::actor::STORE_FILE;
use sotto_relay::store::RedbStore;

const N: usize = 20;
const RELAYS: usize = 4;

fn text(i: usize) -> String {
    format!("while-away-{i} {}", "x".repeat(2_000))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_wait_for_an_offline_recipient_and_are_deleted_once_acknowledged() {
    let data = tempfile::tempdir().unwrap();
    let data_arg = data.path().to_str().unwrap().to_owned();
    let relays = RELAYS.to_string();
    let mut dev = common::start(&["--relays", relays.as_str(), "--data-dir", data_arg.as_str()]);
    let dir = net::directory(&dev.http).await;
    let (mut people, tx, mut inbox, mut rng) = net::pair(&dir, 0x0FF_11E, [0, 2]).await;

    // Bob closes his WebSocket; Alice writes while he is away.
    people[1].go_offline().await;
    let contact = people[0].contact.unwrap();
    for i in 0..N {
        people[0]
            .net
            .client
            .send_text(&mut rng, contact, &text(i), net::now())
            .unwrap();
    }
    let ok = net::drive(
        &mut people,
        &mut inbox,
        &mut rng,
        Duration::from_secs(60),
        |_, _| {},
        |p| p[0].sent_confirmed >= N,
    )
    .await;
    assert!(ok, "only {} of {N} stored", people[0].sent_confirmed);
    assert!(
        people[1].received.is_empty(),
        "Bob got messages while offline"
    );
    // They are on disk, waiting (the gauges refresh every second).
    let mut stored = 0;
    for _ in 0..40 {
        stored = net::metric(&dev.http, "sotto_relay_queue_messages{").await;
        if stored >= N as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        stored >= N as u64,
        "{stored} messages stored while Bob is away"
    );

    // Bob comes back: reconnects, subscribes again (Client::connected) and gets everything.
    let url = dir[people[1].gateway].1.clone();
    people[1].connect(1, &url, &tx, &mut rng).await;
    let ok = net::drive(
        &mut people,
        &mut inbox,
        &mut rng,
        Duration::from_secs(60),
        |_, _| {},
        |p| p[1].received.len() >= N,
    )
    .await;
    assert!(
        ok,
        "Bob got {} of {N} after reconnecting",
        people[1].received.len()
    );
    let want: Vec<String> = (0..N).map(text).collect();
    assert_eq!(people[1].received, want);
    assert!(
        people.iter().all(|p| p.failures.is_empty()),
        "failures: {:?} {:?}",
        people[0].failures,
        people[1].failures
    );

    // Keep the clients running until the acknowledgements have emptied every queue.
    let mut left = u64::MAX;
    for _ in 0..60 {
        net::drive(
            &mut people,
            &mut inbox,
            &mut rng,
            Duration::from_millis(250),
            |_, _| {},
            |_| false,
        )
        .await;
        left = net::metric(&dev.http, "sotto_relay_queue_messages{").await;
        if left == 0 {
            break;
        }
    }
    assert_eq!(
        left, 0,
        "messages left in the queues after Bob acknowledged"
    );
    assert_eq!(people[1].received.len(), N, "a message arrived twice");

    // And on disk: after a graceful shutdown no relay's store holds a message.
    assert_eq!(dev.terminate().code(), Some(0));
    for i in 1..=RELAYS {
        let path = data.path().join(format!("relay-{i}")).join(STORE_FILE);
        let store = RedbStore::open(&path).unwrap();
        assert_eq!(store.total_messages().unwrap(), 0, "relay {i}");
    }
}
