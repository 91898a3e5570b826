//! Verifying a contact: both sides of one handshake see one security code, a person in the
//! middle of the invitation shows as two different codes, and the verified mark survives a
//! restart but not a change of the code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::World;
use sotto_proto::client::{Client, Event};

#[test]
fn both_sides_see_one_code_and_the_mark_survives_a_restart() {
    let mut world = World::new(0x5afe, 0, &["Alice", "Bob"]);
    let (bob_at_alice, alice_at_bob) = world.connect();
    let alices = world.clients[0].security_code(bob_at_alice).unwrap();
    let bobs = world.clients[1].security_code(alice_at_bob).unwrap();
    assert_eq!(alices, bobs, "one handshake, one code");
    assert!(!world.clients[1].is_verified(alice_at_bob));

    // A wrong code (another conversation's) changes nothing.
    let other = sotto_proto::verify::SecurityCode::from_associated_data(&[9; 64]);
    assert!(
        !world.clients[1]
            .verify_contact(alice_at_bob, &other.qr_payload())
            .unwrap()
    );
    assert!(!world.clients[1].is_verified(alice_at_bob));

    // Bob scans Alice's QR code; Alice types Bob's digits.
    assert!(
        world.clients[1]
            .verify_contact(alice_at_bob, &alices.qr_payload())
            .unwrap()
    );
    assert!(
        world.clients[0]
            .verify_contact(bob_at_alice, &bobs.display())
            .unwrap()
    );
    assert!(world.clients[1].is_verified(alice_at_bob));

    let saved = world.clients[1].to_persisted();
    let mut restored = Client::from_persisted(saved.as_bytes()).unwrap();
    assert!(restored.is_verified(alice_at_bob));
    assert!(
        restored.poll_event().is_none(),
        "no warning for an unchanged code"
    );

    // The mark is the code's: a state whose kept fingerprint no longer matches the code
    // loads unverified, with a warning.
    let fingerprint = bobs.fingerprint();
    let mut bytes = saved.as_bytes().to_vec();
    let at = bytes
        .windows(32)
        .position(|w| w == fingerprint)
        .expect("the fingerprint is kept");
    bytes[at] ^= 1;
    let mut changed = Client::from_persisted(&bytes).unwrap();
    assert!(!changed.is_verified(alice_at_bob));
    assert!(matches!(
        changed.poll_event(),
        Some(Event::SecurityCodeChanged { contact }) if contact == alice_at_bob
    ));

    // Unverify takes the mark off, and it stays off.
    world.clients[1].unverify_contact(alice_at_bob).unwrap();
    assert!(!world.clients[1].is_verified(alice_at_bob));
    let again = Client::from_persisted(world.clients[1].to_persisted().as_bytes()).unwrap();
    assert!(!again.is_verified(alice_at_bob));
}

/// Eve got Alice's one-time link on its way to Bob: she accepts it herself and hands Bob a
/// link of her own. Both conversations work, but the codes Alice and Bob see differ, so
/// comparing them (in person, or by scanning) exposes her.
#[test]
fn a_person_in_the_middle_shows_as_two_codes() {
    let mut world = World::new(0xe7e, 0, &["Alice", "Bob", "Eve"]);
    let (eve_at_alice, _) = world.introduce(0, 2);
    let (_, eve_at_bob) = world.introduce(2, 1);
    let alices = world.clients[0].security_code(eve_at_alice).unwrap();
    let bobs = world.clients[1].security_code(eve_at_bob).unwrap();
    assert_ne!(alices, bobs);
    assert!(
        !world.clients[1]
            .verify_contact(eve_at_bob, &alices.qr_payload())
            .unwrap()
    );
    assert!(
        !world.clients[0]
            .verify_contact(eve_at_alice, &bobs.display())
            .unwrap()
    );
    assert!(!world.clients[0].is_verified(eve_at_alice));
    assert!(!world.clients[1].is_verified(eve_at_bob));
}
