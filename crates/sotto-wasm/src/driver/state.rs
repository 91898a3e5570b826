//! What the driver holds for one open profile: the client, the connection, the promises
//! waiting for the client's events, the transfers in flight, and the history.

use sotto_proto::directory::DirectoryTrust;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use sotto_proto::client::{Client, ContactId};
use sotto_proto::envelope::Attachment;
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;

use super::lock::ProfileLock;
use super::snapshot::{Fetched, Uploader};
use super::transport::Socket;
use crate::error::{ErrorCode, sotto_error};
use crate::history::{Change, History, Rng};
use crate::js::{Resolver, now, scope};
use crate::storage::{Local, MessageRecord, Store};

/// The state, shared by the `Sotto` handle and the socket's and timers' callbacks (which
/// hold it weakly). Borrowed only briefly: never across an await or a JS callback.
pub type Shared = Rc<RefCell<State>>;

/// A browser timer and the closure it calls (dropped with it).
pub type Timer = (i32, Closure<dyn FnMut()>);

/// Seconds within which every promise that waits for the network settles (pkg/README.md,
/// "Every promise settles"): after them it is rejected with `TIMEOUT` (`RELAY_UNREACHABLE`
/// while no relay is connected).
pub const SETTLE_SECS: u64 = 30;

/// Whether the profile reaches the network: what `Sotto.connection` answers and a
/// `connection` event tells when it changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connection {
    /// The socket to the gateway is open.
    Online,
    /// The socket closed (or is being made again) and no attempt has failed yet.
    Connecting,
    /// The last attempt to reach the network (the directory, then the gateway) failed; the
    /// driver tries again with back-off, and at once when the browser says it is online.
    /// Promises that wait for the network settle at once (`RELAY_UNREACHABLE`).
    Offline,
}

impl Connection {
    /// The name JS sees: `'online'`, `'connecting'` or `'offline'`.
    pub fn name(self) -> &'static str {
        match self {
            Connection::Online => "online",
            Connection::Connecting => "connecting",
            Connection::Offline => "offline",
        }
    }
}

/// A promise waiting for the client's events, and when it gives up (Unix seconds).
pub struct Wait {
    pub resolver: Resolver,
    pub deadline: u64,
}

impl Wait {
    /// Waits for at most [`SETTLE_SECS`] from now.
    pub fn new(resolver: Resolver) -> Self {
        Wait {
            resolver,
            deadline: now().saturating_add(SETTLE_SECS),
        }
    }
}

/// Promises waiting for the client's events. Each is settled by its event or, past its
/// deadline, by `events::settle_late` (run by every pump, and the pump runs every second).
#[derive(Default)]
pub struct Waiting {
    /// `createInvitation`, by the client's request handle.
    pub invitations: HashMap<u64, Wait>,
    /// `acceptInvitation`, by the client's acceptance handle.
    pub accepts: HashMap<u64, Wait>,
    /// `send`, `sendFile` and `retry`, by message id; with the message's send time.
    pub sends: HashMap<[u8; 16], (Wait, u64)>,
    /// Messages whose promise was settled before a relay stored them (refused or late): they
    /// stay queued, and a `status` event tells when they are stored.
    pub unsettled: HashSet<[u8; 16]>,
}

/// One open profile.
pub struct State {
    pub client: Client,
    pub rng: Rng,
    /// The page's origin (invitation links start with it).
    pub origin: String,
    /// The gateway relay's WebSocket URL; `None` until a directory naming it is read (a
    /// saved profile opened offline with no directory kept).
    pub gateway_url: Option<String>,
    pub socket: Option<Socket>,
    /// The socket is open (frames can be sent).
    pub open: bool,
    /// Whether the network is reached (see [`Connection`]).
    pub connection: Connection,
    /// Attempts to reach the network that failed in a row (the back-off grows with them).
    pub failures: u32,
    /// The directory was not read from the network since the profile opened (it opened
    /// offline): the next attempt to connect reads it first.
    pub directory_stale: bool,
    /// The listener of the global scope's `online` event (retries at once), removed on close.
    pub on_online: Option<Closure<dyn FnMut()>>,
    /// `close()` or `wipe()` was called.
    pub closed: bool,
    /// The one-second tick.
    pub interval: Option<Timer>,
    /// The reconnection waiting to happen.
    pub reconnect: Option<Timer>,
    /// Where the relay directory is, and when it was last read.
    pub directory_url: String,
    /// The authority keys a directory must be signed by (`directoryKeys`).
    pub directory_trust: DirectoryTrust,
    pub directory_at: u64,
    /// `valid_after` (Unix seconds) of the directory taken last: an older one read later is
    /// not taken (`directory::newest`).
    pub directory_valid_after: u64,
    /// When to read it again (device time): just after the earliest key rotation it
    /// announced, at the latest an hour after the last read.
    pub directory_due: u64,
    /// [`Client::resent_requests`] when the directory was last read: requests that keep
    /// going unanswered make the driver read it sooner.
    pub resent_seen: u64,
    pub waiting: Waiting,
    /// Downloads in flight: the client's handle → message id and contact.
    pub downloads: HashMap<u64, (String, ContactId)>,
    /// What must survive a reload besides the client and the messages.
    pub local: Local,
    pub history: Box<dyn History>,
    /// A write is in flight; frames and actions wait for it.
    pub persisting: bool,
    /// The profile's Web Lock (a saved profile), released when the profile closes.
    pub lock: Option<ProfileLock>,
    /// The relay snapshot's uploader (a saved profile only).
    pub snapshot: Option<Uploader>,
    /// Snapshot fetches answered (a restore from the words): the client's handle → result.
    pub fetched: HashMap<u64, Fetched>,
}

impl State {
    /// Keeps a message in the history. In a conversation with disappearing messages it gets
    /// its expiry here.
    pub fn keep(&mut self, m: MessageRecord) -> MessageRecord {
        let seconds = self.client.disappearing(m.contact).unwrap_or(0);
        self.keep_for(m, seconds)
    }

    /// [`State::keep`] with the disappearing setting (seconds, 0: kept) in force for the
    /// message: a received one's, as its `Event::Message` carries it.
    pub fn keep_for(&mut self, mut m: MessageRecord, seconds: u32) -> MessageRecord {
        if seconds > 0 {
            let at = now().saturating_add(u64::from(seconds));
            m.expires_at = Some(at);
            self.local.expiry.insert((at, m.id.clone(), m.contact));
        }
        self.history.keep(m)
    }

    /// Changes a kept message (see [`History::update`]).
    pub fn update(&mut self, id: &str, change: impl FnOnce(&mut MessageRecord) + 'static) {
        let change: Change = Box::new(change);
        self.history.update(id, change);
    }

    /// Asks the client for a message's file and remembers the transfer (also across a
    /// reload). False when the client cannot fetch it.
    pub fn start_download(&mut self, id: &str, contact: ContactId, a: &Attachment) -> bool {
        match self.client.fetch_attachment(&mut self.rng, a, now()) {
            Ok(handle) => {
                self.downloads.insert(handle, (id.to_owned(), contact));
                self.local.downloads.insert(id.to_owned(), contact);
                true
            }
            Err(_) => false,
        }
    }
}

/// Closes everything but hands back the store (to close or wipe): the timers stop, the
/// socket closes, the profile's lock is released, and waiting promises fail with `CLOSED`.
pub fn shut(state: &Shared) -> Option<Rc<Store>> {
    let mut rejects = Vec::new();
    let store;
    let lock;
    {
        let mut st = state.borrow_mut();
        store = st.history.take_store();
        lock = st.lock.take();
        if st.closed {
            return store;
        }
        st.closed = true;
        st.open = false;
        if let Ok(w) = scope() {
            if let Some((id, _)) = &st.interval {
                w.clear_interval(*id);
            }
            if let Some((id, _)) = &st.reconnect {
                w.clear_timeout(*id);
            }
            if let Some(f) = &st.on_online {
                let _ = w
                    .target()
                    .remove_event_listener_with_callback("online", f.as_ref().unchecked_ref());
            }
        }
        if let Some(sock) = st.socket.take() {
            sock.close();
        }
        let waiting = std::mem::take(&mut st.waiting);
        rejects.extend(waiting.invitations.into_values().map(|w| w.resolver));
        rejects.extend(waiting.accepts.into_values().map(|w| w.resolver));
        rejects.extend(waiting.sends.into_values().map(|(w, _)| w.resolver));
    }
    // Released once the store stops writing (the caller closes it): a new holder reads a
    // state no write of ours follows.
    drop(lock);
    for r in rejects {
        r.reject(&sotto_error(
            ErrorCode::Closed,
            "this Sotto instance was closed",
        ));
    }
    store
}
