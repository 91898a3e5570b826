//! The attachment blob cipher: how a file becomes blob chunks on a relay and back.
//!
//! A file is cut into [`CHUNK_PLAINTEXT`]-byte pieces; the last is zero-padded, so every
//! chunk is the same size. Chunk `i` is sealed with ChaCha20-Poly1305 under the attachment's
//! own random key ([`AttachmentKey`]), nonce = `i` as 4 bytes big-endian ‖ 8 zero bytes, and
//! associated data = [`CHUNK_LABEL`] ‖ blob id ‖ `i` (big-endian): a chunk cannot be moved to
//! another index or blob. The sealed chunk (ciphertext ‖ tag) is exactly
//! [`BLOB_CHUNK_SIZE`] bytes, one `BlobPut`. The envelope that refers to the blob carries the
//! plaintext size and SHA-256, checked after reassembly, so a missing or extra chunk is caught.

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::crypto::{TAG_LEN, aead_open, aead_seal};
use crate::envelope::{AttachmentKey, BlobId};
use crate::queue::BLOB_CHUNK_SIZE;

/// Plaintext bytes in one chunk.
pub const CHUNK_PLAINTEXT: usize = BLOB_CHUNK_SIZE - TAG_LEN;
/// Chunks one attachment may have (the relays' default cap per blob).
pub const MAX_CHUNKS: u32 = 4096;
/// The largest attachment: [`MAX_CHUNKS`] full chunks (about 14 MiB).
pub const MAX_ATTACHMENT_BYTES: u64 = CHUNK_PLAINTEXT as u64 * MAX_CHUNKS as u64;
/// Domain separation for the chunk cipher's associated data.
pub const CHUNK_LABEL: &[u8] = b"sotto/v1/blob-chunk";

/// Why an attachment could not be sealed or opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    /// Larger than [`MAX_ATTACHMENT_BYTES`]. (caller or peer)
    #[error("attachment too large")]
    TooLarge,
    /// A chunk index past the attachment's end. (caller)
    #[error("chunk index out of range")]
    Index,
    /// A chunk failed authentication or has the wrong size. (relay or peer)
    #[error("chunk does not authenticate")]
    Corrupt,
    /// The reassembled file's SHA-256 differs from the envelope's. (peer)
    #[error("attachment hash mismatch")]
    Hash,
}

/// How many chunks a file of `size` bytes takes (an empty file takes one).
pub fn chunk_count(size: u64) -> Result<u32, AttachmentError> {
    if size > MAX_ATTACHMENT_BYTES {
        return Err(AttachmentError::TooLarge);
    }
    let n = size.div_ceil(CHUNK_PLAINTEXT as u64).max(1);
    u32::try_from(n).map_err(|_| AttachmentError::TooLarge)
}

/// SHA-256 of a file, as the envelope carries it.
pub fn file_hash(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn nonce(index: u32) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..4].copy_from_slice(&index.to_be_bytes());
    n
}

fn associated_data(blob: &BlobId, index: u32) -> Vec<u8> {
    let mut ad = Vec::with_capacity(CHUNK_LABEL.len() + BlobId::LEN + 4);
    ad.extend_from_slice(CHUNK_LABEL);
    ad.extend_from_slice(blob.as_bytes());
    ad.extend_from_slice(&index.to_be_bytes());
    ad
}

/// Seals chunk `index` of `data`: exactly [`BLOB_CHUNK_SIZE`] bytes.
pub fn seal_chunk(
    key: &AttachmentKey,
    blob: &BlobId,
    data: &[u8],
    index: u32,
) -> Result<Vec<u8>, AttachmentError> {
    let count = chunk_count(data.len() as u64)?;
    if index >= count {
        return Err(AttachmentError::Index);
    }
    let start = index as usize * CHUNK_PLAINTEXT;
    let end = (start + CHUNK_PLAINTEXT).min(data.len());
    let mut buf = Vec::with_capacity(BLOB_CHUNK_SIZE);
    buf.extend_from_slice(data.get(start..end).unwrap_or_default());
    buf.resize(CHUNK_PLAINTEXT, 0);
    let tag = aead_seal(
        key.expose(),
        &nonce(index),
        &associated_data(blob, index),
        &mut buf,
    )
    .map_err(|_| AttachmentError::Corrupt)?;
    buf.extend_from_slice(&tag);
    Ok(buf)
}

/// Opens a sealed chunk: its [`CHUNK_PLAINTEXT`] bytes (padding included).
pub fn open_chunk(
    key: &AttachmentKey,
    blob: &BlobId,
    index: u32,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, AttachmentError> {
    if sealed.len() != BLOB_CHUNK_SIZE {
        return Err(AttachmentError::Corrupt);
    }
    let (body, tag) = sealed.split_at(CHUNK_PLAINTEXT);
    let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| AttachmentError::Corrupt)?;
    let mut buf = Zeroizing::new(body.to_vec());
    aead_open(
        key.expose(),
        &nonce(index),
        &associated_data(blob, index),
        &mut buf,
        &tag,
    )
    .map_err(|_| AttachmentError::Corrupt)?;
    Ok(buf)
}

/// Reassembles opened chunks (in index order) into the file of `size` bytes and checks its
/// hash.
pub fn finish(
    mut joined: Zeroizing<Vec<u8>>,
    size: u64,
    sha256: &[u8; 32],
) -> Result<Zeroizing<Vec<u8>>, AttachmentError> {
    let size = usize::try_from(size).map_err(|_| AttachmentError::TooLarge)?;
    if joined.len() < size {
        return Err(AttachmentError::Corrupt);
    }
    joined.truncate(size);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        &file_hash(&joined)[..],
        &sha256[..],
    )) {
        return Err(AttachmentError::Hash);
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn round_trip(data: &[u8]) -> Result<Zeroizing<Vec<u8>>, AttachmentError> {
        let key = AttachmentKey::from_bytes([9; 32]);
        let blob = BlobId::from_bytes([3; 16]);
        let mut joined = Zeroizing::new(Vec::new());
        for i in 0..chunk_count(data.len() as u64)? {
            let sealed = seal_chunk(&key, &blob, data, i)?;
            assert_eq!(sealed.len(), BLOB_CHUNK_SIZE);
            joined.extend_from_slice(&open_chunk(&key, &blob, i, &sealed)?);
        }
        finish(joined, data.len() as u64, &file_hash(data))
    }

    #[test]
    fn files_of_every_shape_round_trip() {
        for len in [
            0,
            1,
            CHUNK_PLAINTEXT - 1,
            CHUNK_PLAINTEXT,
            CHUNK_PLAINTEXT + 1,
            10_000,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            assert_eq!(&round_trip(&data).unwrap()[..], &data[..], "length {len}");
        }
    }

    #[test]
    fn chunks_are_bound_to_their_index_and_blob() {
        let key = AttachmentKey::from_bytes([9; 32]);
        let blob = BlobId::from_bytes([3; 16]);
        let data = vec![5u8; CHUNK_PLAINTEXT * 2];
        let sealed = seal_chunk(&key, &blob, &data, 0).unwrap();
        assert_eq!(
            open_chunk(&key, &blob, 1, &sealed).err(),
            Some(AttachmentError::Corrupt)
        );
        let other = BlobId::from_bytes([4; 16]);
        assert!(open_chunk(&key, &other, 0, &sealed).is_err());
        let mut flipped = sealed.clone();
        flipped[10] ^= 1;
        assert!(open_chunk(&key, &blob, 0, &flipped).is_err());
        assert!(open_chunk(&key, &blob, 0, &sealed[1..]).is_err());
        assert_eq!(
            seal_chunk(&key, &blob, &data, 2).err(),
            Some(AttachmentError::Index)
        );
    }

    #[test]
    fn a_wrong_hash_or_short_file_is_refused() {
        let data = vec![1u8; 100];
        let joined = Zeroizing::new(vec![1u8; CHUNK_PLAINTEXT]);
        assert_eq!(
            finish(joined.clone(), 100, &[0; 32]).err(),
            Some(AttachmentError::Hash)
        );
        assert_eq!(
            finish(joined, CHUNK_PLAINTEXT as u64 + 1, &file_hash(&data)).err(),
            Some(AttachmentError::Corrupt)
        );
        assert_eq!(
            chunk_count(MAX_ATTACHMENT_BYTES + 1),
            Err(AttachmentError::TooLarge)
        );
        assert_eq!(chunk_count(MAX_ATTACHMENT_BYTES), Ok(MAX_CHUNKS));
    }
}
