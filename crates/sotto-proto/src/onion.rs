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

use core::fmt;

use rand_core::CryptoRng;
use sphinx_packet::constants::{
    DESTINATION_ADDRESS_LENGTH, IDENTIFIER_LENGTH, MAX_PATH_LENGTH, NODE_ADDRESS_LENGTH,
    PAYLOAD_KEY_SEED_SIZE, REPLAY_TAG_SIZE,
};
use sphinx_packet::header::HEADER_SIZE;
use sphinx_packet::header::delays::Delay;
use sphinx_packet::payload::Payload;
use sphinx_packet::route::{Destination, DestinationAddressBytes, Node, NodeAddressBytes};
use sphinx_packet::version::SINGLE_SEED_SURB_VERSION;
use sphinx_packet::{
    ProcessedPacketData, SURB, SURBMaterial, SphinxPacket, SphinxPacketBuilder, SurbReplyRecovery,
};
use zeroize::Zeroizing;

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

macro_rules! tag_type {
    ($(#[$meta:meta])* $name:ident, $len:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name([u8; $len]);

        impl $name {
            pub const LEN: usize = $len;

            pub const fn from_bytes(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }

            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// A fresh random value (never all-zero).
            pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
                let mut bytes = [0u8; $len];
                while bytes == [0u8; $len] {
                    rng.fill_bytes(&mut bytes);
                }
                Self(bytes)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    concat!(stringify!($name), "({:02x}{:02x}{:02x}…)"),
                    self.0[0], self.0[1], self.0[2]
                )
            }
        }
    };
}

tag_type!(
    /// A gateway-local connection tag. The client picks it at random, binds it to its
    /// WebSocket with [`ClientFrame::Bind`], and puts it in its SURBs' destination, so the
    /// gateway can find the WebSocket a reply belongs to. It is a bearer token: whoever binds
    /// it receives the replies, so it must be unguessable (128 random bits).
    ConnTag,
    CONN_TAG_LEN
);

tag_type!(
    /// A SURB's identifier, chosen at random by its creator (never zero). The gateway reads it
    /// in the clear (only the gateway, the SURB's final hop) and passes it to the client, which
    /// finds the matching [`SurbOpener`] by it.
    SurbId,
    SURB_ID_LEN
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
        if bytes.len() != PACKET_SIZE {
            return Err(OnionError::WrongLength {
                expected: PACKET_SIZE,
                got: bytes.len(),
            });
        }
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

// ---------------------------------------------------------------------------------------------
// SURBs
// ---------------------------------------------------------------------------------------------

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
        if bytes.len() != SURB_SIZE {
            return Err(OnionError::WrongLength {
                expected: SURB_SIZE,
                got: bytes.len(),
            });
        }
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
        if sealed.len() != SEALED_REPLY_SIZE {
            return Err(OnionError::WrongLength {
                expected: SEALED_REPLY_SIZE,
                got: sealed.len(),
            });
        }
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

// ---------------------------------------------------------------------------------------------
// Relay side
// ---------------------------------------------------------------------------------------------

/// The relay's store of replay tags. `sphinx-packet` derives a 32-byte tag from each hop's
/// shared secret: the same packet (or any re-encoding of it) gives the same tag at the same
/// relay under the same key. Tags are kept per key epoch.
pub trait ReplayCache {
    /// Records `tag` for `epoch`. Returns `true` if it was new (process the packet), `false`
    /// if it was already there (drop the packet as a replay).
    fn check_and_insert(&mut self, epoch: u32, tag: [u8; REPLAY_TAG_LEN]) -> bool;
}

/// A bounded in-memory replay cache, for tests and small deployments. When full it forgets
/// the oldest tag, which re-opens a replay window for it: a production relay should size it
/// for a whole key epoch (or use a durable store) and rotate keys before it fills.
#[derive(Debug, Clone)]
pub struct MemoryReplayCache {
    capacity: usize,
    seen: std::collections::HashSet<(u32, [u8; REPLAY_TAG_LEN])>,
    order: std::collections::VecDeque<(u32, [u8; REPLAY_TAG_LEN])>,
}

impl MemoryReplayCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            seen: Default::default(),
            order: Default::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Forgets every tag of `epoch` (call when that epoch's key is dropped).
    pub fn forget_epoch(&mut self, epoch: u32) {
        self.seen.retain(|(e, _)| *e != epoch);
        self.order.retain(|(e, _)| *e != epoch);
    }
}

impl ReplayCache for MemoryReplayCache {
    fn check_and_insert(&mut self, epoch: u32, tag: [u8; REPLAY_TAG_LEN]) -> bool {
        if !self.seen.insert((epoch, tag)) {
            return false;
        }
        self.order.push_back((epoch, tag));
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }
}

/// What a relay does with a packet after peeling its layer.
#[derive(Debug)]
pub enum Processed {
    /// Send `packet` to relay `next` (no delay: Sotto's relays do not mix).
    Forward { next: RelayId, packet: Packet },
    /// This relay is the final hop: hand `payload` (the plaintext, exactly as the client
    /// passed it to [`build_forward`]) to the local queue service.
    Deliver { payload: Vec<u8> },
    /// This relay is the gateway of a SURB reply: push `sealed` (still encrypted; only the
    /// client can open it) down the WebSocket bound to `connection`, as a
    /// [`GatewayFrame::Reply`].
    ToClient {
        connection: ConnTag,
        surb_id: SurbId,
        sealed: Vec<u8>,
    },
}

/// X25519 public keys the header can legitimately carry are canonical (`u < 2^255 - 19`).
/// Rejecting the rest stops the one bit x25519 ignores (bit 255) from making a second,
/// different-looking encoding of the same packet.
fn is_canonical_u(bytes: &[u8]) -> bool {
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

/// Peels one layer of `packet` with this relay's keys.
///
/// Order of checks: exact length; canonical header key; header MAC under the current key,
/// then the previous one ([`OnionError::Integrity`] if neither); replay tag
/// ([`OnionError::Replay`]; only packets whose MAC verified are recorded, so garbage cannot
/// fill the cache); routing; Sphinx version; at a final hop the destination and (for the queue
/// service) the payload's integrity.
pub fn process<C: ReplayCache + ?Sized>(
    packet: &[u8],
    keys: &RelayKeys,
    replay: &mut C,
) -> Result<Processed, OnionError> {
    if packet.len() != PACKET_SIZE {
        return Err(OnionError::WrongLength {
            expected: PACKET_SIZE,
            got: packet.len(),
        });
    }
    if !packet.get(..32).is_some_and(is_canonical_u) {
        return Err(OnionError::Malformed);
    }
    let sphinx = SphinxPacket::from_bytes(packet).map_err(|_| OnionError::Malformed)?;

    let mut accepted = None;
    for key in keys.iter() {
        let expanded = sphinx
            .header
            .compute_expanded_shared_secret(key.secret.as_dalek());
        if sphinx.header.ensure_header_integrity(&expanded).is_ok() {
            accepted = Some((key.epoch, expanded));
            break;
        }
    }
    let Some((epoch, expanded)) = accepted else {
        return Err(OnionError::Integrity);
    };
    if !replay.check_and_insert(epoch, *expanded.replay_tag()) {
        return Err(OnionError::Replay);
    }
    let processed = sphinx
        .process_with_expanded_secret(&expanded)
        .map_err(|_| OnionError::Malformed)?;
    if processed.version != SINGLE_SEED_SURB_VERSION {
        return Err(OnionError::UnknownVersion(processed.version.value()));
    }
    match processed.data {
        ProcessedPacketData::ForwardHop {
            next_hop_packet,
            next_hop_address,
            delay: _,
        } => Ok(Processed::Forward {
            next: RelayId::from_bytes(next_hop_address.to_bytes()),
            packet: Packet::from_sphinx(&next_hop_packet).map_err(|_| OnionError::Malformed)?,
        }),
        ProcessedPacketData::FinalHop {
            destination,
            identifier,
            payload,
        } => {
            let address = destination.as_bytes();
            let (kind, rest) = address.split_first().ok_or(OnionError::Malformed)?;
            match *kind {
                DEST_QUEUE_SERVICE if rest.iter().all(|b| *b == 0) => {
                    let plaintext = payload
                        .recover_plaintext()
                        .map_err(|_| OnionError::PayloadIntegrity)?;
                    Ok(Processed::Deliver { payload: plaintext })
                }
                DEST_CLIENT => {
                    let (tag, zeros) = rest.split_at(CONN_TAG_LEN.min(rest.len()));
                    let tag =
                        <[u8; CONN_TAG_LEN]>::try_from(tag).map_err(|_| OnionError::Malformed)?;
                    if !zeros.iter().all(|b| *b == 0) || identifier == [0u8; SURB_ID_LEN] {
                        return Err(OnionError::Malformed);
                    }
                    let sealed = payload.into_bytes();
                    if sealed.len() != SEALED_REPLY_SIZE {
                        return Err(OnionError::Malformed);
                    }
                    Ok(Processed::ToClient {
                        connection: ConnTag(tag),
                        surb_id: SurbId(identifier),
                        sealed,
                    })
                }
                _ => Err(OnionError::Malformed),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Client <-> gateway WebSocket frames
// ---------------------------------------------------------------------------------------------

/// A binary WebSocket message from a browser to its gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    /// `0x01 || packet` ([`PACKET_SIZE`] bytes): process as first hop.
    Packet(Packet),
    /// `0x02 || conn_tag` (16 bytes): deliver SURB replies addressed to this tag on this
    /// WebSocket. A connection may bind several tags; rebinding a tag moves it to the newest
    /// connection (so SURBs handed out before a reconnect keep working).
    Bind(ConnTag),
}

impl ClientFrame {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Packet(p) => {
                let mut out = Vec::with_capacity(1 + PACKET_SIZE);
                out.push(FRAME_PACKET);
                out.extend_from_slice(p.as_bytes());
                out
            }
            Self::Bind(tag) => {
                let mut out = Vec::with_capacity(1 + CONN_TAG_LEN);
                out.push(FRAME_BIND);
                out.extend_from_slice(tag.as_bytes());
                out
            }
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, OnionError> {
        let (tag, body) = bytes.split_first().ok_or(OnionError::WrongLength {
            expected: 1 + CONN_TAG_LEN,
            got: 0,
        })?;
        match *tag {
            FRAME_PACKET => Packet::from_bytes(body).map(Self::Packet),
            FRAME_BIND => <[u8; CONN_TAG_LEN]>::try_from(body)
                .map(|t| Self::Bind(ConnTag(t)))
                .map_err(|_| OnionError::WrongLength {
                    expected: CONN_TAG_LEN,
                    got: body.len(),
                }),
            _ => Err(OnionError::Malformed),
        }
    }
}

/// A binary WebSocket message from a gateway to a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayFrame {
    /// `0x81 || surb_id (16) || sealed (4096)`: a SURB reply, opened by the client with the
    /// [`SurbOpener`] whose id matches.
    Reply { surb_id: SurbId, sealed: Vec<u8> },
}

impl GatewayFrame {
    pub const REPLY_LEN: usize = 1 + SURB_ID_LEN + SEALED_REPLY_SIZE;

    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Reply { surb_id, sealed } => {
                let mut out = Vec::with_capacity(Self::REPLY_LEN);
                out.push(FRAME_REPLY);
                out.extend_from_slice(surb_id.as_bytes());
                out.extend_from_slice(sealed);
                out
            }
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, OnionError> {
        let (tag, body) = bytes.split_first().ok_or(OnionError::WrongLength {
            expected: Self::REPLY_LEN,
            got: 0,
        })?;
        if *tag != FRAME_REPLY {
            return Err(OnionError::Malformed);
        }
        if body.len() != SURB_ID_LEN + SEALED_REPLY_SIZE {
            return Err(OnionError::WrongLength {
                expected: Self::REPLY_LEN,
                got: bytes.len(),
            });
        }
        let (id, sealed) = body.split_at(SURB_ID_LEN);
        let id = <[u8; SURB_ID_LEN]>::try_from(id).map_err(|_| OnionError::Malformed)?;
        Ok(Self::Reply {
            surb_id: SurbId(id),
            sealed: sealed.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn relays(rng: &mut ChaCha20Rng, n: u8) -> Vec<(Hop, RelayKeys)> {
        (0..n)
            .map(|i| {
                let key = RelayKey::generate(rng, 1);
                let hop = Hop {
                    id: RelayId::from_bytes([i + 1; 32]),
                    key: key.public_key(),
                };
                (hop, RelayKeys::new(key))
            })
            .collect()
    }

    #[test]
    fn forward_then_surb_reply_round_trip() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let r = relays(&mut rng, 3);
        let route: Vec<Hop> = r.iter().map(|(h, _)| *h).collect();
        let mut cache = MemoryReplayCache::new(64);
        let mut bytes = build_forward(&mut rng, &route, b"hello")
            .unwrap()
            .into_bytes();
        for (i, (_, keys)) in r.iter().enumerate() {
            match process(&bytes, keys, &mut cache).unwrap() {
                Processed::Forward { next, packet } => {
                    assert_eq!(next, r[i + 1].0.id);
                    bytes = packet.into_bytes();
                }
                Processed::Deliver { payload } => {
                    assert_eq!(i, 2);
                    assert_eq!(payload, b"hello");
                }
                other => panic!("{other:?}"),
            }
        }

        let back: Vec<Hop> = route.iter().rev().copied().collect();
        let conn = ConnTag::random(&mut rng);
        let (surb, opener) = build_surb(&mut rng, &back, conn).unwrap();
        let surb = Surb::from_bytes(surb.as_bytes()).unwrap();
        assert_eq!(surb.first_hop(), back[0].id);
        let (first, packet) = surb.seal(b"answer").unwrap();
        assert_eq!(first, back[0].id);
        let mut bytes = packet.into_bytes();
        for (i, (_, keys)) in r.iter().rev().enumerate() {
            match process(&bytes, keys, &mut cache).unwrap() {
                Processed::Forward { packet, .. } => bytes = packet.into_bytes(),
                Processed::ToClient {
                    connection,
                    surb_id,
                    sealed,
                } => {
                    assert_eq!(i, 2);
                    assert_eq!(connection, conn);
                    assert_eq!(surb_id, opener.id());
                    assert_eq!(opener.open(&sealed).unwrap(), b"answer");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn canonical_u_check() {
        assert!(is_canonical_u(&[0u8; 32]));
        let mut p = [0xffu8; 32];
        p[31] = 0x7f;
        p[0] = 0xec;
        assert!(is_canonical_u(&p));
        p[0] = 0xed;
        assert!(!is_canonical_u(&p));
        let mut hi = [0u8; 32];
        hi[31] = 0x80;
        assert!(!is_canonical_u(&hi));
    }

    #[test]
    fn frames_round_trip() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let f = ClientFrame::Bind(ConnTag::random(&mut rng));
        assert_eq!(ClientFrame::decode(&f.encode()).unwrap(), f);
        let g = GatewayFrame::Reply {
            surb_id: SurbId::random(&mut rng),
            sealed: vec![7; SEALED_REPLY_SIZE],
        };
        assert_eq!(GatewayFrame::decode(&g.encode()).unwrap(), g);
        assert!(ClientFrame::decode(&[]).is_err());
        assert!(ClientFrame::decode(&[9, 1, 2]).is_err());
        assert!(GatewayFrame::decode(&[FRAME_REPLY; 10]).is_err());
    }
}
