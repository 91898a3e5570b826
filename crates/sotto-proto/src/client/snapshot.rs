//! The relay snapshot through the client: sealed from the state the driver hands in, put on
//! its relay with the blob upload path (`transfer.rs`), and fetched back for a restore from
//! the words alone (docs/PROTOCOL.md §14; the format in `crate::snapshot`).

use rand_core::CryptoRng;

use super::Client;
use super::error::{ClientError, Error};
use super::event::Event;
use super::transfer::{Cargo, Chunks, Download, Source, Upload};
use crate::ids::RelayId;
use crate::queue::ErrorCode;
use crate::snapshot::{self, Address, SnapshotError};

/// Why [`Client::fetch_snapshot`] brought nothing back.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// No such blob on the relay: never written, expired, or a failed upload's slot.
    Missing,
    /// The blob is there but does not open as this address's snapshot. (relay, or not ours)
    Invalid(SnapshotError),
    /// The request failed (unanswered, or refused for another reason).
    Failed(Error),
}

impl From<Error> for FetchError {
    fn from(error: Error) -> Self {
        match error {
            Error::RelayRefused(ErrorCode::NoBlob) => Self::Missing,
            other => Self::Failed(other),
        }
    }
}

impl Client {
    /// The relays of the directory this client uses, as [`Address::relay`] picks from.
    pub fn relay_ids(&self) -> Vec<RelayId> {
        self.relays.iter().map(|h| h.id).collect()
    }

    /// Whether a snapshot upload is under way (the driver keeps at most one in flight).
    pub fn snapshot_uploading(&self) -> bool {
        self.uploads
            .values()
            .any(|u| matches!(u.cargo, Cargo::Snapshot { .. }))
    }

    /// Gives up the snapshot upload in flight, if any: its requests are dropped and
    /// [`Event::SnapshotFailed`] (`Error::Unanswered`) follows, so the driver takes the next
    /// slot. For an upload that never settles (a relay that never answers one chunk, or no
    /// route to it): the driver's deadline. Returns whether there was one.
    pub fn abandon_snapshot_upload(&mut self) -> bool {
        let stuck = self
            .uploads
            .iter()
            .find(|(_, u)| matches!(u.cargo, Cargo::Snapshot { .. }))
            .map(|(id, _)| *id);
        if let Some(id) = stuck {
            self.fail_upload(id, super::Error::Unanswered);
        }
        stuck.is_some()
    }

    /// The relay `address` picks from this client's directory; `Moved` once the profile
    /// moved, `NoRelays` for an empty directory.
    fn snapshot_relay(&self, address: &Address) -> Result<RelayId, ClientError> {
        self.not_moved()?;
        address
            .relay(&self.relay_ids())
            .ok_or(ClientError::NoRelays)
    }

    /// Seals `state` (the driver's stored state: the bytes a restore reads back) written at
    /// `now` as version `address` and puts it on the relay the address picks from this
    /// client's directory, chunk 0 last. [`Event::SnapshotStored`] or
    /// [`Event::SnapshotFailed`] follows. `TooLarge` past [`snapshot::MAX_CHUNKS`];
    /// `NoRelays` for an empty directory. The caller never puts one address twice.
    pub fn put_snapshot<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        address: Address,
        state: &[u8],
        now: u64,
    ) -> Result<u64, ClientError> {
        let relay = self.snapshot_relay(&address)?;
        let chunks = address
            .seal(rng, now, state)
            .map_err(|_| ClientError::TooLarge)?;
        let total = u32::try_from(chunks.len()).map_err(|_| ClientError::TooLarge)?;
        let upload = self.new_request_id(rng);
        self.uploads.insert(
            upload,
            Upload {
                cargo: Cargo::Snapshot {
                    address,
                    relay,
                    chunks,
                },
                next: 0,
                done: 0,
                total,
                work: None,
            },
        );
        self.pump_upload(rng, upload, now);
        Ok(upload)
    }

    /// Fetches the snapshot at `address` from the relay it picks from this client's
    /// directory: chunk 0 first (its header tells the count), then the rest. Returns a
    /// handle; [`Event::SnapshotFetched`] or [`Event::SnapshotFetchFailed`] follows (`Missing`
    /// when chunk 0 is not there). `NoRelays` for an empty directory.
    pub fn fetch_snapshot<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        address: Address,
        now: u64,
    ) -> Result<u64, ClientError> {
        let relay = self.snapshot_relay(&address)?;
        let handle = self.new_request_id(rng);
        self.downloads.insert(
            handle,
            Download {
                source: Source::Snapshot {
                    address,
                    relay,
                    salt: None,
                },
                chunks: Chunks::default(),
                next: 0,
                total: 1,
            },
        );
        self.pump_download(rng, handle, now);
        Ok(handle)
    }

    /// A chunk of a snapshot download arrived: opened at its index; chunk 0's header sets the
    /// count; the whole is checked once every chunk is in.
    pub(super) fn on_snapshot_chunk<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        download: u64,
        index: u32,
        data: &[u8],
        now: u64,
    ) {
        let Some(d) = self.downloads.get_mut(&download) else {
            return;
        };
        let Source::Snapshot { address, salt, .. } = &mut d.source else {
            return;
        };
        let opened = match address.open_chunk(index, data) {
            Ok((s, opened)) if index < d.total && *salt.get_or_insert(s) == s => opened,
            // Another version's chunk in the same slot: not one whole version.
            Ok(_) if index < d.total => {
                return self.fail_snapshot_fetch(download, SnapshotError::Corrupt);
            }
            Ok(_) => return,
            Err(e) => return self.fail_snapshot_fetch(download, e),
        };
        if index == 0 {
            match snapshot::read_header(&opened) {
                Ok(header) => d.total = header.total,
                Err(e) => return self.fail_snapshot_fetch(download, e),
            }
        }
        d.chunks.insert(index, opened);
        if d.chunks.len() < d.total as usize {
            self.pump_download(rng, download, now);
            return;
        }
        let Some(d) = self.downloads.remove(&download) else {
            return;
        };
        self.events.push_back(match snapshot::finish(&d.joined()) {
            Ok((header, state)) => Event::SnapshotFetched {
                handle: download,
                created_at: header.created_at,
                state: snapshot::SnapshotState::new(state),
            },
            Err(e) => Event::SnapshotFetchFailed {
                handle: download,
                error: FetchError::Invalid(e),
            },
        });
    }

    fn fail_snapshot_fetch(&mut self, download: u64, error: SnapshotError) {
        if self.downloads.remove(&download).is_some() {
            self.drop_requests(|k| {
                matches!(k, super::request::PendingKind::BlobGet { download: d } if *d == download)
            });
            self.events.push_back(Event::SnapshotFetchFailed {
                handle: download,
                error: FetchError::Invalid(error),
            });
        }
    }
}
