//! Sotto's browser library: the JavaScript API over `sotto-proto`.
//!
//! This crate is a thin driver: it owns the browser's I/O (WebSocket, IndexedDB, timers) and
//! hands bytes and the current time to `sotto-proto`. Secrets never cross into JavaScript:
//! JS holds opaque handles, Rust holds and zeroizes the key material.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use wasm_bindgen::prelude::*;

/// The version of Sotto this package was built from.
#[wasm_bindgen]
pub fn version() -> String {
    sotto_proto::version().to_owned()
}

/// The size in bytes of every onion packet Sotto sends, on every hop.
#[wasm_bindgen(js_name = packetSize)]
pub fn packet_size() -> usize {
    sotto_proto::sizes::PACKET_SIZE
}

/// Runs when the module is instantiated: display names' grapheme clusters by the engine's
/// `Intl.Segmenter` (`graphemes`).
#[wasm_bindgen(start)]
fn start() {
    graphemes::install();
}

/// A short, log-safe fingerprint of a freshly generated key pair, drawn from the browser's
/// cryptographic RNG: proves that key generation in the core works in this browser. The
/// secret is dropped (and zeroized) before this returns; only public bytes reach JS.
#[wasm_bindgen(js_name = selfTest)]
pub fn self_test() -> Result<String, JsError> {
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let alice = sotto_proto::keys::KeyPair::generate(&mut rng);
    let bob = sotto_proto::keys::KeyPair::generate(&mut rng);
    let ab = alice.secret.diffie_hellman(&bob.public);
    let ba = bob.secret.diffie_hellman(&alice.public);
    if ab == ba && ab.is_contributory() {
        let fp: String = alice.public.as_bytes()[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(fp)
    } else {
        Err(JsError::new("key agreement self-test failed"))
    }
}

// Modules, each depending only on those listed after it: `sotto` (the JS class) and
// `settings` (more of it) → `driver` (the inner driver: open, operations, connection, pump,
// events, transport) → `history` (messages behind one trait: memory, IndexedDB) → `storage`
// (the sealed IndexedDB store) → `files` → `js` (JS helpers) → `error` (the error codes);
// `types` (the TypeScript shapes of the API) stands alone, and so does `graphemes` (display
// names' grapheme clusters by the engine, installed into sotto-proto at the start).
#[cfg(feature = "bench")]
mod bench;
mod driver;
mod error;
mod files;
#[doc(hidden)]
pub mod graphemes;
mod history;
mod js;
#[doc(hidden)]
mod restore;
pub mod settings;
mod sotto;
#[doc(hidden)]
pub mod storage;
mod types;
pub use error::{ErrorCode, SottoError, sotto_error};
pub use sotto::Sotto;
