//! Proof of work: SHA-256 hashcash bound to the relay, its key epoch and the command it pays
//! for.
//!
//! ```text
//! challenge = SHA-256(label || relay_id || key_epoch_be32 || context)   (32 bytes)
//! hash      = SHA-256("sotto/pow/v1" || challenge || nonce_be64)
//! valid     ⇔ hash has at least `bits` leading zero bits
//! ```
//! Expected work is `2^bits` hashes to solve and one hash to verify.
//!
//! **Why hash-based, not memory-hard.** A memory-hard function (Argon2) narrows the gap between
//! a browser and a GPU farm, but it makes every verification as expensive as one solving
//! attempt (megabytes of memory per check on the relay), and in WebAssembly it runs single-
//! threaded at a fraction of native speed. The PoW here only has to make creating queues and
//! sending contact requests cost seconds rather than microseconds, so the relay's per-client
//! rate limits do the rest; SHA-256 is cheap to verify (one hash), tiny in code size, and
//! already in the dependency tree. The cost is measured by `cargo bench --bench onion`
//! (which prints it beside a bare X25519 DH): on the 2-core build machine under load we
//! measured ≈ 1 µs per hash (1.0 M hashes/s native, one core), so [`DEFAULT_CREATE_BITS`]
//! (20 bits, 2^20 ≈ 1 M hashes expected) costs ≈ 1 s native; WebAssembly runs SHA-256 at
//! roughly half native speed, so expect ≈ 1–2 s in a browser on a comparable core, less on an
//! idle desktop. The time is geometrically distributed: one solve in twenty takes three times
//! the mean. Queue creation is rare (once per contact), so this is acceptable; lower the bits
//! for interactive paths.
//!
//! **Why bound to the relay and the epoch.** A solution is good at one relay ([`Scope::relay`])
//! and only while the Sphinx key of [`Scope::key_epoch`] still peels packets (the current
//! epoch, or the previous one during the overlap after a rotation): work cannot be solved in
//! advance for months or spent at every relay of the directory.
//!
//! Solving is pure and iterative: [`solve_range`] tries a bounded range of nonces so a browser
//! can solve in slices between frames; [`solve`] runs to completion.

use sha2::{Digest, Sha256};

use crate::ids::RelayId;

/// Domain label of every PoW hash.
pub const POW_LABEL: &[u8] = b"sotto/pow/v1";

/// The difficulty a relay asks for to create a queue, unless configured otherwise.
pub const DEFAULT_CREATE_BITS: u8 = 20;

/// The highest difficulty this module accepts (≈ 10^12 hashes: far beyond any browser).
pub const MAX_BITS: u8 = 40;

/// Errors from verifying a proof of work.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PowError {
    /// The nonce does not give enough leading zero bits. (peer)
    #[error("proof of work does not meet {required} bits")]
    Insufficient { required: u8 },
    /// The difficulty asked for is above [`MAX_BITS`]. (caller)
    #[error("difficulty {0} above the maximum {MAX_BITS}")]
    TooHard(u8),
}

/// Where a proof of work is spent: the relay whose queue service checks it and the epoch of
/// that relay's Sphinx key (the key the client built its packet for; the relay learns it
/// from the key that peeled the packet).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Scope {
    /// The relay (its onion address).
    pub relay: RelayId,
    /// The epoch (rotation counter) of the relay's Sphinx key.
    pub key_epoch: u32,
}

/// What a proof of work is bound to: a digest of a domain label, a [`Scope`] and the command
/// bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Challenge([u8; 32]);

impl Challenge {
    /// `SHA-256(label || context)`. The label names what the work pays for (e.g. queue
    /// creation), the context is the exact bytes of the command without the nonce.
    pub fn new(label: &[u8], context: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(label);
        h.update(context);
        Self(h.finalize().into())
    }

    /// `SHA-256(label || relay_id (32 bytes) || key_epoch (u32 big-endian) || context)`: the
    /// challenge of work that is good only at `scope`'s relay and key epoch.
    pub fn scoped(label: &[u8], scope: &Scope, context: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(label);
        h.update(scope.relay.as_bytes());
        h.update(scope.key_epoch.to_be_bytes());
        h.update(context);
        Self(h.finalize().into())
    }

    /// A challenge from its 32 bytes (test vectors, benchmarks).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The challenge's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn prefix(&self) -> Sha256 {
        let mut h = Sha256::new();
        h.update(POW_LABEL);
        h.update(self.0);
        h
    }
}

fn leading_zero_bits(hash: &[u8]) -> u32 {
    let mut bits = 0;
    for byte in hash {
        if *byte == 0 {
            bits += 8;
        } else {
            return bits + byte.leading_zeros();
        }
    }
    bits
}

fn meets(prefix: &Sha256, nonce: u64, bits: u8) -> bool {
    let mut h = prefix.clone();
    h.update(nonce.to_be_bytes());
    leading_zero_bits(&h.finalize()) >= u32::from(bits)
}

/// Tries nonces `start..start + count` (wrapping not allowed: stops at `u64::MAX`). Returns
/// the first that meets `bits`, or `None`. `bits` above [`MAX_BITS`] is an error.
pub fn solve_range(
    challenge: &Challenge,
    bits: u8,
    start: u64,
    count: u64,
) -> Result<Option<u64>, PowError> {
    if bits > MAX_BITS {
        return Err(PowError::TooHard(bits));
    }
    let prefix = challenge.prefix();
    let end = start.saturating_add(count);
    Ok((start..end).find(|nonce| meets(&prefix, *nonce, bits)))
}

/// Finds a nonce for `challenge` with at least `bits` leading zero bits, starting from 0.
/// Runs until it finds one (expected `2^bits` hashes).
pub fn solve(challenge: &Challenge, bits: u8) -> Result<u64, PowError> {
    // 2^64 attempts at <= 40 bits never fail in practice; the loop keeps this total anyway.
    let mut start = 0u64;
    loop {
        if let Some(nonce) = solve_range(challenge, bits, start, 1 << 24)? {
            return Ok(nonce);
        }
        start = match start.checked_add(1 << 24) {
            Some(next) => next,
            None => return Err(PowError::Insufficient { required: bits }),
        };
    }
}

/// Checks that `nonce` meets `bits` for `challenge`. One hash.
pub fn verify(challenge: &Challenge, bits: u8, nonce: u64) -> Result<(), PowError> {
    if bits > MAX_BITS {
        return Err(PowError::TooHard(bits));
    }
    if meets(&challenge.prefix(), nonce, bits) {
        Ok(())
    } else {
        Err(PowError::Insufficient { required: bits })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn solve_then_verify_and_binding() {
        let c = Challenge::new(b"test", b"command bytes");
        let nonce = solve(&c, 12).unwrap();
        verify(&c, 12, nonce).unwrap();
        // bound to the command: another command's challenge almost surely rejects it
        let other = Challenge::new(b"test", b"command bytez");
        let rejected = (0..4).any(|bits| verify(&other, 12 + bits, nonce).is_err());
        assert!(rejected);
        assert_eq!(verify(&c, 41, nonce), Err(PowError::TooHard(41)));
    }

    #[test]
    fn scoped_challenges_differ_by_relay_and_epoch() {
        let scope = Scope {
            relay: RelayId::from_bytes([7; 32]),
            key_epoch: 3,
        };
        let c = Challenge::scoped(b"test", &scope, b"command");
        let other_relay = Scope {
            relay: RelayId::from_bytes([8; 32]),
            ..scope
        };
        let other_epoch = Scope {
            key_epoch: 2,
            ..scope
        };
        assert_ne!(c, Challenge::scoped(b"test", &other_relay, b"command"));
        assert_ne!(c, Challenge::scoped(b"test", &other_epoch, b"command"));
        // The layout: label, relay id, epoch (u32 big-endian), context.
        let mut flat = vec![7u8; 32];
        flat.extend_from_slice(&[0, 0, 0, 3]);
        flat.extend_from_slice(b"command");
        assert_eq!(c, Challenge::new(b"test", &flat));
        let nonce = solve(&c, 10).unwrap();
        verify(&c, 10, nonce).unwrap();
        let elsewhere = Challenge::scoped(b"test", &other_relay, b"command");
        assert!((0..4).any(|extra| verify(&elsewhere, 10 + extra, nonce).is_err()));
    }

    #[test]
    fn zero_bits_accepts_anything_and_leading_zeros_counts() {
        let c = Challenge::from_bytes([1; 32]);
        verify(&c, 0, 12345).unwrap();
        assert_eq!(leading_zero_bits(&[0, 0x10]), 11);
        assert_eq!(leading_zero_bits(&[0, 0]), 16);
        assert_eq!(leading_zero_bits(&[0x80]), 0);
    }

    #[test]
    fn solve_range_is_bounded() {
        let c = Challenge::from_bytes([2; 32]);
        // 40 bits in 100 tries: essentially never
        assert_eq!(solve_range(&c, 40, 0, 100).unwrap(), None);
        assert_eq!(solve_range(&c, 0, u64::MAX, 10).unwrap(), None);
        assert_eq!(solve_range(&c, 0, 5, 10).unwrap(), Some(5));
    }
}
