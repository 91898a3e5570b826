//! The request frame: version, tag, request id, reply SURB, command body, signature.

#[cfg(doc)]
use super::Response;
use super::{
    Auth, CREATE_POW_LABEL, Command, QueueError, REQUEST_SIG_LABEL, SIGNATURE_LEN, SURB_SIZE,
    take_header,
};
use crate::PROTOCOL_VERSION;
use crate::codec::{Reader, Writer};
use crate::keys::{AuthKeyPair, AuthPublicKey};
use crate::onion::Surb;
use crate::pow::{self, Challenge};
use crate::sizes::ONION_PLAINTEXT_SIZE;

/// A request as the client builds it.
#[derive(Clone, Debug)]
pub struct Request {
    /// Chosen by the client to match the answer; echoed in the [`Response`].
    pub request_id: u64,
    /// The SURB the relay answers through.
    pub reply: Surb,
    pub command: Command,
}

impl Request {
    fn encode_unsigned(&self) -> Result<Vec<u8>, QueueError> {
        let mut out = Vec::with_capacity(ONION_PLAINTEXT_SIZE);
        out.put_u8(PROTOCOL_VERSION);
        out.put_u8(self.command.tag());
        out.put_u64(self.request_id);
        out.put_bytes(self.reply.as_bytes());
        self.command.encode_body(&mut out)?;
        Ok(out)
    }

    /// Encodes the request and signs it with `signer` when the command needs a signature
    /// ([`Command::auth`]). For Create and Secure, `signer` must be the key in the command.
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

    /// The proof-of-work challenge of a Create request: the frame's bytes before the nonce.
    /// `None` for other commands.
    pub fn pow_challenge(&self) -> Result<Option<Challenge>, QueueError> {
        if !matches!(self.command, Command::Create { .. }) {
            return Ok(None);
        }
        let bytes = self.encode_unsigned()?;
        Ok(Some(create_challenge(&bytes)))
    }

    /// Builds, pays for (solving a `pow_bits` proof of work) and signs a Create request.
    pub fn create(
        request_id: u64,
        reply: Surb,
        recipient: &AuthKeyPair,
        now: u64,
        pow_bits: u8,
    ) -> Result<Vec<u8>, QueueError> {
        let mut req = Request {
            request_id,
            reply,
            command: Command::Create {
                recipient_key: recipient.public_key(),
                timestamp: now,
                pow_nonce: 0,
            },
        };
        let challenge = req.pow_challenge()?.ok_or(QueueError::Signer)?;
        let nonce = pow::solve(&challenge, pow_bits).map_err(|_| QueueError::Pow)?;
        if let Command::Create { pow_nonce, .. } = &mut req.command {
            *pow_nonce = nonce;
        }
        req.encode(Some(recipient))
    }
}

/// Create's PoW covers every byte before the 8-byte nonce (which ends the unsigned frame).
fn create_challenge(unsigned: &[u8]) -> Challenge {
    let cut = unsigned.len().saturating_sub(8);
    Challenge::new(CREATE_POW_LABEL, unsigned.get(..cut).unwrap_or(&[]))
}

/// A request as the relay decoded it. Self-signed commands are already verified; for the
/// others, look up the key named by [`ReceivedRequest::auth`] and call
/// [`ReceivedRequest::verify`] before acting.
#[derive(Clone, Debug)]
pub struct ReceivedRequest {
    pub request_id: u64,
    pub reply: Surb,
    pub command: Command,
    signed_len: usize,
    signature: Option<[u8; SIGNATURE_LEN]>,
    bytes: Vec<u8>,
}

impl ReceivedRequest {
    /// Decodes a request from the plaintext of a delivered onion packet. Rejects truncation,
    /// trailing bytes, oversize, wrong version, unknown tags, malformed SURBs, bad counts, and
    /// bad self-signatures (Create, Secure).
    pub fn decode(bytes: &[u8]) -> Result<Self, QueueError> {
        let mut r = Reader::new(bytes);
        let (tag_byte, request_id) = take_header(&mut r, bytes.len())?;
        let reply = Surb::from_bytes(r.take(SURB_SIZE)?).map_err(|_| QueueError::BadSurb)?;
        let command = Command::decode_body(tag_byte, &mut r)?;
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
        if let Auth::SelfSigned(key) = req.command.auth() {
            req.verify(&key)?;
        }
        Ok(req)
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

    /// For Create: the proof-of-work challenge (the relay keeps it in a spent set until the
    /// request's timestamp leaves its acceptance window). `None` for other commands.
    pub fn pow_challenge(&self) -> Option<Challenge> {
        match self.command {
            Command::Create { .. } => Some(create_challenge(
                self.bytes.get(..self.signed_len).unwrap_or(&[]),
            )),
            _ => None,
        }
    }

    /// For Create: checks the proof of work against `bits`. Other commands: `Ok`.
    pub fn verify_pow(&self, bits: u8) -> Result<(), QueueError> {
        match (&self.command, self.pow_challenge()) {
            (Command::Create { pow_nonce, .. }, Some(c)) => {
                pow::verify(&c, bits, *pow_nonce).map_err(|_| QueueError::Pow)
            }
            _ => Ok(()),
        }
    }
}
