//! The connection's life: a socket's handlers feed the client (connected, frames, closed), and
//! a lost connection is made again after a jittered 1–5 s.

use std::rc::Rc;

use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use web_sys::{EventTarget, WebSocket};

use super::pump::pump;
use super::state::Shared;
use super::transport::{Socket, connect};
use crate::history::Rng;
use crate::js::{now, window};

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
    let on_frame = move |frame: Vec<u8>| {
        let Some(s) = weak.upgrade() else { return };
        {
            let Ok(mut st) = s.try_borrow_mut() else {
                return;
            };
            let st = &mut *st;
            // Frames that do not decode or open (stale reply blocks) are dropped.
            let _ = st.client.handle_frame(&mut st.rng, &frame, now());
        }
        pump(&s, &t);
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
            sock.detach();
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
        match connect(&url) {
            Ok(ws) => attach(&s, &t, ws, false),
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
