//! The store's sealing: ChaCha20-Poly1305 records (nonce ‖ tag ‖ ciphertext) and the key
//! that wraps the store key (Argon2id of the passphrase, or HKDF of a fixed label).

use sotto_proto::crypto::{TAG_LEN, aead_open, aead_seal, hkdf_sha256};
use wasm_bindgen::JsValue;
use zeroize::Zeroizing;

use super::schema::corrupt;

const NONE_LABEL: &[u8] = b"sotto/v1/no-passphrase";
/// Associated data of the wrapped store key.
pub const WRAP_AD: &[u8] = b"sotto/v1/store-key";
/// Argon2id parameters for new profiles: 19 MiB, 2 passes, 1 lane (OWASP's minimum for
/// Argon2id; a few hundred ms in a browser). Stored with the profile, so they can change.
pub const ARGON2_M_KIB: u32 = 19 * 1024;
pub const ARGON2_T: u32 = 2;
pub const ARGON2_P: u32 = 1;

pub fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // The browser's RNG does not fail; if it did, a zero nonce/key would be caught nowhere,
    // so refuse loudly instead.
    if getrandom::fill(&mut b).is_err() {
        wasm_bindgen::throw_str("no cryptographic RNG");
    }
    b
}

/// nonce ‖ tag ‖ ciphertext.
pub fn seal(key: &[u8; 32], ad: &[u8], plain: &[u8]) -> Vec<u8> {
    let nonce: [u8; 12] = random();
    let mut buf = Zeroizing::new(plain.to_vec());
    let tag = aead_seal(key, &nonce, ad, &mut buf).unwrap_or([0; TAG_LEN]);
    let mut out = Vec::with_capacity(12 + TAG_LEN + buf.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&tag);
    out.extend_from_slice(&buf);
    out
}

pub fn open(key: &[u8; 32], ad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let nonce: [u8; 12] = sealed.get(..12)?.try_into().ok()?;
    let tag: [u8; TAG_LEN] = sealed.get(12..12 + TAG_LEN)?.try_into().ok()?;
    let mut buf = Zeroizing::new(sealed.get(12 + TAG_LEN..)?.to_vec());
    aead_open(key, &nonce, ad, &mut buf, &tag).ok()?;
    Some(buf)
}

pub fn kek(
    passphrase: Option<&str>,
    salt: &[u8],
    m: u32,
    t: u32,
    p: u32,
) -> Result<Zeroizing<[u8; 32]>, JsValue> {
    let mut out = Zeroizing::new([0u8; 32]);
    match passphrase {
        Some(pw) => {
            let params = argon2::Params::new(m, t, p, Some(32))
                .map_err(|_| corrupt("key derivation parameters"))?;
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                .hash_password_into(pw.as_bytes(), salt, &mut out[..])
                .map_err(|_| corrupt("key derivation"))?;
        }
        None => {
            hkdf_sha256(salt, NONE_LABEL, NONE_LABEL, &mut out[..])
                .map_err(|_| corrupt("key derivation"))?;
        }
    }
    Ok(out)
}
