//! One writer per profile: an exclusive Web Lock (`navigator.locks`, W3C Web Locks API) named
//! after the profile's database, taken before its state is loaded and held until the profile
//! closes. Another tab that opens the profile gets `PROFILE_IN_USE`; one that opens it with
//! `takeOver` steals the lock (`steal: true`), and the tab that held it learns so from the
//! rejected request and stops.
//!
//! Where `navigator.locks` is missing (old browsers, some embedded views), nothing is locked:
//! the generation and writer id on the stored state ([`crate::storage::Store::write_state`]) still
//! stops a second writer at its first write.
//!
//! web-sys's `LockManager` bindings need `--cfg=web_sys_unstable_apis` for the whole build;
//! the one method used here is bound below instead.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::error::{ErrorCode, sotto_error};
use crate::js::{deferred, set};

#[wasm_bindgen]
extern "C" {
    /// `navigator.locks`.
    type LockManager;

    /// `LockManager.request(name, options, callback)`: the promise settles when the lock is
    /// released (with the callback's result), or rejects (`AbortError`) when it is stolen.
    #[wasm_bindgen(method, js_name = request)]
    fn request(this: &LockManager, name: &str, options: &Object, callback: &Function) -> Promise;
}

/// What a lost lock runs (the driver stops).
type OnLost = Box<dyn FnOnce()>;

#[derive(Default)]
struct Shared {
    /// Released by us (closing) or lost: a rejection after this means nothing.
    done: Cell<bool>,
    /// Another tab stole the lock.
    lost: Cell<bool>,
    on_lost: RefCell<Option<OnLost>>,
}

/// A held profile lock; dropping it releases the lock.
pub struct ProfileLock {
    /// The lock's name.
    name: String,
    /// Resolves the promise the lock is held by.
    release: Function,
    /// `LockManager.request`'s promise: settles once the lock is released.
    request: Promise,
    shared: Rc<Shared>,
}

thread_local! {
    /// Locks this page let go of, by name, until their release is through: opening the same
    /// profile again at once (`close()` then `open()`) waits for it instead of finding the
    /// lock still held by itself. A `Vec` (a page opens a few profiles), not a `HashMap`: one
    /// instance of its code less in the wasm (issue 18).
    static RELEASING: RefCell<Vec<(String, Promise)>> = const { RefCell::new(Vec::new()) };
}

impl ProfileLock {
    /// Runs `f` if the lock is stolen from now on (at once if it already was).
    pub fn on_lost(&self, f: impl FnOnce() + 'static) {
        if self.shared.lost.get() {
            f();
        } else {
            *self.shared.on_lost.borrow_mut() = Some(Box::new(f));
        }
    }

    /// Whether another tab took the lock over.
    pub fn lost(&self) -> bool {
        self.shared.lost.get()
    }
}

impl Drop for ProfileLock {
    fn drop(&mut self) {
        self.shared.done.set(true);
        self.shared.on_lost.borrow_mut().take();
        let _ = self.release.call0(&JsValue::UNDEFINED);
        RELEASING.with(|r| {
            let mut releasing = r.borrow_mut();
            releasing.retain(|(name, _)| *name != self.name);
            releasing.push((self.name.clone(), self.request.clone()));
        });
    }
}

/// The lock's name for a profile's database: its name shows nothing of the profile's.
fn lock_name(db_name: &str) -> String {
    format!("sotto-profile/{db_name}")
}

fn lock_manager() -> Option<LockManager> {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    let locks = Reflect::get(&navigator, &"locks".into()).ok()?;
    (!locks.is_undefined() && !locks.is_null()).then(|| locks.unchecked_into())
}

/// Takes the profile's lock: `Ok(None)` where the browser has no Web Locks; `PROFILE_IN_USE`
/// when another tab or window holds it (unless `take_over`, which steals it).
pub async fn acquire(db_name: &str, take_over: bool) -> Result<Option<ProfileLock>, JsValue> {
    let Some(locks) = lock_manager() else {
        return Ok(None);
    };
    let name = lock_name(db_name);
    let releasing = RELEASING.with(|r| {
        let mut releasing = r.borrow_mut();
        let at = releasing.iter().position(|(n, _)| *n == name)?;
        Some(releasing.swap_remove(at).1)
    });
    if let Some(releasing) = releasing {
        // Fulfilled or rejected, the lock is ours no more.
        let _ = JsFuture::from(releasing).await;
    }
    let options = Object::new();
    set(&options, "mode", &"exclusive".into());
    set(
        &options,
        if take_over { "steal" } else { "ifAvailable" },
        &true.into(),
    );
    let (held, release) = {
        let mut slot = None;
        let held = Promise::new(&mut |resolve, _| slot = Some(resolve));
        (held, slot.unwrap_or_else(|| Function::new_no_args("")))
    };
    let (granted, grant) = deferred();
    let callback = Closure::once_into_js(move |lock: JsValue| -> JsValue {
        if lock.is_null() || lock.is_undefined() {
            grant.resolve(&false.into());
            JsValue::UNDEFINED
        } else {
            grant.resolve(&true.into());
            held.into()
        }
    });
    let request = locks.request(&name, &options, callback.unchecked_ref());
    let shared = Rc::new(Shared::default());
    let watch = shared.clone();
    let watched = request.clone();
    wasm_bindgen_futures::spawn_local(async move {
        // Fulfilled: released or never granted. Rejected: stolen (`AbortError`).
        if JsFuture::from(watched).await.is_err() && !watch.done.replace(true) {
            watch.lost.set(true);
            let f = watch.on_lost.borrow_mut().take();
            if let Some(f) = f {
                f();
            }
        }
    });
    let granted = JsFuture::from(granted).await?.as_bool() == Some(true);
    if granted {
        Ok(Some(ProfileLock {
            name,
            release,
            request,
            shared,
        }))
    } else {
        Err(in_use())
    }
}

/// `PROFILE_IN_USE`, for a profile another tab or window holds.
pub fn in_use() -> JsValue {
    sotto_error(
        ErrorCode::ProfileInUse,
        "this profile is open in another tab or window",
    )
}
