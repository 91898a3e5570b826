//! Invitations: what one person hands another (as a link or a QR code) to start talking.
//!
//! An invitation carries the address of a queue on the inviter's relay and the inviter's
//! handshake public key. The link puts it in the URL *fragment*, which browsers never send to
//! a server: `{origin}/#/invite/{base64url(bytes)}`.
//!
//! Binary layout (91 bytes, integers big-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | version (= [`crate::PROTOCOL_VERSION`]) |
//! | 1 | 1 | kind: 1 = one-time, 2 = contact address |
//! | 2 | 1 | PoW difficulty a connection request must pay (contact address); 0 for one-time |
//! | 3 | 32 | relay id of the queue |
//! | 35 | 16 | sender id of the queue |
//! | 51 | 32 | inviter's X25519 handshake public key |
//! | 83 | 8 | expiry, Unix seconds (u64) |

use core::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::PROTOCOL_VERSION;
use crate::codec::{CodecError, Reader};
use crate::ids::{QueueId, RelayId};
use crate::keys::PublicKey;

/// Encoded length of an invitation.
pub const ENCODED_LEN: usize = 91;
/// What precedes the base64 in a link.
pub const FRAGMENT_PREFIX: &str = "#/invite/";
/// Default lifetime of a one-time invitation: 7 days.
pub const ONE_TIME_TTL_SECS: u64 = 7 * 24 * 60 * 60;
/// Default lifetime of a contact address: 365 days (it is reusable; the owner rotates it).
pub const CONTACT_ADDRESS_TTL_SECS: u64 = 365 * 24 * 60 * 60;

const KIND_ONE_TIME: u8 = 1;
const KIND_CONTACT_ADDRESS: u8 = 2;

/// Which kind of invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvitationKind {
    /// Accepts exactly one connection; the first sender secures the queue and the link dies.
    OneTime,
    /// A reusable address accepting many connection requests, each paying a proof of work of
    /// `pow_difficulty` (see `pow`).
    ContactAddress { pow_difficulty: u8 },
}

/// Why an invitation could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvitationError {
    #[error("not an invitation link")]
    NotALink,
    #[error("invitation is not valid base64url")]
    BadBase64,
    #[error("invitation is too short")]
    Truncated,
    #[error("invitation has trailing bytes")]
    TrailingBytes,
    #[error("invitation version {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("unknown invitation kind {0}")]
    UnknownKind(u8),
    /// A field holds a value its kind forbids (e.g. a PoW difficulty on a one-time link).
    #[error("invitation field has an invalid value")]
    InvalidField,
    #[error("invitation has expired")]
    Expired,
    #[error("could not render the QR code")]
    Qr,
}

/// A decoded invitation. Public information only: the secret half stays with the inviter
/// (see `handshake::InvitationSecret`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Invitation {
    pub kind: InvitationKind,
    /// The relay that holds the queue.
    pub relay: RelayId,
    /// The queue's sender id: where the first message goes.
    pub queue: QueueId,
    /// The inviter's X25519 handshake key.
    pub handshake_key: PublicKey,
    /// Unix seconds after which the invitation is refused.
    pub expires_at: u64,
}

impl Invitation {
    /// A one-time invitation valid for [`ONE_TIME_TTL_SECS`] from `now`.
    pub fn one_time(relay: RelayId, queue: QueueId, handshake_key: PublicKey, now: u64) -> Self {
        Self {
            kind: InvitationKind::OneTime,
            relay,
            queue,
            handshake_key,
            expires_at: now.saturating_add(ONE_TIME_TTL_SECS),
        }
    }

    /// A contact address valid for [`CONTACT_ADDRESS_TTL_SECS`] from `now`.
    pub fn contact_address(
        relay: RelayId,
        queue: QueueId,
        handshake_key: PublicKey,
        pow_difficulty: u8,
        now: u64,
    ) -> Self {
        Self {
            kind: InvitationKind::ContactAddress { pow_difficulty },
            relay,
            queue,
            handshake_key,
            expires_at: now.saturating_add(CONTACT_ADDRESS_TTL_SECS),
        }
    }

    /// The fixed binary layout (see the module docs).
    pub fn to_bytes(&self) -> [u8; ENCODED_LEN] {
        let (kind, pow) = match self.kind {
            InvitationKind::OneTime => (KIND_ONE_TIME, 0),
            InvitationKind::ContactAddress { pow_difficulty } => {
                (KIND_CONTACT_ADDRESS, pow_difficulty)
            }
        };
        let mut out = [0u8; ENCODED_LEN];
        out[0] = PROTOCOL_VERSION;
        out[1] = kind;
        out[2] = pow;
        out[3..35].copy_from_slice(self.relay.as_bytes());
        out[35..51].copy_from_slice(self.queue.as_bytes());
        out[51..83].copy_from_slice(self.handshake_key.as_bytes());
        out[83..91].copy_from_slice(&self.expires_at.to_be_bytes());
        out
    }

    /// Decodes the binary layout, without checking expiry.
    pub fn from_bytes_unchecked(bytes: &[u8]) -> Result<Self, InvitationError> {
        let version = *bytes.first().ok_or(InvitationError::Truncated)?;
        if version != PROTOCOL_VERSION {
            return Err(InvitationError::UnsupportedVersion(version));
        }
        if bytes.len() < ENCODED_LEN {
            return Err(InvitationError::Truncated);
        }
        if bytes.len() > ENCODED_LEN {
            return Err(InvitationError::TrailingBytes);
        }
        // The length is exact now; the reader still checks every field.
        let truncated = |_: CodecError| InvitationError::Truncated;
        let mut r = Reader::new(bytes);
        r.advance(1).map_err(truncated)?;
        let kind = r.take_u8().map_err(truncated)?;
        let pow = r.take_u8().map_err(truncated)?;
        let kind = match kind {
            KIND_ONE_TIME if pow == 0 => InvitationKind::OneTime,
            KIND_ONE_TIME => return Err(InvitationError::InvalidField),
            KIND_CONTACT_ADDRESS => InvitationKind::ContactAddress {
                pow_difficulty: pow,
            },
            other => return Err(InvitationError::UnknownKind(other)),
        };
        let relay: RelayId = r.extract().map_err(truncated)?;
        let queue: QueueId = r.extract().map_err(truncated)?;
        let handshake_key = PublicKey::from_bytes(r.extract().map_err(truncated)?);
        let expires_at = r.take_u64().map_err(truncated)?;
        r.should_be_exhausted()
            .map_err(|_| InvitationError::TrailingBytes)?;
        Ok(Self {
            kind,
            relay,
            queue,
            handshake_key,
            expires_at,
        })
    }

    /// Decodes the binary layout and refuses an invitation that has expired at `now`
    /// (`now >= expires_at`).
    pub fn from_bytes(bytes: &[u8], now: u64) -> Result<Self, InvitationError> {
        let inv = Self::from_bytes_unchecked(bytes)?;
        if inv.is_expired(now) {
            return Err(InvitationError::Expired);
        }
        Ok(inv)
    }

    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }

    /// `#/invite/<base64url, no padding>`.
    pub fn to_fragment(&self) -> String {
        format!(
            "{FRAGMENT_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(self.to_bytes())
        )
    }

    /// `{origin}/#/invite/<b64>`; a trailing `/` on `origin` is not doubled.
    pub fn to_link(&self, origin: &str) -> String {
        format!("{}/{}", origin.trim_end_matches('/'), self.to_fragment())
    }

    /// Parses a full link (`https://…/#/invite/<b64>`) or just its fragment
    /// (`#/invite/<b64>`), surrounding whitespace ignored, and checks expiry against `now`.
    pub fn parse_link(link: &str, now: u64) -> Result<Self, InvitationError> {
        let link = link.trim();
        let start = link
            .find(FRAGMENT_PREFIX)
            .ok_or(InvitationError::NotALink)?;
        let b64 = link
            .get(start + FRAGMENT_PREFIX.len()..)
            .ok_or(InvitationError::NotALink)?;
        // The encoding is 122 characters; anything much longer is not ours.
        if b64.len() > 2 * ENCODED_LEN {
            return Err(InvitationError::TrailingBytes);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(b64)
            .map_err(|_| InvitationError::BadBase64)?;
        Self::from_bytes(&bytes, now)
    }

    /// An SVG QR code of [`Invitation::to_link`]`(origin)`.
    pub fn to_qr_svg(&self, origin: &str) -> Result<String, InvitationError> {
        let code = qrcode::QrCode::with_error_correction_level(
            self.to_link(origin).as_bytes(),
            qrcode::EcLevel::M,
        )
        .map_err(|_| InvitationError::Qr)?;
        Ok(code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(256, 256)
            .quiet_zone(true)
            .build())
    }
}

impl fmt::Debug for Invitation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invitation")
            .field("kind", &self.kind)
            .field("relay", &self.relay)
            .field("queue", &self.queue)
            .field("handshake_key", &self.handshake_key)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyPair;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const NOW: u64 = 1_800_000_000;

    fn sample(kind: InvitationKind) -> Invitation {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let key = KeyPair::generate(&mut rng).public;
        let relay = RelayId::random(&mut rng);
        let queue = QueueId::random(&mut rng);
        match kind {
            InvitationKind::OneTime => Invitation::one_time(relay, queue, key, NOW),
            InvitationKind::ContactAddress { pow_difficulty } => {
                Invitation::contact_address(relay, queue, key, pow_difficulty, NOW)
            }
        }
    }

    #[test]
    fn link_round_trip_both_kinds() {
        for kind in [
            InvitationKind::OneTime,
            InvitationKind::ContactAddress { pow_difficulty: 20 },
        ] {
            let inv = sample(kind);
            let link = inv.to_link("https://sotto.example/");
            assert!(link.starts_with("https://sotto.example/#/invite/"));
            assert_eq!(Invitation::parse_link(&link, NOW).unwrap(), inv);
            assert_eq!(
                Invitation::parse_link(&inv.to_fragment(), NOW).unwrap(),
                inv
            );
            assert_eq!(inv.to_fragment().len(), FRAGMENT_PREFIX.len() + 122);
        }
    }

    #[test]
    fn expiry_is_enforced() {
        let inv = sample(InvitationKind::OneTime);
        assert_eq!(inv.expires_at, NOW + ONE_TIME_TTL_SECS);
        let link = inv.to_fragment();
        assert!(Invitation::parse_link(&link, inv.expires_at - 1).is_ok());
        assert_eq!(
            Invitation::parse_link(&link, inv.expires_at),
            Err(InvitationError::Expired)
        );
    }

    #[test]
    fn malformed_inputs_get_typed_errors() {
        let inv = sample(InvitationKind::OneTime);
        let bytes = inv.to_bytes();
        assert_eq!(
            Invitation::from_bytes(&[], NOW),
            Err(InvitationError::Truncated)
        );
        assert_eq!(
            Invitation::from_bytes(&bytes[..90], NOW),
            Err(InvitationError::Truncated)
        );
        let mut long = bytes.to_vec();
        long.push(0);
        assert_eq!(
            Invitation::from_bytes(&long, NOW),
            Err(InvitationError::TrailingBytes)
        );
        let mut v = bytes;
        v[0] = 2;
        assert_eq!(
            Invitation::from_bytes(&v, NOW),
            Err(InvitationError::UnsupportedVersion(2))
        );
        let mut k = bytes;
        k[1] = 3;
        assert_eq!(
            Invitation::from_bytes(&k, NOW),
            Err(InvitationError::UnknownKind(3))
        );
        let mut p = bytes;
        p[2] = 1;
        assert_eq!(
            Invitation::from_bytes(&p, NOW),
            Err(InvitationError::InvalidField)
        );
        assert_eq!(
            Invitation::parse_link("#/invite/!!!", NOW),
            Err(InvitationError::BadBase64)
        );
        assert_eq!(
            Invitation::parse_link("https://x/#/other/abc", NOW),
            Err(InvitationError::NotALink)
        );
    }

    #[test]
    fn qr_svg_is_svg() {
        let svg = sample(InvitationKind::OneTime)
            .to_qr_svg("https://sotto.example")
            .unwrap();
        assert!(svg.contains("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
