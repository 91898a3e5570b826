//! Small helpers at the JS boundary: reading and building plain objects (`Reflect`), byte
//! arrays, promises settled later, the window, the clock.
//!
//! Values the browser makes (a WebSocket frame's `ArrayBuffer`, IndexedDB's `Uint8Array`s)
//! are recognised by their brand ([`brand`]), never with `instanceof` (wasm-bindgen's
//! `dyn_into`/`dyn_ref`): `instanceof` only knows this realm's constructors, and in Firefox a
//! library loaded from a sandbox (a WebExtension content script, WebDriver's scripts) gets
//! them from the page's realm.

use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
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
    match brand(v).as_str() {
        "[object ArrayBuffer]" | "[object Uint8Array]" => Some(Uint8Array::new(v).to_vec()),
        _ => None,
    }
}

use crate::error::{ErrorCode, sotto_error};

/// Unix time in whole seconds, from the browser's clock.
pub fn now() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// The page's `window` (`UNSUPPORTED` in a worker).
pub fn window() -> Result<web_sys::Window, JsValue> {
    web_sys::window().ok_or_else(|| sotto_error(ErrorCode::Unsupported, "no window"))
}

/// The functions that settle a promise made by [`deferred`].
pub struct Resolver {
    resolve: Function,
    reject: Function,
}

impl Resolver {
    /// Fulfils the promise with `v`.
    pub fn resolve(&self, v: &JsValue) {
        let _ = self.resolve.call1(&JsValue::NULL, v);
    }
    /// Rejects the promise with `v`.
    pub fn reject(&self, v: &JsValue) {
        let _ = self.reject.call1(&JsValue::NULL, v);
    }
}

/// A promise and the functions that settle it.
pub fn deferred() -> (Promise, Resolver) {
    let mut slot = None;
    let promise = Promise::new(&mut |resolve, reject| slot = Some(Resolver { resolve, reject }));
    // Promise's executor runs synchronously, so the slot is always filled.
    let resolver = slot.unwrap_or_else(|| Resolver {
        resolve: Function::new_no_args(""),
        reject: Function::new_no_args(""),
    });
    (promise, resolver)
}

/// A promise that resolves (to `undefined`) after `ms` milliseconds: a bound to race a
/// promise against (`Promise.race`). Never settles where there is no window.
pub fn delay(ms: i32) -> Promise {
    Promise::new(&mut |resolve, _reject| {
        if let Ok(w) = window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    })
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
    }
}
