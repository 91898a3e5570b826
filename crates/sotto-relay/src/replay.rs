//! The relay's durable replay cache: `sotto_proto::onion::ReplayCache` over redb.
//!
//! Every replay tag a relay accepted under a key epoch is kept in that epoch's table
//! (`tags-<epoch>`, key: the 32-byte tag, value: nothing) of its own database file,
//! `replay.redb`, until the epoch's key is retired; then the whole table is dropped. The
//! cache is exact within an epoch (no capacity limit, no false positives), and survives a
//! restart.
//!
//! Writes are batched like the queue store's: the relay's state machine opens one write
//! transaction per batch of frames ([`RedbReplayCache::begin_batch`]) and commits it at the end
//! of the batch ([`RedbReplayCache::commit_batch`]). Those commits are *not* synced
//! (`Durability::None`), because forwarding a packet must not wait for a disk flush; a synced
//! commit follows at least once a second ([`RedbReplayCache::commit_batch`] with
//! `durable = true`, on the relay's tick) and on shutdown. So a clean restart keeps every tag,
//! and a crash (SIGKILL, power loss) forgets at most the tags of the last second before it.
//!
//! A store failure fails closed: the packet is treated as a replay and dropped.

use std::path::Path;

use redb::{Database, Durability, TableDefinition, TableHandle};
use sotto_proto::onion::{REPLAY_TAG_LEN, ReplayCache};

use crate::store::StoreError;

/// The replay cache's file name inside a relay's data directory.
pub const REPLAY_FILE: &str = "replay.redb";

const TABLE_PREFIX: &str = "tags-";

fn table_name(epoch: u32) -> String {
    format!("{TABLE_PREFIX}{epoch}")
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(e)
}

/// The redb-backed replay cache of one relay.
pub struct RedbReplayCache {
    db: Database,
    batch: Option<redb::WriteTransaction>,
    /// Tags committed without a sync since the last synced commit.
    unsynced: bool,
    /// A failure inside the open batch: it is aborted instead of committed.
    failed: bool,
}

impl std::fmt::Debug for RedbReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbReplayCache").finish_non_exhaustive()
    }
}

impl RedbReplayCache {
    /// Opens (or creates) the replay file and drops the tables of every epoch not in `keep`
    /// (left behind if the relay stopped between a key retirement and the table's removal).
    pub fn open(path: &Path, keep: &[u32]) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(err)?;
        let mut cache = Self {
            db,
            batch: None,
            unsynced: false,
            failed: false,
        };
        cache.retain_epochs(keep)?;
        Ok(cache)
    }

    /// Opens a write transaction that collects every tag until [`Self::commit_batch`].
    pub fn begin_batch(&mut self) -> Result<(), StoreError> {
        if self.batch.is_none() {
            let mut tx = self.db.begin_write().map_err(err)?;
            tx.set_durability(Durability::None).map_err(err)?;
            self.batch = Some(tx);
            self.failed = false;
        }
        Ok(())
    }

    /// Commits the open batch; with `durable`, synced (making every earlier unsynced commit
    /// durable too). Without a batch, `durable` still syncs what earlier commits left unsynced.
    pub fn commit_batch(&mut self, durable: bool) -> Result<(), StoreError> {
        let tx = match self.batch.take() {
            Some(tx) if self.failed => {
                self.failed = false;
                tx.abort().map_err(err)?;
                return Err(StoreError::new("replay batch aborted after a failure"));
            }
            Some(tx) => tx,
            None if durable && self.unsynced => self.db.begin_write().map_err(err)?,
            None => return Ok(()),
        };
        let mut tx = tx;
        if durable {
            tx.set_durability(Durability::Immediate).map_err(err)?;
        }
        tx.commit().map_err(err)?;
        self.unsynced = !durable;
        Ok(())
    }

    /// Drops the tags of every epoch not in `keep`, durably.
    pub fn retain_epochs(&mut self, keep: &[u32]) -> Result<(), StoreError> {
        // Finish the open batch first: tables cannot be deleted while it holds them.
        self.commit_batch(false)?;
        let mut tx = self.db.begin_write().map_err(err)?;
        tx.set_durability(Durability::Immediate).map_err(err)?;
        let doomed: Vec<String> = tx
            .list_tables()
            .map_err(err)?
            .map(|h| h.name().to_owned())
            .filter(|name| {
                name.strip_prefix(TABLE_PREFIX)
                    .and_then(|e| e.parse::<u32>().ok())
                    .is_none_or(|e| !keep.contains(&e))
            })
            .collect();
        for name in doomed {
            let def: TableDefinition<&[u8], ()> = TableDefinition::new(&name);
            tx.delete_table(def).map_err(err)?;
        }
        tx.commit().map_err(err)?;
        self.unsynced = false;
        Ok(())
    }

    /// Tags stored for `epoch` (committed or in the open batch).
    pub fn len(&self, epoch: u32) -> Result<u64, StoreError> {
        use redb::{ReadableDatabase, ReadableTableMetadata};
        let name = table_name(epoch);
        let def: TableDefinition<&[u8], ()> = TableDefinition::new(&name);
        let n = match &self.batch {
            Some(tx) => match tx.open_table(def) {
                Ok(t) => t.len().map_err(err)?,
                Err(e) => return Err(err(e)),
            },
            None => {
                let tx = self.db.begin_read().map_err(err)?;
                match tx.open_table(def) {
                    Ok(t) => t.len().map_err(err)?,
                    Err(redb::TableError::TableDoesNotExist(_)) => 0,
                    Err(e) => return Err(err(e)),
                }
            }
        };
        Ok(n)
    }

    fn insert(&mut self, epoch: u32, tag: &[u8; REPLAY_TAG_LEN]) -> Result<bool, StoreError> {
        let name = table_name(epoch);
        let def: TableDefinition<&[u8], ()> = TableDefinition::new(&name);
        let fresh = |tx: &redb::WriteTransaction| -> Result<bool, StoreError> {
            Ok(tx
                .open_table(def)
                .map_err(err)?
                .insert(tag.as_slice(), ())
                .map_err(err)?
                .is_none())
        };
        let fresh = match &self.batch {
            Some(tx) => fresh(tx)?,
            None => {
                // Outside a batch (tests, tools): one synced transaction per tag.
                let tx = self.db.begin_write().map_err(err)?;
                let f = fresh(&tx)?;
                tx.commit().map_err(err)?;
                f
            }
        };
        Ok(fresh)
    }
}

impl ReplayCache for RedbReplayCache {
    fn check_and_insert(&mut self, epoch: u32, tag: [u8; REPLAY_TAG_LEN]) -> bool {
        match self.insert(epoch, &tag) {
            Ok(fresh) => fresh,
            Err(e) => {
                self.failed = true;
                tracing::warn!(error = %e, "replay cache failed; dropping the packet");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_per_epoch_survive_reopening_and_go_with_their_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(REPLAY_FILE);
        {
            let mut c = RedbReplayCache::open(&path, &[1, 2]).unwrap();
            c.begin_batch().unwrap();
            assert!(c.check_and_insert(1, [7; 32]));
            assert!(!c.check_and_insert(1, [7; 32]), "a replay inside one batch");
            assert!(
                c.check_and_insert(2, [7; 32]),
                "another epoch is another table"
            );
            c.commit_batch(false).unwrap();
            c.begin_batch().unwrap();
            assert!(c.check_and_insert(2, [8; 32]));
            c.commit_batch(true).unwrap();
        }
        let mut c = RedbReplayCache::open(&path, &[1, 2]).unwrap();
        assert!(!c.check_and_insert(1, [7; 32]));
        assert!(!c.check_and_insert(2, [8; 32]));
        assert_eq!(c.len(2).unwrap(), 2);
        c.retain_epochs(&[2]).unwrap();
        assert_eq!(c.len(1).unwrap(), 0);
        assert!(c.check_and_insert(1, [7; 32]), "epoch 1's tags are gone");
        drop(c);
        // Opening with another key set drops the tables of epochs no longer held.
        let c = RedbReplayCache::open(&path, &[3]).unwrap();
        assert_eq!(c.len(2).unwrap(), 0);
    }

    #[test]
    fn an_aborted_batch_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = RedbReplayCache::open(&dir.path().join(REPLAY_FILE), &[1]).unwrap();
        c.begin_batch().unwrap();
        assert!(c.check_and_insert(1, [1; 32]));
        c.failed = true;
        assert!(c.commit_batch(true).is_err());
        assert!(c.check_and_insert(1, [1; 32]));
    }
}
