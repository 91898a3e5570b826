//! Sotto's relay: a tokio driver around `sotto-proto`.
//!
//! * [`relay`] — one relay's WebSocket listener and connection loop, onion processing,
//!   forwarding (over relay-to-relay links, `link`) and gateway delivery of SURB replies.
//! * [`actor`] — the relay's sans-IO state machine (`sotto_proto::node`) on its own thread.
//! * [`store`] — the durable queue store (redb), with group commit.
//! * [`replay`] — the durable replay cache (redb), one table per key epoch.
//! * [`identity`] — the relay's id and Sphinx keys (rotated every key epoch), persisted in its
//!   data directory.
//! * [`web`] — the HTTP side of `dev`: the PWA, `/directory.json`, `/healthz`, `/metrics`.
//! * [`keyfile`] — Ed25519 key files: a relay's descriptor-signing key, an authority's key.
//! * [`authority`] — directory authorities: collect relays' signed descriptors, sign and
//!   serve `/directory.json` (`sotto-relay authority`, and in-process in `dev`).
//! * [`dev`] — `sotto-relay dev`, a whole network on loopback in one process.
//! * [`run`] — `sotto-relay run --config relay.toml`, one production relay.
//! * [`actor`]'s [`actor::NodeOutputs`] is how the state machine reaches the relay: `relay`
//!   uses `actor` and `link`, neither of which knows `relay`.
//!
//! `sotto-relay loadgen` runs the load generator of the `sotto-loadgen` crate.
//!
//! The wire protocol is specified in `docs/protocol/relay.md`.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod actor;
pub mod authority;
pub mod dev;
pub mod error;
pub mod identity;
pub mod keyfile;
pub mod limits;
mod link;
pub mod metrics;
pub mod relay;
pub mod replay;
pub mod run;
mod shutdown;
pub mod store;
pub mod web;

pub use error::RelayError;
