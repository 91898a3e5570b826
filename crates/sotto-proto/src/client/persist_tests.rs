//! Tests of persistence.

use super::*;
use crate::client::ClientError;
use crate::invitation::InvitationKind;
use crate::onion::RelayKey;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const NOW: u64 = 1_800_000_000;

fn directory(rng: &mut ChaCha20Rng) -> Vec<Hop> {
    (0..4)
        .map(|_| Hop {
            id: RelayId::random(rng),
            key: RelayKey::generate(rng, 1).public_key(),
        })
        .collect()
}

/// A client with a queue creation in flight for each purpose.
fn busy_client(rng: &mut ChaCha20Rng) -> Client {
    let relays = directory(rng);
    let gateway = relays[0].id;
    let mut client = Client::new(
        rng,
        relays.clone(),
        gateway,
        "Alice ✓",
        ClientConfig::default(),
    )
    .unwrap();
    client.create_invitation(rng, NOW).unwrap();
    let their_queue = QueueId::random(rng);
    let secret =
        InvitationSecret::create(rng, InvitationKind::OneTime, relays[2].id, their_queue, NOW);
    client
        .accept_invitation(rng, *secret.invitation(), NOW)
        .unwrap();
    while client.poll_transmit().is_some() {}
    client
}

#[test]
fn the_clock_offset_is_kept_and_a_version_2_state_loads_without_one() {
    let mut rng = ChaCha20Rng::seed_from_u64(21);
    let mut client = busy_client(&mut rng);
    client.clock_offset = -8 * 24 * 3600;
    let saved = client.to_persisted();
    let restored = Client::from_persisted(saved.as_bytes()).unwrap();
    assert_eq!(restored.clock_offset(), -8 * 24 * 3600);
    assert_eq!(restored.to_persisted().as_bytes(), saved.as_bytes());

    // Version 2: the same layout (no receive queue yet) without the trailing offset, moved
    // flag and rekey secret flag.
    let bytes = saved.as_bytes();
    let mut v2 = bytes[..bytes.len() - 10].to_vec();
    v2[0] = 2;
    let old = Client::from_persisted(&v2).unwrap();
    assert_eq!(old.clock_offset(), 0);
    assert_eq!(old.pending_requests(), 2);

    // An offset beyond the bound is refused, as any damaged state.
    let mut wild = bytes.to_vec();
    let at = wild.len() - 10;
    let too_far = i64::try_from(crate::client::MAX_CLOCK_OFFSET).unwrap() + 1;
    wild[at..at + 8].copy_from_slice(&too_far.to_be_bytes());
    assert!(Client::from_persisted(&wild).is_err());
}

#[test]
fn round_trip_gives_the_same_bytes() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let client = busy_client(&mut rng);
    let saved = client.to_persisted();
    assert_eq!(saved.as_bytes().first(), Some(&CLIENT_STATE_VERSION));
    let restored = Client::from_persisted(saved.as_bytes()).unwrap();
    assert_eq!(restored.to_persisted().as_bytes(), saved.as_bytes());
    assert_eq!(restored.display_name(), "Alice ✓");
    assert_eq!(restored.gateway(), client.gateway());
    assert_eq!(restored.pending_requests(), 2);
    assert_eq!(restored.config, client.config);
}

#[test]
fn a_state_from_before_random_request_ids_still_loads() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let client = busy_client(&mut rng);
    let saved = client.to_persisted();
    let mut old = saved.as_bytes().to_vec();
    // The former "next request id": after version, config, relays, gateway, tag and name.
    let at = 1 + 19 + 4 + 64 * 4 + 32 + 16 + 2 + "Alice ✓".len();
    assert_eq!(old[at..at + 8], [0; 8], "written as 0");
    // An old state had a counter there, below which its (sequential) request ids were.
    old[at..at + 8].copy_from_slice(&3u64.to_be_bytes());
    let restored = Client::from_persisted(&old).unwrap();
    assert_eq!(restored.pending_requests(), 2);
    assert_eq!(restored.to_persisted().as_bytes(), saved.as_bytes());
}

#[test]
fn a_new_display_name_is_kept_and_one_too_long_changes_nothing() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let mut client = busy_client(&mut rng);
    let too_long = "x".repeat(crate::envelope::MAX_DISPLAY_NAME_BYTES + 1);
    assert_eq!(
        client.set_display_name(&mut rng, &too_long, NOW),
        Err(ClientError::InvalidName(crate::names::NameError::TooLong))
    );
    assert_eq!(
        client.set_display_name(&mut rng, "\u{200B}Alice", NOW),
        Err(ClientError::InvalidName(crate::names::NameError::Format(
            0x200B
        )))
    );
    assert_eq!(client.display_name(), "Alice ✓");
    client.set_display_name(&mut rng, "Alicia", NOW).unwrap();
    let restored = Client::from_persisted(client.to_persisted().as_bytes()).unwrap();
    assert_eq!(restored.display_name(), "Alicia");
}

#[test]
fn restored_requests_wait_for_the_driver_then_are_resent() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let saved = busy_client(&mut rng).to_persisted();
    let mut restored = Client::from_persisted(saved.as_bytes()).unwrap();
    assert!(
        restored.poll_transmit().is_none(),
        "restoring sends nothing"
    );
    restored.connected(&mut rng, NOW + 100);
    restored.tick(&mut rng, NOW + 100);
    let frames: Vec<Vec<u8>> = std::iter::from_fn(|| restored.poll_transmit()).collect();
    // The bind, then both queue creations again.
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0].first(), Some(&onion::FRAME_BIND));
    assert_eq!(restored.pending_requests(), 2);
    assert_eq!(restored.openers.len(), 2);
}

#[test]
fn every_truncation_and_extension_is_an_error() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let saved = busy_client(&mut rng).to_persisted();
    let bytes = saved.as_bytes();
    crate::codec::assert_every_cut_fails(bytes, Client::from_persisted);
    let mut long = bytes.to_vec();
    long.push(0);
    assert_eq!(
        Client::from_persisted(&long).err(),
        Some(PersistError::TrailingBytes)
    );
    let mut v = bytes.to_vec();
    v[0] = CLIENT_STATE_VERSION + 1;
    assert_eq!(
        Client::from_persisted(&v).err(),
        Some(PersistError::UnknownVersion(CLIENT_STATE_VERSION + 1))
    );
    assert_eq!(
        Client::from_persisted(&[]).err(),
        Some(PersistError::Truncated)
    );
}

#[test]
fn a_gateway_outside_the_directory_is_refused() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let saved = busy_client(&mut rng).to_persisted();
    let mut v = saved.as_bytes().to_vec();
    // version, pow bits, SURBs (2), retry (8), resubscribe (8), relay count (4), 4 × 64.
    let gateway_at = 1 + 1 + 2 + 8 + 8 + 4 + 4 * 64;
    v[gateway_at] ^= 1;
    assert_eq!(
        Client::from_persisted(&v).err(),
        Some(PersistError::Invalid("gateway is not among the relays"))
    );
}

#[test]
fn an_overlong_name_is_cut_at_a_character_boundary() {
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    let relays = directory(&mut rng);
    let name = "é".repeat(40_000);
    let client = Client::new(
        &mut rng,
        relays.clone(),
        relays[0].id,
        &name,
        ClientConfig::default(),
    )
    .unwrap();
    let restored = Client::from_persisted(client.to_persisted().as_bytes()).unwrap();
    assert_eq!(restored.display_name(), "é".repeat(32_767));
}

#[test]
fn debug_shows_no_secret() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let client = busy_client(&mut rng);
    let saved = client.to_persisted();
    assert_eq!(format!("{saved:?}"), "PersistedClient(<redacted>)");
    // The invitation's queue key is in the bytes, and in no Debug output.
    let Some(PendingKind::Create { key, .. }) = client.pending.values().map(|p| &p.kind).next()
    else {
        panic!("a pending create");
    };
    let seed = key.to_persisted_bytes();
    assert!(saved.as_bytes().windows(32).any(|w| w == &seed[..]));
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    for text in [format!("{saved:?}"), format!("{key:?}")] {
        assert!(!text.contains(&hex[..8]));
    }
}

#[test]
fn a_queue_moving_to_a_new_key_and_the_moved_flag_are_kept() {
    let mut rng = ChaCha20Rng::seed_from_u64(61);
    let mut client = busy_client(&mut rng);
    let queue = QueueId::random(&mut rng);
    let next = AuthKeyPair::generate(&mut rng);
    client.queues.insert(
        queue,
        RecvQueue {
            relay: client.relays[1].id,
            key: AuthKeyPair::generate(&mut rng),
            owner: QueueOwner::Invitation(Box::new(InvitationSecret::create(
                &mut rng,
                InvitationKind::OneTime,
                client.relays[1].id,
                queue,
                NOW,
            ))),
            subscription: Subscription::default(),
            next_key: Some(next.clone()),
        },
    );
    let saved = client.to_persisted();
    let restored = Client::from_persisted(saved.as_bytes()).unwrap();
    assert_eq!(
        restored.queues[&queue]
            .next_key
            .as_ref()
            .map(AuthKeyPair::public_key),
        Some(next.public_key())
    );
    assert!(!restored.is_moved());
    assert!(restored.sends_held(), "opened with queues: sends wait");
    assert_eq!(restored.to_persisted().as_bytes(), saved.as_bytes());

    // Moved: kept, and a moved client holds nothing (it sends nothing anyway).
    client.enter_moved();
    let moved = Client::from_persisted(client.to_persisted().as_bytes()).unwrap();
    assert!(moved.is_moved() && !moved.sends_held());
    // The flag is 0 or 1; anything else is damage.
    let mut bad = client.to_persisted().as_bytes().to_vec();
    let at = bad.len() - 2;
    bad[at] = 2;
    assert!(Client::from_persisted(&bad).is_err());
    // A version 5 state (no moving keys, no flags) loads as not moved.
    let mut plain = busy_client(&mut rng).to_persisted().as_bytes().to_vec();
    plain.truncate(plain.len() - 2);
    plain[0] = 5;
    assert!(!Client::from_persisted(&plain).unwrap().is_moved());
}

#[test]
fn the_rekey_secret_is_kept_and_a_version_6_state_loads_without_one() {
    let mut rng = ChaCha20Rng::seed_from_u64(24);
    let mut client = busy_client(&mut rng);
    let secret = crate::client::RekeySecret::from_root(
        &crate::mnemonic::Mnemonic::from_entropy(&[3; 32]).root_secret(),
    );
    client.rekey = Some(secret.clone());
    let saved = client.to_persisted();
    let back = Client::from_persisted(saved.as_bytes()).unwrap();
    assert!(back.rekey == Some(secret));
    assert_eq!(back.to_persisted().as_bytes(), saved.as_bytes());
    // Cut short inside the secret, or a flag other than 0 or 1: damage.
    let bytes = saved.as_bytes();
    assert!(Client::from_persisted(&bytes[..bytes.len() - 1]).is_err());
    let mut bad = bytes.to_vec();
    let at = bad.len() - 33;
    bad[at] = 2;
    assert!(Client::from_persisted(&bad).is_err());
    // Version 6: no rekey secret.
    let mut v6 = bytes[..bytes.len() - 33].to_vec();
    v6[0] = 6;
    assert!(Client::from_persisted(&v6).unwrap().rekey.is_none());
}

/// A profile saved in layout version 8 (by the release before, `tests/fixtures/client-v8*`:
/// Alice after 40 messages from Bob, so both windows full) reads: each id last read kept as
/// its first 8 bytes and each body tag as its last 8 (the lists beside it are what version
/// 8's code read from it), and it is written again in the current layout, which reads back.
#[test]
fn a_version_8_profile_reads_with_its_windows_cut_to_8_bytes() {
    let v8 = include_bytes!("../../tests/fixtures/client-v8.bin");
    assert_eq!(v8[0], 8);
    let windows = include_str!("../../tests/fixtures/client-v8-windows.txt");
    let listed = |kind: &str| -> Vec<Vec<u8>> {
        windows
            .lines()
            .filter_map(|l| l.strip_prefix(kind))
            .map(|h| hex::decode(h).unwrap())
            .collect()
    };
    let (ids, tags) = (listed("read "), listed("tag "));
    assert_eq!((ids.len(), tags.len()), (32, 32));

    let client = Client::from_persisted(v8).expect("a version 8 profile reads");
    let contact = client.contacts.values().next().expect("Bob");
    let kept_ids: Vec<&[u8]> = contact.read.kept().map(|k| &k[..]).collect();
    let want_ids: Vec<&[u8]> = ids.iter().map(|id| &id[..8]).collect();
    assert_eq!(kept_ids, want_ids);
    let kept_tags: Vec<&[u8]> = contact.sync.recent_tags().map(|t| &t[..]).collect();
    let want_tags: Vec<&[u8]> = tags.iter().map(|t| &t[8..]).collect();
    assert_eq!(kept_tags, want_tags);

    let now = client.to_persisted();
    assert_eq!(now.as_bytes()[0], CLIENT_STATE_VERSION);
    assert_eq!(now.as_bytes().len(), v8.len() - 32 * 8 - 32 * 8);
    let again = Client::from_persisted(now.as_bytes()).unwrap();
    assert_eq!(again.to_persisted().as_bytes(), now.as_bytes());

    // The release before kept 64 body tags: the same profile with 32 older ones put before
    // its 32 reads them all (their last 8 bytes) and writes them again until the next message.
    let at = v8.windows(16).position(|w| w == &tags[0][..]).unwrap();
    assert_eq!(v8[at - 1], 32);
    let older: Vec<[u8; 16]> = (0..32u8).map(|i| [0xa0 ^ i; 16]).collect();
    let mut v8_64 = v8[..at - 1].to_vec();
    v8_64.push(64);
    v8_64.extend(older.iter().flatten());
    v8_64.extend_from_slice(&v8[at..]);
    let client = Client::from_persisted(&v8_64).expect("64 body tags read");
    let contact = client.contacts.values().next().unwrap();
    let kept_tags: Vec<&[u8]> = contact.sync.recent_tags().map(|t| &t[..]).collect();
    let want: Vec<&[u8]> = older.iter().map(|t| &t[8..]).chain(want_tags).collect();
    assert_eq!(kept_tags, want);
    let now = client.to_persisted();
    assert_eq!(now.as_bytes().len(), v8_64.len() - 32 * 8 - 64 * 8);
    let again = Client::from_persisted(now.as_bytes()).unwrap();
    assert_eq!(again.to_persisted().as_bytes(), now.as_bytes());

    // A peer's two envelopes whose ids share their first 8 bytes (version 8 kept both)
    // leave the profile readable.
    let mut planted = v8.to_vec();
    let at = planted.windows(16).position(|w| w == &ids[1][..]).unwrap();
    planted[at..at + 8].copy_from_slice(&ids[0][..8]);
    let client = Client::from_persisted(&planted).expect("a planted prefix reads");
    assert_eq!(
        client.contacts.values().next().unwrap().read.kept().count(),
        31
    );
}
