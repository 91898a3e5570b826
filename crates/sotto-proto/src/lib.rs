//! Sotto's protocol core.
//!
//! Pure and sans-IO: nothing in this crate touches the network, the clock or the browser.
//! Time is passed in as Unix seconds and randomness as a [`rand_core::CryptoRng`], so the
//! relay (`sotto-relay`) and the browser library (`sotto-wasm`) are thin drivers around it and
//! every test can run with a fixed seed and virtual time.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod attachment;
pub mod client;
pub mod codec;
pub mod crypto;
pub mod directory;
pub mod envelope;
mod format_char;
pub mod handshake;
pub mod ids;
pub mod invitation;
pub mod keys;
pub mod mnemonic;
pub mod names;
pub mod node;
pub mod onion;
pub mod pow;
pub mod queue;
pub mod ratchet;
pub mod service;
pub mod sizes;
pub mod snapshot;
pub mod verify;

/// The protocol version this build speaks. Every versioned encoding starts with it.
pub const PROTOCOL_VERSION: u8 = 1;

/// This crate's version, as shown by the app and the relay.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
