use super::*;
use crate::mnemonic::Mnemonic;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn root(n: u8) -> RootSecret {
    Mnemonic::from_entropy(&[n; 32]).root_secret()
}

fn rng() -> rand_chacha::ChaCha20Rng {
    use rand_core::SeedableRng;
    rand_chacha::ChaCha20Rng::seed_from_u64(14)
}

fn relays(n: u8) -> Vec<RelayId> {
    (1..=n).map(|i| RelayId::from_bytes([i; 32])).collect()
}

#[test]
fn addresses_are_deterministic_and_distinct_per_period_slot_and_phrase() {
    let a = Address::derive(&root(1), 20_000, 0);
    let again = Address::derive(&root(1), 20_000, 0);
    assert_eq!(a.blob_id, again.blob_id);
    assert_eq!(a.relay_pick, again.relay_pick);
    for other in [
        Address::derive(&root(1), 20_000, 1),
        Address::derive(&root(1), 20_001, 0),
        Address::derive(&root(2), 20_000, 0),
    ] {
        assert_ne!(a.blob_id, other.blob_id);
        assert_ne!(a.relay_pick, other.relay_pick);
        // Another address's key does not open this one's chunks.
        let sealed = a.seal(&mut rng(), 1, b"state").unwrap();
        assert_eq!(other.open_chunk(0, &sealed[0]), Err(SnapshotError::Corrupt));
    }
    assert_eq!(format!("{a:?}"), "snapshot::Address(20000/0)");
}

#[test]
fn derivation_follows_the_spec() {
    // info = label ‖ p (u64 BE) ‖ k (u32 BE), HKDF from the root as every subkey is.
    let r = root(7);
    let a = Address::derive(&r, 3, 5);
    let mut id_info = ID_LABEL.to_vec();
    id_info.extend_from_slice(&3u64.to_be_bytes());
    id_info.extend_from_slice(&5u32.to_be_bytes());
    assert_eq!(a.blob_id.as_bytes()[..], r.derive(&id_info).expose()[..16]);
    let mut relay_info = RELAY_LABEL.to_vec();
    relay_info.extend_from_slice(&3u64.to_be_bytes());
    relay_info.extend_from_slice(&5u32.to_be_bytes());
    let pick = u64::from_be_bytes(r.derive(&relay_info).expose()[..8].try_into().unwrap());
    assert_eq!(a.relay_pick, pick);
    // A pinned vector (zero entropy: the BIP39 reference phrase), so the derivation cannot
    // change by accident.
    let zero = Address::derive(&root(0), 0, 0);
    assert_eq!(
        hex::encode(zero.blob_id.as_bytes()),
        "fe245cf5928c44cef3491ab395436563"
    );
}

#[test]
fn the_relay_pick_ignores_directory_order_and_spreads() {
    let list = relays(5);
    let mut reversed = list.clone();
    reversed.reverse();
    let mut seen = std::collections::BTreeSet::new();
    for slot in 0..64 {
        let a = Address::derive(&root(3), 100, slot);
        let pick = a.relay(&list).unwrap();
        assert_eq!(a.relay(&reversed), Some(pick));
        assert!(list.contains(&pick));
        seen.insert(pick);
    }
    assert_eq!(seen.len(), 5, "64 slots use every one of 5 relays");
    assert_eq!(Address::derive(&root(3), 100, 0).relay(&[]), None);
}

#[test]
fn seal_open_round_trip_at_every_bucket_edge() {
    let a = Address::derive(&root(4), 9, 2);
    for len in [
        0,
        1,
        CHUNK_PLAINTEXT - HEADER_LEN,
        CHUNK_PLAINTEXT - HEADER_LEN + 1,
        3 * CHUNK_PLAINTEXT,
        MAX_CHUNKS as usize * CHUNK_PLAINTEXT - HEADER_LEN,
    ] {
        let state: Vec<u8> = (0..len).map(|i| (i % 251) as u8 + 1).collect();
        let sealed = a.seal(&mut rng(), 1_700_000_000, &state).unwrap();
        let total = chunk_count(len).unwrap();
        assert_eq!(sealed.len(), total as usize);
        assert!(total.is_power_of_two());
        assert!(sealed.iter().all(|c| c.len() == BLOB_CHUNK_SIZE));
        let (_, first) = a.open_chunk(0, &sealed[0]).unwrap();
        let header = read_header(&first).unwrap();
        assert_eq!(header.total, total);
        assert_eq!(header.state_len, len);
        assert_eq!(header.created_at, 1_700_000_000);
        let (h, back) = open(&a, &sealed).unwrap();
        assert_eq!(h, header);
        assert_eq!(&back[..], &state[..]);
    }
}

#[test]
fn padding_hides_size_within_a_power_of_two_bucket() {
    assert_eq!(chunk_count(0), Ok(1));
    assert_eq!(chunk_count(CHUNK_PLAINTEXT - HEADER_LEN), Ok(1));
    assert_eq!(chunk_count(CHUNK_PLAINTEXT - HEADER_LEN + 1), Ok(2));
    assert_eq!(chunk_count(2 * CHUNK_PLAINTEXT), Ok(4));
    assert_eq!(chunk_count(5 * CHUNK_PLAINTEXT), Ok(8));
    assert_eq!(
        chunk_count(MAX_CHUNKS as usize * CHUNK_PLAINTEXT - HEADER_LEN + 1),
        Err(SnapshotError::TooLarge)
    );
    assert_eq!(chunk_count(usize::MAX), Err(SnapshotError::TooLarge));
    let a = Address::derive(&root(4), 9, 2);
    let big = vec![1u8; MAX_CHUNKS as usize * CHUNK_PLAINTEXT];
    assert_eq!(
        a.seal(&mut rng(), 0, &big).unwrap_err(),
        SnapshotError::TooLarge
    );
}

#[test]
fn tampering_moving_or_cutting_chunks_is_refused() {
    let a = Address::derive(&root(5), 9, 0);
    let state = vec![9u8; 2 * CHUNK_PLAINTEXT];
    let sealed = a.seal(&mut rng(), 5, &state).unwrap();
    assert_eq!(sealed.len(), 4);
    // A flipped bit anywhere in any chunk.
    for (i, chunk) in sealed.iter().enumerate() {
        for at in [0, CHUNK_PLAINTEXT / 2, BLOB_CHUNK_SIZE - 1] {
            let mut bad = chunk.clone();
            bad[at] ^= 1;
            assert_eq!(
                a.open_chunk(i as u32, &bad),
                Err(SnapshotError::Corrupt),
                "chunk {i} byte {at}"
            );
        }
    }
    // A chunk at another index, a cut or long chunk.
    assert_eq!(a.open_chunk(1, &sealed[0]), Err(SnapshotError::Corrupt));
    assert_eq!(
        a.open_chunk(0, &sealed[0][..BLOB_CHUNK_SIZE - 1]),
        Err(SnapshotError::Corrupt)
    );
    let mut long = sealed[0].clone();
    long.push(0);
    assert_eq!(a.open_chunk(0, &long), Err(SnapshotError::Corrupt));
    let mut swapped = sealed.clone();
    swapped.swap(1, 2);
    assert_eq!(open(&a, &swapped).unwrap_err(), SnapshotError::Corrupt);
    // A missing last chunk, or one too many.
    assert_eq!(
        open(&a, &sealed[..3]).unwrap_err(),
        SnapshotError::Malformed
    );
    let mut extra = sealed.clone();
    extra.push(sealed[3].clone());
    assert_eq!(open(&a, &extra).unwrap_err(), SnapshotError::Corrupt);
    assert_eq!(open(&a, &[]).unwrap_err(), SnapshotError::Malformed);
}

fn plaintext(version: u8, total: u32, state_len: u32, fill: u8, chunks: usize) -> Vec<u8> {
    let mut p = vec![version];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&7u64.to_be_bytes());
    p.extend_from_slice(&state_len.to_be_bytes());
    p.resize(chunks * CHUNK_PLAINTEXT, fill);
    p
}

#[test]
fn malformed_plaintexts_are_refused() {
    assert!(finish(&plaintext(VERSION, 1, 10, 0, 1)).is_ok());
    for (what, bytes) in [
        (
            "the first format (one key per slot)",
            plaintext(1, 1, 10, 0, 1),
        ),
        ("unknown version", plaintext(VERSION + 1, 1, 10, 0, 1)),
        ("total not a power of two", plaintext(VERSION, 3, 10, 0, 3)),
        ("total zero", plaintext(VERSION, 0, 10, 0, 1)),
        ("total past the cap", plaintext(VERSION, 2048, 10, 0, 1)),
        ("total larger than needed", plaintext(VERSION, 2, 10, 0, 2)),
        ("state past the end", plaintext(VERSION, 1, 4000, 0, 1)),
        ("length that disagrees", plaintext(VERSION, 2, 10, 0, 1)),
        ("non-zero padding", plaintext(VERSION, 1, 10, 1, 1)),
        ("cut header", vec![VERSION, 0, 0]),
        ("empty", Vec::new()),
    ] {
        assert_eq!(
            finish(&bytes).unwrap_err(),
            SnapshotError::Malformed,
            "{what}"
        );
    }
}

#[test]
fn periods_are_days_of_network_time() {
    assert_eq!(period_of(0), 0);
    assert_eq!(period_of(PERIOD_SECS - 1), 0);
    assert_eq!(period_of(PERIOD_SECS), 1);
    assert_eq!(period_of(1_764_547_200), 20_423);
}

/// Runs a search against `there(period, slot)`; the answer and the probes it took.
fn search(now: u64, there: impl Fn(u64, u32) -> bool) -> (Step, u32) {
    let mut s = Search::new(now);
    while let Step::Probe { period, slot } = s.step() {
        s.record(there(period, slot));
        assert!(s.probes() <= MAX_PROBES);
    }
    (s.step(), s.probes())
}

#[test]
fn the_search_finds_the_highest_slot_of_the_newest_period() {
    let now = 100 * PERIOD_SECS + 5;
    for top in [0u32, 1, 2, 3, 4, 7, 8, 100, 1000, MAX_SLOT - 1, MAX_SLOT] {
        let (found, probes) = search(now, |p, k| p == 100 && k <= top);
        assert_eq!(
            found,
            Step::Found {
                period: 100,
                slot: top
            },
            "top {top}"
        );
        assert!(probes <= 28, "{probes} probes for {top}");
    }
    // Older periods when the newer ones are empty; never more than PERIODS_SEARCHED.
    let (found, _) = search(now, |p, k| p == 98 && k <= 5);
    assert_eq!(
        found,
        Step::Found {
            period: 98,
            slot: 5
        }
    );
    let (found, probes) = search(now, |p, _| p == 97);
    assert_eq!(found, Step::NotFound);
    assert_eq!(probes, 3);
    // The newest period wins over an older one with more versions.
    let (found, _) = search(now, |p, k| (p == 99 && k < 50) || (p == 100 && k == 0));
    assert_eq!(
        found,
        Step::Found {
            period: 100,
            slot: 0
        }
    );
    // Near the epoch there are fewer periods to search.
    assert_eq!(search(5, |_, _| false), (Step::NotFound, 1));
}

#[test]
fn a_hole_settles_on_a_present_slot() {
    let now = 100 * PERIOD_SECS;
    let (found, _) = search(now, |_, k| k <= 20 && k != 11);
    let Step::Found { slot, .. } = found else {
        panic!("found nothing")
    };
    assert!(slot <= 20 && slot != 11);
    let mut s = Search::new(now);
    s.record(false);
    s.record(false);
    s.record(false);
    assert_eq!(s.step(), Step::NotFound);
    s.record(true);
    assert_eq!(
        s.step(),
        Step::NotFound,
        "recording after the end changes nothing"
    );
}

/// Two versions written to one slot (two devices, or a restored one reaching a slot its old
/// device used) are sealed under two keys: the relay holding both learns nothing from them
/// (under one key and one nonce their XOR would be the XOR of the two states, and the
/// Poly1305 key would repeat), and chunks of the two cannot be mixed into one. Review
/// finding (a slot's key sealed whatever was written to it).
#[test]
fn two_versions_in_one_slot_share_no_key_and_do_not_mix() {
    use rand_core::SeedableRng;
    let a = Address::derive(&root(6), 9, 3);
    let state = vec![0u8; 2 * CHUNK_PLAINTEXT];
    let mut r = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let one = a.seal(&mut r, 5, &state).unwrap();
    let two = a.seal(&mut r, 5, &state).unwrap();
    // The same plaintext, yet the sealed bytes after the salt differ everywhere.
    for (x, y) in one.iter().zip(&two) {
        assert_ne!(x[..SALT_LEN], y[..SALT_LEN]);
        let same = x[SALT_LEN..]
            .iter()
            .zip(&y[SALT_LEN..])
            .filter(|(p, q)| p == q)
            .count();
        assert!(same < 64, "{same} equal bytes: a keystream repeats");
    }
    assert_eq!(&open(&a, &one).unwrap().1[..], &state[..]);
    assert_eq!(&open(&a, &two).unwrap().1[..], &state[..]);
    let mut mixed = one.clone();
    mixed[1] = two[1].clone();
    assert_eq!(open(&a, &mixed).unwrap_err(), SnapshotError::Corrupt);
    // A salt changed in clear is a different key: refused.
    let mut salted = one[0].clone();
    salted[0] ^= 1;
    assert_eq!(a.open_chunk(0, &salted), Err(SnapshotError::Corrupt));
}
