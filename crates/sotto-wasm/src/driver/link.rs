//! The connection's life: a socket's handlers feed the client (connected, frames, closed), and
//! a lost connection is made again after a jittered 1–5 s.
//!
//! No frame is dropped without trace: one that arrives while the state is borrowed waits for
//! it; one that is not a binary gateway frame, or a reply that does not open, is an `error`
//! event (`{what: 'frame', code, message}`); only a reply through a reply block the client no
//! longer holds (a late answer to a request sent again since) is merely logged.

use std::rc::Rc;

use sotto_proto::client::ClientError;
use sotto_proto::onion::{GatewayFrame, OnionError};
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use web_sys::{EventTarget, WebSocket};

use super::events::dispatch;
use super::pump::pump;
use super::state::Shared;
use super::transport::{Socket, connect};
use crate::history::Rng;
use crate::js::{console_debug, now, obj, window};

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

/// Hands a frame from the gateway to the client, then pumps.
fn receive(state: &Shared, target: &EventTarget, frame: Vec<u8>) {
    let handled = {
        let Ok(mut st) = state.try_borrow_mut() else {
            // Something up the stack holds the state (the browser dispatched this during one
            // of our calls): take the frame once it is done.
            let (s, t) = (state.clone(), target.clone());
            let later = Closure::once_into_js(move || receive(&s, &t, frame));
            if let Ok(w) = window() {
                let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
                    later.unchecked_ref(),
                    0,
                );
            }
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
