//! The client state in parts (`Client::to_parts`, `Client::from_parts`): one part per contact
//! and a core, read back in any order into the client the whole state gives; a message
//! received changes its contact's part and the core's bytes only where it must; damaged,
//! missing, repeated or misplaced parts are refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{World, assert_parts_round_trip};
use sotto_proto::client::{CORE_MARK, Client, Event, PersistError, PersistedParts};

/// Alice with three contacts (Bob, Carol, Dan), a conversation with each, and a message to
/// Bob still in her outbox (not yet delivered: the network is held).
fn alice_with_three() -> (World, Vec<u64>) {
    let mut w = World::new(0x5117, 0, &["Alice", "Bob", "Carol", "Dan"]);
    let mut ids = Vec::new();
    for other in 1..=3 {
        let (at_alice, at_other) = w.introduce(0, other);
        ids.push(at_alice);
        let now = w.client_now(other);
        w.clients[other]
            .send_text(&mut w.rng, at_other, "hello", now)
            .unwrap();
    }
    let got = w.run_until(120, |w| {
        w.events[0]
            .iter()
            .filter(|e| matches!(e, Event::Message { .. }))
            .count()
            == 3
    });
    assert!(got, "Alice received one message from each");
    let now = w.client_now(0);
    w.clients[0]
        .send_text(&mut w.rng, ids[0], "queued", now)
        .unwrap();
    (w, ids)
}

/// [`alice_with_three`] once her messages are delivered: her parts before and after one
/// more message from Carol reached her.
fn before_and_after_a_message_from_carol() -> (Vec<u64>, PersistedParts, PersistedParts) {
    let (mut w, ids) = alice_with_three();
    w.run_until(60, |w| w.clients[0].unsent_messages() == 0);
    let before = parts_of(&w.clients[0]);
    one_more_from_carol(&mut w);
    let after = parts_of(&w.clients[0]);
    (ids, before, after)
}

/// Carol sends Alice one more message, and it reaches her.
fn one_more_from_carol(w: &mut World) {
    // Carol's contact id for Alice: the only contact Carol has.
    let alice_at_carol = w.clients[2].contact_ids().next().unwrap();
    let from = w.events[0].len();
    let now = w.client_now(2);
    w.clients[2]
        .send_text(&mut w.rng, alice_at_carol, "one more", now)
        .unwrap();
    let got = w.run_until(60, |w| {
        w.events[0][from..]
            .iter()
            .any(|e| matches!(e, Event::Message { .. }))
    });
    assert!(got);
}

fn parts_of(c: &Client) -> PersistedParts {
    c.to_parts()
}

fn read(parts: &PersistedParts, contacts: &[&[u8]]) -> Result<Client, PersistError> {
    Client::from_parts(parts.core.as_bytes(), contacts.iter().copied())
}

fn contact_bytes(parts: &PersistedParts) -> Vec<&[u8]> {
    parts.contacts.iter().map(|c| c.part.as_bytes()).collect()
}

#[test]
fn the_parts_give_back_the_whole_state_in_any_order() {
    let (w, ids) = alice_with_three();
    let alice = &w.clients[0];
    let parts = parts_of(alice);
    assert_eq!(parts.core.as_bytes().first(), Some(&CORE_MARK));
    let listed: Vec<u64> = parts.contacts.iter().map(|c| c.id).collect();
    assert_eq!(listed, ids, "one part per contact, in id order");
    assert_parts_round_trip(alice);
    let mut shuffled = contact_bytes(&parts);
    shuffled.rotate_left(1);
    let back = read(&parts, &shuffled).unwrap();
    assert_eq!(
        back.to_persisted().as_bytes(),
        alice.to_persisted().as_bytes()
    );
    assert_eq!(back.unsent_messages(), alice.unsent_messages());
    // Read with its digests: each part's, by the contact it names, as `to_parts` made them.
    let (digested, digests) =
        Client::from_parts_digested(parts.core.as_bytes(), shuffled.iter().copied()).unwrap();
    assert_eq!(
        digested.to_persisted().as_bytes(),
        alice.to_persisted().as_bytes()
    );
    let made: Vec<_> = parts.contacts.iter().map(|c| (c.id, c.digest)).collect();
    assert_eq!(digests.into_iter().collect::<Vec<_>>(), made);
    // The parts of a client read from the whole state are the same bytes.
    let whole = Client::from_persisted(alice.to_persisted().as_bytes()).unwrap();
    let again = parts_of(&whole);
    assert_eq!(again.core.as_bytes(), parts.core.as_bytes());
    assert_eq!(contact_bytes(&again), contact_bytes(&parts));
}

#[test]
fn a_received_message_changes_only_its_contacts_part() {
    let (ids, before, after) = before_and_after_a_message_from_carol();
    let carol_at_alice = ids[1];
    for (old, new) in before.contacts.iter().zip(&after.contacts) {
        let id = old.id;
        assert_eq!(
            old.part.as_bytes() != new.part.as_bytes(),
            id == carol_at_alice,
            "contact {id}: only Carol's part changed"
        );
    }
}

#[test]
fn damaged_missing_repeated_or_misplaced_parts_are_refused() {
    let (w, _) = alice_with_three();
    let parts = parts_of(&w.clients[0]);
    let contacts = contact_bytes(&parts);

    // Every cut of the core, and of each contact part, is an error.
    for cut in 0..parts.core.as_bytes().len() {
        let r = Client::from_parts(&parts.core.as_bytes()[..cut], contacts.iter().copied());
        assert!(r.is_err(), "core cut at {cut}");
    }
    for (i, part) in contacts.iter().enumerate() {
        for cut in 0..part.len() {
            let mut some = contacts.clone();
            some[i] = &part[..cut];
            assert!(read(&parts, &some).is_err(), "part {i} cut at {cut}");
        }
        let mut long = part.to_vec();
        long.push(0);
        let mut some = contacts.clone();
        some[i] = &long;
        assert_eq!(read(&parts, &some).err(), Some(PersistError::TrailingBytes));
    }
    let mut long = parts.core.as_bytes().to_vec();
    long.push(0);
    assert_eq!(
        Client::from_parts(&long, contacts.iter().copied()).err(),
        Some(PersistError::TrailingBytes)
    );

    // The whole state is not a core; a core from the future is refused.
    let whole = w.clients[0].to_persisted();
    assert!(Client::from_parts(whole.as_bytes(), contacts.iter().copied()).is_err());
    let mut future = parts.core.as_bytes().to_vec();
    future[1] = 0x7f;
    assert_eq!(
        Client::from_parts(&future, contacts.iter().copied()).err(),
        Some(PersistError::UnknownVersion(0x7f))
    );
    let mut old = contacts[0].to_vec();
    old[0] = 6;
    let mut some = contacts.clone();
    some[0] = &old;
    assert_eq!(
        read(&parts, &some).err(),
        Some(PersistError::UnknownVersion(6))
    );

    // A contact twice, or one missing whose queue or message in flight the core names.
    let mut twice = contacts.clone();
    twice.push(contacts[2]);
    assert_eq!(
        read(&parts, &twice).err(),
        Some(PersistError::Invalid("a queue stored twice"))
    );
    for i in 0..contacts.len() {
        let mut fewer = contacts.clone();
        fewer.remove(i);
        assert!(read(&parts, &fewer).is_err(), "part {i} missing");
    }
    let mut stray = contacts.clone();
    stray.remove(1);
    stray.push(contacts[0]);
    assert!(read(&parts, &stray).is_err(), "one twice, one missing");
    // A part whose queue is another contact's: Bob's queues spliced after Carol's contact.
    let bob = parts.contacts[0].part.as_bytes();
    let carol = parts.contacts[1].part.as_bytes();
    let bob_queues_at = bob.len() - queue_section_len(bob);
    let carol_queues_at = carol.len() - queue_section_len(carol);
    let mut mixed = carol[..carol_queues_at].to_vec();
    mixed.extend_from_slice(&bob[bob_queues_at..]);
    let r = read(&parts, &[bob, &mixed, contacts[2]]);
    assert_eq!(
        r.err(),
        Some(PersistError::Invalid("a queue in another contact's part"))
    );
}

/// The length of the receive-queue list at the end of a contact part with one queue and no
/// key it is moving to: count 4 ‖ id 16 ‖ relay 32 ‖ seed 32 ‖ owner 1 + 8 ‖ next key flag 1.
fn queue_section_len(part: &[u8]) -> usize {
    let len = 4 + 16 + 32 + 32 + 9 + 1;
    let count_at = part.len() - len;
    assert_eq!(
        part[count_at..count_at + 4],
        1u32.to_be_bytes(),
        "one queue"
    );
    len
}

#[test]
fn an_old_contact_part_beside_a_newer_core_is_refused() {
    // Storage that replays one contact's older record (its ratchet rolled back, so that keys
    // would be used twice) beside today's core, or today's contact records beside an older
    // core: the core names the exact part of every contact, so either is refused.
    let (ids, before, after) = before_and_after_a_message_from_carol();
    let (old, new) = (contact_bytes(&before), contact_bytes(&after));
    assert_ne!(old[1], new[1], "Carol's part moved on");
    assert_eq!(ids.len(), 3);
    let replayed = [new[0], old[1], new[2]];
    assert_eq!(
        read(&after, &replayed).err(),
        Some(PersistError::Invalid(
            "a contact part that is not the core's"
        ))
    );
    assert_eq!(
        read(&before, &new).err(),
        Some(PersistError::Invalid(
            "a contact part that is not the core's"
        ))
    );
    // Each consistent set still reads.
    read(&before, &old).unwrap();
    read(&after, &new).unwrap();
}

#[test]
fn a_contacts_queue_in_the_core_is_refused() {
    // Bob's receive queue moved from his part into the core (a list the core keeps for the
    // queues of our invitations): one state, one encoding, so refused.
    let (w, _) = alice_with_three();
    let parts = parts_of(&w.clients[0]);
    let contacts = contact_bytes(&parts);
    let bob = contacts[0];
    let at = bob.len() - queue_section_len(bob);
    let mut bob_alone = bob[..at].to_vec();
    bob_alone.extend_from_slice(&0u32.to_be_bytes());
    let entry = &bob[at + 4..];
    let core = parts.core.as_bytes();
    let queues_at = core_queues_at(core);
    assert_eq!(
        core[queues_at..queues_at + 4],
        0u32.to_be_bytes(),
        "no invitation queue"
    );
    let mut moved = core[..queues_at].to_vec();
    moved.extend_from_slice(&1u32.to_be_bytes());
    moved.extend_from_slice(entry);
    moved.extend_from_slice(&core[queues_at + 4..]);
    let r = Client::from_parts(&moved, [&bob_alone[..], contacts[1], contacts[2]]);
    assert_eq!(
        r.err(),
        Some(PersistError::Invalid("a contact's queue in the core"))
    );
}

/// Where the core's receive-queue list starts: mark 1 ‖ version 1 ‖ config 19 ‖ relays
/// (4 + 64 each) ‖ gateway 32 ‖ connection tag 16 ‖ name (2 + n) ‖ unused 8 ‖ next contact 8.
fn core_queues_at(core: &[u8]) -> usize {
    let u32_at = |i: usize| u32::from_be_bytes(core[i..i + 4].try_into().unwrap()) as usize;
    let relays_at = 2 + 19;
    let name_at = relays_at + 4 + 64 * u32_at(relays_at) + 32 + 16;
    let name_len = usize::from(u16::from_be_bytes([core[name_at], core[name_at + 1]]));
    name_at + 2 + name_len + 8 + 8
}

/// Random sequences of the client's public operations on three clients (messages, names,
/// disappearing timers, verification marks, invitations made, cancelled and taken up,
/// reopening from the whole state or from the parts, a restore from the recovery words,
/// time passing): at every point where a driver writes, the
/// parts `Client::to_changed_parts` hands out, stored as a driver stores them, are exactly a
/// full `Client::to_parts` (the check is in `World::step`: `assert_changed_parts_complete`).
#[test]
fn changed_parts_are_every_changed_part_under_random_operations() {
    use rand_core::Rng as _;
    for seed in 0..4u64 {
        let mut w = World::new(0xD1E7 + seed, 0, &["Alice", "Bob", "Carol"]);
        w.introduce(0, 1);
        let mut invitations: Vec<(usize, u64, sotto_proto::invitation::Invitation)> = Vec::new();
        let mut handles: Vec<(usize, u64)> = Vec::new();
        for _ in 0..40 {
            let who = (w.rng.next_u32() % 3) as usize;
            let now = w.client_now(who);
            let contacts: Vec<u64> = w.clients[who].contact_ids().collect();
            let pick = contacts
                .get(w.rng.next_u32() as usize % contacts.len().max(1))
                .copied();
            let c = &mut w.clients[who];
            match (w.rng.next_u32() % 12, pick) {
                (0, Some(to)) => {
                    let _ = c.send_text(&mut w.rng, to, "hi", now);
                }
                (1, _) => {
                    let name = ["Al", "Bea", "Cy"][w.rng.next_u32() as usize % 3];
                    let _ = c.set_display_name(&mut w.rng, name, now);
                }
                (2, Some(to)) => {
                    let secs = [0, 60, 3600][w.rng.next_u32() as usize % 3];
                    let _ = c.set_disappearing(&mut w.rng, to, secs, now);
                }
                (3, Some(to)) => {
                    let code = c.security_code(to).unwrap().display();
                    assert!(c.verify_contact(to, &code).unwrap());
                }
                (4, Some(to)) => c.unverify_contact(to).unwrap(),
                (5, _) => {
                    if let Ok(handle) = c.create_invitation(&mut w.rng, now) {
                        handles.push((who, handle));
                    }
                }
                (6, _) => {
                    if let Some(i) = handles.iter().position(|(h, _)| *h == who) {
                        c.cancel_invitation(handles.remove(i).1);
                    }
                }
                (7, _) => {
                    if let Some(i) = invitations.iter().position(|(from, ..)| *from != who) {
                        let (_, _, invitation) = invitations.remove(i);
                        let _ = c.accept_invitation(&mut w.rng, invitation, now);
                    }
                }
                (8, _) => {
                    let saved = c.to_persisted();
                    *c = Client::from_persisted(saved.as_bytes()).unwrap();
                    c.connected(&mut w.rng, now);
                }
                // Reopened from its parts, as a driver does: nothing marked, every kept digest
                // the stored part's; what changes from here on must be marked.
                (9, _) => {
                    *c = reopened_from_parts(c, &mut w.stored_parts[who]);
                    c.connected(&mut w.rng, now);
                }
                // Restored from its recovery words on a new device (its queues move to new
                // keys on the relays' answers), then reopened from its parts before those
                // answers come.
                (10, _) => {
                    let saved = c.to_persisted();
                    let rekey = common::rekey_secret(u8::try_from(who).unwrap() + 1);
                    let restored =
                        Client::restored(&mut w.rng, saved.as_bytes(), 0, now, rekey).unwrap();
                    *c = reopened_from_parts(&restored, &mut w.stored_parts[who]);
                    c.connected(&mut w.rng, now);
                }
                _ => {}
            }
            let from: Vec<usize> = w.events.iter().map(Vec::len).collect();
            let steps = 20 + w.rng.next_u32() % 400;
            for _ in 0..steps {
                w.step();
            }
            for (i, events) in w.events.iter().enumerate() {
                for e in &events[from[i]..] {
                    if let Event::InvitationReady { handle, invitation } = e {
                        invitations.push((i, *handle, *invitation));
                    }
                }
            }
        }
        w.run_until(60, |_| false);
        for i in 0..3 {
            common::assert_changed_parts_complete(&mut w.clients[i], &mut w.stored_parts[i]);
        }
        assert!(
            w.clients
                .iter()
                .map(|c| c.contact_ids().count())
                .sum::<usize>()
                >= 2,
            "the sequence made contacts"
        );
    }
}

/// `c` read back from its parts ([`Client::from_parts_digested`]), with `stored` (what a
/// driver holds of its parts) made the digests read.
fn reopened_from_parts(
    c: &Client,
    stored: &mut std::collections::BTreeMap<u64, sotto_proto::client::PartDigest>,
) -> Client {
    let parts = c.to_parts();
    let (client, digests) = Client::from_parts_digested(
        parts.core.as_bytes(),
        parts.contacts.iter().map(|p| p.part.as_bytes()),
    )
    .unwrap();
    *stored = digests.into_iter().collect();
    client
}

/// Time passing (subscriptions renewed, reply blocks replaced, Acks) hands out no contact's
/// part; a message from Carol, hers alone.
#[test]
fn only_the_changed_contacts_parts_are_handed_out() {
    let (mut w, ids) = alice_with_three();
    w.run_until(60, |w| w.clients[0].unsent_messages() == 0);
    w.run_until(5, |_| false);
    w.handed_parts[0].clear();
    // Several rounds of re-subscriptions (every 10 s in the simulation).
    w.run_until(40, |_| false);
    assert_eq!(w.handed_parts[0], [0u64; 0], "time alone changes no part");
    one_more_from_carol(&mut w);
    w.run_until(5, |_| false);
    assert!(!w.handed_parts[0].is_empty());
    assert!(
        w.handed_parts[0].iter().all(|id| *id == ids[1]),
        "only Carol's part: {:?}",
        w.handed_parts[0]
    );
    // `also` hands out the parts a driver does not know, changed or not.
    let again: Vec<u64> = w.clients[0]
        .to_changed_parts([ids[0], ids[2]])
        .contacts
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(again, [ids[0], ids[2]]);
}

/// A profile stored in parts by layout version 8 (`tests/fixtures/client-v8-*.bin`: Alice
/// after 40 messages from Bob) reads; its contact's part, of the older layout, is handed out
/// by the first `to_changed_parts` (its stored bytes are not what the client encodes now),
/// in the current layout and 512 bytes shorter (32 ids and 32 body tags of 8 bytes, not 16),
/// and what a driver then stores is the full encoding; the next call hands out nothing more.
#[test]
fn a_version_8_profile_in_parts_is_written_again_in_the_current_layout() {
    let core = include_bytes!("fixtures/client-v8-core.bin");
    let part = include_bytes!("fixtures/client-v8-contact.bin");
    assert_eq!((core[1], part[0]), (8, 8));
    let (mut client, digests) = Client::from_parts_digested(core, [&part[..]]).unwrap();
    let mut stored: std::collections::BTreeMap<_, _> = digests.into_iter().collect();
    let handed = common::assert_changed_parts_complete(&mut client, &mut stored);
    assert_eq!(handed.len(), 1);
    let now = client.to_parts();
    assert_eq!(
        now.contacts[0].part.as_bytes()[0],
        sotto_proto::client::CLIENT_STATE_VERSION
    );
    assert_eq!(now.contacts[0].part.as_bytes().len(), part.len() - 512);
    assert_eq!(
        common::assert_changed_parts_complete(&mut client, &mut stored),
        [0u64; 0]
    );
    assert_parts_round_trip(&client);
}
