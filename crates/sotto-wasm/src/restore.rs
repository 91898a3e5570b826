//! `Sotto.restore`: a profile brought back on this device from its recovery phrase and its
//! backup file (issue 16). Everything is checked before anything is written: the words
//! (`WRONG_WORDS`, naming the position of a word not in the list), the file
//! (`INVALID_BACKUP`), that the words open it (`BACKUP_MISMATCH`), the client state inside,
//! and, for `'indexeddb'`, that no profile of that name is saved (`PROFILE_EXISTS` unless
//! `replace: true`). Then the profile is written (or kept in memory) and opened as a saved
//! one. Its client is `Client::restored`: every conversation resynchronises before anything
//! is encrypted, so no message key the old device used is used again (docs/PROTOCOL.md,
//! "Restore"). Disappearing messages whose time ran out are not restored.
//!
//! Without a backup file the words alone restore the profile from its newest relay snapshot
//! (docs/PROTOCOL.md §14): a short-lived in-memory profile reads and verifies the directory,
//! connects, and searches (`sotto_proto::snapshot::Search`) within [`SEARCH_SECS`]; what it
//! finds is checked as a file's state is, and restored the same way, without messages.
//! `NO_SNAPSHOT` when none is found; nothing is written before that.

use sotto_proto::client::{Client, RekeySecret, SnapshotFetchError};
use sotto_proto::mnemonic::Mnemonic;
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use sotto_proto::snapshot::{Address, Search, Step};

use crate::driver::{self, Driver, OpenOptions, Storage};
use crate::error::{ErrorCode, sotto_error};
use crate::history::Seed;
use crate::js::{bytes_of, delay, get, get_string, now};
use crate::settings::{BackupError, open_backup};
use crate::sotto::{Sotto, open_options};

/// The phrase in `words`, or `WRONG_WORDS` saying which word is wrong by its position only:
/// a mistyped word is most likely one letter off a secret word, and error messages end up in
/// logs.
fn parse_words(words: &str) -> Result<Mnemonic, JsValue> {
    Mnemonic::parse(words).map_err(|e| sotto_error(ErrorCode::WrongWords, &e.to_string()))
}

/// The backup file's bytes: a `Uint8Array` (or `ArrayBuffer`) or a `Blob`.
async fn backup_bytes(value: &JsValue) -> Result<Zeroizing<Vec<u8>>, JsValue> {
    if let Some(bytes) = bytes_of(value) {
        return Ok(Zeroizing::new(bytes));
    }
    if let Some(blob) = value.dyn_ref::<web_sys::Blob>() {
        return Ok(Zeroizing::new(crate::files::blob_bytes(blob).await?));
    }
    Err(sotto_error(
        ErrorCode::InvalidArgument,
        "backup is the file exportBackup made, as a Uint8Array or a Blob",
    ))
}

/// Seconds within which a restore from the words alone finds its snapshot (or fails with
/// `TIMEOUT`): the search's probes ([`sotto_proto::snapshot::MAX_PROBES`] at most, each one
/// onion round trip) and the fetch of the version found. The directory read before it has
/// its own 10 s bound, and opening the restored profile another.
pub const SEARCH_SECS: u64 = 60;

/// `PROFILE_EXISTS` for a saved profile of that name, unless `replace: true`.
async fn check_free(options: &JsValue, storage: &Storage) -> Result<(), JsValue> {
    if let Storage::IndexedDb { profile, .. } = storage
        && get(options, "replace").as_bool() != Some(true)
        && crate::storage::probe(profile).await?.is_some()
    {
        return Err(sotto_error(
            ErrorCode::ProfileExists,
            &format!(
                "a profile named '{profile}' is saved here; pass replace: true to overwrite it"
            ),
        ));
    }
    Ok(())
}

/// The restored client out of a stored state (message counter ‖ client), or
/// `INVALID_BACKUP`; its queues move to keys derived from `mnemonic` (so a later restore of
/// the same words recognises them: `sotto_proto::client::RekeySecret`).
fn restored_client(
    state: &[u8],
    since: u64,
    mnemonic: &Mnemonic,
) -> Result<(Client, u64), JsValue> {
    let invalid = || sotto_error(ErrorCode::InvalidBackup, "the backup's profile is damaged");
    let seq = state
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(invalid)?;
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let rekey = RekeySecret::from_root(&mnemonic.root_secret());
    let client = Client::restored(
        &mut rng,
        state.get(8..).unwrap_or_default(),
        since,
        now(),
        rekey,
    )
    .map_err(|_| invalid())?;
    Ok((client, seq))
}

/// Waits for the answer to snapshot fetch `handle`, polling every 100 ms until `deadline`.
async fn answer(probe: &Driver, handle: u64, deadline: u64) -> Result<driver::Fetched, JsValue> {
    loop {
        if let Some(answer) = probe.take_fetched(handle) {
            return Ok(answer);
        }
        if now() >= deadline {
            return Err(sotto_error(
                ErrorCode::Timeout,
                "no relay snapshot could be read in time",
            ));
        }
        wasm_bindgen_futures::JsFuture::from(delay(100)).await?;
    }
}

/// Searches for the newest snapshot of `mnemonic`'s profile through `probe`: its state, when
/// it was written, and the slot after it.
async fn search(
    probe: &Driver,
    mnemonic: &Mnemonic,
) -> Result<(Zeroizing<Vec<u8>>, u64, (u64, u32)), JsValue> {
    let root = mnemonic.root_secret();
    let deadline = now().saturating_add(SEARCH_SECS);
    let mut search = Search::new(probe.network_now());
    let mut best = None;
    let mut damaged = false;
    while let Step::Probe { period, slot } = search.step() {
        let handle = probe.fetch_snapshot(Address::derive(&root, period, slot))?;
        match answer(probe, handle, deadline).await? {
            Ok((created_at, state)) => {
                best = Some((state, created_at, (period, slot)));
                search.record(true);
            }
            Err(SnapshotFetchError::Missing) => search.record(false),
            // Not ours, or damaged: as good as absent, but said if nothing else is found.
            Err(SnapshotFetchError::Invalid(_)) => {
                damaged = true;
                search.record(false);
            }
            Err(_) => {
                return Err(sotto_error(
                    ErrorCode::RelayUnreachable,
                    "a relay did not answer the search for the snapshot",
                ));
            }
        }
    }
    match (search.step(), best) {
        (Step::Found { period, slot }, Some((state, created_at, at))) if at == (period, slot) => {
            Ok((state, created_at, (period, slot.saturating_add(1))))
        }
        _ if damaged => Err(sotto_error(
            ErrorCode::InvalidBackup,
            "the relay snapshot these words address is damaged",
        )),
        _ => Err(sotto_error(
            ErrorCode::NoSnapshot,
            "no relay snapshot of this profile was found: check the words, or restore from \
             the backup file",
        )),
    }
}

/// A restore from the words alone (see the module's docs): the seed, with nothing written.
async fn from_words(
    options: &JsValue,
    open: &OpenOptions,
    mnemonic: Mnemonic,
) -> Result<Seed, JsValue> {
    check_free(options, &open.storage).await?;
    let probe = driver::open(OpenOptions {
        directory_url: open.directory_url.clone(),
        directory_trust: open.directory_trust.clone(),
        storage: Storage::Memory,
        display_name: Some("restore".to_owned()),
        pow_bits: open.pow_bits,
        snapshot_debounce_ms: open.snapshot_debounce_ms,
        seed: None,
    })
    .await?;
    let found = search(&probe, &mnemonic).await;
    probe.shut();
    let (state, created_at, next) = found?;
    let (client, seq) = restored_client(&state, created_at, &mnemonic)?;
    Ok(Seed {
        client,
        phrase: mnemonic.phrase(),
        seq,
        messages: Vec::new(),
        snapshot: Some(next),
        replace: get(options, "replace").as_bool() == Some(true),
    })
}

/// Everything `Sotto.restore` needs, checked, with nothing written.
async fn check(options: &JsValue, open: &OpenOptions) -> Result<Seed, JsValue> {
    let storage = &open.storage;
    let words = Zeroizing::new(get_string(options, "words").unwrap_or_default());
    let mnemonic = parse_words(&words)?;
    let backup = get(options, "backup");
    if backup.is_undefined() || backup.is_null() {
        return from_words(options, open, mnemonic).await;
    }
    let file = backup_bytes(&backup).await?;
    let key = mnemonic.root_secret().backup_key();
    let backup = open_backup(key.expose(), &file).map_err(|e| match e {
        BackupError::Invalid => sotto_error(
            ErrorCode::InvalidBackup,
            "this is not a Sotto backup, or it is damaged, cut short or of an unknown version",
        ),
        BackupError::Mismatch => sotto_error(
            ErrorCode::BackupMismatch,
            "these recovery words do not open this backup: it is another profile's",
        ),
    })?;
    let (client, seq) = restored_client(&backup.state, backup.created_at, &mnemonic)?;
    check_free(options, storage).await?;
    // A message whose time ran out is never restored.
    let at = now();
    let messages = backup
        .messages
        .into_iter()
        .filter(|m| m.expires_at.is_none_or(|t| t > at))
        .collect();
    Ok(Seed {
        client,
        phrase: mnemonic.phrase(),
        seq,
        messages,
        snapshot: None,
        replace: get(options, "replace").as_bool() == Some(true),
    })
}

#[wasm_bindgen]
impl Sotto {
    /// Restores a profile on this device from its 24 recovery words and, when given, its
    /// backup file (`exportBackup`'s `Uint8Array`, or a `Blob`/`File`). Options: `{words,
    /// backup, storage: 'memory' | 'indexeddb', profile, passphrase, replace, directoryUrl,
    /// directoryKeys, directoryThreshold, snapshotDebounceMs}` (the directory options as
    /// `Sotto.open` reads them, checked first: `INVALID_ARGUMENT` without `directoryKeys`).
    /// Without `backup` the words alone restore the contacts (no message history) from the
    /// newest relay snapshot, found within 60 s (`SEARCH_SECS`). Everything is checked first and
    /// on any failure nothing is written (no database is created): `WRONG_WORDS` (a word not
    /// in the list, named with its position; a wrong count or checksum), `INVALID_BACKUP`
    /// (cut, damaged, not a backup, unknown version), `BACKUP_MISMATCH` (these words do not
    /// open this file), `PROFILE_EXISTS` (a profile of that name is saved here and `replace`
    /// is not `true`), `NO_SNAPSHOT` (no `backup`, and no snapshot found), `TIMEOUT` (the
    /// search ran out of time). Resolves with the open `Sotto`; each contact shows `sync:
    /// 'resyncing'` until it answers (pkg/README.md, "Restore"), and messages sent meanwhile
    /// wait for it. Every restore, `'memory'` too, takes the conversations over (the device
    /// the profile was on is told it moved); the new queue keys are derived from the words,
    /// so restoring them again anywhere takes the profile back.
    pub async fn restore(
        #[wasm_bindgen(unchecked_param_type = "RestoreOptions")] options: JsValue,
    ) -> Result<Sotto, JsValue> {
        let mut open = open_options(&options)?;
        open.seed = Some(check(&options, &open).await?);
        let driver = driver::open(open).await?;
        Ok(Sotto { driver })
    }
}
