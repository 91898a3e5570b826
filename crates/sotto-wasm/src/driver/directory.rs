//! The relay directory (`/directory.json`): each relay's id, Sphinx key and WebSocket URL.

use js_sys::Promise;
use sotto_proto::directory::{Directory, DirectoryError, RelayDescriptor, Unusable};
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::error::{ErrorCode, sotto_error};
use crate::js::window;

/// The longest time, in seconds, between reads of the relay directory. Relays rotate their
/// Sphinx keys every epoch (24 h by default) and accept the previous key for an overlap (at
/// least `sotto_proto::directory::KEY_REREAD_MARGIN_SECS`): the driver reads the directory
/// again just after the earliest rotation it announces (`reread_at`), so a long-open page's
/// routes stay valid however short the epochs are.
pub const DIRECTORY_REFRESH_SECS: u64 = 3600;

/// The soonest the directory is read again when it could not be fetched, or when requests
/// keep going unanswered (two resent since the last read), in seconds.
pub const STUCK_REREAD_SECS: u64 = 15;

/// Fetches and reads the directory at `url`.
pub async fn fetch_directory(url: &str) -> Result<Vec<RelayDescriptor>, JsValue> {
    read_directory(window()?.fetch_with_str(url)).await
}

/// The relays of a directory fetch already under way, read with [`Directory::parse`]
/// (entries that do not parse are skipped): `RELAY_UNREACHABLE` when the fetch fails, the
/// answer is not a directory, or it lists no usable relay.
pub async fn read_directory(fetch: Promise) -> Result<Vec<RelayDescriptor>, JsValue> {
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
    match Directory::parse(&text, Unusable::Skip) {
        Ok(dir) => Ok(dir.relays),
        Err(DirectoryError::NotJson { .. }) => Err(unreachable("the relay directory is not JSON")),
        Err(DirectoryError::NoRelayList) => Err(unreachable("the relay directory lists no relays")),
        Err(DirectoryError::NoUsableRelay) => {
            Err(unreachable("the relay directory lists no usable relay"))
        }
        Err(e) => Err(unreachable(&format!("the relay directory: {e}"))),
    }
}
