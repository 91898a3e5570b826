//! WebAssembly `simd128` implementation of the Poly1305 state machine: four blocks at a time.
//!
//! Four accumulators, one per `v128` lane, each a number modulo 2^130 - 5 in five 26-bit limbs,
//! all multiplied by `r^4` at once with `i64x2.extmul_low_i32x4_u` /
//! `i64x2.extmul_high_i32x4_u` (exact `u32 × u32` products, two per instruction), as the AVX2
//! backend does with `r^4` in its 256-bit registers (Goll and Gueron, "Vectorization of
//! Poly1305 message authentication code", 2015).
//!
//! Blocks come in groups of four, `m_{4g}, …, m_{4g+3}`. Accumulator `j` takes block `4g + j`:
//! `A_j ← A_j · r^4 + m_{4g+j}` (the first group starts from `A_0 = h + m_0`, `A_j = m_j`).
//! A single block, and the tag, first fold the accumulators back into the serial state,
//! `h = A_0 · r^4 + A_1 · r^3 + A_2 · r^2 + A_3 · r` (one lane-wise multiplication by
//! `[r^4, r^3, r^2, r]`), which is the soft backend's: single blocks and the tag are its code.
//! Both give `Σ m_i · r^(n - i)`, the polynomial of RFC 8439 §2.5.
//!
//! Off wasm32 (only for the tests and the fuzzer: `cfg(any(test, fuzzing))`) the lanes are plain
//! arrays, so the same algorithm is compared with the soft backend natively too.

use universal_hash::{
    UhfBackend, UhfClosure,
    array::Array,
    common::{BlockSizeUser, ParBlocksSizeUser},
    consts::{U4, U16},
};

use crate::{Block, Key, Tag, backend::soft};

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[path = "simd128/lanes_v128.rs"]
mod lanes;
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[path = "simd128/lanes_portable.rs"]
mod lanes;
#[cfg(test)]
mod tests;

use lanes::{Lanes, Wide};

/// The low 26 bits.
const MASK: u32 = 0x3ff_ffff;

/// The bit above a full 16-byte block (2^128), in limb 4.
const HIBIT: u32 = 1 << 24;

/// Five 26-bit limbs, least significant first.
type Limbs = [u32; 5];

/// The state: the soft backend's (clamped `r`, the serial accumulator `h`, the pad), the powers
/// `r^2, r^3, r^4`, and the four lane accumulators while blocks come in groups of four (the
/// serial `h` is then zero: it joined accumulator 0). Flat, for `zeroize_flat_type`.
#[derive(Clone)]
pub(crate) struct State {
    soft: soft::State,
    /// `r, r^2, r^3, r^4`.
    powers: [Limbs; 4],
    /// `acc[i][j]`: limb `i` of accumulator `j`.
    acc: Option<[[u32; 4]; 5]>,
}

impl State {
    /// Initialize Poly1305 [`State`] with the given key
    pub(crate) fn new(key: &Key) -> State {
        let soft = soft::State::new(key);
        let r = soft.r;
        let r2 = mul(r, r);
        let r3 = mul(r2, r);
        let r4 = mul(r2, r2);
        State {
            soft,
            powers: [r, r2, r3, r4],
            acc: None,
        }
    }

    /// Compute a Poly1305 block
    pub(crate) fn compute_block(&mut self, block: &Block, partial: bool) {
        self.fold();
        self.soft.compute_block(block, partial);
    }

    /// Whole blocks, four at a time, then one at a time. Not inlined: the loop is compiled
    /// here (and at this crate's optimisation level), not in every caller.
    #[inline(never)]
    pub(crate) fn update(&mut self, blocks: &[Block]) {
        let mut backend = Backend::new(self);
        let (groups, rest) = Array::<Block, U4>::slice_as_chunks(blocks);
        for group in groups {
            backend.four_blocks(group.as_ref());
        }
        for block in rest {
            backend.one_block(block);
        }
        backend.finish();
    }

    pub(crate) fn update_with_backend(&mut self, f: impl UhfClosure<BlockSize = U16>) {
        let mut backend = Backend::new(self);
        f.call(&mut backend);
        backend.finish();
    }

    /// Finalize output producing a [`Tag`]
    pub(crate) fn finalize(&mut self) -> Tag {
        self.fold();
        self.soft.finalize()
    }

    /// `h = A_0 · r^4 + A_1 · r^3 + A_2 · r^2 + A_3 · r` into the soft state (nothing without
    /// accumulators): one lane-wise multiplication, the four lanes of each column summed, one
    /// carry.
    fn fold(&mut self) {
        let Some(acc) = self.acc.take() else {
            return;
        };
        let acc = acc.map(|[a, b, c, d]| Lanes::new(a, b, c, d));
        let [r, r2, r3, r4] = self.powers;
        let by: [Lanes; 5] = core::array::from_fn(|i| Lanes::new(r4[i], r3[i], r2[i], r[i]));
        let by5: [Lanes; 5] =
            core::array::from_fn(|i| Lanes::new(r4[i] * 5, r3[i] * 5, r2[i] * 5, r[i] * 5));
        let columns = mul_columns(&acc, &by, &by5);
        self.soft.h = carry(columns.map(Wide::sum));
    }
}

/// The backend for one update: `r^4` and `5 · r^4` in every lane (splatted once per update)
/// and the accumulators in lanes, written back to the [`State`] when the update ends.
struct Backend<'a> {
    state: &'a mut State,
    r4: [Lanes; 5],
    r4x5: [Lanes; 5],
    acc: Option<[Lanes; 5]>,
}

impl<'a> Backend<'a> {
    #[inline(always)]
    fn new(state: &'a mut State) -> Self {
        let r4 = state.powers[3];
        Self {
            r4: r4.map(Lanes::splat),
            r4x5: r4.map(|x| Lanes::splat(x * 5)),
            acc: state
                .acc
                .map(|acc| acc.map(|[a, b, c, d]| Lanes::new(a, b, c, d))),
            state,
        }
    }

    /// Hands the accumulators back to the state.
    #[inline(always)]
    fn finish(self) {
        self.state.acc = self.acc.map(|acc| acc.map(Lanes::to_array));
    }

    /// Four blocks at once.
    #[inline(always)]
    fn four_blocks(&mut self, blocks: &[Block; 4]) {
        let m = message_lanes(blocks);
        self.acc = Some(match self.acc {
            Some(acc) => {
                // Read through `black_box` so that the powers are loaded in the loop: were they
                // known loop-invariant, LLVM would widen them to u64 lanes once, outside the
                // loop, and then emit `i64x2.mul` (a long sequence in engines without 64-bit
                // vector multiplies) instead of `i64x2.extmul_{low,high}_i32x4_u`.
                let (r4, r4x5) = core::hint::black_box((&self.r4, &self.r4x5));
                let product = mul_lanes(&acc, r4, r4x5);
                core::array::from_fn(|i| product[i].add(m[i]))
            }
            None => {
                // The serial state joins accumulator 0 (lane 0); it is zero from here on.
                let h = core::mem::take(&mut self.state.soft.h);
                core::array::from_fn(|i| m[i].add(Lanes::new(h[i], 0, 0, 0)))
            }
        });
    }

    /// One block: the accumulators, if any, are folded into the serial state first.
    #[inline(always)]
    fn one_block(&mut self, block: &Block) {
        self.state.acc = self.acc.take().map(|acc| acc.map(Lanes::to_array));
        self.state.compute_block(block, false);
    }
}

impl BlockSizeUser for Backend<'_> {
    type BlockSize = U16;
}

impl ParBlocksSizeUser for Backend<'_> {
    type ParBlocksSize = U4;
}

impl UhfBackend for Backend<'_> {
    #[inline(always)]
    fn proc_block(&mut self, block: &Block) {
        self.one_block(block);
    }

    #[inline(always)]
    fn proc_par_blocks(&mut self, blocks: &universal_hash::ParBlocks<Self>) {
        self.four_blocks(blocks.as_ref());
    }
}

/// Limbs of four full blocks, one block per lane.
#[inline(always)]
fn message_lanes(blocks: &[Block; 4]) -> [Lanes; 5] {
    let [w0, w1, w2, w3] = Lanes::load_transposed(blocks);
    [
        w0.and(MASK),
        w0.funnel(w1, 26, 6, MASK),
        w1.funnel(w2, 20, 12, MASK),
        w2.funnel(w3, 14, 18, MASK),
        w3.shr_or(8, HIBIT),
    ]
}

/// The columns of `a · b` in every lane before carrying (`b5` is `5 · b`): column `k` sums
/// `a_i · b_j` with `i + j = k` and `5 · a_i · b_j` with `i + j = k + 5` (2^130 = 5 modulo p).
#[inline(always)]
fn mul_columns(a: &[Lanes; 5], b: &[Lanes; 5], b5: &[Lanes; 5]) -> [Wide; 5] {
    core::array::from_fn(|k| {
        let mut column = a[0].mul(b[k]);
        for i in 1..5 {
            let factor = if i <= k { b[k - i] } else { b5[k + 5 - i] };
            column = column.add(a[i].mul(factor));
        }
        column
    })
}

/// `a · b` modulo p in every lane, partially reduced (as [`mul`]).
#[inline(always)]
fn mul_lanes(a: &[Lanes; 5], b: &[Lanes; 5], b5: &[Lanes; 5]) -> [Lanes; 5] {
    let d = mul_columns(a, b, b5);
    let mask = u64::from(MASK);
    let mut h = [d[0].and(mask); 5];
    let mut c = d[0].shr(26);
    for k in 1..5 {
        let t = d[k].add(c);
        h[k] = t.and(mask);
        c = t.shr(26);
    }
    // The carry out of limb 4 comes back into limb 0 times 5 (c + 4c). The shift count goes
    // through `black_box` so that LLVM does not fold the two into an `i64x2.mul` by 5.
    let h0 = h[0].add(c).add(c.shl(core::hint::black_box(2)));
    h[0] = h0.and(mask);
    h[1] = h[1].add(h0.shr(26));
    h.map(Wide::narrow)
}

/// `a · b` modulo p, partially reduced: the scalar form of [`mul_lanes`]. Each limb of `a`
/// and `b` must stay under 2^28, so that every column stays under 2^64.
fn mul(a: Limbs, b: Limbs) -> Limbs {
    carry(core::array::from_fn(|k| {
        (0..5)
            .map(|i| {
                let factor = if i <= k {
                    u64::from(b[k - i])
                } else {
                    u64::from(b[k + 5 - i]) * 5
                };
                u64::from(a[i]) * factor
            })
            .sum()
    }))
}

/// Carries the columns of a product back into 26-bit limbs (limb 1 may keep a few bits more),
/// folding the carry out of limb 4 back into limb 0 times 5.
fn carry(d: [u64; 5]) -> Limbs {
    let mask = u64::from(MASK);
    let mut h = [0u64; 5];
    let mut c = 0u64;
    for k in 0..5 {
        let t = d[k] + c;
        h[k] = t & mask;
        c = t >> 26;
    }
    h[0] += c * 5;
    h[1] += h[0] >> 26;
    h[0] &= mask;
    h.map(|x| x as u32)
}

/// Helper function for fuzzing the simd128 backend against the soft backend: from `key`, the
/// steps read from `data` (each a byte then up to 63 blocks of data: whole blocks through the
/// four-block path, single blocks, or a comparison of the tags so far), then a partial block of
/// what is left, give the same tag in both.
///
/// # Panics
///
/// When the two backends' tags differ.
#[cfg(any(fuzzing, test))]
pub fn fuzz_simd128(key: &Key, data: &[u8]) {
    let mut simd = State::new(key);
    let mut soft = soft::State::new(key);
    let mut rest = data;
    while let Some((&step, tail)) = rest.split_first() {
        let len = (usize::from(step & 0x3f) * 16).min(tail.len() / 16 * 16);
        let (chunk, tail) = tail.split_at(len);
        rest = tail;
        let (blocks, _) = Block::slice_as_chunks(chunk);
        match step >> 6 {
            0 => {
                simd.update(blocks);
                soft.update_with_backend(Blocks(blocks));
            }
            1 => {
                simd.update_with_backend(Blocks(blocks));
                soft.update_with_backend(Blocks(blocks));
            }
            2 => {
                for block in blocks {
                    simd.compute_block(block, false);
                    soft.compute_block(block, false);
                }
            }
            _ => {
                simd.update(blocks);
                soft.update_with_backend(Blocks(blocks));
                assert_eq!(simd.clone().finalize(), soft.clone().finalize());
            }
        }
        if step == 0 {
            // A zero step consumes nothing: the rest is the final partial block.
            break;
        }
    }
    let tail = &rest[..rest.len().min(15)];
    if !tail.is_empty() {
        let mut block = Block::default();
        block[..tail.len()].copy_from_slice(tail);
        block[tail.len()] = 1;
        simd.compute_block(&block, true);
        soft.compute_block(&block, true);
    }
    assert_eq!(simd.finalize(), soft.finalize());
}

/// Whole blocks handed to a backend as `universal-hash`'s `update` does: in parallel groups,
/// then one at a time.
#[cfg(any(fuzzing, test))]
struct Blocks<'a>(&'a [Block]);

#[cfg(any(fuzzing, test))]
impl BlockSizeUser for Blocks<'_> {
    type BlockSize = U16;
}

#[cfg(any(fuzzing, test))]
impl UhfClosure for Blocks<'_> {
    fn call<B: UhfBackend<BlockSize = U16>>(self, backend: &mut B) {
        let (groups, rest) = Array::slice_as_chunks(self.0);
        for group in groups {
            backend.proc_par_blocks(group);
        }
        for block in rest {
            backend.proc_block(block);
        }
    }
}
