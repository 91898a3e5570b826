#![no_main]
//! The vendored sphinx-packet's `KeyMaterial::derive` (one scalar multiplication per hop, with
//! the one-at-a-time fallback for keys on the twist; vendor/README.md) against the 0.8.0
//! algorithm it replaces (`derive_reference`, i + 1 X25519 for hop i): from any initial secret
//! (the first 32 bytes) and any route keys (the rest, 32 bytes each, up to the 5 hops of
//! sphinx-packet's maximum path) — prime-order, small-order, mixed-order, twist, non-canonical —
//! the same group element and the same per-hop key material, byte for byte.
use libfuzzer_sys::fuzz_target;
use sphinx_packet::constants::MAX_PATH_LENGTH;
use sphinx_packet::crypto::{PrivateKey, PublicKey};
use sphinx_packet::header::keys::KeyMaterial;
use sphinx_packet::route::{Node, NodeAddressBytes};

fuzz_target!(|data: &[u8]| {
    let Some((secret, keys)) = data.split_first_chunk::<32>() else {
        return;
    };
    let route: Vec<Node> = keys
        .chunks_exact(32)
        .take(MAX_PATH_LENGTH)
        .enumerate()
        .map(|(i, key)| {
            let key: [u8; 32] = key.try_into().expect("32 bytes");
            Node::new(NodeAddressBytes::from_bytes([i as u8; 32]), PublicKey::from(key))
        })
        .collect();
    let secret = PrivateKey::from(*secret);
    let ours = KeyMaterial::derive(&route, &secret);
    let reference = KeyMaterial::derive_reference(&route, &secret);
    assert_eq!(ours.initial_shared_secret, reference.initial_shared_secret);
    assert_eq!(ours.expanded_shared_secrets, reference.expanded_shared_secrets);
});
