#![no_main]
//! Ratchet and handshake decryption against a fixed session built from a seed.
//!
//! The first input byte picks a mode:
//! - 0: the rest is a whole message for Alice's established session;
//! - 1: the rest is a whole message for the invitation (a hello);
//! - otherwise: bytes 1..3 are an offset and the rest is XORed into one of three valid
//!   messages (picked by the mode byte) for Alice's session; any real change must be rejected.
//!
//! Every rejection must leave the session exactly as it was.
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sotto_proto::envelope::{Content, Envelope};
use sotto_proto::handshake::{InvitationSecret, accept_invitation};
use sotto_proto::ids::{QueueId, RelayId};
use sotto_proto::invitation::InvitationKind;

const NOW: u64 = 1_800_000_000;

struct Fixture {
    invitation: InvitationSecret,
    alice_state: Vec<u8>,
    valid: Vec<Vec<u8>>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(0x5077_0f22);
        let relay = RelayId::random(&mut rng);
        let queue = QueueId::random(&mut rng);
        let invitation =
            InvitationSecret::create(&mut rng, InvitationKind::OneTime, relay, queue, NOW);
        let reply_relay = RelayId::random(&mut rng);
        let reply_queue = QueueId::random(&mut rng);
        let inv = *invitation.invitation();
        let mut acc =
            accept_invitation(&mut rng, &inv, reply_relay, reply_queue, "Bob", NOW).unwrap();
        let (mut alice, _, _) = invitation
            .receive_hello(&mut rng, &acc.first_message, NOW)
            .unwrap();
        let text =
            |rng: &mut ChaCha20Rng, s: &str| Envelope::new(rng, NOW, Content::Text(s.into()));
        // Bob: one more message in his first chain, held back (a skipped key at Alice).
        let e = text(&mut rng, "held back");
        let held = acc.session.send(&mut rng, &e).unwrap();
        let e = text(&mut rng, "in chain");
        let in_chain = acc.session.send(&mut rng, &e).unwrap();
        alice.receive(&mut rng, &in_chain).unwrap();
        // Alice replies; Bob's next message starts a new chain, not yet delivered.
        let e = text(&mut rng, "reply");
        let reply = alice.send(&mut rng, &e).unwrap();
        acc.session.receive(&mut rng, &reply).unwrap();
        let e = text(&mut rng, "new chain");
        let new_chain = acc.session.send(&mut rng, &e).unwrap();
        let e = text(&mut rng, "in chain 2");
        let _ = acc.session.send(&mut rng, &e).unwrap();
        Fixture {
            invitation,
            alice_state: alice.to_persisted().as_bytes().to_vec(),
            valid: vec![held, new_chain, acc.first_message],
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut alice = sotto_proto::ratchet::Session::from_persisted(&f.alice_state).unwrap();
    match mode {
        0 => {
            if alice.decrypt(&mut rng, rest).is_err() {
                assert_eq!(alice.to_persisted().as_bytes(), &f.alice_state[..]);
            }
        }
        1 => {
            let _ = f.invitation.receive_hello(&mut rng, rest, NOW);
        }
        _ => {
            let Some((off, xor)) = rest.split_at_checked(2) else {
                return;
            };
            let base = &f.valid[usize::from(mode) % f.valid.len()];
            let mut msg = base.clone();
            let off = usize::from(u16::from_be_bytes([off[0], off[1]])) % msg.len();
            for (b, x) in msg[off..].iter_mut().zip(xor) {
                *b ^= x;
            }
            match alice.decrypt(&mut rng, &msg) {
                Ok(_) => assert_eq!(&msg, base, "a modified message was accepted"),
                Err(_) => assert_eq!(alice.to_persisted().as_bytes(), &f.alice_state[..]),
            }
        }
    }
});
