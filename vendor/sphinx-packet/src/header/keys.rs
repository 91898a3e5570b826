// Copyright 2020 Nym Technologies SA
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

use crate::constants::INTEGRITY_MAC_KEY_SIZE;
use crate::crypto::STREAM_CIPHER_KEY_SIZE;
use crate::header::shared_secret::{expand_shared_secret, ExpandedSharedSecret};
use crate::route::Node;
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::{clamp_integer, Scalar};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

pub type StreamCipherKey = [u8; STREAM_CIPHER_KEY_SIZE];
pub type HeaderIntegrityMacKey = [u8; INTEGRITY_MAC_KEY_SIZE];

pub struct KeyMaterial {
    pub initial_shared_secret: PublicKey,
    pub expanded_shared_secrets: Vec<ExpandedSharedSecret>,
}

/// 8⁻¹ modulo the order ℓ of Curve25519's prime-order subgroup, little-endian:
/// (3ℓ + 1) / 8.
const EIGHT_INVERSE_MOD_L: [u8; 32] = [
    0x79, 0x2f, 0xdc, 0xe2, 0x29, 0xe5, 0x06, 0x61, 0xd0, 0xda, 0x1c, 0x7d, 0xb3, 0x9d, 0xd3, 0x07,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06,
];

/// An X25519 secret as the scalar X25519 multiplies by (clamped), reduced modulo ℓ.
fn clamped_scalar(secret_bytes: &[u8; 32]) -> Zeroizing<Scalar> {
    let clamped = Zeroizing::new(clamp_integer(*secret_bytes));
    Zeroizing::new(Scalar::from_bytes_mod_order(*clamped))
}

/// The X25519 result of applying, one after the other, clamped secrets whose product modulo ℓ
/// is `product` to `public_key`, in one scalar multiplication; `None` when `public_key` is not
/// on the curve (it is on the twist), where that shortcut does not hold.
///
/// Every clamped scalar is a multiple of 8 (the cofactor), so applying them in turn to a point
/// P = Q + T of the curve (Q of order ℓ, T of order dividing 8) gives [k]P = [k mod ℓ]Q, k
/// their product; that is [t]([8]P) with t = k·8⁻¹ mod ℓ, whatever T is. Computed on the
/// Edwards form (P's sign does not matter: P and -P have the same u-coordinate), which measured
/// a little faster in wasm32 than a Montgomery ladder over the bits of 8t after the same
/// on-curve check.
fn mul_by_clamped_product(product: &Scalar, public_key: &PublicKey) -> Option<PublicKey> {
    // `to_edwards` is `Some` exactly for the curve's points (u = -1 is on the twist).
    let point = MontgomeryPoint(public_key.to_bytes()).to_edwards(0)?;
    let t = Zeroizing::new(product * Scalar::from_bytes_mod_order(EIGHT_INVERSE_MOD_L));
    let t: &Scalar = &t; // by reference: no unzeroized copy
    Some(PublicKey::from(
        (point.mul_by_cofactor() * t).to_montgomery().to_bytes(),
    ))
}

/// X25519 of `secret` and `public_key`, byte-identical to `secret.diffie_hellman(public_key)`:
/// natively through curve25519-dalek's Edwards multiplication (its AVX2 backend where the CPU
/// has it, measured 13% less CPU than the Montgomery ladder with the conversions; issue 18,
/// BENCHMARKS.md §3–5), falling back to the ladder for a key on the twist; in wasm32 the ladder.
/// The result is zeroized on drop.
pub(crate) fn x25519(secret: &StaticSecret, public_key: &PublicKey) -> Zeroizing<[u8; 32]> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let product = clamped_scalar(&Zeroizing::new(secret.to_bytes()));
        if let Some(shared) = mul_by_clamped_product(&product, public_key) {
            return Zeroizing::new(shared.to_bytes());
        }
    }
    Zeroizing::new(secret.diffie_hellman(public_key).to_bytes())
}

/// Hop `i`'s shared secret the way 0.8.0 computed it: the initial secret, then every earlier
/// hop's blinding factor, applied to the hop's public key one X25519 at a time.
fn shared_secret_by_each_factor(
    public_key: &PublicKey,
    initial_secret: &StaticSecret,
    blinding_factors: &[StaticSecret],
) -> PublicKey {
    let mut acc = *public_key;
    // avoid having to clone the initial secret by just chaining iterators
    for blinding_factor in std::iter::once(initial_secret).chain(blinding_factors) {
        let shared_secret = blinding_factor.diffie_hellman(&acc);
        acc = PublicKey::from(shared_secret.to_bytes());
    }
    acc
}

impl KeyMaterial {
    // derive shared keys, group elements, blinding factors
    //
    // Hop i's shared secret is its public key multiplied by the initial secret and the i
    // blinding factors before it. Rather than applying them one X25519 at a time (i + 1
    // scalar multiplications for hop i), their product modulo ℓ is kept as a running scalar
    // and applied at once: one scalar multiplication per hop. The result is byte-identical
    // for every route key; a key on the twist, where the reduction modulo ℓ does not hold,
    // gets the one-at-a-time computation.
    pub fn derive(route: &[Node], initial_secret: &StaticSecret) -> Self {
        let initial_shared_secret = PublicKey::from(initial_secret);

        let mut expanded_shared_secrets = Vec::with_capacity(route.len());
        let mut blinding_factors = Vec::with_capacity(route.len());
        let mut product = clamped_scalar(&Zeroizing::new(initial_secret.to_bytes()));

        for (i, node) in route.iter().enumerate() {
            let acc = mul_by_clamped_product(&product, &node.pub_key).unwrap_or_else(|| {
                shared_secret_by_each_factor(&node.pub_key, initial_secret, &blinding_factors)
            });

            let expanded_shared_secret = expand_shared_secret(acc.as_bytes());

            if i != route.len() - 1 {
                let blinding_factor: &Scalar =
                    &clamped_scalar(expanded_shared_secret.blinding_factor_bytes());
                *product *= blinding_factor;
                blinding_factors.push(expanded_shared_secret.blinding_factor());
            }
            expanded_shared_secrets.push(expanded_shared_secret);
        }

        Self {
            initial_shared_secret,
            expanded_shared_secrets,
        }
    }

    /// [`Self::derive`] as sphinx-packet 0.8.0 computed it (i + 1 scalar multiplications for
    /// hop i): the reference the tests and the fuzz target compare `derive` with.
    #[cfg(any(test, feature = "reference"))]
    #[doc(hidden)]
    pub fn derive_reference(route: &[Node], initial_secret: &StaticSecret) -> Self {
        let initial_shared_secret = PublicKey::from(initial_secret);

        let mut expanded_shared_secrets = Vec::new();
        let mut blinding_factors = Vec::new();

        for (i, node) in route.iter().enumerate() {
            let acc =
                shared_secret_by_each_factor(&node.pub_key, initial_secret, &blinding_factors);

            let expanded_shared_secret = expand_shared_secret(acc.as_bytes());

            if i != route.len() - 1 {
                blinding_factors.push(expanded_shared_secret.blinding_factor());
            }
            expanded_shared_secrets.push(expanded_shared_secret);
        }

        Self {
            initial_shared_secret,
            expanded_shared_secrets,
        }
    }
}

#[cfg(test)]
mod deriving_key_material {
    use super::*;
    use crate::route::Node;

    #[cfg(test)]
    mod with_an_empty_route {
        use super::*;

        #[test]
        fn it_returns_no_routing_keys() {
            let empty_route: Vec<Node> = vec![];
            let initial_secret = StaticSecret::random();
            let key_material = KeyMaterial::derive(&empty_route, &initial_secret);
            assert_eq!(0, key_material.expanded_shared_secrets.len());
            assert_eq!(
                PublicKey::from(&initial_secret).as_bytes(),
                key_material.initial_shared_secret.as_bytes()
            )
        }
    }

    #[cfg(test)]
    mod for_a_route_with_3_forward_hops {
        use super::*;
        use crate::test_utils::random_node;

        fn setup() -> (Vec<Node>, StaticSecret, KeyMaterial) {
            let route: Vec<Node> = vec![random_node(), random_node(), random_node()];
            let initial_secret = StaticSecret::random();
            let key_material = KeyMaterial::derive(&route, &initial_secret);
            (route, initial_secret, key_material)
        }

        #[test]
        fn it_returns_number_of_shared_keys_equal_to_length_of_the_route() {
            let (_, _, key_material) = setup();
            assert_eq!(3, key_material.expanded_shared_secrets.len());
        }

        #[test]
        fn it_returns_correctly_inited_shared_secret() {
            let (_, initial_secret, key_material) = setup();
            assert_eq!(
                PublicKey::from(&initial_secret).as_bytes(),
                key_material.initial_shared_secret.as_bytes()
            );
        }

        #[test]
        fn it_generates_correct_expanded_shared_secret() {
            let (route, initial_secret, key_material) = setup();
            // The accumulator is the key to our blinding factors working.
            // If the accumulator value isn't incremented correctly, we risk passing an
            // incorrectly blinded shared key through the mixnet in the (unencrypted)
            // Sphinx packet header. So this test ensures that the accumulator gets incremented
            // properly on each run through the loop.
            let mut expected_accumulator = vec![initial_secret];
            for (i, node) in route.iter().enumerate() {
                let expected_shared_key =
                    expected_accumulator
                        .iter()
                        .fold(node.pub_key, |acc, blinding_factor| {
                            PublicKey::from(blinding_factor.diffie_hellman(&acc).to_bytes())
                        });

                let expected_expanded_ss = expand_shared_secret(expected_shared_key.as_bytes());

                expected_accumulator.push(expected_expanded_ss.blinding_factor());
                assert_eq!(
                    expected_expanded_ss,
                    key_material.expanded_shared_secrets[i]
                )
            }
        }
    }
}

#[cfg(test)]
mod deriving_key_material_in_one_multiplication_per_hop {
    use super::*;
    use crate::route::NodeAddressBytes;
    use curve25519_dalek::constants::EIGHT_TORSION;
    use curve25519_dalek::edwards::EdwardsPoint;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    fn node(pub_key: [u8; 32]) -> Node {
        Node::new(
            NodeAddressBytes::from_bytes([2u8; 32]),
            PublicKey::from(pub_key),
        )
    }

    fn random_bytes(rng: &mut impl Rng) -> [u8; 32] {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        bytes
    }

    /// A point of the curve's prime-order subgroup (a regular X25519 public key), on Edwards.
    fn prime_order_point(rng: &mut impl Rng) -> EdwardsPoint {
        EdwardsPoint::mul_base(&Scalar::from_bytes_mod_order(random_bytes(rng)))
    }

    /// A u-coordinate on the twist: `to_edwards` rejects it.
    fn twist_point(rng: &mut impl Rng) -> [u8; 32] {
        loop {
            let u = random_bytes(rng);
            if MontgomeryPoint(u).to_edwards(0).is_none() {
                return u;
            }
        }
    }

    fn assert_same_as_reference(route: &[Node], initial_secret: &StaticSecret) {
        let derived = KeyMaterial::derive(route, initial_secret);
        let reference = KeyMaterial::derive_reference(route, initial_secret);
        assert_eq!(
            derived.initial_shared_secret,
            reference.initial_shared_secret
        );
        assert_eq!(
            derived.expanded_shared_secrets,
            reference.expanded_shared_secrets
        );
    }

    /// `key` at every position of a 3-hop route of regular keys, then a route of it alone.
    fn assert_same_as_reference_at_every_hop(rng: &mut ChaCha20Rng, key: [u8; 32]) {
        for position in 0..3 {
            let mut route: Vec<Node> = (0..3)
                .map(|_| node(prime_order_point(rng).to_montgomery().to_bytes()))
                .collect();
            route[position] = node(key);
            assert_same_as_reference(&route, &StaticSecret::random_from_rng(&mut *rng));
        }
        assert_same_as_reference(&[node(key)], &StaticSecret::random_from_rng(&mut *rng));
    }

    #[test]
    fn the_inverse_of_eight_is_right() {
        let inverse = Scalar::from_bytes_mod_order(EIGHT_INVERSE_MOD_L);
        assert_eq!(inverse.to_bytes(), EIGHT_INVERSE_MOD_L, "canonical");
        assert_eq!(Scalar::from(8u8) * inverse, Scalar::ONE);
    }

    #[test]
    fn it_matches_the_reference_for_random_routes_of_1_to_5_hops() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        for hops in 1..=5 {
            for _ in 0..20 {
                let route: Vec<Node> = (0..hops)
                    .map(|_| {
                        node(PublicKey::from(&StaticSecret::random_from_rng(&mut rng)).to_bytes())
                    })
                    .collect();
                assert_same_as_reference(&route, &StaticSecret::random_from_rng(&mut rng));
            }
        }
    }

    #[test]
    fn it_matches_the_reference_for_keys_with_a_small_order_component() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        for torsion in EIGHT_TORSION {
            let key = (prime_order_point(&mut rng) + torsion)
                .to_montgomery()
                .to_bytes();
            assert!(MontgomeryPoint(key).to_edwards(0).is_some(), "on the curve");
            assert_same_as_reference_at_every_hop(&mut rng, key);
        }
    }

    /// Small-order keys: the eight torsion points, all-zero and u = 1, their non-canonical
    /// encodings (u + p), each also with the ignored top bit set.
    fn small_order_keys() -> Vec<[u8; 32]> {
        let mut keys: Vec<[u8; 32]> = EIGHT_TORSION
            .iter()
            .map(|torsion| torsion.to_montgomery().to_bytes())
            .collect();
        // all-zero and u = 1, their non-canonical encodings (u + p) and the ignored top bit set
        let p_plus = |low: u8| {
            let mut u = [0xff; 32];
            u[0] = 0xed + low;
            u[31] = 0x7f;
            u
        };
        keys.extend([[0u8; 32], p_plus(0), p_plus(1)]);
        let mut one = [0u8; 32];
        one[0] = 1;
        keys.push(one);
        for key in keys.clone() {
            let mut high = key;
            high[31] |= 0x80;
            keys.push(high);
        }
        keys
    }

    /// u = -1 (p - 1), on the twist.
    const MINUS_ONE: [u8; 32] = {
        let mut u = [0xff; 32];
        u[0] = 0xec;
        u[31] = 0x7f;
        u
    };

    #[test]
    fn it_matches_the_reference_for_small_order_keys() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        for key in small_order_keys() {
            assert_same_as_reference_at_every_hop(&mut rng, key);
        }
    }

    #[test]
    fn it_matches_the_reference_for_keys_on_the_twist() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        assert_same_as_reference_at_every_hop(&mut rng, MINUS_ONE);
        for _ in 0..20 {
            let key = twist_point(&mut rng);
            assert_same_as_reference_at_every_hop(&mut rng, key);
        }
    }

    #[test]
    fn one_multiplication_applies_the_product_of_the_clamped_secrets() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let key = PublicKey::from(
            (prime_order_point(&mut rng) + EIGHT_TORSION[1])
                .to_montgomery()
                .to_bytes(),
        );
        let secrets: Vec<StaticSecret> = (0..3)
            .map(|_| StaticSecret::random_from_rng(&mut rng))
            .collect();
        let mut product = Scalar::ONE;
        for secret in &secrets {
            product *= *clamped_scalar(&secret.to_bytes());
        }
        let expected = shared_secret_by_each_factor(&key, &secrets[0], &secrets[1..]);
        assert_eq!(mul_by_clamped_product(&product, &key), Some(expected));
        // a key on the twist is left to the one-at-a-time computation
        let twist = PublicKey::from(twist_point(&mut rng));
        assert_eq!(mul_by_clamped_product(&product, &twist), None);
    }

    #[test]
    fn x25519_is_the_ladders_diffie_hellman_for_every_kind_of_key() {
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        let mut keys = small_order_keys();
        keys.push(MINUS_ONE);
        for _ in 0..20 {
            keys.push(PublicKey::from(&StaticSecret::random_from_rng(&mut rng)).to_bytes());
            keys.push(twist_point(&mut rng));
        }
        for torsion in EIGHT_TORSION {
            let mixed = (prime_order_point(&mut rng) + torsion).to_montgomery();
            keys.push(mixed.to_bytes());
        }
        for key in keys.clone() {
            let mut high = key;
            high[31] |= 0x80;
            keys.push(high);
        }
        for key in keys {
            let key = PublicKey::from(key);
            for _ in 0..3 {
                let secret = StaticSecret::random_from_rng(&mut rng);
                assert_eq!(
                    *x25519(&secret, &key),
                    secret.diffie_hellman(&key).to_bytes(),
                    "{:?}",
                    key.as_bytes()
                );
            }
        }
    }
}
