//! A relay's durable identity: its [`RelayId`] and its Sphinx keys, kept in one key file, and
//! the rotation of the Sphinx key every key epoch.
//!
//! The [`RelayId`] is 32 random bytes drawn once, when the key file is created, and kept for
//! the relay's whole life; it does not change when the Sphinx key rotates (the directory maps
//! the id to the current key and epoch). It is not derived from the key, so a rotation does not
//! invalidate routes and SURBs that name the relay.
//!
//! **Rotation.** Every [`KeyPolicy::epoch_secs`] the relay draws a new key for epoch `e + 1`
//! and keeps the old one as *previous* for [`KeyPolicy::overlap_secs`], so packets and SURBs
//! built from a directory fetched shortly before the rotation still work. The new state is
//! written to the key file (synced) *before* the relay uses it, so a restart never goes back
//! to an older key.
//!
//! File layout (`relay.key`, mode 0600), version 2, 129 bytes:
//! `b"SOTTORK2"` (8) · relay id (32) · current epoch (u32 BE) · current since (u64 BE, Unix s)
//! · current X25519 secret (32) · has previous (1: 0 or 1) · previous epoch (u32 BE)
//! · previous valid until (u64 BE, Unix s) · previous X25519 secret (32; zero if none).
//! Version 1 files (80 bytes: `b"SOTTORK1"` · epoch (u32 BE) · 4 zero bytes · id (32) ·
//! secret (32)) are read as "current since the moment they were loaded" and rewritten as
//! version 2 at the first rotation. Files are written to a temporary file in the same
//! directory, synced, then renamed into place.

use std::io::Write;
use std::path::{Path, PathBuf};

use sotto_proto::directory::KEY_REREAD_MARGIN_SECS;
use sotto_proto::ids::RelayId;
use sotto_proto::keys::{PublicKey, SecretKey};
use sotto_proto::onion::{RelayKey, RelayKeys};
use zeroize::Zeroizing;

use crate::error::RelayError;

const MAGIC_V1: &[u8; 8] = b"SOTTORK1";
const MAGIC_V2: &[u8; 8] = b"SOTTORK2";
const FILE_LEN_V1: usize = 8 + 4 + 4 + 32 + 32;
const FILE_LEN_V2: usize = 8 + 32 + 4 + 8 + 32 + 1 + 4 + 8 + 32;
/// The key file's name inside a relay's data directory.
pub const KEY_FILE: &str = "relay.key";

/// How often a relay rotates its Sphinx key and how long the previous key stays valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyPolicy {
    /// Length of a key epoch in seconds (default 24 h).
    pub epoch_secs: u64,
    /// Seconds the previous epoch's key is still accepted after a rotation (default 2 h).
    /// At most `epoch_secs`, at least [`KEY_REREAD_MARGIN_SECS`] (10 s: the time clients take
    /// to read the directory again after a rotation).
    pub overlap_secs: u64,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self {
            epoch_secs: 24 * 3600,
            overlap_secs: 2 * 3600,
        }
    }
}

impl KeyPolicy {
    /// Checks the policy (an operator's input).
    pub fn validate(&self) -> Result<(), RelayError> {
        if self.epoch_secs == 0 {
            return Err(RelayError::Config("key epoch must be at least 1 s".into()));
        }
        if self.overlap_secs > self.epoch_secs {
            return Err(RelayError::Config(
                "key overlap must not be longer than the key epoch".into(),
            ));
        }
        // Clients read the directory again within this margin after a rotation; until then
        // they build packets for the previous key.
        if self.overlap_secs < KEY_REREAD_MARGIN_SECS {
            return Err(RelayError::Config(format!(
                "key overlap must be at least {KEY_REREAD_MARGIN_SECS} s: clients read the \
                 directory again within that long after a key rotation and use the previous \
                 key until then"
            )));
        }
        Ok(())
    }
}

/// The public side of a relay's keys, as the directory publishes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedKeys {
    pub sphinx_key: PublicKey,
    pub key_epoch: u32,
    /// When the current key became current (Unix seconds).
    pub since: u64,
    /// When the next rotation is due (Unix seconds).
    pub rotates_at: u64,
    /// The previous epoch's key during the overlap: (key, epoch, accepted until).
    pub previous: Option<(PublicKey, u32, u64)>,
}

/// What [`Identity::maintain`] changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyChange {
    /// The new current epoch, if the key rotated.
    pub rotated_to: Option<u32>,
    /// Epochs whose keys were retired (their replay tags can go).
    pub retired: Vec<u32>,
}

impl KeyChange {
    pub fn is_empty(&self) -> bool {
        self.rotated_to.is_none() && self.retired.is_empty()
    }
}

/// A relay's identity and keys.
#[derive(Clone, Debug)]
pub struct Identity {
    pub id: RelayId,
    pub keys: RelayKeys,
    /// When the current key became current (Unix seconds).
    pub current_since: u64,
    /// Until when the previous key is accepted (Unix seconds); `None` without a previous key.
    pub previous_until: Option<u64>,
    path: PathBuf,
}

fn rng_err(e: getrandom::Error) -> RelayError {
    RelayError::Io {
        context: "system random number generator",
        source: std::io::Error::other(e.to_string()),
    }
}

fn fresh_secret() -> Result<SecretKey, RelayError> {
    let mut secret = Zeroizing::new([0u8; 32]);
    getrandom::fill(secret.as_mut_slice()).map_err(rng_err)?;
    Ok(SecretKey::from_persisted_bytes(*secret))
}

impl Identity {
    /// Loads the identity from `dir/relay.key`, or creates one there (and `dir` itself).
    /// `now` (Unix seconds) dates a new key, or a version 1 file's key.
    pub fn load_or_create(dir: &Path, now: u64) -> Result<Self, RelayError> {
        std::fs::create_dir_all(dir).map_err(|source| RelayError::DataDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(KEY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                check_permissions(&path)?;
                Self::decode(&path, Zeroizing::new(bytes), now)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let identity = Self::generate(path, now)?;
                identity.write()?;
                Ok(identity)
            }
            Err(source) => Err(RelayError::DataDir { path, source }),
        }
    }

    fn generate(path: PathBuf, now: u64) -> Result<Self, RelayError> {
        let mut id = [0u8; 32];
        getrandom::fill(&mut id).map_err(rng_err)?;
        Ok(Self {
            id: RelayId::from_bytes(id),
            keys: RelayKeys::new(RelayKey::from_secret(1, fresh_secret()?)),
            current_since: now,
            previous_until: None,
            path,
        })
    }

    fn decode(path: &Path, bytes: Zeroizing<Vec<u8>>, now: u64) -> Result<Self, RelayError> {
        let bad = |reason| RelayError::BadKeyFile {
            path: path.to_path_buf(),
            reason,
        };
        let b = bytes.as_slice();
        let u32_at = |at: usize| {
            b.get(at..at + 4)
                .and_then(|s| <[u8; 4]>::try_from(s).ok())
                .map(u32::from_be_bytes)
                .ok_or(bad("wrong length"))
        };
        let u64_at = |at: usize| {
            b.get(at..at + 8)
                .and_then(|s| <[u8; 8]>::try_from(s).ok())
                .map(u64::from_be_bytes)
                .ok_or(bad("wrong length"))
        };
        let secret_at = |at: usize| -> Result<SecretKey, RelayError> {
            let s = Zeroizing::new(
                b.get(at..at + 32)
                    .and_then(|s| <[u8; 32]>::try_from(s).ok())
                    .ok_or(bad("wrong length"))?,
            );
            Ok(SecretKey::from_persisted_bytes(*s))
        };
        let id_at = |at: usize| -> Result<RelayId, RelayError> {
            b.get(at..at + RelayId::LEN)
                .and_then(RelayId::from_slice)
                .ok_or(bad("wrong length"))
        };
        match b.get(..8) {
            Some(m) if m == MAGIC_V1.as_slice() => {
                if b.len() != FILE_LEN_V1 {
                    return Err(bad("wrong length"));
                }
                let id = id_at(16)?;
                Ok(Self {
                    id,
                    keys: RelayKeys::new(RelayKey::from_secret(u32_at(8)?, secret_at(48)?)),
                    current_since: now,
                    previous_until: None,
                    path: path.to_path_buf(),
                })
            }
            Some(m) if m == MAGIC_V2.as_slice() => {
                if b.len() != FILE_LEN_V2 {
                    return Err(bad("wrong length"));
                }
                let id = id_at(8)?;
                let current = RelayKey::from_secret(u32_at(40)?, secret_at(52)?);
                let current_since = u64_at(44)?;
                let (keys, previous_until) = match b.get(84) {
                    Some(0) => (RelayKeys::new(current), None),
                    Some(1) => {
                        let previous = RelayKey::from_secret(u32_at(85)?, secret_at(97)?);
                        if previous.epoch() >= current.epoch() {
                            return Err(bad("previous epoch not before the current one"));
                        }
                        (
                            RelayKeys::with_previous(current, previous),
                            Some(u64_at(89)?),
                        )
                    }
                    _ => return Err(bad("bad previous-key flag")),
                };
                Ok(Self {
                    id,
                    keys,
                    current_since,
                    previous_until,
                    path: path.to_path_buf(),
                })
            }
            _ => Err(bad("wrong magic")),
        }
    }

    fn encode(&self) -> Zeroizing<Vec<u8>> {
        let current = self.keys.current();
        let mut out = Zeroizing::new(Vec::with_capacity(FILE_LEN_V2));
        out.extend_from_slice(MAGIC_V2);
        out.extend_from_slice(self.id.as_bytes());
        out.extend_from_slice(&current.epoch().to_be_bytes());
        out.extend_from_slice(&self.current_since.to_be_bytes());
        out.extend_from_slice(current.secret().to_persisted_bytes().as_slice());
        match (self.keys.previous(), self.previous_until) {
            (Some(p), Some(until)) => {
                out.push(1);
                out.extend_from_slice(&p.epoch().to_be_bytes());
                out.extend_from_slice(&until.to_be_bytes());
                out.extend_from_slice(p.secret().to_persisted_bytes().as_slice());
            }
            _ => {
                out.push(0);
                out.extend_from_slice(&[0u8; 4 + 8 + 32]);
            }
        }
        out
    }

    fn write(&self) -> Result<(), RelayError> {
        let path = self.path.as_path();
        let dir = path.parent().unwrap_or(Path::new("."));
        let io = |source| RelayError::DataDir {
            path: path.to_path_buf(),
            source,
        };
        let out = self.encode();
        let mut builder = tempfile::Builder::new();
        builder.prefix(".relay.key.");
        #[cfg(unix)]
        builder.permissions(private_permissions());
        let mut tmp = builder.tempfile_in(dir).map_err(io)?;
        tmp.write_all(&out).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        // The rename itself must survive a crash too.
        #[cfg(unix)]
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
        Ok(())
    }

    /// The current key's epoch, as the directory publishes it.
    pub fn key_epoch(&self) -> u32 {
        self.keys.current().epoch()
    }

    /// The epochs whose keys are held (current first).
    pub fn epochs(&self) -> Vec<u32> {
        std::iter::once(self.keys.current().epoch())
            .chain(self.keys.previous().map(RelayKey::epoch))
            .collect()
    }

    /// What the directory publishes for these keys under `policy`.
    pub fn published(&self, policy: &KeyPolicy) -> PublishedKeys {
        let current = self.keys.current();
        PublishedKeys {
            sphinx_key: current.public_key(),
            key_epoch: current.epoch(),
            since: self.current_since,
            rotates_at: self.current_since.saturating_add(policy.epoch_secs),
            previous: match (self.keys.previous(), self.previous_until) {
                (Some(p), Some(until)) => Some((p.public_key(), p.epoch(), until)),
                _ => None,
            },
        }
    }

    /// Rotates the key if its epoch is over and retires the previous key once its overlap
    /// is over, at time `now` (Unix seconds). Every change is written to the key file before
    /// it takes effect here; if writing fails, nothing changes (the caller retries later).
    pub fn maintain(&mut self, now: u64, policy: &KeyPolicy) -> Result<KeyChange, RelayError> {
        let mut next = self.clone();
        let mut change = KeyChange::default();
        if let Some(until) = next.previous_until
            && now >= until
        {
            if let Some(old) = next.keys.drop_previous() {
                change.retired.push(old.epoch());
            }
            next.previous_until = None;
        }
        if now >= next.current_since.saturating_add(policy.epoch_secs) {
            let epoch = next.keys.current().epoch().saturating_add(1);
            let key = RelayKey::from_secret(epoch, fresh_secret()?);
            if let Some(old) = next.keys.rotate(key) {
                change.retired.push(old.epoch());
            }
            // The overlap counts from the rotation itself: until then the directory published
            // the old key (also when the relay was down past its rotation time).
            next.current_since = now;
            if policy.overlap_secs > 0 {
                next.previous_until = Some(now.saturating_add(policy.overlap_secs));
            } else if let Some(old) = next.keys.drop_previous() {
                change.retired.push(old.epoch());
                next.previous_until = None;
            }
            change.rotated_to = Some(epoch);
        }
        if !change.is_empty() {
            next.write()?;
            *self = next;
        }
        Ok(change)
    }
}

#[cfg(unix)]
pub(crate) fn private_permissions() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(0o600)
}

#[cfg(unix)]
pub(crate) fn check_permissions(path: &Path) -> Result<(), RelayError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| RelayError::DataDir {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(RelayError::KeyFilePermissions {
            path: PathBuf::from(path),
        });
    }
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn check_permissions(_path: &Path) -> Result<(), RelayError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: KeyPolicy = KeyPolicy {
        epoch_secs: 100,
        overlap_secs: 30,
    };

    #[test]
    fn keys_rotate_every_epoch_keep_the_previous_for_the_overlap_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        let mut id = Identity::load_or_create(dir.path(), 1000).unwrap();
        let key1 = id.keys.current().public_key();
        assert_eq!(id.maintain(1099, &POLICY).unwrap(), KeyChange::default());
        let change = id.maintain(1100, &POLICY).unwrap();
        assert_eq!(change.rotated_to, Some(2));
        assert!(change.retired.is_empty());
        assert_eq!(id.epochs(), vec![2, 1]);
        assert_eq!(id.keys.previous().unwrap().public_key(), key1);
        let published = id.published(&POLICY);
        assert_eq!(published.key_epoch, 2);
        assert_eq!(published.rotates_at, 1200);
        assert_eq!(published.previous, Some((key1, 1, 1130)));

        // A restart keeps exactly this state.
        let again = Identity::load_or_create(dir.path(), 5000).unwrap();
        assert_eq!(again.id, id.id);
        assert_eq!(again.published(&POLICY), published);

        assert!(id.maintain(1129, &POLICY).unwrap().is_empty());
        let change = id.maintain(1130, &POLICY).unwrap();
        assert_eq!((change.rotated_to, change.retired), (None, vec![1]));
        assert_eq!(id.epochs(), vec![2]);
        let reloaded = Identity::load_or_create(dir.path(), 5000).unwrap();
        assert_eq!(reloaded.epochs(), vec![2]);
    }

    #[test]
    fn a_relay_down_past_several_epochs_rotates_once_and_keeps_an_overlap() {
        let dir = tempfile::tempdir().unwrap();
        let mut id = Identity::load_or_create(dir.path(), 0).unwrap();
        id.maintain(100, &POLICY).unwrap();
        let change = id.maintain(10_000, &POLICY).unwrap();
        assert_eq!(change.rotated_to, Some(3));
        assert_eq!(change.retired, vec![1]);
        // Clients may still hold the key that was published while the relay was down.
        assert_eq!(id.previous_until, Some(10_030));
        assert_eq!(id.epochs(), vec![3, 2]);
    }

    #[test]
    fn no_overlap_retires_the_old_key_at_once_and_bad_policies_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut id = Identity::load_or_create(dir.path(), 0).unwrap();
        let policy = KeyPolicy {
            epoch_secs: 10,
            overlap_secs: 0,
        };
        let change = id.maintain(10, &policy).unwrap();
        assert_eq!((change.rotated_to, change.retired), (Some(2), vec![1]));
        assert!(id.keys.previous().is_none());
        assert!(
            KeyPolicy {
                epoch_secs: 10,
                overlap_secs: 11
            }
            .validate()
            .is_err()
        );
        assert!(
            KeyPolicy {
                epoch_secs: 0,
                overlap_secs: 0
            }
            .validate()
            .is_err()
        );
        // Shorter than the time clients take to read the directory again.
        for overlap_secs in [0, KEY_REREAD_MARGIN_SECS - 1] {
            let short = KeyPolicy {
                epoch_secs: 100,
                overlap_secs,
            };
            assert!(short.validate().is_err(), "{short:?}");
        }
        assert!(
            KeyPolicy {
                epoch_secs: 100,
                overlap_secs: KEY_REREAD_MARGIN_SECS
            }
            .validate()
            .is_ok()
        );
    }

    #[test]
    fn a_version_1_key_file_is_read_and_upgraded_at_the_first_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let mut v1 = Vec::new();
        v1.extend_from_slice(MAGIC_V1);
        v1.extend_from_slice(&7u32.to_be_bytes());
        v1.extend_from_slice(&[0; 4]);
        v1.extend_from_slice(&[9; 32]);
        v1.extend_from_slice(&[5; 32]);
        std::fs::write(&path, &v1).unwrap();
        #[cfg(unix)]
        std::fs::set_permissions(&path, private_permissions()).unwrap();
        let mut id = Identity::load_or_create(dir.path(), 500).unwrap();
        assert_eq!((id.id.as_bytes(), id.key_epoch()), (&[9u8; 32], 7));
        assert_eq!(id.current_since, 500);
        id.maintain(600, &POLICY).unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), FILE_LEN_V2);
        let again = Identity::load_or_create(dir.path(), 0).unwrap();
        assert_eq!(again.epochs(), vec![8, 7]);
        assert_eq!(again.id.as_bytes(), &[9u8; 32]);
    }
}
