//! The request frame: version, tag, request id, reply SURB, command body, signature.

#[cfg(doc)]
use super::Response;
use super::{
    Auth, BLOB_POW_LABEL, BlobId, CREATE_POW_LABEL, Command, QueueError, REQUEST_SIG_LABEL,
    SIGNATURE_LEN, SURB_SIZE, take_header,
};
use crate::PROTOCOL_VERSION;
use crate::codec::{Reader, Writer};
use crate::keys::{AuthKeyPair, AuthPublicKey};
use crate::onion::Surb;
use crate::pow::{self, Challenge, Scope};
use crate::sizes::ONION_PLAINTEXT_SIZE;

/// A request as the client builds it.
#[derive(Clone, Debug)]
pub struct Request {
    /// Chosen by the client to match the answer; echoed in the [`Response`].
    pub request_id: u64,
    /// The SURB the relay answers through; `None` exactly when the command is not answered
    /// ([`Command::answered`]: a quiet Ack), encoded as an all-zero reply SURB field.
    pub reply: Option<Surb>,
    pub command: Command,
}

impl Request {
    fn encode_unsigned(&self) -> Result<Vec<u8>, QueueError> {
        let mut out = Vec::with_capacity(ONION_PLAINTEXT_SIZE);
        out.put_u8(PROTOCOL_VERSION);
        out.put_u8(self.command.tag());
        out.put_u64(self.request_id);
        match &self.reply {
            Some(surb) if self.command.answered() => out.put_bytes(surb.as_bytes()),
            None if !self.command.answered() => out.put_bytes(&[0u8; SURB_SIZE]),
            _ => return Err(QueueError::Reply),
        }
        self.command.encode_body(&mut out)?;
        Ok(out)
    }

    /// Encodes the request and signs it with `signer` when the command needs a signature
    /// ([`Command::auth`]). For Create and Secure, `signer` must be the key in the command.
    ///
    /// # Errors
    /// [`QueueError::Signer`] for a wrong or missing key, [`QueueError::Reply`] when `reply`
    /// does not match [`Command::answered`], and the body's own errors (sizes, counts).
    pub fn encode(&self, signer: Option<&AuthKeyPair>) -> Result<Vec<u8>, QueueError> {
        let mut out = self.encode_unsigned()?;
        match (self.command.auth(), signer) {
            (Auth::None, None) => {}
            (Auth::None, Some(_)) | (_, None) => return Err(QueueError::Signer),
            (Auth::SelfSigned(key), Some(s)) if s.public_key() != key => {
                return Err(QueueError::Signer);
            }
            (_, Some(s)) => {
                let sig = s.sign(REQUEST_SIG_LABEL, &out);
                out.put(&sig);
            }
        }
        if out.len() > ONION_PLAINTEXT_SIZE {
            return Err(QueueError::Oversize(out.len()));
        }
        Ok(out)
    }

    /// The proof-of-work challenge of a Create or BlobPut request at `scope` (see
    /// [`Command::pow_challenge`]); `None` for other commands.
    pub fn pow_challenge(&self, scope: &Scope) -> Option<Challenge> {
        self.command.pow_challenge(scope)
    }

    /// Solves the proof of work of a Create or BlobPut for `scope` at `bits` and puts the
    /// nonce in the command (expected `2^bits` hashes). Other commands are left as they are.
    ///
    /// # Errors
    /// [`QueueError::Pow`] when `bits` is above [`pow::MAX_BITS`].
    pub fn solve_pow(&mut self, scope: &Scope, bits: u8) -> Result<(), QueueError> {
        let Some(challenge) = self.command.pow_challenge(scope) else {
            return Ok(());
        };
        let nonce = pow::solve(&challenge, bits).map_err(|_| QueueError::Pow)?;
        self.command.set_pow_nonce(nonce);
        Ok(())
    }

    /// Builds, pays for (solving a `pow_bits` proof of work for `scope`, the queue's relay and
    /// its current key epoch) and signs a Create request.
    ///
    /// # Errors
    /// [`QueueError::Pow`] when `pow_bits` is above [`pow::MAX_BITS`]; encoding errors.
    pub fn create(
        request_id: u64,
        reply: Surb,
        recipient: &AuthKeyPair,
        now: u64,
        pow_bits: u8,
        scope: &Scope,
    ) -> Result<Vec<u8>, QueueError> {
        let mut req = Request {
            request_id,
            reply: Some(reply),
            command: Command::Create {
                recipient_key: recipient.public_key(),
                timestamp: now,
                pow_nonce: 0,
            },
        };
        req.solve_pow(scope, pow_bits)?;
        req.encode(Some(recipient))
    }
}

/// The challenge of a Create's proof of work:
/// `SHA-256(CREATE_POW_LABEL || relay_id || key_epoch_be32 || recipient_key (32) || timestamp_be64)`.
///
/// Not the reply SURB nor the request id: a retry (new SURB, new route) reuses the solution.
pub fn create_challenge(scope: &Scope, recipient_key: &AuthPublicKey, timestamp: u64) -> Challenge {
    let mut context = [0u8; 40];
    let (key, time) = context.split_at_mut(32);
    key.copy_from_slice(recipient_key.as_bytes());
    time.copy_from_slice(&timestamp.to_be_bytes());
    Challenge::scoped(CREATE_POW_LABEL, scope, &context)
}

/// The challenge of a new blob's proof of work:
/// `SHA-256(BLOB_POW_LABEL || relay_id || key_epoch_be32 || blob_id (16))`. One per blob:
/// every chunk carries the same nonce.
pub fn blob_challenge(scope: &Scope, blob_id: &BlobId) -> Challenge {
    Challenge::scoped(BLOB_POW_LABEL, scope, blob_id.as_bytes())
}

impl Command {
    /// The proof-of-work challenge of a Create ([`create_challenge`]) or BlobPut
    /// ([`blob_challenge`]) at `scope`; `None` for commands that need no work.
    pub fn pow_challenge(&self, scope: &Scope) -> Option<Challenge> {
        match self {
            Self::Create {
                recipient_key,
                timestamp,
                ..
            } => Some(create_challenge(scope, recipient_key, *timestamp)),
            Self::BlobPut { blob_id, .. } => Some(blob_challenge(scope, blob_id)),
            _ => None,
        }
    }

    /// The proof-of-work nonce a Create or BlobPut carries; `None` for other commands.
    pub fn pow_nonce(&self) -> Option<u64> {
        match self {
            Self::Create { pow_nonce, .. } | Self::BlobPut { pow_nonce, .. } => Some(*pow_nonce),
            _ => None,
        }
    }

    /// Sets the proof-of-work nonce of a Create or BlobPut (no effect on other commands).
    pub fn set_pow_nonce(&mut self, nonce: u64) {
        if let Self::Create { pow_nonce, .. } | Self::BlobPut { pow_nonce, .. } = self {
            *pow_nonce = nonce;
        }
    }

    /// Checks the command's proof of work at `scope` against `bits` (one hash). Commands that
    /// need no work: `Ok`.
    ///
    /// # Errors
    /// [`QueueError::Pow`] when the nonce does not meet `bits` for this scope (work for another
    /// relay or key epoch, or none), or `bits` is above [`pow::MAX_BITS`].
    pub fn verify_pow(&self, scope: &Scope, bits: u8) -> Result<(), QueueError> {
        match (self.pow_challenge(scope), self.pow_nonce()) {
            (Some(challenge), Some(nonce)) => {
                pow::verify(&challenge, bits, nonce).map_err(|_| QueueError::Pow)
            }
            _ => Ok(()),
        }
    }
}

/// A request as the relay decoded it. Self-signed commands are already verified; for the
/// others, look up the key named by [`ReceivedRequest::auth`] and call
/// [`ReceivedRequest::verify`] before acting.
#[derive(Clone, Debug)]
pub struct ReceivedRequest {
    pub request_id: u64,
    /// The SURB to answer through; `None` for a command that is not answered (a quiet Ack).
    pub reply: Option<Surb>,
    pub command: Command,
    signed_len: usize,
    signature: Option<[u8; SIGNATURE_LEN]>,
    bytes: Vec<u8>,
}

impl ReceivedRequest {
    /// Decodes a request from the plaintext of a delivered onion packet. Rejects truncation,
    /// trailing bytes, oversize, wrong version, unknown tags, malformed SURBs (a quiet Ack's
    /// reply field that is not all zero included), bad counts, and bad self-signatures
    /// (Create, Secure).
    pub fn decode(bytes: &[u8]) -> Result<Self, QueueError> {
        let req = Self::decode_unchecked_create(bytes)?;
        if matches!(req.command, Command::Create { .. }) {
            req.verify_self_signed()?;
        }
        Ok(req)
    }

    /// Like [`ReceivedRequest::decode`], but leaves a Create's self-signature unchecked, so
    /// that a relay can check the cheap things first (timestamp, proof of work, spent set)
    /// and the signature only then, with [`ReceivedRequest::verify_self_signed`]. Secure's
    /// self-signature is still checked here.
    ///
    /// # Errors
    /// As [`ReceivedRequest::decode`], except a bad Create signature.
    pub fn decode_unchecked_create(bytes: &[u8]) -> Result<Self, QueueError> {
        let mut r = Reader::new(bytes);
        let (tag_byte, request_id) = take_header(&mut r, bytes.len())?;
        let field = r.take(SURB_SIZE)?;
        let command = Command::decode_body(tag_byte, &mut r)?;
        // A request that is not answered carries no reply block: its field is all zero (and
        // must be, so that each request has one encoding).
        let reply = if command.answered() {
            Some(Surb::from_bytes(field).map_err(|_| QueueError::BadSurb)?)
        } else if field.iter().all(|b| *b == 0) {
            None
        } else {
            return Err(QueueError::BadSurb);
        };
        let signed_len = r.consumed();
        let signature = match command.auth() {
            Auth::None => None,
            _ => Some(r.extract::<[u8; SIGNATURE_LEN]>()?),
        };
        r.should_be_exhausted()?;
        let req = Self {
            request_id,
            reply,
            command,
            signed_len,
            signature,
            bytes: bytes.to_vec(),
        };
        if matches!(req.command, Command::Secure { .. }) {
            req.verify_self_signed()?;
        }
        Ok(req)
    }

    /// Checks the signature of a self-signed command (Create, Secure) against the key inside
    /// it. Other commands fail with [`QueueError::Signer`].
    ///
    /// # Errors
    /// [`QueueError::BadSignature`] when it does not verify.
    pub fn verify_self_signed(&self) -> Result<(), QueueError> {
        match self.command.auth() {
            Auth::SelfSigned(key) => self.verify(&key),
            _ => Err(QueueError::Signer),
        }
    }

    /// Which key the request must be signed with.
    pub fn auth(&self) -> Auth {
        self.command.auth()
    }

    /// Checks the request's signature against `key` (the stored recipient or sender key).
    /// Unsigned commands ([`Auth::None`]) fail with [`QueueError::Signer`].
    pub fn verify(&self, key: &AuthPublicKey) -> Result<(), QueueError> {
        let signature = self.signature.as_ref().ok_or(QueueError::Signer)?;
        let signed = self
            .bytes
            .get(..self.signed_len)
            .ok_or(QueueError::Truncated)?;
        Ok(key.verify(REQUEST_SIG_LABEL, signed, signature)?)
    }

    /// For Create and BlobPut: the proof-of-work challenge at `scope` (the relay keeps a
    /// Create's in a spent set until the request's timestamp leaves its acceptance window).
    /// `None` for other commands.
    pub fn pow_challenge(&self, scope: &Scope) -> Option<Challenge> {
        self.command.pow_challenge(scope)
    }

    /// For Create and BlobPut: checks the proof of work at `scope` against `bits` (one
    /// hash). Other commands: `Ok`.
    ///
    /// # Errors
    /// [`QueueError::Pow`] (see [`Command::verify_pow`]).
    pub fn verify_pow(&self, scope: &Scope, bits: u8) -> Result<(), QueueError> {
        self.command.verify_pow(scope, bits)
    }
}
