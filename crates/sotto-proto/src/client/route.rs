//! Route and reply-block choice: which relays a request passes, and the SURBs that bring the
//! answers back through our gateway.

use rand_core::CryptoRng;

use super::Client;
use super::error::ClientError;
use crate::ids::RelayId;
use crate::onion::{self, Hop, SurbId};

impl Client {
    pub(super) fn random_relay<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> RelayId {
        let i = (rng.next_u32() as usize) % self.relays.len().max(1);
        self.relays.get(i).map_or(self.gateway, |h| h.id)
    }

    pub(super) fn hop(&self, id: RelayId) -> Option<Hop> {
        self.relays.iter().find(|h| h.id == id).copied()
    }

    /// A relay other than the ones in `avoid`, if the directory has one.
    pub(super) fn middle<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        avoid: &[RelayId],
    ) -> Option<Hop> {
        let choices: Vec<&Hop> = self
            .relays
            .iter()
            .filter(|h| !avoid.contains(&h.id))
            .collect();
        let pool: Vec<&Hop> = if choices.is_empty() {
            self.relays.iter().collect()
        } else {
            choices
        };
        let i = (rng.next_u32() as usize) % pool.len().max(1);
        pool.get(i).map(|h| **h)
    }

    /// A reply block leading back to us through two random relays and our gateway.
    pub(super) fn new_surb<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
    ) -> Result<(onion::Surb, SurbId), ClientError> {
        let gateway = self.hop(self.gateway).ok_or(ClientError::NoRelays)?;
        let first = self
            .middle(rng, &[self.gateway])
            .ok_or(ClientError::NoRelays)?;
        let second = self
            .middle(rng, &[self.gateway, first.id])
            .ok_or(ClientError::NoRelays)?;
        let (surb, opener) = onion::build_surb(rng, &[first, second, gateway], self.conn)?;
        let id = opener.id();
        self.openers.insert(id, opener);
        Ok((surb, id))
    }

    pub(super) fn forward_packet<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        last: RelayId,
        payload: &[u8],
    ) -> Option<onion::Packet> {
        let gateway = self.hop(self.gateway)?;
        let last = self.hop(last)?;
        let middle = self.middle(rng, &[gateway.id, last.id])?;
        onion::build_forward(rng, &[gateway, middle, last], payload).ok()
    }
}
