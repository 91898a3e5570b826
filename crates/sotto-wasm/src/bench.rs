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

/// `iters` Sphinx key derivations for the 3-hop route of `benchBuildPacket`
/// (`sphinx_packet::header::keys::KeyMaterial::derive`, the step of `build_forward` that does
/// the scalar multiplications: the packet's group element, then hop i's shared secret, its key
/// times the product of the initial secret and every earlier blinding factor: one
/// multiplication per hop in the vendored sphinx-packet, `vendor/README.md`); returns a byte of
/// the last one. The packet build minus this is its symmetric share.
#[wasm_bindgen(js_name = benchSphinxKeyDerive)]
pub fn sphinx_key_derive(iters: u32) -> u32 {
    use sphinx_packet::crypto::{PrivateKey, PublicKey as DalekPublic};
    use sphinx_packet::header::keys::KeyMaterial;
    use sphinx_packet::route::{Node, NodeAddressBytes};
    let route: Vec<Node> = (0..3u8)
        .map(|i| {
            let key = PrivateKey::from([i + 11; 32]);
            Node::new(
                NodeAddressBytes::from_bytes([i + 1; 32]),
                DalekPublic::from(&key),
            )
        })
        .collect();
    let mut last = 0u32;
    for i in 0..iters {
        let mut seed = [3u8; 32];
        seed[..4].copy_from_slice(&i.to_le_bytes());
        let keys = KeyMaterial::derive(&route, &PrivateKey::from(seed));
        last ^= u32::from(keys.initial_shared_secret.as_bytes()[0]);
    }
    last
}

/// Writes `count` text messages with contact `contact_id` into the stored profile `profile`
/// (one made without a passphrase, closed), through the messenger's own storage code: records
/// from `Store::message_record`, written with `Store::write` in transactions of `batch`
/// messages, each with the client state record as `pump` writes it (the sequence counter in
/// front, moved on by the batch). Alternates outgoing and incoming messages, oldest first, one
/// second apart, ending now. Seeds the storage bench (tests/bench/app.mjs) without sending
/// 10,000 messages through the network.
#[wasm_bindgen(js_name = benchSeedMessages)]
pub async fn seed_messages(
    profile: String,
    contact_id: String,
    count: u32,
    batch: u32,
) -> Result<(), JsValue> {
    use crate::storage::{MessageRecord, Store};

    let contact: u64 = contact_id
        .parse()
        .map_err(|_| JsError::new("a contact id is a decimal number"))?;
    let store = Store::open(&profile, None).await?;
    if store.created {
        store.wipe().await?;
        return Err(JsError::new("no such profile (make it with Sotto.open first)").into());
    }
    let state = store
        .read_state()
        .await?
        .ok_or_else(|| JsError::new("the profile has no client state"))?;
    let (seq, client) = state
        .split_at_checked(8)
        .ok_or_else(|| JsError::new("short state"))?;
    let mut seq = u64::from_be_bytes(array(seq)?);
    let now = (js_sys::Date::now() / 1000.0) as u64;
    let mut written = 0u32;
    while written < count {
        let n = batch.max(1).min(count - written);
        let mut records = Vec::with_capacity(n as usize + 1);
        for i in written..written + n {
            let mut id = [0u8; 16];
            getrandom::fill(&mut id).map_err(|_| JsError::new("no RNG"))?;
            let sent_at = now - u64::from(count - i);
            let outgoing = i % 2 == 0;
            records.push(store.message_record(&MessageRecord::text_message(
                seq,
                crate::js::hex(&id),
                contact,
                format!("bench message #{i}: about the length of a short chat line, ✓"),
                sent_at,
                (!outgoing).then_some(sent_at),
            )));

            seq += 1;
        }
        let mut bytes = zeroize::Zeroizing::new(seq.to_be_bytes().to_vec());
        bytes.extend_from_slice(client);
        store.write_state(records, &bytes).await?;
        written += n;
    }
    store.close();
    Ok(())
}
