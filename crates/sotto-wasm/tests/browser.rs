//! The JS-facing API, exercised in headless Chromium.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use wasm_bindgen::JsCast as _;
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

fn code_of(e: &wasm_bindgen::JsValue) -> (Option<String>, Option<String>) {
    let get = |k: &str| {
        js_sys::Reflect::get(e, &k.into())
            .ok()
            .and_then(|v| v.as_string())
    };
    (get("name"), get("code"))
}

#[wasm_bindgen_test]
fn errors_are_sotto_errors_with_a_code() {
    let e = sotto_wasm::sotto_error(sotto_wasm::ErrorCode::Closed, "closed");
    assert!(e.is_instance_of::<js_sys::Error>());
    assert_eq!(
        code_of(&e),
        (Some("SottoError".into()), Some("CLOSED".into()))
    );
}

#[wasm_bindgen_test]
async fn unknown_storage_is_unsupported() {
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"storage".into(), &"floppy".into()).unwrap();
    let Err(e) = sotto_wasm::Sotto::open_async(options.into()).await else {
        panic!("an unknown storage must be refused");
    };
    assert_eq!(
        code_of(&e),
        (Some("SottoError".into()), Some("UNSUPPORTED".into()))
    );
}
