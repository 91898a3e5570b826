use super::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn relays(rng: &mut ChaCha20Rng, n: u8) -> Vec<(Hop, RelayKeys)> {
    (0..n)
        .map(|i| {
            let key = RelayKey::generate(rng, 1);
            let hop = Hop {
                id: RelayId::from_bytes([i + 1; 32]),
                key: key.public_key(),
            };
            (hop, RelayKeys::new(key))
        })
        .collect()
}

#[test]
fn forward_then_surb_reply_round_trip() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let r = relays(&mut rng, 3);
    let route: Vec<Hop> = r.iter().map(|(h, _)| *h).collect();
    let mut cache = MemoryReplayCache::new(64);
    let mut bytes = build_forward(&mut rng, &route, b"hello")
        .unwrap()
        .into_bytes();
    for (i, (_, keys)) in r.iter().enumerate() {
        match process(&bytes, keys, &mut cache).unwrap() {
            Processed::Forward { next, packet } => {
                assert_eq!(next, r[i + 1].0.id);
                bytes = packet.into_bytes();
            }
            Processed::Deliver { payload, .. } => {
                assert_eq!(i, 2);
                assert_eq!(payload, b"hello");
            }
            other => panic!("{other:?}"),
        }
    }

    let back: Vec<Hop> = route.iter().rev().copied().collect();
    let conn = ConnTag::random(&mut rng);
    let (surb, opener) = build_surb(&mut rng, &back, conn).unwrap();
    let surb = Surb::from_bytes(surb.as_bytes()).unwrap();
    assert_eq!(surb.first_hop(), back[0].id);
    let (first, packet) = surb.seal(b"answer").unwrap();
    assert_eq!(first, back[0].id);
    let mut bytes = packet.into_bytes();
    for (i, (_, keys)) in r.iter().rev().enumerate() {
        match process(&bytes, keys, &mut cache).unwrap() {
            Processed::Forward { packet, .. } => bytes = packet.into_bytes(),
            Processed::ToClient {
                connection,
                surb_id,
                sealed,
            } => {
                assert_eq!(i, 2);
                assert_eq!(connection, conn);
                assert_eq!(surb_id, opener.id());
                assert_eq!(opener.open(&sealed).unwrap(), b"answer");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn canonical_u_check() {
    assert!(is_canonical_u(&[0u8; 32]));
    let mut p = [0xffu8; 32];
    p[31] = 0x7f;
    p[0] = 0xec;
    assert!(is_canonical_u(&p));
    p[0] = 0xed;
    assert!(!is_canonical_u(&p));
    let mut hi = [0u8; 32];
    hi[31] = 0x80;
    assert!(!is_canonical_u(&hi));
}

#[test]
fn frames_round_trip() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let f = ClientFrame::Bind(ConnTag::random(&mut rng));
    assert_eq!(ClientFrame::decode(&f.encode()).unwrap(), f);
    let g = GatewayFrame::Reply {
        surb_id: SurbId::random(&mut rng),
        sealed: vec![7; SEALED_REPLY_SIZE],
    };
    assert_eq!(GatewayFrame::decode(&g.encode()).unwrap(), g);
    assert!(ClientFrame::decode(&[]).is_err());
    assert!(ClientFrame::decode(&[9, 1, 2]).is_err());
    assert!(GatewayFrame::decode(&[FRAME_REPLY; 10]).is_err());
}

#[test]
fn frames_refuse_truncation_and_trailing_bytes() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let bind = ClientFrame::Bind(ConnTag::random(&mut rng)).encode();
    let reply = GatewayFrame::Reply {
        surb_id: SurbId::random(&mut rng),
        sealed: vec![7; SEALED_REPLY_SIZE],
    }
    .encode();
    for cut in 0..bind.len() {
        assert!(ClientFrame::decode(&bind[..cut]).is_err(), "cut {cut}");
    }
    for cut in [0, 1, SURB_ID_LEN, SURB_ID_LEN + 1, reply.len() - 1] {
        assert!(GatewayFrame::decode(&reply[..cut]).is_err(), "cut {cut}");
    }
    let mut long = bind.clone();
    long.push(0);
    assert_eq!(
        ClientFrame::decode(&long),
        Err(OnionError::WrongLength {
            expected: CONN_TAG_LEN,
            got: CONN_TAG_LEN + 1
        })
    );
    let mut long = reply.clone();
    long.push(0);
    assert_eq!(
        GatewayFrame::decode(&long),
        Err(OnionError::WrongLength {
            expected: GatewayFrame::REPLY_LEN,
            got: GatewayFrame::REPLY_LEN + 1
        })
    );
}
