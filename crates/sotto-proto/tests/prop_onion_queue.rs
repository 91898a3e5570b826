//! Property tests: codec round trips, decoders never panic, and tampering is always caught.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sotto_proto::ids::{QueueId, RelayId};
use sotto_proto::keys::AuthKeyPair;
use sotto_proto::onion::{
    ClientFrame, ConnTag, GatewayFrame, Hop, MemoryReplayCache, OnionError, Packet, Processed,
    RelayKey, RelayKeys, Surb, SurbOpener, build_forward, build_surb, process,
};
use sotto_proto::queue::{
    BLOB_CHUNK_SIZE, BlobId, Command, Delivery, Inbound, ReceivedRequest, Request, Response,
};
use sotto_proto::sizes::{ONION_PLAINTEXT_SIZE, PACKET_SIZE, QUEUE_MESSAGE_SIZE};
use std::sync::OnceLock;

struct Net {
    route: Vec<Hop>,
    keys: Vec<RelayKeys>,
    packet: Packet,
}

/// One network and one packet, built once (building is the slow part in debug builds).
fn net() -> &'static Net {
    static NET: OnceLock<Net> = OnceLock::new();
    NET.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(99);
        let mut route = Vec::new();
        let mut keys = Vec::new();
        for i in 0..3u8 {
            let k = RelayKey::generate(&mut rng, 1);
            route.push(Hop {
                id: RelayId::from_bytes([i + 1; 32]),
                key: k.public_key(),
            });
            keys.push(RelayKeys::new(k));
        }
        let packet = build_forward(&mut rng, &route, b"property").unwrap();
        Net {
            route,
            keys,
            packet,
        }
    })
}

fn a_surb(seed: u64) -> Surb {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let conn = ConnTag::random(&mut rng);
    build_surb(&mut rng, &net().route, conn).unwrap().0
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn forward_payloads_round_trip(seed: u64, payload in proptest::collection::vec(any::<u8>(), 0..=ONION_PLAINTEXT_SIZE)) {
        let n = net();
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut bytes = build_forward(&mut rng, &n.route, &payload).unwrap().into_bytes();
        for (i, keys) in n.keys.iter().enumerate() {
            prop_assert_eq!(bytes.len(), PACKET_SIZE);
            match process(&bytes, keys, &mut MemoryReplayCache::new(4)).unwrap() {
                Processed::Forward { packet, .. } => bytes = packet.into_bytes(),
                Processed::Deliver { payload: got, .. } => {
                    prop_assert_eq!(i, 2);
                    prop_assert_eq!(&got, &payload);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn send_and_blob_requests_round_trip(
        seed in 0u64..8,
        request_id: u64,
        qid: [u8; 16],
        message in proptest::collection::vec(any::<u8>(), QUEUE_MESSAGE_SIZE..=QUEUE_MESSAGE_SIZE),
        data in proptest::collection::vec(any::<u8>(), 0..=BLOB_CHUNK_SIZE),
        index: u32,
    ) {
        let key = AuthKeyPair::from_persisted_bytes([seed as u8; 32]);
        let send = Request { request_id, reply: Some(a_surb(seed)), command: Command::Send { sender_id: QueueId::from_bytes(qid), message } };
        let got = ReceivedRequest::decode(&send.encode(Some(&key)).unwrap()).unwrap();
        prop_assert_eq!(&got.command, &send.command);
        got.verify(&key.public_key()).unwrap();
        let put = Request { request_id, reply: Some(a_surb(seed)), command: Command::BlobPut { blob_id: BlobId::from_bytes(qid), index, pow_nonce: seed, data } };
        let got = ReceivedRequest::decode(&put.encode(None).unwrap()).unwrap();
        prop_assert_eq!(&got.command, &put.command);
    }

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..5000)) {
        let _ = ReceivedRequest::decode(&bytes);
        let _ = Response::decode(&bytes);
        let _ = Delivery::decode(&bytes);
        let _ = Inbound::decode(&bytes);
        let _ = ClientFrame::decode(&bytes);
        let _ = GatewayFrame::decode(&bytes);
        let _ = Surb::from_bytes(&bytes);
        let _ = SurbOpener::from_persisted_bytes(&bytes);
        let _ = Packet::from_bytes(&bytes);
        let _ = process(&bytes, &net().keys[0], &mut MemoryReplayCache::new(4));
    }

    #[test]
    fn random_packets_never_panic_and_are_rejected(bytes in proptest::collection::vec(any::<u8>(), PACKET_SIZE..=PACKET_SIZE)) {
        let r = process(&bytes, &net().keys[0], &mut MemoryReplayCache::new(4));
        prop_assert!(r.is_err());
    }

    #[test]
    fn prefixed_decoders_never_panic(tag in 0u8..=255, body in proptest::collection::vec(any::<u8>(), 0..600)) {
        // valid version byte + any tag, to get past the first check
        let mut bytes = vec![1u8, tag];
        bytes.extend_from_slice(&body);
        let _ = ReceivedRequest::decode(&bytes);
        let _ = Response::decode(&bytes);
        let _ = Inbound::decode(&bytes);
    }

    /// Any single bit flip in the header is rejected at the first hop. (Sphinx does not
    /// authenticate the payload per hop: a payload flip is caught at the final hop, below.)
    #[test]
    fn header_bit_flips_fail_at_the_first_hop(pos in 0usize..348, bit in 0u8..8) {
        let n = net();
        let mut bytes = n.packet.as_bytes().to_vec();
        bytes[pos] ^= 1 << bit;
        let err = process(&bytes, &n.keys[0], &mut MemoryReplayCache::new(4)).unwrap_err();
        prop_assert!(matches!(err, OnionError::Integrity | OnionError::Malformed), "{:?}", err);
    }

    #[test]
    fn payload_bit_flips_fail_at_the_final_hop(pos in 348usize..PACKET_SIZE, bit in 0u8..8) {
        let n = net();
        let mut bytes = n.packet.as_bytes().to_vec();
        bytes[pos] ^= 1 << bit;
        let mut result = None;
        for keys in &n.keys {
            match process(&bytes, keys, &mut MemoryReplayCache::new(4)) {
                Ok(Processed::Forward { packet, .. }) => bytes = packet.into_bytes(),
                other => { result = Some(other); break; }
            }
        }
        prop_assert!(matches!(result, Some(Err(OnionError::PayloadIntegrity))), "{:?}", result);
    }
}
