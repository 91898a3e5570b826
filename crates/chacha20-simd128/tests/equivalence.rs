//! The eight-block backend ([`ChaCha20Simd`]) against the `chacha20` crate's `ChaCha20` over
//! random keys, nonces, starting counters (many near the 32-bit wrap), seeks into the middle of
//! blocks and lengths that are not multiples of 64 or 256: same keystream, same positions, same
//! refusals at the end of the counter. A seeded loop on every target (on wasm32 it runs the
//! `v128` lanes in the browser) and, natively, a proptest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chacha20_simd128::ChaCha20Simd;
use chacha20_simd128::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// One step applied to both ciphers.
#[derive(Debug, Clone)]
enum Op {
    /// Apply the keystream to `len` bytes of data (the same data for both).
    Apply(usize),
    /// Seek to `block * 64 + byte` (`byte < 64`: into the middle of a block).
    Seek { block: u32, byte: u8 },
}

/// Runs `ops` on both ciphers from `counter` and asserts equal output, positions and errors.
fn check(key: [u8; 32], nonce: [u8; 12], counter: u32, ops: &[Op], data: &[u8]) {
    let mut ours = ChaCha20Simd::new(&key.into(), &nonce.into());
    let mut theirs = chacha20::ChaCha20::new(&key.into(), &nonce.into());
    let start = u64::from(counter) * 64;
    ours.seek(start);
    theirs.seek(start);
    for op in ops {
        match *op {
            Op::Apply(len) => {
                let len = len.min(data.len());
                let (mut a, mut b) = (data[..len].to_vec(), data[..len].to_vec());
                let ra = ours.try_apply_keystream(&mut a);
                let rb = theirs.try_apply_keystream(&mut b);
                assert_eq!(ra.is_ok(), rb.is_ok(), "{op:?}: same refusal");
                assert_eq!(a, b, "{op:?} from counter {counter}: same bytes");
            }
            Op::Seek { block, byte } => {
                let pos = u64::from(block) * 64 + u64::from(byte % 64);
                let ra = ours.try_seek(pos);
                let rb = theirs.try_seek(pos);
                assert_eq!(ra.is_ok(), rb.is_ok(), "{op:?}: same refusal");
            }
        }
        let pa: Result<u64, _> = ours.try_current_pos();
        let pb: Result<u64, _> = theirs.try_current_pos();
        assert_eq!(pa.ok(), pb.ok(), "{op:?}: same position");
    }
}

fn random_case(rng: &mut ChaCha20Rng) -> ([u8; 32], [u8; 12], u32, Vec<Op>) {
    let mut key = [0u8; 32];
    let mut nonce = [0u8; 12];
    rng.fill_bytes(&mut key);
    rng.fill_bytes(&mut nonce);
    let counter = match rng.next_u32() % 4 {
        0 => 0,
        1 => u32::MAX - rng.next_u32() % 10,
        _ => rng.next_u32(),
    };
    let ops = (0..1 + rng.next_u32() % 6)
        .map(|_| match rng.next_u32() % 4 {
            0 => Op::Seek {
                block: counter.wrapping_add(rng.next_u32() % 8),
                byte: (rng.next_u32() % 64) as u8,
            },
            1 => Op::Apply((rng.next_u32() % 1100) as usize),
            _ => Op::Apply((rng.next_u32() % 70) as usize),
        })
        .collect();
    (key, nonce, counter, ops)
}

#[test]
fn matches_chacha20_on_seeded_random_cases() {
    let mut rng = ChaCha20Rng::seed_from_u64(18);
    let mut data = vec![0u8; 1100];
    rng.fill_bytes(&mut data);
    for _ in 0..400 {
        let (key, nonce, counter, ops) = random_case(&mut rng);
        check(key, nonce, counter, &ops, &data);
    }
}

#[test]
fn every_length_up_to_sixteen_blocks() {
    let data: Vec<u8> = (0..1030u32).map(|i| (i * 7 + 3) as u8).collect();
    for len in 0..=1030 {
        check([7; 32], [9; 12], 5, &[Op::Apply(len), Op::Apply(13)], &data);
    }
}

#[test]
fn the_last_blocks_before_the_counter_wraps() {
    let data = vec![0x5a; 700];
    for back in 0..10u32 {
        for len in [
            1, 63, 64, 65, 128, 191, 255, 256, 257, 400, 511, 512, 513, 600,
        ] {
            let ops = [Op::Apply(len), Op::Apply(64), Op::Apply(1)];
            check([1; 32], [2; 12], u32::MAX - back, &ops, &data);
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod property {
    use super::{Op, check};
    use proptest::prelude::*;

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0usize..1100).prop_map(Op::Apply),
            (0usize..70).prop_map(Op::Apply),
            (any::<u32>(), any::<u8>()).prop_map(|(block, byte)| Op::Seek { block, byte }),
            ((u32::MAX - 8)..=u32::MAX, any::<u8>())
                .prop_map(|(block, byte)| Op::Seek { block, byte }),
        ]
    }

    proptest! {
        #[test]
        fn matches_chacha20(
            key in any::<[u8; 32]>(),
            nonce in any::<[u8; 12]>(),
            counter in prop_oneof![any::<u32>(), (u32::MAX - 10)..=u32::MAX],
            ops in proptest::collection::vec(op(), 1..8),
            data in proptest::collection::vec(any::<u8>(), 1100),
        ) {
            check(key, nonce, counter, &ops, &data);
        }
    }
}
