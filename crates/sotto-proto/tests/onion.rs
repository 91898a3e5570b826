//! Onion packets through three relays, SURB replies to the gateway, and every rejection path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sotto_proto::ids::RelayId;
use sotto_proto::onion::{
    ClientFrame, ConnTag, GatewayFrame, Hop, MemoryReplayCache, OnionError, Packet, Processed,
    ROUTE_LEN, RelayKey, RelayKeys, SEALED_REPLY_SIZE, SURB_SIZE, Surb, SurbOpener, build_forward,
    build_surb, process,
};
use sotto_proto::sizes::{ONION_PLAINTEXT_SIZE, PACKET_SIZE};

struct Relay {
    hop: Hop,
    keys: RelayKeys,
    cache: MemoryReplayCache,
}

fn network(rng: &mut ChaCha20Rng, n: u8) -> Vec<Relay> {
    (0..n)
        .map(|i| {
            let key = RelayKey::generate(rng, 1);
            Relay {
                hop: Hop {
                    id: RelayId::from_bytes([0x10 + i; 32]),
                    key: key.public_key(),
                },
                keys: RelayKeys::new(key),
                cache: MemoryReplayCache::new(1024),
            }
        })
        .collect()
}

fn route(net: &[Relay]) -> Vec<Hop> {
    net.iter().map(|r| r.hop).collect()
}

/// Drives a packet from relay `start` until it leaves the network; asserts every hop's bytes
/// are PACKET_SIZE and that forwards name the next relay in `net` order.
fn drive(net: &mut [Relay], order: &[usize], packet: Packet) -> Result<Processed, OnionError> {
    let mut bytes = packet.into_bytes();
    for (step, &i) in order.iter().enumerate() {
        assert_eq!(bytes.len(), PACKET_SIZE);
        let relay = &mut net[i];
        match process(&bytes, &relay.keys, &mut relay.cache)? {
            Processed::Forward { next, packet } => {
                let expected = order.get(step + 1).map(|&j| net[j].hop.id);
                assert_eq!(Some(next), expected, "forward to the next hop");
                bytes = packet.into_bytes();
            }
            done => {
                assert_eq!(step, order.len() - 1, "left the network early");
                return Ok(done);
            }
        }
    }
    panic!("packet did not leave the network");
}

#[test]
fn forward_packet_reaches_the_last_relay_with_the_payload() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut net = network(&mut rng, 3);
    let r = route(&net);
    for len in [0usize, 1, 100, ONION_PLAINTEXT_SIZE] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let packet = build_forward(&mut rng, &r, &payload).unwrap();
        assert_eq!(packet.as_bytes().len(), PACKET_SIZE);
        match drive(&mut net, &[0, 1, 2], packet).unwrap() {
            Processed::Deliver { payload: got, .. } => assert_eq!(got, payload),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn oversized_payload_and_bad_routes_are_refused() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let net = network(&mut rng, 6);
    let r = route(&net);
    assert_eq!(
        build_forward(&mut rng, &r[..3], &vec![0; ONION_PLAINTEXT_SIZE + 1]),
        Err(OnionError::PayloadTooLarge {
            max: ONION_PLAINTEXT_SIZE,
            got: ONION_PLAINTEXT_SIZE + 1
        })
    );
    assert_eq!(
        build_forward(&mut rng, &[], b"x"),
        Err(OnionError::BadRoute(0))
    );
    assert_eq!(
        build_forward(&mut rng, &r, b"x"),
        Err(OnionError::BadRoute(6))
    );
    let conn = ConnTag::random(&mut rng);
    assert!(build_surb(&mut rng, &[], conn).is_err());
}

/// Everything keyed comes from the caller's RNG: the same seed gives the same header key
/// (alpha) and the same encrypted payload. The one exception is the random padding that
/// `sphinx-packet` puts after the final hop's routing info (from its thread RNG; encrypted,
/// never read), so the routing info and its MAC differ.
#[test]
fn same_seed_gives_the_same_keys_and_payload() {
    let net = network(&mut ChaCha20Rng::seed_from_u64(3), 3);
    let r = route(&net);
    let a = build_forward(&mut ChaCha20Rng::seed_from_u64(9), &r, b"det").unwrap();
    let b = build_forward(&mut ChaCha20Rng::seed_from_u64(9), &r, b"det").unwrap();
    assert_eq!(a.as_bytes()[..32], b.as_bytes()[..32]);
    assert_eq!(a.as_bytes()[348..], b.as_bytes()[348..]);
}

/// The deterministic parts of a packet (alpha and the Lioness-encrypted payload) are pinned:
/// native builds take `chacha20`'s own ChaCha20 for Lioness, wasm32 + simd128 builds
/// `chacha20-simd128`'s (vendor/README.md), and both must give these bytes. The digest is
/// SHA-256 over alpha then the payload of the packet in the test above; a change to the packet
/// format changes it (regenerate from a native run, then check it in the browser).
#[test]
fn the_deterministic_bytes_are_the_same_on_every_target() {
    use sha2::{Digest, Sha256};
    let net = network(&mut ChaCha20Rng::seed_from_u64(3), 3);
    let packet = build_forward(&mut ChaCha20Rng::seed_from_u64(9), &route(&net), b"det").unwrap();
    let bytes = packet.as_bytes();
    let digest = Sha256::new()
        .chain_update(&bytes[..32])
        .chain_update(&bytes[348..])
        .finalize();
    assert_eq!(
        hex::encode(digest),
        "e73f2ee039d178ad79fe7b098cae4d07e21e9c5ec947668d18f2d60267a9b109"
    );
}

#[test]
fn replays_are_rejected_at_every_hop() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let mut net = network(&mut rng, 3);
    let packet = build_forward(&mut rng, &route(&net), b"once").unwrap();
    let first = {
        let relay = &mut net[0];
        process(packet.as_bytes(), &relay.keys, &mut relay.cache).unwrap()
    };
    let relay = &mut net[0];
    assert_eq!(
        process(packet.as_bytes(), &relay.keys, &mut relay.cache).unwrap_err(),
        OnionError::Replay
    );
    let Processed::Forward { packet: second, .. } = first else {
        panic!()
    };
    let relay = &mut net[1];
    process(second.as_bytes(), &relay.keys, &mut relay.cache).unwrap();
    assert_eq!(
        process(second.as_bytes(), &relay.keys, &mut relay.cache).unwrap_err(),
        OnionError::Replay
    );
}

#[test]
fn a_packet_for_another_relay_fails_integrity() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let mut net = network(&mut rng, 3);
    let packet = build_forward(&mut rng, &route(&net), b"x").unwrap();
    let relay = &mut net[1];
    assert_eq!(
        process(packet.as_bytes(), &relay.keys, &mut relay.cache).unwrap_err(),
        OnionError::Integrity
    );
    // nothing was recorded for a packet that failed its MAC
    assert!(relay.cache.is_empty());
}

#[test]
fn tampered_headers_fail_at_the_first_hop() {
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    let mut net = network(&mut rng, 3);
    let packet = build_forward(&mut rng, &route(&net), b"x").unwrap();
    // alpha (0..32), MAC (32..48), routing info (48..348)
    for pos in [0usize, 5, 31, 32, 40, 47, 48, 100, 347] {
        for bit in [0u8, 7] {
            let mut bytes = packet.as_bytes().to_vec();
            bytes[pos] ^= 1 << bit;
            let relay = &mut net[0];
            let err = process(&bytes, &relay.keys, &mut relay.cache).unwrap_err();
            assert!(
                matches!(err, OnionError::Integrity | OnionError::Malformed),
                "pos {pos} bit {bit}: {err:?}"
            );
        }
    }
    // the high bit of alpha, which x25519 ignores, is rejected as non-canonical
    let mut bytes = packet.as_bytes().to_vec();
    bytes[31] ^= 0x80;
    let relay = &mut net[0];
    assert_eq!(
        process(&bytes, &relay.keys, &mut relay.cache).unwrap_err(),
        OnionError::Malformed
    );
}

#[test]
fn tampered_payload_is_caught_at_the_final_hop() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let mut net = network(&mut rng, 3);
    let packet = build_forward(&mut rng, &route(&net), b"secret").unwrap();
    let mut bytes = packet.into_bytes();
    bytes[PACKET_SIZE - 1] ^= 1;
    let err = drive(&mut net, &[0, 1, 2], Packet::from_bytes(&bytes).unwrap()).unwrap_err();
    assert_eq!(err, OnionError::PayloadIntegrity);
}

#[test]
fn wrong_lengths_are_rejected() {
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    let mut net = network(&mut rng, 1);
    let relay = &mut net[0];
    for len in [0, 1, PACKET_SIZE - 1, PACKET_SIZE + 1] {
        let bytes = vec![0u8; len];
        assert_eq!(
            process(&bytes, &relay.keys, &mut relay.cache).unwrap_err(),
            OnionError::WrongLength {
                expected: PACKET_SIZE,
                got: len
            }
        );
        assert!(Packet::from_bytes(&bytes).is_err());
    }
    assert!(Surb::from_bytes(&[0u8; SURB_SIZE - 1]).is_err());
    assert!(Surb::from_bytes(&[0u8; SURB_SIZE + 1]).is_err());
}

#[test]
fn surb_reply_reaches_the_gateway_and_only_the_client_opens_it() {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let mut net = network(&mut rng, 3);
    // the client's gateway is relay 0; the reply route is [2, 1, 0]
    let back = vec![net[2].hop, net[1].hop, net[0].hop];
    let conn = ConnTag::random(&mut rng);
    let (surb, opener) = build_surb(&mut rng, &back, conn).unwrap();
    assert_eq!(surb.as_bytes().len(), SURB_SIZE);

    // the SURB travels inside a request; the queue relay (2) parses it and answers
    let surb = Surb::from_bytes(surb.as_bytes()).unwrap();
    assert_eq!(surb.first_hop(), net[2].hop.id);
    let (first, packet) = surb.seal(b"the answer").unwrap();
    assert_eq!(first, net[2].hop.id);
    let Processed::ToClient {
        connection,
        surb_id,
        sealed,
    } = drive(&mut net, &[2, 1, 0], packet).unwrap()
    else {
        panic!("not delivered to the client")
    };
    assert_eq!(connection, conn);
    assert_eq!(surb_id, opener.id());
    assert_eq!(sealed.len(), SEALED_REPLY_SIZE);
    // the gateway cannot read it
    assert!(!sealed.windows(10).any(|w| w == b"the answer"));

    // gateway -> browser frame
    let frame = GatewayFrame::Reply { surb_id, sealed }.encode();
    let GatewayFrame::Reply { surb_id, sealed } = GatewayFrame::decode(&frame).unwrap();
    assert_eq!(surb_id, opener.id());

    // persisted opener works too; another opener does not
    let restored = SurbOpener::from_persisted_bytes(&opener.to_persisted_bytes()).unwrap();
    assert_eq!(restored.open(&sealed).unwrap(), b"the answer");
    assert_eq!(opener.open(&sealed).unwrap(), b"the answer");
    let (_, other) = build_surb(&mut rng, &back, conn).unwrap();
    assert_eq!(other.open(&sealed), Err(OnionError::PayloadIntegrity));
    let mut tampered = sealed.clone();
    tampered[100] ^= 1;
    assert_eq!(opener.open(&tampered), Err(OnionError::PayloadIntegrity));
    assert!(opener.open(&sealed[1..]).is_err());
    assert_eq!(SurbOpener::PERSISTED_LEN, 16 + 16 * ROUTE_LEN);
}

#[test]
fn client_frames_round_trip_and_reject_bad_lengths() {
    let mut rng = ChaCha20Rng::seed_from_u64(10);
    let net = network(&mut rng, 3);
    let p = build_forward(&mut rng, &route(&net), b"x").unwrap();
    let f = ClientFrame::Packet(p.clone());
    assert_eq!(ClientFrame::decode(&f.encode()).unwrap(), f);
    let mut short = f.encode();
    short.pop();
    assert!(ClientFrame::decode(&short).is_err());
    let bind = ClientFrame::Bind(ConnTag::random(&mut rng));
    assert_eq!(ClientFrame::decode(&bind.encode()).unwrap(), bind);
}

#[test]
fn key_rotation_accepts_the_previous_epoch_during_overlap() {
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let mut net = network(&mut rng, 3);
    let old_route = route(&net);
    let packet = build_forward(&mut rng, &old_route, b"old").unwrap();
    let replay_copy = packet.clone();

    // relay 0 rotates to epoch 2 before the packet arrives
    let new_key = RelayKey::generate(&mut rng, 2);
    let dropped = net[0].keys.rotate(new_key);
    assert!(dropped.is_none());
    assert_eq!(net[0].keys.previous().unwrap().epoch(), 1);
    match drive(&mut net, &[0, 1, 2], packet).unwrap() {
        Processed::Deliver { payload, .. } => assert_eq!(payload, b"old"),
        other => panic!("{other:?}"),
    }
    // still a replay under the previous epoch
    let relay = &mut net[0];
    assert_eq!(
        process(replay_copy.as_bytes(), &relay.keys, &mut relay.cache).unwrap_err(),
        OnionError::Replay
    );
    // after the overlap the old key is gone: the packet no longer verifies, and that epoch's
    // tags can be forgotten
    let old = relay.keys.drop_previous().unwrap();
    relay.cache.forget_epoch(old.epoch());
    assert_eq!(
        process(replay_copy.as_bytes(), &relay.keys, &mut relay.cache).unwrap_err(),
        OnionError::Integrity
    );
}

#[test]
fn debug_output_never_shows_secrets() {
    let mut rng = ChaCha20Rng::seed_from_u64(12);
    let key = RelayKey::generate(&mut rng, 3);
    let secret = key.secret().to_persisted_bytes();
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!format!("{key:?}").contains(&hex[..8]));
    let net = network(&mut rng, 3);
    let conn = ConnTag::random(&mut rng);
    let (_, opener) = build_surb(&mut rng, &route(&net), conn).unwrap();
    assert!(format!("{opener:?}").contains("redacted"));
}
