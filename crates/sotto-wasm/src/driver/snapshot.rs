//! The relay snapshot in the browser (docs/PROTOCOL.md §14): a saved profile puts the next
//! version of its state on a relay after each change that matters, and `Sotto.restore` finds
//! the newest version with the words alone.
//!
//! Uploads: a change (a contact added, renamed, restored, resynchronised or removed, a
//! disappearing setting, a verification) marks the snapshot dirty; [`tick`] (every pump, so
//! at least every second) starts an upload once the debounce (`snapshotDebounceMs`, default
//! [`DEFAULT_DEBOUNCE_MS`]) and a random further wait (uniform, up to [`JITTER_FACTOR`]
//! debounces) have passed since the first unsaved change, while online, with at most one
//! upload in flight. The random wait keeps an upload's time from pointing at the change (or
//! the opening, or the period's start) that caused it: a relay that sees both the profile's
//! queue traffic and the snapshot's blob cannot pair them by a fixed delay. Opening a
//! profile, and a new backup period beginning, count as a change, so every period a profile
//! is open in gets a version. No upload starts while the client holds its sends
//! (`Client::sends_held`: it does not yet know whether its profile moved) or once it moved:
//! a device the profile left must not write a newer snapshot with its old keys. When a
//! restored profile's queues have all moved to their new keys, the next version goes up at
//! once (no debounce, no random wait), so that a later restore from the words finds the new
//! keys. The slot is taken in the `local` record once `put_snapshot` accepted the upload and
//! before its frames are sent (the pump writes first), so no slot is used twice and none is
//! spent on an upload that never started; a failed upload is tried again, in the next slot,
//! after [`RETRY_MS`] (or the debounce, if longer). Nothing here ever holds up sending or
//! receiving.

use sotto_proto::client::{Client, ContactId, Event, SnapshotFetchError};
use sotto_proto::mnemonic::{Mnemonic, RootSecret};
use sotto_proto::snapshot::{Address, MAX_SLOT, period_of};
use zeroize::Zeroizing;

use super::events::Action;
use super::state::State;
use crate::history::state_bytes;
use crate::js::{now, obj};

/// The debounce when `snapshotDebounceMs` is not given: 10 s after the first unsaved change.
pub const DEFAULT_DEBOUNCE_MS: u32 = 10_000;
/// The least wait before a failed upload is tried again.
pub const RETRY_MS: f64 = 5_000.0;
/// The longest an upload may take (ms) before it is given up and tried again in the next
/// slot: a relay that never answers a chunk, or no route to it, must not stop every later
/// snapshot.
pub const UPLOAD_DEADLINE_MS: f64 = 180_000.0;
/// The random wait added before each upload is uniform in `[0, JITTER_FACTOR × debounce]`
/// (up to 5 minutes at the default debounce).
pub const JITTER_FACTOR: f64 = 30.0;

/// What a snapshot fetch brought: `(created at, state)` or why not.
pub type Fetched = Result<(u64, Zeroizing<Vec<u8>>), SnapshotFetchError>;

/// A saved profile's snapshot uploader.
pub struct Uploader {
    /// The profile's recovery phrase until its root is derived: BIP-39's PBKDF2 of 2,048
    /// rounds (about 8 ms in a browser) runs at the first upload, at least a debounce after
    /// the open, rather than on the open's path (issue 18); the phrase is dropped (zeroized)
    /// then, and only the root is kept.
    mnemonic: Option<Mnemonic>,
    root: Option<RootSecret>,
    debounce_ms: f64,
    /// When the first change not yet in an upload happened (ms since the epoch).
    dirty_since: Option<f64>,
    /// When the upload of those changes is due (ms): the debounce and a random wait after
    /// `dirty_since`, drawn once per round of changes.
    due_at: Option<f64>,
    /// The contacts, names and settings last seen, to notice changes no event tells of.
    seen: Vec<(ContactId, String, u32)>,
    /// Receive queues still moving to a new key (`Client::queues_moving`) when last seen: a
    /// restored profile's snapshot is written again once its queues moved.
    moving: usize,
    in_flight: bool,
    /// How many contacts the version in flight holds (the `snapshot` event says it).
    in_flight_contacts: usize,
    /// When the upload in flight started (ms).
    started_at: f64,
    /// No new upload before this time (ms), after a failure.
    not_before: f64,
}

impl Uploader {
    /// An uploader for the profile of `mnemonic`: its first version goes up one debounce
    /// after the profile opens.
    pub fn new(mnemonic: Mnemonic, debounce_ms: u32) -> Self {
        Uploader {
            mnemonic: Some(mnemonic),
            root: None,
            debounce_ms: f64::from(debounce_ms),
            dirty_since: Some(js_sys::Date::now()),
            due_at: None,
            seen: Vec::new(),
            moving: 0,
            in_flight: false,
            in_flight_contacts: 0,
            started_at: 0.0,
            not_before: 0.0,
        }
    }

    fn touch(&mut self) {
        self.dirty_since.get_or_insert_with(js_sys::Date::now);
    }
}

fn contacts(client: &Client) -> Vec<(ContactId, String, u32)> {
    client
        .contacts()
        .map(|(id, name)| (id, name.to_owned(), client.disappearing(id).unwrap_or(0)))
        .collect()
}

/// Notes a client event: the snapshot's own (an upload done or failed, a fetch answered),
/// and the changes that make the snapshot dirty. Every event passes here before `on_event`.
pub fn note(st: &mut State, event: &Event, actions: &mut Vec<Action>) {
    match event {
        Event::SnapshotFetched {
            handle,
            created_at,
            state,
        } => {
            st.fetched
                .insert(*handle, Ok((*created_at, state.clone().into_inner())));
        }
        Event::SnapshotFetchFailed { handle, error } => {
            st.fetched.insert(*handle, Err(error.clone()));
        }
        _ => {}
    }
    let Some(u) = st.snapshot.as_mut() else {
        return;
    };
    match event {
        Event::SnapshotStored { period, slot } => {
            u.in_flight = false;
            let detail = obj(&[
                ("period", (*period as f64).into()),
                ("slot", (*slot).into()),
                ("contacts", (u.in_flight_contacts as f64).into()),
            ]);
            actions.push(Action::Dispatch("snapshot", detail));
        }
        Event::SnapshotFailed { .. } => {
            u.in_flight = false;
            u.not_before = js_sys::Date::now() + RETRY_MS.max(u.debounce_ms);
            u.touch();
        }
        Event::ContactAdded { .. }
        | Event::ContactRenamed { .. }
        | Event::ContactRestored { .. }
        | Event::Resynced { .. }
        | Event::DisappearingChanged { .. }
        | Event::VerificationChanged { .. } => u.touch(),
        _ => {}
    }
}

/// Starts an upload when one is due (see the module's docs).
pub fn tick(st: &mut State) {
    let State {
        snapshot,
        client,
        local,
        rng,
        history,
        open,
        ..
    } = st;
    let Some(u) = snapshot.as_mut() else {
        return;
    };
    let seen = contacts(client);
    if seen != u.seen {
        u.seen = seen;
        u.touch();
    }
    let moving = client.queues_moving();
    if moving != u.moving {
        u.touch();
        if moving == 0 {
            // A restore's queues all moved: the new keys go up now.
            u.due_at = Some(js_sys::Date::now());
        }
        u.moving = moving;
    }
    let period = period_of(client.network_time(now()));
    if local.snapshot.is_none_or(|(p, _)| p != period) {
        u.touch();
    }
    let ms = js_sys::Date::now();
    if let Some(since) = u.dirty_since
        && u.due_at.is_none()
    {
        use rand_core::Rng as _;
        let jitter = f64::from(rng.next_u32()) / f64::from(u32::MAX) * JITTER_FACTOR;
        u.due_at = Some(since + u.debounce_ms * (1.0 + jitter));
    }
    let due = u.due_at.is_some_and(|t| ms >= t);
    if u.in_flight && ms >= u.started_at + UPLOAD_DEADLINE_MS {
        // Its `SnapshotFailed` (through `note`) frees the way and marks the state dirty.
        client.abandon_snapshot_upload();
        u.in_flight = false;
    }
    if !*open
        || u.in_flight
        || client.snapshot_uploading()
        || client.sends_held()
        || client.is_moved()
        || !due
        || ms < u.not_before
    {
        return;
    }
    let slot = match local.snapshot {
        Some((p, next)) if p == period => next,
        _ => 0,
    };
    if slot > MAX_SLOT {
        return;
    }
    let state = state_bytes(history.seq(), client);
    if let Some(mnemonic) = u.mnemonic.take() {
        u.root = Some(mnemonic.root_secret());
    }
    let Some(root) = &u.root else {
        return;
    };
    let address = Address::derive(root, period, slot);
    match client.put_snapshot(rng, address, &state, now()) {
        Ok(_) => {
            local.snapshot = Some((period, slot.saturating_add(1)));
            u.in_flight = true;
            u.in_flight_contacts = client.contact_ids().count();
            u.started_at = ms;
            u.dirty_since = None;
            u.due_at = None;
        }
        Err(_) => u.not_before = ms + RETRY_MS.max(u.debounce_ms),
    }
}
