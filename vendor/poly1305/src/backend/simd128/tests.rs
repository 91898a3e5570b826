//! The simd128 backend against RFC 8439's vectors and against the soft backend. On wasm32 with
//! simd128 these run the `v128` lanes in a browser (`wasm-bindgen-test`); natively, the same
//! algorithm on the portable lanes.

extern crate alloc;

use alloc::vec::Vec;
use hex_literal::hex;
use universal_hash::{KeyInit, UniversalHash};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::State;
use crate::{Block, Key, Tag, backend::soft, fuzz_simd128};

/// RFC 8439 §2.5.2 and the vectors of appendix A.3 that probe the reduction (#1, #5 to #11):
/// key (`r` then `s`), message, tag.
/// A vector: its name, key, message and tag.
type Vector = (&'static str, [u8; 32], &'static [u8], [u8; 16]);

const VECTORS: &[Vector] = &[
    (
        "§2.5.2",
        hex!("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b"),
        b"Cryptographic Forum Research Group",
        hex!("a8061dc1305136c6c22b8baf0c0127a9"),
    ),
    ("A.3 #1", [0; 32], &[0; 64], [0; 16]),
    (
        "A.3 #5",
        hex!("0200000000000000000000000000000000000000000000000000000000000000"),
        &hex!("ffffffffffffffffffffffffffffffff"),
        hex!("03000000000000000000000000000000"),
    ),
    (
        "A.3 #6",
        hex!("02000000000000000000000000000000ffffffffffffffffffffffffffffffff"),
        &hex!("02000000000000000000000000000000"),
        hex!("03000000000000000000000000000000"),
    ),
    (
        "A.3 #7",
        hex!("0100000000000000000000000000000000000000000000000000000000000000"),
        &hex!(
            "fffffffffffffffffffffffffffffffff0ffffffffffffffffffffffffffffff11000000000000000000000000000000"
        ),
        hex!("05000000000000000000000000000000"),
    ),
    (
        "A.3 #8",
        hex!("0100000000000000000000000000000000000000000000000000000000000000"),
        &hex!(
            "fffffffffffffffffffffffffffffffffbfefefefefefefefefefefefefefefe01010101010101010101010101010101"
        ),
        hex!("00000000000000000000000000000000"),
    ),
    (
        "A.3 #9",
        hex!("0200000000000000000000000000000000000000000000000000000000000000"),
        &hex!("fdffffffffffffffffffffffffffffff"),
        hex!("faffffffffffffffffffffffffffffff"),
    ),
    (
        "A.3 #10",
        hex!("0100000000000000040000000000000000000000000000000000000000000000"),
        &hex!(
            "e33594d7505e43b900000000000000003394d7505e4379cd01000000000000000000000000000000000000000000000001000000000000000000000000000000"
        ),
        hex!("14000000000000005500000000000000"),
    ),
    (
        "A.3 #11",
        hex!("0100000000000000040000000000000000000000000000000000000000000000"),
        &hex!(
            "e33594d7505e43b900000000000000003394d7505e4379cd010000000000000000000000000000000000000000000000"
        ),
        hex!("13000000000000000000000000000000"),
    ),
];

/// The unpadded tag of `message` (RFC 8439 §2.5), whole blocks through the four-block path.
fn tag(key: &[u8; 32], message: &[u8]) -> Tag {
    let mut state = State::new(&Key::from(*key));
    let (blocks, tail) = Block::slice_as_chunks(message);
    state.update(blocks);
    if !tail.is_empty() {
        let mut block = Block::default();
        block[..tail.len()].copy_from_slice(tail);
        block[tail.len()] = 1;
        state.compute_block(&block, true);
    }
    state.finalize()
}

#[test]
fn rfc8439_vectors() {
    for (name, key, message, expected) in VECTORS {
        assert_eq!(
            tag(key, message)[..],
            expected[..],
            "{name}: four-block path"
        );
        let serial = crate::Poly1305::new(&Key::from(*key)).compute_unpadded(message);
        assert_eq!(
            serial[..],
            expected[..],
            "{name}: Poly1305::compute_unpadded"
        );
        // The same message after three, two, one and no whole blocks of zeros before it: the
        // groups of four start at every offset of the message.
        for lead in 0..4 {
            let mut padded = alloc::vec![0u8; 16 * lead];
            padded.extend_from_slice(message);
            let mut simd = State::new(&Key::from(*key));
            let mut reference = soft::State::new(&Key::from(*key));
            let (blocks, _) = Block::slice_as_chunks(&padded[..padded.len() / 16 * 16]);
            simd.update(blocks);
            for block in blocks {
                reference.compute_block(block, false);
            }
            assert_eq!(
                simd.finalize(),
                reference.finalize(),
                "{name} after {lead} blocks"
            );
        }
    }
}

/// splitmix64: a seeded generator, so every run (native and in the browser) checks the same
/// cases.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Random keys and step sequences through [`fuzz_simd128`], which asserts equal tags after
/// every comparison step and at the end.
#[test]
fn equal_to_soft_seeded_steps() {
    let mut rng = Seeded(0x5077_0018);
    for case in 0..300 {
        let key: [u8; 32] = rng.bytes(32).try_into().unwrap();
        let len = (rng.next() % 3000) as usize;
        let mut data = rng.bytes(len);
        if case % 3 == 0 {
            // All-ones blocks keep the accumulators near their largest values.
            data.iter_mut().skip(1).for_each(|b| *b = 0xff);
        }
        fuzz_simd128(&Key::from(key), &data);
    }
}

/// `Poly1305` as chacha20poly1305 drives it (`update_padded` pieces of any length, then
/// `finalize`) against the soft backend, for random keys (and the largest clamped `r`) and
/// pieces of 0 to 300 bytes.
#[test]
fn equal_to_soft_padded_pieces() {
    let mut rng = Seeded(0xc4a0_1305);
    for case in 0..300 {
        let mut key: [u8; 32] = rng.bytes(32).try_into().unwrap();
        if case % 4 == 0 {
            key[..16].fill(0xff);
        }
        let mut ours = crate::Poly1305::new(&Key::from(key));
        let mut reference = soft::State::new(&Key::from(key));
        for _ in 0..(rng.next() % 8) {
            let len = (rng.next() % 301) as usize;
            let piece = rng.bytes(len);
            ours.update_padded(&piece);
            let (blocks, tail) = Block::slice_as_chunks(&piece);
            for block in blocks {
                reference.compute_block(block, false);
            }
            if !tail.is_empty() {
                let mut padded = Block::default();
                padded[..tail.len()].copy_from_slice(tail);
                reference.compute_block(&padded, false);
            }
        }
        assert_eq!(ours.finalize(), reference.finalize(), "case {case}");
    }
}

/// 64 KiB of 0xff under the largest clamped `r`: the longest run of the lanes at their largest.
#[test]
fn equal_to_soft_long_all_ones() {
    let key = [0xff; 32];
    let message = [0xffu8; 65536];
    let mut reference = soft::State::new(&Key::from(key));
    let (blocks, _) = Block::slice_as_chunks(&message);
    for block in blocks {
        reference.compute_block(block, false);
    }
    assert_eq!(tag(&key, &message), reference.finalize());
}
