//! Four 32-bit lanes as a plain `[u32; 4]` and four 64-bit products as a `[u64; 4]`: the same
//! operations as the `v128` lanes, so that the four-block backend (its powers of `r`, its folding
//! into one accumulator, its reduction) also builds off wasm32 for the tests and the fuzzer
//! (`cfg(any(test, fuzzing))`), which compare it with the soft backend natively.

#![forbid(unsafe_code)]

use crate::Block;

/// Four u32 lanes: lane `j` holds one 26-bit limb of accumulator (or block) `j`.
#[derive(Clone, Copy)]
pub(crate) struct Lanes([u32; 4]);

/// Four u64 lanes: lane `j` holds a sum of limb products of accumulator `j`.
#[derive(Clone, Copy)]
pub(crate) struct Wide([u64; 4]);

impl Lanes {
    /// The same word in every lane.
    #[inline(always)]
    pub(crate) fn splat(word: u32) -> Self {
        Self([word; 4])
    }

    /// Lanes `[a, b, c, d]`.
    #[inline(always)]
    pub(crate) fn new(a: u32, b: u32, c: u32, d: u32) -> Self {
        Self([a, b, c, d])
    }

    /// The four lanes.
    #[inline(always)]
    pub(crate) fn to_array(self) -> [u32; 4] {
        self.0
    }

    /// Lane-wise wrapping addition.
    #[inline(always)]
    pub(crate) fn add(self, other: Self) -> Self {
        Self(core::array::from_fn(|j| self.0[j].wrapping_add(other.0[j])))
    }

    /// Lane-wise 64-bit products of the lanes (`u32 × u32`, exact).
    #[inline(always)]
    pub(crate) fn mul(self, other: Self) -> Wide {
        Wide(core::array::from_fn(|j| {
            u64::from(self.0[j]) * u64::from(other.0[j])
        }))
    }

    /// Words `0..4` of four blocks, transposed: `out[k]` lane `j` is little-endian word `k` of
    /// `blocks[j]`.
    #[inline(always)]
    pub(crate) fn load_transposed(blocks: &[Block; 4]) -> [Self; 4] {
        core::array::from_fn(|k| {
            Self(core::array::from_fn(|j| {
                let b = &blocks[j];
                u32::from_le_bytes([b[4 * k], b[4 * k + 1], b[4 * k + 2], b[4 * k + 3]])
            }))
        })
    }

    /// Lane-wise `(self >> right) | (high << left)`, masked to `mask`: a limb that straddles
    /// two words.
    #[inline(always)]
    pub(crate) fn funnel(self, high: Self, right: u32, left: u32, mask: u32) -> Self {
        Self(core::array::from_fn(|j| {
            ((self.0[j] >> right) | (high.0[j] << left)) & mask
        }))
    }

    /// Lane-wise `(self >> right) | or`.
    #[inline(always)]
    pub(crate) fn shr_or(self, right: u32, or: u32) -> Self {
        Self(core::array::from_fn(|j| (self.0[j] >> right) | or))
    }

    /// Lane-wise `self & mask`.
    #[inline(always)]
    pub(crate) fn and(self, mask: u32) -> Self {
        Self(core::array::from_fn(|j| self.0[j] & mask))
    }
}

impl Wide {
    /// Lane-wise wrapping addition.
    #[inline(always)]
    pub(crate) fn add(self, other: Self) -> Self {
        Self(core::array::from_fn(|j| self.0[j].wrapping_add(other.0[j])))
    }

    /// Lane-wise logical right shift.
    #[inline(always)]
    pub(crate) fn shr(self, bits: u32) -> Self {
        Self(self.0.map(|x| x >> bits))
    }

    /// Lane-wise left shift.
    #[inline(always)]
    pub(crate) fn shl(self, bits: u32) -> Self {
        Self(self.0.map(|x| x << bits))
    }

    /// Lane-wise `self & mask`.
    #[inline(always)]
    pub(crate) fn and(self, mask: u64) -> Self {
        Self(self.0.map(|x| x & mask))
    }

    /// The low 32 bits of each lane.
    #[inline(always)]
    pub(crate) fn narrow(self) -> Lanes {
        Lanes(self.0.map(|x| x as u32))
    }

    /// The sum of the four lanes (wrapping).
    #[inline(always)]
    pub(crate) fn sum(self) -> u64 {
        self.0.iter().fold(0u64, |s, x| s.wrapping_add(*x))
    }
}
