//! Property tests for invitations, envelopes, the handshake and the ratchet (native only).
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use sotto_proto::envelope::{
    Attachment, AttachmentKey, BlobId, Content, ENVELOPE_SIZE, Envelope, Hello, MessageId,
    ReceiptKind,
};
use sotto_proto::handshake::{InvitationSecret, accept_invitation};
use sotto_proto::ids::{QueueId, RelayId};
use sotto_proto::invitation::{Invitation, InvitationKind};
use sotto_proto::keys::PublicKey;
use sotto_proto::mnemonic::Mnemonic;
use sotto_proto::ratchet::Session;
use sotto_proto::sizes::QUEUE_MESSAGE_SIZE;

const NOW: u64 = 1_800_000_000;

fn kind() -> impl Strategy<Value = InvitationKind> {
    prop_oneof![
        Just(InvitationKind::OneTime),
        any::<u8>().prop_map(|pow_difficulty| InvitationKind::ContactAddress { pow_difficulty }),
    ]
}

fn content() -> impl Strategy<Value = Content> {
    let text = "\\PC{0,300}".prop_map(Content::Text);
    let attachment = (
        any::<[u8; 32]>(),
        any::<[u8; 16]>(),
        any::<[u8; 32]>(),
        any::<u64>(),
        any::<[u8; 32]>(),
        "[a-z]{1,20}/[a-z0-9.+-]{1,40}",
        "\\PC{0,60}",
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(r, b, k, size, sha256, mime, name, thumbnail)| {
            Content::Attachment(Attachment {
                blob_relay: RelayId::from_bytes(r),
                blob_id: BlobId::from_bytes(b),
                key: AttachmentKey::from_bytes(k),
                size,
                sha256,
                mime,
                name,
                thumbnail,
            })
        });
    let receipt = (
        any::<bool>(),
        proptest::collection::vec(any::<[u8; 16]>(), 1..50),
    )
        .prop_map(|(read, ids)| Content::Receipt {
            kind: if read {
                ReceiptKind::Read
            } else {
                ReceiptKind::Delivered
            },
            ids: ids.into_iter().map(MessageId::from_bytes).collect(),
        });
    let timer = any::<u32>().prop_map(|seconds| Content::DisappearingTimer { seconds });
    let hello = (any::<[u8; 32]>(), any::<[u8; 16]>(), "\\PC{0,30}").prop_map(|(r, q, n)| {
        Content::Hello(Hello {
            reply_relay: RelayId::from_bytes(r),
            reply_queue: QueueId::from_bytes(q),
            display_name: n,
        })
    });
    prop_oneof![text, attachment, receipt, timer, hello]
}

/// Alice's and Bob's sessions right after the handshake (Alice has read the hello).
fn connected(seed: u64) -> (Session, Session, InvitationSecret, Vec<u8>, ChaCha20Rng) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let relay = RelayId::random(&mut rng);
    let queue = QueueId::random(&mut rng);
    let secret = InvitationSecret::create(&mut rng, InvitationKind::OneTime, relay, queue, NOW);
    let inv = *secret.invitation();
    let (r, q) = (RelayId::random(&mut rng), QueueId::random(&mut rng));
    let acc = accept_invitation(&mut rng, &inv, r, q, "Bob", NOW).unwrap();
    let (alice, _, _) = secret
        .receive_hello(&mut rng, &acc.first_message, NOW)
        .unwrap();
    (alice, acc.session, secret, acc.first_message, rng)
}

fn text(rng: &mut ChaCha20Rng, i: usize) -> Envelope {
    Envelope::new(rng, NOW, Content::Text(format!("message {i}")))
}

proptest! {
    #[test]
    fn invitation_round_trips(
        kind in kind(),
        relay in any::<[u8; 32]>(),
        queue in any::<[u8; 16]>(),
        key in any::<[u8; 32]>(),
        expires_at in (NOW + 1)..=u64::MAX,
    ) {
        let inv = Invitation {
            kind,
            relay: RelayId::from_bytes(relay),
            queue: QueueId::from_bytes(queue),
            handshake_key: PublicKey::from_bytes(key),
            expires_at,
        };
        prop_assert_eq!(Invitation::from_bytes(&inv.to_bytes(), NOW).unwrap(), inv);
        let link = inv.to_link("https://sotto.example/app");
        prop_assert_eq!(Invitation::parse_link(&link, NOW).unwrap(), inv);
    }

    #[test]
    fn envelope_round_trips(content in content(), id in any::<[u8; 16]>(), sent_at in any::<u64>()) {
        let env = Envelope { id: MessageId::from_bytes(id), sent_at, content };
        let bytes = env.encode().unwrap();
        prop_assert_eq!(bytes.len(), ENVELOPE_SIZE);
        prop_assert_eq!(Envelope::decode(&bytes).unwrap(), env);
    }

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4000), s in "\\PC{0,200}") {
        let _ = Invitation::from_bytes(&bytes, NOW);
        let _ = Invitation::parse_link(&s, NOW);
        let _ = Invitation::parse_link(&format!("#/invite/{s}"), NOW);
        let _ = Mnemonic::parse(&s);
        let _ = Envelope::decode(&bytes);
        let mut padded = bytes.clone();
        padded.resize(ENVELOPE_SIZE, 0);
        let _ = Envelope::decode(&padded);
        let _ = Session::from_persisted(&bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any schedule of sends in both directions, delivered in any order, arrives exactly once;
    /// a second delivery of anything is rejected and changes nothing.
    #[test]
    fn ratchet_delivers_any_order_exactly_once(
        seed in any::<u64>(),
        ops in proptest::collection::vec((0u8..3, any::<u16>()), 1..60),
        tail in proptest::collection::vec(any::<u16>(), 30),
    ) {
        let (mut alice, mut bob, _, hello, mut rng) = connected(seed);
        // (to_alice, message, expected envelope)
        let mut pool: Vec<(bool, Vec<u8>, Envelope)> = Vec::new();
        let mut delivered: Vec<(bool, Vec<u8>)> = vec![(true, hello)];
        let mut sent = 0usize;
        let deliver = |alice: &mut Session, bob: &mut Session, rng: &mut ChaCha20Rng,
                       pool: &mut Vec<(bool, Vec<u8>, Envelope)>,
                       delivered: &mut Vec<(bool, Vec<u8>)>, pick: u16| {
            if pool.is_empty() { return; }
            let (to_alice, msg, env) = pool.remove(usize::from(pick) % pool.len());
            let rx = if to_alice { &mut *alice } else { &mut *bob };
            assert_eq!(rx.receive(rng, &msg).unwrap(), env);
            // Replay something already delivered to this side.
            delivered.push((to_alice, msg));
            // (The one just delivered is among them, so there is always one.)
            let old: Vec<_> = delivered.iter().filter(|(a, _)| *a == to_alice).collect();
            let (_, replay) = old[usize::from(pick) % old.len()].clone();
            let before = rx.to_persisted().as_bytes().to_vec();
            assert!(rx.decrypt(rng, &replay).is_err());
            assert_eq!(rx.to_persisted().as_bytes(), &before[..]);
        };
        for (op, pick) in ops {
            match op {
                0 | 1 if sent < 30 => {
                    let env = text(&mut rng, sent);
                    let to_alice = op == 0;
                    let tx = if to_alice { &mut bob } else { &mut alice };
                    let msg = tx.send(&mut rng, &env).unwrap();
                    prop_assert_eq!(msg.len(), QUEUE_MESSAGE_SIZE);
                    pool.push((to_alice, msg, env));
                    sent += 1;
                }
                _ => deliver(&mut alice, &mut bob, &mut rng, &mut pool, &mut delivered, pick),
            }
        }
        for pick in tail {
            deliver(&mut alice, &mut bob, &mut rng, &mut pool, &mut delivered, pick);
        }
        prop_assert!(pool.is_empty());
        prop_assert_eq!(alice.skipped_keys(), 0);
        prop_assert_eq!(bob.skipped_keys(), 0);
    }

    /// Flipping any one bit of a message (in a fresh chain or an old one) is rejected, leaves
    /// the state as it was, and the genuine message still decrypts afterwards.
    #[test]
    fn any_bit_flip_is_rejected(seed in 0u64..4, bit in 0usize..(QUEUE_MESSAGE_SIZE * 8), which in 0usize..3) {
        let (mut alice, mut bob, secret, hello, mut rng) = connected(seed);
        let skipped = { let e = text(&mut rng, 0); bob.send(&mut rng, &e) }.unwrap();
        let m1 = { let e = text(&mut rng, 1); bob.send(&mut rng, &e) }.unwrap();
        alice.receive(&mut rng, &m1).unwrap();
        let reply = { let e = text(&mut rng, 2); alice.send(&mut rng, &e) }.unwrap();
        bob.receive(&mut rng, &reply).unwrap();
        let new_chain = { let e = text(&mut rng, 3); bob.send(&mut rng, &e) }.unwrap();
        let original = [skipped, new_chain, hello][which].clone();
        let mut flipped = original.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let before = alice.to_persisted().as_bytes().to_vec();
        prop_assert!(alice.decrypt(&mut rng, &flipped).is_err());
        let after = alice.to_persisted();
        prop_assert_eq!(after.as_bytes(), &before[..]);
        if which == 2 {
            prop_assert!(secret.receive_hello(&mut rng, &flipped, NOW).is_err());
            prop_assert!(secret.receive_hello(&mut rng, &original, NOW).is_ok());
        } else {
            prop_assert!(alice.decrypt(&mut rng, &original).is_ok());
        }
    }

    /// Arbitrary bytes never panic the decrypt paths and never change the state.
    #[test]
    fn decrypt_paths_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4000), exact in any::<bool>()) {
        let (mut alice, _, secret, _, mut rng) = connected(7);
        let mut msg = bytes;
        if exact {
            msg.resize(QUEUE_MESSAGE_SIZE, 0);
            msg[0] = sotto_proto::PROTOCOL_VERSION;
        }
        let before = alice.to_persisted().as_bytes().to_vec();
        prop_assert!(alice.decrypt(&mut rng, &msg).is_err());
        let after = alice.to_persisted();
        prop_assert_eq!(after.as_bytes(), &before[..]);
        prop_assert!(secret.receive_hello(&mut rng, &msg, NOW).is_err());
    }
}
