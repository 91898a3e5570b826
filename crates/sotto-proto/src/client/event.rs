//! What the client tells the application.

use zeroize::Zeroizing;

use super::ContactId;
use super::error::Error;
use crate::envelope::{Envelope, MessageId};
use crate::invitation::Invitation;

/// What happened, for the application.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// An invitation asked for with [`super::Client::create_invitation`] is ready to share.
    InvitationReady { handle: u64, invitation: Invitation },
    /// A new contact: the other side of an invitation.
    ContactAdded {
        contact: ContactId,
        display_name: String,
    },
    /// Accepting an invitation ([`super::Client::accept_invitation`] returned `handle`) is
    /// done: the inviter's queue is secured for us. Follows the contact's
    /// [`Event::ContactAdded`].
    Accepted { handle: u64, contact: ContactId },
    /// A contact told us its display name (or a new one).
    ContactRenamed {
        contact: ContactId,
        display_name: String,
    },
    /// A message arrived. `disappearing`: the seconds the conversation's messages were kept
    /// (0: kept) when it was read, the setting in force for it (a timer change later in the
    /// same delivery, e.g. in one batch, does not apply to it); the driver gives it its expiry
    /// from this, not from [`super::Client::disappearing`].
    Message {
        contact: ContactId,
        envelope: Envelope,
        received_at: u64,
        disappearing: u32,
    },
    /// A relay stored a message we sent: it will reach the contact. A batch (several
    /// envelopes in one ratchet message, `crate::envelope::batch`) gives one for each of its
    /// envelopes, in order.
    Sent {
        contact: ContactId,
        message: MessageId,
    },
    /// The queue for an invitation asked for with [`super::Client::create_invitation`]
    /// (`handle` is what it returned) could not be created: no invitation follows.
    InvitationFailed { handle: u64, error: Error },
    /// Accepting an invitation ([`super::Client::accept_invitation`] returned `handle`)
    /// failed: our reply queue was refused ([`Error::RelayRefused`]), the invitation could
    /// not be used once it was ready, or the inviter's queue could not be secured
    /// ([`Error::RelayRefused`] with [`crate::queue::ErrorCode::Auth`]: a one-time link
    /// already used). No contact was added.
    AcceptFailed { handle: u64, error: Error },
    /// A relay refused to secure the contact's queue: messages to it wait.
    SecureFailed { contact: ContactId, error: Error },
    /// A relay refused to store a message to `contact` (e.g. [`crate::queue::ErrorCode::Quota`]:
    /// their queue is full): it stays first in the outbox and is sent again after a back-off
    /// (2 s doubling to 60 s, with jitter) until a relay stores it ([`Event::Sent`]), or at
    /// once with [`super::Client::retry_message`]. Reported at each refusal, for each envelope
    /// of the message refused (several for a batch, in order). With
    /// [`Error::Moved`], [`Error::NoSession`], [`Error::Expired`] or [`Error::Storage`] the
    /// message is dropped from the outbox instead: it will never be sent.
    SendFailed {
        contact: ContactId,
        message: MessageId,
        error: Error,
    },
    /// A relay refused to subscribe one of our receive queues: the queue of `contact`, or
    /// (`None`) of an invitation not yet used. It is tried again at the next renewal.
    SubscribeFailed {
        contact: Option<ContactId>,
        error: Error,
    },
    /// A relay refused to delete a delivered message from the queue of `contact` (`None`: an
    /// invitation's queue). It may be delivered again; the ratchet drops the copy.
    AckFailed {
        contact: Option<ContactId>,
        error: Error,
    },
    /// Chunks of an attachment we send were stored; at `done == total` the attachment's
    /// message is queued, and [`Event::Sent`] follows as for a text.
    UploadProgress {
        contact: ContactId,
        message: MessageId,
        done: u32,
        total: u32,
    },
    /// An attachment's relay refused a chunk: the message is not sent.
    UploadFailed {
        contact: ContactId,
        message: MessageId,
        error: Error,
    },
    /// Chunks of an attachment we fetch arrived.
    DownloadProgress { handle: u64, done: u32, total: u32 },
    /// An attachment asked for with [`super::Client::fetch_attachment`] arrived whole and
    /// verified.
    Downloaded {
        handle: u64,
        data: Zeroizing<Vec<u8>>,
    },
    /// An attachment could not be fetched: expired on its relay
    /// ([`Error::RelayRefused`] with [`crate::queue::ErrorCode::NoBlob`]), or its chunks do
    /// not authenticate ([`Error::PeerMisbehaved`]).
    DownloadFailed { handle: u64, error: Error },
    /// A relay snapshot put with [`super::Client::put_snapshot`] is stored whole on its
    /// relay: version `slot` of backup period `period`.
    SnapshotStored { period: u64, slot: u32 },
    /// A relay snapshot's upload failed (a chunk refused or unanswered): that slot is spent;
    /// the driver tries again with the next one.
    SnapshotFailed {
        period: u64,
        slot: u32,
        error: Error,
    },
    /// A relay snapshot asked for with [`super::Client::fetch_snapshot`] arrived whole,
    /// authenticated and well-formed: the state it carries and when it was written (Unix
    /// seconds).
    SnapshotFetched {
        handle: u64,
        created_at: u64,
        state: crate::snapshot::SnapshotState,
    },
    /// A relay snapshot could not be fetched: not there, not ours, malformed, or the request
    /// failed.
    SnapshotFetchFailed {
        handle: u64,
        error: super::snapshot::FetchError,
    },
    /// The contact (or we, through [`super::Client::set_disappearing`]) set how many seconds
    /// messages of this conversation are kept; 0 keeps them.
    DisappearingChanged {
        contact: ContactId,
        seconds: u32,
        by_contact: bool,
    },
    /// This device's clock is off by more than [`super::CLOCK_OFFSET_REPORT`] seconds: a relay
    /// refused a queue creation's timestamp and told its time. `seconds` is what the client
    /// now adds to the device's clock (positive: the device is slow), see
    /// [`super::Client::clock_offset`]. Reported once per client; the creation is sent again
    /// at once, so nothing else needs doing, but the person may want to fix the clock.
    ClockOffset { seconds: i64 },
    /// A contact marked verified no longer has the security code that was compared: the
    /// mark is taken off (see [`super::Client::verify_contact`]). Tell the person.
    SecurityCodeChanged { contact: ContactId },
    /// We marked `contact` verified (their security code matched) or took the mark off
    /// ([`super::Client::verify_contact`], [`super::Client::unverify_contact`]).
    VerificationChanged { contact: ContactId, verified: bool },
    /// A message from `contact` could not be decrypted and is not a duplicate: the two
    /// ratchets diverged (a state rolled back or restored, messages lost) or a relay sent
    /// garbage. The message is lost; a resync starts ([`Event::ResyncStarted`]) unless one
    /// ran in the last [`super::RESYNC_QUIET`] seconds. Tell the person a message is missing.
    DecryptFailed { contact: ContactId },
    /// A message from `contact` decrypted (the sessions agree: no resync), but an envelope
    /// in it cannot be read: a content this version does not know (a newer peer's), or a
    /// malformed one (`error` says which). That envelope is lost; the others of its batch
    /// are delivered. When the message's frame itself is malformed (a batch's counts or
    /// lengths), the whole message is lost: one event. Tell the person a message from the
    /// contact could not be shown.
    Unreadable {
        contact: ContactId,
        error: crate::envelope::EnvelopeError,
    },
    /// We asked `contact` to resynchronise: [`super::Client::sync_status`] is
    /// [`super::SyncStatus::Resyncing`] ("Re-establishing encryption…") until
    /// [`Event::Resynced`]. Messages written meanwhile wait.
    ResyncStarted { contact: ContactId },
    /// A new session with `contact` is in place (we answered their request, or they
    /// answered ours): "Encryption re-established". The security code is unchanged.
    Resynced { contact: ContactId },
    /// `contact` restored its profile on a device from a backup made at `since` (seconds,
    /// its clock): messages it had sent us or received from us after that are not on its
    /// device, and anything its old device sends from now on is not read. Tell the person
    /// ("restored from a backup of …; messages since may be missing on their side").
    /// [`Event::Resynced`] follows.
    ContactRestored { contact: ContactId, since: u64 },
    /// The profile was restored on another device, which took our receive queues over: a
    /// relay answered one of our queues' commands with a statement, signed by that queue's
    /// key, that it moved ([`crate::queue::ResponseBody::Moved`]). From now on this client
    /// sends and receives nothing: messages still in outboxes fail
    /// ([`Event::SendFailed`] with [`Error::Moved`]) and sending, accepting and inviting
    /// fail with [`super::ClientError::Moved`]. Kept across [`super::Client::to_persisted`]
    /// ([`super::Client::is_moved`]). Reported once. Tell the person: "This profile was
    /// restored on another device; this copy no longer sends or receives."
    ProfileMoved,
}

impl Event {
    /// For a failure, a short name of what failed ("create queue", "accept invitation",
    /// "secure queue", "send", "subscribe", "acknowledge", "upload", "download"), the words
    /// drivers show and log; `None` for other events.
    pub fn what(&self) -> Option<&'static str> {
        Some(match self {
            Self::InvitationFailed { .. } => "create queue",
            Self::AcceptFailed {
                error: Error::RelayRefused(crate::queue::ErrorCode::Auth),
                ..
            } => "secure queue",
            Self::AcceptFailed {
                error: Error::RelayRefused(_),
                ..
            } => "create queue",
            Self::AcceptFailed { .. } => "accept invitation",
            Self::SecureFailed { .. } => "secure queue",
            Self::SendFailed { .. } => "send",
            Self::SubscribeFailed { .. } => "subscribe",
            Self::AckFailed { .. } => "acknowledge",
            Self::UploadFailed { .. } => "upload",
            Self::DownloadFailed { .. } => "download",
            _ => return None,
        })
    }

    /// For a failure, why it failed; `None` for other events.
    pub fn error(&self) -> Option<&Error> {
        match self {
            Self::InvitationFailed { error, .. }
            | Self::AcceptFailed { error, .. }
            | Self::SecureFailed { error, .. }
            | Self::SendFailed { error, .. }
            | Self::SubscribeFailed { error, .. }
            | Self::AckFailed { error, .. }
            | Self::UploadFailed { error, .. }
            | Self::DownloadFailed { error, .. } => Some(error),
            _ => None,
        }
    }
}
