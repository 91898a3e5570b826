//! Ed25519 signing keys kept in files: a relay's descriptor-signing identity key
//! (`relay.sign` in its data directory) and a directory authority's key. A key file is the
//! 32-byte Ed25519 seed, mode 0600, created (with its directory) on first use; a file
//! readable by group or others is refused, as the relay's Sphinx key file is.

use std::io::Write;
use std::path::Path;

use sotto_proto::keys::AuthKeyPair;
use zeroize::Zeroizing;

use crate::error::RelayError;
use crate::identity::check_permissions;

/// A relay's identity (descriptor-signing) key file's name inside its data directory.
pub const SIGNING_KEY_FILE: &str = "relay.sign";

/// Loads the Ed25519 key at `path`, or creates one there.
///
/// # Errors
/// [`RelayError::DataDir`] when the file or its directory cannot be read or written,
/// [`RelayError::BadKeyFile`] when it is not 32 bytes, [`RelayError::KeyFilePermissions`]
/// when others can read it.
pub fn load_or_create(path: &Path) -> Result<AuthKeyPair, RelayError> {
    let io = |source| RelayError::DataDir {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::read(path) {
        Ok(bytes) => {
            check_permissions(path)?;
            let bytes = Zeroizing::new(bytes);
            let seed =
                <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| RelayError::BadKeyFile {
                    path: path.to_path_buf(),
                    reason: "not a 32-byte Ed25519 seed",
                })?;
            Ok(AuthKeyPair::from_persisted_bytes(seed))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir).map_err(io)?;
            let mut seed = Zeroizing::new([0u8; 32]);
            getrandom::fill(seed.as_mut_slice())
                .map_err(|e| io(std::io::Error::other(e.to_string())))?;
            let mut builder = tempfile::Builder::new();
            builder.prefix(".key.");
            #[cfg(unix)]
            builder.permissions(crate::identity::private_permissions());
            let mut tmp = builder.tempfile_in(dir).map_err(io)?;
            tmp.write_all(seed.as_slice()).map_err(io)?;
            tmp.as_file().sync_all().map_err(io)?;
            tmp.persist(path).map_err(|e| io(e.error))?;
            Ok(AuthKeyPair::from_persisted_bytes(*seed))
        }
        Err(source) => Err(io(source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("a.key");
        let key = load_or_create(&path).unwrap();
        assert_eq!(
            load_or_create(&path).unwrap().public_key(),
            key.public_key()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(
            load_or_create(&path),
            Err(RelayError::BadKeyFile { .. })
        ));
    }
}
