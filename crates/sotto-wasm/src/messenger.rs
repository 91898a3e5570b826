//! `Sotto`: the messaging API for JavaScript. A thin driver of `sotto_proto::client::Client`:
//! one WebSocket to a gateway relay, a one-second timer, and a pump that hands the client's
//! events to JS (as `CustomEvent`s and resolved promises) and its frames to the socket.
//!
//! Nothing secret crosses into JS: contacts are numbers (as decimal strings), messages are
//! their text and public metadata, invitations are the public link.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use rand_core::UnwrapErr;
use sotto_proto::client::{Client, ClientConfig, ClientError, ContactId, Event};
use sotto_proto::envelope::Content;
use sotto_proto::ids::RelayId;
use sotto_proto::invitation::Invitation;
use sotto_proto::keys::PublicKey;
use sotto_proto::onion::Hop;
use sotto_proto::service::ServiceConfig;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{BinaryType, CustomEvent, CustomEventInit, EventTarget, MessageEvent, WebSocket};
use zeroize::Zeroizing;

use crate::storage::{MessageRecord, Store, kind};

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

fn now() -> u64 {
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

#[derive(Clone)]
struct Stored {
    id: String,
    contact: ContactId,
    text: String,
    sent_at: u64,
    received_at: Option<u64>,
    outgoing: bool,
}

impl Stored {
    fn from_record(m: MessageRecord) -> Stored {
        Stored {
            id: m.id,
            contact: m.contact,
            text: m.text,
            sent_at: m.sent_at,
            received_at: m.received_at,
            outgoing: m.outgoing,
        }
    }

    fn to_js(&self) -> JsValue {
        let o = obj(&[
            ("id", self.id.clone().into()),
            ("contactId", self.contact.to_string().into()),
            ("text", self.text.clone().into()),
            ("sentAt", (self.sent_at as f64 * 1000.0).into()),
            ("outgoing", self.outgoing.into()),
        ]);
        if let Some(r) = self.received_at {
            let _ = Reflect::set(&o, &"receivedAt".into(), &(r as f64 * 1000.0).into());
        }
        o
    }
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
    reconnect: Option<(i32, Closure<dyn FnMut()>)>,
    pending_invitations: HashMap<u64, Resolver>,
    pending_accepts: VecDeque<Resolver>,
    pending_sends: HashMap<[u8; 16], (Resolver, u64)>,
    history: BTreeMap<ContactId, Vec<Stored>>,
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

impl State {
    /// Keeps a message: in memory for 'memory' storage, queued for the next write otherwise.
    fn keep(&mut self, m: Stored) {
        if self.store.is_some() {
            self.unsaved.push(MessageRecord {
                seq: self.seq,
                id: m.id,
                contact: m.contact,
                text: m.text,
                sent_at: m.sent_at,
                received_at: m.received_at,
                outgoing: m.outgoing,
            });
            self.seq += 1;
        } else {
            self.history.entry(m.contact).or_default().push(m);
        }
    }
}

const STATE_KEY: &[u8] = b"client";
pub(crate) const MNEMONIC_KEY: &[u8] = b"phrase";

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
    let unreachable = |what: &str| sotto_error(code::RELAY_UNREACHABLE, what);
    let resp = JsFuture::from(window()?.fetch_with_str(url))
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
                || !st.retry_records.is_empty();
            let persist = match st.store.clone() {
                Some(store) if dirty && !st.closed => {
                    let mut records = std::mem::take(&mut st.retry_records);
                    let unsaved = std::mem::take(&mut st.unsaved);
                    records.extend(unsaved.iter().map(|m| store.message_record(m)));
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

fn contact_js(id: ContactId, name: &str) -> JsValue {
    obj(&[
        ("id", id.to_string().into()),
        ("displayName", name.into()),
        ("disappearingSeconds", JsValue::from(0u32)),
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
            let js = contact_js(contact, &display_name);
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
            contact_js(contact, &display_name),
        )),
        Event::Message {
            contact,
            envelope,
            received_at,
        } => {
            if let Content::Text(text) = envelope.content {
                let m = Stored {
                    id: hex(envelope.id.as_bytes()),
                    contact,
                    text,
                    sent_at: envelope.sent_at,
                    received_at: Some(received_at),
                    outgoing: false,
                };
                let js = m.to_js();
                st.keep(m);
                actions.push(Action::Dispatch("message", js));
            }
        }
        Event::Sent { contact, message } => {
            if let Some((r, sent_at)) = st.pending_sends.remove(message.as_bytes()) {
                let js = obj(&[
                    ("id", hex(message.as_bytes()).into()),
                    ("contactId", contact.to_string().into()),
                    ("sentAt", (sent_at as f64 * 1000.0).into()),
                ]);
                actions.push(Action::Resolve(r, js));
            }
        }
        Event::Failed { what, code } => {
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

fn client_error(e: &ClientError) -> JsValue {
    let c = match e {
        ClientError::UnknownContact => code::UNKNOWN_CONTACT,
        ClientError::TooLarge => code::MESSAGE_TOO_LARGE,
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

#[wasm_bindgen]
impl Sotto {
    /// Opens a messenger: fetches the relay directory, connects to a gateway picked at random.
    /// Options: `{directoryUrl, storage: 'memory', profile, displayName}`.
    pub async fn open(options: JsValue) -> Result<Sotto, JsValue> {
        let w = window()?;
        let origin = w.location().origin().unwrap_or_default();
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
        let directory_url = get_string(&options, "directoryUrl")
            .unwrap_or_else(|| format!("{origin}/directory.json"));
        let display_name = get_string(&options, "displayName").unwrap_or_default();
        let pow_bits = get(&options, "powBits")
            .as_f64()
            .map_or(ServiceConfig::default().pow_bits, |b| {
                b.clamp(0.0, 32.0) as u8
            });

        let relays = fetch_directory(&directory_url).await?;
        let mut rng: Rng = UnwrapErr(getrandom::SysRng);
        // A restored client keeps its gateway (its queues' replies lead there).
        if let Some((client, seq)) = restored {
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
            let ws = open_socket(&url).await?;
            return Self::start(w, client, rng, url, origin, store, seq, ws);
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
        Self::start(w, client, rng, gateway_url, origin, store, 0, ws)
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
            reconnect: None,
            pending_invitations: HashMap::new(),
            pending_accepts: VecDeque::new(),
            pending_sends: HashMap::new(),
            history: BTreeMap::new(),
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
        let contact = match contact_id
            .as_string()
            .or_else(|| contact_id.as_f64().map(|n| (n as u64).to_string()))
            .ok_or_else(|| sotto_error(code::UNKNOWN_CONTACT, "unknown contact"))
            .and_then(|s| parse_contact(&s))
        {
            Ok(c) => c,
            Err(e) => return Promise::reject(&e),
        };
        let (promise, resolver) = deferred();
        {
            let mut st = self.state.borrow_mut();
            let st = &mut *st;
            match st.client.send_text(&mut st.rng, contact, text, now()) {
                Ok(envelope) => {
                    st.keep(Stored {
                        id: hex(envelope.id.as_bytes()),
                        contact,
                        text: text.to_owned(),
                        sent_at: envelope.sent_at,
                        received_at: None,
                        outgoing: true,
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

    /// `[{id, displayName, disappearingSeconds}]`, in the order they were added.
    pub fn contacts(&self) -> Promise {
        if let Err(e) = self.check_open() {
            return Promise::reject(&e);
        }
        let st = self.state.borrow();
        let list: Array = st
            .client
            .contacts()
            .map(|(id, name)| contact_js(id, name))
            .collect();
        Promise::resolve(&JsValue::from(list))
    }

    /// The newest `limit` (default 50) messages with a contact, sent and received, oldest
    /// first: `[{id, contactId, text, sentAt, receivedAt?, outgoing}]`.
    pub fn messages(&self, contact_id: JsValue, options: JsValue) -> Promise {
        if let Err(e) = self.check_open() {
            return Promise::reject(&e);
        }
        let contact = match contact_id
            .as_string()
            .ok_or_else(|| sotto_error(code::UNKNOWN_CONTACT, "unknown contact"))
            .and_then(|s| parse_contact(&s))
        {
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
                // `before` is a message id: the page ends just before it.
                let before_seq = match before {
                    Some(id) => store.message_seq(&id).await?,
                    None => None,
                };
                let limit = u32::try_from(limit).unwrap_or(u32::MAX);
                let page: Array = store
                    .messages(contact_n, limit, before_seq)
                    .await?
                    .into_iter()
                    .map(|m| Stored::from_record(m).to_js())
                    .collect();
                Ok(page.into())
            });
        }
        let Some(history) = st.history.get(&contact) else {
            return Promise::reject(&sotto_error(code::UNKNOWN_CONTACT, "unknown contact"));
        };
        let end = before
            .and_then(|b| history.iter().position(|m| m.id == b))
            .unwrap_or(history.len());
        let start = end.saturating_sub(limit);
        let page: Array = history
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .map(Stored::to_js)
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
        wasm_bindgen_futures::future_to_promise(async move {
            let phrase = store
                .read(kind::MNEMONIC, MNEMONIC_KEY)
                .await?
                .ok_or_else(|| sotto_error(code::STORAGE, "this profile has no recovery phrase"))?;
            let text = std::str::from_utf8(&phrase)
                .map_err(|_| sotto_error(code::STORAGE, "the stored phrase is damaged"))?;
            Ok(JsValue::from(text))
        })
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

    /// Same as `EventTarget.addEventListener`: `message`, `contact`, `error`.
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
