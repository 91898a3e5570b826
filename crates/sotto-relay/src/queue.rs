//! The relay's queue service: executes queue commands that arrive as the plaintext of onion
//! packets whose last hop is this relay, against the durable store, and answers through the
//! command's reply SURB.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sotto_proto::ids::RelayId;
use sotto_proto::onion::Packet;

use crate::error::RelayError;

/// The store file's name inside a relay's data directory.
pub const STORE_FILE: &str = "store.redb";

/// The queue service of one relay. Cheap to clone.
#[derive(Clone)]
pub struct QueueService {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    db: redb::Database,
}

impl QueueService {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, RelayError> {
        let path = dir.join(STORE_FILE);
        let db = redb::Database::create(&path).map_err(|e| RelayError::store(&path, e))?;
        Ok(Self {
            inner: Arc::new(Inner { path, db }),
        })
    }

    /// Executes one command; returns the reply packet and the relay to send it to.
    pub async fn handle(&self, _payload: Vec<u8>) -> Option<(RelayId, Packet)> {
        None
    }

    /// Flushes the store (every commit is already durable; this compacts nothing and only
    /// makes sure no write transaction is left open).
    pub fn flush(&self) -> Result<(), RelayError> {
        let tx = self
            .inner
            .db
            .begin_write()
            .map_err(|e| RelayError::store(&self.inner.path, e))?;
        tx.commit()
            .map_err(|e| RelayError::store(&self.inner.path, e))
    }
}

impl QueueService {
    /// Starts the TTL sweeper for this store (no-op until queues exist).
    pub fn start_sweeper(&self, _relay: Arc<crate::relay::Relay>) {}
}
