//! Route and reply-block choice: which relays a request passes, and the SURBs that bring the
//! answers back through our gateway.
//!
//! The rules (docs/protocol/onion.md, "Route rules"), with G our gateway and D the relay whose
//! service a request is for:
//! - our own queues and blobs are never on G (`D ≠ G` for everything we host);
//! - a forward route is `[G, M, D]`, three distinct relays;
//! - a reply block given to D runs `D → X → Y → G`: X, Y and G distinct and none of them D, so
//!   the reply never visits a relay twice and never ends where it began.
//!
//! Only D is not always ours to choose: a contact's queue, or the blob of an attachment a
//! contact sent, may sit on our gateway. Then the forward route is `[G, M1, M2, G]` and the
//! reply `G → X → Y → G` (both still visit no relay twice on the way).
//!
//! So a directory needs [`MIN_RELAYS`] relays; smaller ones are refused with
//! [`ClientError::DirectoryTooSmall`].

use rand_core::CryptoRng;

use super::Client;
use super::error::ClientError;
use super::request::ReplyTo;
use crate::ids::RelayId;
use crate::onion::{self, Hop, SurbId};

/// Relays a directory must list: our gateway, a relay to host our queues, and two more for
/// the reply blocks that relay uses (which avoid it and our gateway).
pub const MIN_RELAYS: usize = 4;

/// Checks that `relays` lists our gateway and is large enough for the route rules.
pub(super) fn check_directory(relays: &[Hop], gateway: RelayId) -> Result<(), ClientError> {
    if !relays.iter().any(|h| h.id == gateway) {
        return Err(ClientError::NoRelays);
    }
    let mut ids: Vec<RelayId> = relays.iter().map(|h| h.id).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() < MIN_RELAYS {
        return Err(ClientError::DirectoryTooSmall {
            need: MIN_RELAYS,
            have: ids.len(),
        });
    }
    Ok(())
}

impl Client {
    /// A relay for a queue or blob of ours: any but our gateway.
    pub(super) fn hosting_relay<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
    ) -> Result<RelayId, ClientError> {
        self.pick(rng, &[self.gateway])
            .map(|h| h.id)
            .ok_or(ClientError::DirectoryTooSmall {
                need: MIN_RELAYS,
                have: self.relays.len(),
            })
    }

    pub(super) fn hop(&self, id: RelayId) -> Option<Hop> {
        self.relays.iter().find(|h| h.id == id).copied()
    }

    /// A random relay other than the ones in `avoid`, if the directory has one.
    fn pick<R: CryptoRng + ?Sized>(&self, rng: &mut R, avoid: &[RelayId]) -> Option<Hop> {
        let pool: Vec<&Hop> = self
            .relays
            .iter()
            .filter(|h| !avoid.contains(&h.id))
            .collect();
        if pool.is_empty() {
            return None;
        }
        let i = (rng.next_u32() as usize) % pool.len();
        pool.get(i).map(|h| **h)
    }

    /// The relays of a reply block that `user` (the relay answering) will use, first hop first:
    /// two relays other than `user` and our gateway, then our gateway.
    pub(super) fn surb_route<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        user: RelayId,
    ) -> Result<[Hop; 3], ClientError> {
        let too_small = ClientError::DirectoryTooSmall {
            need: MIN_RELAYS,
            have: self.relays.len(),
        };
        let gateway = self.hop(self.gateway).ok_or(ClientError::NoRelays)?;
        let first = self
            .pick(rng, &[self.gateway, user])
            .ok_or(too_small.clone())?;
        let second = self
            .pick(rng, &[self.gateway, user, first.id])
            .ok_or(too_small)?;
        Ok([first, second, gateway])
    }

    /// A reply block for `user` (the relay that will answer through it), bound to what it may
    /// bring back: the answer to one request, or deliveries of one queue.
    pub(super) fn new_surb<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        user: RelayId,
        to: ReplyTo,
    ) -> Result<(onion::Surb, SurbId), ClientError> {
        let route = self.surb_route(rng, user)?;
        let (surb, opener) = onion::build_surb(rng, &route, self.conn)?;
        let id = opener.id();
        self.openers.insert(id, (opener, to));
        Ok((surb, id))
    }

    /// The relays of a forward route to the service of `last`: `[G, M, last]`, or
    /// `[G, M1, M2, G]` when `last` is our gateway (see the module's rules).
    pub(super) fn forward_route<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        last: RelayId,
    ) -> Option<Vec<Hop>> {
        let gateway = self.hop(self.gateway)?;
        let last = self.hop(last)?;
        let middle = self.pick(rng, &[gateway.id, last.id])?;
        if last.id == gateway.id {
            let second = self.pick(rng, &[gateway.id, middle.id])?;
            return Some(vec![gateway, middle, second, gateway]);
        }
        Some(vec![gateway, middle, last])
    }

    pub(super) fn forward_packet<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        last: RelayId,
        payload: &[u8],
    ) -> Option<onion::Packet> {
        let route = self.forward_route(rng, last)?;
        onion::build_forward(rng, &route, payload).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::tests::client;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn ids(route: &[Hop]) -> Vec<RelayId> {
        route.iter().map(|h| h.id).collect()
    }

    fn distinct(ids: &[RelayId]) -> bool {
        ids.iter()
            .enumerate()
            .all(|(i, a)| ids[i + 1..].iter().all(|b| a != b))
    }

    #[test]
    fn routes_never_repeat_a_relay_and_replies_never_end_where_they_began() {
        for seed in 0..50 {
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let client = client(&mut rng);
            let g = client.gateway;
            for _ in 0..20 {
                let host = client.hosting_relay(&mut rng).unwrap();
                assert_ne!(host, g, "our queues are never on the gateway");
                for hop in &client.relays {
                    let d = hop.id;
                    let route = ids(&client.forward_route(&mut rng, d).unwrap());
                    assert_eq!(route[0], g);
                    assert_eq!(route.last(), Some(&d));
                    if d == g {
                        // A contact's queue on our gateway: out through two others and back.
                        assert_eq!(route.len(), 4);
                        assert!(distinct(&route[..3]));
                    } else {
                        assert_eq!(route.len(), 3);
                        assert!(distinct(&route));
                    }
                    let reply = ids(&client.surb_route(&mut rng, d).unwrap());
                    assert_eq!(reply[2], g);
                    assert!(distinct(&reply));
                    assert!(
                        !reply[..2].contains(&d),
                        "the reply leaves its relay at once"
                    );
                }
            }
        }
    }

    #[test]
    fn too_small_directories_are_refused_by_name() {
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let client = client(&mut rng);
        let g = client.gateway;
        assert_eq!(check_directory(&client.relays, g), Ok(()));
        assert_eq!(
            check_directory(&client.relays[..3], g),
            Err(ClientError::DirectoryTooSmall { need: 4, have: 3 })
        );
        assert_eq!(
            check_directory(&client.relays[1..], g),
            Err(ClientError::NoRelays)
        );
    }
}
