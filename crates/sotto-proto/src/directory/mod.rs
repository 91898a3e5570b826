//! The relay directory, `/directory.json`: which relays make up a network, where to reach them
//! and which Sphinx keys to build packets for. The relay serves it ([`Directory::to_json`]);
//! the relay (its peers file), the load generator and the browser library read it with
//! [`Directory::parse`].
//!
//! The document (JSON, keys in sorted order when written):
//!
//! ```json
//! {
//!   "relays": [
//!     {
//!       "id": "<base64url, 32 bytes>",
//!       "key_epoch": 3,
//!       "key_rotates_at": 1790000000,
//!       "pow_bits": 12,
//!       "previous_key": { "key_epoch": 2, "sphinx_key": "<base64url>", "valid_until": 1789000000 },
//!       "sphinx_key": "<base64url, 32 bytes>",
//!       "url": "ws://127.0.0.1:9101"
//!     }
//!   ],
//!   "version": 1
//! }
//! ```
//!
//! `key_rotates_at`, `previous_key` and `pow_bits` are optional (older directories lack them).
//! Base64 is the URL-safe alphabet; padding is accepted and never written. Unknown fields are
//! ignored, so fields can be added (signatures, issue 13) without breaking older readers.

use serde_json::{Map, Value, json};

use crate::ids::RelayId;
use crate::keys::PublicKey;
use crate::onion::Hop;

/// The `version` of an unsigned relay list ([`Directory::parse`], [`Directory::to_json`]):
/// what a relay's peers file holds. Clients read only signed directories
/// ([`SignedDirectory`], version [`DIRECTORY_VERSION`]).
pub const UNSIGNED_VERSION: u64 = 1;

/// Seconds after a relay's announced key rotation (`key_rotates_at`) within which a client
/// has read the directory again and builds packets for the new key: it reads it at a random
/// 1 to `KEY_REREAD_MARGIN_SECS / 2` seconds after the earliest rotation it knows (see
/// [`reread_at`]), which leaves the rest for the fetch and packets already on their way.
/// Relays must keep their previous key at least this long after a rotation: a relay refuses
/// to start with a shorter key overlap.
pub const KEY_REREAD_MARGIN_SECS: u64 = 10;

/// The soonest, in seconds, a client reads the directory again after reading it, whatever
/// the relays announce (a relay whose `key_rotates_at` is already past must not make clients
/// read it in a loop).
pub const MIN_REREAD_SECS: u64 = 5;

/// When to read the directory again, in device time (Unix seconds): a random 1 to
/// `KEY_REREAD_MARGIN_SECS / 2` seconds after the earliest `key_rotates_at` of `relays`
/// (announced in the relays' time, so `clock_offset`, the seconds the client adds to the
/// device's clock, is taken off), at least [`MIN_REREAD_SECS`] after `now` and at most
/// `longest` seconds after it (also when no relay announces a rotation). `jitter` is a random
/// number supplied by the caller.
pub fn reread_at(
    relays: &[RelayDescriptor],
    clock_offset: i64,
    now: u64,
    jitter: u64,
    longest: u64,
) -> u64 {
    let latest = now.saturating_add(longest.max(MIN_REREAD_SECS));
    let Some(rotation) = relays.iter().filter_map(|r| r.key_rotates_at).min() else {
        return latest;
    };
    let delay = 1 + jitter % (KEY_REREAD_MARGIN_SECS / 2);
    rotation
        .saturating_add_signed(clock_offset.saturating_neg())
        .saturating_add(delay)
        .clamp(now.saturating_add(MIN_REREAD_SECS), latest)
}

/// What can be wrong with a directory document. Always the publisher's fault (or whoever
/// handed us the file); `relay` is the entry's index in `"relays"`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// The text is not JSON (or not a JSON object).
    #[error("not a JSON directory document (line {line}, column {column})")]
    NotJson { line: usize, column: usize },
    /// `version` is missing or not the one expected ([`UNSIGNED_VERSION`] for
    /// [`Directory::parse`], [`DIRECTORY_VERSION`] for [`SignedDirectory::parse`]).
    #[error("unsupported directory version")]
    UnsupportedVersion,
    /// There is no `"relays"` array.
    #[error("no \"relays\" array")]
    NoRelayList,
    /// A required field of an entry is missing or has the wrong JSON type.
    #[error("relay {relay}: no \"{field}\"")]
    MissingField { relay: usize, field: &'static str },
    /// A key or id field is not base64url.
    #[error("relay {relay}: \"{field}\" is not base64url")]
    NotBase64 { relay: usize, field: &'static str },
    /// A key or id field does not decode to 32 bytes.
    #[error("relay {relay}: \"{field}\" is {len} bytes, not 32")]
    BadKeyLength {
        relay: usize,
        field: &'static str,
        len: usize,
    },
    /// `url` is not a `ws://` or `wss://` URL.
    #[error("relay {relay}: \"url\" is not a ws:// or wss:// URL")]
    BadUrl { relay: usize },
    /// A number is out of its range (`key_epoch` above `u32::MAX`).
    #[error("relay {relay}: \"{field}\" is out of range")]
    OutOfRange { relay: usize, field: &'static str },
    /// The list is empty, or (with [`Unusable::Skip`]) no entry was usable.
    #[error("the directory lists no usable relay")]
    NoUsableRelay,
    /// A field of the signed document itself (`valid_after`, `valid_until`, `signatures`) is
    /// missing, of the wrong type, or not base64url of the right length.
    #[error("bad \"{field}\" in the signed directory")]
    BadField { field: &'static str },
    /// The document carries no authority signature (or is an unsigned, version 1 list).
    #[error("the directory is not signed")]
    Unsigned,
    /// Fewer than `needed` of the trusted authority keys signed the document (`valid`
    /// distinct ones did): wrong keys, a tampered document or missing signatures.
    #[error("the directory has {valid} valid authority signature(s), {needed} needed")]
    TooFewSignatures { valid: usize, needed: usize },
    /// The document's validity ended at `valid_until` (Unix seconds, network time).
    #[error("the directory expired at {valid_until} (network time {now})")]
    Expired { valid_until: u64, now: u64 },
    /// The document is valid only from `valid_after` (Unix seconds, network time).
    #[error("the directory is not valid before {valid_after} (network time {now})")]
    NotYetValid { valid_after: u64, now: u64 },
    /// Entry `relay`'s own signature (by its `identity_key`) does not verify.
    #[error("relay {relay}: its descriptor signature does not verify")]
    BadDescriptorSignature { relay: usize },
    /// The trusted keys given are unusable: none, or a threshold of 0 or above their number.
    /// (The caller's mistake, not the publisher's.)
    #[error("bad directory trust: {0}")]
    BadTrust(&'static str),
}

/// What [`Directory::parse`] does with an entry that does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// Refuse the whole document (the relay's peers file, the load generator).
    Refuse,
    /// Leave the entry out (the browser: one broken relay must not lock a user out).
    Skip,
}

/// A directory document: the relays of one network, in the publisher's order.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Directory {
    pub relays: Vec<RelayDescriptor>,
}

/// One relay as the directory lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayDescriptor {
    /// Its address on the onion network (`"id"`, base64url of 32 bytes).
    pub id: RelayId,
    /// Where clients and peers reach it (`"url"`, `ws://` or `wss://`).
    pub url: String,
    /// Its current Sphinx (X25519) key: what packets and SURBs are built for (`"sphinx_key"`,
    /// base64url of 32 bytes).
    pub sphinx_key: PublicKey,
    /// The epoch (rotation counter) of `sphinx_key` (`"key_epoch"`).
    pub key_epoch: u32,
    /// When the next key rotation is due, Unix seconds (`"key_rotates_at"`), if the relay says.
    pub key_rotates_at: Option<u64>,
    /// The previous epoch's key while the relay still accepts it (`"previous_key"`).
    pub previous_key: Option<PreviousKey>,
    /// Leading zero bits the relay's queue service asks of a Create's proof of work
    /// (`"pow_bits"`), if the relay says.
    pub pow_bits: Option<u8>,
}

/// A relay's previous Sphinx key, accepted for an overlap after a rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviousKey {
    /// The key (`"sphinx_key"`, base64url of 32 bytes).
    pub sphinx_key: PublicKey,
    /// Its epoch (`"key_epoch"`).
    pub key_epoch: u32,
    /// Until when it is accepted, Unix seconds (`"valid_until"`).
    pub valid_until: u64,
}

impl RelayDescriptor {
    /// The hop a route through this relay uses: its id and current Sphinx key.
    pub fn hop(&self) -> Hop {
        Hop {
            id: self.id,
            key: self.sphinx_key,
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut r = Map::new();
        r.insert("id".into(), b64(self.id.as_bytes()));
        r.insert("url".into(), self.url.clone().into());
        r.insert("sphinx_key".into(), b64(self.sphinx_key.as_bytes()));
        r.insert("key_epoch".into(), u64::from(self.key_epoch).into());
        if let Some(at) = self.key_rotates_at {
            r.insert("key_rotates_at".into(), at.into());
        }
        if let Some(p) = &self.previous_key {
            r.insert(
                "previous_key".into(),
                json!({
                    "sphinx_key": b64(p.sphinx_key.as_bytes()),
                    "key_epoch": u64::from(p.key_epoch),
                    "valid_until": p.valid_until,
                }),
            );
        }
        if let Some(bits) = self.pow_bits {
            r.insert("pow_bits".into(), u64::from(bits).into());
        }
        Value::Object(r)
    }

    pub(crate) fn from_json(relay: usize, r: &Value) -> Result<Self, DirectoryError> {
        let url = r["url"].as_str().ok_or(DirectoryError::MissingField {
            relay,
            field: "url",
        })?;
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            return Err(DirectoryError::BadUrl { relay });
        }
        // Optional fields of the wrong type read as absent, as they always have.
        let previous_key = match r.get("previous_key") {
            None | Some(Value::Null) => None,
            Some(p) => Some(PreviousKey {
                sphinx_key: PublicKey::from_bytes(key32(relay, p, "previous_key.sphinx_key")?),
                key_epoch: epoch(relay, p, "previous_key.key_epoch")?,
                valid_until: p["valid_until"]
                    .as_u64()
                    .ok_or(DirectoryError::MissingField {
                        relay,
                        field: "previous_key.valid_until",
                    })?,
            }),
        };
        Ok(Self {
            id: RelayId::from_bytes(key32(relay, r, "id")?),
            url: url.to_owned(),
            sphinx_key: PublicKey::from_bytes(key32(relay, r, "sphinx_key")?),
            key_epoch: epoch(relay, r, "key_epoch")?,
            key_rotates_at: r["key_rotates_at"].as_u64(),
            previous_key,
            pow_bits: r["pow_bits"].as_u64().and_then(|b| u8::try_from(b).ok()),
        })
    }
}

/// The last dot-separated part of `field`: its name inside its own object.
fn leaf(field: &'static str) -> &'static str {
    field.rsplit('.').next().unwrap_or(field)
}

pub(crate) fn key32(
    relay: usize,
    obj: &Value,
    field: &'static str,
) -> Result<[u8; 32], DirectoryError> {
    let s = obj[leaf(field)]
        .as_str()
        .ok_or(DirectoryError::MissingField { relay, field })?;
    let bytes = crate::codec::from_base64url(s.trim_end_matches('='))
        .ok_or(DirectoryError::NotBase64 { relay, field })?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| DirectoryError::BadKeyLength {
        relay,
        field,
        len: bytes.len(),
    })
}

fn epoch(relay: usize, obj: &Value, field: &'static str) -> Result<u32, DirectoryError> {
    let n = obj[leaf(field)]
        .as_u64()
        .ok_or(DirectoryError::MissingField { relay, field })?;
    u32::try_from(n).map_err(|_| DirectoryError::OutOfRange { relay, field })
}

pub(crate) fn b64(bytes: &[u8]) -> Value {
    crate::codec::base64url(bytes).into()
}

impl Directory {
    /// A directory of `relays`, in this order.
    pub fn new(relays: Vec<RelayDescriptor>) -> Self {
        Self { relays }
    }

    /// Reads a directory document. `unusable` says whether an entry that does not parse
    /// refuses the document or is left out.
    ///
    /// # Errors
    /// [`DirectoryError::NotJson`], [`UnsupportedVersion`](DirectoryError::UnsupportedVersion)
    /// and [`NoRelayList`](DirectoryError::NoRelayList) for the document; the entry's error
    /// with [`Unusable::Refuse`]; [`NoUsableRelay`](DirectoryError::NoUsableRelay) when no
    /// relay is left.
    pub fn parse(text: &str, unusable: Unusable) -> Result<Self, DirectoryError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| DirectoryError::NotJson {
            line: e.line(),
            column: e.column(),
        })?;
        if doc["version"].as_u64() != Some(UNSIGNED_VERSION) {
            return Err(DirectoryError::UnsupportedVersion);
        }
        let entries = doc["relays"]
            .as_array()
            .ok_or(DirectoryError::NoRelayList)?;
        let mut relays = Vec::with_capacity(entries.len());
        for (i, r) in entries.iter().enumerate() {
            match (RelayDescriptor::from_json(i, r), unusable) {
                (Ok(d), _) => relays.push(d),
                (Err(e), Unusable::Refuse) => return Err(e),
                (Err(_), Unusable::Skip) => {}
            }
        }
        if relays.is_empty() {
            return Err(DirectoryError::NoUsableRelay);
        }
        Ok(Self { relays })
    }

    /// The document as a JSON value (keys sorted, optional fields left out when `None`).
    pub fn to_json_value(&self) -> Value {
        json!({
            "version": UNSIGNED_VERSION,
            "relays": self.relays.iter().map(RelayDescriptor::to_json).collect::<Vec<_>>(),
        })
    }

    /// The document as served at `/directory.json`: compact JSON, keys sorted.
    pub fn to_json(&self) -> String {
        self.to_json_value().to_string()
    }

    /// Each relay's hop and URL, in directory order.
    pub fn hops(&self) -> impl Iterator<Item = (Hop, &str)> {
        self.relays.iter().map(|r| (r.hop(), r.url.as_str()))
    }
}

mod signed;

pub use signed::{
    AuthoritySignature, DESCRIPTOR_LABEL, DIRECTORY_LABEL, DIRECTORY_VERSION, DirectoryTrust,
    MAX_SIGNATURES, SignedDescriptor, SignedDirectory,
};

#[cfg(test)]
mod signed_tests;
#[cfg(test)]
mod tests;
