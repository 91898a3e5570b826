//! Opening a profile: the relay directory (fetched while the profile is opened), the history
//! (and what a saved profile restores), then a gateway: the restored client's own, or the
//! first relay that answers, in a random order, for a new one.
//!
//! Every directory is verified against the authority keys given (`directoryKeys`,
//! `directoryThreshold`) in network time; one that is refused fails the open with
//! `DIRECTORY_INVALID` (never a silent fallback).
//!
//! A saved profile does not need the network to open: when the directory cannot be read (or
//! its gateway does not answer) it opens offline, with the gateway's URL from the directory it
//! kept ([`verify_kept`]: verified again with the same keys) if any, and the driver keeps
//! trying to connect. A new profile needs the network (`RELAY_UNREACHABLE`).

use std::rc::Rc;

use js_sys::{Function, Promise};
use rand_core::UnwrapErr;
use sotto_proto::client::{Client, ClientConfig};
use sotto_proto::directory::{DirectoryTrust, RelayDescriptor};
use sotto_proto::mnemonic::Mnemonic;
use sotto_proto::service::ServiceConfig;
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use super::directory::{bounded, newest, read_directory, store_directory, verify_kept};
use super::link::random_below;
use super::lock::{ProfileLock, acquire, in_use};
use super::machine::{Driver, Parts};
use super::transport::{open_socket, start_socket};
use crate::error::{ErrorCode, client_error, code_of, sotto_error};
use crate::history::History;
use crate::history::Rng;
use crate::history::Seed;
use crate::history::idb::{IdbHistory, Restored};
use crate::history::memory::MemoryHistory;
use crate::js::{Scope, get, hex, mark, now, scope};
use crate::storage::{Store, db_name};

/// Where a profile's messages are kept.
pub enum Storage {
    /// In this page only.
    Memory,
    /// In IndexedDB, sealed under a key that `passphrase` (if any) protects; only one tab or
    /// window (or worker) at a time writes it (`take_over` takes it from the one that does).
    IndexedDb {
        profile: String,
        passphrase: Option<Zeroizing<String>>,
        take_over: bool,
    },
}

/// How to open a profile (`Sotto.open`'s options, read).
pub struct OpenOptions {
    /// The relay directory (default: `{origin}/directory.json`).
    pub directory_url: Option<String>,
    /// The directory authorities' keys and threshold (`directoryKeys`,
    /// `directoryThreshold`): a directory is used only when they signed it.
    pub directory_trust: DirectoryTrust,
    pub storage: Storage,
    /// A new profile's display name, already checked against the name rule (`None`: not
    /// given; a new profile then fails with `INVALID_ARGUMENT`).
    pub display_name: Option<String>,
    /// A new profile's proof-of-work difficulty for relays whose directory entry does not
    /// publish one (default: the relays' default).
    pub pow_bits: Option<u8>,
    /// Milliseconds after a change before a saved profile puts its relay snapshot
    /// (`snapshotDebounceMs`; default [`super::DEFAULT_DEBOUNCE_MS`]).
    pub snapshot_debounce_ms: u32,
    /// A profile restored from its recovery phrase and backup (`Sotto.restore`), already
    /// checked: written into the new store (deleting a saved one of that name first), or
    /// kept in memory, then opened as a saved profile.
    pub seed: Option<Seed>,
}

/// Milliseconds a new profile's open spends trying relays for its gateway: no further relay
/// is tried after this (one already connecting still gets its `CONNECT_WAIT_MS`), and the
/// open rejects `RELAY_UNREACHABLE`.
pub const NEW_PROFILE_CONNECT_MS: f64 = 30_000.0;

/// Starts fetching the directory. A failed fetch resolves to nothing (and fails when it is
/// read, if the open gets that far) rather than going unhandled.
fn start_fetch(w: &Scope, url: &str) -> Promise {
    let directory = w.fetch(url);
    get(&directory, "catch")
        .dyn_into::<Function>()
        .and_then(|catch| {
            catch.call1(
                &directory,
                &Closure::once_into_js(|_: JsValue| JsValue::UNDEFINED),
            )
        })
        .ok()
        .and_then(|p| p.dyn_into::<Promise>().ok())
        .unwrap_or(directory)
}

/// Opens a profile and connects it (see the module's docs); a saved one then keeps its relay
/// snapshot up to date (`snapshot.rs`), under the root of the phrase it keeps.
pub async fn open(options: OpenOptions) -> Result<Driver, JsValue> {
    let debounce = options.snapshot_debounce_ms;
    let (driver, mnemonic) = open_profile(options).await?;
    mark("open:driver");
    let mnemonic = match mnemonic {
        Some(mnemonic) => mnemonic,
        None => snapshot_mnemonic(driver.store()).await,
    };
    if let Some(mnemonic) = mnemonic {
        driver.start_snapshots(mnemonic, debounce);
    }
    mark("open:snapshots");
    Ok(driver)
}

/// The recovery phrase `store` keeps, for the relay snapshot (whose uploader derives its root
/// at the first upload); `None` for a store without a readable phrase (none was ever written
/// so: it just has no snapshot) and for a profile kept in memory.
async fn snapshot_mnemonic(store: Option<Rc<Store>>) -> Option<Mnemonic> {
    Mnemonic::parse(&store?.phrase().await.ok()?).ok()
}

/// What [`open_profile`] hands [`open`]: the driver, and the snapshot's phrase when it was
/// read with the state (`Some`), else `None` (read it then).
type Opened = (Driver, Option<Option<Mnemonic>>);

async fn open_profile(options: OpenOptions) -> Result<Opened, JsValue> {
    mark("open:start");
    let w = scope()?;
    let origin = w.origin();
    let directory_url = options
        .directory_url
        .unwrap_or_else(|| format!("{origin}/directory.json"));
    let directory = bounded(start_fetch(&w, &directory_url));
    let trust = options.directory_trust;
    // A restore reads and verifies the directory before it writes anything: a refused or
    // unreachable directory leaves the profile (and any it would replace) as it was.
    let mut read_first = None;
    let mut seed = options.seed;
    if let Some(seed) = seed.as_mut() {
        let offset = seed.client.clock_offset();
        let read = read_directory(directory.clone(), &trust, offset).await?;
        // The restored client keeps its gateway (its queues' replies lead there), so it must
        // be in this directory, and the directory must suit the client, before anything is
        // written.
        let gateway = seed.client.gateway();
        if !read.relays.iter().any(|r| r.id == gateway) {
            return Err(sotto_error(
                ErrorCode::RelayUnreachable,
                "the restored profile's gateway relay is not in the directory",
            ));
        }
        let mut rng: Rng = UnwrapErr(getrandom::SysRng);
        seed.client
            .update_directory(&mut rng, &read.relays, now())
            .map_err(|e| client_error(&e))?;
        read_first = Some(read);
    }
    let mut lock = None;
    let mut mnemonic = None;
    let (history, restored): (Box<dyn History>, Option<Restored>) = match (options.storage, seed) {
        (Storage::Memory, None) => (Box::new(MemoryHistory::default()), None),
        (Storage::Memory, Some(seed)) => {
            let (history, restored) = MemoryHistory::seeded(seed);
            (Box::new(history), Some(restored))
        }
        (
            Storage::IndexedDb {
                profile,
                passphrase,
                take_over,
            },
            seed,
        ) => {
            // One writer per profile: the lock comes before anything is read.
            lock = acquire(&db_name(&profile), take_over).await?;
            mark("open:lock");
            let passphrase = passphrase.as_ref().map(|p| p.as_str());
            let (history, restored) = match seed {
                Some(seed) => IdbHistory::open_seeded(&profile, passphrase, seed).await?,
                None => IdbHistory::open(&profile, passphrase).await?,
            };
            mark("open:history");
            (Box::new(history), restored)
        }
    };
    let mut rng: Rng = UnwrapErr(getrandom::SysRng);
    let Some(restored) = restored else {
        let Some(display_name) = options.display_name else {
            return Err(sotto_error(
                ErrorCode::InvalidArgument,
                "a new profile needs a displayName",
            ));
        };
        let new = NewProfile {
            rng,
            origin,
            directory_url,
            trust,
            history,
            lock,
            display_name,
            pow_bits: options.pow_bits,
        };
        return Ok((open_new(&w, new, directory).await?, None));
    };
    // A restored client keeps its gateway (its queues' replies lead there).
    let Restored {
        mut client,
        local,
        resume,
        kept_directory,
        phrase,
    } = restored;
    let unsent = unsent_messages(&client, history.store()).await;
    mark("open:unsent");
    let gateway = client.gateway();
    let url_in = |relays: &[RelayDescriptor]| {
        relays
            .iter()
            .find(|r| r.id == gateway)
            .map(|r| r.url.clone())
    };
    // Network time: a saved profile knows its offset to the relays' clocks.
    let offset = client.clock_offset();
    let read = match read_first {
        Some(read) => Ok(read),
        None => read_directory(directory, &trust, offset).await,
    };
    mark("open:directory");
    if let Err(e) = &read
        && code_of(e) == ErrorCode::DirectoryInvalid.as_str()
    {
        return Err(e.clone());
    }
    // Never back to a directory older than the one the profile took last (`newest`). The one
    // kept is verified again only when it differs from the one just verified, and kept again
    // only when what is taken differs from it (issue 18: the same directory, as on most
    // opens, costs neither its signature checks nor a write).
    let mut kept_already = false;
    let mut kept_directory = kept_directory;
    let read = match read {
        Ok(read) => {
            let kept = kept_directory.take();
            if kept.as_deref() == Some(read.text.as_str()) {
                kept_already = true;
                Ok(read)
            } else {
                let newest = newest(read, kept.clone().and_then(|t| verify_kept(t, &trust)));
                kept_already = kept.as_deref() == Some(newest.text.as_str());
                Ok(newest)
            }
        }
        read => read,
    };
    let (relays, gateway_url, ws, directory_stale, directory_valid_after) = match read {
        Ok(read) => {
            let url = url_in(&read.relays).ok_or_else(|| {
                sotto_error(
                    ErrorCode::RelayUnreachable,
                    "this profile's gateway relay is not in the directory",
                )
            })?;
            // The relays may have rotated their keys since: route with today's (and pay for
            // queues and blobs at each relay's key epoch and published difficulty).
            client
                .update_directory(&mut rng, &read.relays, now())
                .map_err(|e| client_error(&e))?;
            // The gateway connects while the directory is kept.
            mark("open:directory-updated");
            let socket = start_socket(&url);
            if let Some(store) = history.store() {
                // Only the copy kept for opening offline is lost if this fails.
                if !kept_already {
                    let _ = store_directory(&store, &read.text).await;
                }
                // The phrase was read with the state.
                mnemonic = Some(phrase.as_deref().and_then(|p| Mnemonic::parse(p).ok()));
            }
            // A gateway that does not answer: open offline, and keep trying.
            let ws = socket.await.ok();
            mark("open:socket");
            (read.relays, Some(url), ws, false, read.valid_after)
        }
        // No network: open from what the profile kept (the client already holds the relays'
        // keys it last read; the kept directory, verified again, gives the gateway's URL).
        Err(_) => {
            let kept = kept_directory.and_then(|text| verify_kept(text, &trust));
            let valid_after = kept.as_ref().map_or(0, |k| k.valid_after);
            let relays = kept.map(|k| k.relays).unwrap_or_default();
            let url = url_in(&relays);
            (relays, url, None, true, valid_after)
        }
    };
    if lock.as_ref().is_some_and(ProfileLock::lost) {
        return Err(in_use());
    }
    let parts = Parts {
        client,
        rng,
        gateway_url,
        origin,
        directory_url,
        directory_trust: trust,
        relays,
        directory_stale,
        directory_valid_after,
        history,
        lock,
    };
    let driver = Driver::start(&w, parts, ws)?;
    driver.resume(local, resume, unsent);
    Ok((driver, mnemonic))
}

/// The restored client's unsent envelopes that are messages of the history (not hellos, names
/// or settings): a `status` event tells when a relay stores each, though no `send` promise
/// survived the reload.
async fn unsent_messages(client: &Client, store: Option<Rc<Store>>) -> Vec<[u8; 16]> {
    let Some(store) = store else {
        return Vec::new();
    };
    let mut ids = Vec::new();
    for (_, id) in client.unsent_ids() {
        let kept = store.message(&hex(id.as_bytes())).await.ok().flatten();
        if kept.is_some_and(|m| m.outgoing) {
            ids.push(*id.as_bytes());
        }
    }
    ids
}

/// What a new profile is made with.
struct NewProfile {
    rng: Rng,
    origin: String,
    directory_url: String,
    trust: DirectoryTrust,
    history: Box<dyn History>,
    lock: Option<ProfileLock>,
    display_name: String,
    pow_bits: Option<u8>,
}

/// Makes a new profile: it needs the directory (`directory`, a fetch under way) and a relay
/// that answers, tried in a random order: the first is its gateway.
async fn open_new(w: &Scope, mut new: NewProfile, directory: Promise) -> Result<Driver, JsValue> {
    // A new profile has no clock offset yet: the device's clock.
    let read = read_directory(directory, &new.trust, 0).await?;
    let relays = read.relays;
    let mut order: Vec<usize> = (0..relays.len()).collect();
    for i in (1..order.len()).rev() {
        let j = random_below(&mut new.rng, i + 1);
        order.swap(i, j);
    }
    // Relays are tried one after another, each for at most `CONNECT_WAIT_MS`, and none is
    // started once `NEW_PROFILE_CONNECT_MS` have passed: the open settles in bounded time
    // however many relays the directory lists and however they fail.
    let started = js_sys::Date::now();
    let mut connected = None;
    for i in order {
        if js_sys::Date::now() - started >= NEW_PROFILE_CONNECT_MS {
            break;
        }
        if let Some(r) = relays.get(i)
            && let Ok(ws) = open_socket(&r.url).await
        {
            connected = Some((r.id, r.url.clone(), ws));
            break;
        }
    }
    let Some((gateway, gateway_url, ws)) = connected else {
        return Err(sotto_error(
            ErrorCode::RelayUnreachable,
            "no relay of the directory could be reached",
        ));
    };
    let config = ClientConfig {
        pow_bits: new.pow_bits.unwrap_or(ServiceConfig::default().pow_bits),
        ..ClientConfig::default()
    };
    let hops = relays.iter().map(|r| r.hop()).collect();
    let mut client = Client::new(&mut new.rng, hops, gateway, &new.display_name, config)
        .map_err(|e| client_error(&e))?;
    client
        .update_directory(&mut new.rng, &relays, now())
        .map_err(|e| client_error(&e))?;
    new.history.start_profile(&client, &mut new.rng).await?;
    if let Some(store) = new.history.store() {
        // Only the copy kept for opening offline is lost if this fails.
        let _ = store_directory(&store, &read.text).await;
    }
    if new.lock.as_ref().is_some_and(ProfileLock::lost) {
        return Err(in_use());
    }
    let parts = Parts {
        client,
        rng: new.rng,
        gateway_url: Some(gateway_url),
        origin: new.origin,
        directory_url: new.directory_url,
        directory_trust: new.trust,
        relays,
        directory_stale: false,
        directory_valid_after: read.valid_after,
        history: new.history,
        lock: new.lock,
    };
    Driver::start(w, parts, Some(ws))
}
