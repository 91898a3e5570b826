//! The eight-block backend: eight consecutive ChaCha20 blocks computed at once, as two groups
//! of four with their instructions interleaved (one block per lane: lane `j` of vector `i` of
//! group `g` is state word `i` of block `counter + 4g + j`), so the column and diagonal rounds
//! need no shuffles between them and two independent dependency chains are in flight; the 4×4
//! transposes happen once, at the end. Two to four blocks (a tail) take the four-block
//! function; single blocks (the first block of an AEAD, a one-block tail) go to the `chacha20`
//! crate.

#![forbid(unsafe_code)]

use cipher::consts::{U8, U64};
use cipher::{
    Block, BlockSizeUser, ParBlocks, ParBlocksSizeUser, StreamCipherBackend, StreamCipherCore,
};

use crate::ChaCha20Core;
use crate::lanes::{Lanes, store_transposed};

/// Blocks per group: one per lane of a [`Lanes`].
const GROUP: usize = 4;

/// RFC 8439 §2.3: 20 rounds, as 10 double rounds (column round then diagonal round).
const DOUBLE_ROUNDS: usize = 10;

/// The backend handed to `cipher`'s closures; it advances the core's block counter.
pub(crate) struct Backend<'a>(pub(crate) &'a mut ChaCha20Core);

impl BlockSizeUser for Backend<'_> {
    type BlockSize = U64;
}

impl ParBlocksSizeUser for Backend<'_> {
    type ParBlocksSize = U8;
}

impl StreamCipherBackend for Backend<'_> {
    #[inline(always)]
    fn gen_ks_block(&mut self, block: &mut Block<Self>) {
        let core = &mut *self.0;
        core.portable.set_block_pos(core.state[12]);
        core.portable.write_keystream_block(block);
        core.state[12] = core.state[12].wrapping_add(1);
    }

    #[inline(always)]
    fn gen_par_ks_blocks(&mut self, blocks: &mut ParBlocks<Self>) {
        let blocks: &mut [Block<Self>; 8] = blocks.as_mut();
        eight_blocks(&self.0.state, blocks.each_mut().map(|b| b.as_mut()));
        self.0.state[12] = self.0.state[12].wrapping_add(8);
    }

    #[inline(always)]
    fn gen_tail_blocks(&mut self, blocks: &mut [Block<Self>]) {
        match blocks {
            [] => {}
            [block] => self.gen_ks_block(block),
            _ => {
                // Two to seven blocks: one call of the four- or eight-block function beats as
                // many single blocks.
                let mut out = [[0u8; 64]; 8];
                let [a, b, c, d, e, f, g, h] = out.each_mut();
                if blocks.len() <= GROUP {
                    four_blocks(&self.0.state, [a, b, c, d]);
                } else {
                    eight_blocks(&self.0.state, [a, b, c, d, e, f, g, h]);
                }
                for (dst, src) in blocks.iter_mut().zip(&out) {
                    dst.copy_from_slice(src);
                }
                zeroize::Zeroize::zeroize(&mut out);
                // At most 7 blocks here (`cipher` passes fewer than `ParBlocksSize`).
                let n = u32::try_from(blocks.len()).unwrap_or(0);
                self.0.state[12] = self.0.state[12].wrapping_add(n);
            }
        }
    }
}

/// RFC 8439 §2.1's quarter round on `G` groups of four blocks, each step taken in every group
/// before the next step (independent instructions side by side).
#[inline(always)]
fn quarter_round<const G: usize>(x: &mut [[Lanes; 16]; G], a: usize, b: usize, c: usize, d: usize) {
    x.iter_mut().for_each(|x| x[a] = x[a].add(x[b]));
    x.iter_mut().for_each(|x| x[d] = x[d].xor(x[a]).rotl16());
    x.iter_mut().for_each(|x| x[c] = x[c].add(x[d]));
    x.iter_mut().for_each(|x| x[b] = x[b].xor(x[c]).rotl12());
    x.iter_mut().for_each(|x| x[a] = x[a].add(x[b]));
    x.iter_mut().for_each(|x| x[d] = x[d].xor(x[a]).rotl8());
    x.iter_mut().for_each(|x| x[c] = x[c].add(x[d]));
    x.iter_mut().for_each(|x| x[b] = x[b].xor(x[c]).rotl7());
}

/// RFC 8439 §2.3's block function for blocks `state[12]`, `state[12] + 1`, …, `+ 3`
/// (the 32-bit counter wraps, as the `chacha20` crate's does), serialised little-endian
/// into `out[0..4]`. `state` is not changed.
///
/// Never inlined, on purpose (as [`eight_blocks`]): the generic `cipher` code that calls it is
/// instantiated in the crate that names the cipher (for Sotto, a size-optimised one, where LLVM
/// would keep this function's loops rolled); as a non-generic function of its own it is
/// compiled with this crate's optimisation level, and one call per group costs nothing
/// measurable.
#[inline(never)]
pub(crate) fn four_blocks(state: &[u32; 16], out: [&mut [u8; 64]; 4]) {
    blocks::<1>(state, [out]);
}

/// The block function for blocks `state[12]` to `state[12] + 7` (wrapping) into `out[0..8]`:
/// two groups of four at once. Never inlined, as [`four_blocks`].
#[inline(never)]
pub(crate) fn eight_blocks(state: &[u32; 16], out: [&mut [u8; 64]; 8]) {
    let [a, b, c, d, e, f, g, h] = out;
    blocks::<2>(state, [[a, b, c, d], [e, f, g, h]]);
}

/// The block function for `G` groups of four blocks from `state[12]`: group `g`, lane `j` is
/// block `state[12] + 4g + j` (wrapping), written to `out[g][j]`.
#[inline(always)]
fn blocks<const G: usize>(state: &[u32; 16], out: [[&mut [u8; 64]; GROUP]; G]) {
    let s = state.map(Lanes::splat);
    let initial: [[Lanes; 16]; G] = core::array::from_fn(|g| {
        let mut x = s;
        // At most 4 · G - 1 < 2^32: the counter's offsets, wrapping as the counter does.
        let first = u32::try_from(GROUP * g).unwrap_or(0);
        x[12] = s[12].add(Lanes::new(first, first + 1, first + 2, first + 3));
        x
    });
    let mut x = initial;
    for _ in 0..DOUBLE_ROUNDS {
        // Column round.
        quarter_round(&mut x, 0, 4, 8, 12);
        quarter_round(&mut x, 1, 5, 9, 13);
        quarter_round(&mut x, 2, 6, 10, 14);
        quarter_round(&mut x, 3, 7, 11, 15);
        // Diagonal round.
        quarter_round(&mut x, 0, 5, 10, 15);
        quarter_round(&mut x, 1, 6, 11, 12);
        quarter_round(&mut x, 2, 7, 8, 13);
        quarter_round(&mut x, 3, 4, 9, 14);
    }
    for (x, (init, out)) in x.iter_mut().zip(initial.iter().zip(out)) {
        for (word, init) in x.iter_mut().zip(init) {
            *word = word.add(*init);
        }
        // Block j's bytes 16k..16k + 16 are words 4k..4k + 4 of lane j.
        let [b0, b1, b2, b3] = out.map(|block| block.as_chunks_mut::<16>().0);
        for (k, (((c0, c1), c2), c3)) in b0
            .iter_mut()
            .zip(b1.iter_mut())
            .zip(b2.iter_mut())
            .zip(b3.iter_mut())
            .enumerate()
        {
            let rows = [x[4 * k], x[4 * k + 1], x[4 * k + 2], x[4 * k + 3]];
            store_transposed(rows, [c0, c1, c2, c3]);
        }
    }
}
