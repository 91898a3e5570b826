//! The one error-code enum of the JS API and its conversion: every failure that reaches
//! JavaScript is a `SottoError` (a JS `Error` with `name = "SottoError"`, a `code` from
//! [`ErrorCode`] and a `message`), as pkg/README.md lists them. Modelled on
//! matrix-sdk-crypto-wasm's `src/error.rs`.

use js_sys::Reflect;
use sotto_proto::client::ClientError;
use wasm_bindgen::JsValue;

/// What went wrong, as JS sees it in a `SottoError`'s `code` (pkg/README.md, "Errors").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The link is not an invitation, is garbled or expired, or names an unknown relay.
    InvalidInvitation,
    /// The directory cannot be fetched or no relay in it answers.
    RelayUnreachable,
    /// No contact with that id.
    UnknownContact,
    /// A text or file does not fit (or a file's name or type is too long).
    MessageTooLarge,
    /// The `Sotto` was closed.
    Closed,
    /// An option this release does not support.
    Unsupported,
    /// The passphrase does not open this profile; nothing was changed.
    WrongPassphrase,
    /// IndexedDB refused a write (quota exceeded).
    StorageQuota,
    /// IndexedDB failed otherwise, or the stored profile is damaged.
    Storage,
    /// An argument is not acceptable (e.g. an empty display name).
    InvalidArgument,
    /// The saved profile is open in another tab or window (it holds the profile's lock, or
    /// wrote a newer state); nothing was loaded here, or this copy stopped writing.
    ProfileInUse,
    /// The network did not answer within the bound (pkg/README.md, "Every promise settles").
    Timeout,
    /// A relay refused the request for another reason than being full; a message refused
    /// stays queued and is sent again.
    RelayRefused,
    /// A relay is full: the contact's queue, or the relay's room for queues, messages or files
    /// (the relay answered `Quota`). A message refused stays queued and is sent again.
    RelayFull,
    /// The relays refused this device's time even after correcting for the clock they told
    /// (or told one more than 30 days away): fix the device's clock and try again.
    ClockSkew,
    /// The security code given is not this contact's: someone may have been in the middle
    /// when the invitation was passed on (or the code was mistyped). Nothing was changed.
    CodeMismatch,
    /// The relay directory was fetched but refused: unsigned, expired or not yet valid,
    /// signed by too few of the `directoryKeys`, or a relay's own signature does not verify
    /// (the message says which).
    DirectoryInvalid,
    /// `Sotto.restore`: a recovery phrase with a word not in the list (the message names it
    /// and its position), the wrong number of words, or a failed checksum. Nothing was written.
    WrongWords,
    /// `Sotto.restore`: the backup file is cut short, damaged, not a backup, or of a version
    /// this release does not read. Nothing was written.
    InvalidBackup,
    /// `Sotto.restore`: a sound backup file that these recovery words do not open (another
    /// profile's). Nothing was written.
    BackupMismatch,
    /// `Sotto.restore`: a profile of that name is saved in this browser; pass
    /// `replace: true` to overwrite it. Nothing was written.
    ProfileExists,
    /// `Sotto.restore` from the words alone: no relay snapshot of this profile was found in
    /// the periods a relay keeps one (wrong words, or the profile was not opened online in
    /// the last two days). Nothing was written.
    NoSnapshot,
    /// The profile was restored on another device, which took its conversations over: this
    /// copy no longer sends or receives (a `moved` event said so; `Sotto.moved` is `true`).
    ProfileMoved,
    /// A message to a contact restored from a backup that cannot resynchronise (stored before
    /// resynchronisation existed, docs/PROTOCOL.md §13): it was dropped unsent, for good;
    /// invite the contact again.
    NoSession,
    /// A message in a conversation with disappearing messages expired before a relay stored
    /// it (the contact's queue full or unreachable that long): it was dropped unsent, for
    /// good, so that its text is not kept past its expiry.
    MessageExpired,
}

impl ErrorCode {
    /// The code's name as JS sees it, e.g. `"UNKNOWN_CONTACT"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidInvitation => "INVALID_INVITATION",
            ErrorCode::RelayUnreachable => "RELAY_UNREACHABLE",
            ErrorCode::UnknownContact => "UNKNOWN_CONTACT",
            ErrorCode::MessageTooLarge => "MESSAGE_TOO_LARGE",
            ErrorCode::Closed => "CLOSED",
            ErrorCode::Unsupported => "UNSUPPORTED",
            ErrorCode::WrongPassphrase => "WRONG_PASSPHRASE",
            ErrorCode::StorageQuota => "STORAGE_QUOTA",
            ErrorCode::Storage => "STORAGE",
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::ProfileInUse => "PROFILE_IN_USE",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::RelayRefused => "RELAY_REFUSED",
            ErrorCode::RelayFull => "RELAY_FULL",
            ErrorCode::ClockSkew => "CLOCK_SKEW",
            ErrorCode::CodeMismatch => "CODE_MISMATCH",
            ErrorCode::DirectoryInvalid => "DIRECTORY_INVALID",
            ErrorCode::WrongWords => "WRONG_WORDS",
            ErrorCode::InvalidBackup => "INVALID_BACKUP",
            ErrorCode::BackupMismatch => "BACKUP_MISMATCH",
            ErrorCode::ProfileExists => "PROFILE_EXISTS",
            ErrorCode::NoSnapshot => "NO_SNAPSHOT",
            ErrorCode::ProfileMoved => "PROFILE_MOVED",
            ErrorCode::NoSession => "NO_SESSION",
            ErrorCode::MessageExpired => "MESSAGE_EXPIRED",
        }
    }

    /// The code of a relay's refusal: [`ErrorCode::RelayFull`] for `Quota`, else
    /// [`ErrorCode::RelayRefused`].
    pub fn of_refusal(code: sotto_proto::queue::ErrorCode) -> Self {
        match code {
            sotto_proto::queue::ErrorCode::Quota => ErrorCode::RelayFull,
            _ => ErrorCode::RelayRefused,
        }
    }

    /// The code of a message's failure (`Event::SendFailed`): the message dropped for good
    /// gets its own code ([`ErrorCode::NoSession`], [`ErrorCode::MessageExpired`],
    /// [`ErrorCode::Storage`]; `Moved` is handled before); a relay's refusal is
    /// [`ErrorCode::of_refusal`]'s; any other (the message stays queued and is sent again) is
    /// [`ErrorCode::RelayRefused`].
    pub fn of_send_failure(error: &sotto_proto::client::Error) -> Self {
        use sotto_proto::client::Error;
        match error {
            Error::NoSession => ErrorCode::NoSession,
            Error::Expired => ErrorCode::MessageExpired,
            Error::Storage(_) => ErrorCode::Storage,
            Error::RelayRefused(code) => ErrorCode::of_refusal(*code),
            _ => ErrorCode::RelayRefused,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure on its way to JS: a code and a human-readable message (which never carries
/// secrets). Becomes a JS `Error` named `SottoError` through `JsValue::from`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SottoError {
    /// What kind of failure this is.
    pub code: ErrorCode,
    /// What happened, for people.
    pub message: String,
}

impl SottoError {
    /// An error of `code` saying `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        SottoError {
            code,
            message: message.into(),
        }
    }
}

impl From<SottoError> for JsValue {
    fn from(e: SottoError) -> JsValue {
        let js = js_sys::Error::new(&e.message);
        js.set_name("SottoError");
        let _ = Reflect::set(&js, &"code".into(), &e.code.as_str().into());
        js.into()
    }
}

/// A JS `SottoError` with `code` and `message`: `SottoError::new(code, message).into()`.
pub fn sotto_error(code: ErrorCode, message: &str) -> JsValue {
    SottoError::new(code, message).into()
}

/// The `code` property of a JS error (empty when it has none).
pub fn code_of(e: &JsValue) -> String {
    Reflect::get(e, &"code".into())
        .ok()
        .and_then(|c| c.as_string())
        .unwrap_or_default()
}

/// A `SottoError` for a refusal of the client: the code the README gives each case.
pub fn client_error(e: &ClientError) -> JsValue {
    let code = match e {
        ClientError::UnknownContact => ErrorCode::UnknownContact,
        ClientError::TooLarge | ClientError::Attachment(_) => ErrorCode::MessageTooLarge,
        ClientError::Invitation(_) | ClientError::UnknownRelay | ClientError::OwnInvitation => {
            ErrorCode::InvalidInvitation
        }
        ClientError::InvalidName(_) => ErrorCode::InvalidArgument,
        ClientError::UnknownMessage => ErrorCode::InvalidArgument,
        ClientError::Moved => ErrorCode::ProfileMoved,
        _ => ErrorCode::RelayUnreachable,
    };
    sotto_error(code, &e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn every_code_has_its_readme_name() {
        let all = [
            (ErrorCode::InvalidInvitation, "INVALID_INVITATION"),
            (ErrorCode::RelayUnreachable, "RELAY_UNREACHABLE"),
            (ErrorCode::UnknownContact, "UNKNOWN_CONTACT"),
            (ErrorCode::MessageTooLarge, "MESSAGE_TOO_LARGE"),
            (ErrorCode::Closed, "CLOSED"),
            (ErrorCode::Unsupported, "UNSUPPORTED"),
            (ErrorCode::WrongPassphrase, "WRONG_PASSPHRASE"),
            (ErrorCode::StorageQuota, "STORAGE_QUOTA"),
            (ErrorCode::Storage, "STORAGE"),
            (ErrorCode::InvalidArgument, "INVALID_ARGUMENT"),
            (ErrorCode::ProfileInUse, "PROFILE_IN_USE"),
            (ErrorCode::Timeout, "TIMEOUT"),
            (ErrorCode::RelayRefused, "RELAY_REFUSED"),
            (ErrorCode::RelayFull, "RELAY_FULL"),
            (ErrorCode::ClockSkew, "CLOCK_SKEW"),
            (ErrorCode::CodeMismatch, "CODE_MISMATCH"),
            (ErrorCode::DirectoryInvalid, "DIRECTORY_INVALID"),
            (ErrorCode::WrongWords, "WRONG_WORDS"),
            (ErrorCode::InvalidBackup, "INVALID_BACKUP"),
            (ErrorCode::BackupMismatch, "BACKUP_MISMATCH"),
            (ErrorCode::ProfileExists, "PROFILE_EXISTS"),
            (ErrorCode::NoSnapshot, "NO_SNAPSHOT"),
            (ErrorCode::ProfileMoved, "PROFILE_MOVED"),
            (ErrorCode::NoSession, "NO_SESSION"),
            (ErrorCode::MessageExpired, "MESSAGE_EXPIRED"),
        ];
        for (code, name) in all {
            assert_eq!(code.as_str(), name);
            assert_eq!(code.to_string(), name);
        }
    }

    /// Review finding: a message dropped for good (no session, expired, storage) was
    /// reported `RELAY_REFUSED`, whose README entry promises it stays queued.
    #[test]
    fn a_message_dropped_for_good_is_not_reported_as_queued() {
        use sotto_proto::client::Error;
        use sotto_proto::queue::ErrorCode as Relay;
        assert_eq!(
            ErrorCode::of_send_failure(&Error::NoSession),
            ErrorCode::NoSession
        );
        assert_eq!(
            ErrorCode::of_send_failure(&Error::Expired),
            ErrorCode::MessageExpired
        );
        let quota = Error::RelayRefused(Relay::Quota);
        assert_eq!(ErrorCode::of_send_failure(&quota), ErrorCode::RelayFull);
        let auth = Error::RelayRefused(Relay::Auth);
        assert_eq!(ErrorCode::of_send_failure(&auth), ErrorCode::RelayRefused);
        assert_eq!(
            ErrorCode::of_send_failure(&Error::Encrypt),
            ErrorCode::RelayRefused
        );
    }

    #[test]
    fn a_quota_refusal_is_relay_full_and_others_are_relay_refused() {
        use sotto_proto::queue::ErrorCode as Relay;
        assert_eq!(ErrorCode::of_refusal(Relay::Quota), ErrorCode::RelayFull);
        for other in [Relay::Auth, Relay::NoQueue, Relay::Large, Relay::Internal] {
            assert_eq!(ErrorCode::of_refusal(other), ErrorCode::RelayRefused);
        }
    }
}
