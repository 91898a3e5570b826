//! Typed keys: X25519 for key agreement ([`SecretKey`], [`PublicKey`], [`KeyPair`]) and
//! Ed25519 for authorising queue commands ([`AuthKeyPair`], [`AuthPublicKey`]).
//!
//! A secret key is zeroized on drop, has no `Debug` that prints it and no accessor that hands
//! its bytes out; the only way out is `to_persisted_bytes`, which the storage layer uses to
//! write it *encrypted*. Public keys are plain newtypes that are safe to log in shortened form.

use core::fmt;

use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// An X25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    pub const LEN: usize = 32;

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub(crate) fn to_dalek(self) -> x25519_dalek::PublicKey {
        x25519_dalek::PublicKey::from(self.0)
    }
}

impl fmt::Debug for PublicKey {
    /// Only the first four bytes: enough to tell keys apart in a log, not enough to look one up.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PublicKey({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// An X25519 secret key. Zeroized on drop; never printed.
pub struct SecretKey(x25519_dalek::StaticSecret);

impl SecretKey {
    /// A fresh random key from the caller's RNG.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(x25519_dalek::StaticSecret::random_from_rng(rng))
    }

    /// Rebuilds a key from bytes produced by [`SecretKey::to_persisted_bytes`] (after the
    /// storage layer decrypted them) or by a key derivation.
    pub fn from_persisted_bytes(bytes: [u8; 32]) -> Self {
        Self(x25519_dalek::StaticSecret::from(bytes))
    }

    /// The key's bytes, for encrypted persistence only. Zeroized when dropped.
    pub fn to_persisted_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(x25519_dalek::PublicKey::from(&self.0).to_bytes())
    }

    /// X25519 Diffie-Hellman. The shared secret is zeroized when dropped.
    pub fn diffie_hellman(&self, their: &PublicKey) -> SharedSecret {
        SharedSecret(Zeroizing::new(
            self.0.diffie_hellman(&their.to_dalek()).to_bytes(),
        ))
    }

    /// The underlying dalek secret, for crates in this workspace that drive `sphinx-packet`.
    pub(crate) fn as_dalek(&self) -> &x25519_dalek::StaticSecret {
        &self.0
    }
}

impl Clone for SecretKey {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// The output of a Diffie-Hellman. Zeroized on drop, compared in constant time.
pub struct SharedSecret(Zeroizing<[u8; 32]>);

impl SharedSecret {
    /// Input keying material for a KDF inside this crate.
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time comparison with known bytes (test vectors, key confirmation). The
    /// secret itself is never handed out.
    pub fn ct_eq_bytes(&self, expected: &[u8; 32]) -> bool {
        self.0.ct_eq(expected).into()
    }

    /// All-zero outputs come from low-order public keys; callers reject them.
    pub fn is_contributory(&self) -> bool {
        !bool::from(self.0.ct_eq(&[0u8; 32]))
    }
}

impl PartialEq for SharedSecret {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&*other.0).into()
    }
}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret(<redacted>)")
    }
}

/// A key pair: the secret and its public key.
#[derive(Clone, Debug)]
pub struct KeyPair {
    pub secret: SecretKey,
    pub public: PublicKey,
}

impl KeyPair {
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let secret = SecretKey::generate(rng);
        let public = secret.public_key();
        Self { secret, public }
    }
}

/// Why an Ed25519 signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthKeyError {
    /// The public key is not a valid Ed25519 point, or is a weak (small-order) one.
    BadKey,
    /// The signature does not verify.
    BadSignature,
}

/// Bytes of an Ed25519 signature.
pub const AUTH_SIGNATURE_LEN: usize = 64;

/// An Ed25519 public key that authorises commands on one queue (see [`crate::queue`],
/// "Authorisation"). 32 bytes on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuthPublicKey([u8; 32]);

impl AuthPublicKey {
    /// Bytes on the wire.
    pub const LEN: usize = 32;

    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Checks that the bytes are a valid Ed25519 public key that is not weak (one a signature
    /// can verify under).
    ///
    /// # Errors
    /// [`AuthKeyError::BadKey`] otherwise.
    pub(crate) fn check(&self) -> Result<(), AuthKeyError> {
        self.verifying_key().map(|_| ())
    }

    fn verifying_key(&self) -> Result<ed25519_dalek::VerifyingKey, AuthKeyError> {
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(&self.0).map_err(|_| AuthKeyError::BadKey)?;
        if key.is_weak() {
            return Err(AuthKeyError::BadKey);
        }
        Ok(key)
    }

    /// Verifies (strictly) `signature` over `label || signed`.
    pub(crate) fn verify(
        &self,
        label: &[u8],
        signed: &[u8],
        signature: &[u8; AUTH_SIGNATURE_LEN],
    ) -> Result<(), AuthKeyError> {
        let key = self.verifying_key()?;
        let sig = ed25519_dalek::Signature::from_bytes(signature);
        let mut msg = Vec::with_capacity(label.len() + signed.len());
        msg.extend_from_slice(label);
        msg.extend_from_slice(signed);
        key.verify_strict(&msg, &sig)
            .map_err(|_| AuthKeyError::BadSignature)
    }
}

impl fmt::Debug for AuthPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AuthPublicKey({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

impl crate::codec::Readable for AuthPublicKey {
    fn take_from(r: &mut crate::codec::Reader<'_>) -> Result<Self, crate::codec::CodecError> {
        r.extract().map(Self)
    }
}

impl crate::codec::Writeable for AuthPublicKey {
    fn write_onto<W: crate::codec::Writer + ?Sized>(&self, w: &mut W) {
        w.put_bytes(&self.0);
    }
}

/// An Ed25519 signing key for one queue (the recipient's or the sender's), freshly generated
/// for that queue only. Zeroized on drop; never printed.
#[derive(Clone)]
pub struct AuthKeyPair(ed25519_dalek::SigningKey);

impl AuthKeyPair {
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut *seed);
        Self(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// Rebuilds a key from the seed [`AuthKeyPair::to_persisted_bytes`] gave.
    pub fn from_persisted_bytes(seed: [u8; 32]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// The seed, for encrypted persistence only. Zeroized when dropped.
    pub fn to_persisted_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    pub fn public_key(&self) -> AuthPublicKey {
        AuthPublicKey(self.0.verifying_key().to_bytes())
    }

    /// Signs `label || signed`.
    pub(crate) fn sign(&self, label: &[u8], signed: &[u8]) -> [u8; AUTH_SIGNATURE_LEN] {
        use ed25519_dalek::Signer;
        let mut msg = Vec::with_capacity(label.len() + signed.len());
        msg.extend_from_slice(label);
        msg.extend_from_slice(signed);
        self.0.sign(&msg).to_bytes()
    }
}

impl fmt::Debug for AuthKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthKeyPair({:?}, <secret redacted>)", self.public_key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn both_sides_derive_the_same_secret() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let alice = KeyPair::generate(&mut rng);
        let bob = KeyPair::generate(&mut rng);
        let ab = alice.secret.diffie_hellman(&bob.public);
        let ba = bob.secret.diffie_hellman(&alice.public);
        assert!(ab == ba);
        assert!(ab.is_contributory());
    }

    #[test]
    fn same_seed_same_keys_and_persisted_bytes_round_trip() {
        let a = KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(1));
        let b = KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(1));
        assert_eq!(a.public, b.public);
        let restored = SecretKey::from_persisted_bytes(*a.secret.to_persisted_bytes());
        assert_eq!(restored.public_key(), a.public);
    }

    #[test]
    fn low_order_point_gives_non_contributory_secret() {
        let me = KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(3));
        let zero = PublicKey::from_bytes([0u8; 32]);
        assert!(!me.secret.diffie_hellman(&zero).is_contributory());
    }

    #[test]
    fn debug_never_prints_secret_bytes() {
        let kp = KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(9));
        let shown = format!("{:?}", kp.secret);
        assert_eq!(shown, "SecretKey(<redacted>)");
        let bytes = kp.secret.to_persisted_bytes();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!format!("{kp:?}").contains(&hex[..8]));
    }
}
