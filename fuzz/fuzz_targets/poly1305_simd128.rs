#![no_main]
//! The vendored poly1305's simd128 backend (vendor/poly1305, four blocks at once) against its
//! soft backend: from any key (the first 32 bytes), a sequence of steps over the rest (whole
//! blocks through the four-block path, single blocks, a comparison of the tags so far) and a
//! final partial block give the same tag (`poly1305::fuzz_simd128`, built under cargo-fuzz's
//! `cfg(fuzzing)`). Natively the backend runs its portable lanes; the `v128` lanes are the same
//! algorithm (browser tests: `scripts/test-wasm.sh --manifest-path vendor/poly1305/Cargo.toml`).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((key, rest)) = data.split_first_chunk::<32>() else {
        return;
    };
    poly1305::fuzz_simd128(&(*key).into(), rest);
});
