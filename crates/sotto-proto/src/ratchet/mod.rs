//! The Double Ratchet with header encryption (Signal's specification, sections 3 and 4:
//! `RatchetEncryptHE`, `RatchetDecryptHE`, `TrySkippedMessageKeysHE`, `DHRatchetHE`).
//!
//! Primitives: X25519; `KDF_RK` = HKDF-SHA256 (salt = root key, ikm = DH output,
//! info = [`KDF_RK_INFO`], 96 bytes → root key ‖ chain key ‖ next header key); `KDF_CK` =
//! HMAC-SHA256 (message key = HMAC(ck, 0x01), next chain key = HMAC(ck, 0x02)); header and
//! body encryption ChaCha20-Poly1305.
//!
//! Every message is exactly [`QUEUE_MESSAGE_SIZE`] bytes:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | version (= [`crate::PROTOCOL_VERSION`]) |
//! | 1 | 1 | type: 0 = ratchet message, 1 = hello (first message of a handshake), 2 = resync request (not a ratchet message, see [`resync`]), 3 = resync accept (first message of a resynchronised session); other values reserved (a later hybrid ML-KEM step) |
//! | 2 | 32 | hello: initiator's ephemeral X25519 public key; resync accept: `E_b`; ratchet message: random bytes |
//! | 34 | 12 | header nonce (random) |
//! | 46 | 40 | encrypted header: ratchet public key (32) ‖ PN (u32 BE) ‖ N (u32 BE) |
//! | 86 | 16 | header tag |
//! | 102 | [`BODY_LEN`] | encrypted body (the padded envelope) |
//! | 3568 | 16 | body tag |
//!
//! Header AEAD: key = the chain's header key, nonce = bytes 34..46, associated data =
//! session AD (64) ‖ bytes 0..34. Body AEAD: key ‖ nonce = HKDF-SHA256(salt = empty,
//! ikm = message key, info = [`MESSAGE_KEY_INFO`], 44 bytes), associated data =
//! session AD ‖ bytes 0..102.
//!
//! Decryption works on a copy of the chain state and commits only when the body
//! authenticates, so a rejected message (forged, tampered, replayed) changes nothing. Every
//! rejection is the same [`RatchetError::Decrypt`].
//!
//! Files: this one has the state machine; `persist.rs` the session state's byte layout
//! ([`Session::to_persisted`], [`Session::from_persisted`]); `resync.rs` the resynchronisation
//! of diverged sessions.

mod persist;
pub mod resync;
#[cfg(test)]
pub(crate) mod tests;

pub use persist::{PersistedSession, SessionDecodeError};

use core::fmt;
use std::collections::VecDeque;

use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::PROTOCOL_VERSION;
use crate::codec::Reader;
use crate::crypto::{Secret32, aead_open, aead_seal, hkdf_3x32, hkdf_sha256, hmac_sha256};
use crate::keys::{KeyPair, PublicKey, SecretKey};
use crate::sizes::QUEUE_MESSAGE_SIZE;

/// Most message keys skipped in one chain by one incoming message.
pub const MAX_SKIP: u32 = 1000;
/// Most skipped message keys kept overall; the oldest are evicted first.
pub const MAX_STORED_SKIPPED: usize = 2000;

/// Message type byte: an ordinary ratchet message.
pub const TYPE_MESSAGE: u8 = 0;
/// Message type byte: the first message of a handshake, carrying the ephemeral key.
pub const TYPE_HELLO: u8 = 1;
/// Message type byte: a request to resynchronise ([`resync::ResyncRequest`]).
pub const TYPE_RESYNC_REQUEST: u8 = 2;
/// Message type byte: the answer to a resync request, the new session's first message.
pub const TYPE_RESYNC_ACCEPT: u8 = 3;

/// Bytes before the encrypted header: version, type, ephemeral-key field.
pub const PREFIX_LEN: usize = 34;
/// Header plaintext: ratchet public key ‖ PN ‖ N.
pub const HEADER_LEN: usize = 40;
/// Header nonce ‖ header ciphertext ‖ header tag.
pub const ENCRYPTED_HEADER_LEN: usize = 12 + HEADER_LEN + 16;
/// Everything in a message that is not body plaintext.
pub const OVERHEAD: usize = PREFIX_LEN + ENCRYPTED_HEADER_LEN + 16;
/// The body plaintext every message carries (= `envelope::ENVELOPE_SIZE`).
pub const BODY_LEN: usize = QUEUE_MESSAGE_SIZE - OVERHEAD;
/// Session associated data: inviter's handshake key ‖ initiator's ephemeral key.
pub const AD_LEN: usize = 64;

/// HKDF info of `KDF_RK`.
pub const KDF_RK_INFO: &[u8] = b"sotto/v1/ratchet/root";
/// HKDF info that expands a message key into body key and nonce.
pub const MESSAGE_KEY_INFO: &[u8] = b"sotto/v1/ratchet/message";

const BODY_OFFSET: usize = PREFIX_LEN + ENCRYPTED_HEADER_LEN;

/// Errors of the ratchet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RatchetError {
    /// The message could not be decrypted: malformed, forged, tampered with, replayed, or too
    /// far ahead. Deliberately one variant.
    #[error("message could not be decrypted")]
    Decrypt,
    /// API misuse: the plaintext must be exactly [`BODY_LEN`] bytes (a padded envelope).
    #[error("plaintext must be {expected} bytes, got {found}")]
    PlaintextSize { expected: usize, found: usize },
    /// API misuse: this session has no sending chain yet.
    #[error("session cannot send yet")]
    NotReady,
    /// The sending chain reached 2³² − 1 messages.
    #[error("sending chain exhausted")]
    ChainExhausted,
}

/// A stored key of a message that has not arrived yet.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
struct Skipped {
    hk: [u8; 32],
    n: u32,
    mk: [u8; 32],
}

/// Everything but the skipped keys: small, cloned for every decryption attempt.
#[derive(Clone)]
struct Chains {
    /// Our current ratchet key; its public half is derived when a message is first sent
    /// under it (a session read from storage may never send).
    dhs: SecretKey,
    dhr: Option<PublicKey>,
    rk: Secret32,
    cks: Option<Secret32>,
    ckr: Option<Secret32>,
    hks: Option<Secret32>,
    hkr: Option<Secret32>,
    nhks: Secret32,
    nhkr: Secret32,
    ns: u32,
    nr: u32,
    pn: u32,
}

/// One end of a conversation. Built by `handshake`; persisted with
/// [`Session::to_persisted`].
#[derive(Clone)]
pub struct Session {
    ad: [u8; AD_LEN],
    chains: Chains,
    skipped: VecDeque<Skipped>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("sent", &self.chains.ns)
            .field("received", &self.chains.nr)
            .field("skipped_keys", &self.skipped.len())
            .finish_non_exhaustive()
    }
}

/// Index of the used skipped key and the plaintext it opened.
type SkippedHit = (usize, Zeroizing<Vec<u8>>);

struct Header {
    dh: PublicKey,
    pn: u32,
    n: u32,
}

fn kdf_rk(rk: &Secret32, dh_out: &[u8; 32]) -> Result<[Secret32; 3], RatchetError> {
    hkdf_3x32(rk.expose(), dh_out, KDF_RK_INFO).map_err(|_| RatchetError::Decrypt)
}

/// (next chain key, message key)
fn kdf_ck(ck: &Secret32) -> (Secret32, Zeroizing<[u8; 32]>) {
    let mk = Zeroizing::new(hmac_sha256(ck.expose(), &[0x01]));
    let next = Secret32::copy_from(&Zeroizing::new(hmac_sha256(ck.expose(), &[0x02])));
    (next, mk)
}

fn message_key_material(mk: &[u8; 32]) -> Result<Zeroizing<[u8; 44]>, RatchetError> {
    let mut okm = Zeroizing::new([0u8; 44]);
    hkdf_sha256(&[], mk, MESSAGE_KEY_INFO, &mut okm[..]).map_err(|_| RatchetError::Decrypt)?;
    Ok(okm)
}

fn split_key_nonce(okm: &[u8; 44]) -> (Zeroizing<[u8; 32]>, [u8; 12]) {
    let mut key = Zeroizing::new([0u8; 32]);
    let mut nonce = [0u8; 12];
    key.copy_from_slice(&okm[..32]);
    nonce.copy_from_slice(&okm[32..]);
    (key, nonce)
}

fn dh(secret: &SecretKey, public: &PublicKey) -> Result<Zeroizing<[u8; 32]>, RatchetError> {
    let shared = secret.diffie_hellman(public);
    if !shared.is_contributory() {
        return Err(RatchetError::Decrypt);
    }
    Ok(Zeroizing::new(*shared.as_bytes()))
}

/// A message split into its parts, length and version checked.
struct Parsed<'a> {
    prefix: &'a [u8],
    nonce: [u8; 12],
    header_ct: [u8; HEADER_LEN],
    header_tag: [u8; 16],
    aad_through_header: &'a [u8],
    body: &'a [u8],
    body_tag: [u8; 16],
}

fn parse(message: &[u8]) -> Result<Parsed<'_>, RatchetError> {
    if message.len() != QUEUE_MESSAGE_SIZE {
        return Err(RatchetError::Decrypt);
    }
    let version = message.first().copied();
    let kind = message.get(1).copied();
    if version != Some(PROTOCOL_VERSION)
        || !matches!(kind, Some(TYPE_MESSAGE | TYPE_HELLO | TYPE_RESYNC_ACCEPT))
    {
        return Err(RatchetError::Decrypt);
    }
    let e = |_| RatchetError::Decrypt;
    let mut r = Reader::new(message);
    let prefix = r.take(PREFIX_LEN).map_err(e)?;
    let nonce = r.extract().map_err(e)?;
    let header_ct = r.extract().map_err(e)?;
    let header_tag = r.extract().map_err(e)?;
    let aad_through_header = message.get(..BODY_OFFSET).ok_or(RatchetError::Decrypt)?;
    let body = r.take(BODY_LEN).map_err(e)?;
    let body_tag = r.extract().map_err(e)?;
    r.should_be_exhausted().map_err(e)?;
    Ok(Parsed {
        prefix,
        nonce,
        header_ct,
        header_tag,
        aad_through_header,
        body,
        body_tag,
    })
}

/// The first 32 bytes after version and type of a hello: the initiator's ephemeral key.
pub(crate) fn hello_ephemeral_key(message: &[u8]) -> Option<PublicKey> {
    leading_key(message, TYPE_HELLO)
}

/// The public key in the first 32 bytes after version and type (offset 2), if `message` is
/// a queue message of this protocol version and of type `ty`.
fn leading_key(message: &[u8], ty: u8) -> Option<PublicKey> {
    if message.len() != QUEUE_MESSAGE_SIZE
        || message.first() != Some(&PROTOCOL_VERSION)
        || message.get(1) != Some(&ty)
    {
        return None;
    }
    let mut r = Reader::new(message);
    r.advance(2).ok()?;
    r.extract().ok().map(PublicKey::from_bytes)
}

impl Session {
    fn header_ad(&self, prefix: &[u8]) -> Vec<u8> {
        let mut ad = Vec::with_capacity(AD_LEN + PREFIX_LEN);
        ad.extend_from_slice(&self.ad);
        ad.extend_from_slice(prefix);
        ad
    }

    fn open_header(&self, hk: &[u8; 32], p: &Parsed<'_>) -> Option<Header> {
        let mut buf = Zeroizing::new(p.header_ct);
        aead_open(
            hk,
            &p.nonce,
            &self.header_ad(p.prefix),
            &mut buf[..],
            &p.header_tag,
        )
        .ok()?;
        let mut r = Reader::new(&buf[..]);
        let header = Header {
            dh: PublicKey::from_bytes(r.extract().ok()?),
            pn: r.take_u32().ok()?,
            n: r.take_u32().ok()?,
        };
        r.should_be_exhausted().ok()?;
        Some(header)
    }

    fn open_body(&self, mk: &[u8; 32], p: &Parsed<'_>) -> Result<Zeroizing<Vec<u8>>, RatchetError> {
        let okm = message_key_material(mk)?;
        let (key, nonce) = split_key_nonce(&okm);
        let mut ad = Vec::with_capacity(AD_LEN + BODY_OFFSET);
        ad.extend_from_slice(&self.ad);
        ad.extend_from_slice(p.aad_through_header);
        let mut buf = Zeroizing::new(p.body.to_vec());
        aead_open(&key, &nonce, &ad, &mut buf[..], &p.body_tag)
            .map_err(|_| RatchetError::Decrypt)?;
        Ok(buf)
    }

    /// Signal's `RatchetInitAliceHE`: the side that sends first. `their_ratchet_key` is the
    /// other side's current ratchet public key (here: the invitation's handshake key).
    pub(crate) fn new_initiator<R: CryptoRng + ?Sized>(
        rng: &mut R,
        shared_key: Secret32,
        their_ratchet_key: PublicKey,
        shared_hka: Secret32,
        shared_nhkb: Secret32,
        ad: [u8; AD_LEN],
    ) -> Result<Self, RatchetError> {
        let dhs = SecretKey::generate(rng);
        let dh_out = dh(&dhs, &their_ratchet_key)?;
        let [rk, cks, nhks] = kdf_rk(&shared_key, &dh_out)?;
        Ok(Self {
            ad,
            chains: Chains {
                dhs,
                dhr: Some(their_ratchet_key),
                rk,
                cks: Some(cks),
                ckr: None,
                hks: Some(shared_hka),
                hkr: None,
                nhks,
                nhkr: shared_nhkb,
                ns: 0,
                nr: 0,
                pn: 0,
            },
            skipped: VecDeque::new(),
        })
    }

    /// Signal's `RatchetInitBobHE` followed by `RatchetDecryptHE` of the first message: the
    /// side that receives first. Returns the session only if the first message decrypts.
    pub(crate) fn new_responder<R: CryptoRng + ?Sized>(
        rng: &mut R,
        shared_key: Secret32,
        our_ratchet_key: KeyPair,
        shared_hka: Secret32,
        shared_nhkb: Secret32,
        ad: [u8; AD_LEN],
        first_message: &[u8],
    ) -> Result<(Self, Zeroizing<Vec<u8>>), RatchetError> {
        let mut session = Self {
            ad,
            chains: Chains {
                dhs: our_ratchet_key.secret,
                dhr: None,
                rk: shared_key,
                cks: None,
                ckr: None,
                hks: None,
                hkr: None,
                nhks: shared_nhkb,
                nhkr: shared_hka,
                ns: 0,
                nr: 0,
                pn: 0,
            },
            skipped: VecDeque::new(),
        };
        let plaintext = session.decrypt(rng, first_message)?;
        Ok((session, plaintext))
    }

    /// Encrypts one padded envelope (exactly [`BODY_LEN`] bytes) into a
    /// [`QUEUE_MESSAGE_SIZE`]-byte message.
    pub fn encrypt<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, RatchetError> {
        let mut filler = [0u8; 32];
        rng.fill_bytes(&mut filler);
        self.encrypt_typed(rng, plaintext, TYPE_MESSAGE, &filler)
    }

    pub(crate) fn encrypt_typed<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        plaintext: &[u8],
        kind: u8,
        key_field: &[u8; 32],
    ) -> Result<Vec<u8>, RatchetError> {
        if plaintext.len() != BODY_LEN {
            return Err(RatchetError::PlaintextSize {
                expected: BODY_LEN,
                found: plaintext.len(),
            });
        }
        let c = &self.chains;
        let (Some(cks), Some(hks)) = (&c.cks, &c.hks) else {
            return Err(RatchetError::NotReady);
        };
        let next_ns = c.ns.checked_add(1).ok_or(RatchetError::ChainExhausted)?;
        let (next_ck, mk) = kdf_ck(cks);

        let mut msg = vec![0u8; QUEUE_MESSAGE_SIZE];
        let (prefix, rest) = msg.split_at_mut(PREFIX_LEN);
        prefix[0] = PROTOCOL_VERSION;
        prefix[1] = kind;
        prefix[2..].copy_from_slice(key_field);
        let (nonce_out, rest) = rest.split_at_mut(12);
        let (header_out, rest) = rest.split_at_mut(HEADER_LEN);
        let (header_tag_out, rest) = rest.split_at_mut(16);
        let (body_out, body_tag_out) = rest.split_at_mut(BODY_LEN);

        let mut nonce = [0u8; 12];
        rng.fill_bytes(&mut nonce);
        nonce_out.copy_from_slice(&nonce);
        header_out[..32].copy_from_slice(c.dhs.public_key().as_bytes());
        header_out[32..36].copy_from_slice(&c.pn.to_be_bytes());
        header_out[36..40].copy_from_slice(&c.ns.to_be_bytes());
        let tag = aead_seal(hks.expose(), &nonce, &self.header_ad(prefix), header_out)
            .map_err(|_| RatchetError::Decrypt)?;
        header_tag_out.copy_from_slice(&tag);

        let okm = message_key_material(&mk)?;
        let (key, body_nonce) = split_key_nonce(&okm);
        let mut ad = Vec::with_capacity(AD_LEN + BODY_OFFSET);
        ad.extend_from_slice(&self.ad);
        ad.extend_from_slice(prefix);
        ad.extend_from_slice(nonce_out);
        ad.extend_from_slice(header_out);
        ad.extend_from_slice(header_tag_out);
        body_out.copy_from_slice(plaintext);
        let tag = aead_seal(&key, &body_nonce, &ad, body_out).map_err(|_| RatchetError::Decrypt)?;
        body_tag_out.copy_from_slice(&tag);

        self.chains.cks = Some(next_ck);
        self.chains.ns = next_ns;
        Ok(msg)
    }

    /// Decrypts one message. On any failure the session is unchanged and the error is
    /// [`RatchetError::Decrypt`]. The plaintext is [`BODY_LEN`] bytes (a padded envelope).
    pub fn decrypt<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        message: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, RatchetError> {
        let p = parse(message)?;
        if let Some(found) = self.try_skipped(&p) {
            let (idx, plaintext) = found?;
            self.skipped.remove(idx);
            return Ok(plaintext);
        }

        let mut c = self.chains.clone();
        let mut new_skipped: Vec<Skipped> = Vec::new();
        let (header, dh_ratchet) = match c
            .hkr
            .as_ref()
            .and_then(|hk| self.open_header(hk.expose(), &p))
        {
            Some(h) => (h, false),
            None => (
                self.open_header(c.nhkr.expose(), &p)
                    .ok_or(RatchetError::Decrypt)?,
                true,
            ),
        };
        if dh_ratchet {
            skip_message_keys(&mut c, header.pn, &mut new_skipped)?;
            dh_ratchet_step(&mut c, rng, &header)?;
        } else if header.n < c.nr {
            // Already received (or its key was skipped and then used/evicted): a replay.
            return Err(RatchetError::Decrypt);
        }
        skip_message_keys(&mut c, header.n, &mut new_skipped)?;
        let ckr = c.ckr.as_ref().ok_or(RatchetError::Decrypt)?;
        let (next_ck, mk) = kdf_ck(ckr);
        c.ckr = Some(next_ck);
        c.nr = c.nr.checked_add(1).ok_or(RatchetError::Decrypt)?;
        let plaintext = self.open_body(&mk, &p)?;

        // Commit.
        self.chains = c;
        self.skipped.extend(new_skipped);
        while self.skipped.len() > MAX_STORED_SKIPPED {
            self.skipped.pop_front();
        }
        Ok(plaintext)
    }

    /// `TrySkippedMessageKeysHE`: `None` if no stored header key opens the header (or the
    /// opened header's number is not stored); otherwise the index to remove and the result.
    fn try_skipped(&self, p: &Parsed<'_>) -> Option<Result<SkippedHit, RatchetError>> {
        let mut tried: Vec<&[u8; 32]> = Vec::new();
        for s in &self.skipped {
            if tried.iter().any(|hk| bool::from(hk.ct_eq(&s.hk))) {
                continue;
            }
            tried.push(&s.hk);
            let Some(header) = self.open_header(&s.hk, p) else {
                continue;
            };
            let idx = self
                .skipped
                .iter()
                .position(|k| k.n == header.n && bool::from(k.hk.ct_eq(&s.hk)));
            if let Some(idx) = idx {
                let mk = self.skipped.get(idx).map(|k| k.mk)?;
                let mk = Zeroizing::new(mk);
                return Some(self.open_body(&mk, p).map(|pt| (idx, pt)));
            }
        }
        None
    }

    /// Whether `message` (one that [`Session::decrypt`] refused) belongs to this session: its
    /// header opens under a header key we hold (current, next, or a skipped key's). `true`
    /// means a duplicate or replay (a message number already used, a key already spent);
    /// `false` means a message this session cannot place: the peer's ratchet diverged from
    /// ours (or the bytes are garbage). (The client does not need it: it tells a redelivery by
    /// its body tag, since a redelivered message's chain may be gone, and treats every other
    /// message it cannot decrypt as the trigger for a resynchronisation.)
    pub fn can_place(&self, message: &[u8]) -> bool {
        let Ok(p) = parse(message) else {
            return false;
        };
        let c = &self.chains;
        let mut keys: Vec<&[u8; 32]> = c.hkr.iter().map(Secret32::expose).collect();
        keys.push(c.nhkr.expose());
        keys.extend(self.skipped.iter().map(|s| &s.hk));
        keys.iter().any(|hk| self.open_header(hk, &p).is_some())
    }

    /// Where sending stands: our current ratchet public key and the number the next message
    /// will carry. Together with the session they name the next message key (each sending
    /// chain belongs to one ratchet key), so two messages with different positions never
    /// share a key. Public values (they travel in the encrypted header), for diagnostics and
    /// for tests that check that no message key is used twice.
    pub fn send_position(&self) -> (PublicKey, u32) {
        (self.chains.dhs.public_key(), self.chains.ns)
    }

    /// How many skipped message keys are stored.
    pub fn skipped_keys(&self) -> usize {
        self.skipped.len()
    }

    /// The session's associated data (inviter's handshake key ‖ initiator's ephemeral key).
    pub fn associated_data(&self) -> &[u8; AD_LEN] {
        &self.ad
    }
}

/// `SkipMessageKeysHE`: stores the keys of messages `nr..until` of the receiving chain.
fn skip_message_keys(
    c: &mut Chains,
    until: u32,
    out: &mut Vec<Skipped>,
) -> Result<(), RatchetError> {
    if u64::from(c.nr) + u64::from(MAX_SKIP) < u64::from(until) {
        return Err(RatchetError::Decrypt);
    }
    let (Some(ckr), Some(hkr)) = (c.ckr.as_mut(), c.hkr.as_ref()) else {
        return Ok(());
    };
    while c.nr < until {
        let (next, mk) = kdf_ck(ckr);
        *ckr = next;
        out.push(Skipped {
            hk: *hkr.expose(),
            n: c.nr,
            mk: *mk,
        });
        c.nr += 1;
    }
    Ok(())
}

/// `DHRatchetHE`.
fn dh_ratchet_step<R: CryptoRng + ?Sized>(
    c: &mut Chains,
    rng: &mut R,
    header: &Header,
) -> Result<(), RatchetError> {
    c.pn = c.ns;
    c.ns = 0;
    c.nr = 0;
    c.hks = Some(c.nhks.clone());
    c.hkr = Some(c.nhkr.clone());
    c.dhr = Some(header.dh);
    let [rk, ckr, nhkr] = kdf_rk(&c.rk, &*dh(&c.dhs, &header.dh)?)?;
    c.ckr = Some(ckr);
    c.nhkr = nhkr;
    c.dhs = SecretKey::generate(rng);
    let [rk, cks, nhks] = kdf_rk(&rk, &*dh(&c.dhs, &header.dh)?)?;
    c.rk = rk;
    c.cks = Some(cks);
    c.nhks = nhks;
    Ok(())
}
