use super::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// A connected pair built straight from shared secrets, without the handshake.
pub(crate) fn pair(seed: u64) -> (Session, Session, ChaCha20Rng) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let bob_ratchet = KeyPair::generate(&mut rng);
    let sk = Secret32::from_bytes([1; 32]);
    let hka = Secret32::from_bytes([2; 32]);
    let nhkb = Secret32::from_bytes([3; 32]);
    let ad = [9u8; AD_LEN];
    let mut a = Session::new_initiator(
        &mut rng,
        sk.clone(),
        bob_ratchet.public,
        hka.clone(),
        nhkb.clone(),
        ad,
    )
    .unwrap();
    let first = a.encrypt(&mut rng, &body(0)).unwrap();
    let (b, pt) = Session::new_responder(&mut rng, sk, bob_ratchet, hka, nhkb, ad, &first).unwrap();
    assert_eq!(&pt[..], &body(0)[..]);
    (a, b, rng)
}

pub(crate) fn body(tag: u32) -> Vec<u8> {
    let mut b = vec![0u8; BODY_LEN];
    b[..4].copy_from_slice(&tag.to_be_bytes());
    b
}

#[test]
fn sizes_add_up() {
    assert_eq!(OVERHEAD, 118);
    assert_eq!(BODY_LEN, 3466);
}

#[test]
fn ping_pong_and_out_of_order() {
    let (mut a, mut b, mut rng) = pair(1);
    for round in 0..3u32 {
        let m1 = a.encrypt(&mut rng, &body(round * 10 + 1)).unwrap();
        let m2 = a.encrypt(&mut rng, &body(round * 10 + 2)).unwrap();
        let m3 = a.encrypt(&mut rng, &body(round * 10 + 3)).unwrap();
        assert_eq!(m1.len(), QUEUE_MESSAGE_SIZE);
        assert_eq!(
            &b.decrypt(&mut rng, &m3).unwrap()[..4],
            &(round * 10 + 3).to_be_bytes()
        );
        assert_eq!(b.skipped_keys(), 2);
        assert_eq!(
            &b.decrypt(&mut rng, &m1).unwrap()[..4],
            &(round * 10 + 1).to_be_bytes()
        );
        let r = b.encrypt(&mut rng, &body(99)).unwrap();
        assert_eq!(&a.decrypt(&mut rng, &r).unwrap()[..4], &99u32.to_be_bytes());
        assert_eq!(
            &b.decrypt(&mut rng, &m2).unwrap()[..4],
            &(round * 10 + 2).to_be_bytes()
        );
        assert_eq!(b.skipped_keys(), 0);
    }
}

#[test]
fn replay_and_tamper_rejected_state_unchanged() {
    let (mut a, mut b, mut rng) = pair(2);
    let m = a.encrypt(&mut rng, &body(5)).unwrap();
    let skipped_one = a.encrypt(&mut rng, &body(6)).unwrap();
    let m3 = a.encrypt(&mut rng, &body(7)).unwrap();
    b.decrypt(&mut rng, &m).unwrap();
    let before = b.to_persisted();
    assert_eq!(b.decrypt(&mut rng, &m), Err(RatchetError::Decrypt));
    for pos in [0, 1, 2, 40, 60, 90, 200, QUEUE_MESSAGE_SIZE - 1] {
        let mut t = m3.clone();
        t[pos] ^= 0x04;
        assert_eq!(
            b.decrypt(&mut rng, &t),
            Err(RatchetError::Decrypt),
            "pos {pos}"
        );
        assert_eq!(b.to_persisted().as_bytes(), before.as_bytes());
    }
    assert_eq!(b.decrypt(&mut rng, &m3[..100]), Err(RatchetError::Decrypt));
    b.decrypt(&mut rng, &m3).unwrap();
    b.decrypt(&mut rng, &skipped_one).unwrap();
    assert_eq!(
        b.decrypt(&mut rng, &skipped_one),
        Err(RatchetError::Decrypt)
    );
    assert_eq!(b.decrypt(&mut rng, &m3), Err(RatchetError::Decrypt));
}

#[test]
fn skip_limits() {
    let (mut a, mut b, mut rng) = pair(3);
    let mut msgs = Vec::new();
    for i in 0..(MAX_SKIP + 2) {
        msgs.push(a.encrypt(&mut rng, &body(i)).unwrap());
    }
    // Message number MAX_SKIP + 1 needs MAX_SKIP + 1 skipped keys (n = 1 .. MAX_SKIP + 1).
    assert_eq!(
        b.decrypt(&mut rng, msgs.last().unwrap()),
        Err(RatchetError::Decrypt)
    );
    b.decrypt(&mut rng, &msgs[MAX_SKIP as usize]).unwrap();
    assert_eq!(b.skipped_keys(), MAX_SKIP as usize);
    b.decrypt(&mut rng, &msgs[1]).unwrap();
}

#[test]
fn persisted_state_round_trips_and_rejects_junk() {
    let (mut a, mut b, mut rng) = pair(4);
    let _lost = a.encrypt(&mut rng, &body(1)).unwrap();
    let m = a.encrypt(&mut rng, &body(2)).unwrap();
    b.decrypt(&mut rng, &m).unwrap();
    let saved = b.to_persisted();
    let mut restored = Session::from_persisted(saved.as_bytes()).unwrap();
    assert_eq!(restored.to_persisted().as_bytes(), saved.as_bytes());
    let r = restored.encrypt(&mut rng, &body(3)).unwrap();
    a.decrypt(&mut rng, &r).unwrap();
    let bytes = saved.as_bytes();
    for cut in [0, 1, 50, bytes.len() - 1] {
        assert!(Session::from_persisted(&bytes[..cut]).is_err());
    }
    let mut long = bytes.to_vec();
    long.push(0);
    assert_eq!(
        Session::from_persisted(&long).unwrap_err(),
        SessionDecodeError::TrailingBytes
    );
    let mut v = bytes.to_vec();
    v[0] = 9;
    assert_eq!(
        Session::from_persisted(&v).unwrap_err(),
        SessionDecodeError::UnsupportedVersion(9)
    );
    assert_eq!(format!("{saved:?}"), "PersistedSession(<redacted>)");
}

#[test]
fn wrong_plaintext_size_is_api_misuse() {
    let (mut a, _b, mut rng) = pair(5);
    assert_eq!(
        a.encrypt(&mut rng, &[0u8; 10]),
        Err(RatchetError::PlaintextSize {
            expected: BODY_LEN,
            found: 10
        })
    );
}

#[test]
fn persisted_state_refuses_truncation_at_every_position() {
    let (_a, b, _rng) = pair(6);
    let saved = b.to_persisted();
    let bytes = saved.as_bytes();
    for cut in 0..bytes.len() {
        assert_eq!(
            Session::from_persisted(&bytes[..cut]).unwrap_err(),
            SessionDecodeError::Truncated,
            "cut {cut}"
        );
    }
}

#[test]
fn messages_of_the_wrong_length_are_refused() {
    let (mut a, mut b, mut rng) = pair(7);
    let m = a.encrypt(&mut rng, &body(1)).unwrap();
    let mut long = m.clone();
    long.push(0);
    assert_eq!(b.decrypt(&mut rng, &long), Err(RatchetError::Decrypt));
    assert_eq!(
        b.decrypt(&mut rng, &m[..m.len() - 1]),
        Err(RatchetError::Decrypt)
    );
    assert_eq!(hello_ephemeral_key(&long), None);
    b.decrypt(&mut rng, &m).unwrap();
}
