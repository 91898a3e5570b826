//! Four 32-bit lanes in one wasm `v128` register (`core::arch::wasm32`, simd128).
//!
//! Every operation is one or three wasm SIMD instructions: `i32x4.add`, `v128.xor`,
//! `i8x16.shuffle` for the byte-aligned rotations (16 and 8 bits), and `i32x4.shl` /
//! `i32x4.shr_u` / `v128.or` for the others (12 and 7 bits). The intrinsics are safe functions
//! (simd128 is enabled for the whole build: `cfg(target_feature = "simd128")`); only the final
//! store takes a raw pointer, hence the one `unsafe` block below.

use core::arch::wasm32::{
    i8x16_shuffle, u32x4, u32x4_add, u32x4_shl, u32x4_shr, u32x4_shuffle, u32x4_splat, v128,
    v128_or, v128_store, v128_xor,
};

/// Four u32 lanes: lane `j` holds one state word of block `j`.
#[derive(Clone, Copy)]
pub(crate) struct Lanes(v128);

impl Lanes {
    /// The same word in every lane.
    #[inline(always)]
    pub(crate) fn splat(word: u32) -> Self {
        Self(u32x4_splat(word))
    }

    /// Lanes `[a, b, c, d]`.
    #[inline(always)]
    pub(crate) fn new(a: u32, b: u32, c: u32, d: u32) -> Self {
        Self(u32x4(a, b, c, d))
    }

    /// Lane-wise wrapping addition.
    #[inline(always)]
    pub(crate) fn add(self, other: Self) -> Self {
        Self(u32x4_add(self.0, other.0))
    }

    /// Lane-wise exclusive or.
    #[inline(always)]
    pub(crate) fn xor(self, other: Self) -> Self {
        Self(v128_xor(self.0, other.0))
    }

    /// Lane-wise rotation left by 16 bits: swaps the two 16-bit halves of each (little-endian)
    /// lane, one byte shuffle.
    #[inline(always)]
    pub(crate) fn rotl16(self) -> Self {
        Self(i8x16_shuffle::<
            2,
            3,
            0,
            1,
            6,
            7,
            4,
            5,
            10,
            11,
            8,
            9,
            14,
            15,
            12,
            13,
        >(self.0, self.0))
    }

    /// Lane-wise rotation left by 8 bits: byte `i` of a lane moves to byte `i + 1 mod 4`, one
    /// byte shuffle.
    #[inline(always)]
    pub(crate) fn rotl8(self) -> Self {
        Self(i8x16_shuffle::<
            3,
            0,
            1,
            2,
            7,
            4,
            5,
            6,
            11,
            8,
            9,
            10,
            15,
            12,
            13,
            14,
        >(self.0, self.0))
    }

    /// Lane-wise rotation left by 12 bits (two shifts and an or).
    #[inline(always)]
    pub(crate) fn rotl12(self) -> Self {
        Self(v128_or(u32x4_shl(self.0, 12), u32x4_shr(self.0, 20)))
    }

    /// Lane-wise rotation left by 7 bits (two shifts and an or).
    #[inline(always)]
    pub(crate) fn rotl7(self) -> Self {
        Self(v128_or(u32x4_shl(self.0, 7), u32x4_shr(self.0, 25)))
    }
}

/// Transposes four consecutive state words of four blocks (`rows[i]` lane `j` = word `i` of
/// block `j`) and writes block `j`'s four words, little-endian, to `out[j]`.
#[inline(always)]
pub(crate) fn store_transposed(rows: [Lanes; 4], out: [&mut [u8; 16]; 4]) {
    let [a, b, c, d] = rows.map(|l| l.0);
    // [a0 b0 a1 b1], [a2 b2 a3 b3], [c0 d0 c1 d1], [c2 d2 c3 d3]
    let ab_lo = u32x4_shuffle::<0, 4, 1, 5>(a, b);
    let ab_hi = u32x4_shuffle::<2, 6, 3, 7>(a, b);
    let cd_lo = u32x4_shuffle::<0, 4, 1, 5>(c, d);
    let cd_hi = u32x4_shuffle::<2, 6, 3, 7>(c, d);
    // [a0 b0 c0 d0] … [a3 b3 c3 d3]: block j's four words.
    let blocks = [
        u32x4_shuffle::<0, 1, 4, 5>(ab_lo, cd_lo),
        u32x4_shuffle::<2, 3, 6, 7>(ab_lo, cd_lo),
        u32x4_shuffle::<0, 1, 4, 5>(ab_hi, cd_hi),
        u32x4_shuffle::<2, 3, 6, 7>(ab_hi, cd_hi),
    ];
    for (words, dst) in blocks.into_iter().zip(out) {
        // SAFETY: `dst` is a live, exclusive `&mut [u8; 16]`, so the pointer is valid for a
        // 16-byte write; `v128.store` has no alignment requirement (it is a 1-aligned store);
        // wasm is little-endian, so the lanes land as the RFC 8439 little-endian words.
        #[allow(unsafe_code)]
        unsafe {
            v128_store(dst.as_mut_ptr().cast::<v128>(), words);
        }
    }
}
