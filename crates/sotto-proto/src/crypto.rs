//! The symmetric primitives every other module builds on: HKDF-SHA256, HMAC-SHA256 and
//! ChaCha20-Poly1305 (RFC 8439, 96-bit nonce, 16-byte tag), behind small functions that never
//! panic. The RFC test vectors in `tests/vectors/` run through these exact functions.

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaChaPoly1305, Key, Nonce, Tag};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// ChaCha20-Poly1305 key length.
pub const KEY_LEN: usize = 32;
/// ChaCha20-Poly1305 nonce length.
pub const NONCE_LEN: usize = 12;
/// ChaCha20-Poly1305 tag length.
pub const TAG_LEN: usize = 16;

/// A failure in a primitive. Deliberately carries no detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// Authentication failed (wrong key, wrong associated data, or tampered bytes).
    #[error("decryption failed")]
    Decrypt,
    /// A requested output length is outside what the primitive allows (HKDF: 255 × 32 bytes).
    #[error("invalid length")]
    InvalidLength,
}

/// A 32-byte secret (key, chain key, root key). Zeroized on drop, never printed, compared
/// in constant time.
#[derive(Clone)]
pub struct Secret32(Zeroizing<[u8; 32]>);

impl Secret32 {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// A copy of `bytes` written straight into the zeroizing buffer: unlike
    /// [`Secret32::from_bytes`], no plain array holds the secret on the way (for HKDF outputs,
    /// which the caller keeps in a `Zeroizing` buffer of its own).
    pub fn copy_from(bytes: &[u8; 32]) -> Self {
        let mut secret = Self(Zeroizing::new([0u8; 32]));
        secret.0.copy_from_slice(bytes);
        secret
    }

    /// The key bytes. Hand them only to a primitive or to encrypted persistence.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &Self) -> bool {
        subtle::ConstantTimeEq::ct_eq(&self.0[..], &other.0[..]).into()
    }
}

impl PartialEq for Secret32 {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other)
    }
}

impl Eq for Secret32 {}

impl core::fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Secret32(<redacted>)")
    }
}

/// HKDF-SHA256 (RFC 5869): extract with `salt` (empty = 32 zero bytes), expand with `info`
/// into `okm`.
pub fn hkdf_sha256(
    salt: &[u8],
    ikm: &[u8],
    info: &[u8],
    okm: &mut [u8],
) -> Result<(), CryptoError> {
    let hk = hkdf::Hkdf::<Sha256>::new(Some(salt), ikm);
    hk.expand(info, okm).map_err(|_| CryptoError::InvalidLength)
}

/// HKDF-SHA256 into three 32-byte secrets (the shape of KDF_RK and the handshake KDF).
pub(crate) fn hkdf_3x32(
    salt: &[u8],
    ikm: &[u8],
    info: &[u8],
) -> Result<[Secret32; 3], CryptoError> {
    let mut okm = Zeroizing::new([0u8; 96]);
    hkdf_sha256(salt, ikm, info, &mut okm[..])?;
    let part = |i: usize| {
        let mut s = Secret32::copy_from(&[0u8; 32]);
        s.0.copy_from_slice(&okm[i * 32..(i + 1) * 32]);
        s
    };
    Ok([part(0), part(1), part(2)])
}

/// HMAC-SHA256(key, data).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this never fails; the fallback keeps it panic-free.
    match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0u8; 32],
    }
}

/// ChaCha20-Poly1305 over `chacha20_simd128::ChaCha20`: its four-block simd128 backend on
/// wasm32 (issue 18), the `chacha20` crate's own `ChaCha20` elsewhere (where this type is then
/// exactly `chacha20poly1305::ChaCha20Poly1305`). Byte-identical output either way.
type ChaCha20Poly1305 = ChaChaPoly1305<chacha20_simd128::ChaCha20>;

fn cipher(key: &[u8; 32]) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new(&Key::from(*key))
}

/// ChaCha20-Poly1305 encryption in place; returns the tag.
pub fn aead_seal(
    key: &[u8; 32],
    nonce: &[u8; 12],
    ad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN], CryptoError> {
    let tag = cipher(key)
        .encrypt_inout_detached(&Nonce::from(*nonce), ad, buf.into())
        .map_err(|_| CryptoError::InvalidLength)?;
    Ok(tag.into())
}

/// ChaCha20-Poly1305 decryption in place. On failure `buf` is left as it was (the tag is
/// checked before anything is decrypted).
pub fn aead_open(
    key: &[u8; 32],
    nonce: &[u8; 12],
    ad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), CryptoError> {
    cipher(key)
        .decrypt_inout_detached(&Nonce::from(*nonce), ad, buf.into(), &Tag::from(*tag))
        .map_err(|_| CryptoError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let key = [7u8; 32];
        let nonce = [1u8; 12];
        let mut buf = *b"hello world";
        let tag = aead_seal(&key, &nonce, b"ad", &mut buf).unwrap();
        let sealed = buf;
        assert!(aead_open(&key, &nonce, b"AD", &mut buf, &tag).is_err());
        assert_eq!(buf, sealed, "failed open leaves the buffer alone");
        aead_open(&key, &nonce, b"ad", &mut buf, &tag).unwrap();
        assert_eq!(&buf, b"hello world");
    }

    #[test]
    fn hkdf_rejects_overlong_output() {
        let mut out = vec![0u8; 255 * 32 + 1];
        assert_eq!(
            hkdf_sha256(b"", b"k", b"", &mut out),
            Err(CryptoError::InvalidLength)
        );
    }
}
