//! The relay snapshot: the client state kept on a relay, encrypted, so that the 24 recovery
//! words alone restore a profile on a new device (issue 16; docs/PROTOCOL.md §14).
//!
//! Everything is derived from the [`RootSecret`] of the phrase, per backup period `p`
//! ([`PERIOD_SECS`] of network time, `p = now / PERIOD_SECS`) and version slot `k` (0, 1, 2, …
//! within the period, never reused):
//!
//! ```text
//! info(label) = label ‖ p (u64 BE) ‖ k (u32 BE)
//! blob id     = HKDF-SHA256(salt = "", ikm = root, info("sotto/v1/snapshot/id"))[..16]
//! relay pick  = HKDF-SHA256(salt = "", ikm = root, info("sotto/v1/snapshot/relay"))[..8] (u64 BE)
//!               mod n, over the directory's n relays sorted by relay id
//! slot key    = HKDF-SHA256(salt = "", ikm = root, info("sotto/v1/snapshot/key"))
//! version key = HKDF-SHA256(salt = s, ikm = slot key, "sotto/v1/snapshot/version-key")
//! ```
//!
//! `s` is [`SALT_LEN`] random bytes drawn for each version written: two devices (or one after
//! a restore) that write the same slot never encrypt under the same key and nonces, so the
//! relay that holds both learns nothing from them (a slot's key alone would give it the XOR
//! of two states and let it forge).
//!
//! The plaintext `version u8 (2) ‖ total chunks u32 ‖ created at u64 ‖ state length u32 ‖
//! state ‖ zero bytes` fills `total` [`CHUNK_PLAINTEXT`]-byte pieces, `total` the smallest
//! power of two that holds it (at most [`MAX_CHUNKS`]). Chunk `i` is `s ‖` piece `i` sealed
//! with ChaCha20-Poly1305 under the version key, nonce = `i` (u32 BE) ‖ 8 zero bytes,
//! associated data = `"sotto/v1/snapshot"` ‖ p ‖ k ‖ `i` (u32 BE) ‖ `s`: exactly
//! [`BLOB_CHUNK_SIZE`] bytes, one `BlobPut`. Every chunk of a version carries the same `s`;
//! a reader takes chunk 0's and refuses any other.

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::crypto::{TAG_LEN, aead_open, aead_seal, hkdf_sha256};
use crate::ids::RelayId;
use crate::mnemonic::{RootSecret, SubKey};
use crate::queue::{BLOB_CHUNK_SIZE, BlobId};

/// Bytes of a version's random salt, in clear at the start of each of its chunks.
pub const SALT_LEN: usize = 16;
/// Plaintext bytes in one chunk.
pub const CHUNK_PLAINTEXT: usize = BLOB_CHUNK_SIZE - SALT_LEN - TAG_LEN;
/// Seconds in one backup period (one day of network time).
pub const PERIOD_SECS: u64 = 86_400;
/// Periods a restore looks at: the current one and the two before it. A relay keeps a blob
/// 48 hours, so anything older is gone; an uploading profile writes at least one snapshot in
/// every period it is open in.
pub const PERIODS_SEARCHED: u64 = 3;
/// The largest slot number a profile writes in one period; past it the period's uploads stop
/// until the next period begins (at a 10 s debounce this takes more than a day of changes).
pub const MAX_SLOT: u32 = 8191;
/// The most chunks a snapshot may take (a power of two, about 3.5 MiB).
pub const MAX_CHUNKS: u32 = 1024;
/// The snapshot format version, the first plaintext byte.
pub const VERSION: u8 = 2;
/// Bytes before the state in the plaintext: version, total, created at, state length.
pub const HEADER_LEN: usize = 1 + 4 + 8 + 4;

/// HKDF info label of the blob id.
pub const ID_LABEL: &[u8] = b"sotto/v1/snapshot/id";
/// HKDF info label of the relay pick.
pub const RELAY_LABEL: &[u8] = b"sotto/v1/snapshot/relay";
/// HKDF info label of the slot key.
pub const KEY_LABEL: &[u8] = b"sotto/v1/snapshot/key";
/// HKDF info label of a version's key (from the slot key and the version's salt).
pub const VERSION_KEY_LABEL: &[u8] = b"sotto/v1/snapshot/version-key";
/// Domain separation for the chunk cipher's associated data.
pub const CHUNK_LABEL: &[u8] = b"sotto/v1/snapshot";

/// The client state a snapshot carried: secret (every contact's keys), zeroized on drop, and
/// never printed (`Debug` shows its length only).
#[derive(Clone, PartialEq, Eq)]
pub struct SnapshotState(Zeroizing<Vec<u8>>);

impl SnapshotState {
    /// Wraps opened state bytes.
    pub fn new(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }

    /// The bytes, still zeroized on drop.
    pub fn into_inner(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

impl core::ops::Deref for SnapshotState {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl core::fmt::Debug for SnapshotState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SnapshotState({} bytes, <redacted>)", self.0.len())
    }
}

/// Why a snapshot could not be sealed or opened.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// The state does not fit in [`MAX_CHUNKS`] chunks. (caller)
    #[error("client state too large for a snapshot")]
    TooLarge,
    /// A chunk index past the snapshot's end. (caller)
    #[error("chunk index out of range")]
    Index,
    /// A chunk failed authentication or has the wrong size. (relay, or not ours)
    #[error("snapshot chunk does not authenticate")]
    Corrupt,
    /// The opened plaintext is not a snapshot this version reads: unknown version, a total
    /// that is not a power of two within bounds, a state length past the end, or non-zero
    /// padding. (writer)
    #[error("snapshot is malformed")]
    Malformed,
}

/// The backup period of `now` (Unix seconds of network time).
pub fn period_of(now: u64) -> u64 {
    now / PERIOD_SECS
}

/// Where one version of the snapshot lives and the key that seals it. Derived from the
/// recovery phrase alone; `Debug` prints the period and slot only.
#[derive(Clone)]
pub struct Address {
    /// The backup period.
    pub period: u64,
    /// The version slot within the period.
    pub slot: u32,
    /// The blob id the chunks are stored under.
    pub blob_id: BlobId,
    /// The number the relay is picked by ([`Address::relay`]).
    pub relay_pick: u64,
    key: SubKey,
}

impl core::fmt::Debug for Address {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "snapshot::Address({}/{})", self.period, self.slot)
    }
}

fn info(label: &[u8], period: u64, slot: u32) -> Vec<u8> {
    let mut info = Vec::with_capacity(label.len() + 12);
    info.extend_from_slice(label);
    info.extend_from_slice(&period.to_be_bytes());
    info.extend_from_slice(&slot.to_be_bytes());
    info
}

impl Address {
    /// The address of slot `slot` of period `period` for the profile of `root`.
    pub fn derive(root: &RootSecret, period: u64, slot: u32) -> Self {
        let id = root.derive(&info(ID_LABEL, period, slot));
        let pick = root.derive(&info(RELAY_LABEL, period, slot));
        let mut blob = [0u8; BlobId::LEN];
        blob.copy_from_slice(&id.expose()[..BlobId::LEN]);
        let mut number = [0u8; 8];
        number.copy_from_slice(&pick.expose()[..8]);
        Self {
            period,
            slot,
            blob_id: BlobId::from_bytes(blob),
            relay_pick: u64::from_be_bytes(number),
            key: root.derive(&info(KEY_LABEL, period, slot)),
        }
    }

    /// The relay that holds this version: `relay_pick mod n` over `relays` sorted by id
    /// (duplicates counted once). `None` for an empty list.
    pub fn relay(&self, relays: &[RelayId]) -> Option<RelayId> {
        let mut sorted = relays.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let n = u64::try_from(sorted.len()).ok().filter(|&n| n > 0)?;
        let i = usize::try_from(self.relay_pick % n).ok()?;
        sorted.get(i).copied()
    }

    fn nonce(index: u32) -> [u8; 12] {
        let mut n = [0u8; 12];
        n[..4].copy_from_slice(&index.to_be_bytes());
        n
    }

    fn associated_data(&self, index: u32, salt: &[u8; SALT_LEN]) -> Vec<u8> {
        let mut ad = info(CHUNK_LABEL, self.period, self.slot);
        ad.extend_from_slice(&index.to_be_bytes());
        ad.extend_from_slice(salt);
        ad
    }

    /// The key of the version salted `salt`.
    fn version_key(&self, salt: &[u8; SALT_LEN]) -> Result<Zeroizing<[u8; 32]>, SnapshotError> {
        let mut key = Zeroizing::new([0u8; 32]);
        hkdf_sha256(salt, self.key.expose(), VERSION_KEY_LABEL, &mut key[..])
            .map_err(|_| SnapshotError::Corrupt)?;
        Ok(key)
    }

    /// Seals `state` written at `created_at` (Unix seconds) as a new version, under a salt
    /// drawn from `rng`: every chunk, in index order, each exactly [`BLOB_CHUNK_SIZE`] bytes.
    /// `TooLarge` past [`MAX_CHUNKS`].
    pub fn seal<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        created_at: u64,
        state: &[u8],
    ) -> Result<Vec<Vec<u8>>, SnapshotError> {
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        self.seal_salted(&salt, created_at, state)
    }

    /// [`Address::seal`] under a given salt (the test vectors'; an application never calls it
    /// with a salt it used before at this address).
    #[doc(hidden)]
    pub fn seal_salted(
        &self,
        salt: &[u8; SALT_LEN],
        created_at: u64,
        state: &[u8],
    ) -> Result<Vec<Vec<u8>>, SnapshotError> {
        let key = self.version_key(salt)?;
        let total = chunk_count(state.len())?;
        let mut plain = Zeroizing::new(Vec::with_capacity(total as usize * CHUNK_PLAINTEXT));
        plain.push(VERSION);
        plain.extend_from_slice(&total.to_be_bytes());
        plain.extend_from_slice(&created_at.to_be_bytes());
        let len = u32::try_from(state.len()).map_err(|_| SnapshotError::TooLarge)?;
        plain.extend_from_slice(&len.to_be_bytes());
        plain.extend_from_slice(state);
        plain.resize(total as usize * CHUNK_PLAINTEXT, 0);
        let mut chunks = Vec::with_capacity(total as usize);
        for (index, piece) in (0u32..).zip(plain.chunks(CHUNK_PLAINTEXT)) {
            let mut body = piece.to_vec();
            let tag = aead_seal(
                &key,
                &Self::nonce(index),
                &self.associated_data(index, salt),
                &mut body,
            )
            .map_err(|_| SnapshotError::Corrupt)?;
            let mut buf = Vec::with_capacity(BLOB_CHUNK_SIZE);
            buf.extend_from_slice(salt);
            buf.extend_from_slice(&body);
            buf.extend_from_slice(&tag);
            chunks.push(buf);
        }
        Ok(chunks)
    }

    /// Opens sealed chunk `index`: its version's salt and its [`CHUNK_PLAINTEXT`] bytes.
    /// `Corrupt` when it is not a chunk `index` of this address (wrong size, wrong key, moved,
    /// altered). The caller checks that every chunk of a version has chunk 0's salt.
    pub fn open_chunk(
        &self,
        index: u32,
        sealed: &[u8],
    ) -> Result<([u8; SALT_LEN], Zeroizing<Vec<u8>>), SnapshotError> {
        if sealed.len() != BLOB_CHUNK_SIZE {
            return Err(SnapshotError::Corrupt);
        }
        let (salt, rest) = sealed.split_at(SALT_LEN);
        let salt: [u8; SALT_LEN] = salt.try_into().map_err(|_| SnapshotError::Corrupt)?;
        let (body, tag) = rest.split_at(CHUNK_PLAINTEXT);
        let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| SnapshotError::Corrupt)?;
        let key = self.version_key(&salt)?;
        let mut buf = Zeroizing::new(body.to_vec());
        aead_open(
            &key,
            &Self::nonce(index),
            &self.associated_data(index, &salt),
            &mut buf,
            &tag,
        )
        .map_err(|_| SnapshotError::Corrupt)?;
        Ok((salt, buf))
    }
}

/// How many chunks a snapshot of a `state_len`-byte state takes: the smallest power of two
/// that holds the header and the state. `TooLarge` past [`MAX_CHUNKS`].
pub fn chunk_count(state_len: usize) -> Result<u32, SnapshotError> {
    let need = state_len
        .checked_add(HEADER_LEN)
        .ok_or(SnapshotError::TooLarge)?
        .div_ceil(CHUNK_PLAINTEXT)
        .next_power_of_two();
    u32::try_from(need)
        .ok()
        .filter(|&n| n <= MAX_CHUNKS)
        .ok_or(SnapshotError::TooLarge)
}

/// What an opened first chunk says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Chunks in the snapshot (a power of two, at most [`MAX_CHUNKS`]).
    pub total: u32,
    /// When the snapshot was written (Unix seconds).
    pub created_at: u64,
    /// Bytes of client state.
    pub state_len: usize,
}

/// Reads the header of opened chunk 0. `Malformed` for an unknown version, a bad total or a
/// state that would not fit in it.
pub fn read_header(first: &[u8]) -> Result<Header, SnapshotError> {
    let field = |at: usize, len: usize| first.get(at..at + len).ok_or(SnapshotError::Malformed);
    if field(0, 1)? != [VERSION] {
        return Err(SnapshotError::Malformed);
    }
    let total = u32::from_be_bytes(
        field(1, 4)?
            .try_into()
            .map_err(|_| SnapshotError::Malformed)?,
    );
    let created_at = u64::from_be_bytes(
        field(5, 8)?
            .try_into()
            .map_err(|_| SnapshotError::Malformed)?,
    );
    let len = u32::from_be_bytes(
        field(13, 4)?
            .try_into()
            .map_err(|_| SnapshotError::Malformed)?,
    );
    let state_len = usize::try_from(len).map_err(|_| SnapshotError::Malformed)?;
    if !total.is_power_of_two() || total > MAX_CHUNKS || chunk_count(state_len) != Ok(total) {
        return Err(SnapshotError::Malformed);
    }
    Ok(Header {
        total,
        created_at,
        state_len,
    })
}

/// The client state out of every opened chunk joined in index order: checks the header, the
/// length and that the padding is all zero. Returns the header and the state.
pub fn finish(joined: &[u8]) -> Result<(Header, Zeroizing<Vec<u8>>), SnapshotError> {
    let header = read_header(joined)?;
    if joined.len() != header.total as usize * CHUNK_PLAINTEXT {
        return Err(SnapshotError::Malformed);
    }
    let end = HEADER_LEN + header.state_len;
    let state = joined
        .get(HEADER_LEN..end)
        .ok_or(SnapshotError::Malformed)?;
    let padding = joined.get(end..).ok_or(SnapshotError::Malformed)?;
    if padding.iter().any(|&b| b != 0) {
        return Err(SnapshotError::Malformed);
    }
    Ok((header, Zeroizing::new(state.to_vec())))
}

/// Opens a whole snapshot from its sealed chunks (in index order): every chunk authenticated
/// at its index, then [`finish`]. A missing or extra chunk is `Malformed`.
pub fn open(
    address: &Address,
    sealed: &[Vec<u8>],
) -> Result<(Header, Zeroizing<Vec<u8>>), SnapshotError> {
    let mut joined = Zeroizing::new(Vec::with_capacity(sealed.len() * CHUNK_PLAINTEXT));
    let mut version = None;
    for (index, chunk) in (0u32..).zip(sealed) {
        let (salt, piece) = address.open_chunk(index, chunk)?;
        if *version.get_or_insert(salt) != salt {
            // A chunk of another version written to the same slot.
            return Err(SnapshotError::Corrupt);
        }
        joined.extend_from_slice(&piece);
    }
    finish(&joined)
}

/// The most probes a [`Search`] makes: per period one for slot 0, then at most 14 doubling
/// and 13 halving steps over `0..=MAX_SLOT`, for [`PERIODS_SEARCHED`] periods.
pub const MAX_PROBES: u32 = PERIODS_SEARCHED as u32 * 28;

/// What a [`Search`] wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Fetch slot `slot` of period `period` and [`Search::record`] whether it is there.
    Probe { period: u64, slot: u32 },
    /// The newest version found: the last one recorded present at this period and slot.
    Found { period: u64, slot: u32 },
    /// No period searched holds a snapshot.
    NotFound,
}

/// The search for the newest snapshot, sans-IO: the current period first, then the ones
/// before it ([`PERIODS_SEARCHED`] in all). In a period, slot 0 absent means the period is
/// empty; else slots 1, 3, 7, … (doubling) until one is absent, then a binary search between
/// the highest present and the lowest absent slot. An upload puts chunk 0 last and a failed
/// one moves on to the next slot, so present slots form a prefix except for rare holes,
/// where the search may settle on an older (still whole) version of the same period.
#[derive(Debug, Clone)]
pub struct Search {
    newest: u64,
    back: u64,
    present: Option<u32>,
    absent: Option<u32>,
    step: Step,
    probes: u32,
}

impl Search {
    /// A search at network time `now` (Unix seconds).
    pub fn new(now: u64) -> Self {
        let period = period_of(now);
        Self {
            newest: period,
            back: 0,
            present: None,
            absent: None,
            step: Step::Probe { period, slot: 0 },
            probes: 0,
        }
    }

    /// What to do next.
    pub fn step(&self) -> Step {
        self.step
    }

    /// Probes recorded so far (at most [`MAX_PROBES`]).
    pub fn probes(&self) -> u32 {
        self.probes
    }

    /// Records whether the slot [`Search::step`] asked for is there; ignored unless a probe
    /// is pending.
    pub fn record(&mut self, there: bool) {
        let Step::Probe { period, slot } = self.step else {
            return;
        };
        self.probes += 1;
        if there {
            self.present = Some(slot);
        } else {
            self.absent = Some(slot);
        }
        self.step = match (self.present, self.absent) {
            (None, _) => self.previous_period(),
            (Some(lo), None) if lo >= MAX_SLOT => Step::Found { period, slot: lo },
            (Some(lo), None) => Step::Probe {
                period,
                slot: lo.saturating_mul(2).saturating_add(1).min(MAX_SLOT),
            },
            (Some(lo), Some(hi)) if hi <= lo.saturating_add(1) => Step::Found { period, slot: lo },
            (Some(lo), Some(hi)) => Step::Probe {
                period,
                slot: lo + (hi - lo) / 2,
            },
        };
    }

    fn previous_period(&mut self) -> Step {
        self.back += 1;
        self.present = None;
        self.absent = None;
        match self.newest.checked_sub(self.back) {
            Some(period) if self.back < PERIODS_SEARCHED => Step::Probe { period, slot: 0 },
            _ => Step::NotFound,
        }
    }
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
