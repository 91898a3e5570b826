//! Onion packets: fixed-size Sphinx packets (via `sphinx-packet`, Nym's implementation).
//!
//! Every packet on every hop is exactly [`PACKET_SIZE`] bytes (a 348-byte Sphinx header and a
//! 4096-byte Lioness-encrypted payload), whatever it carries. The wire format and the reasons
//! for the numbers are in `docs/protocol/onion.md`.
//!
//! ## Who does what
//! * **Client** (browser): [`build_forward`] wraps a request for the queue service of the
//!   route's last relay; [`build_surb`] makes a single-use reply block whose route ends at the
//!   client's *gateway*, plus the [`SurbOpener`] that only the client keeps.
//! * **Gateway** (the first relay, the only one that sees the browser's address): receives
//!   [`ClientFrame`]s over the browser's WebSocket, processes their packets as first hop, and
//!   when a SURB reply reaches it ([`Processed::ToClient`]) pushes the still-sealed payload down
//!   the WebSocket bound to the reply's [`ConnTag`] as a [`GatewayFrame`].
//! * **Every relay**: [`process`] peels one layer and says what to do next; the replay store
//!   behind [`ReplayCache`] lives in the relay.
//! * **Queue relay** (the last hop of a forward packet): gets [`Processed::Deliver`] with the
//!   plaintext request, answers with [`Surb::seal`] on the reply SURB carried in the request.
//!
//! ## Randomness
//! Everything that keys a packet is drawn from the caller's RNG: the packet's and the SURB's
//! initial secret and the SURB id (we never call `SphinxPacketBuilder::build_packet` without an
//! initial secret, nor `SURBMaterial::construct_*`). One use of `sphinx-packet`'s internal
//! thread RNG (`rand::rng()`) remains and cannot be avoided through its API: the random
//! padding after the final hop's routing info in every header it builds
//! (`header/routing/destination.rs`). Those bytes are encrypted and never read, so the same
//! seed gives the same alpha and payload but a different routing-info tail and MAC. In the
//! browser this needs `getrandom`'s `wasm_js` backend enabled by the wasm crate.
//!
//! ## Key epochs
//! A relay's Sphinx key is a [`RelayKey`] with an epoch number. On rotation the relay keeps the
//! previous key for an overlap period ([`RelayKeys::rotate`]) and [`process`] tries the current
//! key first, then the previous one. Replay tags are stored per epoch: when a key is dropped,
//! its epoch's tags can be dropped too, because no packet for that key can be processed any
//! more.
//!
//! ## Files
//! This one: constants, errors, keys and routes, [`ConnTag`] / [`SurbId`], [`Packet`] and
//! [`build_forward`]. `surb.rs`: [`Surb`], [`SurbOpener`], [`build_surb`]. `relay.rs`:
//! [`process`] and the [`ReplayCache`]. `frames.rs`: the browser ↔ gateway WebSocket frames
//! ([`ClientFrame`], [`GatewayFrame`]).

mod frames;
mod relay;
mod surb;
#[cfg(test)]
mod tests;

pub use frames::{ClientFrame, GatewayFrame};
pub use relay::{MemoryReplayCache, Processed, ReplayCache, process};
pub use surb::{Surb, SurbOpener, build_surb};

use core::fmt;

use rand_core::CryptoRng;
use sphinx_packet::constants::{
    DESTINATION_ADDRESS_LENGTH, IDENTIFIER_LENGTH, MAX_PATH_LENGTH, NODE_ADDRESS_LENGTH,
    PAYLOAD_KEY_SEED_SIZE, REPLAY_TAG_SIZE,
};
use sphinx_packet::header::HEADER_SIZE;
use sphinx_packet::header::delays::Delay;
use sphinx_packet::route::{Destination, DestinationAddressBytes, Node, NodeAddressBytes};
use sphinx_packet::version::SINGLE_SEED_SURB_VERSION;
use sphinx_packet::{SphinxPacket, SphinxPacketBuilder};

use crate::ids::RelayId;
use crate::keys::{PublicKey, SecretKey};
use crate::sizes::{ONION_PLAINTEXT_SIZE, PACKET_SIZE, SPHINX_PAYLOAD_SIZE};

/// Hops in every route Sotto builds (forward and SURB): gateway, middle, last.
pub const ROUTE_LEN: usize = 3;

/// The longest route `sphinx-packet`'s header can carry.
pub const MAX_ROUTE_LEN: usize = MAX_PATH_LENGTH;

/// Bytes of a [`ConnTag`].
pub const CONN_TAG_LEN: usize = 16;

/// Bytes of a [`SurbId`].
pub const SURB_ID_LEN: usize = IDENTIFIER_LENGTH;

/// Bytes of a replay tag.
pub const REPLAY_TAG_LEN: usize = REPLAY_TAG_SIZE;

/// Bytes of a serialised [`Surb`]: header, first hop's address, one payload key seed.
pub const SURB_SIZE: usize = HEADER_SIZE + NODE_ADDRESS_LENGTH + PAYLOAD_KEY_SEED_SIZE;

/// Bytes of a sealed SURB reply as the gateway hands it to the client (the whole Sphinx
/// payload, still encrypted).
pub const SEALED_REPLY_SIZE: usize = SPHINX_PAYLOAD_SIZE;

/// Destination kind byte: the final hop hands the plaintext to its own queue service.
pub const DEST_QUEUE_SERVICE: u8 = 0x01;
/// Destination kind byte: the final hop is a gateway and pushes the payload to a client.
pub const DEST_CLIENT: u8 = 0x02;

/// Client → gateway WebSocket frame tag: a packet follows.
pub const FRAME_PACKET: u8 = 0x01;
/// Client → gateway WebSocket frame tag: bind a connection tag to this WebSocket.
pub const FRAME_BIND: u8 = 0x02;
/// Gateway → client WebSocket frame tag: a sealed SURB reply follows.
pub const FRAME_REPLY: u8 = 0x81;

/// Errors from building or processing onion packets.
///
/// Processing errors are deliberately coarse: a relay learns "integrity failed", not which
/// byte was wrong, and a sender learns nothing at all (relays drop bad packets silently).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnionError {
    /// The bytes are not exactly the size this object has on the wire. (peer)
    #[error("wrong length: expected {expected} bytes, got {got}")]
    WrongLength { expected: usize, got: usize },
    /// The bytes cannot be a valid packet / frame / SURB (non-canonical key, unknown routing
    /// flag or destination kind, unknown frame tag). (peer)
    #[error("malformed onion data")]
    Malformed,
    /// The header's MAC does not verify under any of this relay's keys: the header was
    /// tampered with, or the packet was built for another relay or an expired key. (peer)
    #[error("header integrity check failed")]
    Integrity,
    /// The payload did not decrypt to a well-formed plaintext at the final hop or at the
    /// SURB's opener: it was tampered with on the way, or the opener is the wrong one. (peer)
    #[error("payload integrity check failed")]
    PayloadIntegrity,
    /// This packet (its replay tag) was already processed under this key epoch. (peer)
    #[error("replayed packet")]
    Replay,
    /// The header carries a Sphinx version this build does not accept. (peer)
    #[error("unknown sphinx version {0}")]
    UnknownVersion(u16),
    /// The payload does not fit [`ONION_PLAINTEXT_SIZE`]. (caller)
    #[error("payload too large: {got} bytes, at most {max}")]
    PayloadTooLarge { max: usize, got: usize },
    /// The route is empty or longer than [`MAX_ROUTE_LEN`]. (caller)
    #[error("route must have 1..={MAX_ROUTE_LEN} hops, got {0}")]
    BadRoute(usize),
    /// `sphinx-packet` refused to build something the checks above let through. (bug)
    #[error("sphinx-packet failed to build: {0}")]
    Build(&'static str),
}

// ---------------------------------------------------------------------------------------------
// Keys and routes
// ---------------------------------------------------------------------------------------------

/// A relay's Sphinx key pair for one key epoch.
#[derive(Clone)]
pub struct RelayKey {
    epoch: u32,
    secret: SecretKey,
    public: PublicKey,
}

impl RelayKey {
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R, epoch: u32) -> Self {
        Self::from_secret(epoch, SecretKey::generate(rng))
    }

    pub fn from_secret(epoch: u32, secret: SecretKey) -> Self {
        let public = secret.public_key();
        Self {
            epoch,
            secret,
            public,
        }
    }

    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    /// The secret, for encrypted persistence by the relay.
    pub fn secret(&self) -> &SecretKey {
        &self.secret
    }
}

impl fmt::Debug for RelayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelayKey")
            .field("epoch", &self.epoch)
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// The keys a relay accepts packets for: the current epoch's and, during the overlap after a
/// rotation, the previous one's.
#[derive(Clone, Debug)]
pub struct RelayKeys {
    current: RelayKey,
    previous: Option<RelayKey>,
}

impl RelayKeys {
    pub fn new(current: RelayKey) -> Self {
        Self {
            current,
            previous: None,
        }
    }

    pub fn with_previous(current: RelayKey, previous: RelayKey) -> Self {
        Self {
            current,
            previous: Some(previous),
        }
    }

    pub fn current(&self) -> &RelayKey {
        &self.current
    }

    pub fn previous(&self) -> Option<&RelayKey> {
        self.previous.as_ref()
    }

    /// Makes `next` current and keeps the old current key as previous. Returns the key that
    /// was previous before (now dropped): the relay can forget that epoch's replay tags.
    pub fn rotate(&mut self, next: RelayKey) -> Option<RelayKey> {
        let old_current = core::mem::replace(&mut self.current, next);
        self.previous.replace(old_current)
    }

    /// Ends the overlap: drops the previous key and returns it.
    pub fn drop_previous(&mut self) -> Option<RelayKey> {
        self.previous.take()
    }

    fn iter(&self) -> impl Iterator<Item = &RelayKey> {
        core::iter::once(&self.current).chain(self.previous.as_ref())
    }
}

/// One hop of a route: the relay's address and its current Sphinx public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hop {
    pub id: RelayId,
    pub key: PublicKey,
}

/// A standard route: `[gateway, middle, last]` for forward packets, `[first, middle, gateway]`
/// for SURBs.
pub type Route = [Hop; ROUTE_LEN];

fn to_nodes(route: &[Hop]) -> Result<Vec<Node>, OnionError> {
    if route.is_empty() || route.len() > MAX_ROUTE_LEN {
        return Err(OnionError::BadRoute(route.len()));
    }
    Ok(route
        .iter()
        .map(|hop| {
            Node::new(
                NodeAddressBytes::from_bytes(*hop.id.as_bytes()),
                hop.key.to_dalek(),
            )
        })
        .collect())
}

fn zero_delays(n: usize) -> Vec<Delay> {
    vec![Delay::new_from_nanos(0); n]
}

// ---------------------------------------------------------------------------------------------
// Small wire types
// ---------------------------------------------------------------------------------------------

crate::ids::id_type!(
    /// A gateway-local connection tag. The client picks it at random, binds it to its
    /// WebSocket with [`ClientFrame::Bind`], and puts it in its SURBs' destination, so the
    /// gateway can find the WebSocket a reply belongs to. It is a bearer token: whoever binds
    /// it receives the replies, so it must be unguessable (128 random bits).
    ConnTag,
    CONN_TAG_LEN,
    nonzero
);

crate::ids::id_type!(
    /// A SURB's identifier, chosen at random by its creator (never zero). The gateway reads it
    /// in the clear (only the gateway, the SURB's final hop) and passes it to the client, which
    /// finds the matching [`SurbOpener`] by it.
    SurbId,
    SURB_ID_LEN,
    nonzero
);

// ---------------------------------------------------------------------------------------------
// Packets
// ---------------------------------------------------------------------------------------------

/// An onion packet: exactly [`PACKET_SIZE`] bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Packet(Vec<u8>);

impl Packet {
    pub const LEN: usize = PACKET_SIZE;

    /// Takes the bytes as a packet if they are exactly [`PACKET_SIZE`] long. Nothing else is
    /// checked here; [`process`] checks the rest.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, OnionError> {
        check_len(bytes, PACKET_SIZE)?;
        Ok(Self(bytes.to_vec()))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    fn from_sphinx(packet: &SphinxPacket) -> Result<Self, OnionError> {
        let bytes = packet.to_bytes();
        if bytes.len() != PACKET_SIZE {
            return Err(OnionError::Build("packet of unexpected size"));
        }
        Ok(Self(bytes))
    }
}

impl fmt::Debug for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Packet({} bytes)", self.0.len())
    }
}

/// [`OnionError::WrongLength`] unless `bytes` is exactly `expected` bytes long.
fn check_len(bytes: &[u8], expected: usize) -> Result<(), OnionError> {
    if bytes.len() != expected {
        return Err(OnionError::WrongLength {
            expected,
            got: bytes.len(),
        });
    }
    Ok(())
}

fn check_payload_len(payload: &[u8]) -> Result<(), OnionError> {
    if payload.len() > ONION_PLAINTEXT_SIZE {
        return Err(OnionError::PayloadTooLarge {
            max: ONION_PLAINTEXT_SIZE,
            got: payload.len(),
        });
    }
    Ok(())
}

fn destination(kind: u8, tag: &[u8], identifier: [u8; SURB_ID_LEN]) -> Destination {
    let mut address = [0u8; DESTINATION_ADDRESS_LENGTH];
    address[0] = kind;
    for (dst, src) in address.iter_mut().skip(1).zip(tag) {
        *dst = *src;
    }
    Destination::new(DestinationAddressBytes::from_bytes(address), identifier)
}

/// Builds a forward packet that carries `payload` along `route` to the queue service of the
/// route's last relay. The client sends it to `route[0]` (its gateway).
///
/// `payload` may be up to [`ONION_PLAINTEXT_SIZE`] bytes; shorter ones are padded, so the
/// packet is always [`PACKET_SIZE`] bytes.
pub fn build_forward<R: CryptoRng + ?Sized>(
    rng: &mut R,
    route: &[Hop],
    payload: &[u8],
) -> Result<Packet, OnionError> {
    check_payload_len(payload)?;
    let nodes = to_nodes(route)?;
    let initial = SecretKey::generate(rng);
    let dest = destination(DEST_QUEUE_SERVICE, &[], [0u8; SURB_ID_LEN]);
    let packet = SphinxPacketBuilder::new()
        .with_version(SINGLE_SEED_SURB_VERSION)
        .with_payload_size(SPHINX_PAYLOAD_SIZE)
        .with_initial_secret(initial.as_dalek())
        .build_packet(payload, &nodes, &dest, &zero_delays(nodes.len()))
        .map_err(|_| OnionError::Build("forward packet"))?;
    Packet::from_sphinx(&packet)
}

/// X25519 public keys the header can legitimately carry are canonical (`u < 2^255 - 19`).
/// Rejecting the rest stops the one bit x25519 ignores (bit 255) from making a second,
/// different-looking encoding of the same packet.
pub(crate) fn is_canonical_u(bytes: &[u8]) -> bool {
    let Some(top) = bytes.get(31) else {
        return false;
    };
    if top & 0x80 != 0 {
        return false;
    }
    // u >= p  <=>  top == 0x7f, bytes[1..31] all 0xff, bytes[0] >= 0xed
    let middle_all_ff = bytes
        .get(1..31)
        .is_some_and(|m| m.iter().all(|b| *b == 0xff));
    let low = bytes.first().copied().unwrap_or(0);
    !(*top == 0x7f && middle_all_ff && low >= 0xed)
}
