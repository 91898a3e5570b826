//! The relay directory (`/directory.json`): each relay's id, Sphinx key and WebSocket URL, in
//! a document signed by directory authorities. A directory is used only once it verified
//! against the authority keys the embedder gave (`directoryKeys`, `directoryThreshold`) in
//! network time; the last one that did is kept in a saved profile's store, so the profile can
//! open without a network ([`store_directory`], [`stored_directory`]).

use js_sys::{Array, Promise};
use sotto_proto::directory::RelayDescriptor;
use sotto_proto::directory::{Directory, DirectoryError, DirectoryTrust, SignedDirectory};
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::error::{ErrorCode, sotto_error};
use crate::js::{delay, now, window};
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

/// A directory that verified: its relays, and its text (what a saved profile keeps,
/// [`store_directory`]).
#[derive(Debug, Clone)]
pub struct Verified {
    pub relays: Vec<RelayDescriptor>,
    pub text: String,
}

/// Fetches the directory at `url` (within [`DIRECTORY_WAIT_MS`]) and verifies it (see
/// [`read_directory`]).
pub async fn fetch_directory(
    url: &str,
    trust: &DirectoryTrust,
    clock_offset: i64,
) -> Result<Verified, JsValue> {
    read_directory(bounded(window()?.fetch_with_str(url)), trust, clock_offset).await
}

/// `fetch` raced against [`DIRECTORY_WAIT_MS`]: past it, it resolves to `undefined` (which
/// [`read_directory`] reads as unreachable).
pub fn bounded(fetch: Promise) -> Promise {
    Promise::race(&Array::of2(&fetch, &delay(DIRECTORY_WAIT_MS)))
}

/// Reads a directory fetch already under way and verifies it against `trust` at the device's
/// time plus `clock_offset` (seconds): `RELAY_UNREACHABLE` when the fetch fails or answers
/// with an error, `DIRECTORY_INVALID` (with the reason) when the document is refused.
pub async fn read_directory(
    fetch: Promise,
    trust: &DirectoryTrust,
    clock_offset: i64,
) -> Result<Verified, JsValue> {
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
    let now = now().saturating_add_signed(clock_offset);
    let relays = verify(&text, trust, now).map_err(|e| invalid(&e))?;
    Ok(Verified { relays, text })
}

/// Parses and verifies a signed directory document at `now` (network time, Unix seconds).
/// A document that is not valid yet is read as of its `valid_after`: authorities never sign
/// ahead, so it only says that this device's clock is slow (which the relays then correct:
/// a page days behind must still open), whereas an expired one may be a replay and is
/// refused.
///
/// # Errors
/// The [`DirectoryError`] that refuses it.
pub fn verify(
    text: &str,
    trust: &DirectoryTrust,
    now: u64,
) -> Result<Vec<RelayDescriptor>, DirectoryError> {
    let doc = SignedDirectory::parse(text)?;
    match doc.verify(trust, now) {
        Err(DirectoryError::NotYetValid { valid_after, .. }) => {
            Ok(doc.verify(trust, valid_after)?.relays)
        }
        other => Ok(other?.relays),
    }
}

/// The `DIRECTORY_INVALID` error for a refused directory, saying why.
pub fn invalid(e: &DirectoryError) -> JsValue {
    sotto_error(
        ErrorCode::DirectoryInvalid,
        &format!("the relay directory was refused: {e}"),
    )
}

/// Keeps `text`, a signed directory document that verified, as the profile's last directory
/// (a sealed `directory` record, one per profile; the next one replaces it), for
/// [`stored_directory`].
pub async fn store_directory(store: &Store, text: &str) -> Result<(), JsValue> {
    let record = store.record(kind::DIRECTORY, DIRECTORY_KEY, text.as_bytes(), None);
    store.write(vec![record]).await
}

/// The last directory kept with [`store_directory`], verified again against `trust`: the
/// authorities' signatures and every relay's own, at the document's own `valid_after` (it
/// was inside its validity when it was kept; one that has expired since still says where
/// the relays were, for opening offline, and the caller reads a fresh one when it can).
/// `None` when nothing is kept (a profile saved before it was kept), the store cannot be
/// read, or it no longer verifies (other keys given this time, or an unsigned directory kept
/// by an older version).
pub async fn stored_directory(store: &Store, trust: &DirectoryTrust) -> Option<Directory> {
    let bytes = store.read(kind::DIRECTORY, DIRECTORY_KEY).await.ok()??;
    let text = std::str::from_utf8(&bytes).ok()?;
    let doc = SignedDirectory::parse(text).ok()?;
    doc.verify(trust, doc.valid_after).ok()
}
