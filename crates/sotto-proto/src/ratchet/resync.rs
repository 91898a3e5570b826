//! Resynchronising a conversation whose two ratchets diverged (a state rolled back, a backup
//! restored, a chain of messages lost): a new Double Ratchet session, authenticated by a
//! per-contact *resync secret* both sides derived at the handshake, under the same session
//! associated data (so the security code and a `verified` mark are unchanged).
//!
//! Two queue messages, each exactly [`QUEUE_MESSAGE_SIZE`] bytes, sent on the ordinary send
//! queue of the contact (see `docs/PROTOCOL.md`, "Ratchet resynchronisation"):
//!
//! **ResyncRequest** (type [`TYPE_RESYNC_REQUEST`]), from the side that cannot decrypt:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | version |
//! | 1 | 1 | type = 2 |
//! | 2 | 32 | `E_a`: a fresh X25519 public key |
//! | 34 | 16 | nonce (random) |
//! | 50 | 32 | MAC = HMAC-SHA256(resync secret, [`REQUEST_MAC_INFO`] ‖ AD ‖ bytes 0..50) |
//! | 82 | rest | random padding |
//!
//! A request from a device that restored the profile from a backup (see
//! [`ResyncRequest::restored`]) carries the backup's time in bytes 82..90 (u64, seconds) and its
//! MAC is `HMAC-SHA256(resync secret, ` [`RESTORED_MAC_INFO`] ` ‖ AD ‖ bytes 0..50 ‖ bytes
//! 82..90)`: the peer learns, authenticated, that the contact restored and from when.
//!
//! **ResyncAccept** (type [`TYPE_RESYNC_ACCEPT`]): the first message of the new session,
//! laid out as every ratchet message (see [`super`]) with `E_b`, a fresh X25519 public key, in
//! the key field at offset 2 (as a hello carries `EK`). Its sender is the new session's
//! initiator (Signal's `RatchetInitAliceHE` with the peer's ratchet key = `E_a`); the
//! requester is its responder (`RatchetInitBobHE` with the key pair of `E_a`). Both derive
//!
//! `SK ‖ HKa ‖ NHKb = HKDF-SHA256(salt = resync secret, ikm = DH(E_a, E_b),
//! info = ` [`SESSION_INFO`] ` ‖ AD ‖ E_a ‖ nonce ‖ E_b, 96 bytes)`.
//!
//! The accept authenticates by decrypting: its header and body keys come from the resync
//! secret and from both keys and the request's nonce, so it answers that one request only.

use core::fmt;

use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{
    AD_LEN, RatchetError, Session, TYPE_RESYNC_ACCEPT, TYPE_RESYNC_REQUEST, dh, leading_key,
};
use crate::PROTOCOL_VERSION;
use crate::codec::Reader;
use crate::crypto::{Secret32, hkdf_3x32, hkdf_sha256, hmac_sha256};
use crate::keys::{KeyPair, PublicKey, SharedSecret};
use crate::sizes::QUEUE_MESSAGE_SIZE;

/// HKDF info of the resync secret derived at the handshake (followed by `IK ‖ EK`).
pub const SECRET_INFO: &[u8] = b"sotto/v1/resync/secret";
/// HKDF info of the resync secret of a contact stored before resynchronisation existed.
pub const LEGACY_SECRET_INFO: &[u8] = b"sotto/v1/resync/legacy";
/// Prefix of the data a [`ResyncRequest`]'s MAC covers.
pub const REQUEST_MAC_INFO: &[u8] = b"sotto/v1/resync/request";
/// Prefix of the data the MAC of a restored device's [`ResyncRequest`] covers.
pub const RESTORED_MAC_INFO: &[u8] = b"sotto/v1/resync/restored";
/// HKDF info prefix of the new session's keys.
pub const SESSION_INFO: &[u8] = b"sotto/v1/resync/session";
/// Bytes of a request's nonce.
pub const NONCE_LEN: usize = 16;
/// Bytes of a request that carry meaning (version, type, key, nonce, MAC); the rest is
/// padding.
pub const REQUEST_LEN: usize = 2 + 32 + NONCE_LEN + 32;
const MACED_LEN: usize = 2 + 32 + NONCE_LEN;
/// Where a restored device's request carries the backup's time (u64, big-endian).
const SINCE_AT: usize = REQUEST_LEN;

/// Errors reading a resync message. Deliberately coarse: a relay learns nothing from how a
/// message it forged was refused (it is dropped either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResyncError {
    /// Wrong size, version or type byte.
    #[error("not a resync message")]
    Malformed,
    /// The MAC does not verify, or the accept does not decrypt: forged, tampered with, or for
    /// another request.
    #[error("resync message is not authentic")]
    NotAuthentic,
}

/// The per-contact secret that authenticates resynchronisation. Zeroized, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ResyncSecret(Secret32);

impl fmt::Debug for ResyncSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResyncSecret(<redacted>)")
    }
}

impl ResyncSecret {
    /// `HKDF-SHA256(salt = empty, ikm = DH(EK, IK), info = SECRET_INFO ‖ IK ‖ EK)`: derived by
    /// both sides of a handshake, next to (and independent of) the session's keys.
    pub fn from_handshake(
        dh: &SharedSecret,
        ik: &PublicKey,
        ek: &PublicKey,
    ) -> Result<Self, RatchetError> {
        let mut info = Vec::with_capacity(SECRET_INFO.len() + 64);
        info.extend_from_slice(SECRET_INFO);
        info.extend_from_slice(ik.as_bytes());
        info.extend_from_slice(ek.as_bytes());
        Self::expand(&[], dh.as_bytes(), &info)
    }

    /// For a contact stored before this secret existed: `HKDF-SHA256(salt = empty, ikm = AD,
    /// info = LEGACY_SECRET_INFO)`. Both sides hold the AD (`IK ‖ EK`); nothing else they
    /// store is sure to be equal once their ratchets diverged. Its limit: `IK` travels in the
    /// invitation link and `EK` in clear in the hello, so whoever saw both (the link and the
    /// inviter's queue) can make a request that verifies and so become the other end of the
    /// new session. So a client never resyncs a contact holding this secret (it only marks
    /// and recognises it: `client::resync`). A new contact's secret comes from the
    /// handshake's DH and has no such limit.
    pub fn legacy(ad: &[u8; AD_LEN]) -> Result<Self, RatchetError> {
        Self::expand(&[], ad, LEGACY_SECRET_INFO)
    }

    fn expand(salt: &[u8], ikm: &[u8], info: &[u8]) -> Result<Self, RatchetError> {
        let mut okm = Zeroizing::new([0u8; 32]);
        hkdf_sha256(salt, ikm, info, &mut okm[..]).map_err(|_| RatchetError::Decrypt)?;
        Ok(Self(Secret32::copy_from(&okm)))
    }

    /// The raw bytes, for encrypted persistence only.
    pub fn to_persisted_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(*self.0.expose())
    }

    /// Reads [`ResyncSecret::to_persisted_bytes`].
    pub fn from_persisted_bytes(bytes: &[u8; 32]) -> Self {
        Self(Secret32::copy_from(bytes))
    }

    /// The request MAC: `REQUEST_MAC_INFO ‖ AD ‖ bytes 0..50`, or for a restored device's
    /// request `RESTORED_MAC_INFO ‖ AD ‖ bytes 0..50 ‖ since`.
    fn request_mac(&self, ad: &[u8; AD_LEN], maced: &[u8], since: Option<u64>) -> [u8; 32] {
        let info = if since.is_some() {
            RESTORED_MAC_INFO
        } else {
            REQUEST_MAC_INFO
        };
        let mut data = Vec::with_capacity(info.len() + AD_LEN + MACED_LEN + 8);
        data.extend_from_slice(info);
        data.extend_from_slice(ad);
        data.extend_from_slice(maced);
        if let Some(since) = since {
            data.extend_from_slice(&since.to_be_bytes());
        }
        hmac_sha256(self.0.expose(), &data)
    }
}

/// A parsed, authenticated request: the requester's key and nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResyncRequest {
    /// `E_a`, the requester's fresh public key.
    pub key: PublicKey,
    /// The request's random nonce; a request is answered once per nonce.
    pub nonce: [u8; NONCE_LEN],
    /// `Some(since)` when the requester restored the profile from a backup made at `since`
    /// (seconds): what it wrote and received after that is not on its device.
    pub restored: Option<u64>,
}

impl ResyncRequest {
    /// A request for `key` (the public half of the requester's fresh pair) with a fresh
    /// nonce.
    pub fn new<R: CryptoRng + ?Sized>(rng: &mut R, key: PublicKey) -> Self {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        Self {
            key,
            nonce,
            restored: None,
        }
    }

    /// The same request, marked as coming from a device restored from a backup made at
    /// `since` (seconds).
    pub fn restored(self, since: u64) -> Self {
        Self {
            restored: Some(since),
            ..self
        }
    }

    /// The [`QUEUE_MESSAGE_SIZE`]-byte message, MACed for the session with data `ad`.
    pub fn encode<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        secret: &ResyncSecret,
        ad: &[u8; AD_LEN],
    ) -> Vec<u8> {
        let mut msg = vec![0u8; QUEUE_MESSAGE_SIZE];
        rng.fill_bytes(&mut msg[REQUEST_LEN..]);
        msg[0] = PROTOCOL_VERSION;
        msg[1] = TYPE_RESYNC_REQUEST;
        msg[2..34].copy_from_slice(self.key.as_bytes());
        msg[34..MACED_LEN].copy_from_slice(&self.nonce);
        if let Some(since) = self.restored {
            msg[SINCE_AT..SINCE_AT + 8].copy_from_slice(&since.to_be_bytes());
        }
        let mac = secret.request_mac(ad, &msg[..MACED_LEN], self.restored);
        msg[MACED_LEN..REQUEST_LEN].copy_from_slice(&mac);
        msg
    }

    /// Reads and authenticates a request (length, version, type, then the MAC, compared in
    /// constant time): an ordinary one, else a restored device's (whose time it reads). The
    /// padding is not checked.
    pub fn parse(
        message: &[u8],
        secret: &ResyncSecret,
        ad: &[u8; AD_LEN],
    ) -> Result<Self, ResyncError> {
        if message.len() != QUEUE_MESSAGE_SIZE
            || message.first() != Some(&PROTOCOL_VERSION)
            || message.get(1) != Some(&TYPE_RESYNC_REQUEST)
        {
            return Err(ResyncError::Malformed);
        }
        let e = |_| ResyncError::Malformed;
        let mut r = Reader::new(message);
        r.advance(2).map_err(e)?;
        let key = PublicKey::from_bytes(r.extract().map_err(e)?);
        let nonce: [u8; NONCE_LEN] = r.extract().map_err(e)?;
        let mac: [u8; 32] = r.extract().map_err(e)?;
        let maced = message.get(..MACED_LEN).ok_or(ResyncError::Malformed)?;
        let since = r.take_u64().map_err(e)?;
        let restored = [None, Some(since)]
            .into_iter()
            .find(|s| bool::from(secret.request_mac(ad, maced, *s).ct_eq(&mac)))
            .ok_or(ResyncError::NotAuthentic)?;
        Ok(Self {
            key,
            nonce,
            restored,
        })
    }
}

/// `SK ‖ HKa ‖ NHKb` of the new session.
fn session_keys(
    secret: &ResyncSecret,
    dh_out: &[u8; 32],
    ad: &[u8; AD_LEN],
    request: &ResyncRequest,
    accept_key: &PublicKey,
) -> Result<[Secret32; 3], RatchetError> {
    let mut info = Vec::with_capacity(SESSION_INFO.len() + AD_LEN + 32 + NONCE_LEN + 32);
    info.extend_from_slice(SESSION_INFO);
    info.extend_from_slice(ad);
    info.extend_from_slice(request.key.as_bytes());
    info.extend_from_slice(&request.nonce);
    info.extend_from_slice(accept_key.as_bytes());
    hkdf_3x32(secret.0.expose(), dh_out, &info).map_err(|_| RatchetError::Decrypt)
}

/// The public key in an accept's key field (offset 2), if `message` is shaped as an accept.
fn accept_key(message: &[u8]) -> Option<PublicKey> {
    leading_key(message, TYPE_RESYNC_ACCEPT)
}

impl Session {
    /// Answers an authenticated `request`: the new session (we are its initiator, we can send
    /// at once) and the accept, the new session's first message, carrying `plaintext` (a
    /// padded envelope of exactly [`super::BODY_LEN`] bytes). The session AD is `self`'s.
    pub fn accept_resync<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        secret: &ResyncSecret,
        request: &ResyncRequest,
        plaintext: &[u8],
    ) -> Result<(Session, Vec<u8>), RatchetError> {
        let e_b = KeyPair::generate(rng);
        let dh_out = dh(&e_b.secret, &request.key)?;
        let [sk, hka, nhkb] = session_keys(secret, &dh_out, &self.ad, request, &e_b.public)?;
        let mut session = Session::new_initiator(rng, sk, request.key, hka, nhkb, self.ad)?;
        let message =
            session.encrypt_typed(rng, plaintext, TYPE_RESYNC_ACCEPT, e_b.public.as_bytes())?;
        Ok((session, message))
    }

    /// Opens the accept of our `request`, whose key pair is `ours`: the new session (its
    /// responder, able to send now) and the accept's plaintext. Fails without side effects.
    pub fn open_resync_accept<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        secret: &ResyncSecret,
        request: &ResyncRequest,
        ours: &KeyPair,
        message: &[u8],
    ) -> Result<(Session, Zeroizing<Vec<u8>>), ResyncError> {
        let e_b = accept_key(message).ok_or(ResyncError::Malformed)?;
        let mut open = || -> Result<(Session, Zeroizing<Vec<u8>>), RatchetError> {
            let dh_out = dh(&ours.secret, &e_b)?;
            let [sk, hka, nhkb] = session_keys(secret, &dh_out, &self.ad, request, &e_b)?;
            Session::new_responder(rng, sk, ours.clone(), hka, nhkb, self.ad, message)
        };
        open().map_err(|_| ResyncError::NotAuthentic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Content, Envelope};
    use crate::handshake::InvitationSecret;
    use crate::handshake::accept_invitation;
    use crate::ids::{QueueId, RelayId};
    use crate::invitation::InvitationKind;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const NOW: u64 = 1_800_000_000;

    /// Alice and Bob after a handshake, with their (equal) resync secrets.
    fn pair(rng: &mut ChaCha20Rng) -> (Session, Session, ResyncSecret, ResyncSecret) {
        let (r, q) = (RelayId::random(rng), QueueId::random(rng));
        let inv = InvitationSecret::create(rng, InvitationKind::OneTime, r, q, NOW);
        let acc = accept_invitation(rng, inv.invitation(), r, q, "Bob", NOW).unwrap();
        let (alice, _, _) = inv.receive_hello(rng, &acc.first_message, NOW).unwrap();
        let alice_secret = inv.resync_secret(alice.associated_data()).unwrap();
        (alice, acc.session, alice_secret, acc.resync_secret)
    }

    fn text(rng: &mut ChaCha20Rng, s: &str) -> Vec<u8> {
        Envelope::new(rng, NOW, Content::Text(s.into()))
            .encode()
            .unwrap()
            .to_vec()
    }

    #[test]
    fn both_sides_derive_one_secret_and_resync() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let (alice, bob, sa, sb) = pair(&mut rng);
        assert_eq!(sa, sb);
        let ad = *alice.associated_data();
        let e_a = KeyPair::generate(&mut rng);
        let request = ResyncRequest::new(&mut rng, e_a.public);
        let wire = request.encode(&mut rng, &sa, &ad);
        assert_eq!(wire.len(), QUEUE_MESSAGE_SIZE);
        assert_eq!(ResyncRequest::parse(&wire, &sb, &ad).unwrap(), request);
        let plain = text(&mut rng, "accept");
        let (mut bob2, accept) = bob.accept_resync(&mut rng, &sb, &request, &plain).unwrap();
        let (mut alice2, opened) = alice
            .open_resync_accept(&mut rng, &sa, &request, &e_a, &accept)
            .unwrap();
        assert_eq!(&opened[..], &plain[..]);
        assert_eq!(alice2.associated_data(), &ad);
        // Both can send now, both ways; the old sessions cannot read any of it.
        for _ in 0..3 {
            let m = alice2.encrypt(&mut rng, &plain).unwrap();
            assert!(bob.clone().decrypt(&mut rng, &m).is_err());
            assert!(!bob.can_place(&m));
            bob2.decrypt(&mut rng, &m).unwrap();
            let m = bob2.encrypt(&mut rng, &plain).unwrap();
            assert!(alice.clone().decrypt(&mut rng, &m).is_err());
            alice2.decrypt(&mut rng, &m).unwrap();
        }
    }

    #[test]
    fn a_restored_request_says_so_and_from_when() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let (alice, _bob, sa, sb) = pair(&mut rng);
        let ad = *alice.associated_data();
        let e_a = KeyPair::generate(&mut rng);
        let request = ResyncRequest::new(&mut rng, e_a.public).restored(NOW - 3600);
        let wire = request.encode(&mut rng, &sa, &ad);
        let parsed = ResyncRequest::parse(&wire, &sb, &ad).unwrap();
        assert_eq!(parsed.restored, Some(NOW - 3600));
        assert_eq!(parsed, request);
        // The time is covered by the MAC: a relay cannot move it or take it off.
        for i in SINCE_AT..SINCE_AT + 8 {
            let mut t = wire.clone();
            t[i] ^= 1;
            assert_eq!(
                ResyncRequest::parse(&t, &sb, &ad),
                Err(ResyncError::NotAuthentic),
                "byte {i}"
            );
        }
        // An ordinary request is not read as a restored one.
        let plain = ResyncRequest::new(&mut rng, e_a.public).encode(&mut rng, &sa, &ad);
        assert_eq!(
            ResyncRequest::parse(&plain, &sb, &ad).unwrap().restored,
            None
        );
    }

    #[test]
    fn the_new_session_never_continues_the_old_chain() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let (alice, bob, sa, sb) = pair(&mut rng);
        let plain = vec![0u8; super::super::BODY_LEN];
        // What the old session would send next (its message keys, seen as ciphertexts of one
        // plaintext: equal key and nonce would give equal bodies).
        let mut old = alice.clone();
        let old_bodies: Vec<Vec<u8>> = (0..20)
            .map(|_| old.encrypt(&mut rng, &plain).unwrap()[102..].to_vec())
            .collect();
        let e_a = KeyPair::generate(&mut rng);
        let request = ResyncRequest::new(&mut rng, e_a.public);
        let (mut bob2, accept) = bob.accept_resync(&mut rng, &sb, &request, &plain).unwrap();
        let (mut alice2, _) = alice
            .open_resync_accept(&mut rng, &sa, &request, &e_a, &accept)
            .unwrap();
        for _ in 0..20 {
            let m = alice2.encrypt(&mut rng, &plain).unwrap();
            assert!(!old_bodies.contains(&m[102..].to_vec()));
            bob2.decrypt(&mut rng, &m).unwrap();
        }
    }

    #[test]
    fn forged_or_mismatched_messages_are_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let (alice, bob, sa, sb) = pair(&mut rng);
        let ad = *alice.associated_data();
        let e_a = KeyPair::generate(&mut rng);
        let request = ResyncRequest::new(&mut rng, e_a.public);
        let wire = request.encode(&mut rng, &sa, &ad);
        let wrong = ResyncSecret::legacy(&ad).unwrap();
        assert_eq!(
            ResyncRequest::parse(&wire, &wrong, &ad),
            Err(ResyncError::NotAuthentic)
        );
        for i in 0..REQUEST_LEN {
            let mut t = wire.clone();
            t[i] ^= 1;
            assert!(ResyncRequest::parse(&t, &sb, &ad).is_err(), "byte {i}");
        }
        // Padding is not covered: changing it changes nothing.
        let mut t = wire.clone();
        t[REQUEST_LEN] ^= 1;
        assert!(ResyncRequest::parse(&t, &sb, &ad).is_ok());
        for bad in [&wire[..10], &wire[..wire.len() - 1], &[][..]] {
            assert_eq!(
                ResyncRequest::parse(bad, &sb, &ad),
                Err(ResyncError::Malformed)
            );
        }
        // An accept for another request (another nonce) does not open.
        let plain = text(&mut rng, "x");
        let (_, accept) = bob.accept_resync(&mut rng, &sb, &request, &plain).unwrap();
        let other = ResyncRequest::new(&mut rng, e_a.public);
        assert_eq!(
            alice
                .open_resync_accept(&mut rng, &sa, &other, &e_a, &accept)
                .unwrap_err(),
            ResyncError::NotAuthentic
        );
        let mut t = accept.clone();
        t[40] ^= 1;
        assert!(
            alice
                .open_resync_accept(&mut rng, &sa, &request, &e_a, &t)
                .is_err()
        );
        assert_eq!(
            alice
                .open_resync_accept(&mut rng, &sa, &request, &e_a, &wire)
                .unwrap_err(),
            ResyncError::Malformed
        );
    }
}
