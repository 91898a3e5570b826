//! The load generator's errors, by whose fault they are.

/// Why a load-generator run (or a driver call) failed. Displays as its message alone.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    /// The options are invalid, or name a network loadgen refuses to drive (not on loopback).
    /// (operator)
    #[error("{0}")]
    Options(String),
    /// The network under test could not be reached, answered wrongly, or a client failed
    /// (HTTP, WebSocket, directory, set-up timeouts). (network or machine)
    #[error("{0}")]
    Network(String),
}

/// An [`LoadgenError::Options`].
pub(crate) fn usage(msg: impl Into<String>) -> LoadgenError {
    LoadgenError::Options(msg.into())
}

/// A [`LoadgenError::Network`].
pub(crate) fn failed(msg: impl Into<String>) -> LoadgenError {
    LoadgenError::Network(msg.into())
}
