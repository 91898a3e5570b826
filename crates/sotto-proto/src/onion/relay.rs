//! The relay side: [`process`] peels one layer; the [`ReplayCache`] remembers what was seen.

use sphinx_packet::version::SINGLE_SEED_SURB_VERSION;
use sphinx_packet::{ProcessedPacketData, SphinxPacket};

use super::{
    ConnTag, DEST_CLIENT, DEST_QUEUE_SERVICE, OnionError, Packet, REPLAY_TAG_LEN, RelayKeys,
    SEALED_REPLY_SIZE, SURB_ID_LEN, SurbId, check_len, is_canonical_u,
};
#[cfg(doc)]
use super::{GatewayFrame, Surb, build_forward};
use crate::codec::Reader;
use crate::ids::RelayId;
use crate::sizes::PACKET_SIZE;

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
    /// passed it to [`build_forward`]) to the local queue service. `key_epoch` is the epoch
    /// of the Sphinx key that peeled it (the current or, during an overlap, the previous
    /// one): the epoch the client built the packet for, to which its proof of work is bound.
    Deliver { payload: Vec<u8>, key_epoch: u32 },
    /// This relay is the gateway of a SURB reply: push `sealed` (still encrypted; only the
    /// client can open it) down the WebSocket bound to `connection`, as a
    /// [`GatewayFrame::Reply`].
    ToClient {
        connection: ConnTag,
        surb_id: SurbId,
        sealed: Vec<u8>,
    },
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
    check_len(packet, PACKET_SIZE)?;
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
            let mut r = Reader::new(&address);
            let kind = r.take_u8().map_err(|_| OnionError::Malformed)?;
            match kind {
                DEST_QUEUE_SERVICE if r.take_rest().iter().all(|b| *b == 0) => {
                    let plaintext = payload
                        .recover_plaintext()
                        .map_err(|_| OnionError::PayloadIntegrity)?;
                    Ok(Processed::Deliver {
                        payload: plaintext,
                        key_epoch: epoch,
                    })
                }
                DEST_CLIENT => {
                    let connection: ConnTag = r.extract().map_err(|_| OnionError::Malformed)?;
                    let zeros = r.take_rest();
                    if !zeros.iter().all(|b| *b == 0) || identifier == [0u8; SURB_ID_LEN] {
                        return Err(OnionError::Malformed);
                    }
                    let sealed = payload.into_bytes();
                    if sealed.len() != SEALED_REPLY_SIZE {
                        return Err(OnionError::Malformed);
                    }
                    Ok(Processed::ToClient {
                        connection,
                        surb_id: SurbId::from_bytes(identifier),
                        sealed,
                    })
                }
                _ => Err(OnionError::Malformed),
            }
        }
    }
}
