//! Four 32-bit lanes as a plain `[u32; 4]`: the same operations as the simd128 lanes, so the
//! eight-block backend (its counters, tails and output order) runs and is tested on every
//! target, and fuzzed natively against the `chacha20` crate.

#![forbid(unsafe_code)]

/// Four u32 lanes: lane `j` holds one state word of block `j`.
#[derive(Clone, Copy)]
pub(crate) struct Lanes([u32; 4]);

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

    /// Lane-wise wrapping addition.
    #[inline(always)]
    pub(crate) fn add(self, other: Self) -> Self {
        Self(core::array::from_fn(|j| self.0[j].wrapping_add(other.0[j])))
    }

    /// Lane-wise exclusive or.
    #[inline(always)]
    pub(crate) fn xor(self, other: Self) -> Self {
        Self(core::array::from_fn(|j| self.0[j] ^ other.0[j]))
    }

    /// Lane-wise rotation left by 16 bits.
    #[inline(always)]
    pub(crate) fn rotl16(self) -> Self {
        self.rotl(16)
    }

    /// Lane-wise rotation left by 8 bits.
    #[inline(always)]
    pub(crate) fn rotl8(self) -> Self {
        self.rotl(8)
    }

    /// Lane-wise rotation left by 12 bits.
    #[inline(always)]
    pub(crate) fn rotl12(self) -> Self {
        self.rotl(12)
    }

    /// Lane-wise rotation left by 7 bits.
    #[inline(always)]
    pub(crate) fn rotl7(self) -> Self {
        self.rotl(7)
    }

    /// Lane-wise rotation left by `bits`.
    #[inline(always)]
    fn rotl(self, bits: u32) -> Self {
        Self(self.0.map(|w| w.rotate_left(bits)))
    }
}

/// Transposes four consecutive state words of four blocks (`rows[i]` lane `j` = word `i` of
/// block `j`) and writes block `j`'s four words, little-endian, to `out[j]`.
#[inline(always)]
pub(crate) fn store_transposed(rows: [Lanes; 4], out: [&mut [u8; 16]; 4]) {
    for (j, dst) in out.into_iter().enumerate() {
        for (i, word) in dst.chunks_exact_mut(4).enumerate() {
            word.copy_from_slice(&rows[i].0[j].to_le_bytes());
        }
    }
}
