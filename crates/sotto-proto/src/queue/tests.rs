use super::*;
use crate::ids::RelayId;
use crate::keys::AuthKeyPair;
use crate::keys::KeyPair;
use crate::onion::{ConnTag, Hop, build_surb};
use crate::pow::Scope;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn surb(rng: &mut ChaCha20Rng) -> Surb {
    let route: Vec<Hop> = (0..3u8)
        .map(|i| Hop {
            id: RelayId::from_bytes([i; 32]),
            key: KeyPair::generate(rng).public,
        })
        .collect();
    let conn = ConnTag::random(rng);
    build_surb(rng, &route, conn).unwrap().0
}

#[test]
fn send_fits_and_round_trips_with_signature() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let sender = AuthKeyPair::generate(&mut rng);
    let req = Request {
        request_id: 7,
        reply: Some(surb(&mut rng)),
        command: Command::Send {
            sender_id: QueueId::from_bytes([3; 16]),
            message: vec![9; QUEUE_MESSAGE_SIZE],
        },
    };
    let bytes = req.encode(Some(&sender)).unwrap();
    assert!(bytes.len() <= ONION_PLAINTEXT_SIZE);
    let got = ReceivedRequest::decode(&bytes).unwrap();
    assert_eq!(got.command, req.command);
    got.verify(&sender.public_key()).unwrap();
    let other = AuthKeyPair::generate(&mut rng);
    assert_eq!(
        got.verify(&other.public_key()),
        Err(QueueError::BadSignature)
    );
}

#[test]
fn create_with_pow() {
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    let recipient = AuthKeyPair::generate(&mut rng);
    let scope = Scope {
        relay: RelayId::from_bytes([1; 32]),
        key_epoch: 2,
    };
    let bytes = Request::create(1, surb(&mut rng), &recipient, 1_800_000_000, 8, &scope).unwrap();
    let got = ReceivedRequest::decode(&bytes).unwrap();
    got.verify_pow(&scope, 8).unwrap();
    assert_eq!(
        got.pow_challenge(&scope),
        Some(create_challenge(
            &scope,
            &recipient.public_key(),
            1_800_000_000
        ))
    );
    // Bound to the relay and the epoch: elsewhere the same nonce fails (fixed seed).
    for other in [
        Scope {
            relay: RelayId::from_bytes([2; 32]),
            ..scope
        },
        Scope {
            key_epoch: 1,
            ..scope
        },
    ] {
        assert_eq!(got.verify_pow(&other, 8), Err(QueueError::Pow));
    }
}

#[test]
fn create_signature_is_checked_by_decode_and_left_to_the_relay_by_decode_unchecked_create() {
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    let recipient = AuthKeyPair::generate(&mut rng);
    let scope = Scope {
        relay: RelayId::from_bytes([1; 32]),
        key_epoch: 1,
    };
    let mut bytes =
        Request::create(1, surb(&mut rng), &recipient, 1_800_000_000, 0, &scope).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    assert_eq!(
        ReceivedRequest::decode(&bytes).err(),
        Some(QueueError::BadSignature)
    );
    let got = ReceivedRequest::decode_unchecked_create(&bytes).unwrap();
    assert_eq!(got.verify_self_signed(), Err(QueueError::BadSignature));
}

#[test]
fn blob_put_carries_its_nonce_and_a_truncated_nonce_is_refused() {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let req = Request {
        request_id: 3,
        reply: Some(surb(&mut rng)),
        command: Command::BlobPut {
            blob_id: BlobId::from_bytes([5; 16]),
            index: 2,
            pow_nonce: 0x0102_0304_0506_0708,
            data: vec![7; 100],
        },
    };
    let bytes = req.encode(None).unwrap();
    let got = ReceivedRequest::decode(&bytes).unwrap();
    assert_eq!(got.command, req.command);
    // Layout: header, blob id (16), index (4), nonce (8), length (2), data.
    let nonce_at = REQUEST_HEADER_LEN + 16 + 4;
    assert_eq!(bytes[nonce_at..nonce_at + 8], [1, 2, 3, 4, 5, 6, 7, 8]);
    for cut in nonce_at..nonce_at + 8 {
        assert_eq!(
            ReceivedRequest::decode(&bytes[..cut]).err(),
            Some(QueueError::Truncated),
            "cut {cut}"
        );
    }
}

#[test]
fn delivery_refuses_truncation_at_every_position_and_trailing_bytes() {
    let d = Delivery {
        recipient_id: QueueId::from_bytes([1; 16]),
        message_id: QueueMessageId::from_bytes([2; 16]),
        received_at: 1_800_000_000,
        body: vec![3; QUEUE_MESSAGE_SIZE],
    };
    let bytes = d.encode().unwrap();
    assert_eq!(Delivery::decode(&bytes).unwrap(), d);
    for cut in 0..bytes.len() {
        assert_eq!(
            Delivery::decode(&bytes[..cut]),
            Err(QueueError::Truncated),
            "cut {cut}"
        );
    }
    let mut long = bytes;
    long.push(0);
    assert_eq!(Delivery::decode(&long), Err(QueueError::TrailingBytes));
}

#[test]
fn expired_at_carries_the_relay_clock_and_refuses_truncation_and_trailing_bytes() {
    let r = Response {
        request_id: 42,
        body: ResponseBody::ExpiredAt {
            relay_time: 1_800_000_123,
        },
    };
    let bytes = r.encode().unwrap();
    // version, tag 0x8e, request id, relay time.
    assert_eq!(bytes.len(), RESPONSE_HEADER_LEN + 8);
    assert_eq!(bytes[1], tag::EXPIRED_AT);
    assert_eq!(Response::decode(&bytes).unwrap(), r);
    assert_eq!(r.body.error_code(), Some(ErrorCode::Expired));
    assert_eq!(ResponseBody::Ok.error_code(), None);
    for cut in 0..bytes.len() {
        assert!(Response::decode(&bytes[..cut]).is_err(), "cut {cut}");
    }
    let mut long = bytes;
    long.push(0);
    assert_eq!(Response::decode(&long), Err(QueueError::TrailingBytes));
}

#[test]
fn pow_required_carries_the_bits_and_refuses_more_than_the_maximum() {
    let r = Response {
        request_id: 7,
        body: ResponseBody::PowRequired { bits: 19 },
    };
    let bytes = r.encode().unwrap();
    // version, tag 0x8d, request id, bits.
    assert_eq!(bytes.len(), RESPONSE_HEADER_LEN + 1);
    assert_eq!(bytes[1], tag::POW_REQUIRED);
    assert_eq!(bytes[RESPONSE_HEADER_LEN], 19);
    assert_eq!(Response::decode(&bytes).unwrap(), r);
    assert_eq!(r.body.error_code(), Some(ErrorCode::Pow));
    for cut in 0..bytes.len() {
        assert!(Response::decode(&bytes[..cut]).is_err(), "cut {cut}");
    }
    let mut too_hard = bytes.clone();
    too_hard[RESPONSE_HEADER_LEN] = crate::pow::MAX_BITS + 1;
    assert_eq!(Response::decode(&too_hard), Err(QueueError::OutOfRange));
    let over = Response {
        request_id: 7,
        body: ResponseBody::PowRequired {
            bits: crate::pow::MAX_BITS + 1,
        },
    };
    assert_eq!(over.encode(), Err(QueueError::OutOfRange));
    let mut long = bytes;
    long.push(0);
    assert_eq!(Response::decode(&long), Err(QueueError::TrailingBytes));
}
