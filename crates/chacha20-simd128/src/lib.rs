//! ChaCha20 ([RFC 8439]: 256-bit key, 96-bit nonce, 32-bit block counter) with a WebAssembly
//! `simd128` backend, behind the RustCrypto [`cipher`] traits as the [`chacha20`] crate's own
//! `ChaCha20` is (`KeyIvInit`, `StreamCipher`, `StreamCipherSeek`, over the same
//! [`cipher::StreamCipherCoreWrapper`] and a `StreamCipherCore` + `StreamCipherSeekCore`), so
//! that `chacha20poly1305::ChaChaPoly1305<chacha20_simd128::ChaCha20>` is ChaCha20-Poly1305.
//!
//! Why: `chacha20` 0.10 has SSE2, AVX2, AVX-512 and NEON backends but none for wasm32, where
//! its portable backend computes one block at a time. On `wasm32` with
//! `target_feature = "simd128"` this crate's [`ChaCha20Core`] computes eight blocks at once,
//! two interleaved groups of four with one block per `v128` lane (`i32x4.add`, `v128.xor`, `i8x16.shuffle` for the 16- and 8-bit
//! rotations, shifts for the 12- and 7-bit ones), and hands single blocks to `chacha20`.
//!
//! - [`ChaCha20`]: the cipher to use. On wasm32 + simd128 it is [`ChaCha20Simd`]; elsewhere it
//!   is `chacha20::ChaCha20` itself (which has SIMD backends there).
//! - [`ChaCha20Simd`] / [`ChaCha20Core`]: the eight-block backend on every target. Off wasm its
//!   lanes are plain `[u32; 4]` arrays, so its counter, seek and tail logic is tested and
//!   fuzzed natively against `chacha20`; the wasm32 tests run the `v128` lanes in a browser.
//!
//! The output is byte-identical to `chacha20::ChaCha20` for every key, nonce, position and
//! length (tests: RFC 8439 §2.3.2, §2.4.2, A.1, A.2; property tests against `chacha20`; the
//! cargo-fuzz target `fuzz/fuzz_targets/chacha20_simd128.rs`). Key, state and buffered
//! keystream are zeroized on drop; `Debug` prints none of them.
//!
//! **Upstreaming.** The crate is shaped to become a `simd128` backend of RustCrypto's
//! `chacha20` (`src/backends/simd128.rs` beside `sse2.rs`): the lane type maps onto
//! `core::arch::wasm32`, the backend implements `StreamCipherBackend` with
//! `ParBlocksSize = U8` like the AVX2 one, and the core's seek and `remaining_blocks` follow
//! `chacha20`'s `Ietf` variant. Upstream, `gen_ks_block` would call the crate's own soft block
//! function instead of a second `chacha20` core, and `ChaCha20` would stay a type alias (see
//! [`ChaCha20Simd`] for why it is a newtype here).
//!
//! ```
//! use chacha20_simd128::ChaCha20;
//! use chacha20_simd128::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
//!
//! let mut cipher = ChaCha20::new(&[0x42; 32].into(), &[0x24; 12].into());
//! let mut data = *b"attack at dawn";
//! cipher.apply_keystream(&mut data);
//! cipher.seek(0u32);
//! cipher.apply_keystream(&mut data);
//! assert_eq!(&data, b"attack at dawn");
//! ```
//!
//! [RFC 8439]: https://www.rfc-editor.org/rfc/rfc8439

#![no_std]
#![deny(missing_docs)]

mod backend;
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[path = "lanes_portable.rs"]
mod lanes;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[path = "lanes_simd128.rs"]
mod lanes;

pub use cipher;

use cipher::consts::{U12, U32, U64};
use cipher::inout::InOutBuf;
use cipher::{
    BlockSizeUser, IvSizeUser, KeyIvInit, KeySizeUser, OverflowError, SeekNum, StreamCipher,
    StreamCipherClosure, StreamCipherCore, StreamCipherCoreWrapper, StreamCipherError,
    StreamCipherSeek, StreamCipherSeekCore,
};
use zeroize::Zeroize;

/// A ChaCha20 key: 32 bytes.
pub type Key = cipher::Key<ChaCha20Core>;

/// A ChaCha20 (RFC 8439) nonce: 12 bytes.
pub type Nonce = cipher::Iv<ChaCha20Core>;

/// The ChaCha20 stream cipher (RFC 8439) with the eight-block backend, on every target:
/// [`StreamCipherCoreWrapper`]`<`[`ChaCha20Core`]`>` (as `chacha20::ChaCha20` is
/// `StreamCipherCoreWrapper<ChaChaCore<..>>`), in a newtype whose bulk functions
/// (`unchecked_apply_keystream_inout`, `unchecked_write_keystream`) are compiled in this crate.
///
/// Why a newtype and not a type alias: `cipher`'s generic wrapper code is instantiated in the
/// crate that names the cipher. A crate built for size (Sotto's wasm: `opt-level = "s"` with
/// the crypto crates at 3) would then build the XOR and block loops around the backend without
/// unrolling or vectorising them; measured in the browser, that glue took 19 % of a 64 KiB
/// ChaCha20-Poly1305 seal, more than two thirds of the four-block function itself.
pub struct ChaCha20Simd(StreamCipherCoreWrapper<ChaCha20Core>);

impl KeySizeUser for ChaCha20Simd {
    type KeySize = <ChaCha20Core as KeySizeUser>::KeySize;
}

impl IvSizeUser for ChaCha20Simd {
    type IvSize = <ChaCha20Core as IvSizeUser>::IvSize;
}

impl KeyIvInit for ChaCha20Simd {
    #[inline]
    fn new(key: &Key, iv: &Nonce) -> Self {
        Self(StreamCipherCoreWrapper::new(key, iv))
    }
}

impl StreamCipher for ChaCha20Simd {
    #[inline]
    fn check_remaining(&self, data_len: usize) -> Result<(), StreamCipherError> {
        self.0.check_remaining(data_len)
    }

    #[inline(never)]
    fn unchecked_apply_keystream_inout(&mut self, buf: InOutBuf<'_, '_, u8>) {
        self.0.unchecked_apply_keystream_inout(buf);
    }

    #[inline(never)]
    fn unchecked_write_keystream(&mut self, buf: &mut [u8]) {
        self.0.unchecked_write_keystream(buf);
    }
}

impl StreamCipherSeek for ChaCha20Simd {
    #[inline]
    fn try_current_pos<T: SeekNum>(&self) -> Result<T, OverflowError> {
        self.0.try_current_pos()
    }

    #[inline]
    fn try_seek<T: SeekNum>(&mut self, pos: T) -> Result<(), StreamCipherError> {
        self.0.try_seek(pos)
    }
}

impl core::fmt::Debug for ChaCha20Simd {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ChaCha20Simd { .. }")
    }
}

/// The ChaCha20 stream cipher (RFC 8439): [`ChaCha20Simd`] on wasm32 with simd128.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub type ChaCha20 = ChaCha20Simd;

/// The ChaCha20 stream cipher (RFC 8439): the `chacha20` crate's own off wasm32 + simd128.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub type ChaCha20 = chacha20::ChaCha20;

/// "expand 32-byte k" (RFC 8439 §2.3).
const CONSTANTS: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// The ChaCha20 block-level core: the 16-word state of RFC 8439 §2.3 (constants, key, block
/// counter in word 12, nonce) and a `chacha20` core on the same key and nonce for single
/// blocks. Zeroized on drop; its `Debug` prints no state.
pub struct ChaCha20Core {
    state: [u32; 16],
    portable: UpstreamCore,
}

/// The `chacha20` crate's IETF ChaCha20 core (20 rounds, 32-bit counter).
type UpstreamCore = chacha20::ChaChaCore<chacha20::R20, chacha20::variants::Ietf>;

impl KeySizeUser for ChaCha20Core {
    type KeySize = U32;
}

impl IvSizeUser for ChaCha20Core {
    type IvSize = U12;
}

impl BlockSizeUser for ChaCha20Core {
    type BlockSize = U64;
}

impl KeyIvInit for ChaCha20Core {
    #[inline]
    fn new(key: &Key, iv: &Nonce) -> Self {
        let mut state = [0u32; 16];
        state[..4].copy_from_slice(&CONSTANTS);
        for (dst, src) in state[4..12].iter_mut().zip(key.as_chunks::<4>().0) {
            *dst = u32::from_le_bytes(*src);
        }
        for (dst, src) in state[13..].iter_mut().zip(iv.as_chunks::<4>().0) {
            *dst = u32::from_le_bytes(*src);
        }
        Self {
            state,
            portable: <UpstreamCore as KeyIvInit>::new(key, iv),
        }
    }
}

impl StreamCipherCore for ChaCha20Core {
    /// Blocks left before the 32-bit counter wraps (as `chacha20`'s IETF variant counts them).
    #[inline(always)]
    fn remaining_blocks(&self) -> Option<usize> {
        usize::try_from(u32::MAX - self.state[12]).ok()
    }

    #[inline]
    fn process_with_backend(&mut self, f: impl StreamCipherClosure<BlockSize = Self::BlockSize>) {
        f.call(&mut backend::Backend(self));
    }
}

impl StreamCipherSeekCore for ChaCha20Core {
    type Counter = u32;

    #[inline(always)]
    fn get_block_pos(&self) -> u32 {
        self.state[12]
    }

    #[inline(always)]
    fn set_block_pos(&mut self, pos: u32) {
        self.state[12] = pos;
    }
}

impl core::fmt::Debug for ChaCha20Core {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ChaCha20Core { .. }")
    }
}

impl Drop for ChaCha20Core {
    fn drop(&mut self) {
        self.state.zeroize();
    }
}
