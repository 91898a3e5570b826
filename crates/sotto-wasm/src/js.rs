//! Small helpers at the JS boundary: reading and building plain objects (`Reflect`), byte
//! arrays, promises settled later, the global scope (a page's `window` or a worker's `self`),
//! the clock.
//!
//! Values the browser makes (a WebSocket frame's `ArrayBuffer`, IndexedDB's `Uint8Array`s)
//! are recognised by their brand ([`brand`]), never by `instanceof` alone (wasm-bindgen's
//! `dyn_into`/`dyn_ref`): `instanceof` only knows this realm's constructors, and in Firefox a
//! library loaded from a sandbox (a WebExtension content script, WebDriver's scripts) gets
//! them from the page's realm. (`instanceof` may take a value of this realm's early, the brand
//! check stays for the rest.)

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::JsCast as _;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
extern "C" {
    /// `Object.prototype.toString.call(v)`: `"[object ArrayBuffer]"`, `"[object Uint8Array]"`,
    /// `"[object Blob]"`, … from the value's internal type, whichever realm made it.
    #[wasm_bindgen(js_namespace = ["Object", "prototype", "toString"], js_name = call)]
    pub fn brand(v: &JsValue) -> String;

    /// `console.debug(message)`.
    #[wasm_bindgen(js_namespace = console, js_name = debug)]
    pub fn console_debug(message: &str);
}

/// A copy of `v`'s bytes when it is an `ArrayBuffer` or a `Uint8Array` of any realm; `None`
/// for anything else.
pub fn bytes_of(v: &JsValue) -> Option<Vec<u8>> {
    // This realm's `Uint8Array` (every IndexedDB value read in a page or worker of its own):
    // copied straight into the wasm, without asking for its brand (a string made and copied
    // per value) or copying it first into a new array (issue 18: a thousand contact records
    // are read on every open).
    if let Some(a) = v.dyn_ref::<Uint8Array>() {
        return Some(a.to_vec());
    }
    match brand(v).as_str() {
        "[object ArrayBuffer]" | "[object Uint8Array]" => Some(Uint8Array::new(v).to_vec()),
        _ => None,
    }
}

use crate::error::{ErrorCode, sotto_error};

/// `performance.mark(name)` in the bench build (the open's waterfall: `tests/bench/app.mjs
/// --marks`, issue 18); nothing in the shipped one.
#[inline(always)]
pub fn mark(_name: &str) {
    #[cfg(feature = "bench")]
    crate::bench::mark(_name);
}

/// Unix time in whole seconds, from the browser's clock.
pub fn now() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// The bytes of lower- or upper-case hex `s` (as [`hex`] writes them); `None` when it is not
/// hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A plain object with these fields.
pub fn obj(fields: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in fields {
        set(&o, k, v);
    }
    o.into()
}

/// Sets `o[k] = v` (a failure, on a frozen object, is ignored).
pub fn set(o: &JsValue, k: &str, v: &JsValue) {
    let _ = Reflect::set(o, &k.into(), v);
}

/// `target[key]`, or `undefined`.
pub fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// `target[key]` when it is a string.
pub fn get_string(target: &JsValue, key: &str) -> Option<String> {
    get(target, key).as_string()
}

/// `target[key]` when it is a `Uint8Array` (or an `ArrayBuffer`) of any realm, copied out.
pub fn get_bytes(target: &JsValue, key: &str) -> Option<Vec<u8>> {
    bytes_of(&get(target, key))
}

/// A copy of `bytes` as a `Uint8Array`.
pub fn bytes(bytes: &[u8]) -> JsValue {
    Uint8Array::from(bytes).into()
}

/// The global scope the library runs in: a page's `window` or a worker's `self`
/// (`WorkerGlobalScope`: a dedicated, shared or service worker). Both have what the library
/// uses of it (`fetch`, timers, `location.origin`, the `online` event); `indexedDB`,
/// `navigator.locks` and `crypto` are read from `js_sys::global()` where they are used.
pub enum Scope {
    /// A page (or an iframe's) `window`.
    Window(web_sys::Window),
    /// A worker's global scope.
    Worker(web_sys::WorkerGlobalScope),
}

/// The global scope (see [`Scope`]); `UNSUPPORTED` anywhere else (e.g. a worklet).
pub fn scope() -> Result<Scope, JsValue> {
    if let Some(w) = web_sys::window() {
        return Ok(Scope::Window(w));
    }
    js_sys::global()
        .dyn_into::<web_sys::WorkerGlobalScope>()
        .map(Scope::Worker)
        .map_err(|_| {
            sotto_error(
                ErrorCode::Unsupported,
                "neither a window nor a worker: no fetch, timers or location here",
            )
        })
}

impl Scope {
    /// The scope as an event target (for its `online` event).
    pub fn target(&self) -> &web_sys::EventTarget {
        match self {
            Scope::Window(w) => w,
            Scope::Worker(w) => w,
        }
    }

    /// `location.origin`: the page's, or the worker script's (`""` if unreadable).
    pub fn origin(&self) -> String {
        match self {
            Scope::Window(w) => w.location().origin().unwrap_or_default(),
            Scope::Worker(w) => w.location().origin(),
        }
    }

    /// `fetch(url)`.
    pub fn fetch(&self, url: &str) -> Promise {
        match self {
            Scope::Window(w) => w.fetch_with_str(url),
            Scope::Worker(w) => w.fetch_with_str(url),
        }
    }

    /// `setTimeout(f, ms)`: the timer's id.
    pub fn set_timeout(&self, f: &Function, ms: i32) -> Result<i32, JsValue> {
        match self {
            Scope::Window(w) => w.set_timeout_with_callback_and_timeout_and_arguments_0(f, ms),
            Scope::Worker(w) => w.set_timeout_with_callback_and_timeout_and_arguments_0(f, ms),
        }
    }

    /// `setTimeout(f, ms, arg)`: `f(arg)` after `ms`; the timer's id.
    pub fn set_timeout_with_arg(
        &self,
        f: &Function,
        ms: i32,
        arg: &JsValue,
    ) -> Result<i32, JsValue> {
        match self {
            Scope::Window(w) => w.set_timeout_with_callback_and_timeout_and_arguments_1(f, ms, arg),
            Scope::Worker(w) => w.set_timeout_with_callback_and_timeout_and_arguments_1(f, ms, arg),
        }
    }

    /// `setInterval(f, ms)`: the timer's id.
    pub fn set_interval(&self, f: &Function, ms: i32) -> Result<i32, JsValue> {
        match self {
            Scope::Window(w) => w.set_interval_with_callback_and_timeout_and_arguments_0(f, ms),
            Scope::Worker(w) => w.set_interval_with_callback_and_timeout_and_arguments_0(f, ms),
        }
    }

    /// `clearTimeout(id)`.
    pub fn clear_timeout(&self, id: i32) {
        match self {
            Scope::Window(w) => w.clear_timeout_with_handle(id),
            Scope::Worker(w) => w.clear_timeout_with_handle(id),
        }
    }

    /// `clearInterval(id)`.
    pub fn clear_interval(&self, id: i32) {
        match self {
            Scope::Window(w) => w.clear_interval_with_handle(id),
            Scope::Worker(w) => w.clear_interval_with_handle(id),
        }
    }
}

/// Runs `f` once, after `ms` milliseconds (nothing happens where there is no [`scope`]).
pub fn later(f: &Function, ms: i32) {
    if let Ok(s) = scope() {
        let _ = s.set_timeout(f, ms);
    }
}

/// The functions that settle a promise made by [`deferred`], and the [`Backstop`] racing it, if
/// any (cleared once the promise settles, pushed back by [`Resolver::extend`]).
pub struct Resolver {
    resolve: Function,
    reject: Function,
    backstop: Option<Rc<Backstop>>,
}

impl Resolver {
    /// Fulfils the promise with `v`.
    pub fn resolve(&self, v: &JsValue) {
        self.clear_backstop();
        let _ = self.resolve.call1(&JsValue::NULL, v);
    }
    /// Rejects the promise with `v`.
    pub fn reject(&self, v: &JsValue) {
        self.clear_backstop();
        let _ = self.reject.call1(&JsValue::NULL, v);
    }
    /// The same resolver, its backstop's timer cleared when it settles and pushed back by
    /// [`Resolver::extend`].
    pub fn with_backstop(self, backstop: Rc<Backstop>) -> Self {
        Resolver {
            backstop: Some(backstop),
            ..self
        }
    }
    /// Starts the backstop's time again from now (an upload's progress); nothing without one.
    pub fn extend(&self) {
        if let Some(b) = &self.backstop {
            b.extend();
        }
    }
    fn clear_backstop(&self) {
        if let Some(b) = &self.backstop {
            b.clear();
        }
    }
}

/// A promise and the functions that settle it.
pub fn deferred() -> (Promise, Resolver) {
    let mut slot = None;
    let promise = Promise::new(&mut |resolve, reject| slot = Some((resolve, reject)));
    // Promise's executor runs synchronously, so the slot is always filled.
    let (resolve, reject) = slot.unwrap_or_else(|| (noop(), noop()));
    let resolver = Resolver {
        resolve,
        reject,
        backstop: None,
    };
    (promise, resolver)
}

fn noop() -> Function {
    Function::new_no_args("")
}

/// A deadline kept by the browser's own timer (`setTimeout(reject, ms, error)`), so that it
/// fires even when no wasm runs any more (a trap): the backstop of pkg/README.md "Every promise
/// settles". [`Backstop::extend`] starts its `ms` again (a file's upload, at each progress);
/// [`Backstop::clear`] stops it. Never fires where there is no [`scope`].
pub struct Backstop {
    deadline: Promise,
    reject: Function,
    error: JsValue,
    ms: i32,
    timer: Cell<Option<i32>>,
    /// When the timer was last set (`Date.now()`, ms).
    armed_at: Cell<f64>,
}

impl Backstop {
    /// A backstop that rejects with `error` in `ms` milliseconds.
    pub fn new(ms: i32, error: JsValue) -> Self {
        let mut slot = None;
        let deadline = Promise::new(&mut |_resolve, reject| slot = Some(reject));
        let backstop = Backstop {
            deadline,
            reject: slot.unwrap_or_else(noop),
            error,
            ms,
            timer: Cell::new(None),
            armed_at: Cell::new(0.0),
        };
        backstop.extend();
        backstop
    }

    /// `promise`, or the backstop's rejection if that comes first.
    pub fn race(&self, promise: &Promise) -> Promise {
        Promise::race(&js_sys::Array::of2(promise, &self.deadline))
    }

    /// Starts the `ms` again from now (the new timer set before the old one is cleared, so
    /// that there is always one).
    pub fn extend(&self) {
        if let Ok(s) = scope() {
            let id = s.set_timeout_with_arg(&self.reject, self.ms, &self.error);
            self.clear();
            self.timer.set(id.ok());
            self.armed_at.set(js_sys::Date::now());
        }
    }

    /// The error it rejects with.
    pub fn error(&self) -> JsValue {
        self.error.clone()
    }

    /// Whether the backstop has fired (its `ms` have passed since it was last set, and it
    /// was not cleared since).
    pub fn fired(&self) -> bool {
        let armed = self.timer.get().is_some();
        armed && js_sys::Date::now() >= self.armed_at.get() + f64::from(self.ms)
    }

    /// Stops the timer: the backstop no longer fires (until extended).
    pub fn clear(&self) {
        if let (Some(id), Ok(s)) = (self.timer.take(), scope()) {
            s.clear_timeout(id);
        }
    }
}

/// A promise that resolves (to `undefined`) after `ms` milliseconds: a bound to race a
/// promise against (`Promise.race`). Never settles where there is no [`scope`].
pub fn delay(ms: i32) -> Promise {
    Promise::new(&mut |resolve, _reject| later(&resolve, ms))
}

/// `promise`, or the rejection `error` once `ms` milliseconds have passed, whichever comes
/// first: a backstop for calls whose own deadline lives in the wasm (the driver's tick). The
/// timer is the browser's alone (`setTimeout(reject, ms, error)` with the deadline promise's
/// native `reject` and an error made now), so it fires even when the wasm instance has stopped
/// (a trap: docs/ENGINES.md) and the call settles whatever happens inside Sotto. Without a
/// [`scope`] the backstop never fires.
pub fn settle_within(promise: &Promise, ms: i32, error: &JsValue) -> Promise {
    Backstop::new(ms, error.clone()).race(promise)
}

/// A promise of a synchronous result.
pub fn settled(result: Result<JsValue, JsValue>) -> Promise {
    match result {
        Ok(v) => Promise::resolve(&v),
        Err(e) => Promise::reject(&e),
    }
}

#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use js_sys::{Array, ArrayBuffer};
    use wasm_bindgen::JsCast as _;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// `new realm[ctor](arg)` in a fresh iframe's realm: what a WebSocket or IndexedDB of
    /// another realm hands over.
    fn foreign(ctor: &str, arg: &JsValue) -> JsValue {
        let document = get(&js_sys::global(), "document");
        let create: Function = get(&document, "createElement").unchecked_into();
        let iframe = create.call1(&document, &"iframe".into()).unwrap();
        let body = get(&document, "body");
        let append: Function = get(&body, "appendChild").unchecked_into();
        append.call1(&body, &iframe).unwrap();
        let constructor: Function = get(&get(&iframe, "contentWindow"), ctor).unchecked_into();
        Reflect::construct(&constructor, &Array::of1(arg)).unwrap()
    }

    #[test]
    fn bytes_of_reads_buffers_of_any_realm() {
        let here: JsValue = Uint8Array::from(&[1u8, 2, 3][..]).into();
        let u8s = foreign("Uint8Array", &here);
        assert!(
            u8s.dyn_ref::<Uint8Array>().is_none(),
            "instanceof fails across realms"
        );
        assert_eq!(bytes_of(&u8s), Some(vec![1, 2, 3]));
        let buf = get(&u8s, "buffer");
        assert!(buf.dyn_ref::<ArrayBuffer>().is_none());
        assert_eq!(brand(&buf), "[object ArrayBuffer]");
        assert_eq!(bytes_of(&buf), Some(vec![1, 2, 3]));
        let o = obj(&[("v", u8s)]);
        assert_eq!(get_bytes(&o, "v"), Some(vec![1, 2, 3]));
        assert_eq!(bytes_of(&here), Some(vec![1, 2, 3]));
        assert_eq!(bytes_of(&"abc".into()), None);
        assert_eq!(brand(&"abc".into()), "[object String]");
        assert_eq!(bytes_of(&JsValue::UNDEFINED), None);
        // A view of part of a buffer: its own bytes only, by either path.
        let view = Uint8Array::new_with_byte_offset_and_length(&ArrayBuffer::new(8), 2, 3);
        view.copy_from(&[7, 8, 9]);
        assert_eq!(bytes_of(&view), Some(vec![7, 8, 9]));
        assert_eq!(bytes_of(&foreign("Uint8Array", &view)), Some(vec![7, 8, 9]));
    }

    /// A promise that never settles, raced: the backstop rejects with its error; one that
    /// settles first keeps its value.
    #[test]
    async fn settle_within_rejects_a_promise_that_never_settles() {
        let never = Promise::new(&mut |_, _| {});
        let error = timeout();
        let raced = wasm_bindgen_futures::JsFuture::from(settle_within(&never, 20, &error)).await;
        let e = raced.expect_err("the backstop rejects");
        assert_eq!(crate::error::code_of(&e), "TIMEOUT");
        let early = settle_within(&Promise::resolve(&JsValue::from(7)), 20, &error);
        let v = wasm_bindgen_futures::JsFuture::from(early).await.unwrap();
        assert_eq!(v.as_f64(), Some(7.0));
    }

    /// `"pending"` when `p` has not settled `ms` milliseconds from now, else `"settled"`.
    async fn state_after(p: &Promise, ms: i32) -> String {
        let race = Function::new_with_args(
            "p, ms",
            "const s = () => 'settled'; \
             return Promise.race([p.then(s, s), new Promise((r) => setTimeout(r, ms, 'pending'))])",
        );
        let first = race.call2(&JsValue::NULL, p, &JsValue::from(ms)).unwrap();
        let first = wasm_bindgen_futures::JsFuture::from(Promise::from(first));
        first.await.unwrap().as_string().unwrap()
    }

    fn timeout() -> JsValue {
        crate::error::sotto_error(crate::error::ErrorCode::Timeout, "late")
    }

    /// A backstop cleared before its time never rejects; extended after, it rejects again.
    #[test]
    async fn a_cleared_backstop_stays_silent_until_extended() {
        let never = Promise::new(&mut |_, _| {});
        let backstop = Backstop::new(20, timeout());
        let raced = backstop.race(&never);
        backstop.clear();
        assert_eq!(state_after(&raced, 100).await, "pending");
        backstop.extend();
        let e = wasm_bindgen_futures::JsFuture::from(raced)
            .await
            .unwrap_err();
        assert_eq!(crate::error::code_of(&e), "TIMEOUT");
    }

    /// Extending replaces the timer (the first one no longer fires), and a resolver with a
    /// backstop clears it when it settles.
    #[test]
    async fn extending_keeps_one_timer_and_settling_clears_it() {
        let never = Promise::new(&mut |_, _| {});
        let backstop = Backstop::new(20, timeout());
        backstop.extend();
        backstop.clear();
        assert_eq!(state_after(&backstop.race(&never), 100).await, "pending");

        let (promise, resolver) = deferred();
        let backstop = Rc::new(Backstop::new(20, timeout()));
        let resolver = resolver.with_backstop(backstop.clone());
        resolver.extend();
        resolver.resolve(&JsValue::from(7));
        let v = wasm_bindgen_futures::JsFuture::from(backstop.race(&promise))
            .await
            .unwrap();
        assert_eq!(v.as_f64(), Some(7.0));
        assert_eq!(state_after(&backstop.race(&never), 100).await, "pending");
    }

    /// `fired` tells a backstop whose time has passed (what `sendFile` checks before it hands
    /// a file it read to the driver), and not one cleared.
    #[test]
    async fn fired_is_true_once_the_time_has_passed() {
        let backstop = Backstop::new(20, timeout());
        assert!(!backstop.fired());
        wasm_bindgen_futures::JsFuture::from(delay(60))
            .await
            .unwrap();
        assert!(backstop.fired());
        backstop.clear();
        assert!(!backstop.fired());
    }

    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
        assert_eq!(unhex(&hex(&[1, 0xab, 0xcd])), Some(vec![1, 0xab, 0xcd]));
    }
}
