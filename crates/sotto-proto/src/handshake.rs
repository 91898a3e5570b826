//! The handshake that turns an invitation into a Double Ratchet session.
//!
//! *Alice* creates an invitation (an [`InvitationSecret`] holding her handshake key pair) and
//! hands out its link. *Bob* accepts it:
//!
//! 1. Bob generates an ephemeral X25519 key pair `EK` and computes `DH(EK, IK)` with the
//!    invitation's handshake key `IK`. An all-zero (non-contributory) result is refused.
//! 2. `SK ‖ HKa ‖ NHKb = HKDF-SHA256(salt = empty, ikm = DH(EK, IK),
//!    info = "sotto/v1/handshake" ‖ IK ‖ EK, 96 bytes)`.
//! 3. Session associated data `AD = IK ‖ EK` (64 bytes).
//! 4. Bob initialises his ratchet as the first sender (Signal's `RatchetInitAliceHE` with
//!    Alice's ratchet key = `IK`, `shared_hka = HKa`, `shared_nhkb = NHKb`) and sends his first
//!    message with type byte [`crate::ratchet::TYPE_HELLO`] and `EK` in clear at offset 2. Its
//!    envelope is a [`Content::Hello`]: Bob's reply queue and display name.
//! 5. Alice reads `EK`, derives the same keys, initialises her ratchet as the first receiver
//!    (`RatchetInitBobHE` with her invitation key pair as ratchet key) and decrypts.
//!
//! 6. Both sides also derive the contact's resync secret
//!    ([`crate::ratchet::resync::ResyncSecret::from_handshake`]) from the same DH output.
//!
//! The type byte's other values are reserved for a later hybrid (X25519 + ML-KEM-768) hello,
//! which will carry a KEM ciphertext and mix its shared secret into the `ikm` above.

use core::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::codec::{Reader, SecretWriter, Writer};
use crate::crypto::{Secret32, hkdf_3x32};
use crate::envelope::{Content, Envelope, EnvelopeError, Hello};
use crate::ids::{QueueId, RelayId};
use crate::invitation::{ENCODED_LEN, Invitation, InvitationError, InvitationKind};
use crate::keys::{KeyPair, PublicKey, SecretKey};
use crate::ratchet::resync::ResyncSecret;
use crate::ratchet::{self, AD_LEN, RatchetError, Session, TYPE_HELLO};

/// HKDF info prefix of the handshake KDF (followed by `IK ‖ EK`).
pub const HANDSHAKE_INFO: &[u8] = b"sotto/v1/handshake";

/// Handshake errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The invitation expired before it was used.
    #[error("invitation has expired")]
    Expired,
    /// The hello could not be decrypted (malformed, forged, low-order key). Deliberately
    /// coarse.
    #[error("hello could not be decrypted")]
    Decrypt,
    /// The peer sent an authentic first message that is not a valid hello.
    #[error("first message is not a hello")]
    NotAHello,
    /// Our own hello does not encode (e.g. the display name is too long).
    #[error("hello does not encode: {0}")]
    Encode(EnvelopeError),
    /// A persisted invitation secret could not be read.
    #[error("persisted invitation is invalid")]
    Persisted(#[from] InvitationError),
}

/// The keys both sides derive from `DH(EK, IK)`.
struct HandshakeKeys {
    sk: Secret32,
    hka: Secret32,
    nhkb: Secret32,
    ad: [u8; AD_LEN],
}

fn derive(
    dh: &crate::keys::SharedSecret,
    ik: &PublicKey,
    ek: &PublicKey,
) -> Result<HandshakeKeys, HandshakeError> {
    if !dh.is_contributory() {
        return Err(HandshakeError::Decrypt);
    }
    let mut info = Vec::with_capacity(HANDSHAKE_INFO.len() + 64);
    info.extend_from_slice(HANDSHAKE_INFO);
    info.extend_from_slice(ik.as_bytes());
    info.extend_from_slice(ek.as_bytes());
    let [sk, hka, nhkb] =
        hkdf_3x32(&[], dh.as_bytes(), &info).map_err(|_| HandshakeError::Decrypt)?;
    let mut ad = [0u8; AD_LEN];
    ad[..32].copy_from_slice(ik.as_bytes());
    ad[32..].copy_from_slice(ek.as_bytes());
    Ok(HandshakeKeys { sk, hka, nhkb, ad })
}

/// What Bob gets from accepting an invitation.
#[derive(Debug)]
pub struct Accepted {
    /// Bob's session; he can send more messages at once.
    pub session: Session,
    /// The hello, exactly `QUEUE_MESSAGE_SIZE` bytes, for the invitation's queue.
    pub first_message: Vec<u8>,
    /// The hello's envelope (its id and time), for Bob's own history.
    pub envelope: Envelope,
    /// The secret that authenticates a later resynchronisation with this contact.
    pub resync_secret: ResyncSecret,
}

/// Bob accepts `invitation` at `now`, telling Alice where to reply and his display name.
pub fn accept_invitation<R: CryptoRng + ?Sized>(
    rng: &mut R,
    invitation: &Invitation,
    reply_relay: RelayId,
    reply_queue: QueueId,
    display_name: &str,
    now: u64,
) -> Result<Accepted, HandshakeError> {
    if invitation.is_expired(now) {
        return Err(HandshakeError::Expired);
    }
    let envelope = Envelope::new(
        rng,
        now,
        Content::Hello(Hello {
            reply_relay,
            reply_queue,
            display_name: display_name.to_owned(),
        }),
    );
    let plain = envelope.encode().map_err(HandshakeError::Encode)?;
    let ek = KeyPair::generate(rng);
    let ik = invitation.handshake_key;
    let shared = ek.secret.diffie_hellman(&ik);
    let keys = derive(&shared, &ik, &ek.public)?;
    let resync_secret = ResyncSecret::from_handshake(&shared, &ik, &ek.public)
        .map_err(|_| HandshakeError::Decrypt)?;
    let mut session = Session::new_initiator(rng, keys.sk, ik, keys.hka, keys.nhkb, keys.ad)
        .map_err(|_| HandshakeError::Decrypt)?;
    let first_message = session
        .encrypt_typed(rng, &plain, TYPE_HELLO, ek.public.as_bytes())
        .map_err(|_| HandshakeError::Decrypt)?;
    Ok(Accepted {
        session,
        first_message,
        envelope,
        resync_secret,
    })
}

/// Alice's half of an invitation: the handshake key pair behind its public key.
///
/// A one-time invitation's secret should be deleted once [`InvitationSecret::receive_hello`]
/// succeeds; a contact address keeps its secret and accepts many hellos.
pub struct InvitationSecret {
    key: KeyPair,
    invitation: Invitation,
}

impl fmt::Debug for InvitationSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvitationSecret")
            .field("invitation", &self.invitation)
            .finish_non_exhaustive()
    }
}

impl InvitationSecret {
    /// A fresh handshake key and the invitation that publishes it, for a queue Alice
    /// created (`relay`, `queue` = the queue's sender id), valid from `now` for the kind's
    /// default lifetime.
    pub fn create<R: CryptoRng + ?Sized>(
        rng: &mut R,
        kind: InvitationKind,
        relay: RelayId,
        queue: QueueId,
        now: u64,
    ) -> Self {
        let key = KeyPair::generate(rng);
        let invitation = match kind {
            InvitationKind::OneTime => Invitation::one_time(relay, queue, key.public, now),
            InvitationKind::ContactAddress { pow_difficulty } => {
                Invitation::contact_address(relay, queue, key.public, pow_difficulty, now)
            }
        };
        Self { key, invitation }
    }

    pub fn invitation(&self) -> &Invitation {
        &self.invitation
    }

    /// Processes Bob's first message. Returns Alice's session (which can reply at once) and
    /// the hello. Fails without side effects.
    pub fn receive_hello<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        message: &[u8],
        now: u64,
    ) -> Result<(Session, Hello, Envelope), HandshakeError> {
        if self.invitation.is_expired(now) {
            return Err(HandshakeError::Expired);
        }
        let ek = ratchet::hello_ephemeral_key(message).ok_or(HandshakeError::Decrypt)?;
        let ik = self.key.public;
        let keys = derive(&self.key.secret.diffie_hellman(&ek), &ik, &ek)?;
        let (session, plain) = Session::new_responder(
            rng,
            keys.sk,
            self.key.clone(),
            keys.hka,
            keys.nhkb,
            keys.ad,
            message,
        )
        .map_err(|_: RatchetError| HandshakeError::Decrypt)?;
        let envelope = Envelope::decode(&plain).map_err(|_| HandshakeError::NotAHello)?;
        match &envelope.content {
            Content::Hello(hello) => {
                let hello = hello.clone();
                Ok((session, hello, envelope))
            }
            _ => Err(HandshakeError::NotAHello),
        }
    }

    /// The resync secret of the session with associated data `ad` (`IK ‖ EK`) that
    /// [`InvitationSecret::receive_hello`] returned: the same one the acceptor got in
    /// [`Accepted::resync_secret`]. Fails if `ad` is not for this invitation's key.
    pub fn resync_secret(&self, ad: &[u8; AD_LEN]) -> Result<ResyncSecret, HandshakeError> {
        let (ik, ek) = ad.split_at(32);
        let ik: [u8; 32] = ik.try_into().map_err(|_| HandshakeError::Decrypt)?;
        let ek: [u8; 32] = ek.try_into().map_err(|_| HandshakeError::Decrypt)?;
        let (ik, ek) = (PublicKey::from_bytes(ik), PublicKey::from_bytes(ek));
        if ik != self.key.public {
            return Err(HandshakeError::Decrypt);
        }
        let shared = self.key.secret.diffie_hellman(&ek);
        if !shared.is_contributory() {
            return Err(HandshakeError::Decrypt);
        }
        ResyncSecret::from_handshake(&shared, &ik, &ek).map_err(|_| HandshakeError::Decrypt)
    }

    /// Secret key ‖ invitation bytes, for encrypted storage. Zeroized on drop.
    pub fn to_persisted_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = SecretWriter::with_capacity(32 + ENCODED_LEN);
        out.put(&*self.key.secret.to_persisted_bytes());
        out.put(&self.invitation.to_bytes());
        out.into_inner()
    }

    /// Reads [`InvitationSecret::to_persisted_bytes`]. Expiry is not checked here.
    pub fn from_persisted_bytes(bytes: &[u8]) -> Result<Self, HandshakeError> {
        let mut r = Reader::new(bytes);
        let secret = Zeroizing::new(
            r.extract::<[u8; 32]>()
                .map_err(|_| HandshakeError::Persisted(InvitationError::Truncated))?,
        );
        let secret = SecretKey::from_persisted_bytes(*secret);
        // The invitation is the whole rest; it refuses trailing bytes itself.
        let invitation = Invitation::from_bytes_unchecked(r.take_rest())?;
        let public = secret.public_key();
        if public != invitation.handshake_key {
            return Err(HandshakeError::Persisted(InvitationError::InvalidField));
        }
        Ok(Self {
            key: KeyPair { secret, public },
            invitation,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratchet::BODY_LEN;
    use crate::sizes::QUEUE_MESSAGE_SIZE;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const NOW: u64 = 1_800_000_000;

    fn setup(kind: InvitationKind) -> (InvitationSecret, ChaCha20Rng) {
        let mut rng = ChaCha20Rng::seed_from_u64(21);
        let relay = RelayId::random(&mut rng);
        let queue = QueueId::random(&mut rng);
        (
            InvitationSecret::create(&mut rng, kind, relay, queue, NOW),
            rng,
        )
    }

    #[test]
    fn full_handshake_then_conversation() {
        let (alice_inv, mut rng) = setup(InvitationKind::OneTime);
        let link = alice_inv.invitation().to_link("https://sotto.example");
        let inv = Invitation::parse_link(&link, NOW + 10).unwrap();
        let reply_relay = RelayId::random(&mut rng);
        let reply_queue = QueueId::random(&mut rng);
        let acc =
            accept_invitation(&mut rng, &inv, reply_relay, reply_queue, "Bob", NOW + 10).unwrap();
        assert_eq!(acc.first_message.len(), QUEUE_MESSAGE_SIZE);
        let mut bob = acc.session;
        let (mut alice, hello, env) = alice_inv
            .receive_hello(&mut rng, &acc.first_message, NOW + 20)
            .unwrap();
        assert_eq!(env, acc.envelope);
        assert_eq!(hello.display_name, "Bob");
        assert_eq!(hello.reply_relay, reply_relay);
        assert_eq!(hello.reply_queue, reply_queue);
        assert_eq!(alice.associated_data(), bob.associated_data());

        let hi = Envelope::new(&mut rng, NOW + 30, Content::Text("hi Bob".into()));
        let m = alice.send(&mut rng, &hi).unwrap();
        assert_eq!(bob.receive(&mut rng, &m).unwrap(), hi);
        let back = Envelope::new(&mut rng, NOW + 40, Content::Text("hi Alice".into()));
        let m = bob.send(&mut rng, &back).unwrap();
        assert_eq!(alice.receive(&mut rng, &m).unwrap(), back);
    }

    #[test]
    fn tampered_or_forged_hello_rejected() {
        let (alice_inv, mut rng) = setup(InvitationKind::ContactAddress { pow_difficulty: 8 });
        let inv = *alice_inv.invitation();
        let acc = {
            let r = RelayId::random(&mut rng);
            let q = QueueId::random(&mut rng);
            accept_invitation(&mut rng, &inv, r, q, "Bob", NOW)
        }
        .unwrap();
        for pos in [0, 1, 2, 33, 34, 50, 100, 2000, QUEUE_MESSAGE_SIZE - 1] {
            let mut t = acc.first_message.clone();
            t[pos] ^= 1;
            assert_eq!(
                alice_inv.receive_hello(&mut rng, &t, NOW).unwrap_err(),
                HandshakeError::Decrypt,
                "pos {pos}"
            );
        }
        // Low-order ephemeral key.
        let mut t = acc.first_message.clone();
        t[2..34].fill(0);
        assert_eq!(
            alice_inv.receive_hello(&mut rng, &t, NOW).unwrap_err(),
            HandshakeError::Decrypt
        );
        assert_eq!(
            alice_inv
                .receive_hello(&mut rng, &acc.first_message, inv.expires_at)
                .unwrap_err(),
            HandshakeError::Expired
        );
        // A contact address accepts the same hello twice (two sessions) and others too.
        assert!(
            alice_inv
                .receive_hello(&mut rng, &acc.first_message, NOW)
                .is_ok()
        );
        assert!(
            alice_inv
                .receive_hello(&mut rng, &acc.first_message, NOW)
                .is_ok()
        );
    }

    #[test]
    fn a_session_message_is_not_a_hello() {
        let (alice_inv, mut rng) = setup(InvitationKind::OneTime);
        let inv = *alice_inv.invitation();
        let mut acc = {
            let r = RelayId::random(&mut rng);
            let q = QueueId::random(&mut rng);
            accept_invitation(&mut rng, &inv, r, q, "Bob", NOW)
        }
        .unwrap();
        let second = acc.session.encrypt(&mut rng, &vec![0u8; BODY_LEN]).unwrap();
        assert_eq!(
            alice_inv.receive_hello(&mut rng, &second, NOW).unwrap_err(),
            HandshakeError::Decrypt
        );
    }

    #[test]
    fn expired_invitation_refused_by_bob_and_name_limit() {
        let (alice_inv, mut rng) = setup(InvitationKind::OneTime);
        let inv = *alice_inv.invitation();
        let r = RelayId::random(&mut rng);
        let q = QueueId::random(&mut rng);
        assert_eq!(
            accept_invitation(&mut rng, &inv, r, q, "Bob", inv.expires_at).unwrap_err(),
            HandshakeError::Expired
        );
        let long = "b".repeat(crate::envelope::MAX_DISPLAY_NAME_BYTES + 1);
        assert_eq!(
            accept_invitation(&mut rng, &inv, r, q, &long, NOW).unwrap_err(),
            HandshakeError::Encode(EnvelopeError::TooLarge)
        );
    }

    #[test]
    fn invitation_secret_persists() {
        let (alice_inv, _) = setup(InvitationKind::OneTime);
        let bytes = alice_inv.to_persisted_bytes();
        let back = InvitationSecret::from_persisted_bytes(&bytes).unwrap();
        assert_eq!(back.invitation(), alice_inv.invitation());
        assert!(InvitationSecret::from_persisted_bytes(&bytes[..40]).is_err());
        let mut wrong = bytes.to_vec();
        wrong[0] ^= 0x10;
        assert!(InvitationSecret::from_persisted_bytes(&wrong).is_err());
        assert!(!format!("{alice_inv:?}").contains("secret"));
    }

    #[test]
    fn persisted_invitation_secret_refuses_truncation_and_trailing_bytes() {
        let (alice_inv, _) = setup(InvitationKind::OneTime);
        let bytes = alice_inv.to_persisted_bytes();
        crate::codec::assert_every_cut_fails(&bytes, InvitationSecret::from_persisted_bytes);
        let mut long = bytes.to_vec();
        long.push(0);
        assert!(matches!(
            InvitationSecret::from_persisted_bytes(&long),
            Err(HandshakeError::Persisted(InvitationError::TrailingBytes))
        ));
    }
}
