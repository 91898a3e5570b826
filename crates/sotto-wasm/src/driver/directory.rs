//! The relay directory (`/directory.json`): each relay's id, Sphinx key and WebSocket URL, in
//! a document signed by directory authorities. A directory is used only once it verified
//! against the authority keys the embedder gave (`directoryKeys`, `directoryThreshold`) in
//! network time; the last one that did is kept in a saved profile's store, so the profile can
//! open without a network ([`store_directory`], [`verify_kept`]).

use js_sys::{Array, Promise};
use sotto_proto::directory::RelayDescriptor;
use sotto_proto::directory::{DirectoryError, DirectoryTrust, SignedDirectory};
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::error::{ErrorCode, sotto_error};
use crate::js::{delay, now, scope};
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

/// A directory that verified: its relays, its text (what a saved profile keeps,
/// [`store_directory`]) and its `valid_after` (Unix seconds: directories are only taken in
/// the order the authorities signed them, [`newest`]).
#[derive(Debug, Clone)]
pub struct Verified {
    pub relays: Vec<RelayDescriptor>,
    pub text: String,
    pub valid_after: u64,
}

/// Fetches the directory at `url` (within [`DIRECTORY_WAIT_MS`]) and verifies it (see
/// [`read_directory`]).
pub async fn fetch_directory(
    url: &str,
    trust: &DirectoryTrust,
    clock_offset: i64,
) -> Result<Verified, JsValue> {
    read_directory(bounded(scope()?.fetch(url)), trust, clock_offset).await
}

/// The largest directory document read (bytes); a larger one is refused unparsed.
pub const MAX_DIRECTORY_BYTES: usize = 1 << 20;

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
    // The body too within the wait: a host that sends headers and then trickles must not
    // keep `open` from settling.
    let text = JsFuture::from(bounded(
        resp.text()
            .map_err(|_| unreachable("cannot read the relay directory"))?,
    ))
    .await
    .map_err(|_| unreachable("cannot read the relay directory"))?
    .as_string()
    .ok_or_else(|| unreachable("the relay directory did not arrive in time"))?;
    if text.len() > MAX_DIRECTORY_BYTES {
        return Err(invalid(&DirectoryError::BadField { field: "size" }));
    }
    let now = now().saturating_add_signed(clock_offset);
    let doc = SignedDirectory::parse(&text).map_err(|e| invalid(&e))?;
    let relays = verify_document(&doc, trust, now).map_err(|e| invalid(&e))?;
    Ok(Verified {
        relays,
        valid_after: doc.valid_after,
        text,
    })
}

/// `fresh`, unless `kept` (a directory this profile already took) was signed after it:
/// then `kept`. A directory's host can serve any document the authorities ever signed that
/// is still (or, within [`EXPIRED_GRACE_SECS`], lately) valid; taking them only in the order
/// they were signed means it cannot move a profile back to older relay keys or relays.
pub fn newest(fresh: Verified, kept: Option<Verified>) -> Verified {
    match kept {
        Some(kept) if kept.valid_after > fresh.valid_after => kept,
        _ => fresh,
    }
}

/// How long after its `valid_until` (seconds) a directory is still read, as of its last valid
/// second: Tor's "reasonably live" consensus (24 h). A new profile has no clock offset yet,
/// so a device clock hours fast sees a fresh directory (the dev network's lives 3 h) as
/// expired; this keeps such a device working (the relays then tell it the offset). The
/// price: a directory replayed by whoever serves it is accepted up to this long past its
/// expiry (still signed by the authorities, every relay's descriptor too).
pub const EXPIRED_GRACE_SECS: u64 = 24 * 3600;

/// Verifies a parsed signed directory document at `now` (network time, Unix seconds).
/// A document that is not valid yet is read as of its `valid_after`: authorities never sign
/// ahead, so it only says that this device's clock is slow (which the relays then correct:
/// a page days behind must still open). One that expired less than [`EXPIRED_GRACE_SECS`]
/// ago is read as of its last valid second (a fast clock); one expired longer ago may be a
/// replay and is refused.
///
/// # Errors
/// The [`DirectoryError`] that refuses it.
pub fn verify_document(
    doc: &SignedDirectory,
    trust: &DirectoryTrust,
    now: u64,
) -> Result<Vec<RelayDescriptor>, DirectoryError> {
    match doc.verify(trust, now) {
        Err(DirectoryError::NotYetValid { valid_after, .. }) => {
            Ok(doc.verify(trust, valid_after)?.relays)
        }
        Err(DirectoryError::Expired { valid_until, now })
            if now.saturating_sub(valid_until) < EXPIRED_GRACE_SECS =>
        {
            // Its last valid second; an empty validity (`valid_until <= valid_after`) stays
            // refused (`NotYetValid` there).
            Ok(doc.verify(trust, valid_until.saturating_sub(1))?.relays)
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
/// [`verify_kept`].
pub async fn store_directory(store: &Store, text: &str) -> Result<(), JsValue> {
    let record = store.record(kind::DIRECTORY, DIRECTORY_KEY, text.as_bytes(), None);
    store.write(vec![record]).await
}

/// The text of the last directory kept with [`store_directory`] (as opening a profile reads
/// it: `crate::history::idb::Restored`), verified again against `trust`: the authorities'
/// signatures and every relay's own, at the document's own `valid_after` (it was inside its
/// validity when it was kept; one that has expired since still says where the relays were,
/// for opening offline, and the caller reads a fresh one when it can). `None` when it no
/// longer verifies (other keys given this time, or an unsigned directory kept by an older
/// version).
pub fn verify_kept(text: String, trust: &DirectoryTrust) -> Option<Verified> {
    let doc = SignedDirectory::parse(&text).ok()?;
    let relays = doc.verify(trust, doc.valid_after).ok()?.relays;
    Some(Verified {
        relays,
        valid_after: doc.valid_after,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify(
        text: &str,
        trust: &DirectoryTrust,
        now: u64,
    ) -> Result<Vec<RelayDescriptor>, DirectoryError> {
        verify_document(&SignedDirectory::parse(text)?, trust, now)
    }

    use sotto_proto::directory::SignedDescriptor;
    use sotto_proto::ids::RelayId;
    use sotto_proto::keys::{AuthKeyPair, PublicKey};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn authority() -> AuthKeyPair {
        AuthKeyPair::from_persisted_bytes([1; 32])
    }

    /// One relay, valid [10_000, 20_000), signed by [`authority`].
    fn doc() -> String {
        let relay = RelayDescriptor {
            id: RelayId::from_bytes([2; 32]),
            url: "ws://127.0.0.1:9101".into(),
            sphinx_key: PublicKey::from_bytes([3; 32]),
            key_epoch: 1,
            key_rotates_at: None,
            previous_key: None,
            pow_bits: None,
        };
        let signed = SignedDescriptor::sign(relay, &AuthKeyPair::from_persisted_bytes([4; 32]), 9);
        let mut d = SignedDirectory::new(vec![signed], 10_000, 20_000);
        d.sign(&authority());
        d.to_json()
    }

    fn trust() -> DirectoryTrust {
        DirectoryTrust::new(vec![authority().public_key()], 1).unwrap()
    }

    /// A document over [`MAX_DIRECTORY_BYTES`] is refused unparsed; a body that never ends
    /// (headers, then nothing) gives `RELAY_UNREACHABLE` after [`DIRECTORY_WAIT_MS`], so
    /// `open` settles.
    #[cfg(target_arch = "wasm32")]
    #[wasm_bindgen_test::wasm_bindgen_test]
    async fn a_directory_too_large_or_never_ending_settles_with_its_code() {
        use crate::error::code_of;
        let big = "x".repeat(MAX_DIRECTORY_BYTES + 1);
        let resp: JsValue = web_sys::Response::new_with_opt_str(Some(&big))
            .unwrap()
            .into();
        let code = |e: Result<_, JsValue>| code_of(&e.err().unwrap());
        let trust = trust();
        let read = |response: &JsValue| read_directory(Promise::resolve(response), &trust, 15_000);
        assert_eq!(code(read(&resp).await), "DIRECTORY_INVALID");
        let endless = js_sys::Function::new_no_args(
            "return new Response(new ReadableStream({ start() {} }))",
        )
        .call0(&JsValue::NULL)
        .unwrap();
        assert_eq!(code(read(&endless).await), "RELAY_UNREACHABLE");
    }

    #[test]
    fn a_slow_or_somewhat_fast_clock_reads_a_valid_directory() {
        for now in [
            0,
            9_999,
            10_000,
            19_999,
            20_000,
            20_000 + EXPIRED_GRACE_SECS - 1,
        ] {
            assert_eq!(verify(&doc(), &trust(), now).unwrap().len(), 1, "at {now}");
        }
    }

    #[test]
    fn a_directory_expired_past_the_grace_is_refused() {
        let late = 20_000 + EXPIRED_GRACE_SECS;
        assert!(matches!(
            verify(&doc(), &trust(), late),
            Err(DirectoryError::Expired {
                valid_until: 20_000,
                ..
            })
        ));
    }

    #[test]
    fn the_grace_does_not_excuse_a_bad_signature() {
        let other = DirectoryTrust::new(
            vec![AuthKeyPair::from_persisted_bytes([9; 32]).public_key()],
            1,
        )
        .unwrap();
        assert!(matches!(
            verify(&doc(), &other, 20_500),
            Err(DirectoryError::TooFewSignatures {
                valid: 0,
                needed: 1
            })
        ));
    }

    /// A host that serves an older signed directory after a newer one (both still valid)
    /// cannot move the profile back: the newer one is kept; a newer one is taken. Review
    /// finding (no monotonic check). `take_directory` applies the same rule while open.
    #[test]
    fn an_older_directory_never_replaces_a_newer_one() {
        let at = |valid_after: u64, tag: &str| Verified {
            relays: Vec::new(),
            text: tag.into(),
            valid_after,
        };
        assert_eq!(newest(at(100, "old"), Some(at(200, "kept"))).text, "kept");
        assert_eq!(newest(at(300, "new"), Some(at(200, "kept"))).text, "new");
        assert_eq!(newest(at(200, "same"), Some(at(200, "kept"))).text, "same");
        assert_eq!(newest(at(100, "first"), None).text, "first");
    }
}
