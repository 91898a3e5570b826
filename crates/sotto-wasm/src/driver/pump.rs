//! The driver loop: after anything reached the client (a call, a frame, a tick), write what
//! must be kept, then send the client's frames, then dispatch its events — in that order.
//!
//! The packets of Acks and Sends are built off the message's path (`Client::build_later`):
//! those owed when a write is taken are taken with it (`Client::take_owed`), so that they
//! come only from what it holds, and built while it commits (IndexedDB) when a Send is among
//! them or nothing waits for the write, else (only Acks, and events or promises waiting)
//! after the events are dispatched: a busy page holds its IndexedDB commit back, so Acks
//! built during the commit made a received message's event wait for them (issue 18). With
//! nothing to write (memory), all owed are built after the events. Either way they leave
//! after the write.

use std::future::poll_fn;
use std::pin::pin;

use sotto_proto::client::OwedPackets;
use wasm_bindgen_futures::spawn_local;
use web_sys::EventTarget;

use super::events::{Action, dispatch, on_event, run, settle_late, sweep_expired};
use super::snapshot;
use super::state::{Shared, shut};
use super::transport::send_all;
use crate::error::{ErrorCode, code_of, sotto_error};
use crate::js::{now, obj};

/// Drains the client's events (to JS) and then its frames (to the gateway), until both are
/// empty. Listeners run with no borrow held, so they may call back into `Sotto`.
///
/// Where the history writes (IndexedDB), the client state and the new messages are written
/// (and the write awaited) *before* the frames, which carry the Acks, are sent and the events
/// dispatched. A failed write (e.g. `STORAGE_QUOTA`) is reported as an `error` event and its
/// frames are not sent; its records are written again with the next write.
pub fn pump(state: &Shared, target: &EventTarget) {
    loop {
        let (actions, frames, write, owes, taken) = {
            let Ok(mut st) = state.try_borrow_mut() else {
                return;
            };
            if st.persisting {
                // The write in flight pumps again when it is done.
                return;
            }
            let st = &mut *st;
            let mut actions = Vec::new();
            sweep_expired(st, &mut actions);
            snapshot::tick(st);
            while let Some(event) = st.client.poll_event() {
                snapshot::note(st, &event, &mut actions);
                on_event(st, event, &mut actions);
            }
            // After the events: a promise settled by them is not late.
            settle_late(st, &mut actions);
            let mut frames = Vec::new();
            while let Some(f) = st.client.poll_transmit() {
                frames.push(f);
            }
            // Owed packets count as frames: what they come from changed the state, which is
            // written before they leave.
            let owes = !st.closed && st.client.packets_owed();
            let dirty = !actions.is_empty() || !frames.is_empty() || owes || st.history.dirty();
            let write = if dirty && !st.closed {
                st.history.take_write(&st.local, &mut st.client)
            } else {
                None
            };
            st.persisting = write.is_some();
            // The packets owed now come from what this write holds: built while it commits.
            // Owed later (a message written before its first poll), they wait for the next.
            let taken = write.as_ref().map(|_| st.client.take_owed());
            (actions, frames, write, owes, taken)
        };
        if actions.is_empty() && frames.is_empty() && write.is_none() && !owes {
            return;
        }
        if let Some(write) = write {
            let s = state.clone();
            let t = target.clone();
            spawn_local(async move {
                // The write starts at its first poll; the packets taken with it are built
                // while it commits when they are on a message's path (a Send) or nothing
                // waits for the write, else after the events.
                let mut taken = taken;
                let during = actions.is_empty() || taken.as_ref().is_some_and(|t| t.has_sends());
                let mut owed = Vec::new();
                let result = {
                    let mut run = pin!(write.run());
                    poll_fn(|cx| {
                        let polled = run.as_mut().poll(cx);
                        if during && let Some(t) = taken.take() {
                            owed = build(&s, Some(t));
                        }
                        polled
                    })
                    .await
                };
                let mut frames = frames;
                frames.extend(owed);
                if let Ok(mut st) = s.try_borrow_mut() {
                    st.persisting = false;
                    st.history.write_done(write, result.is_ok());
                }
                match result {
                    Ok(()) => {
                        deliver(&s, &t, &frames, actions);
                        if let Some(taken) = taken {
                            let owed = build(&s, Some(taken));
                            deliver(&s, &t, &owed, Vec::new());
                        }
                    }
                    // Another copy wrote a newer state: this one must not send or write
                    // anything more.
                    Err(e) if code_of(&e) == ErrorCode::ProfileInUse.as_str() => {
                        taken_over(&s, &t);
                        return;
                    }
                    Err(e) => {
                        let detail = obj(&[
                            ("what", "storage".into()),
                            ("code", code_of(&e).into()),
                            ("error", e),
                        ]);
                        // The frames (and their Acks) are not sent: the client retries its
                        // requests, and the relays keep what was not acknowledged.
                        deliver(&s, &t, &[], actions);
                        dispatch(&t, "error", &detail);
                    }
                }
                pump(&s, &t);
            });
            return;
        }
        deliver(state, target, &frames, actions);
        // Nothing to write (memory): the owed packets after the events.
        let owed = build(state, None);
        deliver(state, target, &owed, Vec::new());
    }
}

/// Builds the packets taken with a write (`Some`), or every packet owed now (`None`: nothing
/// to write). None once closed, nor while the state is borrowed: packets taken are then
/// dropped (the relay delivers an unacknowledged message again; an outbox left idle sends
/// again at the next tick), and packets not taken wait for the next pump.
fn build(state: &Shared, taken: Option<OwedPackets>) -> Vec<Vec<u8>> {
    let Ok(mut st) = state.try_borrow_mut() else {
        return Vec::new();
    };
    if st.closed {
        return Vec::new();
    }
    let st = &mut *st;
    let owed = taken.unwrap_or_else(|| st.client.take_owed());
    st.client.build_packets(&mut st.rng, owed, now())
}

/// Sends frames to the gateway (if connected) and runs the actions.
fn deliver(state: &Shared, target: &EventTarget, frames: &[Vec<u8>], actions: Vec<Action>) {
    let ws = state.try_borrow().ok().and_then(|st| {
        if st.open {
            st.socket.as_ref().map(|s| s.ws())
        } else {
            None
        }
    });
    // Frames made while the socket is down are lost; the client retries them.
    if let Some(ws) = ws {
        send_all(&ws, frames);
    }
    run(target, actions);
}

/// Another tab or window took this profile over (it stole the lock, or wrote a newer state):
/// this copy closes at once, without writing or sending anything more, and says so with an
/// `error` event `{what: 'profile', code: 'PROFILE_IN_USE', error}`.
pub fn taken_over(state: &Shared, target: &EventTarget) {
    if let Some(store) = shut(state) {
        store.close();
    }
    let error = sotto_error(
        ErrorCode::ProfileInUse,
        "another tab or window took this profile over; it was closed here",
    );
    let detail = obj(&[
        ("what", "profile".into()),
        ("code", ErrorCode::ProfileInUse.as_str().into()),
        ("error", error),
    ]);
    dispatch(target, "error", &detail);
}
