//! The connection's life: a socket's handlers feed the client (connected, frames, closed); a
//! lost connection is made again after a jittered 1–5 s, and while attempts fail (the profile
//! is offline) with a back-off growing to [`RECONNECT_MAX_SECS`], at once when the browser
//! fires `online`. An attempt after a failure reads the relay directory first (and keeps it
//! with a saved profile), then opens the socket. The connection's state ([`Connection`]) is
//! told with a `connection` event (`{state}`) when it changes.
//!
//! No frame is dropped without trace: one that arrives while the state is borrowed waits for
//! it; one that is not a binary gateway frame, or a reply that does not open, is an `error`
//! event (`{what: 'frame', code, message}`); only a reply through a reply block the client no
//! longer holds (a late answer to a request sent again since) is merely logged.

use std::rc::Rc;

use sotto_proto::client::{Client, ClientError};
use sotto_proto::directory::{DirectoryTrust, RelayDescriptor, reread_at};
use sotto_proto::onion::{GatewayFrame, OnionError};
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use web_sys::{EventTarget, WebSocket};

use super::directory::{
    DIRECTORY_REFRESH_SECS, STUCK_REREAD_SECS, Verified, fetch_directory, store_directory,
};
use super::events::dispatch;
use super::pump::pump;
use super::state::{Connection, Shared, State};
use super::transport::{Socket, connect};
use crate::history::Rng;
use crate::js::{console_debug, later, now, obj, scope};

/// A number below `n` (0 when `n` is 0).
pub fn random_below(rng: &mut Rng, n: usize) -> usize {
    use rand_core::Rng as _;
    (rng.next_u32() as usize) % n.max(1)
}

/// Installs the driver's handlers on an open (or opening) socket; `already_open` tells the
/// client at once.
pub fn attach(state: &Shared, target: &EventTarget, ws: WebSocket, already_open: bool) {
    let (weak, t) = (Rc::downgrade(state), target.clone());
    let on_open = move || {
        if let Some(s) = weak.upgrade() {
            on_connected(&s, &t);
        }
    };
    let (weak, t) = (Rc::downgrade(state), target.clone());
    let on_frame = move |frame: Result<Vec<u8>, String>| {
        let Some(s) = weak.upgrade() else { return };
        match frame {
            Ok(frame) => receive(&s, &t, frame),
            Err(what) => frame_error(
                &t,
                "NOT_BINARY",
                &format!("the gateway sent {what}, not a binary frame"),
            ),
        }
    };
    let (weak, t) = (Rc::downgrade(state), target.clone());
    let on_close = move || {
        if let Some(s) = weak.upgrade() {
            on_disconnected(&s, &t);
        }
    };
    let socket = Socket::attach(ws, on_open, on_frame, on_close);
    if let Ok(mut st) = state.try_borrow_mut() {
        st.socket = Some(socket);
    }
    if already_open {
        on_connected(state, target);
    }
}

/// Hands a frame from the gateway to the client, then pumps (which builds and sends the Acks
/// it owes: see `pump`).
fn receive(state: &Shared, target: &EventTarget, frame: Vec<u8>) {
    let handled = {
        let Ok(mut st) = state.try_borrow_mut() else {
            // Something up the stack holds the state (the browser dispatched this during one
            // of our calls): take the frame once it is done.
            let (s, t) = (state.clone(), target.clone());
            let retry = Closure::once_into_js(move || receive(&s, &t, frame));
            later(retry.unchecked_ref(), 0);
            return;
        };
        let st = &mut *st;
        match GatewayFrame::decode(&frame) {
            Err(e) => Err(("MALFORMED_FRAME", e.to_string())),
            Ok(_) => match st.client.handle_frame(&mut st.rng, &frame, now()) {
                Ok(()) => Ok(()),
                // The reply block is not (or no longer) ours: a late or repeated answer.
                Err(ClientError::Onion(OnionError::Malformed)) => {
                    console_debug("sotto: a reply through a reply block no longer held");
                    Ok(())
                }
                Err(e) => Err(("UNREADABLE_REPLY", e.to_string())),
            },
        }
    };
    if let Err((code, message)) = handled {
        frame_error(target, code, &message);
    }
    pump(state, target);
}

/// Tells the page that a frame from the gateway could not be used: an `error` event
/// `{what: 'frame', code, message}`.
fn frame_error(target: &EventTarget, code: &str, message: &str) {
    let detail = obj(&[
        ("what", "frame".into()),
        ("code", code.into()),
        ("message", message.into()),
    ]);
    dispatch(target, "error", &detail);
}

/// Sets the connection's state; a change is told with a `connection` event `{state}`
/// (dispatched by the caller once the borrow is released: the detail is returned).
fn set_connection(st: &mut State, connection: Connection) -> Option<JsValue> {
    if st.connection == connection {
        return None;
    }
    st.connection = connection;
    Some(obj(&[("state", connection.name().into())]))
}

fn on_connected(state: &Shared, target: &EventTarget) {
    crate::js::mark("link:connected");
    let changed = {
        let Ok(mut st) = state.try_borrow_mut() else {
            return;
        };
        let st = &mut *st;
        st.open = true;
        st.failures = 0;
        st.client.connected(&mut st.rng, now());
        set_connection(st, Connection::Online)
    };
    if let Some(detail) = changed {
        dispatch(target, "connection", &detail);
    }
    pump(state, target);
    crate::js::mark("link:pumped");
}

/// The socket closed: a connection that was open is lost (made again soon), one that never
/// opened is a failed attempt (the profile is offline: back-off).
fn on_disconnected(state: &Shared, target: &EventTarget) {
    let (delay, changed) = {
        let Ok(mut st) = state.try_borrow_mut() else {
            return;
        };
        let st = &mut *st;
        let was_open = st.open;
        st.open = false;
        if let Some(sock) = st.socket.take() {
            sock.detach();
        }
        if st.closed || st.reconnect.is_some() {
            return;
        }
        let changed = if was_open {
            st.failures = 0;
            set_connection(st, Connection::Connecting)
        } else {
            st.failures = st.failures.saturating_add(1);
            set_connection(st, Connection::Offline)
        };
        (reconnect_delay(&mut st.rng, st.failures), changed)
    };
    if let Some(detail) = changed {
        dispatch(target, "connection", &detail);
        // Promises waiting for the network settle now that it is known to be away.
        pump(state, target);
    }
    schedule(state, target, delay);
}

/// The longest wait between two attempts to reach the network, in seconds.
pub const RECONNECT_MAX_SECS: u64 = 30;

/// Milliseconds before the next attempt after `failures` failed ones in a row: 1–5 s after a
/// lost connection (none failed yet) or the first failure, then `5 s · 2^(failures−1)`
/// capped at [`RECONNECT_MAX_SECS`], of which a random 20–100 % (so that many clients do not
/// retry in step).
fn reconnect_delay(rng: &mut Rng, failures: u32) -> i32 {
    let exp = failures.saturating_sub(1).min(8);
    let most = (5000u64 << exp).min(RECONNECT_MAX_SECS * 1000);
    let least = most / 5;
    let span = usize::try_from(most - least).unwrap_or(0);
    i32::try_from(least as usize + random_below(rng, span + 1)).unwrap_or(i32::MAX)
}

/// Attempts to reach the network after `delay` ms (the one reconnection waiting to happen).
pub fn schedule(state: &Shared, target: &EventTarget, delay: i32) {
    let weak = Rc::downgrade(state);
    let t = target.clone();
    let retry = Closure::<dyn FnMut()>::new(move || {
        let Some(s) = weak.upgrade() else { return };
        if let Ok(mut st) = s.try_borrow_mut() {
            // Dropping the running closure here would be unsound to rely on; leak it instead.
            if let Some((_, c)) = st.reconnect.take() {
                c.forget();
            }
        }
        attempt(&s, &t);
    });
    let Ok(w) = scope() else { return };
    if let Ok(id) = w.set_timeout(retry.as_ref().unchecked_ref(), delay)
        && let Ok(mut st) = state.try_borrow_mut()
    {
        st.reconnect = Some((id, retry));
    }
}

/// The browser says it is online: if the profile waits to reconnect, it tries now.
pub fn retry_now(state: &Shared, target: &EventTarget) {
    {
        let Ok(mut st) = state.try_borrow_mut() else {
            return;
        };
        if st.closed || st.open {
            return;
        }
        // Not waiting: an attempt is under way.
        let Some((id, _retry)) = st.reconnect.take() else {
            return;
        };
        if let Ok(w) = scope() {
            w.clear_timeout(id);
        }
    }
    attempt(state, target);
}

/// One attempt to reach the network: after a failure (or when the directory was never read
/// since the profile opened) the directory first, then the gateway's socket; a socket that
/// does not open ends in `on_disconnected`, which schedules the next attempt.
fn attempt(state: &Shared, target: &EventTarget) {
    let (read_first, url) = {
        let Ok(st) = state.try_borrow() else { return };
        if st.closed {
            return;
        }
        let read_first = st.directory_stale || st.failures > 0 || st.gateway_url.is_none();
        (
            read_first.then(|| directory_read(&st)),
            st.gateway_url.clone(),
        )
    };
    let Some((directory_url, trust, clock_offset)) = read_first else {
        if let Some(url) = url {
            open_to(state, target, &url);
        }
        return;
    };
    let weak = Rc::downgrade(state);
    let t = target.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let fetched = fetch_directory(&directory_url, &trust, clock_offset).await;
        let Some(s) = weak.upgrade() else { return };
        let url = {
            let Ok(mut st) = s.try_borrow_mut() else {
                return;
            };
            if st.closed {
                return;
            }
            if let Ok(read) = fetched {
                take_directory(&mut st, read);
            }
            st.gateway_url.clone()
        };
        match url {
            // A directory kept with the profile names the gateway even when none is read now.
            Some(url) => open_to(&s, &t, &url),
            None => on_disconnected(&s, &t),
        }
    });
}

/// Opens a socket to `url` and installs the handlers (its opening or closing comes later).
fn open_to(state: &Shared, target: &EventTarget, url: &str) {
    match connect(url) {
        Ok(ws) => attach(state, target, ws, false),
        Err(_) => on_disconnected(state, target),
    }
}

/// What a directory read needs: where it is, the authority keys it must verify against, and
/// the clock offset (seconds) that gives network time.
fn directory_read(st: &State) -> (String, DirectoryTrust, i64) {
    (
        st.directory_url.clone(),
        st.directory_trust.clone(),
        st.client.clock_offset(),
    )
}

/// When to read the directory again, in device time (see [`reread_at`]).
pub fn next_read(client: &Client, rng: &mut Rng, relays: &[RelayDescriptor]) -> u64 {
    use rand_core::Rng as _;
    reread_at(
        relays,
        client.clock_offset(),
        now(),
        rng.next_u64(),
        DIRECTORY_REFRESH_SECS,
    )
}

/// A directory just read from the network: the client takes the relays' current keys, key
/// epochs and difficulties (new keys: our queues subscribe again); the gateway's URL comes
/// from it; the next read is scheduled; a saved profile keeps its text (for opening offline).
/// One signed before the directory taken last is not taken (`directory::newest`): the read is
/// tried again after `STUCK_REREAD_SECS`.
pub fn take_directory(st: &mut State, read: Verified) {
    let now = now();
    if read.valid_after < st.directory_valid_after {
        // Older than the one taken (a host replaying what the authorities signed before):
        // not taken; read again soon, maybe from a host that is up to date.
        st.directory_due = now.saturating_add(STUCK_REREAD_SECS);
        return;
    }
    st.directory_valid_after = read.valid_after;
    let _ = st.client.update_directory(&mut st.rng, &read.relays, now);
    let gateway = st.client.gateway();
    if let Some(r) = read.relays.iter().find(|r| r.id == gateway) {
        st.gateway_url = Some(r.url.clone());
    }
    st.directory_stale = false;
    st.directory_at = now;
    st.directory_due = next_read(&st.client, &mut st.rng, &read.relays);
    if let Some(store) = st.history.store() {
        wasm_bindgen_futures::spawn_local(async move {
            // Only the copy kept for opening offline is lost if this fails.
            let _ = store_directory(&store, &read.text).await;
        });
    }
}

/// Reads the directory again (the tick asks, while connected: see `machine.rs`) and hands it
/// to [`take_directory`]. A failed read changes nothing but the next read's time (soon).
pub fn refresh_directory(state: &Shared) {
    let weak = Rc::downgrade(state);
    let (url, trust, clock_offset) = match state.try_borrow() {
        Ok(st) => directory_read(&st),
        Err(_) => return,
    };
    wasm_bindgen_futures::spawn_local(async move {
        let fetched = fetch_directory(&url, &trust, clock_offset).await;
        let Some(s) = weak.upgrade() else { return };
        let Ok(mut st) = s.try_borrow_mut() else {
            return;
        };
        match fetched {
            Ok(read) => take_directory(&mut st, read),
            // Not reachable now: try again soon rather than in an hour.
            Err(_) => st.directory_due = now().saturating_add(STUCK_REREAD_SECS),
        }
    });
}
