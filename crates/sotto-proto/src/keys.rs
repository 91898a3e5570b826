//! Typed keys: X25519 for key agreement ([`SecretKey`], [`PublicKey`], [`KeyPair`]) and
//! Ed25519 for authorising queue commands ([`AuthKeyPair`], [`AuthPublicKey`]).
//!
//! A secret key is zeroized on drop, has no `Debug` that prints it and no accessor that hands
//! its bytes out; the only way out is `to_persisted_bytes`, which the storage layer uses to
//! write it *encrypted*. Public keys are plain newtypes that are safe to log in shortened form.

use core::fmt;
use std::sync::OnceLock;

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

/// An X25519 secret key. Zeroized on drop; never printed. Its public key is computed (a
/// scalar multiplication) the first time [`SecretKey::public_key`] asks for it and kept: a
/// client read from storage holds a key per contact and needs few of their public halves.
pub struct SecretKey {
    secret: x25519_dalek::StaticSecret,
    public: OnceLock<PublicKey>,
}

impl SecretKey {
    fn new(secret: x25519_dalek::StaticSecret) -> Self {
        Self {
            secret,
            public: OnceLock::new(),
        }
    }

    /// A fresh random key from the caller's RNG.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self::new(x25519_dalek::StaticSecret::random_from_rng(rng))
    }

    /// Rebuilds a key from bytes produced by [`SecretKey::to_persisted_bytes`] (after the
    /// storage layer decrypted them) or by a key derivation. No scalar multiplication: the
    /// public key is derived when first needed.
    pub fn from_persisted_bytes(bytes: [u8; 32]) -> Self {
        Self::new(x25519_dalek::StaticSecret::from(bytes))
    }

    /// The key's bytes, for encrypted persistence only. Zeroized when dropped.
    pub fn to_persisted_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.secret.to_bytes())
    }

    /// The public key, always derived from the secret (never read from anywhere), on the
    /// first call only.
    pub fn public_key(&self) -> PublicKey {
        *self
            .public
            .get_or_init(|| PublicKey(x25519_dalek::PublicKey::from(&self.secret).to_bytes()))
    }

    /// X25519 Diffie-Hellman. The shared secret is zeroized when dropped.
    pub fn diffie_hellman(&self, their: &PublicKey) -> SharedSecret {
        SharedSecret(Zeroizing::new(
            self.secret.diffie_hellman(&their.to_dalek()).to_bytes(),
        ))
    }

    /// The underlying dalek secret, for crates in this workspace that drive `sphinx-packet`.
    pub(crate) fn as_dalek(&self) -> &x25519_dalek::StaticSecret {
        &self.secret
    }
}

impl Clone for SecretKey {
    fn clone(&self) -> Self {
        Self {
            secret: self.secret.clone(),
            public: self.public.clone(),
        }
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
/// for that queue only. Zeroized on drop; never printed. Kept as its seed; the `SigningKey`
/// (the seed again and its public half, a scalar multiplication; wiped on drop) is made the
/// first time the key signs or its public key is asked for: a client read from storage holds two such
/// keys per contact and uses each only when it subscribes or sends.
#[derive(Clone)]
pub struct AuthKeyPair {
    seed: Zeroizing<[u8; 32]>,
    key: OnceLock<ed25519_dalek::SigningKey>,
}

impl AuthKeyPair {
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut *seed);
        // Built in place: no copy of the seed outside its `Zeroizing`.
        Self {
            seed,
            key: OnceLock::new(),
        }
    }

    /// Rebuilds a key from the seed [`AuthKeyPair::to_persisted_bytes`] gave. No scalar
    /// multiplication: the key is expanded when first used.
    pub fn from_persisted_bytes(seed: [u8; 32]) -> Self {
        Self {
            seed: Zeroizing::new(seed),
            key: OnceLock::new(),
        }
    }

    /// The seed, for encrypted persistence only. Zeroized when dropped.
    pub fn to_persisted_bytes(&self) -> Zeroizing<[u8; 32]> {
        self.seed.clone()
    }

    /// The signing key the seed expands to (its public half derived from it, never stored).
    fn signing_key(&self) -> &ed25519_dalek::SigningKey {
        self.key
            .get_or_init(|| ed25519_dalek::SigningKey::from_bytes(&self.seed))
    }

    pub fn public_key(&self) -> AuthPublicKey {
        AuthPublicKey(self.signing_key().verifying_key().to_bytes())
    }

    /// Signs `label || signed`.
    pub(crate) fn sign(&self, label: &[u8], signed: &[u8]) -> [u8; AUTH_SIGNATURE_LEN] {
        use ed25519_dalek::Signer;
        let mut msg = Vec::with_capacity(label.len() + signed.len());
        msg.extend_from_slice(label);
        msg.extend_from_slice(signed);
        self.signing_key().sign(&msg).to_bytes()
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

    /// RFC 7748 §6.1 (Alice's key) and RFC 8032 §7.1 (TEST 1): a key read from its bytes
    /// derives its public half (lazily) as the standard says, whether first asked before or
    /// after a clone, and the Ed25519 key signs what its public key verifies.
    #[test]
    fn keys_read_back_derive_the_standard_public_keys() {
        let bytes = |h: &str| -> [u8; 32] { hex::decode(h).unwrap().try_into().unwrap() };
        let x = SecretKey::from_persisted_bytes(bytes(
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
        ));
        let early = x.clone();
        let x_public = bytes("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        assert_eq!(x.public_key().as_bytes(), &x_public);
        assert_eq!(early.public_key().as_bytes(), &x_public);
        assert_eq!(x.clone().public_key(), x.public_key());

        let seed = bytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let ed_public = bytes("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        let signer = AuthKeyPair::from_persisted_bytes(seed);
        let unexpanded = signer.clone();
        let signature = unexpanded.sign(b"label", b"signed");
        assert_eq!(signer.public_key().as_bytes(), &ed_public);
        assert_eq!(signer.clone().public_key().as_bytes(), &ed_public);
        assert_eq!(*signer.to_persisted_bytes(), seed);
        let public = AuthPublicKey::from_bytes(ed_public);
        assert!(public.verify(b"label", b"signed", &signature).is_ok());
        assert!(public.verify(b"label", b"other", &signature).is_err());
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
