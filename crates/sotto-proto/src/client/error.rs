//! What went wrong, and whose fault it was.
//!
//! As in rustls's `Error`: a failure names who caused it, so a driver can tell a relay's
//! refusal (retry later, tell the user) from a peer's misbehaviour (drop what it sent) from a
//! mistake of its own (fix the call) from damaged storage (restore from a backup).

use crate::attachment::AttachmentError;
use crate::handshake::HandshakeError;
use crate::onion::OnionError;
use crate::queue::ErrorCode;

/// Errors from the client API: the call cannot be carried out as asked. Mostly our misuse
/// (the caller's); [`ClientError::Onion`] can also be a gateway sending garbage.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The relay list is too short to build routes, or the gateway is not in it. (caller)
    #[error("need at least one relay, with the gateway among them")]
    NoRelays,
    /// The directory lists too few distinct relays for routes that never repeat a relay and
    /// queues that are never on our gateway: `need` ([`super::MIN_RELAYS`]), `have`. (caller,
    /// or the directory's host)
    #[error("the relay directory is too small: need {need} relays, have {have}")]
    DirectoryTooSmall { need: usize, have: usize },
    /// An invitation's relay is not in our directory. (caller or peer)
    #[error("the invitation's relay is unknown")]
    UnknownRelay,
    /// No such contact. (caller)
    #[error("unknown contact")]
    UnknownContact,
    /// No outbox holds that message: it was stored already, or never queued. (caller)
    #[error("no unsent message with that id")]
    UnknownMessage,
    /// The text does not fit one message. (caller)
    #[error("message too large")]
    TooLarge,
    /// The invitation is expired or otherwise unusable. (caller or peer)
    #[error("invalid invitation: {0}")]
    Invitation(#[from] HandshakeError),
    /// The invitation is one this client made and nobody used yet: accepting it would make
    /// a conversation with ourselves. (caller)
    #[error("this is your own invitation")]
    OwnInvitation,
    /// A display name breaks the rule of `crate::names` (the error says how). (caller)
    #[error("invalid display name: {0}")]
    InvalidName(#[from] crate::names::NameError),
    /// An onion packet could not be built or a frame decoded. (peer or caller)
    #[error("onion: {0}")]
    Onion(#[from] OnionError),
    /// A file too large, or a name, type or thumbnail too long. (caller)
    #[error("attachment: {0}")]
    Attachment(#[from] AttachmentError),
    /// The profile was restored on another device, which took its queues over
    /// ([`super::Event::ProfileMoved`], [`super::Client::is_moved`]): this copy no longer
    /// sends or receives.
    #[error("the profile was restored on another device; this copy no longer sends or receives")]
    Moved,
}

/// Why something the client was doing in the background failed, by whose fault. Carried by
/// the failure events ([`super::Event::SendFailed`] and the others).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A relay answered the request with an error, for good (e.g. [`ErrorCode::NoBlob`]: an
    /// attachment expired; [`ErrorCode::Quota`]: a queue is full).
    #[error("the relay refused: {0:?}")]
    RelayRefused(ErrorCode),
    /// The other side (a contact, an inviter, an attachment's sender) sent something that
    /// does not verify or cannot be used.
    #[error("the peer misbehaved: {0}")]
    PeerMisbehaved(PeerMisbehaved),
    /// We asked for something that cannot be done (e.g. an invitation that expired before
    /// our reply queue was created, a display name that does not fit a hello).
    #[error("misuse: {0}")]
    Misuse(ClientError),
    /// Our stored state could not be read.
    #[error("storage: {0}")]
    Storage(PersistError),
    /// No answer came in the time the driver allows (a request resent for ever, or one no
    /// route could carry): the work was given up.
    #[error("no relay answered in time")]
    Unanswered,
    /// The profile moved to another device ([`super::Event::ProfileMoved`]): the work (a
    /// message in an outbox, above all) was dropped unsent.
    #[error("the profile was restored on another device")]
    Moved,
    /// Nothing more can be encrypted to the contact: it was restored from a backup
    /// (`Client::restored`) and, stored before resynchronisation existed, cannot
    /// resynchronise safely (docs/PROTOCOL.md §13). The message was dropped unsent; the
    /// person must invite the contact again.
    #[error("this conversation can send nothing more: invite the contact again")]
    NoSession,
    /// The message, in a conversation with disappearing messages, expired before it could
    /// leave (its contact's queue full or unreachable that long): it was dropped unsent, so
    /// that its plaintext is not kept past its expiry.
    #[error("the message expired before it could be sent")]
    Expired,
    /// The contact's session refused to encrypt the message (it cannot send yet, or its
    /// counter ran out): it stays in the outbox and is tried again after a back-off.
    #[error("the message could not be encrypted")]
    Encrypt,
}

impl Error {
    /// The relay's error code, when a relay refused.
    pub fn relay_code(&self) -> Option<ErrorCode> {
        match self {
            Self::RelayRefused(code) => Some(*code),
            _ => None,
        }
    }
}

impl From<ClientError> for Error {
    fn from(e: ClientError) -> Self {
        Self::Misuse(e)
    }
}

impl From<PersistError> for Error {
    fn from(e: PersistError) -> Self {
        Self::Storage(e)
    }
}

/// How a peer misbehaved. Deliberately coarse where finer detail would be an oracle.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PeerMisbehaved {
    /// An attachment's chunk or whole file did not verify, or a relay answered with a chunk
    /// other than the one asked for.
    #[error("attachment: {0}")]
    Attachment(AttachmentError),
    /// An invitation whose keys do not give a session.
    #[error("invitation: {0}")]
    Invitation(HandshakeError),
    /// A relay answered a request, through the reply block made for it, with an answer of
    /// another kind (e.g. queue ids for a Send).
    #[error("a relay answered with the wrong kind of answer")]
    WrongAnswer,
}

/// Errors reading a persisted client. The bytes come from our own storage, so any of these
/// means corruption or tampering (or a newer build's format).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PersistError {
    /// The bytes end before the state does.
    #[error("client state is truncated")]
    Truncated,
    /// Bytes follow the end of the state.
    #[error("client state has trailing bytes")]
    TrailingBytes,
    /// The first byte names a layout this build cannot read.
    #[error("client state version {0} is not supported")]
    UnknownVersion(u8),
    /// A field holds a value the client cannot have written.
    #[error("client state is invalid: {0}")]
    Invalid(&'static str),
}

impl From<crate::codec::CodecError> for PersistError {
    fn from(e: crate::codec::CodecError) -> Self {
        match e {
            crate::codec::CodecError::TrailingBytes { .. } => Self::TrailingBytes,
            _ => Self::Truncated,
        }
    }
}
