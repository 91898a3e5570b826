//! Blob transfers: an attachment's or a relay snapshot's chunks put on (or fetched from) its
//! relay, a few in flight at a time; then the attachment's message sent (or the file
//! verified), or the snapshot reported (`client/snapshot.rs`).

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::error::{ClientError, Error, PeerMisbehaved};
use super::event::Event;
use super::request::PendingKind;
use super::{Client, ContactId};
use crate::attachment;
use crate::envelope::{Attachment, AttachmentKey, BlobId, Content, Envelope, MessageId};
use crate::ids::RelayId;
use crate::pow::{self, Scope};
use crate::queue::{self, Command};
use crate::snapshot;

/// Chunks in flight per attachment transfer.
pub(super) const TRANSFER_WINDOW: u32 = 8;

/// Failed uploads kept for a retry (with their files, in memory); the oldest goes first.
pub(super) const MAX_FAILED_UPLOADS: usize = 16;

/// What an upload carries.
pub(super) enum Cargo {
    /// An attachment, sealed chunk by chunk from its file; its message is sent once every
    /// chunk is stored.
    Attachment {
        contact: ContactId,
        envelope: Envelope,
        data: Zeroizing<Vec<u8>>,
    },
    /// A relay snapshot, sealed whole beforehand. Chunk 0 is put last, once every other chunk
    /// is stored, so a snapshot whose chunk 0 is on the relay is whole.
    Snapshot {
        address: snapshot::Address,
        relay: RelayId,
        chunks: Vec<Vec<u8>>,
    },
}

/// Blob chunks on their way to their relay.
pub(super) struct Upload {
    pub(super) cargo: Cargo,
    pub(super) next: u32,
    pub(super) done: u32,
    pub(super) total: u32,
    /// The blob's proof of work, once solved: good for this scope and difficulty. Every chunk
    /// carries it (the relay checks it only for the first chunk it gets).
    pub(super) work: Option<(Scope, u8, u64)>,
}

/// What a download fetches.
pub(super) enum Source {
    /// An attachment a contact sent.
    Attachment(Attachment),
    /// A relay snapshot: `total` is 1 until chunk 0 tells the real count, and `salt` is
    /// `None` until chunk 0 tells which version every other chunk must belong to.
    Snapshot {
        address: snapshot::Address,
        relay: RelayId,
        salt: Option<[u8; snapshot::SALT_LEN]>,
    },
}

/// Blob chunks being fetched.
pub(super) struct Download {
    pub(super) source: Source,
    /// Opened chunks, by index.
    pub(super) chunks: Chunks,
    pub(super) next: u32,
    pub(super) total: u32,
}

impl Upload {
    /// The contact and envelope of an attachment upload; `None` for a snapshot.
    pub(super) fn attachment(&self) -> Option<(ContactId, &Envelope)> {
        match &self.cargo {
            Cargo::Attachment {
                contact, envelope, ..
            } => Some((*contact, envelope)),
            Cargo::Snapshot { .. } => None,
        }
    }
}

/// A download's opened chunks, by index: a `Vec` kept sorted by index, not a `BTreeMap` (one
/// instance of its code less in the wasm, issue 18; chunks mostly arrive in order, so an
/// insert is mostly a push).
#[derive(Default)]
pub(super) struct Chunks(Vec<(u32, Zeroizing<Vec<u8>>)>);

impl Chunks {
    /// Keeps chunk `index`, in place of one already kept at that index.
    pub(super) fn insert(&mut self, index: u32, opened: Zeroizing<Vec<u8>>) {
        match self.0.binary_search_by_key(&index, |(i, _)| *i) {
            Ok(at) => self.0[at].1 = opened,
            Err(at) => self.0.insert(at, (index, opened)),
        }
    }

    /// How many distinct indexes are kept.
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    /// The chunks joined in index order.
    fn joined(&self) -> Zeroizing<Vec<u8>> {
        let mut joined = Zeroizing::new(Vec::with_capacity(
            self.0.len() * attachment::CHUNK_PLAINTEXT,
        ));
        for (_, chunk) in &self.0 {
            joined.extend_from_slice(chunk);
        }
        joined
    }
}

impl Download {
    /// The opened chunks joined in index order.
    pub(super) fn joined(&self) -> Zeroizing<Vec<u8>> {
        self.chunks.joined()
    }
}

impl Client {
    /// Sends a file: encrypts it under a fresh key, stores it as blob chunks on a random relay
    /// (a few chunks in flight at a time, [`Event::UploadProgress`] after each), then sends
    /// the message that refers to it. Returns that message's envelope (its id names the
    /// transfer in the events). `thumbnail` is an inline preview (at most
    /// [`crate::envelope::MAX_THUMBNAIL_BYTES`]), empty for none.
    ///
    /// A transfer is not part of the persisted state: after a restore the driver sends the
    /// file again if it still wants to.
    #[allow(clippy::too_many_arguments)]
    pub fn send_attachment<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        contact: ContactId,
        data: &[u8],
        mime: &str,
        name: &str,
        thumbnail: &[u8],
        now: u64,
    ) -> Result<Envelope, ClientError> {
        self.not_moved()?;
        if !self.contacts.contains_key(&contact) {
            return Err(ClientError::UnknownContact);
        }
        let total = attachment::chunk_count(data.len() as u64)?;
        // Like our queues, our blobs are never on our gateway.
        let blob_relay = self.hosting_relay(rng)?;
        let blob_id = BlobId::random(rng);
        let key = AttachmentKey::random(rng);
        let envelope = Envelope::new(
            rng,
            now,
            Content::Attachment(Attachment {
                blob_relay,
                blob_id,
                key,
                size: data.len() as u64,
                sha256: attachment::file_hash(data),
                mime: mime.to_owned(),
                name: name.to_owned(),
                thumbnail: thumbnail.to_vec(),
            }),
        );
        // Refuse names, types and previews that do not fit before anything is uploaded.
        envelope.encode().map_err(|_| ClientError::TooLarge)?;
        let upload = self.new_request_id(rng);
        self.uploads.insert(
            upload,
            Upload {
                cargo: Cargo::Attachment {
                    contact,
                    envelope: envelope.clone(),
                    data: Zeroizing::new(data.to_vec()),
                },
                next: 0,
                done: 0,
                total,
                work: None,
            },
        );
        self.pump_upload(rng, upload, now);
        Ok(envelope)
    }

    /// Fetches and verifies the file an attachment refers to. Returns a handle;
    /// [`Event::DownloadProgress`] follows each chunk, then [`Event::Downloaded`] or
    /// [`Event::DownloadFailed`]. Not persisted, like uploads.
    pub fn fetch_attachment<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        attachment: &Attachment,
        now: u64,
    ) -> Result<u64, ClientError> {
        self.not_moved()?;
        if self.hop(attachment.blob_relay).is_none() {
            return Err(ClientError::UnknownRelay);
        }
        let total = attachment::chunk_count(attachment.size)?;
        let handle = self.new_request_id(rng);
        self.downloads.insert(
            handle,
            Download {
                source: Source::Attachment(attachment.clone()),
                chunks: Chunks::default(),
                next: 0,
                total,
            },
        );
        self.pump_download(rng, handle, now);
        Ok(handle)
    }

    /// Puts chunks of an upload on the wire until the window is full.
    pub(super) fn pump_upload<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        upload: u64,
        now: u64,
    ) {
        let flying =
            self.in_flight(|k| matches!(k, PendingKind::BlobPut { upload: u, .. } if *u == upload));
        let mut room = TRANSFER_WINDOW.saturating_sub(flying);
        while room > 0 {
            let Some(u) = self.uploads.get_mut(&upload) else {
                return;
            };
            if u.next >= u.total {
                return;
            }
            let (relay, blob_id, index, data) = match &u.cargo {
                Cargo::Attachment { envelope, data, .. } => {
                    let Content::Attachment(a) = &envelope.content else {
                        return;
                    };
                    let Ok(sealed) = attachment::seal_chunk(&a.key, &a.blob_id, data, u.next)
                    else {
                        return;
                    };
                    (a.blob_relay, a.blob_id, u.next, sealed)
                }
                Cargo::Snapshot {
                    address,
                    relay,
                    chunks,
                } => {
                    // Chunks 1.. first; chunk 0 only once all of them are stored.
                    let index = (u.next + 1) % u.total;
                    if index == 0 && u.done + 1 < u.total {
                        return;
                    }
                    let Some(sealed) = chunks.get(index as usize) else {
                        return;
                    };
                    (*relay, address.blob_id, index, sealed.clone())
                }
            };
            u.next += 1;
            // Solved once per blob (again only if the relay's epoch or difficulty changed).
            let (scope, bits) = self.pow_terms(relay);
            let Some(u) = self.uploads.get_mut(&upload) else {
                return;
            };
            let pow_nonce = match u.work {
                Some((s, b, nonce)) if s == scope && b == bits => nonce,
                _ => {
                    let challenge = queue::blob_challenge(&scope, &blob_id);
                    let Ok(nonce) = pow::solve(&challenge, bits) else {
                        return;
                    };
                    u.work = Some((scope, bits, nonce));
                    nonce
                }
            };
            let command = Command::BlobPut {
                blob_id,
                index,
                pow_nonce,
                data,
            };
            let id = self.new_request_id(rng);
            self.dispatch(
                rng,
                id,
                PendingKind::BlobPut {
                    upload,
                    pow_retried: false,
                },
                relay,
                command,
                now,
            );
            room -= 1;
        }
    }

    /// Asks for chunks of a download until the window is full.
    pub(super) fn pump_download<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        download: u64,
        now: u64,
    ) {
        let flying =
            self.in_flight(|k| matches!(k, PendingKind::BlobGet { download: d } if *d == download));
        let mut room = TRANSFER_WINDOW.saturating_sub(flying);
        while room > 0 {
            let Some(d) = self.downloads.get_mut(&download) else {
                return;
            };
            if d.next >= d.total {
                return;
            }
            let index = d.next;
            d.next += 1;
            let (relay, blob_id) = match &d.source {
                Source::Attachment(a) => (a.blob_relay, a.blob_id),
                Source::Snapshot { address, relay, .. } => (*relay, address.blob_id),
            };
            let command = Command::BlobGet { blob_id, index };
            let id = self.new_request_id(rng);
            self.dispatch(
                rng,
                id,
                PendingKind::BlobGet { download },
                relay,
                command,
                now,
            );
            room -= 1;
        }
    }

    /// The relay already had this chunk. For an attachment that is a retried chunk whose
    /// first copy was stored. For a snapshot it may also be a slot another device used (a
    /// restored profile's first slots): the slot is given up (`SnapshotFailed`), never
    /// mixed with what is there.
    pub(super) fn on_chunk_duplicate<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        upload: u64,
        now: u64,
    ) {
        match self.uploads.get(&upload).map(|u| &u.cargo) {
            Some(Cargo::Snapshot { .. }) => self.fail_upload(
                upload,
                Error::RelayRefused(crate::queue::ErrorCode::Duplicate),
            ),
            _ => self.on_chunk_stored(rng, upload, now),
        }
    }

    pub(super) fn on_chunk_stored<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        upload: u64,
        now: u64,
    ) {
        let Some(u) = self.uploads.get_mut(&upload) else {
            return;
        };
        u.done += 1;
        if let Cargo::Attachment {
            contact, envelope, ..
        } = &u.cargo
        {
            self.events.push_back(Event::UploadProgress {
                contact: *contact,
                message: envelope.id,
                done: u.done,
                total: u.total,
            });
        }
        if u.done < u.total {
            self.pump_upload(rng, upload, now);
            return;
        }
        match self.uploads.remove(&upload).map(|u| u.cargo) {
            Some(Cargo::Attachment {
                contact, envelope, ..
            }) => {
                // The contact may be gone meanwhile; then there is no one to tell.
                let _ = self.send_envelope(rng, contact, &envelope, now);
            }
            Some(Cargo::Snapshot { address, .. }) => {
                self.events.push_back(Event::SnapshotStored {
                    period: address.period,
                    slot: address.slot,
                });
            }
            None => {}
        }
    }

    pub(super) fn on_chunk_fetched<R: CryptoRng + ?Sized>(
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
        let a = match &d.source {
            Source::Attachment(a) => a,
            Source::Snapshot { .. } => {
                return self.on_snapshot_chunk(rng, download, index, data, now);
            }
        };
        let opened = match attachment::open_chunk(&a.key, &a.blob_id, index, data) {
            Ok(opened) if index < d.total => opened,
            Ok(_) => return,
            Err(e) => {
                return self.fail_download(
                    download,
                    Error::PeerMisbehaved(PeerMisbehaved::Attachment(e)),
                );
            }
        };
        d.chunks.insert(index, opened);
        let (done, total) = (u32::try_from(d.chunks.len()).unwrap_or(u32::MAX), d.total);
        self.events.push_back(Event::DownloadProgress {
            handle: download,
            done,
            total,
        });
        if done < total {
            self.pump_download(rng, download, now);
            return;
        }
        let Some(d) = self.downloads.remove(&download) else {
            return;
        };
        let Source::Attachment(a) = &d.source else {
            return;
        };
        match attachment::finish(d.joined(), a.size, &a.sha256) {
            Ok(data) => self.events.push_back(Event::Downloaded {
                handle: download,
                data,
            }),
            Err(e) => self.events.push_back(Event::DownloadFailed {
                handle: download,
                error: Error::PeerMisbehaved(PeerMisbehaved::Attachment(e)),
            }),
        }
    }

    /// The relay refused a chunk: the upload ends and its message is not sent. The upload is
    /// kept (in memory) for [`Client::retry_message`].
    pub(super) fn fail_upload(&mut self, upload: u64, error: Error) {
        if let Some(u) = self.uploads.remove(&upload) {
            self.drop_requests(
                |k| matches!(k, PendingKind::BlobPut { upload: x, .. } if *x == upload),
            );
            let (contact, message) = match &u.cargo {
                Cargo::Attachment {
                    contact, envelope, ..
                } => (*contact, envelope.id),
                Cargo::Snapshot { address, .. } => {
                    return self.events.push_back(Event::SnapshotFailed {
                        period: address.period,
                        slot: address.slot,
                        error,
                    });
                }
            };
            self.events.push_back(Event::UploadFailed {
                contact,
                message,
                error,
            });
            if self.failed_uploads.len() == MAX_FAILED_UPLOADS {
                self.failed_uploads.remove(0);
            }
            self.failed_uploads.push(u);
        }
    }

    /// Uploads again, from its first chunk, the file of `message` whose upload failed: as a
    /// new blob on a relay picked afresh (the one that refused may still be full), under the
    /// same message id. Returns the contact; `UnknownMessage` when no failed upload has that
    /// id (failed uploads are not persisted: after a restore the file must be sent again).
    pub(super) fn retry_upload<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        message: MessageId,
        now: u64,
    ) -> Result<ContactId, ClientError> {
        let at = self
            .failed_uploads
            .iter()
            .position(|u| u.attachment().is_some_and(|(_, e)| e.id == message))
            .ok_or(ClientError::UnknownMessage)?;
        let contact = match self.failed_uploads[at].attachment() {
            Some((contact, _)) if self.contacts.contains_key(&contact) => contact,
            _ => {
                self.failed_uploads.swap_remove(at);
                return Err(ClientError::UnknownMessage);
            }
        };
        let blob_relay = self.hosting_relay(rng)?;
        let mut u = self.failed_uploads.swap_remove(at);
        if let Cargo::Attachment { envelope, .. } = &mut u.cargo
            && let Content::Attachment(a) = &mut envelope.content
        {
            a.blob_relay = blob_relay;
            a.blob_id = BlobId::random(rng);
        }
        u.next = 0;
        u.done = 0;
        u.work = None;
        let upload = self.new_request_id(rng);
        self.uploads.insert(upload, u);
        self.pump_upload(rng, upload, now);
        Ok(contact)
    }

    /// The attachment of `message` while its file is being uploaded: where it goes (a retry
    /// picks a new relay and blob id). `None` when no upload of that message is under way.
    pub fn uploading(&self, message: MessageId) -> Option<&Attachment> {
        self.uploads
            .values()
            .filter_map(Upload::attachment)
            .find(|(_, e)| e.id == message)
            .and_then(|(_, e)| match &e.content {
                Content::Attachment(a) => Some(a),
                _ => None,
            })
    }

    pub(super) fn fail_download(&mut self, download: u64, error: Error) {
        if let Some(d) = self.downloads.remove(&download) {
            self.drop_requests(
                |k| matches!(k, PendingKind::BlobGet { download: d } if *d == download),
            );
            self.events.push_back(match d.source {
                Source::Attachment(_) => Event::DownloadFailed {
                    handle: download,
                    error,
                },
                Source::Snapshot { .. } => Event::SnapshotFetchFailed {
                    handle: download,
                    error: super::snapshot::FetchError::from(error),
                },
            });
        }
    }
}

#[cfg(test)]
mod chunk_tests {
    use super::*;

    /// Chunks arriving out of order are joined in index order; a second chunk at an index
    /// replaces the first and is counted once.
    #[test]
    fn chunks_join_in_index_order_one_per_index() {
        let mut chunks = Chunks::default();
        for (index, byte) in [(2, b'c'), (0, b'x'), (1, b'b'), (0, b'a')] {
            chunks.insert(index, Zeroizing::new(vec![byte]));
        }
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks.joined().as_slice(), b"abc");
    }
}
