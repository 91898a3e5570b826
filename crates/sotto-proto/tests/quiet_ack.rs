//! Quiet Acks (docs/protocol/onion.md §4, PROTOCOL.md §4) in the virtual-time world: a client
//! acknowledges without a reply block and keeps nothing pending; a lost quiet Ack is covered
//! by the relay's redelivery, the duplicate is dropped and acknowledged again with an answered
//! Ack, and nothing is lost or shown twice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod common;

use common::{World, rekey_secret};
use sotto_proto::client::{ContactId, Event};
use sotto_proto::envelope::MessageId;
use sotto_proto::queue::{Command, QueueMessageId, ReceivedRequest};

/// How often client `who` was shown message `id`.
fn shown(w: &World, who: usize, id: MessageId) -> usize {
    w.events[who]
        .iter()
        .filter(|e| matches!(e, Event::Message { envelope, .. } if envelope.id == id))
        .count()
}

/// Alice (client 0) writes each of `texts` to `contact` now; their ids.
fn write(w: &mut World, contact: ContactId, texts: &[&str]) -> Vec<MessageId> {
    let mut ids = Vec::new();
    for text in texts {
        let now = w.client_now(0);
        let message = w.clients[0].send_text(&mut w.rng, contact, text, now);
        ids.push(message.unwrap().id);
    }
    ids
}

/// The Acks the relays received, in order: (message id, quiet, carries a reply block).
type Acks = Vec<(QueueMessageId, bool, bool)>;

/// Steps with every relay intercepted for up to `secs`, recording each Ack; `drop_first`
/// drops the first quiet Ack instead of delivering it. True once `done` holds.
fn watch(
    w: &mut World,
    acks: &mut Acks,
    secs: u64,
    mut drop_first: bool,
    done: &dyn Fn(&World) -> bool,
) -> bool {
    let mut pass = |_: &mut World, request: &ReceivedRequest| {
        let lost = is_quiet_ack(request) && drop_first;
        drop_first &= !lost;
        !lost
    };
    drive(w, acks, secs, &mut pass, done)
}

/// What a test does with a request a relay's queue service is about to get: true to
/// deliver it. It may also change the world (close and open a client again, answer).
type Policy<'a> = dyn FnMut(&mut World, &ReceivedRequest) -> bool + 'a;

/// An Ack as [`Acks`] records it.
fn ack_of(request: &ReceivedRequest) -> Option<(QueueMessageId, bool, bool)> {
    match request.command {
        Command::Ack {
            message_id, quiet, ..
        } => Some((message_id, quiet, request.reply.is_some())),
        _ => None,
    }
}

/// Whether `request` is a quiet Ack.
fn is_quiet_ack(request: &ReceivedRequest) -> bool {
    ack_of(request).is_some_and(|(_, quiet, _)| quiet)
}

/// Steps with every relay intercepted for up to `secs`, recording each Ack in `acks` and
/// delivering each request if `pass` says so (packets on their way, always). True once
/// `done` holds.
fn drive(
    w: &mut World,
    acks: &mut Acks,
    secs: u64,
    pass: &mut Policy,
    done: &dyn Fn(&World) -> bool,
) -> bool {
    w.intercept = (0..w.nodes.len()).collect();
    let deadline = w.net.now_ms + secs * 1000;
    let mut ok = done(w);
    while w.net.now_ms < deadline && !ok {
        w.step();
        while let Some((to, packet)) = w.intercepted.pop_front() {
            if let Some(request) = w.peek(to, &packet) {
                acks.extend(ack_of(&request));
                if !pass(w, &request) {
                    continue;
                }
            }
            w.deliver(to, &packet);
        }
        ok = done(w);
    }
    w.intercept.clear();
    ok
}

#[test]
fn acks_are_quiet_and_a_lost_one_is_redelivered_dropped_and_acknowledged_again() {
    let mut w = World::new(1801, 0, &["Alice", "Bob"]);
    let (bob, _) = w.connect();
    let resent = w.clients[1].resent_requests();

    // Alice writes; Bob's quiet Ack is lost on the way to the relay.
    let now = w.client_now(0);
    let first = w.clients[0]
        .send_text(&mut w.rng, bob, "one", now)
        .unwrap()
        .id;
    let mut acks = Acks::new();
    assert!(watch(&mut w, &mut acks, 30, true, &|w| shown(w, 1, first) == 1));
    let (lost, quiet, with_reply) = acks[0];
    assert!(
        quiet && !with_reply,
        "the Ack is quiet and carries no reply block"
    );

    // Nothing is pending, so nothing resends it: the relay's redelivery (at Bob's next
    // Subscribe, or 30 s after the delivery) is what brings the message back. Bob drops the
    // duplicate and acknowledges it again, answered this time.
    let acked_again = |acks: &Acks| acks.iter().any(|(id, quiet, _)| *id == lost && !quiet);
    let mut more = Acks::new();
    watch(&mut w, &mut more, 90, false, &|_| false);
    acks.extend(more);
    assert!(
        acked_again(&acks),
        "the redelivery was acknowledged with an answered Ack"
    );
    let for_lost: Vec<_> = acks.iter().filter(|(id, ..)| *id == lost).collect();
    assert_eq!(
        for_lost,
        vec![&(lost, true, false), &(lost, false, true)],
        "one quiet Ack (lost), never resent, then one answered Ack"
    );
    assert_eq!(shown(&w, 1, first), 1, "the duplicate is not shown");
    assert_eq!(
        w.clients[1].resent_requests(),
        resent,
        "the answered Ack was answered at once: nothing was resent"
    );

    // The queue moves on: the next messages arrive once each, acknowledged quietly.
    let next = write(&mut w, bob, &["two", "three"]);
    let mut later = Acks::new();
    assert!(watch(&mut w, &mut later, 60, false, &|w| {
        next.iter().all(|id| shown(w, 1, *id) == 1)
    }));
    assert!(!later.is_empty());
    assert!(
        later.iter().all(|(_, quiet, reply)| *quiet && !*reply),
        "without loss every Ack is quiet"
    );
    assert_eq!(shown(&w, 1, first), 1);
}

/// A relay built before quiet Acks drops every one (an unknown tag), and Bob's page is
/// closed and opened again after each Ack it sends (short visits, a kiosk). The Ack of a
/// message Bob has already read must be answered even though the reload forgot which one he
/// acknowledged quietly: otherwise the first message is redelivered and dropped forever and
/// the queue never moves on.
#[test]
fn a_relay_that_drops_quiet_acks_and_a_reload_after_each_ack_still_move_the_queue_on() {
    let mut w = World::new(1802, 0, &["Alice", "Bob"]);
    let (bob, _) = w.connect();
    let sent = write(&mut w, bob, &["one", "two", "three"]);
    let all_shown = |w: &World| sent.iter().all(|id| shown(w, 1, *id) >= 1);
    let reloads = drop_quiet_acks_and_reload(&mut w, 1, 300, &all_shown);
    assert!(reloads > 0, "Bob acknowledged quietly and was reloaded");
    for id in &sent {
        assert_eq!(shown(&w, 1, *id), 1, "every message arrives, once");
    }
}

/// Steps for up to `secs` as relays built before quiet Acks would (every quiet Ack dropped),
/// closing and opening client `who` again (from its persisted state) each time one is
/// dropped, until `done`; returns how often it was reopened.
fn drop_quiet_acks_and_reload(
    w: &mut World,
    who: usize,
    secs: u64,
    done: &dyn Fn(&World) -> bool,
) -> usize {
    use sotto_proto::client::Client;
    let mut reloads = 0;
    let mut pass = |w: &mut World, request: &ReceivedRequest| {
        let quiet = is_quiet_ack(request);
        if quiet {
            reloads += 1;
            let state = w.clients[who].to_persisted();
            w.clients[who] = Client::from_persisted(state.as_bytes()).unwrap();
            w.reopen(who);
        }
        !quiet
    };
    drive(w, &mut Acks::new(), secs, &mut pass, done);
    reloads
}

/// As above, with a resync request first in Bob's queue: Alice restored her profile from a
/// backup, so her first message to Bob asks him to resynchronise. Its redelivery after a
/// reload must be answered too (a resync request is no ratchet message, but Bob has read it),
/// or Alice's next messages wait behind it forever.
#[test]
fn a_relay_that_drops_quiet_acks_and_reloads_still_pass_a_resync_request() {
    use sotto_proto::client::{Client, SyncStatus};
    let mut w = World::new(1803, 0, &["Alice", "Bob"]);
    let (bob, alice) = w.connect();
    w.run_until(3, |_| false);
    // Alice's new device, restored from her state of now, is opened.
    let (backup, now) = (w.clients[0].to_persisted(), w.client_now(0));
    let restored = Client::restored(&mut w.rng, backup.as_bytes(), now, now, rekey_secret(0));
    w.clients[0] = restored.unwrap();
    w.reopen(0);
    let after = write(&mut w, bob, &["after the restore"])[0];
    let arrived = |w: &World| shown(w, 1, after) == 1;
    drop_quiet_acks_and_reload(&mut w, 1, 300, &arrived);
    assert_eq!(w.clients[0].sync_status(bob), Some(SyncStatus::Ok));
    assert_eq!(w.clients[1].sync_status(alice), Some(SyncStatus::Ok));
    assert_eq!(shown(&w, 1, after), 1, "Alice's message reaches Bob, once");
}

/// A relay that drops every quiet Ack, and a page that stays open: each message waits for
/// its redelivery (or the next Subscribe), is acknowledged then with an answered Ack, and the
/// queue drains; every message arrives once.
#[test]
fn a_relay_that_drops_quiet_acks_only_slows_an_open_page_down() {
    let mut w = World::new(1804, 0, &["Alice", "Bob"]);
    let (bob, _) = w.connect();
    let texts: Vec<String> = (0..12).map(|i| format!("m{i}")).collect();
    let sent = write(
        &mut w,
        bob,
        &texts.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let mut acks = Acks::new();
    let all_shown = |w: &World| sent.iter().all(|id| shown(w, 1, *id) >= 1);
    let mut pass = |_: &mut World, request: &ReceivedRequest| !is_quiet_ack(request);
    drive(&mut w, &mut acks, 300, &mut pass, &all_shown);
    for id in &sent {
        assert_eq!(shown(&w, 1, *id), 1, "every message arrives, once");
    }
    assert!(
        acks.iter().any(|(_, quiet, _)| !quiet),
        "answered Acks moved it on"
    );
}

/// A queue relay that wants to know whether a page was reloaded (and so to link queues that
/// were reloaded at the same time) delivers a made-up message through a reply block it holds
/// for the queue, and delivers it again, once before and once after Bob's page is reloaded:
/// the Ack of the repeat is the same both times (it depends on what Bob has stored, not on
/// what he remembers in memory), and the garbage is reported once.
#[test]
fn a_queue_relay_cannot_tell_a_reload_by_the_ack_of_a_redelivery() {
    use sotto_proto::client::Client;
    use sotto_proto::ids::QueueId;
    use sotto_proto::onion::Surb;
    use sotto_proto::queue::Delivery;
    use sotto_proto::sizes::QUEUE_MESSAGE_SIZE;
    use std::cell::{Cell, RefCell};

    let mut w = World::new(1805, 0, &["Alice", "Bob"]);
    let (bob, alice) = w.connect();
    // No resync is started by the garbage (Bob's queue then carries only what the relay sends).
    w.clients[1].use_legacy_resync_secret(alice).unwrap();
    w.run_until(3, |_| false);
    let first = write(&mut w, bob, &["one"])[0];
    // Bob's queue and the reply blocks he hands its relay (in his Acks and Subscribes).
    let queue: Cell<Option<QueueId>> = Cell::new(None);
    let held: RefCell<Vec<Surb>> = RefCell::new(Vec::new());
    let mut acks = Acks::new();
    let mut spy = |_: &mut World, request: &ReceivedRequest| {
        if let Command::Ack {
            recipient_id,
            surbs,
            ..
        }
        | Command::Subscribe {
            recipient_id,
            surbs,
        } = &request.command
        {
            if queue.get().is_none() && is_quiet_ack(request) {
                queue.set(Some(*recipient_id));
            }
            if queue.get() == Some(*recipient_id) {
                held.borrow_mut().extend(surbs.iter().cloned());
            }
        }
        true
    };
    let got_one = |w: &World| shown(w, 1, first) == 1 && queue.get().is_some();
    assert!(drive(&mut w, &mut acks, 60, &mut spy, &got_one));
    let queue = queue.get().expect("Bob acknowledged on his queue");
    let made_up = |n: u8| {
        let mut garbage = vec![n; QUEUE_MESSAGE_SIZE];
        garbage[1] = sotto_proto::ratchet::TYPE_MESSAGE;
        Delivery {
            recipient_id: queue,
            message_id: QueueMessageId::from_bytes([n; 16]),
            received_at: common::T0_MS / 1000,
            body: garbage,
        }
    };
    // Made-up message 1, then again; made-up message 2, a reload, then 2 again.
    let mut kinds = Vec::new();
    for (n, reload) in [(1, false), (1, false), (2, false), (2, true)] {
        if reload {
            let state = w.clients[1].to_persisted();
            w.clients[1] = Client::from_persisted(state.as_bytes()).unwrap();
            w.reopen(1);
            held.borrow_mut().clear();
            let subscribed = |_: &World| false;
            drive(&mut w, &mut acks, 15, &mut spy, &subscribed);
        }
        let delivery = made_up(n);
        let surb = held
            .borrow_mut()
            .pop()
            .expect("a reply block of Bob's queue");
        let (to, packet) = surb.seal(&delivery.encode().unwrap()).unwrap();
        let i = w.directory.iter().position(|h| h.id == to).unwrap();
        w.net.send(common::Wire::Relay(i, packet.into_bytes()));
        let before = acks.len();
        let acked = |_: &World| false;
        drive(&mut w, &mut acks, 5, &mut spy, &acked);
        let ack = acks[before..]
            .iter()
            .find(|(id, ..)| *id == delivery.message_id)
            .expect("Bob acknowledged the made-up message");
        kinds.push(ack.1);
    }
    assert!(
        kinds[0] && kinds[2],
        "a message first seen is acknowledged quietly"
    );
    assert_eq!(
        kinds[1], kinds[3],
        "a repeat's Ack is the same with and without a reload in between: {kinds:?}"
    );
    let failed = w.events[1]
        .iter()
        .filter(|e| matches!(e, Event::DecryptFailed { .. }))
        .count();
    assert_eq!(failed, 2, "each made-up message is reported once");
}
