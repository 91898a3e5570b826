//! The relay's errors. Each says whose fault it is: the operator's input (flags, config, data
//! directory, ports) or the machine (I/O, the store). Peer misbehaviour never becomes an
//! error here: a bad frame or packet is dropped and counted (see [`crate::metrics`]).

use std::net::SocketAddr;
use std::path::PathBuf;

/// Errors that stop the relay (or keep it from starting). `main` prints them as one line.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// A listener could not be bound (busy port, no permission). (operator)
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The data directory or a file in it cannot be created, read or written. (operator)
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The relay's key file exists but is not one this build wrote. (operator)
    #[error("key file {path} is not a Sotto relay key ({reason})")]
    BadKeyFile { path: PathBuf, reason: &'static str },
    /// The key file can be read by others. (operator)
    #[error("key file {path} is readable by group or others; run: chmod 600 {path}")]
    KeyFilePermissions { path: PathBuf },
    /// The durable store failed (open, transaction, commit). (machine or operator)
    #[error("store {path}: {message}")]
    Store { path: PathBuf, message: String },
    /// The configuration is invalid. (operator)
    #[error("config: {0}")]
    Config(String),
    /// Some other I/O failure (signal handlers, the runtime). (machine)
    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl RelayError {
    pub(crate) fn store(path: &std::path::Path, err: impl std::fmt::Display) -> Self {
        Self::Store {
            path: path.to_path_buf(),
            message: err.to_string(),
        }
    }
}
