//! The recipient keys a restore moves its receive queues to (issue 16): derived from the
//! recovery phrase, not drawn at random, so that the keys of a restore whose device forgot
//! them (a `'memory'` restore whose page closed) are found again by the next restore of the
//! same phrase, which therefore is never locked out of its own queues.
//!
//! ```text
//! rekey secret          = HKDF-SHA256(salt = "", ikm = root, info = "sotto/v1/rekey", L = 32)
//! key of generation g   = Ed25519 seed HKDF-SHA256(salt = "", ikm = rekey secret,
//!   of queue q            info = "sotto/v1/rekey-key" || q (16) || g (u32, big-endian), L = 32)
//! ```
//!
//! A queue's first key (made when it was created) is generation 0; each restore moves it one
//! generation on. See `docs/PROTOCOL.md`, "Restore".

use core::fmt;

use zeroize::Zeroizing;

use crate::crypto::{Secret32, hkdf_sha256};
use crate::ids::QueueId;
use crate::keys::{AuthKeyPair, AuthPublicKey};
use crate::mnemonic::RootSecret;

/// HKDF info of the [`RekeySecret`] under the recovery root.
pub const REKEY_LABEL: &str = "sotto/v1/rekey";
/// HKDF info prefix of one queue's key of one generation under the [`RekeySecret`].
pub const REKEY_KEY_LABEL: &[u8] = b"sotto/v1/rekey-key";
/// The generations a restoring client recognises as its own (1 to this): a queue restored
/// more often than this moves to a key the next restore no longer recognises, which then
/// stops as moved.
pub const REKEY_GENERATIONS: u32 = 16;

/// The secret every restore of one profile derives its queues' new recipient keys from
/// (see the module docs). Zeroized on drop, never printed; kept in the client state.
#[derive(Clone, PartialEq, Eq)]
pub struct RekeySecret(Secret32);

impl RekeySecret {
    /// The rekey secret of the phrase whose root is `root`.
    pub fn from_root(root: &RootSecret) -> Self {
        Self(Secret32::copy_from(root.subkey(REKEY_LABEL).expose()))
    }

    /// Rebuilds the secret from the bytes [`RekeySecret::to_persisted_bytes`] gave.
    pub(super) fn from_persisted_bytes(bytes: &[u8; 32]) -> Self {
        Self(Secret32::copy_from(bytes))
    }

    /// The secret's bytes, for the encrypted client state only.
    pub(super) fn to_persisted_bytes(&self) -> &[u8; 32] {
        self.0.expose()
    }

    /// The recipient key of generation `generation` of `queue`.
    pub fn key(&self, queue: &QueueId, generation: u32) -> AuthKeyPair {
        let mut info = [0u8; REKEY_KEY_LABEL.len() + QueueId::LEN + 4];
        let (label, rest) = info.split_at_mut(REKEY_KEY_LABEL.len());
        label.copy_from_slice(REKEY_KEY_LABEL);
        let (id, g) = rest.split_at_mut(QueueId::LEN);
        id.copy_from_slice(queue.as_bytes());
        g.copy_from_slice(&generation.to_be_bytes());
        let mut seed = Zeroizing::new([0u8; 32]);
        // 32 bytes is always a valid HKDF-SHA256 output length.
        let _ = hkdf_sha256(&[], self.0.expose(), &info, &mut seed[..]);
        AuthKeyPair::from_persisted_bytes(*seed)
    }

    /// The generation (1 to [`REKEY_GENERATIONS`]) whose key of `queue` is `key`; `None` when
    /// no restore of this phrase made it (e.g. the queue's first key).
    pub fn generation_of(&self, queue: &QueueId, key: &AuthPublicKey) -> Option<u32> {
        (1..=REKEY_GENERATIONS).find(|g| self.key(queue, *g).public_key() == *key)
    }
}

impl fmt::Debug for RekeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RekeySecret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::mnemonic::Mnemonic;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn secret(byte: u8) -> RekeySecret {
        RekeySecret::from_root(&Mnemonic::from_entropy(&[byte; 32]).root_secret())
    }

    #[test]
    fn keys_are_per_phrase_queue_and_generation_and_recognised() {
        let (a, b) = (secret(1), secret(2));
        let (q1, q2) = (QueueId::from_bytes([1; 16]), QueueId::from_bytes([2; 16]));
        let k = a.key(&q1, 3).public_key();
        assert_eq!(k, secret(1).key(&q1, 3).public_key());
        assert_ne!(k, a.key(&q1, 4).public_key());
        assert_ne!(k, a.key(&q2, 3).public_key());
        assert_ne!(k, b.key(&q1, 3).public_key());
        assert_eq!(a.generation_of(&q1, &k), Some(3));
        assert_eq!(b.generation_of(&q1, &k), None);
        assert_eq!(a.generation_of(&q2, &k), None);
        let beyond = a.key(&q1, REKEY_GENERATIONS + 1).public_key();
        assert_eq!(a.generation_of(&q1, &beyond), None);
        assert_eq!(format!("{a:?}"), "RekeySecret(<redacted>)");
    }
}
