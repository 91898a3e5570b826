//! The inner driver of one open profile, which `Sotto` wraps: it drives
//! `sotto_proto::client::Client` with one WebSocket to a gateway relay, a one-second timer,
//! and a pump that writes what must be kept, then sends the client's frames, then hands its
//! events to JS.
//!
//! Files, each depending only on those after it: `open` (opening a profile) → `machine`
//! ([`Driver`]: the operations) → `link` (the connection's life) → `pump` (the loop) →
//! `snapshot` (the relay snapshot: uploads, and the answers a restore from the words waits
//! for) → `events` (client events → JS) → `state` (what is held) → `transport` (the
//! WebSocket) and `lock` (the profile's Web Lock);
//! `directory` (the relay list, and the last one kept with a saved profile) is used by
//! `open` and `link`. The history is [`crate::history`].
//!
//! A saved profile opens without a network (`open`): from its store, with the directory it
//! kept (or none), offline; `link` then tries to reach the network with back-off.

mod directory;
mod events;
mod link;
mod lock;
mod machine;
mod open;
mod pump;
mod snapshot;
mod state;
mod transport;

pub use events::message_js;
pub use machine::{Driver, OutgoingFile};
pub use open::{OpenOptions, Storage, open};
pub use snapshot::{DEFAULT_DEBOUNCE_MS, Fetched};
