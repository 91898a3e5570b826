//! The ids of the envelopes last read from a contact (issue 18, review): an envelope whose id
//! is among them is dropped, not delivered again. The ratchet drops a message read before
//! (and `super::resync::SyncState` its redelivered bytes), but not the same envelope in new
//! bytes: twice in one batch, or sealed again by a device restored from a backup made while
//! it waited in the outbox (the old device had sent it already). Persisted in the contact's
//! record (docs/PROTOCOL.md §6).

use std::collections::VecDeque;

use super::error::PersistError;
use crate::codec::{Reader, SecretWriter, Writer as _};
use crate::envelope::MessageId;

/// How many ids are kept: the most recent, the oldest forgotten first. The window is written
/// with the contact on every message received, so it stays small: 32 ids are 258 bytes, which
/// with the 32 body tags of `resync.rs` keeps the bytes written per received message under
/// 2 KB when both are full (issue 18's goal; a window of 256 would add 2 KB to each).
/// Repeats inside one batch are caught whatever its length (`Client::deliver` compares the
/// batch's whole ids too); a backup's outbox seldom holds more.
pub(super) const READ_IDS: usize = 32;

/// Bytes kept of each id: its first 8 (from layout version 9; 16 before). Ids are 16 random
/// bytes the peer chose, so two of its envelopes share a prefix with probability 2^-64 per
/// pair (it would drop its own message); whoever can make one share a prefix on purpose is
/// the peer, who can leave a message out anyway.
pub(super) const KEPT_ID_LEN: usize = 8;

/// The first [`KEPT_ID_LEN`] bytes of `id`.
fn kept(id: &MessageId) -> [u8; KEPT_ID_LEN] {
    let mut k = [0; KEPT_ID_LEN];
    k.copy_from_slice(&id.as_bytes()[..KEPT_ID_LEN]);
    k
}

/// The ids of the last [`READ_IDS`] envelopes read from one contact (their first
/// [`KEPT_ID_LEN`] bytes), oldest first.
#[derive(Default)]
pub(super) struct ReadIds(VecDeque<[u8; KEPT_ID_LEN]>);

impl ReadIds {
    /// Notes `id` as read: `false` when it was read before (it is then not delivered again).
    pub(super) fn note(&mut self, id: MessageId) -> bool {
        self.note_kept(kept(&id))
    }

    fn note_kept(&mut self, id: [u8; KEPT_ID_LEN]) -> bool {
        if self.0.contains(&id) {
            return false;
        }
        if self.0.len() == READ_IDS {
            self.0.pop_front();
        }
        self.0.push_back(id);
        true
    }

    /// The ids kept, oldest first (their first [`KEPT_ID_LEN`] bytes).
    #[cfg(test)]
    pub(super) fn kept(&self) -> impl Iterator<Item = &[u8; KEPT_ID_LEN]> {
        self.0.iter()
    }

    /// The length of what [`ReadIds::write`] writes.
    pub(super) fn persisted_len(&self) -> usize {
        2 + KEPT_ID_LEN * self.0.len()
    }

    /// `count u16 ‖ count × id (its first 8 bytes)`, oldest first.
    pub(super) fn write(&self, w: &mut SecretWriter) {
        w.put_u16(u16::try_from(self.0.len()).unwrap_or(0));
        for id in &self.0 {
            w.put_bytes(id);
        }
    }

    /// What [`ReadIds::write`] wrote in layout `version` (whole 16-byte ids before 9, each
    /// kept as its first 8 bytes): at most [`READ_IDS`] ids, none twice.
    pub(super) fn read(r: &mut Reader<'_>, version: u8) -> Result<Self, PersistError> {
        let n = usize::from(r.take_u16()?);
        if n > READ_IDS {
            return Err(PersistError::Invalid("too many read ids"));
        }
        let mut ids = ReadIds(VecDeque::with_capacity(n));
        for _ in 0..n {
            let id = if version >= 9 {
                r.extract()?
            } else {
                kept(&MessageId::from_bytes(r.extract()?))
            };
            // Version 8 kept whole ids: two that the peer chose to share their first 8 bytes
            // are one now, kept once (refusing them would leave the profile unreadable).
            if !ids.note_kept(id) && version >= 9 {
                return Err(PersistError::Invalid("a read id twice"));
            }
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn id(i: usize) -> MessageId {
        let mut b = [0; 16];
        b[..8].copy_from_slice(&(i as u64).to_be_bytes());
        MessageId::from_bytes(b)
    }

    #[test]
    fn the_last_ids_are_kept_the_oldest_forgotten_and_they_round_trip() {
        let mut ids = ReadIds::default();
        for i in 0..READ_IDS + 1 {
            assert!(ids.note(id(i)));
        }
        assert!(!ids.note(id(READ_IDS)), "read before");
        assert!(!ids.note(id(1)), "still in the window");
        let mut w = SecretWriter::with_capacity(0);
        ids.write(&mut w);
        let bytes = w.into_inner();
        assert_eq!(bytes.len(), 2 + 8 * READ_IDS);
        assert_eq!(ids.persisted_len(), bytes.len());
        let mut r = Reader::new(&bytes);
        let mut back = ReadIds::read(&mut r, 9).unwrap();
        assert!(r.should_be_exhausted().is_ok());
        assert_eq!(back.0, ids.0);
        assert!(back.note(id(0)), "forgotten: the oldest went first");
    }

    #[test]
    fn a_damaged_window_is_refused() {
        let mut ids = ReadIds::default();
        ids.note(id(1));
        ids.note(id(2));
        let mut w = SecretWriter::with_capacity(0);
        ids.write(&mut w);
        let good = w.into_inner().to_vec();
        let too_many = u16::try_from(READ_IDS + 1).unwrap().to_be_bytes();
        let mut twice = good.clone();
        twice.copy_within(2..10, 10);
        for bad in [
            [&too_many[..], &good[2..]].concat(),
            twice,
            good[..good.len() - 1].to_vec(),
        ] {
            assert!(ReadIds::read(&mut Reader::new(&bad), 9).is_err());
        }
    }

    /// A window of layout version 8 (whole ids) reads as their first 8 bytes.
    #[test]
    fn a_version_8_window_of_whole_ids_reads() {
        let mut v8 = vec![0, 2];
        v8.extend_from_slice(id(1).as_bytes());
        v8.extend_from_slice(id(2).as_bytes());
        let mut r = Reader::new(&v8);
        let mut back = ReadIds::read(&mut r, 8).unwrap();
        assert!(r.should_be_exhausted().is_ok());
        assert!(!back.note(id(1)) && !back.note(id(2)));
        assert!(back.note(id(3)));

        // Two whole ids that share their first 8 bytes (a peer picks its envelopes' ids, and
        // version 8 kept both) read as one; in version 9 the same id twice is refused.
        let (mut a, mut b) = ([7u8; 16], [7u8; 16]);
        (a[15], b[15]) = (1, 2);
        let v8 = [&[0, 2][..], &a, &b].concat();
        let back = ReadIds::read(&mut Reader::new(&v8), 8).expect("a planted prefix reads");
        assert_eq!(back.kept().count(), 1);
        let v9 = [&[0, 2][..], &a[..8], &a[..8]].concat();
        assert!(ReadIds::read(&mut Reader::new(&v9), 9).is_err());
    }
}
