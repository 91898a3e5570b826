//! [`Driver`]: the inner driver that `Sotto` wraps, as matrix-sdk-crypto-wasm wraps its
//! `OlmMachine`. It takes Rust values, works on the client and the history, and leaves the
//! pump to write, send and tell JS; promises that wait for the client's events are settled
//! by `events.rs`.

use sotto_proto::directory::DirectoryTrust;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use js_sys::Array;
use sotto_proto::client::{Client, ContactId};
use sotto_proto::envelope::{Content, MessageId};
use sotto_proto::invitation::Invitation;
use sotto_proto::mnemonic::Mnemonic;
use sotto_proto::snapshot::Address;
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use web_sys::{EventTarget, WebSocket};
use zeroize::Zeroizing;

use super::directory::{DIRECTORY_REFRESH_SECS, STUCK_REREAD_SECS};
use super::events::contact_js;
use super::link::{attach, next_read, random_below, refresh_directory, retry_now, schedule};
use super::lock::ProfileLock;
use super::pump::{pump, taken_over};
use super::snapshot::{Fetched, Uploader};
use super::state::{Connection, Shared, State, Wait, Waiting, shut};
use crate::error::{ErrorCode, client_error, sotto_error};
use crate::history::{History, Pending, Rng, state_bytes};
use crate::js::{Resolver, Scope, hex, now, unhex};
use crate::storage::{FileRecord, Local, MessageRecord, Status, Store};
use sotto_proto::directory::RelayDescriptor;

/// What a driver starts from: a client (new or restored) and where it lives.
pub struct Parts {
    pub client: Client,
    pub rng: Rng,
    /// The gateway relay's WebSocket URL (`None`: not known until a directory is read).
    pub gateway_url: Option<String>,
    /// The page's origin.
    pub origin: String,
    /// Where the relay directory is read again (after key rotations, when requests go
    /// unanswered, and at least hourly).
    pub directory_url: String,
    /// The authority keys a directory must be signed by.
    pub directory_trust: DirectoryTrust,
    /// The relays the profile was opened with (to know when their keys rotate).
    pub relays: Vec<RelayDescriptor>,
    /// `relays` were not read from the network now (the profile opens offline: a directory
    /// kept with it, or none): the directory is read before the first connection.
    pub directory_stale: bool,
    /// `valid_after` of the directory `relays` come from (0: none): see
    /// `State::directory_valid_after`.
    pub directory_valid_after: u64,
    pub history: Box<dyn History>,
    /// The profile's Web Lock, for a saved profile in a browser that has them.
    pub lock: Option<ProfileLock>,
}

/// A file to send, read from JS.
pub struct OutgoingFile {
    pub data: Zeroizing<Vec<u8>>,
    pub mime: String,
    pub name: String,
    /// A voice note.
    pub voice: bool,
    /// A small JPEG preview (pictures), or empty.
    pub thumbnail: Vec<u8>,
}

/// One open profile's driver: the shared state and the target its events are dispatched on.
/// Clones share both.
#[derive(Clone)]
pub struct Driver {
    state: Shared,
    target: EventTarget,
}

fn closed() -> JsValue {
    sotto_error(ErrorCode::Closed, "this Sotto instance is closed")
}

impl Driver {
    /// Starts driving: attaches to the open socket `ws` and ticks the client every second.
    /// Without a socket (a saved profile opened offline) it starts offline and tries to reach
    /// the network with back-off (see `link.rs`).
    pub fn start(w: &Scope, parts: Parts, ws: Option<WebSocket>) -> Result<Driver, JsValue> {
        let mut rng = parts.rng;
        let mut client = parts.client;
        // Acks and Sends built while the write commits, or after the events (`pump`).
        client.build_later(true);
        let directory_due = next_read(&client, &mut rng, &parts.relays);
        let resent_seen = client.resent_requests();
        let state = Rc::new(RefCell::new(State {
            client,
            rng,
            origin: parts.origin,
            gateway_url: parts.gateway_url,
            socket: None,
            open: false,
            connection: if ws.is_some() {
                Connection::Connecting
            } else {
                Connection::Offline
            },
            failures: u32::from(ws.is_none()),
            directory_stale: parts.directory_stale,
            on_online: None,
            closed: false,
            interval: None,
            reconnect: None,
            directory_url: parts.directory_url,
            directory_trust: parts.directory_trust,
            directory_at: now(),
            directory_valid_after: parts.directory_valid_after,
            directory_due,
            resent_seen,
            waiting: Waiting::default(),
            downloads: HashMap::new(),
            local: Local::default(),
            history: parts.history,
            persisting: false,
            lock: None,
            snapshot: None,
            fetched: HashMap::new(),
        }));
        let target = EventTarget::new()?;
        if let Some(lock) = parts.lock {
            let weak = Rc::downgrade(&state);
            let t = target.clone();
            lock.on_lost(move || {
                if let Some(s) = weak.upgrade() {
                    taken_over(&s, &t);
                }
            });
            state.borrow_mut().lock = Some(lock);
        }
        match ws {
            Some(ws) => attach(&state, &target, ws, true),
            // The first attempt after 1–5 s (the one that failed was just made).
            None => {
                let delay = 1000 + random_below(&mut state.borrow_mut().rng, 4000) as i32;
                schedule(&state, &target, delay);
            }
        }
        // The browser is online again: no need to wait for the back-off.
        let weak = Rc::downgrade(&state);
        let t = target.clone();
        let on_online = Closure::<dyn FnMut()>::new(move || {
            if let Some(s) = weak.upgrade() {
                retry_now(&s, &t);
            }
        });
        w.target()
            .add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref())?;
        state.borrow_mut().on_online = Some(on_online);

        let weak = Rc::downgrade(&state);
        let t = target.clone();
        let tick = Closure::<dyn FnMut()>::new(move || {
            let Some(s) = weak.upgrade() else { return };
            let due = {
                let Ok(mut st) = s.try_borrow_mut() else {
                    return;
                };
                let st = &mut *st;
                let t = now();
                st.client.tick(&mut st.rng, t);
                // Read the directory again when a relay's key is due to rotate (so open pages
                // build packets for the new key before the old one is retired), when requests
                // keep going unanswered (a key may have changed early), and hourly.
                let resent = st.client.resent_requests();
                let stuck = resent >= st.resent_seen.saturating_add(2)
                    && t.saturating_sub(st.directory_at) >= STUCK_REREAD_SECS;
                // While not connected, the attempts to reconnect read it (`link.rs`).
                let due = st.open && (t >= st.directory_due || stuck);
                if due {
                    st.directory_at = t;
                    st.resent_seen = resent;
                    // Until this read answers; it sets the next time from what it finds.
                    st.directory_due = t.saturating_add(DIRECTORY_REFRESH_SECS);
                }
                due
            };
            if due {
                refresh_directory(&s);
            }
            pump(&s, &t);
        });
        let id = w.set_interval(tick.as_ref().unchecked_ref(), 1000)?;
        state.borrow_mut().interval = Some((id, tick));
        Ok(Driver { state, target })
    }

    /// A restored profile's bookkeeping: its expiries, the downloads to start again, and its
    /// unsent messages (ids), whose `status` event tells when a relay stores them.
    pub fn resume(&self, local: Local, resume: Vec<MessageRecord>, unsent: Vec<[u8; 16]>) {
        {
            let mut st = self.state.borrow_mut();
            st.waiting.unsettled.extend(unsent);
            st.local = local;
            st.local.downloads.clear();
            for m in resume {
                if let Some(f) = &m.file {
                    st.start_download(&m.id, m.contact, &f.attachment);
                }
            }
        }
        self.pump();
    }

    /// Writes, sends and dispatches what the client made (see `pump.rs`).
    pub fn pump(&self) {
        pump(&self.state, &self.target);
    }

    /// The target the events are dispatched on.
    pub fn target(&self) -> &EventTarget {
        &self.target
    }

    /// `CLOSED` once closed.
    pub fn check_open(&self) -> Result<(), JsValue> {
        if self.state.borrow().closed {
            Err(closed())
        } else {
            Ok(())
        }
    }

    /// Whether the network is reached now (see [`Connection`]).
    pub fn connection(&self) -> Connection {
        self.state.borrow().connection
    }

    /// Whether the profile moved to another device (`Client::is_moved`).
    pub fn moved(&self) -> bool {
        self.state.borrow().client.is_moved()
    }

    /// The page's origin.
    pub fn origin(&self) -> String {
        self.state.borrow().origin.clone()
    }

    /// The relays' time now (the device's clock corrected by what relays told the client),
    /// Unix seconds: what invitation links' expiry is checked against.
    pub fn network_now(&self) -> u64 {
        self.state.borrow().client.network_time(now())
    }

    /// Asks a relay for an invitation queue; `resolver` gets the link.
    pub fn create_invitation(&self, resolver: Resolver) -> Result<(), JsValue> {
        self.act(|st| {
            let handle = st
                .client
                .create_invitation(&mut st.rng, now())
                .map_err(|e| client_error(&e))?;
            st.waiting.invitations.insert(handle, Wait::new(resolver));
            Ok(())
        })
    }

    /// Uses someone's invitation; `resolver` gets the new contact.
    pub fn accept_invitation(
        &self,
        invitation: Invitation,
        resolver: Resolver,
    ) -> Result<(), JsValue> {
        self.act(|st| {
            let handle = st
                .client
                .accept_invitation(&mut st.rng, invitation, now())
                .map_err(|e| client_error(&e))?;
            st.waiting.accepts.insert(handle, Wait::new(resolver));
            Ok(())
        })
    }

    /// Sends a text; `resolver` gets `{id, contactId, sentAt}` once a relay stored it.
    pub fn send_text(
        &self,
        contact: ContactId,
        text: &str,
        resolver: Resolver,
    ) -> Result<(), JsValue> {
        self.act(|st| {
            let envelope = st
                .client
                .send_text(&mut st.rng, contact, text, now())
                .map_err(|e| client_error(&e))?;
            st.keep(MessageRecord {
                seq: 0,
                id: hex(envelope.id.as_bytes()),
                contact,
                text: text.to_owned(),
                sent_at: envelope.sent_at,
                received_at: None,
                outgoing: true,
                status: Status::Sending,
                expires_at: None,
                file: None,
            });
            st.waiting.sends.insert(
                *envelope.id.as_bytes(),
                (Wait::new(resolver), envelope.sent_at),
            );
            Ok(())
        })
    }

    /// Sends a file; `resolver` gets `{id, contactId, sentAt}` once a relay stored the message.
    pub fn send_file(
        &self,
        contact: ContactId,
        file: OutgoingFile,
        resolver: Resolver,
    ) -> Result<(), JsValue> {
        self.act(|st| {
            if st.closed {
                return Err(closed());
            }
            let OutgoingFile {
                data,
                mime,
                name,
                voice,
                thumbnail,
            } = file;
            let envelope = st
                .client
                .send_attachment(&mut st.rng, contact, &data, &mime, &name, &thumbnail, now())
                .map_err(|e| client_error(&e))?;
            let Content::Attachment(attachment) = envelope.content else {
                return Err(sotto_error(
                    ErrorCode::Storage,
                    "unexpected message content",
                ));
            };
            let id = hex(envelope.id.as_bytes());
            st.keep(MessageRecord {
                seq: 0,
                id: id.clone(),
                contact,
                text: String::new(),
                sent_at: envelope.sent_at,
                received_at: None,
                outgoing: true,
                status: Status::Sending,
                expires_at: None,
                file: Some(FileRecord {
                    attachment,
                    voice,
                    ready: true,
                }),
            });
            st.history.keep_file(&id, data);
            st.local.uploads.insert(id, contact);
            st.waiting.sends.insert(
                *envelope.id.as_bytes(),
                (Wait::new(resolver), envelope.sent_at),
            );
            Ok(())
        })
    }

    /// Sends again, now, a message not yet stored by a relay (`id`: its hex id); `resolver`
    /// gets `{id, contactId, sentAt}` once a relay stored it. The message keeps its id and
    /// its record. `INVALID_ARGUMENT` when no outbox holds it.
    pub fn retry(&self, id: &str, resolver: Resolver) -> Result<(), JsValue> {
        let unknown = || sotto_error(ErrorCode::InvalidArgument, "no unsent message with that id");
        let bytes: [u8; 16] = unhex(id)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(unknown)?;
        self.act(|st| {
            if st.closed {
                return Err(closed());
            }
            let contact = st
                .client
                .retry_message(&mut st.rng, MessageId::from_bytes(bytes), now())
                .map_err(|e| client_error(&e))?;
            let sent_at = st.waiting.sends.remove(&bytes).map_or_else(now, |(w, at)| {
                w.resolver.reject(&sotto_error(
                    ErrorCode::RelayRefused,
                    "the message is being sent again",
                ));
                at
            });
            st.waiting.unsettled.remove(&bytes);
            // A file uploaded again goes to a new blob: its record says where.
            let upload = st.client.uploading(MessageId::from_bytes(bytes)).cloned();
            if upload.is_some() {
                st.local.uploads.insert(id.to_owned(), contact);
            }
            st.update(id, move |m| {
                m.status = Status::Sending;
                if let (Some(f), Some(a)) = (m.file.as_mut(), upload) {
                    f.attachment = a;
                }
            });
            st.waiting
                .sends
                .insert(bytes, (Wait::new(resolver), sent_at));
            Ok(())
        })
    }

    /// The file of message `id` and its MIME type, where it is kept.
    pub fn attachment(&self, id: &str) -> Pending<Option<(String, Zeroizing<Vec<u8>>)>> {
        self.state.borrow().history.file(id)
    }

    /// Makes messages with `contact` disappear `seconds` after they are sent (0 keeps them).
    pub fn set_disappearing(&self, contact: ContactId, seconds: u32) -> Result<(), JsValue> {
        self.act(|st| {
            st.client
                .set_disappearing(&mut st.rng, contact, seconds, now())
                .map_err(|e| client_error(&e))?;
            Ok(())
        })
    }

    /// The security code of the conversation with `contact`: `(digits in groups, QR payload,
    /// QR code as SVG)`.
    pub fn security_code(&self, contact: ContactId) -> Result<(String, String, String), JsValue> {
        let st = self.state.borrow();
        let code = st
            .client
            .security_code(contact)
            .map_err(|e| client_error(&e))?;
        Ok((code.display(), code.qr_payload(), code.to_qr_svg()))
    }

    /// Marks `contact` verified if `theirs` is its security code (`CODE_MISMATCH` if not,
    /// and nothing changes), or (`theirs` = `None`) takes the mark off.
    pub fn set_verified(&self, contact: ContactId, theirs: Option<&str>) -> Result<(), JsValue> {
        self.act(|st| {
            match theirs {
                Some(code) => {
                    if !st
                        .client
                        .verify_contact(contact, code)
                        .map_err(|e| client_error(&e))?
                    {
                        return Err(sotto_error(
                            ErrorCode::CodeMismatch,
                            "this is not the contact's security code",
                        ));
                    }
                }
                None => st
                    .client
                    .unverify_contact(contact)
                    .map_err(|e| client_error(&e))?,
            }
            Ok(())
        })
    }

    /// The contacts as JS sees them, in the order they were added.
    pub fn contacts(&self) -> Array {
        let st = self.state.borrow();
        st.client
            .contacts()
            .map(|(id, name)| contact_js(&st.client, id, name))
            .collect()
    }

    /// A page of the conversation with `contact` (`UNKNOWN_CONTACT` when there is none).
    /// Disappearing messages whose time is up are never in it, even in the moment before the
    /// sweep deletes them.
    pub fn messages(
        &self,
        contact: ContactId,
        limit: usize,
        before: Option<String>,
    ) -> Result<Pending<Vec<MessageRecord>>, JsValue> {
        let st = self.state.borrow();
        if !st.history.has_conversation(&st.client, contact) {
            return Err(sotto_error(ErrorCode::UnknownContact, "unknown contact"));
        }
        let page = st.history.page(contact, limit, before);
        Ok(Box::pin(async move {
            let mut list = page.await?;
            let now = now();
            list.retain(|m| m.expires_at.is_none_or(|at| at > now));
            Ok(list)
        }))
    }

    /// The profile's store (`None` with 'memory' storage or once closed).
    pub fn store(&self) -> Option<Rc<Store>> {
        self.state.borrow().history.store()
    }

    /// Runs `f` on the state; if it succeeds, sends what it made and writes the state.
    fn act<T>(&self, f: impl FnOnce(&mut State) -> Result<T, JsValue>) -> Result<T, JsValue> {
        let out = f(&mut self.state.borrow_mut())?;
        self.pump();
        Ok(out)
    }

    /// Runs `f` on the client, then sends what it made and writes the state (as any call does).
    pub fn with_client<T>(&self, f: impl FnOnce(&mut Client, &mut Rng) -> T) -> T {
        let out = {
            let mut st = self.state.borrow_mut();
            let st = &mut *st;
            f(&mut st.client, &mut st.rng)
        };
        self.pump();
        out
    }

    /// Writes the client state as it is now, with everything queued, in one write as the
    /// pump makes them (even when the client had nothing to send, which is when the pump
    /// writes nothing); its end is handed back to the history as the pump's are. `None` with
    /// 'memory' storage or once closed.
    pub fn write_now(&self) -> Option<Pending<()>> {
        let write = {
            let mut st = self.state.borrow_mut();
            let st = &mut *st;
            if st.closed {
                return None;
            }
            st.history.take_write(&st.local, &mut st.client)?
        };
        let state = self.state.clone();
        Some(Box::pin(async move {
            let result = write.run().await;
            if let Ok(mut st) = state.try_borrow_mut() {
                st.history.write_done(write, result.is_ok());
            }
            result
        }))
    }

    /// The whole client state as it is now (message counter ‖ client), for a backup.
    pub fn state_now(&self) -> Zeroizing<Vec<u8>> {
        let st = self.state.borrow();
        state_bytes(st.history.seq(), &st.client)
    }

    /// Starts the relay snapshot's uploads for the profile of `mnemonic` (a saved profile).
    pub fn start_snapshots(&self, mnemonic: Mnemonic, debounce_ms: u32) {
        self.state.borrow_mut().snapshot = Some(Uploader::new(mnemonic, debounce_ms));
        self.pump();
    }

    /// Asks for the snapshot at `address`; its answer comes to [`Driver::take_fetched`].
    pub fn fetch_snapshot(&self, address: Address) -> Result<u64, JsValue> {
        self.with_client(|c, rng| c.fetch_snapshot(rng, address, now()))
            .map_err(|e| client_error(&e))
    }

    /// The answer to the snapshot fetch `handle`, once it came.
    pub fn take_fetched(&self, handle: u64) -> Option<Fetched> {
        self.state.borrow_mut().fetched.remove(&handle)
    }

    /// Closes everything but hands back the store (to close or wipe): see [`shut`].
    pub fn shut(&self) -> Option<Rc<Store>> {
        shut(&self.state)
    }
}
