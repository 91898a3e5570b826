//! Opening a profile: the relay directory (fetched while the profile is opened), the history
//! (and what a saved profile restores), then a gateway: the restored client's own, or the
//! first relay that answers, in a random order, for a new one.

use js_sys::{Function, Promise};
use rand_core::UnwrapErr;
use sotto_proto::client::{Client, ClientConfig};
use sotto_proto::directory::DirectoryTrust;
use sotto_proto::service::ServiceConfig;
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use super::directory::{Verified, read_directory, store_directory, stored_directory};
use super::link::random_below;
use super::lock::{ProfileLock, acquire, in_use};
use super::machine::{Driver, Parts};
use super::transport::open_socket;
use crate::error::{ErrorCode, client_error, code_of, sotto_error};
use crate::history::History;
use crate::history::Rng;
use crate::history::idb::{IdbHistory, Restored};
use crate::history::memory::MemoryHistory;
use crate::js::now;
use crate::js::{get, window};
use crate::storage::db_name;

/// Where a profile's messages are kept.
pub enum Storage {
    /// In this page only.
    Memory,
    /// In IndexedDB, sealed under a key that `passphrase` (if any) protects; only one tab or
    /// window at a time writes it (`take_over` takes it from the one that does).
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
}

/// Starts fetching the directory. A failed fetch resolves to nothing (and fails when it is
/// read, if the open gets that far) rather than going unhandled.
fn start_fetch(w: &web_sys::Window, url: &str) -> Promise {
    let directory = w.fetch_with_str(url);
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

/// Opens a profile and connects it (see the module's docs).
pub async fn open(options: OpenOptions) -> Result<Driver, JsValue> {
    let w = window()?;
    let origin = w.location().origin().unwrap_or_default();
    let directory_url = options
        .directory_url
        .unwrap_or_else(|| format!("{origin}/directory.json"));
    let directory = start_fetch(&w, &directory_url);
    let mut lock = None;
    let (history, restored): (Box<dyn History>, Option<Restored>) = match options.storage {
        Storage::Memory => (Box::new(MemoryHistory::default()), None),
        Storage::IndexedDb {
            profile,
            passphrase,
            take_over,
        } => {
            // One writer per profile: the lock comes before anything is read.
            lock = acquire(&db_name(&profile), take_over).await?;
            let (history, restored) =
                IdbHistory::open(&profile, passphrase.as_ref().map(|p| p.as_str())).await?;
            (Box::new(history), restored)
        }
    };
    if restored.is_none() && options.display_name.is_none() {
        return Err(sotto_error(
            ErrorCode::InvalidArgument,
            "a new profile needs a displayName",
        ));
    }
    let trust = options.directory_trust;
    // Network time: a saved profile knows its offset to the relays' clocks.
    let offset = restored.as_ref().map_or(0, |r| r.client.clock_offset());
    let (relays, fresh) = match read_directory(directory, &trust, offset).await {
        Ok(Verified { relays, text }) => (relays, Some(text)),
        Err(e) => match history.store() {
            // Unreachable (not refused): a saved profile falls back on the last directory
            // that verified, kept in its store.
            Some(store) if code_of(&e) != ErrorCode::DirectoryInvalid.as_str() => {
                match stored_directory(&store, &trust).await {
                    Some(dir) => (dir.relays, None),
                    None => return Err(e),
                }
            }
            _ => return Err(e),
        },
    };
    if let (Some(store), Some(text)) = (history.store(), &fresh)
        && restored.is_some()
    {
        store_directory(&store, text).await?;
    }
    let mut rng: Rng = UnwrapErr(getrandom::SysRng);
    // A restored client keeps its gateway (its queues' replies lead there).
    if let Some(Restored {
        mut client,
        local,
        resume,
    }) = restored
    {
        let gateway = client.gateway();
        let url = relays
            .iter()
            .find(|r| r.id == gateway)
            .map(|r| r.url.clone())
            .ok_or_else(|| {
                sotto_error(
                    ErrorCode::RelayUnreachable,
                    "this profile's gateway relay is not in the directory",
                )
            })?;
        // The relays may have rotated their keys since: route with today's (and pay for
        // queues and blobs at each relay's key epoch and published difficulty).
        client
            .update_directory(&mut rng, &relays, now())
            .map_err(|e| client_error(&e))?;
        let ws = open_socket(&url).await?;
        if lock.as_ref().is_some_and(ProfileLock::lost) {
            return Err(in_use());
        }
        let parts = Parts {
            client,
            rng,
            gateway_url: url,
            origin,
            directory_url,
            directory_trust: trust,
            relays,
            history,
            lock,
        };
        let driver = Driver::start(&w, parts, ws)?;
        driver.resume(local, resume);
        return Ok(driver);
    }
    // Try the relays in a random order; the first that answers is our gateway.
    let mut order: Vec<usize> = (0..relays.len()).collect();
    for i in (1..order.len()).rev() {
        let j = random_below(&mut rng, i + 1);
        order.swap(i, j);
    }
    let mut connected = None;
    for i in order {
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
        pow_bits: options
            .pow_bits
            .unwrap_or(ServiceConfig::default().pow_bits),
        ..ClientConfig::default()
    };
    let display_name = options.display_name.unwrap_or_default();
    let hops = relays.iter().map(|r| r.hop()).collect();
    let mut client = Client::new(&mut rng, hops, gateway, &display_name, config)
        .map_err(|e| client_error(&e))?;
    client
        .update_directory(&mut rng, &relays, now())
        .map_err(|e| client_error(&e))?;
    history.start_profile(&client, &mut rng).await?;
    if let (Some(store), Some(text)) = (history.store(), &fresh) {
        store_directory(&store, text).await?;
    }
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
        history,
        lock,
    };
    Driver::start(&w, parts, ws)
}
