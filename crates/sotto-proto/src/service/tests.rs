use super::*;
use crate::keys::AuthKeyPair;
use crate::onion::{ConnTag, Hop, RelayKey, build_surb};
use crate::queue::Request;
use crate::sizes::QUEUE_MESSAGE_SIZE;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const NOW: u64 = 1_800_000_000;

struct Fixture {
    rng: ChaCha20Rng,
    route: Vec<Hop>,
    service: QueueService<MemoryStore>,
}

impl Fixture {
    fn new(config: ServiceConfig) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let key = RelayKey::generate(&mut rng, 1);
        let hop = Hop {
            id: RelayId::random(&mut rng),
            key: key.public_key(),
        };
        Self {
            rng,
            route: vec![hop; 3],
            service: QueueService::new(MemoryStore::new(), config),
        }
    }

    fn surb(&mut self) -> Surb {
        let conn = ConnTag::random(&mut self.rng);
        build_surb(&mut self.rng, &self.route, conn).unwrap().0
    }

    fn request(&mut self, command: Command, signer: Option<&AuthKeyPair>) -> Vec<u8> {
        let reply = self.surb();
        Request {
            request_id: 7,
            reply,
            command,
        }
        .encode(signer)
        .unwrap()
    }

    fn run(&mut self, payload: &[u8], now: u64) -> Handled {
        self.service.handle(payload, now, &mut self.rng)
    }

    /// Creates a queue; returns (recipient key, recipient id, sender id).
    fn create(&mut self) -> (AuthKeyPair, QueueId, QueueId) {
        let key = AuthKeyPair::generate(&mut self.rng);
        let reply = self.surb();
        let bits = self.service.config().pow_bits;
        let payload = Request::create(1, reply, &key, NOW, bits).unwrap();
        assert_eq!(self.run(&payload, NOW).outcome, Outcome::Ok);
        let recipient_id = recipient_id_for(&key.public_key());
        let queue = self.service.store().queue(&recipient_id).unwrap().unwrap();
        (key, recipient_id, queue.sender_id)
    }
}

fn config() -> ServiceConfig {
    ServiceConfig {
        pow_bits: 4,
        queue_quota: 2,
        ..ServiceConfig::default()
    }
}

fn message(byte: u8) -> Vec<u8> {
    vec![byte; QUEUE_MESSAGE_SIZE]
}

#[test]
fn undecodable_requests_are_dropped_without_an_answer() {
    let mut f = Fixture::new(config());
    for junk in [&b""[..], &[1u8; 10][..], &[0xffu8; 4000][..]] {
        let handled = f.run(junk, NOW);
        assert_eq!(handled.outcome, Outcome::Dropped);
        assert!(handled.outgoing.is_empty());
    }
}

#[test]
fn create_needs_enough_work_and_a_fresh_timestamp_and_is_idempotent() {
    let mut f = Fixture::new(ServiceConfig {
        pow_bits: 12,
        ..config()
    });
    let key = AuthKeyPair::generate(&mut f.rng);
    let reply = f.surb();
    let cheap = Request::create(1, reply, &key, NOW, 0).unwrap();
    // 0 bits of work pass 12 bits only by a 1-in-4096 chance; the seed is fixed.
    assert_eq!(f.run(&cheap, NOW).outcome, Outcome::Refused(ErrorCode::Pow));
    let reply = f.surb();
    let stale = Request::create(1, reply, &key, NOW - 3600, 12).unwrap();
    assert_eq!(
        f.run(&stale, NOW).outcome,
        Outcome::Refused(ErrorCode::Expired)
    );
    let (_, first, sender) = f.create();
    assert!(f.service.store().queue(&first).unwrap().is_some());
    assert_ne!(first, sender);
}

#[test]
fn only_the_first_sender_key_secures_and_only_it_can_send() {
    let mut f = Fixture::new(config());
    let (_, recipient_id, sender_id) = f.create();
    let bob = AuthKeyPair::generate(&mut f.rng);
    let mallory = AuthKeyPair::generate(&mut f.rng);

    let send = |key: &AuthKeyPair, f: &mut Fixture| {
        let p = f.request(
            Command::Send {
                sender_id,
                message: message(1),
            },
            Some(key),
        );
        f.run(&p, NOW).outcome
    };
    assert_eq!(
        send(&bob, &mut f),
        Outcome::Refused(ErrorCode::Auth),
        "unsecured"
    );

    let secure = |key: &AuthKeyPair, f: &mut Fixture| {
        let p = f.request(
            Command::Secure {
                sender_id,
                sender_key: key.public_key(),
            },
            Some(key),
        );
        f.run(&p, NOW).outcome
    };
    assert_eq!(secure(&bob, &mut f), Outcome::Ok);
    assert_eq!(secure(&bob, &mut f), Outcome::Ok, "a retry by the same key");
    assert_eq!(secure(&mallory, &mut f), Outcome::Refused(ErrorCode::Auth));
    assert_eq!(send(&mallory, &mut f), Outcome::Refused(ErrorCode::Auth));
    assert_eq!(send(&bob, &mut f), Outcome::Ok);
    assert_eq!(f.service.store().message_count(&recipient_id).unwrap(), 1);
}

#[test]
fn quota_refuses_and_ack_deletes() {
    let mut f = Fixture::new(config());
    let (recipient, recipient_id, sender_id) = f.create();
    let bob = AuthKeyPair::generate(&mut f.rng);
    let p = f.request(
        Command::Secure {
            sender_id,
            sender_key: bob.public_key(),
        },
        Some(&bob),
    );
    assert_eq!(f.run(&p, NOW).outcome, Outcome::Ok);
    for (i, expected) in [
        Outcome::Ok,
        Outcome::Ok,
        Outcome::Full(Limit::QueueMessages),
    ]
    .into_iter()
    .enumerate()
    {
        let p = f.request(
            Command::Send {
                sender_id,
                message: message(i as u8),
            },
            Some(&bob),
        );
        assert_eq!(f.run(&p, NOW).outcome, expected, "send {i}");
    }
    // The recipient subscribes: the oldest message goes out through one SURB.
    let surbs = vec![f.surb(), f.surb()];
    let p = f.request(
        Command::Subscribe {
            recipient_id,
            surbs,
        },
        Some(&recipient),
    );
    let handled = f.run(&p, NOW);
    assert_eq!(handled.outcome, Outcome::Ok);
    assert_eq!(handled.outgoing.len(), 2, "the answer and one delivery");
    let oldest = f
        .service
        .store()
        .oldest_message(&recipient_id)
        .unwrap()
        .unwrap();
    // A stranger cannot ack; the owner can, and the message is gone.
    let stranger = AuthKeyPair::generate(&mut f.rng);
    let ack = |key: &AuthKeyPair, f: &mut Fixture| {
        let p = f.request(
            Command::Ack {
                recipient_id,
                message_id: oldest.id,
                surbs: Vec::new(),
            },
            Some(key),
        );
        f.run(&p, NOW)
    };
    assert_eq!(
        ack(&stranger, &mut f).outcome,
        Outcome::Refused(ErrorCode::Auth)
    );
    let handled = ack(&recipient, &mut f);
    assert_eq!(handled.outcome, Outcome::Ok);
    assert_eq!(
        handled.outgoing.len(),
        2,
        "the answer and the next delivery"
    );
    assert_eq!(f.service.store().message_count(&recipient_id).unwrap(), 1);
    assert_eq!(
        ack(&recipient, &mut f).outcome,
        Outcome::Refused(ErrorCode::NoMessage)
    );
}

#[test]
fn expired_messages_and_blobs_are_swept() {
    let mut f = Fixture::new(config());
    let (_, recipient_id, _) = f.create();
    let store = f.service.store_mut();
    store
        .push_message(
            &recipient_id,
            &StoredMessage {
                id: QueueMessageId::from_bytes([1; 16]),
                received_at: NOW,
                body: message(0),
            },
        )
        .unwrap();
    store
        .put_blob_chunk(&BlobId::from_bytes([2; 16]), 0, b"chunk", NOW + 10)
        .unwrap();
    let ttl = f.service.config().message_ttl;
    let (swept, _) = f.service.tick(NOW + 11).unwrap();
    assert_eq!(
        swept,
        Swept {
            messages: 0,
            blob_chunks: 1
        }
    );
    let (swept, _) = f.service.tick(NOW + ttl + 1).unwrap();
    assert_eq!(swept.messages, 1);
    assert_eq!(f.service.store().total_messages(), 0);
}
