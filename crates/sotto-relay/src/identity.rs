//! A relay's durable identity: its [`RelayId`] and its Sphinx key, kept in one key file.
//!
//! The [`RelayId`] is 32 random bytes drawn once, when the key file is created, and kept for
//! the relay's whole life; it does not change when the Sphinx key rotates (the directory maps
//! the id to the current key and epoch). It is not derived from the key, so a rotation does not
//! invalidate routes and SURBs that name the relay.
//!
//! File layout (`relay.key`, 80 bytes, mode 0600):
//! `b"SOTTORK1"` (8) · key epoch (u32 BE) · reserved zero (4) · relay id (32) · X25519 secret (32).
//! Written to a temporary file in the same directory, synced, then renamed into place.

use std::io::Write;
use std::path::{Path, PathBuf};

use sotto_proto::ids::RelayId;
use sotto_proto::keys::SecretKey;
use sotto_proto::onion::{RelayKey, RelayKeys};
use zeroize::Zeroizing;

use crate::error::RelayError;

const MAGIC: &[u8; 8] = b"SOTTORK1";
const FILE_LEN: usize = 8 + 4 + 4 + 32 + 32;
/// The key file's name inside a relay's data directory.
pub const KEY_FILE: &str = "relay.key";

/// A relay's identity and keys.
#[derive(Clone, Debug)]
pub struct Identity {
    pub id: RelayId,
    pub keys: RelayKeys,
}

impl Identity {
    /// Loads the identity from `dir/relay.key`, or creates one there (and `dir` itself).
    pub fn load_or_create(dir: &Path) -> Result<Self, RelayError> {
        std::fs::create_dir_all(dir).map_err(|source| RelayError::DataDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(KEY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                check_permissions(&path)?;
                Self::decode(&path, Zeroizing::new(bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let identity = Self::generate()?;
                identity.write(&path)?;
                Ok(identity)
            }
            Err(source) => Err(RelayError::DataDir { path, source }),
        }
    }

    fn generate() -> Result<Self, RelayError> {
        let mut id = [0u8; 32];
        let mut secret = Zeroizing::new([0u8; 32]);
        let rng_err = |e: getrandom::Error| RelayError::Io {
            context: "system random number generator",
            source: std::io::Error::other(e.to_string()),
        };
        getrandom::fill(&mut id).map_err(rng_err)?;
        getrandom::fill(secret.as_mut_slice()).map_err(rng_err)?;
        let key = RelayKey::from_secret(1, SecretKey::from_persisted_bytes(*secret));
        Ok(Self {
            id: RelayId::from_bytes(id),
            keys: RelayKeys::new(key),
        })
    }

    fn decode(path: &Path, bytes: Zeroizing<Vec<u8>>) -> Result<Self, RelayError> {
        let bad = |reason| RelayError::BadKeyFile {
            path: path.to_path_buf(),
            reason,
        };
        let b = bytes.as_slice();
        if b.len() != FILE_LEN {
            return Err(bad("wrong length"));
        }
        if b.get(..8) != Some(MAGIC.as_slice()) {
            return Err(bad("wrong magic"));
        }
        let epoch = b
            .get(8..12)
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
            .map(u32::from_be_bytes)
            .ok_or(bad("wrong length"))?;
        let id = b
            .get(16..48)
            .and_then(RelayId::from_slice)
            .ok_or(bad("wrong length"))?;
        let secret = Zeroizing::new(
            b.get(48..80)
                .and_then(|s| <[u8; 32]>::try_from(s).ok())
                .ok_or(bad("wrong length"))?,
        );
        let key = RelayKey::from_secret(epoch, SecretKey::from_persisted_bytes(*secret));
        Ok(Self {
            id,
            keys: RelayKeys::new(key),
        })
    }

    fn write(&self, path: &Path) -> Result<(), RelayError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let io = |source| RelayError::DataDir {
            path: path.to_path_buf(),
            source,
        };
        let key = self.keys.current();
        let mut out = Zeroizing::new(Vec::with_capacity(FILE_LEN));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&key.epoch().to_be_bytes());
        out.extend_from_slice(&[0u8; 4]);
        out.extend_from_slice(self.id.as_bytes());
        out.extend_from_slice(key.secret().to_persisted_bytes().as_slice());
        let mut builder = tempfile::Builder::new();
        builder.prefix(".relay.key.");
        #[cfg(unix)]
        builder.permissions(private_permissions());
        let mut tmp = builder.tempfile_in(dir).map_err(io)?;
        tmp.write_all(&out).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// The current key's epoch, as the directory publishes it.
    pub fn key_epoch(&self) -> u32 {
        self.keys.current().epoch()
    }
}

#[cfg(unix)]
fn private_permissions() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(0o600)
}

#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<(), RelayError> {
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
fn check_permissions(_path: &Path) -> Result<(), RelayError> {
    Ok(())
}
