//! Single-use reply blocks: the [`Surb`] a client hands out and the [`SurbOpener`] it keeps.

use core::fmt;

use rand_core::CryptoRng;
use sphinx_packet::header::HEADER_SIZE;
use sphinx_packet::payload::Payload;
use sphinx_packet::version::SINGLE_SEED_SURB_VERSION;
use sphinx_packet::{SURB, SURBMaterial, SurbReplyRecovery};
use zeroize::Zeroizing;

#[cfg(doc)]
use super::GatewayFrame;
use super::{
    ConnTag, DEST_CLIENT, Hop, OnionError, Packet, ROUTE_LEN, SEALED_REPLY_SIZE, SURB_SIZE, SurbId,
    check_len, check_payload_len, destination, is_canonical_u, to_nodes, zero_delays,
};
use crate::ids::RelayId;
use crate::keys::SecretKey;
use crate::sizes::SPHINX_PAYLOAD_SIZE;

/// A single-use reply block (`sphinx-packet` SURB version 260: it carries only the last hop's
/// payload key seed). Exactly [`SURB_SIZE`] bytes on the wire. Whoever holds it can send one
/// packet that ends at the SURB creator's gateway, without learning the route or the creator.
#[derive(Clone, PartialEq, Eq)]
pub struct Surb(Vec<u8>);

impl Surb {
    pub const LEN: usize = SURB_SIZE;

    /// Parses a SURB; rejects anything but exactly [`SURB_SIZE`] bytes with a canonical,
    /// non-zero header key. (Whether the rest is valid only shows when the reply travels.)
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, OnionError> {
        check_len(bytes, SURB_SIZE)?;
        // the header key must be a canonical, non-zero X25519 point (what every builder makes)
        let alpha = bytes.get(..32).ok_or(OnionError::Malformed)?;
        if !is_canonical_u(alpha) || alpha.iter().all(|b| *b == 0) {
            return Err(OnionError::Malformed);
        }
        let parsed = SURB::from_bytes(bytes).map_err(|_| OnionError::Malformed)?;
        if parsed.materials_count() != 1 {
            return Err(OnionError::Malformed);
        }
        Ok(Self(bytes.to_vec()))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The relay to send the sealed reply to.
    pub fn first_hop(&self) -> RelayId {
        let mut id = [0u8; RelayId::LEN];
        for (dst, src) in id.iter_mut().zip(self.0.iter().skip(HEADER_SIZE)) {
            *dst = *src;
        }
        RelayId::from_bytes(id)
    }

    /// Uses the SURB (consuming it) to carry `payload` back to its creator. Returns the relay
    /// to send the packet to and the packet.
    pub fn seal(self, payload: &[u8]) -> Result<(RelayId, Packet), OnionError> {
        check_payload_len(payload)?;
        let surb = SURB::from_bytes(&self.0).map_err(|_| OnionError::Malformed)?;
        let (packet, first_hop) = surb
            .use_surb(payload, SPHINX_PAYLOAD_SIZE)
            .map_err(|_| OnionError::Build("SURB reply"))?;
        Ok((
            RelayId::from_bytes(first_hop.to_bytes()),
            Packet::from_sphinx(&packet)?,
        ))
    }
}

impl fmt::Debug for Surb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Surb(first hop {:?})", self.first_hop())
    }
}

/// What the SURB's creator keeps to open the reply: the SURB id and every hop's payload key
/// seed. Secret; zeroized on drop (by `sphinx-packet`); never printed.
#[derive(Clone)]
pub struct SurbOpener(SurbReplyRecovery);

impl SurbOpener {
    /// Bytes of [`SurbOpener::to_persisted_bytes`] for a [`ROUTE_LEN`]-hop SURB.
    pub const PERSISTED_LEN: usize = SurbReplyRecovery::serialized_len(ROUTE_LEN);

    pub fn id(&self) -> SurbId {
        SurbId(*self.0.identifier())
    }

    /// Opens a sealed reply (the [`SEALED_REPLY_SIZE`] bytes a gateway pushed in a
    /// [`GatewayFrame::Reply`]) and returns the plaintext the SURB's user sealed.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, OnionError> {
        check_len(sealed, SEALED_REPLY_SIZE)?;
        let payload = Payload::from_bytes(sealed).map_err(|_| OnionError::Malformed)?;
        self.0
            .recover_plaintext(payload)
            .map_err(|_| OnionError::PayloadIntegrity)
    }

    /// For encrypted persistence only (`SurbId || seeds`). Zeroized when dropped.
    pub fn to_persisted_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.0.to_bytes())
    }

    pub fn from_persisted_bytes(bytes: &[u8]) -> Result<Self, OnionError> {
        SurbReplyRecovery::from_bytes(bytes)
            .map(Self)
            .map_err(|_| OnionError::Malformed)
    }
}

impl fmt::Debug for SurbOpener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SurbOpener({:?}, <seeds redacted>)", self.id())
    }
}

/// Builds a SURB whose route ends at the client's gateway (`route.last()`), addressed to the
/// connection `connection` there, with a fresh random [`SurbId`]. Returns the SURB to hand out
/// and the opener to keep.
pub fn build_surb<R: CryptoRng + ?Sized>(
    rng: &mut R,
    route: &[Hop],
    connection: ConnTag,
) -> Result<(Surb, SurbOpener), OnionError> {
    let nodes = to_nodes(route)?;
    let initial = SecretKey::generate(rng);
    let id = SurbId::random(rng);
    let dest = destination(DEST_CLIENT, connection.as_bytes(), id.0);
    let material = SURBMaterial::new(
        nodes.clone(),
        zero_delays(nodes.len()),
        dest,
        SINGLE_SEED_SURB_VERSION,
    );
    let secret = initial.as_dalek().clone();
    let (surb, recovery) =
        SURB::new_recoverable(secret, material).map_err(|_| OnionError::Build("SURB"))?;
    let bytes = surb.to_bytes();
    if bytes.len() != SURB_SIZE {
        return Err(OnionError::Build("SURB of unexpected size"));
    }
    Ok((Surb(bytes), SurbOpener(recovery)))
}
