//! `Sotto.restore`: a profile brought back on this device from its recovery phrase and its
//! backup file (issue 16). Everything is checked before anything is written: the words
//! (`WRONG_WORDS`, naming a word not in the list and its position), the file
//! (`INVALID_BACKUP`), that the words open it (`BACKUP_MISMATCH`), the client state inside,
//! and, for `'indexeddb'`, that no profile of that name is saved (`PROFILE_EXISTS` unless
//! `replace: true`). Then the profile is written (or kept in memory) and opened as a saved
//! one. Its client is `Client::restored`: every conversation resynchronises before anything
//! is encrypted, so no message key the old device used is used again (docs/PROTOCOL.md,
//! "Restore"). Disappearing messages whose time ran out are not restored.

use sotto_proto::client::Client;
use sotto_proto::mnemonic::{Mnemonic, MnemonicError};
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::driver::{self, Storage};
use crate::error::{ErrorCode, sotto_error};
use crate::history::Seed;
use crate::js::{bytes_of, get, get_string, now};
use crate::settings::{BackupError, open_backup};
use crate::sotto::{Sotto, open_options};

/// The phrase in `words`, or `WRONG_WORDS` saying which word is wrong.
fn parse_words(words: &str) -> Result<Mnemonic, JsValue> {
    Mnemonic::parse(words).map_err(|e| {
        let message = match e {
            MnemonicError::UnknownWord { index } => {
                let word = words.split_whitespace().nth(index).unwrap_or_default();
                format!(
                    "word {} ('{word}') is not a recovery-phrase word",
                    index + 1
                )
            }
            other => other.to_string(),
        };
        sotto_error(ErrorCode::WrongWords, &message)
    })
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

/// Everything `Sotto.restore` needs, checked, with nothing written.
async fn check(options: &JsValue, storage: &Storage) -> Result<Seed, JsValue> {
    let words = Zeroizing::new(get_string(options, "words").unwrap_or_default());
    let mnemonic = parse_words(&words)?;
    let backup = get(options, "backup");
    if backup.is_undefined() || backup.is_null() {
        return Err(sotto_error(
            ErrorCode::Unsupported,
            "restoring from the words alone is not supported yet: give the backup file",
        ));
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
    let invalid = || sotto_error(ErrorCode::InvalidBackup, "the backup's profile is damaged");
    let seq = backup
        .state
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(invalid)?;
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let client = Client::restored(
        &mut rng,
        backup.state.get(8..).unwrap_or_default(),
        backup.created_at,
        now(),
    )
    .map_err(|_| invalid())?;
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
    })
}

#[wasm_bindgen]
impl Sotto {
    /// Restores a profile on this device from its 24 recovery words and its backup file
    /// (`exportBackup`'s `Uint8Array`, or a `Blob`/`File`). Options: `{words, backup, storage:
    /// 'memory' | 'indexeddb', profile, passphrase, replace, directoryUrl, directoryKeys,
    /// directoryThreshold}` (the directory options as `Sotto.open` reads them, checked first:
    /// `INVALID_ARGUMENT` without `directoryKeys`). Everything is
    /// checked first and on any failure nothing is written (no database is created):
    /// `WRONG_WORDS` (a word not in the list, named with its position; a wrong count or
    /// checksum), `INVALID_BACKUP` (cut, damaged, not a backup, unknown version),
    /// `BACKUP_MISMATCH` (these words do not open this file), `PROFILE_EXISTS` (a profile of
    /// that name is saved here and `replace` is not `true`), `UNSUPPORTED` (no `backup`).
    /// Resolves with the open `Sotto`; each contact shows `sync: 'resyncing'` until it
    /// answers (pkg/README.md, "Restore"), and messages sent meanwhile wait for it.
    pub async fn restore(
        #[wasm_bindgen(unchecked_param_type = "RestoreOptions")] options: JsValue,
    ) -> Result<Sotto, JsValue> {
        let mut open = open_options(&options)?;
        open.seed = Some(check(&options, &open.storage).await?);
        let driver = driver::open(open).await?;
        Ok(Sotto { driver })
    }
}
