//! The session state's byte layout (see `docs/protocol/crypto.md`, "Session state"): what
//! [`Session::to_persisted`] writes and [`Session::from_persisted`] reads back.

use std::collections::VecDeque;

use zeroize::Zeroizing;

use super::{AD_LEN, Chains, MAX_STORED_SKIPPED, Session, Skipped};
use crate::codec::{CodecError, Reader, SecretWriter, Writer, persisted_bytes};
use crate::crypto::Secret32;
use crate::keys::{PublicKey, SecretKey};

/// Errors reading a persisted session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionDecodeError {
    #[error("session state version {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("session state is truncated")]
    Truncated,
    #[error("session state has trailing bytes")]
    TrailingBytes,
    #[error("session state has invalid flags")]
    InvalidFlags,
    #[error("session state holds too many skipped keys")]
    TooManySkipped,
}

persisted_bytes!(
    /// A serialized session. Holds every key of the conversation: encrypt it before it touches
    /// storage. Zeroized on drop, never printed.
    PersistedSession,
    "The serialized session (see `docs/protocol/crypto.md`, `Session::to_persisted`)."
);

const STATE_VERSION: u8 = 1;
const STATE_FIXED_LEN: usize = 1 + AD_LEN + 32 + 1 + 3 * 32 + 3 * 4;
const FLAG_DHR: u8 = 0x01;
const FLAG_CKS: u8 = 0x02;
const FLAG_CKR: u8 = 0x04;
const FLAG_HKS: u8 = 0x08;
const FLAG_HKR: u8 = 0x10;
const FLAG_ALL: u8 = 0x1f;
/// Bytes of one stored skipped key: header key, message number, message key.
const SKIPPED_LEN: usize = 32 + 4 + 32;
const _: () = assert!(MAX_STORED_SKIPPED < u16::MAX as usize);

impl From<CodecError> for SessionDecodeError {
    fn from(e: CodecError) -> Self {
        match e {
            CodecError::TrailingBytes { .. } => Self::TrailingBytes,
            CodecError::Truncated { .. } | CodecError::BadLength { .. } => Self::Truncated,
        }
    }
}

fn take_secret(r: &mut Reader<'_>) -> Result<Secret32, SessionDecodeError> {
    let a = Zeroizing::new(r.extract::<[u8; 32]>()?);
    Ok(Secret32::copy_from(&a))
}

impl Session {
    /// At least the length of [`Session::to_persisted`]'s bytes (and close to it), for a
    /// writer that must not grow (a grown buffer leaves a copy of the secrets behind).
    pub fn persisted_len(&self) -> usize {
        STATE_FIXED_LEN + 5 * 32 + 2 + self.skipped.len() * SKIPPED_LEN
    }

    /// Serializes the whole state (see `docs/protocol/crypto.md`, "Session state").
    pub fn to_persisted(&self) -> PersistedSession {
        let c = &self.chains;
        let mut out = SecretWriter::with_capacity(self.persisted_len());
        out.put_u8(STATE_VERSION);
        out.put(&self.ad);
        out.put(&*c.dhs.to_persisted_bytes());
        let mut flags = 0u8;
        for (bit, present) in [
            (FLAG_DHR, c.dhr.is_some()),
            (FLAG_CKS, c.cks.is_some()),
            (FLAG_CKR, c.ckr.is_some()),
            (FLAG_HKS, c.hks.is_some()),
            (FLAG_HKR, c.hkr.is_some()),
        ] {
            if present {
                flags |= bit;
            }
        }
        out.put_u8(flags);
        out.put(c.rk.expose());
        out.put(c.nhks.expose());
        out.put(c.nhkr.expose());
        out.put_u32(c.ns);
        out.put_u32(c.nr);
        out.put_u32(c.pn);
        if let Some(k) = &c.dhr {
            out.put(k.as_bytes());
        }
        for k in [&c.cks, &c.ckr, &c.hks, &c.hkr].into_iter().flatten() {
            out.put(k.expose());
        }
        // MAX_STORED_SKIPPED < u16::MAX (checked at compile time below)
        out.put_u16(u16::try_from(self.skipped.len()).unwrap_or(u16::MAX));
        for s in &self.skipped {
            out.put(&s.hk);
            out.put_u32(s.n);
            out.put(&s.mk);
        }
        PersistedSession(out.into_inner())
    }

    /// Reads what [`Session::to_persisted`] wrote.
    pub fn from_persisted(bytes: &[u8]) -> Result<Self, SessionDecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.take_u8()?;
        if version != STATE_VERSION {
            return Err(SessionDecodeError::UnsupportedVersion(version));
        }
        let ad: [u8; AD_LEN] = r.extract()?;
        let secret = SecretKey::from_persisted_bytes(*Zeroizing::new(r.extract::<[u8; 32]>()?));
        let flags = r.take_u8()?;
        if flags & !FLAG_ALL != 0 {
            return Err(SessionDecodeError::InvalidFlags);
        }
        let rk = take_secret(&mut r)?;
        let nhks = take_secret(&mut r)?;
        let nhkr = take_secret(&mut r)?;
        let ns = r.take_u32()?;
        let nr = r.take_u32()?;
        let pn = r.take_u32()?;
        let dhr = if flags & FLAG_DHR != 0 {
            Some(PublicKey::from_bytes(r.extract()?))
        } else {
            None
        };
        let mut opt = |bit: u8| -> Result<Option<Secret32>, SessionDecodeError> {
            if flags & bit != 0 {
                take_secret(&mut r).map(Some)
            } else {
                Ok(None)
            }
        };
        let cks = opt(FLAG_CKS)?;
        let ckr = opt(FLAG_CKR)?;
        let hks = opt(FLAG_HKS)?;
        let hkr = opt(FLAG_HKR)?;
        let count = usize::from(r.take_u16()?);
        if count > MAX_STORED_SKIPPED {
            return Err(SessionDecodeError::TooManySkipped);
        }
        let mut skipped = VecDeque::with_capacity(count);
        for _ in 0..count {
            let hk = r.extract()?;
            let n = r.take_u32()?;
            let mk = r.extract()?;
            skipped.push_back(Skipped { hk, n, mk });
        }
        r.should_be_exhausted()?;
        Ok(Self {
            ad,
            chains: Chains {
                dhs: secret,
                dhr,
                rk,
                cks,
                ckr,
                hks,
                hkr,
                nhks,
                nhkr,
                ns,
                nr,
                pn,
            },
            skipped,
        })
    }
}
