//! The relay directory (`/directory.json`): each relay's id, Sphinx key and WebSocket URL;
//! read from the network, and the last one read kept with a saved profile so that it opens
//! offline ([`store_directory`], [`stored_directory`]).

use js_sys::{Array, Promise};
use sotto_proto::directory::{Directory, DirectoryError, RelayDescriptor, Unusable};
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::error::{ErrorCode, sotto_error};
use crate::js::{delay, scope};
use crate::storage::{DIRECTORY_KEY, Store, kind};

/// The longest time, in seconds, between reads of the relay directory. Relays rotate their
/// Sphinx keys every epoch (24 h by default) and accept the previous key for an overlap (at
/// least `sotto_proto::directory::KEY_REREAD_MARGIN_SECS`): the driver reads the directory
/// again just after the earliest rotation it announces (`reread_at`), so a long-open page's
/// routes stay valid however short the epochs are.
pub const DIRECTORY_REFRESH_SECS: u64 = 3600;

/// The soonest the directory is read again when it could not be fetched, or when requests
/// keep going unanswered (two resent since the last read), in seconds.
pub const STUCK_REREAD_SECS: u64 = 15;

/// How long, in milliseconds, a directory fetch may take before it counts as unreachable
/// (a network that swallows requests must not hold a saved profile's opening, nor the
/// reconnection loop).
pub const DIRECTORY_WAIT_MS: i32 = 10_000;

/// A directory read from the network and accepted (parsed, its unusable entries skipped): its
/// relays, and its text (what a saved profile keeps, [`store_directory`]).
#[derive(Debug, Clone)]
pub struct Verified {
    pub relays: Vec<RelayDescriptor>,
    pub text: String,
}

/// Fetches and reads the directory at `url` (within [`DIRECTORY_WAIT_MS`]).
pub async fn fetch_directory(url: &str) -> Result<Verified, JsValue> {
    read_directory(bounded(scope()?.fetch(url))).await
}

/// `fetch` raced against [`DIRECTORY_WAIT_MS`]: past it, it resolves to `undefined` (which
/// [`read_directory`] reads as unreachable).
pub fn bounded(fetch: Promise) -> Promise {
    Promise::race(&Array::of2(&fetch, &delay(DIRECTORY_WAIT_MS)))
}

/// The relays of a directory fetch already under way, read with [`Directory::parse`]
/// (entries that do not parse are skipped): `RELAY_UNREACHABLE` when the fetch fails, the
/// answer is not a directory, or it lists no usable relay.
pub async fn read_directory(fetch: Promise) -> Result<Verified, JsValue> {
    let unreachable = |what: &str| sotto_error(ErrorCode::RelayUnreachable, what);
    let resp = JsFuture::from(fetch)
        .await
        .map_err(|_| unreachable("cannot fetch the relay directory"))?;
    let resp: web_sys::Response = resp
        .dyn_into()
        .map_err(|_| unreachable("cannot fetch the relay directory"))?;
    if !resp.ok() {
        return Err(unreachable("the relay directory answered with an error"));
    }
    let text = JsFuture::from(
        resp.text()
            .map_err(|_| unreachable("cannot read the relay directory"))?,
    )
    .await
    .map_err(|_| unreachable("cannot read the relay directory"))?
    .as_string()
    .unwrap_or_default();
    let relays = parse_directory(&text)?.relays;
    Ok(Verified { relays, text })
}

/// The directory in `text` ([`Directory::parse`], skipping entries that do not parse):
/// `RELAY_UNREACHABLE` saying why when it is not a usable one.
fn parse_directory(text: &str) -> Result<Directory, JsValue> {
    let unreachable = |what: &str| sotto_error(ErrorCode::RelayUnreachable, what);
    match Directory::parse(text, Unusable::Skip) {
        Ok(dir) => Ok(dir),
        Err(DirectoryError::NotJson { .. }) => Err(unreachable("the relay directory is not JSON")),
        Err(DirectoryError::NoRelayList) => Err(unreachable("the relay directory lists no relays")),
        Err(DirectoryError::NoUsableRelay) => {
            Err(unreachable("the relay directory lists no usable relay"))
        }
        Err(e) => Err(unreachable(&format!("the relay directory: {e}"))),
    }
}

/// Keeps `text`, a directory just read from the network, as the profile's last directory
/// (a sealed `directory` record, one per profile; the next one replaces it).
pub async fn store_directory(store: &Store, text: &str) -> Result<(), JsValue> {
    let record = store.record(kind::DIRECTORY, DIRECTORY_KEY, text.as_bytes(), None);
    store.write(vec![record]).await
}

/// The last directory this profile read from the network ([`store_directory`]), read again
/// with [`Directory::parse`]: `None` when there is none (a profile saved before it was kept)
/// or it no longer reads as one.
pub async fn stored_directory(store: &Store) -> Option<Directory> {
    let bytes = store
        .read(kind::DIRECTORY, DIRECTORY_KEY)
        .await
        .ok()
        .flatten()?;
    let text = String::from_utf8(bytes.to_vec()).ok()?;
    parse_directory(&text).ok()
}
