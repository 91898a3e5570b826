//! The WebSocket to the gateway relay: opening one, and a [`Socket`] that owns its handlers.
//! Binary frames only; it knows nothing of the driver (the handlers are closures).

use std::rc::Rc;

use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{BinaryType, MessageEvent, WebSocket};

use crate::error::{ErrorCode, sotto_error};
use crate::js::{brand, bytes_of, deferred, later};

/// Milliseconds a WebSocket may take to open (TCP, TLS and the HTTP upgrade). A relay that
/// accepts nothing (a host that drops the SYN: the browser itself would try for about two
/// minutes) or never finishes the upgrade is given up after this, as a refusal is.
pub const CONNECT_WAIT_MS: i32 = 10_000;

/// A WebSocket to `url` taking binary frames as `ArrayBuffer`s, still connecting. Still
/// connecting after [`CONNECT_WAIT_MS`], it is closed: its `error` and `close` events fire as
/// for any failed connection (whoever listens then, if anyone, learns it failed), so that no
/// caller waits for ever on an `open` that may never come.
pub fn connect(url: &str) -> Result<WebSocket, JsValue> {
    let ws = WebSocket::new(url)?;
    ws.set_binary_type(BinaryType::Arraybuffer);
    let deadline = ws.clone();
    let give_up = Closure::once_into_js(move || {
        if deadline.ready_state() == WebSocket::CONNECTING {
            let _ = deadline.close();
        }
    });
    later(give_up.unchecked_ref(), CONNECT_WAIT_MS);
    Ok(ws)
}

/// Opens a WebSocket and waits until it is open (`RELAY_UNREACHABLE` when it fails or is
/// still connecting after [`CONNECT_WAIT_MS`]).
pub async fn open_socket(url: &str) -> Result<WebSocket, JsValue> {
    start_socket(url).await
}

/// Starts opening a WebSocket to `url` at once, so that it connects while the caller does
/// other work; the future resolves once it is open (`RELAY_UNREACHABLE` when it fails or
/// [`connect`]'s deadline closes it; the browser's `SyntaxError` for a URL it refuses). The
/// handshake's events are not missed: the handlers are set before this returns, and a browser
/// dispatches them only in a later task.
pub fn start_socket(url: &str) -> impl Future<Output = Result<WebSocket, JsValue>> + use<> {
    let started = connect(url).map(|ws| {
        let (promise, resolver) = deferred();
        let resolver = Rc::new(resolver);
        let r1 = resolver.clone();
        let on_open = Closure::<dyn FnMut()>::new(move || r1.resolve(&JsValue::TRUE));
        let r2 = resolver.clone();
        let on_fail = Closure::<dyn FnMut()>::new(move || r2.resolve(&JsValue::FALSE));
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onerror(Some(on_fail.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_fail.as_ref().unchecked_ref()));
        (ws, promise, on_open, on_fail)
    });
    async move {
        let (ws, promise, _on_open, _on_fail) = started?;
        let opened = JsFuture::from(promise).await?;
        ws.set_onopen(None);
        ws.set_onerror(None);
        ws.set_onclose(None);
        if opened.as_bool() == Some(true) {
            Ok(ws)
        } else {
            Err(sotto_error(
                ErrorCode::RelayUnreachable,
                "cannot connect to the relay",
            ))
        }
    }
}

/// A WebSocket with its permanent handlers: opened, a binary frame arrived, closed.
pub struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut()>,
}

impl Socket {
    /// Installs the handlers on an open (or opening) socket. `on_frame` gets each binary
    /// frame's bytes, or for a message that is not one, what it is instead (its brand, e.g.
    /// `"[object String]"`).
    pub fn attach(
        ws: WebSocket,
        on_open: impl FnMut() + 'static,
        mut on_frame: impl FnMut(Result<Vec<u8>, String>) + 'static,
        on_close: impl FnMut() + 'static,
    ) -> Socket {
        let on_open = Closure::<dyn FnMut()>::new(on_open);
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            // By brand, not `instanceof`: the buffer may come from another realm (js.rs).
            let data = e.data();
            on_frame(bytes_of(&data).ok_or_else(|| brand(&data)));
        });
        let on_close = Closure::<dyn FnMut()>::new(on_close);
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Socket {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        }
    }

    /// The socket, to send on (a clone: sending needs no borrow of the driver).
    pub fn ws(&self) -> WebSocket {
        self.ws.clone()
    }

    /// Removes the handlers: nothing more reaches the driver from this socket.
    pub fn detach(&self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
    }

    /// Removes the handlers and closes the socket.
    pub fn close(self) {
        self.detach();
        let _ = self.ws.close();
    }
}

/// Sends binary frames; a failure (the socket closing under us) loses them, and the client
/// retries what needs retrying.
pub fn send_all(ws: &WebSocket, frames: &[Vec<u8>]) {
    for f in frames {
        let _ = ws.send_with_u8_array(f);
    }
}
