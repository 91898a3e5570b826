//! The JS-facing API, exercised in headless Chromium.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn version_is_the_crate_version() {
    assert_eq!(sotto_wasm::version(), env!("CARGO_PKG_VERSION"));
}

#[wasm_bindgen_test]
fn packet_size_comes_from_the_core() {
    assert_eq!(sotto_wasm::packet_size(), sotto_proto::sizes::PACKET_SIZE);
}

#[wasm_bindgen_test]
fn self_test_generates_keys_with_the_browsers_rng() {
    let a = sotto_wasm::self_test().unwrap();
    let b = sotto_wasm::self_test().unwrap();
    assert_eq!(a.len(), 8);
    assert_ne!(a, b, "two key pairs from the browser's RNG must differ");
}
