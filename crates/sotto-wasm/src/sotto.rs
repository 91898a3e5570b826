//! `Sotto`: the messaging API for JavaScript. Only argument conversion and promise plumbing
//! over the inner [`Driver`] (`driver/`); pkg/README.md documents it.
//!
//! Nothing secret crosses into JS: contacts are numbers (as decimal strings), messages are
//! their text and public metadata, invitations are the public link.

use std::rc::Rc;

use js_sys::{Array, Function, Promise};
use sotto_proto::client::ContactId;
use sotto_proto::directory::DirectoryTrust;
use sotto_proto::invitation::Invitation;
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};
use zeroize::Zeroizing;

use crate::driver::{self, Driver, OpenOptions, OutgoingFile, Storage, message_js};
use crate::error::{ErrorCode, sotto_error};
use crate::js::{Backstop, Resolver, brand, deferred, get, get_string, settle_within, settled};

/// A Sotto messenger for one profile in this page.
#[wasm_bindgen]
pub struct Sotto {
    pub(crate) driver: Driver,
}

fn parse_contact(id: &str) -> Result<ContactId, JsValue> {
    id.trim()
        .parse::<ContactId>()
        .map_err(|_| sotto_error(ErrorCode::UnknownContact, "unknown contact"))
}

/// A contact id from JS: its decimal string, or a number.
fn contact_arg(v: &JsValue) -> Result<ContactId, JsValue> {
    v.as_string()
        .or_else(|| v.as_f64().map(|n| (n as u64).to_string()))
        .ok_or_else(|| sotto_error(ErrorCode::UnknownContact, "unknown contact"))
        .and_then(|s| parse_contact(&s))
}

/// `Sotto.open`'s `displayName`, checked against the name rule (`sotto_proto::names`) before
/// anything is opened: `INVALID_ARGUMENT` when it breaks it, `None` when it is not given.
fn display_name_option(options: &JsValue) -> Result<Option<String>, JsValue> {
    let value = get(options, "displayName");
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    let name = value
        .as_string()
        .ok_or_else(|| sotto_error(ErrorCode::InvalidArgument, "displayName is a string"))?;
    sotto_proto::names::validate(&name)
        .map(|n| Some(n.to_owned()))
        .map_err(|e| sotto_error(ErrorCode::InvalidArgument, &e.to_string()))
}

/// `Sotto.open`'s `directoryKeys` (base64url Ed25519 keys, required) and
/// `directoryThreshold` (default: all of them): `INVALID_ARGUMENT` when missing or unusable.
fn directory_trust(options: &JsValue) -> Result<DirectoryTrust, JsValue> {
    let bad = |what: &str| sotto_error(ErrorCode::InvalidArgument, what);
    let keys = get(options, "directoryKeys");
    if !Array::is_array(&keys) {
        return Err(bad(
            "directoryKeys is required: the directory authorities' keys (base64url strings)",
        ));
    }
    let keys: Vec<String> = Array::from(&keys)
        .iter()
        .map(|k| {
            k.as_string()
                .ok_or_else(|| bad("directoryKeys holds strings"))
        })
        .collect::<Result<_, _>>()?;
    let threshold = get(options, "directoryThreshold");
    let threshold = if threshold.is_undefined() || threshold.is_null() {
        None
    } else {
        let n = threshold
            .as_f64()
            .filter(|n| n.fract() == 0.0 && *n >= 1.0 && *n <= 64.0)
            .ok_or_else(|| bad("directoryThreshold is a whole number from 1"))?;
        Some(n as usize)
    };
    DirectoryTrust::from_base64(&keys, threshold).map_err(|e| bad(&e.to_string()))
}

/// `Sotto.open`'s options, read: `{directoryUrl, directoryKeys, directoryThreshold, storage,
/// profile, passphrase, takeOver, displayName, powBits}`.
pub(crate) fn open_options(options: &JsValue) -> Result<OpenOptions, JsValue> {
    let storage = match get_string(options, "storage")
        .as_deref()
        .unwrap_or("memory")
    {
        "memory" => Storage::Memory,
        "indexeddb" => Storage::IndexedDb {
            profile: get_string(options, "profile").unwrap_or_else(|| "default".into()),
            passphrase: get_string(options, "passphrase")
                .map(Zeroizing::new)
                .filter(|p| !p.is_empty()),
            take_over: get(options, "takeOver").as_bool().unwrap_or(false),
        },
        other => {
            return Err(sotto_error(
                ErrorCode::Unsupported,
                &format!("storage '{other}' is not supported; use 'indexeddb' or 'memory'"),
            ));
        }
    };
    Ok(OpenOptions {
        directory_url: get_string(options, "directoryUrl"),
        directory_trust: directory_trust(options)?,
        storage,
        display_name: display_name_option(options)?,
        pow_bits: get(options, "powBits")
            .as_f64()
            .map(|b| b.clamp(0.0, 32.0) as u8),
        snapshot_debounce_ms: get(options, "snapshotDebounceMs")
            .as_f64()
            .map_or(driver::DEFAULT_DEBOUNCE_MS, |ms| {
                ms.clamp(0.0, 86_400_000.0) as u32
            }),
        seed: None,
    })
}

/// Milliseconds after which `Sotto.open` rejects `TIMEOUT` whatever happens inside Sotto: its
/// stated bound (60 s, pkg/README.md "Every promise settles") and 10 s more, so that the
/// driver's own deadlines always come first while it runs. An open that finishes after it
/// closes what it made.
pub const OPEN_BACKSTOP_MS: i32 = 70_000;

/// The same for `createInvitation`, `acceptInvitation`, `send`, `retry` and `sendFile`: their
/// 30 s bound and 10 s more. A file's upload (`sendFile`, or `retry` of a failed upload) counts
/// it from its last progress, as its 30 s bound does ([`Resolver::extend`]).
pub const CALL_BACKSTOP_MS: i32 = 40_000;

/// A backstop of [`CALL_BACKSTOP_MS`], rejecting `TIMEOUT`.
fn call_backstop() -> Rc<Backstop> {
    let late = sotto_error(
        ErrorCode::Timeout,
        "no answer within the bound: Sotto stopped (see the page's errors)",
    );
    Rc::new(Backstop::new(CALL_BACKSTOP_MS, late))
}

/// A call that waits for the driver: `start` hands it the resolver of the call's promise
/// (with the backstop, so that an upload's progress pushes it back); the promise, raced
/// against the backstop, or `start`'s error at once.
fn call(start: impl FnOnce(Resolver) -> Result<(), JsValue>) -> Promise {
    let (promise, resolver) = deferred();
    let backstop = call_backstop();
    let started = start(resolver.with_backstop(backstop.clone()));
    race_started(started, &promise, &backstop)
}

/// [`call`]'s end: one function, not a copy in each caller's instance of [`call`].
fn race_started(started: Result<(), JsValue>, promise: &Promise, backstop: &Backstop) -> Promise {
    match started {
        Ok(()) => backstop.race(promise),
        Err(e) => {
            backstop.clear();
            Promise::reject(&e)
        }
    }
}

#[wasm_bindgen]
impl Sotto {
    /// Opens a messenger: fetches the relay directory, connects to a gateway picked at random.
    /// Options: `{directoryUrl, directoryKeys, directoryThreshold, storage: 'memory' |
    /// 'indexeddb', profile, passphrase,
    /// takeOver, displayName, powBits, snapshotDebounceMs}` (`snapshotDebounceMs`: how long
    /// after a change a saved profile puts its relay snapshot, default 10000; for tests). A
    /// new profile needs a `displayName` that passes the
    /// name rule (`INVALID_ARGUMENT` otherwise, before anything is made); a saved one keeps its
    /// own. A saved profile open in another tab or window gives `PROFILE_IN_USE` and loads
    /// nothing, unless `takeOver: true` (which closes it there).
    ///
    /// It settles within 70 s whatever happens inside (`TIMEOUT` past it: `OPEN_BACKSTOP_MS`).
    #[wasm_bindgen(unchecked_return_type = "Promise<Sotto>")]
    pub fn open(#[wasm_bindgen(unchecked_param_type = "OpenOptions")] options: JsValue) -> Promise {
        let late = sotto_error(ErrorCode::Timeout, "the profile did not open within 70 s");
        let started = js_sys::Date::now();
        let opening = future_to_promise(async move {
            let me = Sotto::open_async(options).await?;
            if js_sys::Date::now() - started >= f64::from(OPEN_BACKSTOP_MS) {
                // The caller was told TIMEOUT already: nothing may stay open behind it.
                let _ = me.close();
                return Err(sotto_error(
                    ErrorCode::Timeout,
                    "the profile opened too late",
                ));
            }
            Ok(me.into())
        });
        settle_within(&opening, OPEN_BACKSTOP_MS, &late)
    }

    pub(crate) fn check_open(&self) -> Result<(), JsValue> {
        self.driver.check_open()
    }

    /// Whether this profile reaches the network: `'online'` (connected to its gateway relay),
    /// `'connecting'` (the connection was lost and is being made again) or `'offline'` (the
    /// last attempt to reach the directory or the gateway failed; Sotto keeps trying with
    /// back-off, and at once on the browser's `online` event). A saved profile may open
    /// `'offline'`; a `connection` event (`{state}`) tells each change.
    #[wasm_bindgen(getter, unchecked_return_type = "ConnectionState")]
    pub fn connection(&self) -> String {
        self.driver.connection().name().to_owned()
    }

    /// Whether this profile was restored on another device, which took its conversations
    /// over: this copy no longer sends or receives, and every send rejects `PROFILE_MOVED`.
    /// A `moved` event (`{message}`) tells when it happens; a profile opened after it stays
    /// moved (read this after `open`).
    #[wasm_bindgen(getter)]
    pub fn moved(&self) -> bool {
        self.driver.moved()
    }

    /// A one-time invitation link (`{origin}/#/invite/…`), once a relay made its queue.
    #[wasm_bindgen(js_name = createInvitation, unchecked_return_type = "Promise<string>")]
    pub fn create_invitation(&self) -> Promise {
        call(|resolver| {
            self.check_open()
                .and_then(|()| self.driver.create_invitation(resolver))
        })
    }

    /// An SVG QR code of an invitation link.
    #[wasm_bindgen(js_name = invitationQr, unchecked_return_type = "Promise<string>")]
    pub fn invitation_qr(&self, link: &str) -> Promise {
        let origin = self.driver.origin();
        match Invitation::parse_link(link, self.driver.network_now())
            .and_then(|i| i.to_qr_svg(&origin))
        {
            Ok(svg) => Promise::resolve(&JsValue::from(svg)),
            Err(e) => Promise::reject(&sotto_error(ErrorCode::InvalidInvitation, &e.to_string())),
        }
    }

    /// Accepts someone's invitation link; resolves with the new contact `{id, displayName}`
    /// once the inviter's queue is secured for us (the name arrives later, as a `contact`
    /// event). A link already used rejects `INVALID_INVITATION` and adds no contact.
    #[wasm_bindgen(js_name = acceptInvitation, unchecked_return_type = "Promise<Contact>")]
    pub fn accept_invitation(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] link: JsValue,
    ) -> Promise {
        call(|resolver| {
            self.check_open()?;
            let link = link.as_string().ok_or_else(|| {
                sotto_error(
                    ErrorCode::InvalidInvitation,
                    "an invitation link is a string",
                )
            })?;
            let invitation = Invitation::parse_link(&link, self.driver.network_now())
                .map_err(|e| sotto_error(ErrorCode::InvalidInvitation, &e.to_string()))?;
            self.driver.accept_invitation(invitation, resolver)
        })
    }

    /// Sends a text; resolves with `{id, contactId, sentAt}` once a relay stored it. A refusal
    /// rejects `RELAY_REFUSED` and no answer within 30 s `TIMEOUT` (the error's `messageId`
    /// names the message): either way the message stays queued, is sent again with back-off,
    /// and a `status` event tells when it is stored; `retry(messageId)` sends it at once.
    #[wasm_bindgen(unchecked_return_type = "Promise<SentMessage>")]
    pub fn send(
        &self,
        #[wasm_bindgen(js_name = contactId, unchecked_param_type = "string")] contact_id: JsValue,
        text: &str,
    ) -> Promise {
        call(|resolver| {
            self.open_contact(&contact_id)
                .and_then(|contact| self.driver.send_text(contact, text, resolver))
        })
    }

    /// Sends again, now, a message not yet stored (after a refusal or a `TIMEOUT`): the same
    /// message, same id, same record. Resolves with `{id, contactId, sentAt}` once a relay
    /// stored it, or rejects like `send`. `INVALID_ARGUMENT` when no unsent message has that
    /// id (e.g. it was stored meanwhile).
    #[wasm_bindgen(unchecked_return_type = "Promise<SentMessage>")]
    pub fn retry(&self, #[wasm_bindgen(js_name = messageId)] message_id: &str) -> Promise {
        call(|resolver| {
            self.check_open()
                .and_then(|()| self.driver.retry(message_id, resolver))
        })
    }

    /// Sends a file (a `File` or `Blob`): encrypted, uploaded in chunks through the onion
    /// (`progress` events with `direction: 'upload'`), then announced to the contact. Resolves
    /// with `{id, contactId, sentAt}` once a relay stored the message. Options: `{voice}` marks
    /// a voice note; `{name}` names a `Blob`. Pictures get a small preview in the message.
    #[wasm_bindgen(js_name = sendFile, unchecked_return_type = "Promise<SentMessage>")]
    pub fn send_file(
        &self,
        #[wasm_bindgen(js_name = contactId, unchecked_param_type = "string")] contact_id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Blob")] file: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "SendFileOptions")] options: JsValue,
    ) -> Promise {
        let contact = match self.open_contact(&contact_id) {
            Ok(c) => c,
            Err(e) => return Promise::reject(&e),
        };
        // By brand, not `instanceof`: the file may come from another realm (js.rs).
        if !matches!(brand(&file).as_str(), "[object Blob]" | "[object File]") {
            return Promise::reject(&sotto_error(
                ErrorCode::Unsupported,
                "sendFile takes a File or a Blob",
            ));
        }
        let file = file.unchecked_into::<web_sys::Blob>();
        // Refused before a byte is read (a large video would otherwise be copied whole).
        if file.size() > sotto_proto::attachment::MAX_ATTACHMENT_BYTES as f64 {
            return Promise::reject(&sotto_error(
                ErrorCode::MessageTooLarge,
                "attachment too large",
            ));
        }
        let driver = self.driver.clone();
        let backstop = call_backstop();
        let extended = backstop.clone();
        let sending = future_to_promise(async move {
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
            let outgoing = OutgoingFile {
                data,
                mime,
                name,
                voice,
                thumbnail,
            };
            if extended.fired() {
                // The caller was told TIMEOUT already (reading took longer than the backstop):
                // nothing is sent behind that answer.
                return Err(extended.error());
            }
            let (promise, resolver) = deferred();
            // The driver's 30 s start now: its backstop's 40 s with them.
            extended.extend();
            driver.send_file(contact, outgoing, resolver.with_backstop(extended))?;
            JsFuture::from(promise).await
        });
        backstop.race(&sending)
    }

    /// The file of a message as a `Blob` of its type, or `null` while it is still on its way
    /// (an `attachment` event tells when it arrived).
    #[wasm_bindgen(unchecked_return_type = "Promise<Blob | null>")]
    pub fn attachment(&self, #[wasm_bindgen(js_name = messageId)] message_id: &str) -> Promise {
        if let Err(e) = self.check_open() {
            return Promise::reject(&e);
        }
        let file = self.driver.attachment(message_id);
        future_to_promise(async move {
            match file.await? {
                Some((mime, data)) => Ok(crate::files::to_blob(&data, &mime)?.into()),
                None => Ok(JsValue::NULL),
            }
        })
    }

    /// Makes messages with a contact disappear `seconds` after they are sent or received
    /// (0 keeps them), on both sides: the contact is told, and a `contact` event follows.
    #[wasm_bindgen(js_name = setDisappearing, unchecked_return_type = "Promise<void>")]
    pub fn set_disappearing(
        &self,
        #[wasm_bindgen(js_name = contactId, unchecked_param_type = "string")] contact_id: JsValue,
        seconds: f64,
    ) -> Promise {
        let set = self.open_contact(&contact_id).and_then(|contact| {
            let seconds = seconds.clamp(0.0, f64::from(u32::MAX)) as u32;
            self.driver.set_disappearing(contact, seconds)
        });
        settled(set.map(|()| JsValue::UNDEFINED))
    }

    /// The security code of the conversation with a contact, `{digits, qr, svg}`: 60 digits
    /// in groups of five to read aloud, the text of a QR code for the contact to scan, and
    /// that QR code as an SVG document. Both
    /// sides see the same code exactly when nobody was in the middle when the invitation was
    /// passed on (see docs/PROTOCOL.md, "Security codes").
    #[wasm_bindgen(js_name = securityCode, unchecked_return_type = "Promise<SecurityCode>")]
    pub fn security_code(
        &self,
        #[wasm_bindgen(js_name = contactId, unchecked_param_type = "string")] contact_id: JsValue,
    ) -> Promise {
        let code = self
            .open_contact(&contact_id)
            .and_then(|contact| self.driver.security_code(contact));
        settled(code.map(|(digits, qr, svg)| {
            crate::js::obj(&[
                ("digits", digits.into()),
                ("qr", qr.into()),
                ("svg", svg.into()),
            ])
        }))
    }

    /// Marks a contact verified when `code` (the contact's QR text as scanned, or its digits
    /// as typed) is the conversation's security code; a `contact` event follows and
    /// `contacts()` says `verified: true`, across restarts. Rejects `CODE_MISMATCH` (and
    /// changes nothing) when it is not.
    #[wasm_bindgen(js_name = verifyContact, unchecked_return_type = "Promise<void>")]
    pub fn verify_contact(
        &self,
        #[wasm_bindgen(js_name = contactId, unchecked_param_type = "string")] contact_id: JsValue,
        code: &str,
    ) -> Promise {
        let set = self
            .open_contact(&contact_id)
            .and_then(|contact| self.driver.set_verified(contact, Some(code)));
        settled(set.map(|()| JsValue::UNDEFINED))
    }

    /// Takes the verified mark off a contact (a `contact` event follows).
    #[wasm_bindgen(js_name = unverifyContact, unchecked_return_type = "Promise<void>")]
    pub fn unverify_contact(
        &self,
        #[wasm_bindgen(js_name = contactId, unchecked_param_type = "string")] contact_id: JsValue,
    ) -> Promise {
        let set = self
            .open_contact(&contact_id)
            .and_then(|contact| self.driver.set_verified(contact, None));
        settled(set.map(|()| JsValue::UNDEFINED))
    }

    /// `[{id, displayName, disappearingSeconds, verified, sync}]`, in the order they were added.
    #[wasm_bindgen(unchecked_return_type = "Promise<Contact[]>")]
    pub fn contacts(&self) -> Promise {
        settled(self.check_open().map(|()| self.driver.contacts().into()))
    }

    /// The newest `limit` (default 50) messages with a contact, sent and received, oldest
    /// first: `[{id, contactId, text, sentAt, receivedAt?, outgoing, status, expiresAt?,
    /// attachment?}]`. `before` (a message id) pages back: the page ends just before it.
    #[wasm_bindgen(unchecked_return_type = "Promise<Message[]>")]
    pub fn messages(
        &self,
        #[wasm_bindgen(js_name = contactId, unchecked_param_type = "string")] contact_id: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "MessagesOptions")] options: JsValue,
    ) -> Promise {
        let page = self.open_contact(&contact_id).and_then(|contact| {
            let limit = get(&options, "limit")
                .as_f64()
                .map_or(50, |l| l.max(0.0) as usize);
            let before = get_string(&options, "before");
            self.driver.messages(contact, limit, before)
        });
        match page {
            Ok(page) => future_to_promise(async move {
                let list: Array = page.await?.iter().map(message_js).collect();
                Ok(list.into())
            }),
            Err(e) => Promise::reject(&e),
        }
    }

    /// Closes this messenger and deletes the profile's database: every trace of it.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn wipe(&self) -> Promise {
        let store = self.driver.shut();
        future_to_promise(async move {
            if let Some(store) = store {
                crate::storage::wipe(store).await?;
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Same as `EventTarget.addEventListener`: `message`, `contact`, `status` (`{id,
    /// contactId, status}`), `progress` (`{id, contactId, direction, done, total}`),
    /// `attachment` (`{id, contactId, ready}`), `expired` (`{contactId, ids}`), `error`.
    /// (Typed in `types.rs`, one detail per event type.)
    #[wasm_bindgen(js_name = addEventListener, skip_typescript)]
    pub fn add_event_listener(
        &self,
        ty: &str,
        listener: &JsValue,
        options: &JsValue,
    ) -> Result<(), JsValue> {
        self.call_target("addEventListener", ty, listener, options)
    }

    /// Same as `EventTarget.removeEventListener`.
    #[wasm_bindgen(js_name = removeEventListener, skip_typescript)]
    pub fn remove_event_listener(
        &self,
        ty: &str,
        listener: &JsValue,
        options: &JsValue,
    ) -> Result<(), JsValue> {
        self.call_target("removeEventListener", ty, listener, options)
    }

    /// Stops the timer and the connection; pending calls fail with `CLOSED`; the store key
    /// is zeroized.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn close(&self) -> Promise {
        if let Some(store) = self.driver.shut() {
            // The key is zeroized when the last holder (this, or a write in flight) drops it.
            store.close();
        }
        Promise::resolve(&JsValue::UNDEFINED)
    }
}

impl Sotto {
    /// What `Sotto.open` runs, without its backstop: for Rust callers (the crate's tests).
    ///
    /// # Errors
    /// The `SottoError`s of `Sotto.open` (pkg/README.md).
    pub async fn open_async(options: JsValue) -> Result<Sotto, JsValue> {
        let driver = driver::open(open_options(&options)?).await?;
        Ok(Sotto { driver })
    }

    /// The contact `contact_id` names, once the profile is checked open (`CLOSED`, else
    /// `UNKNOWN_CONTACT` for an id that names none).
    fn open_contact(&self, contact_id: &JsValue) -> Result<ContactId, JsValue> {
        self.check_open()?;
        contact_arg(contact_id)
    }

    /// Calls the event target's `method` (`addEventListener` or `removeEventListener`).
    fn call_target(
        &self,
        method: &str,
        ty: &str,
        listener: &JsValue,
        options: &JsValue,
    ) -> Result<(), JsValue> {
        let target = self.driver.target();
        let f: Function = get(target, method).dyn_into()?;
        f.call3(target, &ty.into(), listener, options)?;
        Ok(())
    }
}
