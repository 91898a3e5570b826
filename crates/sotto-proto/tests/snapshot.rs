//! The relay snapshot in the virtual-time world (issue 16, "From the words alone"): Alice
//! puts versions of her state on the relays her recovery phrase picks; a fresh client that
//! knows only the phrase searches for the newest, fetches and opens it, and the profile it
//! restores talks to Bob again. Other words find nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::World;
use sotto_proto::client::{Client, Event, RekeySecret, SnapshotFetchError};
use sotto_proto::envelope::Content;
use sotto_proto::mnemonic::{Mnemonic, RootSecret};
use sotto_proto::snapshot::{Address, Search, Step, period_of};
use zeroize::Zeroizing;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// Alice (client 0) puts `state` as `address`, stepping until the relay has it whole.
fn put(w: &mut World, address: Address, state: &[u8]) {
    let (period, slot) = (address.period, address.slot);
    let now = w.client_now(0);
    w.clients[0]
        .put_snapshot(&mut w.rng, address, state, now)
        .unwrap();
    assert!(w.clients[0].snapshot_uploading());
    let stored = w.run_until(120, |w| {
        w.events[0].iter().any(
            |e| matches!(e, Event::SnapshotStored { period: p, slot: k } if *p == period && *k == slot),
        )
    });
    assert!(stored, "slot {slot} stored");
    assert!(!w.clients[0].snapshot_uploading());
}

/// Client `who` searches for the newest snapshot of `root`: the state, its slot and the
/// number of fetches.
fn find(w: &mut World, who: usize, root: &RootSecret) -> Option<(Zeroizing<Vec<u8>>, u32, u32)> {
    let mut search = Search::new(w.client_now(who));
    let mut best = None;
    let mut fetches = 0;
    while let Step::Probe { period, slot } = search.step() {
        fetches += 1;
        let now = w.client_now(who);
        let handle = w.clients[who]
            .fetch_snapshot(&mut w.rng, Address::derive(root, period, slot), now)
            .unwrap();
        let mut outcome = None;
        let done = w.run_until(120, |w| {
            outcome = w.events[who].iter().find_map(|e| match e {
                Event::SnapshotFetched {
                    handle: h, state, ..
                } if *h == handle => Some(Ok(state.clone().into_inner())),
                Event::SnapshotFetchFailed { handle: h, error } if *h == handle => {
                    Some(Err(error.clone()))
                }
                _ => None,
            });
            outcome.is_some()
        });
        assert!(done, "a probe settles");
        match outcome.unwrap() {
            Ok(state) => {
                best = Some((state, slot));
                search.record(true);
            }
            Err(SnapshotFetchError::Missing) => search.record(false),
            Err(other) => panic!("probe failed: {other:?}"),
        }
    }
    match search.step() {
        Step::Found { slot, .. } => best.map(|(state, k)| {
            assert_eq!(k, slot);
            (state, k, fetches)
        }),
        _ => None,
    }
}

#[test]
fn a_fresh_client_with_only_the_words_finds_the_newest_snapshot_and_restores() {
    let mut w = World::new(11, 0, &["Alice", "Bob", "New device"]);
    let (alice_bob, bob_alice) = w.connect();
    let phrase = Mnemonic::from_entropy(&[42; 32]);
    let root = phrase.root_secret();
    let period = period_of(w.client_now(0));
    for slot in 0..6 {
        let state = w.clients[0].to_persisted();
        put(
            &mut w,
            Address::derive(&root, period, slot),
            state.as_bytes(),
        );
    }
    let since = w.client_now(0);

    let (state, slot, fetches) = find(&mut w, 2, &root).expect("a snapshot is found");
    assert_eq!(slot, 5, "the newest version");
    assert!(fetches <= 6, "{fetches} fetches");
    // Another phrase finds nothing.
    let other = Mnemonic::from_entropy(&[43; 32]).root_secret();
    assert!(find(&mut w, 2, &other).is_none());

    // The new device takes Alice's place; every conversation resyncs, then talks.
    let now = w.client_now(0);
    w.clients[0] = Client::restored(
        &mut w.rng,
        &state,
        since,
        now,
        RekeySecret::from_root(&root),
    )
    .unwrap();
    w.events[0].clear();
    w.reopen(0);
    assert_eq!(w.clients[0].contacts().count(), 1);
    let now = w.client_now(0);
    let sent = w.clients[0]
        .send_text(&mut w.rng, alice_bob, "back from the words", now)
        .unwrap()
        .id;
    let arrived = w.run_until(300, |w| {
        w.events[1]
            .iter()
            .any(|e| matches!(e, Event::Message { envelope, .. } if envelope.id == sent))
    });
    assert!(arrived, "Bob hears from the restored Alice");
    let now = w.client_now(1);
    let reply = w.clients[1]
        .send_text(&mut w.rng, bob_alice, "welcome back", now)
        .unwrap()
        .id;
    let arrived = w.run_until(300, |w| {
        w.events[0].iter().any(|e| {
            matches!(e, Event::Message { envelope, .. }
                if envelope.id == reply && matches!(&envelope.content, Content::Text(t) if t == "welcome back"))
        })
    });
    assert!(arrived, "and she hears back");
    assert_eq!(
        w.clients[1].contacts().count(),
        1,
        "Bob keeps one contact for Alice"
    );
}

#[test]
fn a_slot_already_on_the_relay_is_given_up_never_mixed() {
    let mut w = World::new(12, 0, &["Alice", "Bob"]);
    w.connect();
    let root = Mnemonic::from_entropy(&[44; 32]).root_secret();
    let period = period_of(w.client_now(0));
    put(&mut w, Address::derive(&root, period, 0), b"first version");
    // Another device (a restore from an older backup) writes the same slot again.
    let now = w.client_now(0);
    w.clients[0]
        .put_snapshot(
            &mut w.rng,
            Address::derive(&root, period, 0),
            b"another version",
            now,
        )
        .unwrap();
    let failed = w.run_until(120, |w| {
        w.events[0].iter().any(|e| {
            matches!(
                e,
                Event::SnapshotFailed {
                    slot: 0,
                    error: sotto_proto::client::Error::RelayRefused(
                        sotto_proto::queue::ErrorCode::Duplicate
                    ),
                    ..
                }
            )
        })
    });
    assert!(failed, "the relay's Duplicate gives the slot up");
    assert!(!w.clients[0].snapshot_uploading());
    // What is there is still the first version, whole.
    let now = w.client_now(1);
    let handle = w.clients[1]
        .fetch_snapshot(&mut w.rng, Address::derive(&root, period, 0), now)
        .unwrap();
    let fetched = w.run_until(120, |w| {
        w.events[1].iter().any(|e| {
            matches!(e, Event::SnapshotFetched { handle: h, state, .. } if *h == handle && &state[..] == b"first version")
        })
    });
    assert!(fetched);
}

/// An upload no relay answers (Alice cut off) would keep her uploader busy for ever: the
/// driver's deadline gives it up (`SnapshotFailed`, `Unanswered`), and the next slot goes up
/// once she is back. Review finding (one stuck upload stopped every later snapshot).
#[test]
fn a_stuck_upload_is_given_up_and_the_next_one_goes_up() {
    let mut w = World::new(13, 0, &["Alice", "Bob"]);
    w.connect();
    let root = Mnemonic::from_entropy(&[44; 32]).root_secret();
    let period = period_of(w.client_now(0));
    w.offline[0] = true;
    let now = w.client_now(0);
    w.clients[0]
        .put_snapshot(&mut w.rng, Address::derive(&root, period, 0), b"lost", now)
        .unwrap();
    w.run_until(60, |_| false);
    assert!(w.clients[0].snapshot_uploading(), "still waiting");
    assert!(w.clients[0].abandon_snapshot_upload());
    assert!(!w.clients[0].snapshot_uploading());
    // (Offline, the world does not collect its events: read them here.)
    let events: Vec<Event> = std::iter::from_fn(|| w.clients[0].poll_event()).collect();
    assert!(events.iter().any(|e| matches!(
        e,
        Event::SnapshotFailed {
            slot: 0,
            error: sotto_proto::client::Error::Unanswered,
            ..
        }
    )));
    assert!(
        !w.clients[0].abandon_snapshot_upload(),
        "nothing left to give up"
    );
    w.offline[0] = false;
    w.reopen(0);
    put(&mut w, Address::derive(&root, period, 1), b"found");
    let (state, slot, _) = find(&mut w, 1, &root).expect("the next version is there");
    assert_eq!((slot, &state[..]), (1, &b"found"[..]));
}
