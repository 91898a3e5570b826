//! The four-block backend: four consecutive ChaCha20 blocks computed at once, one block per
//! lane (lane `j` of vector `i` is state word `i` of block `counter + j`), so the column and
//! diagonal rounds need no shuffles between them; the 4×4 transposes happen once, at the end.
//! Single blocks (the first block of an AEAD, a partial tail) go to the `chacha20` crate.

#![forbid(unsafe_code)]

use cipher::consts::{U4, U64};
use cipher::{
    Block, BlockSizeUser, ParBlocks, ParBlocksSizeUser, StreamCipherBackend, StreamCipherCore,
};

use crate::ChaCha20Core;
use crate::lanes::{Lanes, store_transposed};

/// Blocks computed per call of the four-block function.
pub(crate) const PAR_BLOCKS: u32 = 4;

/// RFC 8439 §2.3: 20 rounds, as 10 double rounds (column round then diagonal round).
const DOUBLE_ROUNDS: usize = 10;

/// The backend handed to `cipher`'s closures; it advances the core's block counter.
pub(crate) struct Backend<'a>(pub(crate) &'a mut ChaCha20Core);

impl BlockSizeUser for Backend<'_> {
    type BlockSize = U64;
}

impl ParBlocksSizeUser for Backend<'_> {
    type ParBlocksSize = U4;
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
        let blocks: &mut [Block<Self>; 4] = blocks.as_mut();
        four_blocks(&self.0.state, blocks.each_mut().map(|b| b.as_mut()));
        self.0.state[12] = self.0.state[12].wrapping_add(PAR_BLOCKS);
    }

    #[inline(always)]
    fn gen_tail_blocks(&mut self, blocks: &mut [Block<Self>]) {
        match blocks {
            [] => {}
            [block] => self.gen_ks_block(block),
            _ => {
                // Two or three blocks: one four-block call beats two or three single blocks.
                let mut out = [[0u8; 64]; 4];
                four_blocks(&self.0.state, out.each_mut());
                for (dst, src) in blocks.iter_mut().zip(&out) {
                    dst.copy_from_slice(src);
                }
                zeroize::Zeroize::zeroize(&mut out);
                // At most 3 blocks here (`cipher` passes fewer than `ParBlocksSize`).
                let n = u32::try_from(blocks.len()).unwrap_or(PAR_BLOCKS);
                self.0.state[12] = self.0.state[12].wrapping_add(n);
            }
        }
    }
}

/// RFC 8439 §2.1's quarter round on four blocks at once.
#[inline(always)]
fn quarter_round(x: &mut [Lanes; 16], a: usize, b: usize, c: usize, d: usize) {
    x[a] = x[a].add(x[b]);
    x[d] = x[d].xor(x[a]).rotl16();
    x[c] = x[c].add(x[d]);
    x[b] = x[b].xor(x[c]).rotl12();
    x[a] = x[a].add(x[b]);
    x[d] = x[d].xor(x[a]).rotl8();
    x[c] = x[c].add(x[d]);
    x[b] = x[b].xor(x[c]).rotl7();
}

/// RFC 8439 §2.3's block function for blocks `state[12]`, `state[12] + 1`, `+ 2` and `+ 3`
/// (the 32-bit counter wraps, as the `chacha20` crate's does), serialised little-endian
/// into `out[0..4]`. `state` is not changed.
///
/// Never inlined, on purpose: the generic `cipher` code that calls it is instantiated in the
/// crate that names the cipher (for Sotto, a size-optimised one, where LLVM would keep this
/// function's loops rolled); as a function of its own it is compiled with this crate's
/// optimisation level, and one call per four blocks costs nothing measurable.
#[inline(never)]
pub(crate) fn four_blocks(state: &[u32; 16], out: [&mut [u8; 64]; 4]) {
    let s = state.map(Lanes::splat);
    let counter = s[12].add(Lanes::new(0, 1, 2, 3));
    let initial = [
        s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], counter, s[13],
        s[14], s[15],
    ];
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
    for (word, init) in x.iter_mut().zip(initial) {
        *word = word.add(init);
    }
    // Block j's bytes 16g..16g + 16 are words 4g..4g + 4 of lane j.
    let [b0, b1, b2, b3] = out.map(|block| block.as_chunks_mut::<16>().0);
    for (g, (((c0, c1), c2), c3)) in b0
        .iter_mut()
        .zip(b1.iter_mut())
        .zip(b2.iter_mut())
        .zip(b3.iter_mut())
        .enumerate()
    {
        let rows = [x[4 * g], x[4 * g + 1], x[4 * g + 2], x[4 * g + 3]];
        store_transposed(rows, [c0, c1, c2, c3]);
    }
}
