//! The client's events, as JS sees them: each [`Event`] becomes `CustomEvent`s on the
//! `Sotto` and settles the promises waiting for it ([`Action`]s, run once the state's borrow
//! is released). The one place that matches on `sotto_proto::client::Event`, and the JS
//! shapes of messages, contacts, statuses and progress.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use js_sys::Array;
use sotto_proto::client::{Client, ContactId, Error, Event, PeerMisbehaved};
use sotto_proto::envelope::Content;
use sotto_proto::queue::ErrorCode as RelayCode;
use wasm_bindgen::prelude::*;
use web_sys::{CustomEvent, CustomEventInit, EventTarget};

use super::state::{Connection, SETTLE_SECS, State, Wait};
use crate::error::{ErrorCode, sotto_error};
use crate::js::{Resolver, bytes, hex, now, obj, set};
use crate::storage::{FileRecord, MessageRecord, Status};

/// Work for JS, done after the state's borrow is released (listeners may call back in).
pub enum Action {
    /// Dispatches a `CustomEvent` of this type with this `detail`.
    Dispatch(&'static str, JsValue),
    /// Fulfils a promise.
    Resolve(Resolver, JsValue),
    /// Rejects a promise.
    Reject(Resolver, JsValue),
}

/// Runs the actions, in order.
pub fn run(target: &EventTarget, actions: Vec<Action>) {
    for a in actions {
        match a {
            Action::Dispatch(ty, detail) => dispatch(target, ty, &detail),
            Action::Resolve(r, v) => r.resolve(&v),
            Action::Reject(r, v) => r.reject(&v),
        }
    }
}

/// Dispatches a `CustomEvent` of type `ty` with `detail` on `target`.
pub fn dispatch(target: &EventTarget, ty: &str, detail: &JsValue) {
    let init = CustomEventInit::new();
    init.set_detail(detail);
    if let Ok(event) = CustomEvent::new_with_event_init_dict(ty, &init) {
        let _ = target.dispatch_event(&event);
    }
}

/// Seconds either way from its arrival within which a peer's claimed sending time is shown.
const SENT_AT_SPAN_SECS: u64 = 10 * 365 * 86_400;

/// The sending time to keep for a message that arrived at `received_at` (Unix seconds) and
/// claims `sent_at`: the claim if it is within [`SENT_AT_SPAN_SECS`] of the arrival (a sender's
/// clock may be off), else the arrival. A peer's `sent_at` is any u64; one past what a JS `Date`
/// holds would make every date formatter of an application throw.
fn plausible_sent_at(sent_at: u64, received_at: u64) -> u64 {
    if sent_at.abs_diff(received_at) <= SENT_AT_SPAN_SECS {
        sent_at
    } else {
        received_at
    }
}

/// A message as JS sees it: `{id, contactId, text, sentAt, receivedAt?, outgoing, status,
/// expiresAt?, attachment?: {name, mime, size, voice, ready, thumbnail?}}`. The attachment's
/// key and blob address stay in wasm.
pub fn message_js(m: &MessageRecord) -> JsValue {
    let o = obj(&[
        ("id", m.id.clone().into()),
        ("contactId", m.contact.to_string().into()),
        ("text", m.text.clone().into()),
        ("sentAt", (m.sent_at as f64 * 1000.0).into()),
        ("outgoing", m.outgoing.into()),
        ("status", m.status.name().into()),
    ]);
    if let Some(r) = m.received_at {
        set(&o, "receivedAt", &(r as f64 * 1000.0).into());
    }
    if let Some(x) = m.expires_at {
        set(&o, "expiresAt", &(x as f64 * 1000.0).into());
    }
    if let Some(f) = &m.file {
        let a = &f.attachment;
        let file = obj(&[
            ("name", a.name.clone().into()),
            ("mime", a.mime.clone().into()),
            ("size", (a.size as f64).into()),
            ("voice", f.voice.into()),
            ("ready", f.ready.into()),
        ]);
        if !a.thumbnail.is_empty() {
            set(&file, "thumbnail", &bytes(&a.thumbnail));
        }
        set(&o, "attachment", &file);
    }
    o
}

/// A contact as JS sees it: `{id, displayName, disappearingSeconds}`. The name went through
/// `sotto_proto::names::sanitize` when it arrived; it goes through it again here for profiles
/// saved before that rule (it changes nothing in a name that passes).
pub fn contact_js(client: &Client, id: ContactId, name: &str) -> JsValue {
    obj(&[
        ("id", id.to_string().into()),
        ("displayName", sotto_proto::names::sanitize(name).into()),
        (
            "disappearingSeconds",
            JsValue::from(client.disappearing(id).unwrap_or(0)),
        ),
        ("verified", client.is_verified(id).into()),
        (
            "sync",
            client
                .sync_status(id)
                .map_or("ok", sotto_proto::client::SyncStatus::as_str)
                .into(),
        ),
    ])
}

/// [`contact_of`] with a `warning` for the page to show.
fn contact_warning(client: &Client, contact: ContactId, warning: &str) -> JsValue {
    let detail = contact_of(client, contact);
    set_warning(&detail, warning);
    detail
}

/// Sets `detail.warning`: a sentence for the page to show.
fn set_warning(detail: &JsValue, warning: &str) {
    let _ = js_sys::Reflect::set(detail, &"warning".into(), &warning.into());
}

/// What a contact's `ContactRestored` tells the page.
const RESTORED_WARNING: &str =
    "This contact restored from a backup: messages since it may be missing on their side.";
/// What a contact's `DecryptFailed` tells the page.
const DECRYPT_FAILED_WARNING: &str =
    "A message from this contact could not be decrypted and is lost: re-establishing encryption.";
/// What a contact's `Unreadable` tells the page.
const UNREADABLE_WARNING: &str =
    "A message from this contact could not be read (sent by a newer version?) and is not shown.";
/// What a contact's `SecurityCodeChanged` tells the page.
const CODE_CHANGED_WARNING: &str =
    "The security code of this contact changed since you verified it: compare it again.";

/// [`contact_js`] of a contact by id (its current name).
fn contact_of(client: &Client, contact: ContactId) -> JsValue {
    let name = client
        .contacts()
        .find(|(id, _)| *id == contact)
        .map(|(_, n)| n.to_owned())
        .unwrap_or_default();
    contact_js(client, contact, &name)
}

/// A `status` event, its detail `{id, contactId, status}`.
fn status_event(id: &str, contact: ContactId, status: Status) -> Action {
    let detail = obj(&[
        ("id", id.into()),
        ("contactId", contact.to_string().into()),
        ("status", status.name().into()),
    ]);
    Action::Dispatch("status", detail)
}

/// A `progress` event's detail: `{id, contactId, direction, done, total}`.
fn progress_js(id: &str, contact: ContactId, direction: &str, done: u32, total: u32) -> JsValue {
    obj(&[
        ("id", id.into()),
        ("contactId", contact.to_string().into()),
        ("direction", direction.into()),
        ("done", done.into()),
        ("total", total.into()),
    ])
}

/// What one client event changes in the state (history, transfers, waiting promises) and
/// what JS is told of it.
pub fn on_event(st: &mut State, event: Event, actions: &mut Vec<Action>) {
    match event {
        Event::InvitationReady { handle, invitation } => {
            if let Some(w) = st.waiting.invitations.remove(&handle) {
                actions.push(Action::Resolve(
                    w.resolver,
                    invitation.to_link(&st.origin).into(),
                ));
            }
        }
        Event::ContactAdded {
            contact,
            display_name,
        } => {
            let js = contact_js(&st.client, contact, &display_name);
            st.history.add_contact(contact);
            actions.push(Action::Dispatch("contact", js));
        }
        // Accepting an invitation adds the contact without a name (the inviter sends it in
        // its first message).
        Event::Accepted { handle, contact } => {
            if let Some(w) = st.waiting.accepts.remove(&handle) {
                let js = contact_js(&st.client, contact, "");
                actions.push(Action::Resolve(w.resolver, js));
            }
        }
        Event::AcceptFailed { handle, error } => {
            let Some(w) = st.waiting.accepts.remove(&handle) else {
                return;
            };
            if let Some(e) = moved_error(&error) {
                return actions.push(Action::Reject(w.resolver, e));
            }
            let (code, message) = match error.relay_code() {
                Some(RelayCode::Auth) => (
                    ErrorCode::InvalidInvitation,
                    "the invitation was already used (it is for one contact)",
                ),
                Some(RelayCode::Expired) => (ErrorCode::ClockSkew, CLOCK_SKEW_TEXT),
                Some(RelayCode::Quota) => (ErrorCode::RelayFull, RELAY_FULL_TEXT),
                Some(_) => (
                    ErrorCode::InvalidInvitation,
                    "a relay refused to set up the conversation; try the link again",
                ),
                None => (
                    ErrorCode::InvalidInvitation,
                    "the invitation could not be used",
                ),
            };
            actions.push(Action::Reject(w.resolver, sotto_error(code, message)));
        }
        Event::ClockOffset { seconds } => {
            actions.push(Action::Dispatch(
                "clock",
                obj(&[("offsetSeconds", (seconds as f64).into())]),
            ));
        }
        Event::SendFailed {
            contact,
            message,
            error: Error::Moved,
        } => {
            // The profile moved: the message is dropped unsent, for good.
            let id = hex(message.as_bytes());
            if let Some((w, _)) = st.waiting.sends.remove(message.as_bytes()) {
                let e = sotto_error(ErrorCode::ProfileMoved, MOVED_TEXT);
                set(&e, "messageId", &id.clone().into());
                actions.push(Action::Reject(w.resolver, e));
            }
            st.waiting.unsettled.remove(message.as_bytes());
            st.update(&id, |m| m.status = Status::Failed);
            actions.push(status_event(&id, contact, Status::Failed));
        }
        Event::SendFailed {
            contact,
            message,
            error,
        } => {
            let id = hex(message.as_bytes());
            let sotto_code = ErrorCode::of_send_failure(&error);
            // The relay's code when a relay refused, else (expired, no session, not
            // encrypted, storage) the SottoError's.
            let (code, text): (JsValue, _) = match error.relay_code() {
                Some(code) => (
                    format!("{code:?}").into(),
                    format!(
                        "the relay refused the message ({code:?}); it stays queued and is sent again"
                    ),
                ),
                // Not a relay's refusal: the client says.
                None => (sotto_code.as_str().into(), error.to_string()),
            };
            // Our own messages (not hellos or settings) have a promise, or had one.
            let mut ours = st.waiting.unsettled.contains(message.as_bytes());
            if let Some((w, _)) = st.waiting.sends.remove(message.as_bytes()) {
                let e = sotto_error(sotto_code, &text);
                set(&e, "messageId", &id.clone().into());
                actions.push(Action::Reject(w.resolver, e));
                st.waiting.unsettled.insert(*message.as_bytes());
                ours = true;
            }
            if sotto_code != ErrorCode::RelayRefused && sotto_code != ErrorCode::RelayFull {
                // Dropped for good (no session, expired, storage): no `sent` will follow.
                st.waiting.unsettled.remove(message.as_bytes());
            }
            if ours {
                st.update(&id, |m| m.status = Status::Failed);
                actions.push(status_event(&id, contact, Status::Failed));
            }
            let detail = obj(&[("what", "send".into()), ("code", code)]);
            actions.push(Action::Dispatch("error", detail));
        }
        Event::ContactRenamed {
            contact,
            display_name,
        } => actions.push(Action::Dispatch(
            "contact",
            contact_js(&st.client, contact, &display_name),
        )),
        Event::Message {
            contact,
            envelope,
            received_at,
            disappearing,
        } => {
            let (text, file) = match envelope.content {
                Content::Text(text) => (text, None),
                Content::Attachment(attachment) => {
                    let voice = attachment.mime.starts_with("audio/");
                    let file = FileRecord {
                        attachment,
                        voice,
                        ready: false,
                    };
                    (String::new(), Some(file))
                }
                _ => return,
            };
            let record = MessageRecord {
                seq: 0,
                id: hex(envelope.id.as_bytes()),
                contact,
                text,
                sent_at: plausible_sent_at(envelope.sent_at, received_at),
                received_at: Some(received_at),
                outgoing: false,
                status: Status::Received,
                expires_at: None,
                file,
            };
            // Its expiry from the setting in force when it was read, not the client's now.
            let m = st.keep_for(record, disappearing);
            // A file on a relay we do not know (or too large) cannot be fetched: it fails now
            // rather than waiting for ever.
            let unfetchable = m
                .file
                .as_ref()
                .is_some_and(|f| !st.start_download(&m.id, contact, &f.attachment));
            actions.push(Action::Dispatch("message", message_js(&m)));
            if unfetchable {
                st.update(&m.id, |r| r.status = Status::Failed);
                let detail = obj(&[
                    ("id", m.id.clone().into()),
                    ("contactId", contact.to_string().into()),
                    ("ready", false.into()),
                    ("error", "the file's relay is not in the directory".into()),
                ]);
                actions.push(Action::Dispatch("attachment", detail));
            }
        }
        Event::Sent { contact, message } => {
            let id = hex(message.as_bytes());
            st.update(&id, |m| m.status = Status::Sent);
            st.local.uploads.remove(&id);
            let unsettled = st.waiting.unsettled.remove(message.as_bytes());
            if let Some((w, sent_at)) = st.waiting.sends.remove(message.as_bytes()) {
                let js = obj(&[
                    ("id", id.clone().into()),
                    ("contactId", contact.to_string().into()),
                    ("sentAt", (sent_at as f64 * 1000.0).into()),
                ]);
                actions.push(Action::Resolve(w.resolver, js));
            } else if !unsettled {
                return;
            }
            actions.push(status_event(&id, contact, Status::Sent));
        }
        Event::UploadProgress {
            contact,
            message,
            done,
            total,
        } => {
            // The bound counts from the last progress: a large file takes its time.
            if let Some((w, _)) = st.waiting.sends.get_mut(message.as_bytes()) {
                w.deadline = now().saturating_add(SETTLE_SECS);
                // And the browser's backstop behind it (sotto.rs `CALL_BACKSTOP_MS`).
                w.resolver.extend();
            }
            actions.push(Action::Dispatch(
                "progress",
                progress_js(&hex(message.as_bytes()), contact, "upload", done, total),
            ))
        }
        Event::UploadFailed {
            contact,
            message,
            error,
        } => {
            let id = hex(message.as_bytes());
            st.update(&id, |m| m.status = Status::Failed);
            st.local.uploads.remove(&id);
            if let Some((w, _)) = st.waiting.sends.remove(message.as_bytes()) {
                let e = moved_error(&error).unwrap_or_else(|| {
                    sotto_error(
                        error
                            .relay_code()
                            .map_or(ErrorCode::RelayUnreachable, ErrorCode::of_refusal),
                        &match error.relay_code() {
                            Some(code) => format!("the relay refused the file ({code:?})"),
                            None => format!("the file could not be sent ({error})"),
                        },
                    )
                });
                // `retry(messageId)` uploads it again.
                set(&e, "messageId", &id.clone().into());
                actions.push(Action::Reject(w.resolver, e));
            }
            actions.push(status_event(&id, contact, Status::Failed));
        }
        Event::DownloadProgress {
            handle,
            done,
            total,
        } => {
            if let Some((id, contact)) = st.downloads.get(&handle) {
                actions.push(Action::Dispatch(
                    "progress",
                    progress_js(id, *contact, "download", done, total),
                ));
            }
        }
        Event::Downloaded { handle, data } => {
            if let Some((id, contact)) = st.downloads.remove(&handle) {
                st.local.downloads.remove(&id);
                st.history.keep_file(&id, data);
                st.update(&id, |m| {
                    if let Some(f) = &mut m.file {
                        f.ready = true;
                    }
                });
                let detail = obj(&[
                    ("id", id.into()),
                    ("contactId", contact.to_string().into()),
                    ("ready", true.into()),
                ]);
                actions.push(Action::Dispatch("attachment", detail));
            }
        }
        Event::DownloadFailed { handle, error } => {
            if let Some((id, contact)) = st.downloads.remove(&handle) {
                st.local.downloads.remove(&id);
                st.update(&id, |m| m.status = Status::Failed);
                let detail = obj(&[
                    ("id", id.into()),
                    ("contactId", contact.to_string().into()),
                    ("ready", false.into()),
                    ("error", download_error(&error).into()),
                ]);
                actions.push(Action::Dispatch("attachment", detail));
            }
        }
        Event::DisappearingChanged { contact, .. }
        | Event::VerificationChanged { contact, .. }
        | Event::ResyncStarted { contact } => {
            actions.push(Action::Dispatch("contact", contact_of(&st.client, contact)));
        }
        Event::Resynced { contact } => {
            let detail = contact_of(&st.client, contact);
            let _ = js_sys::Reflect::set(&detail, &"resynced".into(), &true.into());
            actions.push(Action::Dispatch("contact", detail));
        }
        Event::ContactRestored { contact, since } => {
            // The gap: what this contact's old device had after `since` is not on the new one.
            let detail = contact_of(&st.client, contact);
            let _ = js_sys::Reflect::set(
                &detail,
                &"restoredSince".into(),
                &(since.saturating_mul(1000) as f64).into(),
            );
            set_warning(&detail, RESTORED_WARNING);
            actions.push(Action::Dispatch("contact", detail));
        }
        Event::DecryptFailed { contact } => {
            let detail = contact_warning(&st.client, contact, DECRYPT_FAILED_WARNING);
            actions.push(Action::Dispatch("contact", detail));
        }
        Event::Unreadable { contact, .. } => {
            let detail = contact_warning(&st.client, contact, UNREADABLE_WARNING);
            actions.push(Action::Dispatch("contact", detail));
        }
        Event::SecurityCodeChanged { contact } => {
            let detail = contact_warning(&st.client, contact, CODE_CHANGED_WARNING);
            actions.push(Action::Dispatch("contact", detail));
        }
        Event::InvitationFailed { handle, ref error } => {
            // The promise of `createInvitation()` settles now, not at its deadline.
            if let Some(w) = st.waiting.invitations.remove(&handle) {
                let e = match error.relay_code() {
                    _ if let Some(e) = moved_error(error) => e,
                    Some(RelayCode::Expired) => sotto_error(ErrorCode::ClockSkew, CLOCK_SKEW_TEXT),
                    Some(RelayCode::Quota) => sotto_error(ErrorCode::RelayFull, RELAY_FULL_TEXT),
                    _ => sotto_error(
                        ErrorCode::RelayRefused,
                        "a relay refused to make the invitation's queue; try again",
                    ),
                };
                actions.push(Action::Reject(w.resolver, e));
            }
            // The relay's code when a relay refused, else what went wrong (never a code the
            // relay did not send).
            let code = error
                .relay_code()
                .map_or_else(|| error.to_string(), |code| format!("{code:?}"));
            let detail = obj(&[("what", "create queue".into()), ("code", code.into())]);
            actions.push(Action::Dispatch("error", detail));
        }
        Event::ProfileMoved => {
            let detail = obj(&[("message", MOVED_TEXT.into())]);
            actions.push(Action::Dispatch("moved", detail));
        }
        failure @ (Event::SecureFailed { .. }
        | Event::SubscribeFailed { .. }
        | Event::AckFailed { .. }) => {
            let (Some(what), Some(error)) = (failure.what(), failure.error()) else {
                return;
            };
            // An invitation that cannot be used is reported as `Expired`, as it always was.
            let code = error.relay_code().unwrap_or(RelayCode::Expired);
            let detail = obj(&[("what", what.into()), ("code", format!("{code:?}").into())]);
            actions.push(Action::Dispatch("error", detail));
        }
        _ => {}
    }
}

/// What a profile that moved to another device is told (the `moved` event's `message`, and
/// `PROFILE_MOVED` errors).
pub const MOVED_TEXT: &str =
    "This profile was restored on another device; this copy no longer sends or receives.";

/// `PROFILE_MOVED` ([`MOVED_TEXT`]) when `error` is the profile having moved; `None` for
/// any other failure.
fn moved_error(error: &Error) -> Option<JsValue> {
    (*error == Error::Moved).then(|| sotto_error(ErrorCode::ProfileMoved, MOVED_TEXT))
}

/// Why an invitation failed when a relay answered `Quota`.
const RELAY_FULL_TEXT: &str =
    "the relay has no room for a new conversation right now; try again later";
/// Why a creation refused as expired failed: the relays do not take this device's time.
const CLOCK_SKEW_TEXT: &str = "the relays refused this device's clock even after correcting \
     for it; set the device's date and time and try again";

/// The `error` string of a failed download, as JS has always seen it.
fn download_error(error: &Error) -> String {
    match error {
        Error::RelayRefused(code) => format!("Relay({code:?})"),
        Error::PeerMisbehaved(PeerMisbehaved::Attachment(e)) => format!("Corrupt({e:?})"),
        other => other.to_string(),
    }
}

/// Settles the promises past their deadline ([`SETTLE_SECS`]): `TIMEOUT`, or
/// `RELAY_UNREACHABLE` while no relay is connected; while offline ([`Connection::Offline`])
/// every one at once, `RELAY_UNREACHABLE` (after the write that keeps what they made: a
/// message is in the stored outbox when its promise rejects). Leaves nothing half-made: an
/// acceptance or an invitation given up is cancelled in the client (no contact, no invitation
/// follows); a message stays queued and is sent when a relay takes it (a `status` event
/// tells).
pub fn settle_late(st: &mut State, actions: &mut Vec<Action>) {
    let now = now();
    let offline = st.connection == Connection::Offline;
    let (code, why) = if st.open {
        (ErrorCode::Timeout, "no answer from the relays")
    } else {
        (ErrorCode::RelayUnreachable, "no relay is reachable")
    };
    let within = if offline {
        " (this device is offline)".to_owned()
    } else {
        format!(" within {SETTLE_SECS} s")
    };
    let late = |w: &Wait| offline || w.deadline <= now;
    // Invitations and acceptances: given up in the client, then rejected.
    let kinds: [(_, CancelRequest, _); 2] = [
        (
            &mut st.waiting.invitations,
            Client::cancel_invitation,
            "no invitation was made",
        ),
        (
            &mut st.waiting.accepts,
            Client::cancel_accept,
            "no contact was added",
        ),
    ];
    for (waiting, cancel, outcome) in kinds {
        for handle in keys_where(waiting, late) {
            cancel(&mut st.client, handle);
            if let Some(w) = waiting.remove(&handle) {
                let text = format!("{why}{within}; {outcome}");
                actions.push(Action::Reject(w.resolver, sotto_error(code, &text)));
            }
        }
    }
    let sends: Vec<[u8; 16]> = keys_where(&st.waiting.sends, |(w, _)| late(w));
    for id in sends {
        if let Some((w, _)) = st.waiting.sends.remove(&id) {
            let text = format!(
                "{why}{within}; the message stays queued and is sent when a relay is reachable"
            );
            let e = sotto_error(code, &text);
            set(&e, "messageId", &hex(&id).into());
            actions.push(Action::Reject(w.resolver, e));
            st.waiting.unsettled.insert(id);
        }
    }
}

/// How the client gives up a request of one kind (`Client::cancel_invitation`, …).
type CancelRequest = fn(&mut Client, u64) -> bool;

fn keys_where<K: Copy, V>(map: &HashMap<K, V>, pick: impl Fn(&V) -> bool) -> Vec<K> {
    map.iter()
        .filter(|(_, v)| pick(v))
        .map(|(k, _)| *k)
        .collect()
}

/// Removes the messages whose time is up, from the history, and tells JS (`expired`).
pub fn sweep_expired(st: &mut State, actions: &mut Vec<Action>) {
    let now = now();
    let mut gone: BTreeMap<ContactId, Vec<String>> = BTreeMap::new();
    while let Some(first) = st.local.expiry.first() {
        if first.0 > now {
            break;
        }
        let Some((_, id, contact)) = st.local.expiry.pop_first() else {
            break;
        };
        gone.entry(contact).or_default().push(id);
    }
    if gone.is_empty() {
        return;
    }
    // Built by `extend` (inserts), not `collect` (a stable sort): see `storage::records`.
    let mut ids: BTreeSet<&String> = BTreeSet::new();
    ids.extend(gone.values().flatten());
    st.history.expire(&ids);
    for (contact, ids) in gone {
        let list: Array = ids.into_iter().map(JsValue::from).collect();
        let detail = obj(&[
            ("contactId", contact.to_string().into()),
            ("ids", list.into()),
        ]);
        actions.push(Action::Dispatch("expired", detail));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer's absurd sending time (review finding: `u64::MAX` made the PWA's date formatting
    /// throw and hid a whole burst of messages) is replaced by the arrival time; a skewed
    /// clock's is kept.
    #[test]
    fn an_absurd_sending_time_becomes_the_arrival_time() {
        let now = 1_800_000_000;
        assert_eq!(plausible_sent_at(u64::MAX, now), now);
        assert_eq!(plausible_sent_at(0, now), now);
        assert_eq!(plausible_sent_at(now - 3600, now), now - 3600);
        assert_eq!(plausible_sent_at(now + 86_400, now), now + 86_400);
    }
}
