//! Four 32-bit lanes in one wasm `v128` and four 64-bit products in two
//! (`core::arch::wasm32`, simd128).
//!
//! The products are `i64x2.extmul_low_i32x4_u` / `i64x2.extmul_high_i32x4_u` (two exact
//! `u32 × u32 → u64` products each), the sums `i64x2.add`, the carries `i64x2.shr_u` and
//! `v128.and`; blocks are read with `v128.load` and transposed with `i32x4.shuffle`. The
//! intrinsics are safe functions (simd128 is enabled for the whole build:
//! `cfg(target_feature = "simd128")`); only the loads take a raw pointer, hence the one
//! `unsafe` block below.

use core::arch::wasm32::{
    u32x4, u32x4_add, u32x4_extract_lane, u32x4_shl, u32x4_shr, u32x4_shuffle, u32x4_splat,
    u64x2_add, u64x2_extmul_high_u32x4, u64x2_extmul_low_u32x4, u64x2_extract_lane, u64x2_shl,
    u64x2_shr, u64x2_splat, v128, v128_and, v128_load, v128_or,
};

use crate::Block;

/// Four u32 lanes: lane `j` holds one 26-bit limb of accumulator (or block) `j`.
#[derive(Clone, Copy)]
pub(crate) struct Lanes(v128);

/// Four u64 lanes (lanes 0 and 1 in the first `v128`, 2 and 3 in the second): lane `j` holds a
/// sum of limb products of accumulator `j`.
#[derive(Clone, Copy)]
pub(crate) struct Wide(v128, v128);

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

    /// The four lanes.
    #[inline(always)]
    pub(crate) fn to_array(self) -> [u32; 4] {
        [
            u32x4_extract_lane::<0>(self.0),
            u32x4_extract_lane::<1>(self.0),
            u32x4_extract_lane::<2>(self.0),
            u32x4_extract_lane::<3>(self.0),
        ]
    }

    /// Lane-wise wrapping addition.
    #[inline(always)]
    pub(crate) fn add(self, other: Self) -> Self {
        Self(u32x4_add(self.0, other.0))
    }

    /// Lane-wise 64-bit products of the lanes (`u32 × u32`, exact): two `extmul`s.
    #[inline(always)]
    pub(crate) fn mul(self, other: Self) -> Wide {
        Wide(
            u64x2_extmul_low_u32x4(self.0, other.0),
            u64x2_extmul_high_u32x4(self.0, other.0),
        )
    }

    /// Words `0..4` of four blocks, transposed: `out[k]` lane `j` is little-endian word `k` of
    /// `blocks[j]`.
    #[inline(always)]
    pub(crate) fn load_transposed(blocks: &[Block; 4]) -> [Self; 4] {
        // SAFETY: each `Block` is a live `[u8; 16]` (hybrid-array's `Array<u8, U16>` is
        // `repr(transparent)` over it), so the pointer is valid for a 16-byte read;
        // `v128.load` has no alignment requirement; wasm is little-endian, so lane `k` is the
        // block's little-endian word `k`.
        #[allow(unsafe_code)]
        let [a, b, c, d] = blocks
            .each_ref()
            .map(|block| unsafe { v128_load(block.as_ptr().cast::<v128>()) });
        // [a0 b0 a1 b1], [a2 b2 a3 b3], [c0 d0 c1 d1], [c2 d2 c3 d3]
        let ab_lo = u32x4_shuffle::<0, 4, 1, 5>(a, b);
        let ab_hi = u32x4_shuffle::<2, 6, 3, 7>(a, b);
        let cd_lo = u32x4_shuffle::<0, 4, 1, 5>(c, d);
        let cd_hi = u32x4_shuffle::<2, 6, 3, 7>(c, d);
        [
            Self(u32x4_shuffle::<0, 1, 4, 5>(ab_lo, cd_lo)),
            Self(u32x4_shuffle::<2, 3, 6, 7>(ab_lo, cd_lo)),
            Self(u32x4_shuffle::<0, 1, 4, 5>(ab_hi, cd_hi)),
            Self(u32x4_shuffle::<2, 3, 6, 7>(ab_hi, cd_hi)),
        ]
    }

    /// Lane-wise `(self >> right) | (high << left)`, masked to `mask`: a limb that straddles
    /// two words.
    #[inline(always)]
    pub(crate) fn funnel(self, high: Self, right: u32, left: u32, mask: u32) -> Self {
        Self(v128_and(
            v128_or(u32x4_shr(self.0, right), u32x4_shl(high.0, left)),
            u32x4_splat(mask),
        ))
    }

    /// Lane-wise `(self >> right) | or`.
    #[inline(always)]
    pub(crate) fn shr_or(self, right: u32, or: u32) -> Self {
        Self(v128_or(u32x4_shr(self.0, right), u32x4_splat(or)))
    }

    /// Lane-wise `self & mask`.
    #[inline(always)]
    pub(crate) fn and(self, mask: u32) -> Self {
        Self(v128_and(self.0, u32x4_splat(mask)))
    }
}

impl Wide {
    /// Lane-wise wrapping addition.
    #[inline(always)]
    pub(crate) fn add(self, other: Self) -> Self {
        Self(u64x2_add(self.0, other.0), u64x2_add(self.1, other.1))
    }

    /// Lane-wise logical right shift.
    #[inline(always)]
    pub(crate) fn shr(self, bits: u32) -> Self {
        Self(u64x2_shr(self.0, bits), u64x2_shr(self.1, bits))
    }

    /// Lane-wise left shift.
    #[inline(always)]
    pub(crate) fn shl(self, bits: u32) -> Self {
        Self(u64x2_shl(self.0, bits), u64x2_shl(self.1, bits))
    }

    /// Lane-wise `self & mask`.
    #[inline(always)]
    pub(crate) fn and(self, mask: u64) -> Self {
        let m = u64x2_splat(mask);
        Self(v128_and(self.0, m), v128_and(self.1, m))
    }

    /// The low 32 bits of each lane: one shuffle.
    #[inline(always)]
    pub(crate) fn narrow(self) -> Lanes {
        Lanes(u32x4_shuffle::<0, 2, 4, 6>(self.0, self.1))
    }

    /// The sum of the four lanes (wrapping).
    #[inline(always)]
    pub(crate) fn sum(self) -> u64 {
        let pair = u64x2_add(self.0, self.1);
        u64x2_extract_lane::<0>(pair).wrapping_add(u64x2_extract_lane::<1>(pair))
    }
}
