//! Hostile persisted client state: truncations, bit flips and random bytes give an error,
//! never a panic.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sotto_proto::client::{CLIENT_STATE_VERSION, Client, ClientConfig};
use sotto_proto::handshake::InvitationSecret;
use sotto_proto::ids::{QueueId, RelayId};
use sotto_proto::invitation::InvitationKind;
use sotto_proto::onion::{Hop, RelayKey};

const NOW: u64 = 1_800_000_000;

/// A few persisted clients, made once (making one solves proof-of-work puzzles).
fn saved_client(seed: u64) -> Vec<u8> {
    static SAVED: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    let saved = SAVED.get_or_init(|| (0..4).map(make_saved_client).collect());
    saved[(seed % 4) as usize].clone()
}

fn make_saved_client(seed: u64) -> Vec<u8> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let relays: Vec<Hop> = (0..4)
        .map(|_| Hop {
            id: RelayId::random(&mut rng),
            key: RelayKey::generate(&mut rng, 1).public_key(),
        })
        .collect();
    let mut client = Client::new(
        &mut rng,
        relays.clone(),
        relays[1].id,
        "Bob",
        ClientConfig {
            pow_bits: 4,
            ..ClientConfig::default()
        },
    )
    .unwrap();
    client.create_invitation(&mut rng, NOW).unwrap();
    let their_queue = QueueId::random(&mut rng);
    let secret = InvitationSecret::create(
        &mut rng,
        InvitationKind::OneTime,
        relays[2].id,
        their_queue,
        NOW,
    );
    client
        .accept_invitation(&mut rng, *secret.invitation(), NOW)
        .unwrap();
    client.to_persisted().as_bytes().to_vec()
}

proptest! {
    #[test]
    fn every_truncation_is_an_error(seed in any::<u64>(), frac in 0.0f64..1.0) {
        let bytes = saved_client(seed);
        let cut = ((bytes.len() as f64) * frac) as usize;
        prop_assert!(Client::from_persisted(&bytes[..cut]).is_err());
    }

    #[test]
    fn flipped_bytes_never_panic(seed in any::<u64>(), at in any::<prop::sample::Index>(), x in 1u8..) {
        let mut bytes = saved_client(seed);
        let i = at.index(bytes.len());
        bytes[i] ^= x;
        if let Ok(client) = Client::from_persisted(&bytes) {
            // Whatever was accepted persists again and reads back the same.
            let again = client.to_persisted();
            prop_assert!(Client::from_persisted(again.as_bytes()).is_ok());
        }
    }

    #[test]
    fn random_bytes_are_an_error(mut bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        prop_assert!(Client::from_persisted(&bytes).is_err());
        if let Some(first) = bytes.first_mut() {
            *first = CLIENT_STATE_VERSION;
        }
        // Random bytes after a valid version byte: an error, not a panic.
        let _ = Client::from_persisted(&bytes);
    }
}
