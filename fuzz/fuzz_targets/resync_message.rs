#![no_main]
//! The two resync message parsers against one fixed session built from a seed.
//!
//! The first input byte picks a mode:
//! - 0: the rest is a whole message read as a resync request (`ResyncRequest::parse`);
//! - 1: the rest is a whole message opened as the accept of a fixed request
//!   (`Session::open_resync_accept`);
//! - otherwise: bytes 1..3 are an offset and the rest is XORed into a valid request (odd mode)
//!   or a valid accept (even mode); any real change to what is authenticated must be refused.
//!
//! Neither may panic; opening an accept never changes the session it is opened on.
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sotto_proto::envelope::{Content, Envelope};
use sotto_proto::handshake::{InvitationSecret, accept_invitation};
use sotto_proto::ids::{QueueId, RelayId};
use sotto_proto::invitation::InvitationKind;
use sotto_proto::keys::KeyPair;
use sotto_proto::ratchet::Session;
use sotto_proto::ratchet::resync::{REQUEST_LEN, ResyncRequest, ResyncSecret};

const NOW: u64 = 1_800_000_000;

struct Fixture {
    alice_state: Vec<u8>,
    secret: ResyncSecret,
    ours: KeyPair,
    request: ResyncRequest,
    request_bytes: Vec<u8>,
    accept: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(0x5e5c);
        let (relay, queue) = (RelayId::random(&mut rng), QueueId::random(&mut rng));
        let invitation =
            InvitationSecret::create(&mut rng, InvitationKind::OneTime, relay, queue, NOW);
        let inv = *invitation.invitation();
        let acc = accept_invitation(&mut rng, &inv, relay, queue, "Bob", NOW).unwrap();
        let (alice, _, _) = invitation
            .receive_hello(&mut rng, &acc.first_message, NOW)
            .unwrap();
        let secret = acc.resync_secret.clone();
        let ours = KeyPair::generate(&mut rng);
        let request = ResyncRequest::new(&mut rng, ours.public);
        let request_bytes = request.encode(&mut rng, &secret, alice.associated_data());
        let plain = Envelope::new(&mut rng, NOW, Content::Text("x".into()))
            .encode()
            .unwrap();
        let (_, accept) = acc
            .session
            .accept_resync(&mut rng, &secret, &request, &plain)
            .unwrap();
        Fixture {
            alice_state: alice.to_persisted().as_bytes().to_vec(),
            secret,
            ours,
            request,
            request_bytes,
            accept,
        }
    })
}

fn open(f: &Fixture, alice: &Session, msg: &[u8]) -> bool {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let ok = alice
        .open_resync_accept(&mut rng, &f.secret, &f.request, &f.ours, msg)
        .is_ok();
    assert_eq!(alice.to_persisted().as_bytes(), &f.alice_state[..]);
    ok
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let alice = Session::from_persisted(&f.alice_state).unwrap();
    let ad = *alice.associated_data();
    match mode {
        0 => {
            let _ = ResyncRequest::parse(rest, &f.secret, &ad);
        }
        1 => {
            let _ = open(f, &alice, rest);
        }
        _ => {
            let Some((off, xor)) = rest.split_at_checked(2) else {
                return;
            };
            let base = if mode % 2 == 1 { &f.request_bytes } else { &f.accept };
            let mut msg = base.clone();
            let off = usize::from(u16::from_be_bytes([off[0], off[1]])) % msg.len();
            for (b, x) in msg[off..].iter_mut().zip(xor) {
                *b ^= x;
            }
            if mode % 2 == 1 {
                if ResyncRequest::parse(&msg, &f.secret, &ad).is_ok() {
                    assert_eq!(&msg[..REQUEST_LEN], &base[..REQUEST_LEN], "a forged request");
                }
            } else if open(f, &alice, &msg) {
                assert_eq!(&msg, base, "a modified accept was accepted");
            }
        }
    }
});
