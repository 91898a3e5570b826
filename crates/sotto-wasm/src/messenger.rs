//! `Sotto`: the messaging API for JavaScript. A thin driver of `sotto_proto::client::Client`:
//! one WebSocket to a gateway relay, a one-second timer, and a pump that hands the client's
//! events to JS (as `CustomEvent`s and resolved promises) and its frames to the socket.
//!
//! Nothing secret crosses into JS: contacts are numbers (as decimal strings), messages are
//! their text and public metadata, invitations are the public link.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::rc::Rc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use rand_core::UnwrapErr;
use sotto_proto::client::{
    Client, ClientConfig, ClientError, ContactId, Error, Event, PeerMisbehaved,
};
use sotto_proto::envelope::Content;
use sotto_proto::ids::RelayId;
use sotto_proto::invitation::Invitation;
use sotto_proto::keys::PublicKey;
use sotto_proto::onion::Hop;
use sotto_proto::queue::ErrorCode;
use sotto_proto::service::ServiceConfig;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{BinaryType, CustomEvent, CustomEventInit, EventTarget, MessageEvent, WebSocket};
use zeroize::Zeroizing;

use crate::storage::{Cursor, FileRecord, MessageRecord, Status, Store, kind, put_bytes};

type Rng = UnwrapErr<getrandom::SysRng>;

/// Error codes a `SottoError` carries in its `code` property.
pub mod code {
    pub const INVALID_INVITATION: &str = "INVALID_INVITATION";
    pub const RELAY_UNREACHABLE: &str = "RELAY_UNREACHABLE";
    pub const UNKNOWN_CONTACT: &str = "UNKNOWN_CONTACT";
    pub const MESSAGE_TOO_LARGE: &str = "MESSAGE_TOO_LARGE";
    pub const CLOSED: &str = "CLOSED";
    pub const UNSUPPORTED: &str = "UNSUPPORTED";
    pub const WRONG_PASSPHRASE: &str = "WRONG_PASSPHRASE";
    pub const STORAGE_QUOTA: &str = "STORAGE_QUOTA";
    /// IndexedDB failed otherwise, or the stored profile is damaged.
    pub const STORAGE: &str = "STORAGE";
}

/// A JS `Error` with `name = "SottoError"` and a `code`.
pub fn sotto_error(code: &str, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    e.set_name("SottoError");
    let _ = Reflect::set(&e, &"code".into(), &code.into());
    e.into()
}

pub(crate) fn now() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn obj(fields: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in fields {
        let _ = Reflect::set(&o, &(*k).into(), v);
    }
    o.into()
}

fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

fn get_string(target: &JsValue, key: &str) -> Option<String> {
    get(target, key).as_string()
}

struct Resolver {
    resolve: Function,
    reject: Function,
}

impl Resolver {
    fn resolve(&self, v: &JsValue) {
        let _ = self.resolve.call1(&JsValue::NULL, v);
    }
    fn reject(&self, v: &JsValue) {
        let _ = self.reject.call1(&JsValue::NULL, v);
    }
}

/// A promise and the functions that settle it.
fn deferred() -> (Promise, Resolver) {
    let mut slot = None;
    let promise = Promise::new(&mut |resolve, reject| slot = Some(Resolver { resolve, reject }));
    // Promise's executor runs synchronously, so the slot is always filled.
    let resolver = slot.unwrap_or_else(|| Resolver {
        resolve: Function::new_no_args(""),
        reject: Function::new_no_args(""),
    });
    (promise, resolver)
}

/// A message as JS sees it: `{id, contactId, text, sentAt, receivedAt?, outgoing, status,
/// expiresAt?, attachment?: {name, mime, size, voice, ready, thumbnail?}}`. The attachment's
/// key and blob address stay in wasm.
fn message_js(m: &MessageRecord) -> JsValue {
    let o = obj(&[
        ("id", m.id.clone().into()),
        ("contactId", m.contact.to_string().into()),
        ("text", m.text.clone().into()),
        ("sentAt", (m.sent_at as f64 * 1000.0).into()),
        ("outgoing", m.outgoing.into()),
        ("status", m.status.name().into()),
    ]);
    if let Some(r) = m.received_at {
        let _ = Reflect::set(&o, &"receivedAt".into(), &(r as f64 * 1000.0).into());
    }
    if let Some(x) = m.expires_at {
        let _ = Reflect::set(&o, &"expiresAt".into(), &(x as f64 * 1000.0).into());
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
            let _ = Reflect::set(
                &file,
                &"thumbnail".into(),
                &Uint8Array::from(&a.thumbnail[..]).into(),
            );
        }
        let _ = Reflect::set(&o, &"attachment".into(), &file);
    }
    o
}

/// Work for JS, done after the state's borrow is released (listeners may call back in).
enum Action {
    Dispatch(&'static str, JsValue),
    Resolve(Resolver, JsValue),
    Reject(Resolver, JsValue),
}

struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut()>,
}

struct State {
    client: Client,
    rng: Rng,
    gateway_url: String,
    origin: String,
    socket: Option<Socket>,
    open: bool,
    closed: bool,
    interval: Option<(i32, Closure<dyn FnMut()>)>,
    /// Where the relay directory is, and when it was last read.
    directory_url: String,
    directory_at: u64,
    reconnect: Option<(i32, Closure<dyn FnMut()>)>,
    pending_invitations: HashMap<u64, Resolver>,
    pending_accepts: VecDeque<Resolver>,
    pending_sends: HashMap<[u8; 16], (Resolver, u64)>,
    /// Messages of a 'memory' profile, by conversation.
    history: BTreeMap<ContactId, Vec<MessageRecord>>,
    /// Files of a 'memory' profile, by message id.
    files: HashMap<String, Vec<u8>>,
    /// Files not yet written (IndexedDB), by message id.
    unsaved_files: Vec<(String, Zeroizing<Vec<u8>>)>,
    /// Downloads in flight: the client's handle → message id and contact.
    downloads: HashMap<u64, (String, ContactId)>,
    /// What must survive a reload besides the client and the messages.
    local: Local,
    /// IndexedDB storage (`None` for 'memory').
    store: Option<Rc<Store>>,
    /// The next message's local sequence number (orders a conversation in storage).
    seq: u64,
    /// Messages not yet written.
    unsaved: Vec<MessageRecord>,
    /// Sealed records of a write that failed, written again by the next one.
    retry_records: Vec<JsValue>,
    /// A write is in flight; frames and actions wait for it.
    persisting: bool,
}

/// Local bookkeeping kept with the client state: when messages disappear, and the transfers
/// to resume (downloads) or to mark failed (uploads) after a reload.
#[derive(Default)]
struct Local {
    expiry: BTreeSet<(u64, String, ContactId)>,
    downloads: BTreeMap<String, ContactId>,
    uploads: BTreeMap<String, ContactId>,
}

impl Local {
    /// Three lists of (u64, id, contact): `count ‖ (expires ‖ id len ‖ id ‖ contact)*`, the
    /// transfers with 0 for the time.
    fn encode(&self) -> Vec<u8> {
        let mut w = Vec::new();
        let mut list = |items: Vec<(u64, &String, ContactId)>| {
            w.extend_from_slice(&(items.len() as u32).to_be_bytes());
            for (at, id, contact) in items {
                w.extend_from_slice(&at.to_be_bytes());
                put_bytes(&mut w, 1, id.as_bytes());
                w.extend_from_slice(&contact.to_be_bytes());
            }
        };
        list(
            self.expiry
                .iter()
                .map(|(at, id, c)| (*at, id, *c))
                .collect(),
        );
        list(self.downloads.iter().map(|(id, c)| (0, id, *c)).collect());
        list(self.uploads.iter().map(|(id, c)| (0, id, *c)).collect());
        w
    }

    fn decode(b: &[u8]) -> Option<Local> {
        let mut r = Cursor(b);
        let mut lists: Vec<Vec<(u64, String, ContactId)>> = Vec::new();
        for _ in 0..3 {
            let n = r.u32()?;
            let mut items = Vec::new();
            for _ in 0..n {
                let at = r.u64()?;
                let id = r.string(1)?;
                items.push((at, id, r.u64()?));
            }
            lists.push(items);
        }
        if !r.0.is_empty() {
            return None;
        }
        let mut lists = lists.into_iter();
        Some(Local {
            expiry: lists.next()?.into_iter().collect(),
            downloads: lists
                .next()?
                .into_iter()
                .map(|(_, id, c)| (id, c))
                .collect(),
            uploads: lists
                .next()?
                .into_iter()
                .map(|(_, id, c)| (id, c))
                .collect(),
        })
    }
}

impl State {
    /// Keeps a message: in memory for 'memory' storage, queued for the next write otherwise.
    /// In a conversation with disappearing messages it gets its expiry here.
    fn keep(&mut self, mut m: MessageRecord) -> MessageRecord {
        let seconds = self.client.disappearing(m.contact).unwrap_or(0);
        if seconds > 0 {
            let at = now().saturating_add(u64::from(seconds));
            m.expires_at = Some(at);
            self.local.expiry.insert((at, m.id.clone(), m.contact));
        }
        if self.store.is_some() {
            m.seq = self.seq;
            self.seq += 1;
            self.unsaved.push(m.clone());
        } else {
            self.history.entry(m.contact).or_default().push(m.clone());
        }
        m
    }

    /// Keeps a file's bytes for its message.
    fn keep_file(&mut self, id: &str, data: Zeroizing<Vec<u8>>) {
        if self.store.is_some() {
            self.unsaved_files.push((id.to_owned(), data));
        } else {
            self.files.insert(id.to_owned(), data.to_vec());
        }
    }

    /// Changes a kept message: in memory or in the next write when it is still there, else
    /// read, changed and written back on its own.
    fn update(&mut self, id: &str, change: impl FnOnce(&mut MessageRecord) + 'static) {
        let in_memory = self
            .unsaved
            .iter_mut()
            .chain(self.history.values_mut().flatten())
            .find(|m| m.id == id);
        if let Some(m) = in_memory {
            change(m);
            return;
        }
        if let Some(store) = self.store.clone() {
            let id = id.to_owned();
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(Some(mut m)) = store.message(&id).await {
                    change(&mut m);
                    let _ = store.write(vec![store.message_record(&m)]).await;
                }
            });
        }
    }
}

pub(crate) const STATE_KEY: &[u8] = b"client";
pub(crate) const MNEMONIC_KEY: &[u8] = b"phrase";
const LOCAL_KEY: &[u8] = b"local";

type Shared = Rc<RefCell<State>>;

/// A Sotto messenger for one profile in this page.
#[wasm_bindgen]
pub struct Sotto {
    state: Shared,
    target: EventTarget,
}

fn window() -> Result<web_sys::Window, JsValue> {
    web_sys::window().ok_or_else(|| sotto_error(code::UNSUPPORTED, "no window"))
}

struct DirectoryRelay {
    hop: Hop,
    url: String,
}

fn decode32(s: &str) -> Option<[u8; 32]> {
    let bytes = URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()?;
    bytes.try_into().ok()
}

async fn fetch_directory(url: &str) -> Result<Vec<DirectoryRelay>, JsValue> {
    read_directory(window()?.fetch_with_str(url)).await
}

/// The relays of a directory fetch already under way.
async fn read_directory(fetch: Promise) -> Result<Vec<DirectoryRelay>, JsValue> {
    let unreachable = |what: &str| sotto_error(code::RELAY_UNREACHABLE, what);
    let resp = JsFuture::from(fetch)
        .await
        .map_err(|_| unreachable("cannot fetch the relay directory"))?;
    let resp: web_sys::Response = resp
        .dyn_into()
        .map_err(|_| unreachable("cannot fetch the relay directory"))?;
    if !resp.ok() {
        return Err(unreachable("the relay directory answered with an error"));
    }
    let json = JsFuture::from(
        resp.json()
            .map_err(|_| unreachable("the relay directory is not JSON"))?,
    )
    .await
    .map_err(|_| unreachable("the relay directory is not JSON"))?;
    let relays = get(&json, "relays");
    let relays: Array = relays
        .dyn_into()
        .map_err(|_| unreachable("the relay directory lists no relays"))?;
    let mut out = Vec::new();
    for r in relays.iter() {
        let (Some(id), Some(url), Some(key)) = (
            get_string(&r, "id").as_deref().and_then(decode32),
            get_string(&r, "url"),
            get_string(&r, "sphinx_key").as_deref().and_then(decode32),
        ) else {
            continue;
        };
        out.push(DirectoryRelay {
            hop: Hop {
                id: RelayId::from_bytes(id),
                key: PublicKey::from_bytes(key),
            },
            url,
        });
    }
    if out.is_empty() {
        return Err(unreachable("the relay directory lists no usable relay"));
    }
    Ok(out)
}

/// Opens a WebSocket and waits until it is open (or failed).
async fn open_socket(url: &str) -> Result<WebSocket, JsValue> {
    let ws = WebSocket::new(url)?;
    ws.set_binary_type(BinaryType::Arraybuffer);
    let (promise, resolver) = deferred();
    let resolver = Rc::new(resolver);
    let r1 = resolver.clone();
    let on_open = Closure::<dyn FnMut()>::new(move || r1.resolve(&JsValue::TRUE));
    let r2 = resolver.clone();
    let on_fail = Closure::<dyn FnMut()>::new(move || r2.resolve(&JsValue::FALSE));
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    ws.set_onerror(Some(on_fail.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_fail.as_ref().unchecked_ref()));
    let opened = JsFuture::from(promise).await?;
    ws.set_onopen(None);
    ws.set_onerror(None);
    ws.set_onclose(None);
    if opened.as_bool() == Some(true) {
        Ok(ws)
    } else {
        Err(sotto_error(
            code::RELAY_UNREACHABLE,
            "cannot connect to the relay",
        ))
    }
}

fn random_below(rng: &mut Rng, n: usize) -> usize {
    use rand_core::Rng as _;
    (rng.next_u32() as usize) % n.max(1)
}

/// Installs the permanent handlers on an open (or opening) socket.
fn attach(state: &Shared, target: &EventTarget, ws: WebSocket, already_open: bool) {
    let weak = Rc::downgrade(state);
    let t = target.clone();
    let on_open = Closure::<dyn FnMut()>::new(move || {
        if let Some(s) = weak.upgrade() {
            on_connected(&s, &t);
        }
    });
    let weak = Rc::downgrade(state);
    let t = target.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        let Some(s) = weak.upgrade() else { return };
        let Ok(buf) = e.data().dyn_into::<js_sys::ArrayBuffer>() else {
            return;
        };
        let frame = Uint8Array::new(&buf).to_vec();
        {
            let Ok(mut st) = s.try_borrow_mut() else {
                return;
            };
            let st = &mut *st;
            // Frames that do not decode or open (stale reply blocks) are dropped.
            let _ = st.client.handle_frame(&mut st.rng, &frame, now());
        }
        pump(&s, &t);
    });
    let weak = Rc::downgrade(state);
    let t = target.clone();
    let on_close = Closure::<dyn FnMut()>::new(move || {
        if let Some(s) = weak.upgrade() {
            on_disconnected(&s, &t);
        }
    });
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    if let Ok(mut st) = state.try_borrow_mut() {
        st.socket = Some(Socket {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        });
    }
    if already_open {
        on_connected(state, target);
    }
}

fn on_connected(state: &Shared, target: &EventTarget) {
    {
        let Ok(mut st) = state.try_borrow_mut() else {
            return;
        };
        let st = &mut *st;
        st.open = true;
        st.client.connected(&mut st.rng, now());
    }
    pump(state, target);
}

fn on_disconnected(state: &Shared, target: &EventTarget) {
    let delay = {
        let Ok(mut st) = state.try_borrow_mut() else {
            return;
        };
        st.open = false;
        if let Some(sock) = st.socket.take() {
            sock.ws.set_onopen(None);
            sock.ws.set_onmessage(None);
            sock.ws.set_onclose(None);
        }
        if st.closed || st.reconnect.is_some() {
            return;
        }
        // Jittered backoff, 1–5 s.
        1000 + random_below(&mut st.rng, 4000) as i32
    };
    let weak = Rc::downgrade(state);
    let t = target.clone();
    let retry = Closure::<dyn FnMut()>::new(move || {
        let Some(s) = weak.upgrade() else { return };
        let url = {
            let Ok(st) = s.try_borrow() else { return };
            if st.closed {
                return;
            }
            st.gateway_url.clone()
        };
        if let Ok(mut st) = s.try_borrow_mut() {
            // Dropping the running closure here would be unsound to rely on; leak it instead.
            if let Some((_, c)) = st.reconnect.take() {
                c.forget();
            }
        }
        match WebSocket::new(&url) {
            Ok(ws) => {
                ws.set_binary_type(BinaryType::Arraybuffer);
                attach(&s, &t, ws, false);
            }
            Err(_) => on_disconnected(&s, &t),
        }
    });
    let Ok(w) = window() else { return };
    if let Ok(id) = w.set_timeout_with_callback_and_timeout_and_arguments_0(
        retry.as_ref().unchecked_ref(),
        delay,
    ) && let Ok(mut st) = state.try_borrow_mut()
    {
        st.reconnect = Some((id, retry));
    }
}

/// Drains the client's events (to JS) and then its frames (to the gateway), until both are
/// empty. Listeners run with no borrow held, so they may call back into `Sotto`.
///
/// With IndexedDB storage, the client state and the new messages are written (and the write
/// awaited) *before* the frames, which carry the Acks, are sent and the events dispatched. A
/// failed write (e.g. `STORAGE_QUOTA`) is reported as an `error` event and its frames are not
/// sent; its records are written again with the next write.
fn pump(state: &Shared, target: &EventTarget) {
    loop {
        let (actions, frames, persist) = {
            let Ok(mut st) = state.try_borrow_mut() else {
                return;
            };
            if st.persisting {
                // The write in flight pumps again when it is done.
                return;
            }
            let mut actions = Vec::new();
            sweep_expired(&mut st, &mut actions);
            while let Some(event) = st.client.poll_event() {
                on_event(&mut st, event, &mut actions);
            }
            let mut frames = Vec::new();
            while let Some(f) = st.client.poll_transmit() {
                frames.push(f);
            }
            let dirty = !actions.is_empty()
                || !frames.is_empty()
                || !st.unsaved.is_empty()
                || !st.unsaved_files.is_empty()
                || !st.retry_records.is_empty();
            let persist = match st.store.clone() {
                Some(store) if dirty && !st.closed => {
                    let mut records = std::mem::take(&mut st.retry_records);
                    let unsaved = std::mem::take(&mut st.unsaved);
                    records.extend(unsaved.iter().map(|m| store.message_record(m)));
                    let files = std::mem::take(&mut st.unsaved_files);
                    records.extend(
                        files
                            .iter()
                            .map(|(id, data)| store.record(kind::FILE, id.as_bytes(), data, None)),
                    );
                    records.push(store.record(kind::LOCAL, LOCAL_KEY, &st.local.encode(), None));
                    let mut bytes = Zeroizing::new(st.seq.to_be_bytes().to_vec());
                    bytes.extend_from_slice(st.client.to_persisted().as_bytes());
                    let state_record = store.record(kind::STATE, STATE_KEY, &bytes, None);
                    st.persisting = true;
                    Some((store, records, state_record))
                }
                _ => None,
            };
            (actions, frames, persist)
        };
        if actions.is_empty() && frames.is_empty() && persist.is_none() {
            return;
        }
        if let Some((store, records, state_record)) = persist {
            let s = state.clone();
            let t = target.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let mut all = records.clone();
                all.push(state_record);
                let result = store.write(all).await;
                if let Ok(mut st) = s.try_borrow_mut() {
                    st.persisting = false;
                    if result.is_err() {
                        let mut again = records;
                        again.append(&mut st.retry_records);
                        st.retry_records = again;
                    }
                }
                match result {
                    Ok(()) => deliver(&s, &t, &frames, actions),
                    Err(e) => {
                        let c = get_string(&e, "code").unwrap_or_default();
                        let detail =
                            obj(&[("what", "storage".into()), ("code", c.into()), ("error", e)]);
                        // The frames (and their Acks) are not sent: the client retries its
                        // requests, and the relays keep what was not acknowledged.
                        deliver(&s, &t, &[], actions);
                        dispatch(&t, "error", &detail);
                    }
                }
                pump(&s, &t);
            });
            return;
        }
        deliver(state, target, &frames, actions);
    }
}

/// Sends frames to the gateway (if connected) and runs the actions.
fn deliver(state: &Shared, target: &EventTarget, frames: &[Vec<u8>], actions: Vec<Action>) {
    let ws = state.try_borrow().ok().and_then(|st| {
        if st.open {
            st.socket.as_ref().map(|s| s.ws.clone())
        } else {
            None
        }
    });
    // Frames made while the socket is down are lost; the client retries them.
    if let Some(ws) = ws {
        for f in frames {
            let _ = ws.send_with_u8_array(f);
        }
    }
    for a in actions {
        match a {
            Action::Dispatch(ty, detail) => dispatch(target, ty, &detail),
            Action::Resolve(r, v) => r.resolve(&v),
            Action::Reject(r, v) => r.reject(&v),
        }
    }
}

fn dispatch(target: &EventTarget, ty: &str, detail: &JsValue) {
    let init = CustomEventInit::new();
    init.set_detail(detail);
    if let Ok(event) = CustomEvent::new_with_event_init_dict(ty, &init) {
        let _ = target.dispatch_event(&event);
    }
}

fn contact_js(client: &Client, id: ContactId, name: &str) -> JsValue {
    obj(&[
        ("id", id.to_string().into()),
        ("displayName", name.into()),
        (
            "disappearingSeconds",
            JsValue::from(client.disappearing(id).unwrap_or(0)),
        ),
    ])
}

fn on_event(st: &mut State, event: Event, actions: &mut Vec<Action>) {
    match event {
        Event::InvitationReady { handle, invitation } => {
            if let Some(r) = st.pending_invitations.remove(&handle) {
                actions.push(Action::Resolve(r, invitation.to_link(&st.origin).into()));
            }
        }
        Event::ContactAdded {
            contact,
            display_name,
        } => {
            let js = contact_js(&st.client, contact, &display_name);
            // Accepting an invitation adds the contact without a name (the inviter sends it
            // in its first message); a contact who used our invitation arrives named.
            if display_name.is_empty()
                && let Some(r) = st.pending_accepts.pop_front()
            {
                actions.push(Action::Resolve(r, js.clone()));
            }
            if st.store.is_none() {
                st.history.entry(contact).or_default();
            }
            actions.push(Action::Dispatch("contact", js));
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
            let m = st.keep(MessageRecord {
                seq: 0,
                id: hex(envelope.id.as_bytes()),
                contact,
                text,
                sent_at: envelope.sent_at,
                received_at: Some(received_at),
                outgoing: false,
                status: Status::Received,
                expires_at: None,
                file,
            });
            // A file on a relay we do not know (or too large) cannot be fetched: it fails now
            // rather than waiting for ever.
            let unfetchable = m
                .file
                .as_ref()
                .is_some_and(|f| !start_download(st, &m.id, contact, &f.attachment));
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
            if let Some((r, sent_at)) = st.pending_sends.remove(message.as_bytes()) {
                let js = obj(&[
                    ("id", id.clone().into()),
                    ("contactId", contact.to_string().into()),
                    ("sentAt", (sent_at as f64 * 1000.0).into()),
                ]);
                actions.push(Action::Resolve(r, js));
                actions.push(Action::Dispatch(
                    "status",
                    status_js(&id, contact, Status::Sent),
                ));
            }
        }
        Event::UploadProgress {
            contact,
            message,
            done,
            total,
        } => actions.push(Action::Dispatch(
            "progress",
            progress_js(&hex(message.as_bytes()), contact, "upload", done, total),
        )),
        Event::UploadFailed {
            contact,
            message,
            error,
        } => {
            let id = hex(message.as_bytes());
            st.update(&id, |m| m.status = Status::Failed);
            st.local.uploads.remove(&id);
            if let Some((r, _)) = st.pending_sends.remove(message.as_bytes()) {
                actions.push(Action::Reject(
                    r,
                    sotto_error(
                        code::RELAY_UNREACHABLE,
                        &match error.relay_code() {
                            Some(code) => format!("the relay refused the file ({code:?})"),
                            None => format!("the file could not be sent ({error})"),
                        },
                    ),
                ));
            }
            actions.push(Action::Dispatch(
                "status",
                status_js(&id, contact, Status::Failed),
            ));
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
                st.keep_file(&id, data);
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
        Event::DisappearingChanged { contact, .. } => {
            let name = st
                .client
                .contacts()
                .find(|(id, _)| *id == contact)
                .map(|(_, n)| n.to_owned())
                .unwrap_or_default();
            actions.push(Action::Dispatch(
                "contact",
                contact_js(&st.client, contact, &name),
            ));
        }
        failure @ (Event::InvitationFailed { .. }
        | Event::AcceptFailed { .. }
        | Event::SecureFailed { .. }
        | Event::SendFailed { .. }
        | Event::SubscribeFailed { .. }
        | Event::AckFailed { .. }) => {
            let (Some(what), Some(error)) = (failure.what(), failure.error()) else {
                return;
            };
            // An invitation that cannot be used is reported as `Expired`, as it always was.
            let code = error.relay_code().unwrap_or(ErrorCode::Expired);
            let detail = obj(&[("what", what.into()), ("code", format!("{code:?}").into())]);
            if what == "accept invitation"
                && let Some(r) = st.pending_accepts.pop_front()
            {
                actions.push(Action::Reject(
                    r,
                    sotto_error(code::INVALID_INVITATION, "the invitation could not be used"),
                ));
            }
            actions.push(Action::Dispatch("error", detail));
        }
        _ => {}
    }
}

/// The `error` string of a failed download, as JS has always seen it.
fn download_error(error: &Error) -> String {
    match error {
        Error::RelayRefused(code) => format!("Relay({code:?})"),
        Error::PeerMisbehaved(PeerMisbehaved::Attachment(e)) => format!("Corrupt({e:?})"),
        other => other.to_string(),
    }
}

fn status_js(id: &str, contact: ContactId, status: Status) -> JsValue {
    obj(&[
        ("id", id.into()),
        ("contactId", contact.to_string().into()),
        ("status", status.name().into()),
    ])
}

fn progress_js(id: &str, contact: ContactId, direction: &str, done: u32, total: u32) -> JsValue {
    obj(&[
        ("id", id.into()),
        ("contactId", contact.to_string().into()),
        ("direction", direction.into()),
        ("done", done.into()),
        ("total", total.into()),
    ])
}

/// The recovery phrase kept with a profile, as a JS string.
pub(crate) async fn stored_phrase(store: &Store) -> Result<JsValue, JsValue> {
    let phrase = store
        .read(kind::MNEMONIC, MNEMONIC_KEY)
        .await?
        .ok_or_else(|| sotto_error(code::STORAGE, "this profile has no recovery phrase"))?;
    let text = std::str::from_utf8(&phrase)
        .map_err(|_| sotto_error(code::STORAGE, "the stored phrase is damaged"))?;
    Ok(JsValue::from(text))
}

/// Seconds between reads of the relay directory. Relays rotate their Sphinx keys every epoch
/// (24 h by default) and accept the previous key for an overlap (2 h): reading the directory
/// hourly keeps a long-open page's routes valid.
const DIRECTORY_REFRESH_SECS: u64 = 3600;

/// Reads the directory again and hands the relays' current keys to the client. A failed read
/// changes nothing (the next one is an hour away; reopening also reads it).
fn refresh_directory(state: &Shared, url: String) {
    let weak = Rc::downgrade(state);
    wasm_bindgen_futures::spawn_local(async move {
        let Ok(relays) = fetch_directory(&url).await else {
            return;
        };
        if let Some(s) = weak.upgrade()
            && let Ok(mut st) = s.try_borrow_mut()
        {
            let _ = st
                .client
                .update_relays(relays.iter().map(|r| r.hop).collect());
        }
    });
}

/// Asks the client for a message's file and remembers the transfer (also across a reload).
/// False when the client cannot fetch it.
fn start_download(
    st: &mut State,
    id: &str,
    contact: ContactId,
    a: &sotto_proto::envelope::Attachment,
) -> bool {
    match st.client.fetch_attachment(&mut st.rng, a, now()) {
        Ok(handle) => {
            st.downloads.insert(handle, (id.to_owned(), contact));
            st.local.downloads.insert(id.to_owned(), contact);
            true
        }
        Err(_) => false,
    }
}

/// Removes the messages whose time is up, from memory or storage, and tells JS.
fn sweep_expired(st: &mut State, actions: &mut Vec<Action>) {
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
    let ids: BTreeSet<&String> = gone.values().flatten().collect();
    st.unsaved.retain(|m| !ids.contains(&m.id));
    st.unsaved_files.retain(|(id, _)| !ids.contains(id));
    for list in st.history.values_mut() {
        list.retain(|m| !ids.contains(&m.id));
    }
    st.files.retain(|id, _| !ids.contains(id));
    if let Some(store) = st.store.clone() {
        let doomed: Vec<String> = ids.iter().map(|s| (*s).clone()).collect();
        wasm_bindgen_futures::spawn_local(async move {
            let keys: Vec<(&str, &[u8])> = doomed
                .iter()
                .flat_map(|id| [(kind::MESSAGE, id.as_bytes()), (kind::FILE, id.as_bytes())])
                .collect();
            let _ = store.delete(&keys).await;
        });
    }
    for (contact, ids) in gone {
        let list: Array = ids.into_iter().map(JsValue::from).collect();
        let detail = obj(&[
            ("contactId", contact.to_string().into()),
            ("ids", list.into()),
        ]);
        actions.push(Action::Dispatch("expired", detail));
    }
}

fn client_error(e: &ClientError) -> JsValue {
    let c = match e {
        ClientError::UnknownContact => code::UNKNOWN_CONTACT,
        ClientError::TooLarge | ClientError::Attachment(_) => code::MESSAGE_TOO_LARGE,
        ClientError::Invitation(_) | ClientError::UnknownRelay => code::INVALID_INVITATION,
        _ => code::RELAY_UNREACHABLE,
    };
    sotto_error(c, &e.to_string())
}

fn parse_contact(id: &str) -> Result<ContactId, JsValue> {
    id.trim()
        .parse::<ContactId>()
        .map_err(|_| sotto_error(code::UNKNOWN_CONTACT, "unknown contact"))
}

/// A contact id from JS: its decimal string, or a number.
fn contact_arg(v: &JsValue) -> Result<ContactId, JsValue> {
    v.as_string()
        .or_else(|| v.as_f64().map(|n| (n as u64).to_string()))
        .ok_or_else(|| sotto_error(code::UNKNOWN_CONTACT, "unknown contact"))
        .and_then(|s| parse_contact(&s))
}

#[wasm_bindgen]
impl Sotto {
    /// Opens a messenger: fetches the relay directory, connects to a gateway picked at random.
    /// Options: `{directoryUrl, storage: 'memory', profile, displayName}`.
    pub async fn open(options: JsValue) -> Result<Sotto, JsValue> {
        let w = window()?;
        let origin = w.location().origin().unwrap_or_default();
        let directory_url = get_string(&options, "directoryUrl")
            .unwrap_or_else(|| format!("{origin}/directory.json"));
        // The directory is fetched while the profile is opened. A failed fetch resolves to
        // nothing (and fails below, if the open gets that far) rather than going unhandled.
        let directory = w.fetch_with_str(&directory_url);
        let directory = get(&directory, "catch")
            .dyn_into::<Function>()
            .and_then(|catch| {
                catch.call1(
                    &directory,
                    &Closure::once_into_js(|_: JsValue| JsValue::UNDEFINED),
                )
            })
            .ok()
            .and_then(|p| p.dyn_into::<Promise>().ok())
            .unwrap_or(directory);
        let storage = get_string(&options, "storage").unwrap_or_else(|| "memory".into());
        let store = match storage.as_str() {
            "memory" => None,
            "indexeddb" => {
                let profile = get_string(&options, "profile").unwrap_or_else(|| "default".into());
                let passphrase = get_string(&options, "passphrase").filter(|p| !p.is_empty());
                Some(Store::open(&profile, passphrase.as_deref()).await?)
            }
            other => {
                return Err(sotto_error(
                    code::UNSUPPORTED,
                    &format!("storage '{other}' is not supported; use 'indexeddb' or 'memory'"),
                ));
            }
        };
        // A stored client (an existing profile): its sequence counter and state.
        let mut restored = None;
        let mut local = Local::default();
        let mut resume = Vec::new();
        if let Some(store) = &store
            && !store.created
            && let Some(bytes) = store.read(kind::LOCAL, LOCAL_KEY).await?
        {
            local = Local::decode(&bytes)
                .ok_or_else(|| sotto_error(code::STORAGE, "the stored profile is damaged"))?;
            // Downloads start again; uploads (whose transfer state is gone) failed.
            for id in local.downloads.keys() {
                if let Some(m) = store.message(id).await? {
                    resume.push(m);
                }
            }
            let failed: Vec<String> = std::mem::take(&mut local.uploads).into_keys().collect();
            let mut records = Vec::new();
            for id in failed {
                if let Some(mut m) = store.message(&id).await? {
                    m.status = Status::Failed;
                    records.push(store.message_record(&m));
                }
            }
            if !records.is_empty() {
                records.push(store.record(kind::LOCAL, LOCAL_KEY, &local.encode(), None));
                store.write(records).await?;
            }
        }
        if let Some(store) = &store
            && !store.created
            && let Some(bytes) = store.read(kind::STATE, STATE_KEY).await?
        {
            let seq = bytes
                .get(..8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| sotto_error(code::STORAGE, "the stored profile is damaged"))?;
            let client = Client::from_persisted(bytes.get(8..).unwrap_or_default())
                .map_err(|e| sotto_error(code::STORAGE, &format!("the stored profile: {e}")))?;
            restored = Some((client, seq));
        }
        let display_name = get_string(&options, "displayName").unwrap_or_default();
        let pow_bits = get(&options, "powBits")
            .as_f64()
            .map_or(ServiceConfig::default().pow_bits, |b| {
                b.clamp(0.0, 32.0) as u8
            });

        let relays = read_directory(directory).await?;
        let mut rng: Rng = UnwrapErr(getrandom::SysRng);
        // A restored client keeps its gateway (its queues' replies lead there).
        if let Some((mut client, seq)) = restored {
            let gateway = client.gateway();
            let url = relays
                .iter()
                .find(|r| r.hop.id == gateway)
                .map(|r| r.url.clone())
                .ok_or_else(|| {
                    sotto_error(
                        code::RELAY_UNREACHABLE,
                        "this profile's gateway relay is not in the directory",
                    )
                })?;
            // The relays may have rotated their keys since: route with today's.
            client
                .update_relays(relays.iter().map(|r| r.hop).collect())
                .map_err(|e| client_error(&e))?;
            let ws = open_socket(&url).await?;
            let me = Self::start(w, client, rng, url, origin, store, seq, ws, directory_url)?;
            {
                let mut st = me.state.borrow_mut();
                st.local = local;
                st.local.downloads.clear();
                for m in resume {
                    if let Some(f) = &m.file {
                        start_download(&mut st, &m.id, m.contact, &f.attachment);
                    }
                }
            }
            pump(&me.state, &me.target);
            return Ok(me);
        }
        // Try the relays in a random order; the first that answers is our gateway.
        let mut order: Vec<usize> = (0..relays.len()).collect();
        for i in (1..order.len()).rev() {
            let j = random_below(&mut rng, i + 1);
            order.swap(i, j);
        }
        let mut connected = None;
        for i in order {
            if let Some(r) = relays.get(i)
                && let Ok(ws) = open_socket(&r.url).await
            {
                connected = Some((r.hop.id, r.url.clone(), ws));
                break;
            }
        }
        let Some((gateway, gateway_url, ws)) = connected else {
            return Err(sotto_error(
                code::RELAY_UNREACHABLE,
                "no relay of the directory could be reached",
            ));
        };
        let config = ClientConfig {
            pow_bits,
            ..ClientConfig::default()
        };
        let hops = relays.iter().map(|r| r.hop).collect();
        let client = Client::new(&mut rng, hops, gateway, &display_name, config)
            .map_err(|e| client_error(&e))?;
        if let Some(store) = &store {
            // A new profile: its recovery phrase and first state, before anything is sent.
            let mnemonic = sotto_proto::mnemonic::Mnemonic::generate(&mut rng);
            let phrase = mnemonic.phrase();
            let mut bytes = Zeroizing::new(0u64.to_be_bytes().to_vec());
            bytes.extend_from_slice(client.to_persisted().as_bytes());
            store
                .write(vec![
                    store.record(kind::MNEMONIC, MNEMONIC_KEY, phrase.as_bytes(), None),
                    store.record(kind::STATE, STATE_KEY, &bytes, None),
                ])
                .await?;
        }
        Self::start(
            w,
            client,
            rng,
            gateway_url,
            origin,
            store,
            0,
            ws,
            directory_url,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn start(
        w: web_sys::Window,
        client: Client,
        rng: Rng,
        gateway_url: String,
        origin: String,
        store: Option<Store>,
        seq: u64,
        ws: WebSocket,
        directory_url: String,
    ) -> Result<Sotto, JsValue> {
        let state = Rc::new(RefCell::new(State {
            client,
            rng,
            gateway_url,
            origin,
            socket: None,
            open: false,
            closed: false,
            interval: None,
            directory_url,
            directory_at: now(),
            reconnect: None,
            pending_invitations: HashMap::new(),
            pending_accepts: VecDeque::new(),
            pending_sends: HashMap::new(),
            history: BTreeMap::new(),
            files: HashMap::new(),
            unsaved_files: Vec::new(),
            downloads: HashMap::new(),
            local: Local::default(),
            store: store.map(Rc::new),
            seq,
            unsaved: Vec::new(),
            retry_records: Vec::new(),
            persisting: false,
        }));
        let target = EventTarget::new()?;
        attach(&state, &target, ws, true);

        let weak = Rc::downgrade(&state);
        let t = target.clone();
        let tick = Closure::<dyn FnMut()>::new(move || {
            let Some(s) = weak.upgrade() else { return };
            {
                let Ok(mut st) = s.try_borrow_mut() else {
                    return;
                };
                let st = &mut *st;
                st.client.tick(&mut st.rng, now());
                if now().saturating_sub(st.directory_at) >= DIRECTORY_REFRESH_SECS {
                    st.directory_at = now();
                    refresh_directory(&s, st.directory_url.clone());
                }
            }
            pump(&s, &t);
        });
        let id = w.set_interval_with_callback_and_timeout_and_arguments_0(
            tick.as_ref().unchecked_ref(),
            1000,
        )?;
        state.borrow_mut().interval = Some((id, tick));
        Ok(Sotto { state, target })
    }

    pub(crate) fn check_open(&self) -> Result<(), JsValue> {
        if self.state.borrow().closed {
            Err(sotto_error(code::CLOSED, "this Sotto instance is closed"))
        } else {
            Ok(())
        }
    }

    /// A one-time invitation link (`{origin}/#/invite/…`), once a relay made its queue.
    #[wasm_bindgen(js_name = createInvitation)]
    pub fn create_invitation(&self) -> Promise {
        if let Err(e) = self.check_open() {
            return Promise::reject(&e);
        }
        let (promise, resolver) = deferred();
        {
            let mut st = self.state.borrow_mut();
            let st = &mut *st;
            match st.client.create_invitation(&mut st.rng, now()) {
                Ok(handle) => {
                    st.pending_invitations.insert(handle, resolver);
                }
                Err(e) => return Promise::reject(&client_error(&e)),
            }
        }
        pump(&self.state, &self.target);
        promise
    }

    /// An SVG QR code of an invitation link.
    #[wasm_bindgen(js_name = invitationQr)]
    pub fn invitation_qr(&self, link: &str) -> Promise {
        let origin = self.state.borrow().origin.clone();
        match Invitation::parse_link(link, now()).and_then(|i| i.to_qr_svg(&origin)) {
            Ok(svg) => Promise::resolve(&JsValue::from(svg)),
            Err(e) => Promise::reject(&sotto_error(code::INVALID_INVITATION, &e.to_string())),
        }
    }

    /// Accepts someone's invitation link; resolves with the new contact `{id, displayName}`
    /// (the name arrives later, as a `contact` event).
    #[wasm_bindgen(js_name = acceptInvitation)]
    pub fn accept_invitation(&self, link: JsValue) -> Promise {
        if let Err(e) = self.check_open() {
            return Promise::reject(&e);
        }
        let Some(link) = link.as_string() else {
            return Promise::reject(&sotto_error(
                code::INVALID_INVITATION,
                "an invitation link is a string",
            ));
        };
        let invitation = match Invitation::parse_link(&link, now()) {
            Ok(i) => i,
            Err(e) => {
                return Promise::reject(&sotto_error(code::INVALID_INVITATION, &e.to_string()));
            }
        };
        let (promise, resolver) = deferred();
        {
            let mut st = self.state.borrow_mut();
            let st = &mut *st;
            if let Err(e) = st.client.accept_invitation(&mut st.rng, invitation, now()) {
                return Promise::reject(&client_error(&e));
            }
            st.pending_accepts.push_back(resolver);
        }
        pump(&self.state, &self.target);
        promise
    }

    /// Sends a text; resolves with `{id, contactId, sentAt}` once a relay stored it.
    pub fn send(&self, contact_id: JsValue, text: &str) -> Promise {
        if let Err(e) = self.check_open() {
            return Promise::reject(&e);
        }
        let contact = match contact_arg(&contact_id) {
            Ok(c) => c,
            Err(e) => return Promise::reject(&e),
        };
        let (promise, resolver) = deferred();
        {
            let mut st = self.state.borrow_mut();
            let st = &mut *st;
            match st.client.send_text(&mut st.rng, contact, text, now()) {
                Ok(envelope) => {
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
                    st.pending_sends
                        .insert(*envelope.id.as_bytes(), (resolver, envelope.sent_at));
                }
                Err(e) => return Promise::reject(&client_error(&e)),
            }
        }
        pump(&self.state, &self.target);
        promise
    }

    /// Sends a file (a `File` or `Blob`): encrypted, uploaded in chunks through the onion
    /// (`progress` events with `direction: 'upload'`), then announced to the contact. Resolves
    /// with `{id, contactId, sentAt}` once a relay stored the message. Options: `{voice}` marks
    /// a voice note; `{name}` names a `Blob`. Pictures get a small preview in the message.
    #[wasm_bindgen(js_name = sendFile)]
    pub fn send_file(&self, contact_id: JsValue, file: JsValue, options: JsValue) -> Promise {
        if let Err(e) = self.check_open() {
            return Promise::reject(&e);
        }
        let contact = match contact_arg(&contact_id) {
            Ok(c) => c,
            Err(e) => return Promise::reject(&e),
        };
        let Ok(file) = file.dyn_into::<web_sys::Blob>() else {
            return Promise::reject(&sotto_error(
                code::UNSUPPORTED,
                "sendFile takes a File or a Blob",
            ));
        };
        let state = self.state.clone();
        let target = self.target.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let data = Zeroizing::new(crate::files::blob_bytes(&file).await?);
            let mime = file.type_();
            let name = get_string(&file, "name")
                .or_else(|| get_string(&options, "name"))
                .unwrap_or_else(|| "file".into());
            let voice = get(&options, "voice").as_bool().unwrap_or(false);
            let thumbnail = if mime.starts_with("image/") {
                crate::files::thumbnail(&file).await.unwrap_or_default()
            } else {
                Vec::new()
            };
            let (promise, resolver) = deferred();
            {
                let mut st = state.borrow_mut();
                let st = &mut *st;
                if st.closed {
                    return Err(sotto_error(code::CLOSED, "this Sotto instance is closed"));
                }
                let envelope = st
                    .client
                    .send_attachment(&mut st.rng, contact, &data, &mime, &name, &thumbnail, now())
                    .map_err(|e| client_error(&e))?;
                let Content::Attachment(attachment) = envelope.content else {
                    return Err(sotto_error(code::STORAGE, "unexpected message content"));
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
                st.keep_file(&id, data);
                st.local.uploads.insert(id, contact);
                st.pending_sends
                    .insert(*envelope.id.as_bytes(), (resolver, envelope.sent_at));
            }
            pump(&state, &target);
            JsFuture::from(promise).await
        })
    }

    /// The file of a message as a `Blob` of its type, or `null` while it is still on its way
    /// (an `attachment` event tells when it arrived).
    pub fn attachment(&self, message_id: &str) -> Promise {
        if let Err(e) = self.check_open() {
            return Promise::reject(&e);
        }
        let id = message_id.to_owned();
        let st = self.state.borrow();
        let Some(store) = st.store.clone() else {
            let found = st
                .history
                .values()
                .flatten()
                .find(|m| m.id == id)
                .and_then(|m| m.file.as_ref())
                .map(|f| f.attachment.mime.clone());
            return match (found, st.files.get(&id)) {
                (Some(mime), Some(data)) => match crate::files::to_blob(data, &mime) {
                    Ok(b) => Promise::resolve(&JsValue::from(b)),
                    Err(e) => Promise::reject(&e),
                },
                _ => Promise::resolve(&JsValue::NULL),
            };
        };
        let pending = st
            .unsaved_files
            .iter()
            .find(|(f, _)| *f == id)
            .map(|(_, d)| d.to_vec());
        drop(st);
        wasm_bindgen_futures::future_to_promise(async move {
            let Some(m) = store.message(&id).await? else {
                return Ok(JsValue::NULL);
            };
            let Some(f) = m.file else {
                return Ok(JsValue::NULL);
            };
            let data = match pending {
                Some(d) => Some(Zeroizing::new(d)),
                None => store.read(kind::FILE, id.as_bytes()).await?,
            };
            match data {
                Some(d) => Ok(crate::files::to_blob(&d, &f.attachment.mime)?.into()),
                None => Ok(JsValue::NULL),
            }
        })
    }

    /// Makes messages with a contact disappear `seconds` after they are sent or received
    /// (0 keeps them), on both sides: the contact is told, and a `contact` event follows.
    #[wasm_bindgen(js_name = setDisappearing)]
    pub fn set_disappearing(&self, contact_id: JsValue, seconds: f64) -> Promise {
        if let Err(e) = self.check_open() {
            return Promise::reject(&e);
        }
        let contact = match contact_arg(&contact_id) {
            Ok(c) => c,
            Err(e) => return Promise::reject(&e),
        };
        let seconds = seconds.clamp(0.0, f64::from(u32::MAX)) as u32;
        {
            let mut st = self.state.borrow_mut();
            let st = &mut *st;
            if let Err(e) = st
                .client
                .set_disappearing(&mut st.rng, contact, seconds, now())
            {
                return Promise::reject(&client_error(&e));
            }
        }
        pump(&self.state, &self.target);
        Promise::resolve(&JsValue::UNDEFINED)
    }

    /// `[{id, displayName, disappearingSeconds}]`, in the order they were added.
    pub fn contacts(&self) -> Promise {
        if let Err(e) = self.check_open() {
            return Promise::reject(&e);
        }
        let st = self.state.borrow();
        let list: Array = st
            .client
            .contacts()
            .map(|(id, name)| contact_js(&st.client, id, name))
            .collect();
        Promise::resolve(&JsValue::from(list))
    }

    /// The newest `limit` (default 50) messages with a contact, sent and received, oldest
    /// first: `[{id, contactId, text, sentAt, receivedAt?, outgoing, status, expiresAt?,
    /// attachment?}]`. `before` (a message id) pages back: the page ends just before it.
    pub fn messages(&self, contact_id: JsValue, options: JsValue) -> Promise {
        if let Err(e) = self.check_open() {
            return Promise::reject(&e);
        }
        let contact = match contact_arg(&contact_id) {
            Ok(c) => c,
            Err(e) => return Promise::reject(&e),
        };
        let limit = get(&options, "limit")
            .as_f64()
            .map_or(50, |l| l.max(0.0) as usize);
        let before = get_string(&options, "before");
        let st = self.state.borrow();
        if let Some(store) = st.store.clone() {
            if !st.client.contacts().any(|(id, _)| id == contact) {
                return Promise::reject(&sotto_error(code::UNKNOWN_CONTACT, "unknown contact"));
            }
            let contact_n: u64 = contact.to_string().parse().unwrap_or_default();
            return wasm_bindgen_futures::future_to_promise(async move {
                // `before` is a message id: the page ends just before it (an unknown id
                // gives an empty page).
                let before_seq = match before {
                    Some(id) => match store.message_seq(&id).await? {
                        Some(seq) => Some(seq),
                        None => return Ok(Array::new().into()),
                    },
                    None => None,
                };
                let limit = u32::try_from(limit).unwrap_or(u32::MAX);
                let page: Array = store
                    .messages(contact_n, limit, before_seq)
                    .await?
                    .into_iter()
                    .map(|m| message_js(&m))
                    .collect();
                Ok(page.into())
            });
        }
        let Some(history) = st.history.get(&contact) else {
            return Promise::reject(&sotto_error(code::UNKNOWN_CONTACT, "unknown contact"));
        };
        let end = match &before {
            Some(id) => history.iter().position(|m| m.id == *id).unwrap_or(0),
            None => history.len(),
        };
        let start = end.saturating_sub(limit);
        let page: Array = history
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .map(message_js)
            .collect();
        Promise::resolve(&JsValue::from(page))
    }

    /// The 24-word recovery phrase of this profile (`UNSUPPORTED` with 'memory' storage). The
    /// one place secret material reaches JS: show it to the user, do not keep it.
    pub fn mnemonic(&self) -> Promise {
        if let Err(e) = self.check_open() {
            return Promise::reject(&e);
        }
        let Some(store) = self.state.borrow().store.clone() else {
            return Promise::reject(&sotto_error(
                code::UNSUPPORTED,
                "'memory' storage has no recovery phrase",
            ));
        };
        wasm_bindgen_futures::future_to_promise(async move { stored_phrase(&store).await })
    }

    /// Closes this messenger and deletes the profile's database: every trace of it.
    pub fn wipe(&self) -> Promise {
        let store = self.shut();
        wasm_bindgen_futures::future_to_promise(async move {
            if let Some(store) = store {
                match Rc::try_unwrap(store) {
                    Ok(store) => store.wipe().await?,
                    Err(shared) => {
                        // A write in flight holds it: close the database under it.
                        shared.close();
                        let name = shared.db_name().to_owned();
                        drop(shared);
                        crate::storage::delete_database(&name).await?;
                    }
                }
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Same as `EventTarget.addEventListener`: `message`, `contact`, `status` (`{id,
    /// contactId, status}`), `progress` (`{id, contactId, direction, done, total}`),
    /// `attachment` (`{id, contactId, ready}`), `expired` (`{contactId, ids}`), `error`.
    #[wasm_bindgen(js_name = addEventListener)]
    pub fn add_event_listener(
        &self,
        ty: &str,
        listener: &JsValue,
        options: &JsValue,
    ) -> Result<(), JsValue> {
        let f: Function = get(&self.target, "addEventListener").dyn_into()?;
        f.call3(&self.target, &ty.into(), listener, options)?;
        Ok(())
    }

    /// Same as `EventTarget.removeEventListener`.
    #[wasm_bindgen(js_name = removeEventListener)]
    pub fn remove_event_listener(
        &self,
        ty: &str,
        listener: &JsValue,
        options: &JsValue,
    ) -> Result<(), JsValue> {
        let f: Function = get(&self.target, "removeEventListener").dyn_into()?;
        f.call3(&self.target, &ty.into(), listener, options)?;
        Ok(())
    }

    /// Stops the timer and the connection; pending calls fail with `CLOSED`; the store key
    /// is zeroized.
    pub fn close(&self) -> Promise {
        if let Some(store) = self.shut() {
            // The key is zeroized when the last holder (this, or a write in flight) drops it.
            store.close();
        }
        Promise::resolve(&JsValue::UNDEFINED)
    }

    /// Closes everything but hands back the store (to close or wipe).
    fn shut(&self) -> Option<Rc<Store>> {
        let mut rejects = Vec::new();
        let store;
        {
            let mut st = self.state.borrow_mut();
            store = st.store.take();
            if st.closed {
                return store;
            }
            st.closed = true;
            st.open = false;
            if let Ok(w) = window() {
                if let Some((id, _)) = &st.interval {
                    w.clear_interval_with_handle(*id);
                }
                if let Some((id, _)) = &st.reconnect {
                    w.clear_timeout_with_handle(*id);
                }
            }
            if let Some(sock) = st.socket.take() {
                sock.ws.set_onopen(None);
                sock.ws.set_onmessage(None);
                sock.ws.set_onclose(None);
                let _ = sock.ws.close();
            }
            rejects.extend(st.pending_invitations.drain().map(|(_, r)| r));
            rejects.extend(st.pending_accepts.drain(..));
            rejects.extend(st.pending_sends.drain().map(|(_, (r, _))| r));
        }
        for r in rejects {
            r.reject(&sotto_error(code::CLOSED, "this Sotto instance was closed"));
        }
        store
    }
}

/// What the modules that add to the API (`settings.rs`) need of a `Sotto`.
impl Sotto {
    /// The profile's store (`None` with 'memory' storage or once closed).
    pub(crate) fn store(&self) -> Option<Rc<Store>> {
        self.state.borrow().store.clone()
    }

    /// Runs `f` on the client, then sends what it made and writes the state (as any call does).
    pub(crate) fn with_client<T>(&self, f: impl FnOnce(&mut Client, &mut Rng) -> T) -> T {
        let out = {
            let mut st = self.state.borrow_mut();
            let st = &mut *st;
            f(&mut st.client, &mut st.rng)
        };
        pump(&self.state, &self.target);
        out
    }

    /// The sealed `state` record as it is now (message counter ‖ client), for a write of its
    /// own or a backup; with the bytes it seals.
    pub(crate) fn state_now(&self) -> (Zeroizing<Vec<u8>>, Option<JsValue>) {
        let st = self.state.borrow();
        let mut bytes = Zeroizing::new(st.seq.to_be_bytes().to_vec());
        bytes.extend_from_slice(st.client.to_persisted().as_bytes());
        let record = st
            .store
            .as_ref()
            .map(|store| store.record(kind::STATE, STATE_KEY, &bytes, None));
        (bytes, record)
    }
}
