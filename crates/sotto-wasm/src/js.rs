//! Small helpers at the JS boundary: reading and building plain objects (`Reflect`), byte
//! arrays, promises settled later, the window, the clock.

use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::JsCast as _;
use wasm_bindgen::JsValue;

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

/// `target[key]` when it is a `Uint8Array`, copied out.
pub fn get_bytes(target: &JsValue, key: &str) -> Option<Vec<u8>> {
    get(target, key)
        .dyn_ref::<Uint8Array>()
        .map(Uint8Array::to_vec)
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

/// A promise of a synchronous result.
pub fn settled(result: Result<JsValue, JsValue>) -> Promise {
    match result {
        Ok(v) => Promise::resolve(&v),
        Err(e) => Promise::reject(&e),
    }
}
