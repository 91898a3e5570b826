//! The settings of an open profile, for JavaScript: the display name (and telling contacts when
//! it changes), the recovery phrase behind a passphrase check, an encrypted backup file, and
//! whether a profile is saved in this browser at all.
//!
//! Backup file (`exportBackup`, read back by `Sotto.restore`), all integers big-endian:
//!
//! ```text
//! file       = MAGIC ("sottobk2", 8 bytes) ‖ key id (8) ‖ nonce (12) ‖ tag (16) ‖ ciphertext
//! key id     = HMAC-SHA256(backup_key, "sotto/v1/backup-id")[..8]
//! ciphertext = ChaCha20-Poly1305(backup_key, nonce, ad = MAGIC ‖ key id, plaintext)
//! plaintext  = created_at u64 ‖ state_len u32 ‖ state ‖ count u32 ‖ count × message
//! message    = contact u64 ‖ sent_at u64 ‖ received_at u64 (u64::MAX: none)
//!              ‖ expires_at u64 (u64::MAX: never) ‖ outgoing u8 ‖ id_len u8 ‖ id
//!              ‖ text_len u32 ‖ text
//! ```
//!
//! Version 1 (`"sottobk1"`, still read) has no key id (ad = MAGIC) and no `expires_at`. The
//! key id tells words that do not open the file (`BACKUP_MISMATCH`) from a damaged file
//! (`INVALID_BACKUP`); for a version 1 file the two cannot be told apart.
//!
//! `backup_key` is `RootSecret::backup_key()` of the profile's recovery phrase
//! (`sotto_proto::mnemonic`), so the 24 words alone open the file on a new device. `state` is
//! the stored `state` record (message counter ‖ persisted client).

use js_sys::{Promise, Uint8Array};
use sotto_proto::codec::Reader;
use sotto_proto::crypto::{TAG_LEN, aead_open, aead_seal};
use sotto_proto::mnemonic::Mnemonic;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::error::{ErrorCode, client_error, sotto_error};
use crate::js::{now, obj};
use crate::sotto::Sotto;
use crate::storage::MessageRecord;

/// The first bytes of a backup file this release writes (and its associated data).
pub const BACKUP_MAGIC: &[u8; 8] = b"sottobk2";
/// The first bytes of a version 1 backup file (read, no longer written).
pub const BACKUP_MAGIC_V1: &[u8; 8] = b"sottobk1";
/// HMAC label of a backup's key id.
const KEY_ID_INFO: &[u8] = b"sotto/v1/backup-id";

/// Why a backup file does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupError {
    /// Not a backup, cut short, damaged, or of a version this release does not read.
    Invalid,
    /// A sound file that the given words do not open (its key id is another key's).
    Mismatch,
}

fn key_id(key: &[u8; 32]) -> [u8; 8] {
    let mac = sotto_proto::crypto::hmac_sha256(key, KEY_ID_INFO);
    let mut id = [0u8; 8];
    id.copy_from_slice(&mac[..8]);
    id
}

/// What a backup holds, decrypted.
#[derive(Debug, PartialEq, Eq)]
pub struct Backup {
    pub created_at: u64,
    pub state: Zeroizing<Vec<u8>>,
    pub messages: Vec<MessageRecord>,
}

/// The backup file for `backup`, sealed under `key` with `nonce`.
pub fn seal_backup(key: &[u8; 32], nonce: &[u8; 12], backup: &Backup) -> Vec<u8> {
    let mut plain = Zeroizing::new(Vec::new());
    plain.extend_from_slice(&backup.created_at.to_be_bytes());
    plain.extend_from_slice(&len32(backup.state.len()).to_be_bytes());
    plain.extend_from_slice(&backup.state);
    plain.extend_from_slice(&len32(backup.messages.len()).to_be_bytes());
    for m in &backup.messages {
        let id =
            m.id.as_bytes()
                .get(..m.id.len().min(255))
                .unwrap_or_default();
        plain.extend_from_slice(&m.contact.to_be_bytes());
        plain.extend_from_slice(&m.sent_at.to_be_bytes());
        plain.extend_from_slice(&m.received_at.unwrap_or(u64::MAX).to_be_bytes());
        plain.extend_from_slice(&m.expires_at.unwrap_or(u64::MAX).to_be_bytes());
        plain.push(u8::from(m.outgoing));
        plain.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
        plain.extend_from_slice(id);
        plain.extend_from_slice(&len32(m.text.len()).to_be_bytes());
        plain.extend_from_slice(m.text.as_bytes());
    }
    let mut header = BACKUP_MAGIC.to_vec();
    header.extend_from_slice(&key_id(key));
    // Only a key or nonce of the wrong length fails, and the types fix both.
    let tag = aead_seal(key, nonce, &header, &mut plain).unwrap_or([0; TAG_LEN]);
    let mut out = Vec::with_capacity(16 + 12 + TAG_LEN + plain.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(nonce);
    out.extend_from_slice(&tag);
    out.extend_from_slice(&plain);
    out
}

/// Opens a backup file (version 2, or 1): [`BackupError::Mismatch`] when its key id is not
/// `key`'s, [`BackupError::Invalid`] for anything else that does not open (for version 1, a
/// wrong key too).
pub fn open_backup(key: &[u8; 32], file: &[u8]) -> Result<Backup, BackupError> {
    let v2 = match file.get(..8) {
        Some(m) if m == BACKUP_MAGIC => true,
        Some(m) if m == BACKUP_MAGIC_V1 => false,
        _ => return Err(BackupError::Invalid),
    };
    let header_len = if v2 { 16 } else { 8 };
    let header = file.get(..header_len).ok_or(BackupError::Invalid)?;
    if v2 && header.get(8..) != Some(&key_id(key)[..]) {
        // A cut file is invalid whatever the words; a whole one with another key id is theirs.
        return Err(if file.len() < header_len + 12 + TAG_LEN + 16 {
            BackupError::Invalid
        } else {
            BackupError::Mismatch
        });
    }
    let body = file.get(header_len..).ok_or(BackupError::Invalid)?;
    read_backup(key, header, body, v2).ok_or(BackupError::Invalid)
}

fn read_backup(key: &[u8; 32], header: &[u8], body: &[u8], v2: bool) -> Option<Backup> {
    let nonce: [u8; 12] = body.get(..12)?.try_into().ok()?;
    let tag: [u8; TAG_LEN] = body.get(12..12 + TAG_LEN)?.try_into().ok()?;
    let mut plain = Zeroizing::new(body.get(12 + TAG_LEN..)?.to_vec());
    aead_open(key, &nonce, header, &mut plain, &tag).ok()?;
    let mut r = Reader::new(&plain[..]);
    let created_at = r.take_u64().ok()?;
    let state = Zeroizing::new(r.take_u32_prefixed().ok()?.to_vec());
    let count = r.take_u32().ok()?;
    let mut messages = Vec::new();
    for seq in 0..u64::from(count) {
        let contact = r.take_u64().ok()?;
        let sent_at = r.take_u64().ok()?;
        let received = r.take_u64().ok()?;
        let expires = if v2 { r.take_u64().ok()? } else { u64::MAX };
        let outgoing = r.take_u8().ok()? == 1;
        let id = std::str::from_utf8(r.take_u8_prefixed().ok()?)
            .ok()?
            .to_owned();
        let text = std::str::from_utf8(r.take_u32_prefixed().ok()?)
            .ok()?
            .to_owned();
        let received_at = (!outgoing).then_some(received);
        let mut m = MessageRecord::text_message(seq, id, contact, text, sent_at, received_at);
        m.expires_at = (expires != u64::MAX).then_some(expires);
        messages.push(m);
    }
    r.should_be_exhausted().ok()?;
    Some(Backup {
        created_at,
        state,
        messages,
    })
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn unsupported_in_memory(what: &str) -> JsValue {
    sotto_error(
        ErrorCode::Unsupported,
        &format!("'memory' storage has no {what}"),
    )
}

#[wasm_bindgen]
impl Sotto {
    /// Whether a profile is saved in this browser: `null` if not, else `{passphrase}` (a
    /// passphrase protects it). Reads only the plaintext `meta` record and creates nothing.
    #[wasm_bindgen(js_name = savedProfile, unchecked_return_type = "SavedProfile | null")]
    pub async fn saved_profile(profile: Option<String>) -> Result<JsValue, JsValue> {
        let profile = profile.unwrap_or_else(|| "default".into());
        Ok(match crate::storage::probe(&profile).await? {
            None => JsValue::NULL,
            Some(info) => obj(&[("passphrase", info.passphrase.into())]),
        })
    }

    /// This profile's display name, as its contacts see it.
    #[wasm_bindgen(getter, js_name = displayName)]
    pub fn display_name(&self) -> String {
        self.driver.with_client(|c, _| c.display_name().to_owned())
    }

    /// Changes the display name and tells every contact, who see it as a `contact` event.
    /// Resolves once the new name is stored. The name is trimmed and must pass the rule of
    /// `sotto_proto::names` (1–64 visible characters, no control, format, bidi or line-break
    /// characters): otherwise `INVALID_ARGUMENT`, with a message saying what is wrong.
    /// `PROFILE_MOVED` (nothing changes) once the profile moved.
    #[wasm_bindgen(js_name = setDisplayName, unchecked_return_type = "Promise<void>")]
    pub fn set_display_name(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
    ) -> Promise {
        if let Err(e) = self.check_open() {
            return Promise::reject(&e);
        }
        let name = name.as_string().unwrap_or_default();
        let name = match sotto_proto::names::validate(&name) {
            Ok(name) => name,
            Err(e) => {
                return Promise::reject(&sotto_error(ErrorCode::InvalidArgument, &e.to_string()));
            }
        };
        if let Err(e) = self
            .driver
            .with_client(|c, rng| c.set_display_name(rng, name, now()))
        {
            return Promise::reject(&client_error(&e));
        }
        // Written now even when no contact made the client send (and so write) anything; a
        // write started later carries a newer state and commits after this one.
        match self.driver.write_now() {
            Some(write) => wasm_bindgen_futures::future_to_promise(async move {
                write.await?;
                Ok(JsValue::UNDEFINED)
            }),
            None => Promise::resolve(&JsValue::UNDEFINED),
        }
    }

    /// The 24-word recovery phrase, only for the passphrase that opens this profile
    /// (`WRONG_PASSPHRASE` otherwise; pass `null` or `''` for a profile made without one).
    /// `UNSUPPORTED` with 'memory' storage. Show it to the person; do not keep it.
    #[wasm_bindgen(js_name = revealMnemonic, unchecked_return_type = "Promise<string>")]
    pub fn reveal_mnemonic(&self, passphrase: Option<String>) -> Promise {
        if let Err(e) = self.check_open() {
            return Promise::reject(&e);
        }
        let Some(store) = self.driver.store() else {
            return Promise::reject(&unsupported_in_memory("recovery phrase"));
        };
        let passphrase = Zeroizing::new(passphrase.unwrap_or_default());
        wasm_bindgen_futures::future_to_promise(async move {
            let given = Some(passphrase.as_str()).filter(|p| !p.is_empty());
            if !store.check_passphrase(given).await? {
                return Err(sotto_error(
                    ErrorCode::WrongPassphrase,
                    "wrong passphrase for this profile",
                ));
            }
            Ok(JsValue::from(store.phrase().await?.as_str()))
        })
    }

    /// Changes the passphrase that protects this profile: `old` must be the one that opens it
    /// (`WRONG_PASSPHRASE` otherwise, and nothing changes); `new` protects it from now on
    /// (`null` or `''` for none). The store key is rewrapped with today's Argon2id costs; the
    /// records stay as they are. Both are NFKC-normalised first. `UNSUPPORTED` with 'memory'
    /// storage.
    #[wasm_bindgen(js_name = changePassphrase, unchecked_return_type = "Promise<void>")]
    pub fn change_passphrase(&self, old: Option<String>, new: Option<String>) -> Promise {
        if let Err(e) = self.check_open() {
            return Promise::reject(&e);
        }
        let Some(store) = self.driver.store() else {
            return Promise::reject(&unsupported_in_memory("passphrase"));
        };
        let old = Zeroizing::new(old.unwrap_or_default());
        let new = Zeroizing::new(new.unwrap_or_default());
        wasm_bindgen_futures::future_to_promise(async move {
            let old = Some(old.as_str()).filter(|p| !p.is_empty());
            let new = Some(new.as_str()).filter(|p| !p.is_empty());
            store.change_passphrase(old, new).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// An encrypted backup of this profile (contacts, their sessions and queues, and every
    /// stored message) as a `Uint8Array`, sealed under the backup key of the recovery phrase
    /// (format: docs/PROTOCOL.md §9). `UNSUPPORTED` with 'memory' storage.
    #[wasm_bindgen(js_name = exportBackup, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn export_backup(&self) -> Promise {
        if let Err(e) = self.check_open() {
            return Promise::reject(&e);
        }
        let Some(store) = self.driver.store() else {
            return Promise::reject(&unsupported_in_memory("backup"));
        };
        let state = self.driver.state_now();
        let contacts: Vec<u64> = self.driver.with_client(|c, _| {
            c.contact_ids()
                .filter_map(|id| id.to_string().parse().ok())
                .collect()
        });
        wasm_bindgen_futures::future_to_promise(async move {
            let phrase = store.phrase().await?;
            let mnemonic = Mnemonic::parse(&phrase)
                .map_err(|_| sotto_error(ErrorCode::Storage, "the stored phrase is damaged"))?;
            let key = mnemonic.root_secret().backup_key();
            let mut messages = Vec::new();
            for contact in contacts {
                messages.extend(store.messages(contact, u32::MAX, None).await?);
            }
            let mut nonce = [0u8; 12];
            getrandom::fill(&mut nonce)
                .map_err(|_| sotto_error(ErrorCode::Unsupported, "no cryptographic RNG"))?;
            let file = seal_backup(
                key.expose(),
                &nonce,
                &Backup {
                    created_at: now(),
                    state,
                    messages,
                },
            );
            Ok(Uint8Array::from(&file[..]).into())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Status;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn sample() -> Backup {
        Backup {
            created_at: 1_800_000_000,
            state: Zeroizing::new(vec![7; 300]),
            messages: vec![
                MessageRecord {
                    seq: 0,
                    id: "00".repeat(16),
                    contact: 1,
                    text: "hello ✓".into(),
                    sent_at: 1_799_999_000,
                    received_at: Some(1_799_999_001),
                    outgoing: false,
                    status: Status::Received,
                    expires_at: None,
                    file: None,
                },
                MessageRecord {
                    seq: 1,
                    id: "ab".repeat(16),
                    contact: 2,
                    text: String::new(),
                    sent_at: 1_799_999_500,
                    received_at: None,
                    outgoing: true,
                    status: Status::Sent,
                    expires_at: Some(1_800_000_600),
                    file: None,
                },
            ],
        }
    }

    #[test]
    fn a_backup_opens_with_its_key_only() {
        let key = [3u8; 32];
        let file = seal_backup(&key, &[9; 12], &sample());
        assert_eq!(&file[..8], BACKUP_MAGIC);
        assert_eq!(open_backup(&key, &file), Ok(sample()));
        assert_eq!(open_backup(&[4u8; 32], &file), Err(BackupError::Mismatch));
    }

    /// A version 1 file (no key id, no expiry) as the previous release wrote it.
    fn seal_v1(key: &[u8; 32], nonce: &[u8; 12], b: &Backup) -> Vec<u8> {
        let mut plain = Vec::new();
        plain.extend_from_slice(&b.created_at.to_be_bytes());
        plain.extend_from_slice(&len32(b.state.len()).to_be_bytes());
        plain.extend_from_slice(&b.state);
        plain.extend_from_slice(&len32(b.messages.len()).to_be_bytes());
        for m in &b.messages {
            plain.extend_from_slice(&m.contact.to_be_bytes());
            plain.extend_from_slice(&m.sent_at.to_be_bytes());
            plain.extend_from_slice(&m.received_at.unwrap_or(u64::MAX).to_be_bytes());
            plain.push(u8::from(m.outgoing));
            plain.push(m.id.len() as u8);
            plain.extend_from_slice(m.id.as_bytes());
            plain.extend_from_slice(&len32(m.text.len()).to_be_bytes());
            plain.extend_from_slice(m.text.as_bytes());
        }
        let tag = aead_seal(key, nonce, BACKUP_MAGIC_V1, &mut plain).unwrap();
        [&BACKUP_MAGIC_V1[..], nonce, &tag, &plain].concat()
    }

    #[test]
    fn a_version_1_backup_is_still_read() {
        let key = [3u8; 32];
        let file = seal_v1(&key, &[9; 12], &sample());
        let mut expected = sample();
        expected.messages[1].expires_at = None;
        assert_eq!(open_backup(&key, &file), Ok(expected));
        assert_eq!(open_backup(&[4u8; 32], &file), Err(BackupError::Invalid));
        let mut other = file.clone();
        other[7] = b'9';
        assert_eq!(open_backup(&key, &other), Err(BackupError::Invalid));
    }

    #[test]
    fn a_damaged_or_cut_backup_is_refused() {
        let key = [3u8; 32];
        let file = seal_backup(&key, &[9; 12], &sample());
        for i in [0, 8, 20, 40, file.len() - 1] {
            let mut bad = file.clone();
            bad[i] ^= 1;
            assert!(open_backup(&key, &bad).is_err(), "flipped byte {i}");
        }
        for i in [0, 20, 40, file.len() - 1] {
            let mut bad = file.clone();
            bad[i] ^= 1;
            assert_eq!(
                open_backup(&key, &bad),
                Err(BackupError::Invalid),
                "flipped byte {i}"
            );
        }
        for n in 0..file.len() {
            assert_eq!(
                open_backup(&key, &file[..n]),
                Err(BackupError::Invalid),
                "cut at {n}"
            );
        }
    }
}
