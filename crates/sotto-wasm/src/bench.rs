//! Bench-only exports for `make bench` (tests/bench/crypto.mjs), compiled only with the cargo
//! feature `bench`: the shipped pkg/ never contains them. Each is a thin wrapper over the same
//! sotto-proto code path the app runs (x25519-dalek and chacha20poly1305 underneath), called
//! from JavaScript the way the alternatives (libsodium.js, @noble, WebCrypto) are called; the
//! page does the timing with `performance.now()`, the same clock for every contender.

use std::cell::OnceCell;

use rand_core::UnwrapErr;
use sotto_proto::crypto::aead_seal;
use sotto_proto::ids::RelayId;
use sotto_proto::keys::{PublicKey, SecretKey};
use sotto_proto::onion::{Hop, build_forward};
use wasm_bindgen::prelude::*;

type Rng = UnwrapErr<getrandom::SysRng>;

fn array<const N: usize>(bytes: &[u8]) -> Result<[u8; N], JsError> {
    bytes
        .try_into()
        .map_err(|_| JsError::new(&format!("expected {N} bytes")))
}

/// A fresh X25519 key pair from the browser's CSPRNG; returns its public key.
#[wasm_bindgen(js_name = benchX25519Keygen)]
pub fn x25519_keygen() -> Vec<u8> {
    SecretKey::generate(&mut UnwrapErr(getrandom::SysRng))
        .public_key()
        .as_bytes()
        .to_vec()
}

/// One X25519 Diffie-Hellman. sotto-proto never hands out a shared secret, so this returns
/// whether it is contributory (not all-zero); `benchX25519DhEquals` checks the bytes.
#[wasm_bindgen(js_name = benchX25519Dh)]
pub fn x25519_dh(secret: &[u8], public: &[u8]) -> Result<bool, JsError> {
    let secret = SecretKey::from_persisted_bytes(array(secret)?);
    Ok(secret
        .diffie_hellman(&PublicKey::from_bytes(array(public)?))
        .is_contributory())
}

/// Cross-check for the page: does our DH equal `expected` (another library's output)?
#[wasm_bindgen(js_name = benchX25519DhEquals)]
pub fn x25519_dh_equals(secret: &[u8], public: &[u8], expected: &[u8]) -> Result<bool, JsError> {
    let secret = SecretKey::from_persisted_bytes(array(secret)?);
    Ok(secret
        .diffie_hellman(&PublicKey::from_bytes(array(public)?))
        .ct_eq_bytes(&array(expected)?))
}

/// ChaCha20-Poly1305 seal (RFC 8439, no associated data): ciphertext || tag, the output
/// layout of libsodium's `crypto_aead_chacha20poly1305_ietf_encrypt`.
#[wasm_bindgen(js_name = benchChachaSeal)]
pub fn chacha_seal(key: &[u8], nonce: &[u8], msg: &[u8]) -> Result<Vec<u8>, JsError> {
    let mut buf = Vec::with_capacity(msg.len() + 16);
    buf.extend_from_slice(msg);
    let tag = aead_seal(&array(key)?, &array(nonce)?, b"", &mut buf)
        .map_err(|e| JsError::new(&e.to_string()))?;
    buf.extend_from_slice(&tag);
    Ok(buf)
}

/// `iters` X25519 DHs in a loop inside wasm (the reference for `benchBuildPacket`).
#[wasm_bindgen(js_name = benchX25519DhLoop)]
pub fn x25519_dh_loop(iters: u32) -> u32 {
    let secret = SecretKey::from_persisted_bytes([9; 32]);
    let mut public = SecretKey::from_persisted_bytes([5; 32]).public_key();
    let mut n = 0;
    for _ in 0..iters {
        let shared = secret.diffie_hellman(&public);
        n += u32::from(shared.is_contributory());
        // feed a changing input so nothing can be hoisted out of the loop
        let mut next = *public.as_bytes();
        next[0] = next[0].wrapping_add(1);
        public = PublicKey::from_bytes(next);
    }
    n
}

thread_local! {
    static ROUTE: OnceCell<Vec<Hop>> = const { OnceCell::new() };
}

/// `iters` forward 3-hop onion packets (3,800-byte payload, as in the native criterion bench)
/// built in a loop inside wasm; returns a byte of the last one.
#[wasm_bindgen(js_name = benchBuildPacket)]
pub fn build_packet(iters: u32) -> Result<u32, JsError> {
    let route = ROUTE.with(|cell| {
        cell.get_or_init(|| {
            (0..3u8)
                .map(|i| Hop {
                    id: RelayId::from_bytes([i + 1; 32]),
                    key: SecretKey::from_persisted_bytes([i + 11; 32]).public_key(),
                })
                .collect()
        })
        .clone()
    });
    let mut rng: Rng = UnwrapErr(getrandom::SysRng);
    let payload = [7u8; 3800];
    let mut last = 0u32;
    for _ in 0..iters {
        let packet =
            build_forward(&mut rng, &route, &payload).map_err(|e| JsError::new(&e.to_string()))?;
        last ^= u32::from(packet.as_bytes()[100]);
    }
    Ok(last)
}
