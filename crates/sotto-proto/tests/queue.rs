//! Queue command codec: round trips, signatures, proof of work and rejection cases, and one
//! request/answer through the onion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sotto_proto::PROTOCOL_VERSION;
use sotto_proto::ids::{QueueId, RelayId};
use sotto_proto::keys::AuthKeyPair;
use sotto_proto::onion::{
    ConnTag, Hop, MemoryReplayCache, Processed, RelayKey, RelayKeys, SURB_SIZE, Surb,
    build_forward, build_surb, process,
};
use sotto_proto::pow::Scope;
use sotto_proto::queue::{
    Auth, BLOB_CHUNK_SIZE, BlobId, Command, DELIVERY_LEN, Delivery, ErrorCode, Inbound,
    MAX_ACK_SURBS, MAX_SUBSCRIBE_SURBS, QueueError, QueueMessageId, ReceivedRequest, Request,
    Response, ResponseBody, sign_moved, tag, verify_moved,
};
use sotto_proto::sizes::{ONION_PLAINTEXT_SIZE, QUEUE_MESSAGE_SIZE};

fn hops(rng: &mut ChaCha20Rng) -> (Vec<Hop>, Vec<RelayKeys>) {
    let mut hops = Vec::new();
    let mut keys = Vec::new();
    for i in 0..3u8 {
        let k = RelayKey::generate(rng, 1);
        hops.push(Hop {
            id: RelayId::from_bytes([i + 1; 32]),
            key: k.public_key(),
        });
        keys.push(RelayKeys::new(k));
    }
    (hops, keys)
}

fn surb(rng: &mut ChaCha20Rng) -> Surb {
    let (h, _) = hops(rng);
    let conn = ConnTag::random(rng);
    build_surb(rng, &h, conn).unwrap().0
}

fn surbs(rng: &mut ChaCha20Rng, n: usize) -> Vec<Surb> {
    let (h, _) = hops(rng);
    let conn = ConnTag::random(rng);
    (0..n)
        .map(|_| build_surb(rng, &h, conn).unwrap().0)
        .collect()
}

/// Every command with the key that signs it.
fn all_commands(rng: &mut ChaCha20Rng) -> Vec<(Request, Option<AuthKeyPair>)> {
    let recipient = AuthKeyPair::generate(rng);
    let sender = AuthKeyPair::generate(rng);
    let rid = QueueId::random(rng);
    let sid = QueueId::random(rng);
    let cmds: Vec<(Command, Option<AuthKeyPair>)> = vec![
        (
            Command::Create {
                recipient_key: recipient.public_key(),
                timestamp: 1_800_000_000,
                pow_nonce: 42,
            },
            Some(recipient.clone()),
        ),
        (
            Command::Secure {
                sender_id: sid,
                sender_key: sender.public_key(),
            },
            Some(sender.clone()),
        ),
        (
            Command::Send {
                sender_id: sid,
                message: vec![0xab; QUEUE_MESSAGE_SIZE],
            },
            Some(sender.clone()),
        ),
        (
            Command::Subscribe {
                recipient_id: rid,
                surbs: surbs(rng, MAX_SUBSCRIBE_SURBS),
            },
            Some(recipient.clone()),
        ),
        (
            Command::Ack {
                recipient_id: rid,
                message_id: QueueMessageId::random(rng),
                surbs: surbs(rng, MAX_ACK_SURBS),
                quiet: false,
            },
            Some(recipient.clone()),
        ),
        (
            Command::Ack {
                recipient_id: rid,
                message_id: QueueMessageId::random(rng),
                surbs: vec![],
                quiet: false,
            },
            Some(recipient.clone()),
        ),
        (
            Command::Ack {
                recipient_id: rid,
                message_id: QueueMessageId::random(rng),
                surbs: surbs(rng, 1),
                quiet: true,
            },
            Some(recipient.clone()),
        ),
        (
            Command::Delete { recipient_id: rid },
            Some(recipient.clone()),
        ),
        (
            Command::Rekey {
                recipient_id: rid,
                new_recipient_key: sender.public_key(),
                moved_sig: sign_moved(&recipient, &rid, &sender.public_key()),
            },
            Some(recipient.clone()),
        ),
        (
            Command::BlobPut {
                blob_id: BlobId::random(rng),
                index: 3,
                pow_nonce: 11,
                data: vec![7; BLOB_CHUNK_SIZE],
            },
            None,
        ),
        (
            Command::BlobGet {
                blob_id: BlobId::random(rng),
                index: 9,
            },
            None,
        ),
    ];
    cmds.into_iter()
        .enumerate()
        .map(|(i, (command, key))| {
            (
                Request {
                    request_id: i as u64 * 1000 + 1,
                    reply: command.answered().then(|| surb(rng)),
                    command,
                },
                key,
            )
        })
        .collect()
}

#[test]
fn every_command_round_trips_and_fits_one_onion_payload() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    for (req, key) in all_commands(&mut rng) {
        let bytes = req.encode(key.as_ref()).unwrap();
        assert!(bytes.len() <= ONION_PLAINTEXT_SIZE, "{:?}", req.command);
        assert_eq!(bytes[0], PROTOCOL_VERSION);
        let got = ReceivedRequest::decode(&bytes).unwrap();
        assert_eq!(got.request_id, req.request_id);
        assert_eq!(got.reply, req.reply);
        assert_eq!(got.command, req.command);
        match got.auth() {
            Auth::Recipient(_) | Auth::Sender(_) => got.verify(&key.unwrap().public_key()).unwrap(),
            Auth::SelfSigned(k) => got.verify(&k).unwrap(),
            Auth::None => assert_eq!(
                got.verify(&AuthKeyPair::generate(&mut rng).public_key()),
                Err(QueueError::Signer)
            ),
        }
    }
}

#[test]
fn any_flipped_signed_byte_breaks_the_signature() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    for (req, key) in all_commands(&mut rng) {
        let Some(key) = key else { continue };
        let bytes = req.encode(Some(&key)).unwrap();
        // flip bytes in the request id, the SURB's MAC area, the body and the signature
        for pos in [2usize, 9, 50, 406, bytes.len() - 65, bytes.len() - 1] {
            let mut t = bytes.clone();
            t[pos] ^= 0x01;
            let res = ReceivedRequest::decode(&t).and_then(|r| r.verify(&key.public_key()));
            assert!(res.is_err(), "{:?} pos {pos}", req.command.tag());
        }
    }
}

#[test]
fn a_quiet_ack_carries_no_reply_block_and_only_it_may() {
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    let recipient = AuthKeyPair::generate(&mut rng);
    let ack = |quiet| Command::Ack {
        recipient_id: QueueId::from_bytes([3; 16]),
        message_id: QueueMessageId::from_bytes([4; 16]),
        surbs: vec![],
        quiet,
    };
    let quiet = Request {
        request_id: 5,
        reply: None,
        command: ack(true),
    };
    let bytes = quiet.encode(Some(&recipient)).unwrap();
    assert_eq!(bytes[1], tag::ACK_QUIET);
    assert!(bytes[10..10 + SURB_SIZE].iter().all(|b| *b == 0));
    let got = ReceivedRequest::decode(&bytes).unwrap();
    assert_eq!((&got.reply, &got.command), (&None, &ack(true)));
    got.verify(&recipient.public_key()).unwrap();
    // The same Ack answered: tag 0x05 and a real reply block; same length.
    let answered = Request {
        request_id: 5,
        reply: Some(surb(&mut rng)),
        command: ack(false),
    };
    let answered_bytes = answered.encode(Some(&recipient)).unwrap();
    assert_eq!(answered_bytes[1], tag::ACK);
    assert_eq!(answered_bytes.len(), bytes.len());

    // A reply block where none belongs, or none where one does: refused when encoding...
    let misuse = [
        Request {
            reply: Some(surb(&mut rng)),
            ..quiet.clone()
        },
        Request {
            reply: None,
            ..answered.clone()
        },
    ];
    for req in misuse {
        assert_eq!(req.encode(Some(&recipient)), Err(QueueError::Reply));
    }
    // ... and when decoding: a quiet Ack whose reply field is not all zero (any byte), an
    // answered one whose field is.
    for pos in [10, 10 + SURB_SIZE / 2, 10 + SURB_SIZE - 1] {
        let mut t = bytes.clone();
        t[pos] = 1;
        assert_eq!(
            ReceivedRequest::decode(&t).unwrap_err(),
            QueueError::BadSurb
        );
    }
    let mut t = answered_bytes.clone();
    t[10..10 + SURB_SIZE].fill(0);
    assert_eq!(
        ReceivedRequest::decode(&t).unwrap_err(),
        QueueError::BadSurb
    );
    // The tag is signed: turning a quiet Ack into an answered one (or back) breaks it.
    let mut t = answered_bytes;
    t[1] = tag::ACK_QUIET;
    t[10..10 + SURB_SIZE].fill(0);
    let got = ReceivedRequest::decode(&t).unwrap();
    assert_eq!(
        got.verify(&recipient.public_key()),
        Err(QueueError::BadSignature)
    );
}

#[test]
fn a_send_signed_by_another_key_is_rejected() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let sender = AuthKeyPair::generate(&mut rng);
    let intruder = AuthKeyPair::generate(&mut rng);
    let req = Request {
        request_id: 1,
        reply: Some(surb(&mut rng)),
        command: Command::Send {
            sender_id: QueueId::random(&mut rng),
            message: vec![1; QUEUE_MESSAGE_SIZE],
        },
    };
    let bytes = req.encode(Some(&intruder)).unwrap();
    let got = ReceivedRequest::decode(&bytes).unwrap();
    assert_eq!(got.auth(), req.command.auth());
    assert_eq!(
        got.verify(&sender.public_key()),
        Err(QueueError::BadSignature)
    );
}

#[test]
fn signer_misuse_is_refused_when_encoding() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let cmds = all_commands(&mut rng);
    let stranger = AuthKeyPair::generate(&mut rng);
    for (req, key) in &cmds {
        match (req.command.auth(), key) {
            (Auth::None, _) => {
                assert_eq!(req.encode(Some(&stranger)), Err(QueueError::Signer))
            }
            (Auth::SelfSigned(_), _) => {
                assert_eq!(req.encode(Some(&stranger)), Err(QueueError::Signer));
                assert_eq!(req.encode(None), Err(QueueError::Signer));
            }
            _ => assert_eq!(req.encode(None), Err(QueueError::Signer)),
        }
    }
}

#[test]
fn self_signed_commands_are_checked_by_decode() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let sender = AuthKeyPair::generate(&mut rng);
    let req = Request {
        request_id: 1,
        reply: Some(surb(&mut rng)),
        command: Command::Secure {
            sender_id: QueueId::random(&mut rng),
            sender_key: sender.public_key(),
        },
    };
    let mut bytes = req.encode(Some(&sender)).unwrap();
    // replace the sender key with another: the signature no longer matches
    let other = AuthKeyPair::generate(&mut rng).public_key();
    let key_at = 10 + SURB_SIZE + 16;
    bytes[key_at..key_at + 32].copy_from_slice(other.as_bytes());
    assert_eq!(
        ReceivedRequest::decode(&bytes).unwrap_err(),
        QueueError::BadSignature
    );
    // a weak (small-order) key is refused outright
    let mut weak = bytes.clone();
    let mut identity = [0u8; 32];
    identity[0] = 1;
    weak[key_at..key_at + 32].copy_from_slice(&identity);
    assert_eq!(
        ReceivedRequest::decode(&weak).unwrap_err(),
        QueueError::BadKey
    );
}

#[test]
fn malformed_requests_are_rejected_with_typed_errors() {
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    for (req, key) in all_commands(&mut rng) {
        let bytes = req.encode(key.as_ref()).unwrap();
        // every truncation
        for len in 0..bytes.len() {
            let err = ReceivedRequest::decode(&bytes[..len]).unwrap_err();
            assert!(
                matches!(
                    err,
                    QueueError::Truncated
                        | QueueError::BadSurb
                        | QueueError::OutOfRange
                        | QueueError::BadSignature
                ),
                "{len}: {err:?}"
            );
        }
        // trailing byte
        let mut long = bytes.clone();
        long.push(0);
        let err = ReceivedRequest::decode(&long).unwrap_err();
        assert!(
            matches!(
                err,
                QueueError::TrailingBytes | QueueError::Oversize(_) | QueueError::BadSignature
            ),
            "{err:?}"
        );
        // wrong version
        let mut v = bytes.clone();
        v[0] = 2;
        assert_eq!(
            ReceivedRequest::decode(&v).unwrap_err(),
            QueueError::WrongVersion(2)
        );
        // unknown tag
        let mut t = bytes.clone();
        t[1] = 0x7e;
        assert_eq!(
            ReceivedRequest::decode(&t).unwrap_err(),
            QueueError::UnknownTag(0x7e)
        );
    }
    assert_eq!(
        ReceivedRequest::decode(&vec![1; ONION_PLAINTEXT_SIZE + 1]).unwrap_err(),
        QueueError::Oversize(ONION_PLAINTEXT_SIZE + 1)
    );
}

#[test]
fn counts_and_sizes_are_bounded() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let key = AuthKeyPair::generate(&mut rng);
    let rid = QueueId::random(&mut rng);
    let mk = |command| Request {
        request_id: 1,
        reply: Some(surb(&mut ChaCha20Rng::seed_from_u64(70))),
        command,
    };
    let too_many = surbs(&mut rng, MAX_SUBSCRIBE_SURBS + 1);
    assert_eq!(
        mk(Command::Subscribe {
            recipient_id: rid,
            surbs: vec![]
        })
        .encode(Some(&key)),
        Err(QueueError::OutOfRange)
    );
    assert_eq!(
        mk(Command::Subscribe {
            recipient_id: rid,
            surbs: too_many.clone()
        })
        .encode(Some(&key)),
        Err(QueueError::OutOfRange)
    );
    assert_eq!(
        mk(Command::Send {
            sender_id: rid,
            message: vec![0; QUEUE_MESSAGE_SIZE - 1]
        })
        .encode(Some(&key)),
        Err(QueueError::WrongMessageSize(QUEUE_MESSAGE_SIZE - 1))
    );
    assert_eq!(
        mk(Command::BlobPut {
            blob_id: BlobId::random(&mut rng),
            index: 0,
            pow_nonce: 0,
            data: vec![0; BLOB_CHUNK_SIZE + 1]
        })
        .encode(None),
        Err(QueueError::OutOfRange)
    );
    // a subscribe frame whose count byte says 0 is rejected on decode
    let ok = mk(Command::Subscribe {
        recipient_id: rid,
        surbs: surbs(&mut rng, 1),
    })
    .encode(Some(&key))
    .unwrap();
    let mut zero = ok.clone();
    zero[10 + SURB_SIZE + 16] = 0;
    assert_eq!(
        ReceivedRequest::decode(&zero).unwrap_err(),
        QueueError::OutOfRange
    );
    // a garbage SURB is rejected
    let mut bad = ok.clone();
    bad[10 + SURB_SIZE + 17..10 + SURB_SIZE + 17 + SURB_SIZE].fill(0);
    assert!(ReceivedRequest::decode(&bad).is_err());
}

#[test]
fn create_pays_with_a_proof_of_work_bound_to_the_relay_epoch_key_and_time() {
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    let recipient = AuthKeyPair::generate(&mut rng);
    let scope = Scope {
        relay: RelayId::random(&mut rng),
        key_epoch: 1,
    };
    let bytes = Request::create(5, surb(&mut rng), &recipient, 1_800_000_000, 12, &scope).unwrap();
    let got = ReceivedRequest::decode(&bytes).unwrap();
    got.verify_pow(&scope, 12).unwrap();
    let Command::Create { timestamp, .. } = got.command else {
        panic!()
    };
    assert_eq!(timestamp, 1_800_000_000);
    // demanding much more work fails (overwhelmingly likely at 40 bits)
    assert_eq!(got.verify_pow(&scope, 40), Err(QueueError::Pow));
    // the same Create with another SURB and request id (a retry) has the same challenge ...
    let again = Request::create(6, surb(&mut rng), &recipient, 1_800_000_000, 12, &scope).unwrap();
    let again = ReceivedRequest::decode(&again).unwrap();
    assert_eq!(again.pow_challenge(&scope), got.pow_challenge(&scope));
    // ... one at another time has another
    let later = Request::create(5, surb(&mut rng), &recipient, 1_800_000_001, 12, &scope).unwrap();
    let later = ReceivedRequest::decode(&later).unwrap();
    assert_ne!(later.pow_challenge(&scope), got.pow_challenge(&scope));
    // non-Create commands have no challenge and pass
    let del = Request {
        request_id: 1,
        reply: Some(surb(&mut rng)),
        command: Command::Delete {
            recipient_id: QueueId::random(&mut rng),
        },
    };
    let del = ReceivedRequest::decode(&del.encode(Some(&recipient)).unwrap()).unwrap();
    assert!(del.pow_challenge(&scope).is_none());
    del.verify_pow(&scope, 30).unwrap();
}

#[test]
fn responses_and_deliveries_round_trip() {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let bodies = vec![
        ResponseBody::Ok,
        ResponseBody::Ids {
            recipient_id: QueueId::random(&mut rng),
            sender_id: QueueId::random(&mut rng),
        },
        ResponseBody::BlobChunk {
            index: 4,
            data: vec![3; BLOB_CHUNK_SIZE],
        },
        ResponseBody::BlobChunk {
            index: 4,
            data: vec![],
        },
        ResponseBody::Error(ErrorCode::Quota),
        ResponseBody::Error(ErrorCode::Unknown(999)),
        ResponseBody::Error(ErrorCode::Moved),
        ResponseBody::Moved {
            new_recipient_key: AuthKeyPair::generate(&mut rng).public_key(),
            moved_sig: [7; 64],
        },
    ];
    for body in bodies {
        let r = Response {
            request_id: u64::MAX,
            body,
        };
        let bytes = r.encode().unwrap();
        assert!(bytes.len() <= ONION_PLAINTEXT_SIZE);
        assert_eq!(Response::decode(&bytes).unwrap(), r);
        assert_eq!(Inbound::decode(&bytes).unwrap(), Inbound::Response(r));
        for len in 0..bytes.len() {
            assert!(Response::decode(&bytes[..len]).is_err());
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(Response::decode(&long), Err(QueueError::TrailingBytes));
    }
    for code in 1..=12u16 {
        assert_eq!(ErrorCode::from_code(code).code(), code);
        assert!(!matches!(ErrorCode::from_code(code), ErrorCode::Unknown(_)));
    }

    let d = Delivery {
        recipient_id: QueueId::random(&mut rng),
        message_id: QueueMessageId::random(&mut rng),
        received_at: 1_800_000_123,
        body: vec![5; QUEUE_MESSAGE_SIZE],
    };
    let bytes = d.encode().unwrap();
    assert_eq!(bytes.len(), DELIVERY_LEN);
    assert_eq!(bytes[1], tag::DELIVERY);
    assert_eq!(
        Inbound::decode(&bytes).unwrap(),
        Inbound::Delivery(d.clone())
    );
    assert!(Delivery::decode(&bytes[..bytes.len() - 1]).is_err());
    let mut wrong = bytes.clone();
    wrong[0] = 9;
    assert_eq!(Delivery::decode(&wrong), Err(QueueError::WrongVersion(9)));
    let short_body = Delivery {
        body: vec![1; 3],
        ..d
    };
    assert!(short_body.encode().is_err());
}

#[test]
fn request_and_answer_travel_through_the_onion() {
    let mut rng = ChaCha20Rng::seed_from_u64(10);
    let (route, keys) = hops(&mut rng);
    let mut caches: Vec<MemoryReplayCache> = (0..3).map(|_| MemoryReplayCache::new(64)).collect();
    let conn = ConnTag::random(&mut rng);
    // client's gateway is relay 0; the request goes 0 -> 1 -> 2 (the queue relay); the reply
    // route [1, 2, 0] may start anywhere but ends at the gateway
    let back = vec![route[1], route[2], route[0]];
    let (reply, opener) = build_surb(&mut rng, &back, conn).unwrap();
    let recipient = AuthKeyPair::generate(&mut rng);
    let scope = Scope {
        relay: route[2].id,
        key_epoch: 1,
    };
    let req = Request::create(77, reply, &recipient, 1_800_000_000, 8, &scope).unwrap();
    let mut bytes = build_forward(&mut rng, &route, &req).unwrap().into_bytes();
    let mut delivered = None;
    for i in 0..3 {
        match process(&bytes, &keys[i], &mut caches[i]).unwrap() {
            Processed::Forward { packet, .. } => bytes = packet.into_bytes(),
            Processed::Deliver { payload, .. } => delivered = Some(payload),
            other => panic!("{other:?}"),
        }
    }
    // queue relay
    let got = ReceivedRequest::decode(&delivered.unwrap()).unwrap();
    got.verify_pow(&scope, 8).unwrap();
    let answer = Response {
        request_id: got.request_id,
        body: ResponseBody::Ids {
            recipient_id: QueueId::random(&mut rng),
            sender_id: QueueId::random(&mut rng),
        },
    };
    let (first, packet) = got
        .reply
        .clone()
        .unwrap()
        .seal(&answer.encode().unwrap())
        .unwrap();
    assert_eq!(first, route[1].id);
    let mut bytes = packet.into_bytes();
    for i in [1usize, 2, 0] {
        match process(&bytes, &keys[i], &mut caches[i]).unwrap() {
            Processed::Forward { packet, .. } => bytes = packet.into_bytes(),
            Processed::ToClient {
                connection,
                surb_id,
                sealed,
            } => {
                assert_eq!(i, 0);
                assert_eq!(connection, conn);
                assert_eq!(surb_id, opener.id());
                let plain = opener.open(&sealed).unwrap();
                assert_eq!(
                    Inbound::decode(&plain).unwrap(),
                    Inbound::Response(answer.clone())
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn error_codes_for_decode_failures() {
    assert_eq!(ErrorCode::from(&QueueError::BadSignature), ErrorCode::Auth);
    assert_eq!(ErrorCode::from(&QueueError::Pow), ErrorCode::Pow);
    assert_eq!(
        ErrorCode::from(&QueueError::Truncated),
        ErrorCode::BadCommand
    );
    assert_eq!(ErrorCode::Auth.code(), 1);
    assert_eq!(ErrorCode::Internal.code(), 11);
    assert_eq!(ErrorCode::Moved.code(), 12);
    assert_eq!(ErrorCode::from(&QueueError::BadKey), ErrorCode::Auth);
}

#[test]
fn a_moved_statement_verifies_only_under_its_key_for_its_queue_and_key() {
    let mut rng = ChaCha20Rng::seed_from_u64(21);
    let old = AuthKeyPair::generate(&mut rng);
    let new = AuthKeyPair::generate(&mut rng).public_key();
    let rid = QueueId::random(&mut rng);
    let sig = sign_moved(&old, &rid, &new);
    verify_moved(&old.public_key(), &rid, &new, &sig).unwrap();
    // Another signer, queue or new key; a flipped bit: refused.
    let stranger = AuthKeyPair::generate(&mut rng).public_key();
    assert_eq!(
        verify_moved(&stranger, &rid, &new, &sig),
        Err(QueueError::BadSignature)
    );
    assert_eq!(
        verify_moved(&old.public_key(), &QueueId::random(&mut rng), &new, &sig),
        Err(QueueError::BadSignature)
    );
    assert_eq!(
        verify_moved(&old.public_key(), &rid, &stranger, &sig),
        Err(QueueError::BadSignature)
    );
    for i in 0..sig.len() {
        let mut bad = sig;
        bad[i] ^= 0x01;
        assert!(verify_moved(&old.public_key(), &rid, &new, &bad).is_err());
    }
    // A key that is not a valid (or is a weak) Ed25519 key: BadKey, whoever signed.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = sotto_proto::keys::AuthPublicKey::from_bytes(identity);
    let sig_weak = sign_moved(&old, &rid, &weak);
    assert_eq!(
        verify_moved(&old.public_key(), &rid, &weak, &sig_weak),
        Err(QueueError::BadKey)
    );
    // A Moved answer cut short, or with a byte more, does not decode.
    let answer = Response {
        request_id: 3,
        body: ResponseBody::Moved {
            new_recipient_key: new,
            moved_sig: sig,
        },
    };
    let bytes = answer.encode().unwrap();
    assert_eq!(bytes[1], tag::MOVED);
    for len in 0..bytes.len() {
        assert!(Response::decode(&bytes[..len]).is_err());
    }
    let mut long = bytes;
    long.push(0);
    assert_eq!(Response::decode(&long), Err(QueueError::TrailingBytes));
}
