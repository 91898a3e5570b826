#![no_main]
//! Onion packets at a relay, gateway frames, SURBs and sealed replies. Never panics.
//!
//! Three modes (first byte): raw bytes as a packet; a valid packet XOR-ed with the input (so
//! the fuzzer explores near-valid packets); and the input as a payload built into a packet
//! and driven through three relays, which must deliver it unchanged.
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sotto_proto::ids::RelayId;
use sotto_proto::onion::{
    ClientFrame, ConnTag, GatewayFrame, Hop, MemoryReplayCache, Packet, Processed, RelayKey,
    RelayKeys, Surb, SurbOpener, build_forward, build_surb, process,
};
use sotto_proto::sizes::{ONION_PLAINTEXT_SIZE, PACKET_SIZE};

struct Net {
    route: Vec<Hop>,
    keys: Vec<RelayKeys>,
    packet: Packet,
    opener: SurbOpener,
}

fn net() -> &'static Net {
    static NET: OnceLock<Net> = OnceLock::new();
    NET.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
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
        let packet = build_forward(&mut rng, &route, b"seed").unwrap();
        let (_, opener) = build_surb(&mut rng, &route, ConnTag::from_bytes([3; 16])).unwrap();
        Net {
            route,
            keys,
            packet,
            opener,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let n = net();
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let mut cache = MemoryReplayCache::new(16);
    match mode % 3 {
        0 => {
            let _ = process(rest, &n.keys[0], &mut cache);
            let _ = ClientFrame::decode(rest);
            let _ = GatewayFrame::decode(rest);
            let _ = Surb::from_bytes(rest);
            let _ = SurbOpener::from_persisted_bytes(rest);
            let _ = n.opener.open(rest);
        }
        1 => {
            let mut bytes = n.packet.as_bytes().to_vec();
            for (b, x) in bytes.iter_mut().zip(rest) {
                *b ^= *x;
            }
            let changed = rest.iter().take(PACKET_SIZE).any(|x| *x != 0);
            let mut hop = 0;
            loop {
                match process(&bytes, &n.keys[hop], &mut cache) {
                    Ok(Processed::Forward { packet, .. }) if hop < 2 => {
                        bytes = packet.into_bytes();
                        hop += 1;
                    }
                    Ok(Processed::Deliver { payload, .. }) => {
                        // a changed packet never delivers something else
                        assert!(!changed || payload == b"seed");
                        break;
                    }
                    _ => break,
                }
            }
            let mut sealed = vec![0u8; 4096];
            for (b, x) in sealed.iter_mut().zip(rest) {
                *b = *x;
            }
            let _ = n.opener.open(&sealed);
        }
        _ => {
            let payload = &rest[..rest.len().min(ONION_PLAINTEXT_SIZE)];
            let mut rng = ChaCha20Rng::seed_from_u64(rest.len() as u64);
            let mut bytes = build_forward(&mut rng, &n.route, payload)
                .unwrap()
                .into_bytes();
            for keys in &n.keys {
                assert_eq!(bytes.len(), PACKET_SIZE);
                match process(&bytes, keys, &mut cache).unwrap() {
                    Processed::Forward { packet, .. } => bytes = packet.into_bytes(),
                    Processed::Deliver { payload: got, .. } => assert_eq!(got, payload),
                    Processed::ToClient { .. } => panic!("forward packet went to a client"),
                }
            }
        }
    }
});
