//! The signed directory (version 2): relay descriptors each signed by their relay's Ed25519
//! identity key, gathered into a document with a validity period and signed by directory
//! authorities (k of n, as Tor's consensus is). Clients accept a document only through
//! [`SignedDirectory::verify`]. The layout is in `docs/protocol/directory.md`.
//!
//! What is signed is never the JSON text but a canonical binary encoding written with
//! [`crate::codec::Writer`] (big-endian integers):
//!
//! * a descriptor: [`DESCRIPTOR_LABEL`] · id (32) · identity key (32) · url (u16 length ·
//!   UTF-8) · Sphinx key (32) · key epoch (u32) · key_rotates_at (u8 0/1 · u64) ·
//!   previous key (u8 0/1 · key (32) · epoch (u32) · valid_until (u64), all zero when absent) ·
//!   pow_bits (u8 0/1 · u8) · published_at (u64);
//! * the directory: [`DIRECTORY_LABEL`] · valid_after (u64) · valid_until (u64) · relay count
//!   (u16) · for each relay: its descriptor encoding without the label (u16 length · bytes)
//!   and its signature (64).
//!
//! Every authority signs the same bytes, so signatures made apart combine by concatenating the
//! `"signatures"` arrays of the same body.

use serde_json::{Value, json};

use super::{Directory, DirectoryError, RelayDescriptor, b64, key32};
use crate::codec::{Writer as _, from_base64url};
use crate::keys::{AUTH_SIGNATURE_LEN, AuthKeyPair, AuthPublicKey};

/// The `version` of a signed directory document.
pub const DIRECTORY_VERSION: u64 = 2;

/// Domain separation of a relay's descriptor signature.
pub const DESCRIPTOR_LABEL: &[u8] = b"sotto directory v2 relay descriptor\0";
/// Domain separation of an authority's directory signature.
pub const DIRECTORY_LABEL: &[u8] = b"sotto directory v2 document\0";

/// One relay's descriptor as it signed it: the directory entry, the relay's Ed25519 identity
/// key, when it was signed and the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDescriptor {
    pub relay: RelayDescriptor,
    /// The relay's Ed25519 identity key (`"identity_key"`, base64url of 32 bytes).
    pub identity_key: AuthPublicKey,
    /// When the relay signed it, Unix seconds (`"published_at"`).
    pub published_at: u64,
    /// Ed25519 over [`DESCRIPTOR_LABEL`] and the descriptor's encoding (`"signature"`).
    pub signature: [u8; AUTH_SIGNATURE_LEN],
}

/// One authority's signature of a directory body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthoritySignature {
    /// The authority's Ed25519 key (`"key"`).
    pub key: AuthPublicKey,
    /// Ed25519 over [`DIRECTORY_LABEL`] and the body's encoding (`"signature"`).
    pub signature: [u8; AUTH_SIGNATURE_LEN],
}

/// A signed directory document, parsed but not yet trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDirectory {
    /// Valid from, Unix seconds (`"valid_after"`).
    pub valid_after: u64,
    /// Valid until (excluded), Unix seconds (`"valid_until"`).
    pub valid_until: u64,
    pub relays: Vec<SignedDescriptor>,
    pub signatures: Vec<AuthoritySignature>,
}

/// What a client trusts: the authorities' keys and how many of them must sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryTrust {
    keys: Vec<AuthPublicKey>,
    threshold: usize,
}

impl DirectoryTrust {
    /// `threshold` of `keys` must sign.
    ///
    /// # Errors
    /// [`DirectoryError::BadTrust`] without keys, or with a threshold of 0 or above the
    /// number of distinct keys.
    pub fn new(keys: Vec<AuthPublicKey>, threshold: usize) -> Result<Self, DirectoryError> {
        // Counted pairwise, not through a `HashSet` (one instance of its code less in the
        // wasm, issue 18): a trust list is a few keys.
        let distinct = (0..keys.len())
            .filter(|&i| !keys[..i].contains(&keys[i]))
            .count();
        if keys.is_empty() {
            return Err(DirectoryError::BadTrust("no directory keys"));
        }
        if threshold == 0 || threshold > distinct {
            return Err(DirectoryError::BadTrust(
                "the threshold must be between 1 and the number of keys",
            ));
        }
        Ok(Self { keys, threshold })
    }

    /// Reads keys given as base64url strings (padding accepted), `threshold` of which must
    /// sign (`None`: all of them).
    ///
    /// # Errors
    /// [`DirectoryError::BadTrust`] for a key that is not base64url of 32 bytes, and as
    /// [`DirectoryTrust::new`].
    pub fn from_base64<S: AsRef<str>>(
        keys: &[S],
        threshold: Option<usize>,
    ) -> Result<Self, DirectoryError> {
        let keys = keys
            .iter()
            .map(|k| {
                from_base64url(k.as_ref().trim_end_matches('='))
                    .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                    .map(AuthPublicKey::from_bytes)
                    .ok_or(DirectoryError::BadTrust(
                        "a directory key is not base64url of 32 bytes",
                    ))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let n = keys.len();
        Self::new(keys, threshold.unwrap_or(n))
    }

    /// The trusted keys.
    pub fn keys(&self) -> &[AuthPublicKey] {
        &self.keys
    }

    /// How many of them must sign.
    pub fn threshold(&self) -> usize {
        self.threshold
    }
}

fn put_descriptor(w: &mut Vec<u8>, d: &RelayDescriptor, identity: &AuthPublicKey, at: u64) {
    w.put(&d.id);
    w.put(identity);
    // A URL longer than 65 535 bytes cannot be parsed from a directory nor signed: an empty
    // one stands in, and no signature made over the real one matches.
    if w.put_u16_prefixed(d.url.as_bytes()).is_err() {
        w.put_u16(0);
    }
    w.put_bytes(d.sphinx_key.as_bytes());
    w.put_u32(d.key_epoch);
    w.put_u8(u8::from(d.key_rotates_at.is_some()));
    w.put_u64(d.key_rotates_at.unwrap_or(0));
    match &d.previous_key {
        Some(p) => {
            w.put_u8(1);
            w.put_bytes(p.sphinx_key.as_bytes());
            w.put_u32(p.key_epoch);
            w.put_u64(p.valid_until);
        }
        None => {
            w.put_u8(0);
            w.put_bytes(&[0u8; 32 + 4 + 8]);
        }
    }
    w.put_u8(u8::from(d.pow_bits.is_some()));
    w.put_u8(d.pow_bits.unwrap_or(0));
    w.put_u64(at);
}

impl SignedDescriptor {
    /// The bytes the relay signs (after [`DESCRIPTOR_LABEL`]).
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut w = Vec::with_capacity(200);
        put_descriptor(&mut w, &self.relay, &self.identity_key, self.published_at);
        w
    }

    /// `relay` signed by its identity key `key` at `published_at` (Unix seconds).
    pub fn sign(relay: RelayDescriptor, key: &AuthKeyPair, published_at: u64) -> Self {
        let mut d = Self {
            relay,
            identity_key: key.public_key(),
            published_at,
            signature: [0; AUTH_SIGNATURE_LEN],
        };
        d.signature = key.sign(DESCRIPTOR_LABEL, &d.signed_bytes());
        d
    }

    /// Checks the relay's own signature. `index` names the entry in errors.
    ///
    /// # Errors
    /// [`DirectoryError::BadDescriptorSignature`].
    pub fn verify(&self, index: usize) -> Result<(), DirectoryError> {
        self.identity_key
            .verify(DESCRIPTOR_LABEL, &self.signed_bytes(), &self.signature)
            .map_err(|_| DirectoryError::BadDescriptorSignature { relay: index })
    }

    /// The descriptor as JSON: the entry's fields plus `identity_key`, `published_at` and
    /// `signature`.
    pub fn to_json_value(&self) -> Value {
        let mut v = self.relay.to_json();
        if let Value::Object(m) = &mut v {
            m.insert("identity_key".into(), b64(self.identity_key.as_bytes()));
            m.insert("published_at".into(), self.published_at.into());
            m.insert("signature".into(), b64(&self.signature));
        }
        v
    }

    /// Reads a descriptor (entry `index` of a directory, 0 when alone). Its signature is not
    /// checked ([`SignedDescriptor::verify`]).
    ///
    /// # Errors
    /// The entry's [`DirectoryError`] (missing field, not base64url, bad length).
    pub fn from_json_value(index: usize, v: &Value) -> Result<Self, DirectoryError> {
        let relay = RelayDescriptor::from_json(index, v)?;
        let identity_key = AuthPublicKey::from_bytes(key32(index, v, "identity_key")?);
        let published_at = v["published_at"]
            .as_u64()
            .ok_or(DirectoryError::MissingField {
                relay: index,
                field: "published_at",
            })?;
        let signature = sig64(&v["signature"]).ok_or(DirectoryError::NotBase64 {
            relay: index,
            field: "signature",
        })?;
        Ok(Self {
            relay,
            identity_key,
            published_at,
            signature,
        })
    }
}

fn sig64(v: &Value) -> Option<[u8; AUTH_SIGNATURE_LEN]> {
    let bytes = from_base64url(v.as_str()?.trim_end_matches('='))?;
    <[u8; AUTH_SIGNATURE_LEN]>::try_from(bytes.as_slice()).ok()
}

impl SignedDirectory {
    /// An unsigned body: `relays` valid from `valid_after` until `valid_until` (Unix seconds).
    pub fn new(relays: Vec<SignedDescriptor>, valid_after: u64, valid_until: u64) -> Self {
        Self {
            valid_after,
            valid_until,
            relays,
            signatures: Vec::new(),
        }
    }

    /// The bytes every authority signs (after [`DIRECTORY_LABEL`]).
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut w = Vec::with_capacity(32 + self.relays.len() * 300);
        w.put_u64(self.valid_after);
        w.put_u64(self.valid_until);
        w.put_u16(u16::try_from(self.relays.len()).unwrap_or(u16::MAX));
        for r in &self.relays {
            let mut d = Vec::with_capacity(200);
            put_descriptor(&mut d, &r.relay, &r.identity_key, r.published_at);
            if w.put_u16_prefixed(&d).is_err() {
                w.put_u16(0);
            }
            w.put_bytes(&r.signature);
        }
        w
    }

    /// Adds `key`'s signature of the body (replacing an earlier one by the same key).
    pub fn sign(&mut self, key: &AuthKeyPair) {
        let public = key.public_key();
        let signature = key.sign(DIRECTORY_LABEL, &self.signed_bytes());
        self.signatures.retain(|s| s.key != public);
        self.signatures.push(AuthoritySignature {
            key: public,
            signature,
        });
    }

    /// Whether `other` has the same body (what is signed), whatever its signatures.
    pub fn same_body(&self, other: &Self) -> bool {
        self.valid_after == other.valid_after
            && self.valid_until == other.valid_until
            && self.relays == other.relays
    }

    /// Checks the document against `trust` at `now` (Unix seconds in network time: the
    /// device's clock plus its offset to the relays') and gives the relays it lists.
    ///
    /// In order: at least `trust.threshold()` distinct trusted keys signed the body (a key
    /// that signed twice counts once, and only its first signature is checked; signatures by
    /// other keys are ignored; checking stops at the threshold); `now` is within
    /// `[valid_after, valid_until)`; every descriptor's own signature verifies.
    ///
    /// # Errors
    /// [`DirectoryError::Unsigned`], [`TooFewSignatures`](DirectoryError::TooFewSignatures),
    /// [`NotYetValid`](DirectoryError::NotYetValid), [`Expired`](DirectoryError::Expired),
    /// [`BadDescriptorSignature`](DirectoryError::BadDescriptorSignature),
    /// [`NoUsableRelay`](DirectoryError::NoUsableRelay) when it lists no relay.
    pub fn verify(&self, trust: &DirectoryTrust, now: u64) -> Result<Directory, DirectoryError> {
        if self.signatures.is_empty() {
            return Err(DirectoryError::Unsigned);
        }
        let body = self.signed_bytes();
        // The trusted keys already tried (at most `MAX_SIGNATURES`, so a `Vec`: one
        // `HashSet` instance less in the wasm, issue 18); each verifies at most once, so the
        // keys counted are distinct.
        let mut tried: Vec<&AuthPublicKey> = Vec::new();
        let mut counted = 0;
        for s in &self.signatures {
            if counted >= trust.threshold {
                break;
            }
            if trust.keys.contains(&s.key) && !tried.contains(&&s.key) {
                tried.push(&s.key);
                if s.key.verify(DIRECTORY_LABEL, &body, &s.signature).is_ok() {
                    counted += 1;
                }
            }
        }
        if counted < trust.threshold {
            return Err(DirectoryError::TooFewSignatures {
                valid: counted,
                needed: trust.threshold,
            });
        }
        if now < self.valid_after {
            return Err(DirectoryError::NotYetValid {
                valid_after: self.valid_after,
                now,
            });
        }
        if now >= self.valid_until {
            return Err(DirectoryError::Expired {
                valid_until: self.valid_until,
                now,
            });
        }
        for (i, r) in self.relays.iter().enumerate() {
            r.verify(i)?;
        }
        if self.relays.is_empty() {
            return Err(DirectoryError::NoUsableRelay);
        }
        Ok(Directory::new(
            self.relays.iter().map(|r| r.relay.clone()).collect(),
        ))
    }

    /// The document as JSON (keys sorted).
    pub fn to_json_value(&self) -> Value {
        json!({
            "version": DIRECTORY_VERSION,
            "valid_after": self.valid_after,
            "valid_until": self.valid_until,
            "relays": self.relays.iter().map(SignedDescriptor::to_json_value).collect::<Vec<_>>(),
            "signatures": self.signatures.iter().map(|s| json!({
                "key": b64(s.key.as_bytes()),
                "signature": b64(&s.signature),
            })).collect::<Vec<_>>(),
        })
    }

    /// The document as served at `/directory.json`: compact JSON, keys sorted.
    pub fn to_json(&self) -> String {
        self.to_json_value().to_string()
    }

    /// Reads a signed document. Nothing is checked beyond its shape
    /// ([`SignedDirectory::verify`] does); every entry must parse, since the authorities'
    /// signatures cover them all.
    ///
    /// # Errors
    /// [`DirectoryError::NotJson`]; [`Unsigned`](DirectoryError::Unsigned) for a version 1
    /// (unsigned) list; [`UnsupportedVersion`](DirectoryError::UnsupportedVersion);
    /// [`NoRelayList`](DirectoryError::NoRelayList); [`BadField`](DirectoryError::BadField);
    /// an entry's error.
    pub fn parse(text: &str) -> Result<Self, DirectoryError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| DirectoryError::NotJson {
            line: e.line(),
            column: e.column(),
        })?;
        let Some(doc) = doc.as_object() else {
            return Err(DirectoryError::NotJson { line: 1, column: 1 });
        };
        match doc.get("version").and_then(Value::as_u64) {
            Some(DIRECTORY_VERSION) => {}
            Some(super::UNSIGNED_VERSION) => return Err(DirectoryError::Unsigned),
            _ => return Err(DirectoryError::UnsupportedVersion),
        }
        let number = |field| {
            doc.get(field)
                .and_then(Value::as_u64)
                .ok_or(DirectoryError::BadField { field })
        };
        let (valid_after, valid_until) = (number("valid_after")?, number("valid_until")?);
        let relays = doc
            .get("relays")
            .and_then(Value::as_array)
            .ok_or(DirectoryError::NoRelayList)?
            .iter()
            .enumerate()
            .map(|(i, r)| SignedDescriptor::from_json_value(i, r))
            .collect::<Result<Vec<_>, _>>()?;
        let signatures = match doc.get("signatures") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) if list.len() <= MAX_SIGNATURES => list
                .iter()
                .map(authority_signature)
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => {
                return Err(DirectoryError::BadField {
                    field: "signatures",
                });
            }
        };
        Ok(Self {
            valid_after,
            valid_until,
            relays,
            signatures,
        })
    }
}

/// The most authority signatures a document may carry: more is refused before any is checked,
/// so a directory host cannot make a client verify signatures without end.
pub const MAX_SIGNATURES: usize = 64;

fn authority_signature(v: &Value) -> Result<AuthoritySignature, DirectoryError> {
    let bad = DirectoryError::BadField {
        field: "signatures",
    };
    let key = v["key"]
        .as_str()
        .and_then(|k| from_base64url(k.trim_end_matches('=')))
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .ok_or(bad.clone())?;
    Ok(AuthoritySignature {
        key: AuthPublicKey::from_bytes(key),
        signature: sig64(&v["signature"]).ok_or(bad)?,
    })
}
