//! Poly1305 backends

#[cfg(all(
    any(target_arch = "x86", target_arch = "x86_64"),
    not(poly1305_backend = "soft")
))]
pub(crate) mod avx2;

#[cfg(all(
    any(target_arch = "x86", target_arch = "x86_64"),
    not(poly1305_backend = "soft")
))]
pub(crate) mod autodetect;

pub(crate) mod soft;

#[cfg(any(
    all(
        target_arch = "wasm32",
        target_feature = "simd128",
        not(poly1305_backend = "soft")
    ),
    fuzzing,
    test
))]
pub(crate) mod simd128;
