//! The store's error type.

/// A store failure. Its text names the operation, never a queue id or content.
#[derive(Debug, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(String);

impl StoreError {
    pub(crate) fn new(e: impl std::fmt::Display) -> Self {
        Self(e.to_string())
    }
}

/// A [`StoreError`] from whatever failed (redb's errors, a corrupt record).
pub(super) fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(e)
}
