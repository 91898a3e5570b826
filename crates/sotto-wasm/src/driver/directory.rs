//! The relay directory (`/directory.json`): each relay's id, Sphinx key and WebSocket URL.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use js_sys::{Array, Promise};
use sotto_proto::ids::RelayId;
use sotto_proto::keys::PublicKey;
use sotto_proto::onion::Hop;
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::error::{ErrorCode, sotto_error};
use crate::js::{get, get_string, window};

/// Seconds between reads of the relay directory. Relays rotate their Sphinx keys every epoch
/// (24 h by default) and accept the previous key for an overlap (2 h): reading the directory
/// hourly keeps a long-open page's routes valid.
pub const DIRECTORY_REFRESH_SECS: u64 = 3600;

/// One relay of the directory.
pub struct DirectoryRelay {
    /// Its id and current Sphinx key.
    pub hop: Hop,
    /// Its WebSocket URL.
    pub url: String,
}

fn decode32(s: &str) -> Option<[u8; 32]> {
    let bytes = URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()?;
    bytes.try_into().ok()
}

/// Fetches and reads the directory at `url`.
pub async fn fetch_directory(url: &str) -> Result<Vec<DirectoryRelay>, JsValue> {
    read_directory(window()?.fetch_with_str(url)).await
}

/// The relays of a directory fetch already under way: `RELAY_UNREACHABLE` when it fails or
/// lists no usable relay (entries that do not parse are skipped).
pub async fn read_directory(fetch: Promise) -> Result<Vec<DirectoryRelay>, JsValue> {
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
    let json = JsFuture::from(
        resp.json()
            .map_err(|_| unreachable("the relay directory is not JSON"))?,
    )
    .await
    .map_err(|_| unreachable("the relay directory is not JSON"))?;
    let relays = get(&json, "relays");
    let relays: Array = relays
        .dyn_into()
        .map_err(|_| unreachable("the relay directory lists no relays"))?;
    let mut out = Vec::new();
    for r in relays.iter() {
        let (Some(id), Some(url), Some(key)) = (
            get_string(&r, "id").as_deref().and_then(decode32),
            get_string(&r, "url"),
            get_string(&r, "sphinx_key").as_deref().and_then(decode32),
        ) else {
            continue;
        };
        out.push(DirectoryRelay {
            hop: Hop {
                id: RelayId::from_bytes(id),
                key: PublicKey::from_bytes(key),
            },
            url,
        });
    }
    if out.is_empty() {
        return Err(unreachable("the relay directory lists no usable relay"));
    }
    Ok(out)
}
