#![no_main]
//! chacha20-simd128's eight-block backend against the `chacha20` crate: from any key, nonce and
//! starting counter (the first 48 bytes), a sequence of keystream applications of any length
//! and seeks into the middle of blocks (the rest, 3 bytes per step) gives the same bytes, the
//! same positions and the same refusals at the end of the 32-bit counter. Natively the backend
//! runs its portable lanes; the simd128 lanes are the same algorithm (browser tests:
//! crates/chacha20-simd128/tests).
use chacha20_simd128::ChaCha20Simd;
use chacha20_simd128::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((head, steps)) = data.split_first_chunk::<48>() else {
        return;
    };
    let key: [u8; 32] = head[..32].try_into().expect("32 bytes");
    let nonce: [u8; 12] = head[32..44].try_into().expect("12 bytes");
    let counter = u32::from_le_bytes(head[44..].try_into().expect("4 bytes"));
    let mut ours = ChaCha20Simd::new(&key.into(), &nonce.into());
    let mut theirs = chacha20::ChaCha20::new(&key.into(), &nonce.into());
    ours.seek(u64::from(counter) * 64);
    theirs.seek(u64::from(counter) * 64);
    for step in steps.chunks_exact(3) {
        let arg = u16::from_le_bytes([step[1], step[2]]);
        if step[0] & 1 == 0 {
            let len = usize::from(arg % 1100);
            let mut a: Vec<u8> = (0..len).map(|i| i as u8 ^ step[0]).collect();
            let mut b = a.clone();
            let ra = ours.try_apply_keystream(&mut a);
            let rb = theirs.try_apply_keystream(&mut b);
            assert_eq!(ra.is_ok(), rb.is_ok());
            assert_eq!(a, b);
        } else {
            // Near the current counter, a byte into a block.
            let block = counter.wrapping_add(u32::from(arg >> 6));
            let pos = u64::from(block) * 64 + u64::from(arg & 63);
            assert_eq!(ours.try_seek(pos).is_ok(), theirs.try_seek(pos).is_ok());
        }
        let pa: Option<u64> = ours.try_current_pos().ok();
        let pb: Option<u64> = theirs.try_current_pos().ok();
        assert_eq!(pa, pb);
    }
});
