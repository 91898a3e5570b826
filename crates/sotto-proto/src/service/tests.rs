use super::*;
use crate::keys::AuthKeyPair;
use crate::onion::{
    ConnTag, Hop, MemoryReplayCache, Processed, RelayKey, RelayKeys, SurbOpener, build_surb,
    process,
};
use crate::queue::Request;
use crate::sizes::QUEUE_MESSAGE_SIZE;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

pub(super) const NOW: u64 = 1_800_000_000;

pub(super) struct Fixture {
    pub(super) rng: ChaCha20Rng,
    pub(super) route: Vec<Hop>,
    /// This relay and the epoch of the key that peels its packets.
    pub(super) scope: Scope,
    pub(super) keys: RelayKeys,
    pub(super) service: QueueService<MemoryStore>,
}

impl Fixture {
    pub(super) fn new(config: ServiceConfig) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let key = RelayKey::generate(&mut rng, 1);
        let hop = Hop {
            id: RelayId::random(&mut rng),
            key: key.public_key(),
        };
        Self {
            rng,
            scope: Scope {
                relay: hop.id,
                key_epoch: 1,
            },
            route: vec![hop; 3],
            keys: RelayKeys::new(key),
            service: QueueService::new(MemoryStore::new(), config),
        }
    }

    pub(super) fn surb(&mut self) -> Surb {
        let conn = ConnTag::random(&mut self.rng);
        build_surb(&mut self.rng, &self.route, conn).unwrap().0
    }

    pub(super) fn request(&mut self, command: Command, signer: Option<&AuthKeyPair>) -> Vec<u8> {
        // A quiet Ack carries no reply block.
        let reply = command.answered().then(|| self.surb());
        Request {
            request_id: 7,
            reply,
            command,
        }
        .encode(signer)
        .unwrap()
    }

    pub(super) fn run(&mut self, payload: &[u8], now: u64) -> Handled {
        let scope = self.scope;
        self.run_at(payload, &scope, now)
    }

    /// Runs a request as if peeled by the key of `scope.key_epoch` at `scope.relay`.
    pub(super) fn run_at(&mut self, payload: &[u8], scope: &Scope, now: u64) -> Handled {
        self.service.handle(payload, scope, now, &mut self.rng)
    }

    /// A Create for `key` at `timestamp`, request id `id`, with work solved for `scope`.
    pub(super) fn create_for(
        &mut self,
        key: &AuthKeyPair,
        id: u64,
        timestamp: u64,
        scope: &Scope,
    ) -> Vec<u8> {
        self.create_with_opener(key, id, timestamp, scope).0
    }

    pub(super) fn create_with_opener(
        &mut self,
        key: &AuthKeyPair,
        id: u64,
        timestamp: u64,
        scope: &Scope,
    ) -> (Vec<u8>, SurbOpener) {
        let conn = ConnTag::random(&mut self.rng);
        let (reply, opener) = build_surb(&mut self.rng, &self.route, conn).unwrap();
        let bits = self.service.pow_bits();
        let payload = Request::create(id, reply, key, timestamp, bits, scope).unwrap();
        (payload, opener)
    }

    /// Carries the answer (the first outgoing packet) along its reply route and opens it.
    pub(super) fn answer(&self, handled: &Handled, opener: &SurbOpener) -> ResponseBody {
        let mut packet = handled.outgoing[0].packet.clone();
        let mut replay = MemoryReplayCache::new(16);
        loop {
            match process(packet.as_bytes(), &self.keys, &mut replay).unwrap() {
                Processed::Forward { packet: next, .. } => packet = next,
                Processed::ToClient { sealed, .. } => {
                    let bytes = opener.open(&sealed).unwrap();
                    return crate::queue::Response::decode(&bytes).unwrap().body;
                }
                Processed::Deliver { .. } => panic!("an answer is never delivered"),
            }
        }
    }

    /// Creates a queue; returns (recipient key, recipient id, sender id).
    pub(super) fn create(&mut self) -> (AuthKeyPair, QueueId, QueueId) {
        let key = AuthKeyPair::generate(&mut self.rng);
        let scope = self.scope;
        let payload = self.create_for(&key, 1, NOW, &scope);
        assert_eq!(self.run(&payload, NOW).outcome, Outcome::Ok);
        let recipient_id = recipient_id_for(&key.public_key());
        let queue = self.service.store().queue(&recipient_id).unwrap().unwrap();
        (key, recipient_id, queue.sender_id)
    }
}

pub(super) fn config() -> ServiceConfig {
    ServiceConfig {
        pow_bits: 4,
        queue_quota: 2,
        ..ServiceConfig::default()
    }
}

pub(super) fn message(byte: u8) -> Vec<u8> {
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
    let scope = f.scope;
    let cheap = Request::create(1, reply, &key, NOW, 0, &scope).unwrap();
    // 0 bits of work pass 12 bits only by a 1-in-4096 chance; the seed is fixed.
    assert_eq!(f.run(&cheap, NOW).outcome, Outcome::Refused(ErrorCode::Pow));
    let reply = f.surb();
    let stale = Request::create(1, reply, &key, NOW - 3600, 12, &scope).unwrap();
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
    let (recipient, recipient_id, sender_id, bob) = secured(&mut f);
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
                quiet: false,
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

/// A queue whose sender key is set: (recipient key, recipient id, sender id, sender key).
pub(super) fn secured(f: &mut Fixture) -> (AuthKeyPair, QueueId, QueueId, AuthKeyPair) {
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
    (recipient, recipient_id, sender_id, bob)
}

pub(super) fn send(
    f: &mut Fixture,
    sender_id: QueueId,
    bob: &AuthKeyPair,
    body: Vec<u8>,
) -> Outcome {
    let p = f.request(
        Command::Send {
            sender_id,
            message: body,
        },
        Some(bob),
    );
    f.run(&p, NOW).outcome
}

pub(super) fn subscribe(
    f: &mut Fixture,
    key: &AuthKeyPair,
    recipient_id: QueueId,
    n: usize,
    now: u64,
) -> Handled {
    let surbs = (0..n).map(|_| f.surb()).collect();
    let p = f.request(
        Command::Subscribe {
            recipient_id,
            surbs,
        },
        Some(key),
    );
    f.run(&p, now)
}

fn ack(
    f: &mut Fixture,
    key: &AuthKeyPair,
    recipient_id: QueueId,
    message_id: QueueMessageId,
    n: usize,
) -> Outcome {
    ack_handing(f, key, (recipient_id, message_id), n, false).outcome
}

/// Acks `(queue, message)` signed by `key`, handing over `n` fresh SURBs; `quiet`: without a
/// reply block (tag 0x0a).
pub(super) fn ack_handing(
    f: &mut Fixture,
    key: &AuthKeyPair,
    (recipient_id, message_id): (QueueId, QueueMessageId),
    n: usize,
    quiet: bool,
) -> Handled {
    let surbs = (0..n).map(|_| f.surb()).collect();
    let p = f.request(
        Command::Ack {
            recipient_id,
            message_id,
            surbs,
            quiet,
        },
        Some(key),
    );
    f.run(&p, NOW)
}

fn blob_put(f: &mut Fixture, blob_id: BlobId, index: u32) -> Outcome {
    let challenge = crate::queue::blob_challenge(&f.scope, &blob_id);
    let pow_nonce = crate::pow::solve(&challenge, f.service.config().pow_bits).unwrap();
    let p = f.request(
        Command::BlobPut {
            blob_id,
            index,
            pow_nonce,
            data: vec![index as u8; 100],
        },
        None,
    );
    f.run(&p, NOW).outcome
}

#[test]
fn the_relay_holds_at_most_max_queues_and_a_retried_create_still_answers() {
    let mut f = Fixture::new(ServiceConfig {
        max_queues: 2,
        ..config()
    });
    let (key, _, _) = f.create();
    f.create();
    let other = AuthKeyPair::generate(&mut f.rng);
    let scope = f.scope;
    let p = f.create_for(&other, 1, NOW, &scope);
    assert_eq!(f.run(&p, NOW).outcome, Outcome::Full(Limit::Queues));
    assert_eq!(f.service.store().usage().queues, 2);
    // Refused while full, the work is not spent: the same Create passes once there is room.
    assert_eq!(f.service.spent_challenges(), 2);
    // The answer on the wire is the existing QUOTA code.
    let p = f.create_for(&key, 2, NOW, &scope);
    assert_eq!(f.run(&p, NOW).outcome, Outcome::Ok, "an existing queue");
}

#[test]
fn relay_wide_message_caps_refuse_sends_until_messages_are_acknowledged() {
    let mut f = Fixture::new(ServiceConfig {
        max_messages: 2,
        queue_quota: 10,
        ..config()
    });
    let (alice, a_id, a_sender, bob) = secured(&mut f);
    let (_, _, b_sender, carol) = secured(&mut f);
    assert_eq!(send(&mut f, a_sender, &bob, message(1)), Outcome::Ok);
    assert_eq!(send(&mut f, b_sender, &carol, message(2)), Outcome::Ok);
    assert_eq!(
        send(&mut f, a_sender, &bob, message(3)),
        Outcome::Full(Limit::Messages)
    );
    assert_eq!(f.service.store().usage().messages, 2);
    // Serving the full relay goes on: the recipient reads and acknowledges, and then there
    // is room again.
    let handled = subscribe(&mut f, &alice, a_id, 2, NOW);
    assert_eq!(handled.outcome, Outcome::Ok);
    assert_eq!(handled.outgoing.len(), 2, "the answer and a delivery");
    let oldest = f.service.store().oldest_message(&a_id).unwrap().unwrap();
    assert_eq!(ack(&mut f, &alice, a_id, oldest.id, 0), Outcome::Ok);
    assert_eq!(send(&mut f, a_sender, &bob, message(3)), Outcome::Ok);

    let mut f = Fixture::new(ServiceConfig {
        max_message_bytes: (QUEUE_MESSAGE_SIZE * 3 / 2) as u64,
        queue_quota: 10,
        ..config()
    });
    let (_, _, sender, bob) = secured(&mut f);
    assert_eq!(send(&mut f, sender, &bob, message(1)), Outcome::Ok);
    assert_eq!(
        send(&mut f, sender, &bob, message(2)),
        Outcome::Full(Limit::MessageBytes)
    );
    let usage = f.service.store().usage();
    assert_eq!(
        (usage.messages, usage.message_bytes),
        (1, QUEUE_MESSAGE_SIZE as u64)
    );
}

#[test]
fn the_relay_stores_at_most_max_blob_chunks_total_and_still_serves_them() {
    let mut f = Fixture::new(ServiceConfig {
        max_blob_chunks_total: 2,
        max_blob_chunks: 2,
        ..config()
    });
    let (a, b) = (BlobId::from_bytes([1; 16]), BlobId::from_bytes([2; 16]));
    assert_eq!(blob_put(&mut f, a, 0), Outcome::Ok);
    assert_eq!(blob_put(&mut f, a, 1), Outcome::Ok);
    assert_eq!(
        blob_put(&mut f, a, 1),
        Outcome::Full(Limit::BlobChunksPerBlob)
    );
    assert_eq!(blob_put(&mut f, b, 0), Outcome::Full(Limit::BlobChunks));
    let p = f.request(
        Command::BlobGet {
            blob_id: a,
            index: 1,
        },
        None,
    );
    assert_eq!(f.run(&p, NOW).outcome, Outcome::Ok);
    // Expired chunks make room.
    f.service.tick(NOW + f.service.config().blob_ttl).unwrap();
    assert_eq!(f.service.store().usage().blob_chunks, 0);
    assert_eq!(blob_put(&mut f, b, 0), Outcome::Ok);
}

#[test]
fn surbs_expire_on_tick_and_are_never_used_after_their_ttl() {
    let mut f = Fixture::new(config());
    let ttl = f.service.config().surb_ttl;
    let (alice, id, sender, bob) = secured(&mut f);
    assert_eq!(subscribe(&mut f, &alice, id, 3, NOW).outcome, Outcome::Ok);
    assert_eq!(f.service.surbs_held(), 3);
    f.service.tick(NOW + ttl - 1).unwrap();
    assert_eq!(f.service.surbs_held(), 3, "still valid");
    // A message that arrives once they have expired, before any tick dropped them, is stored
    // and answered but not delivered through them.
    let p = f.request(
        Command::Send {
            sender_id: sender,
            message: message(1),
        },
        Some(&bob),
    );
    let handled = f.run(&p, NOW + ttl);
    assert_eq!(handled.outcome, Outcome::Ok);
    assert_eq!(handled.outgoing.len(), 1, "the answer only");
    assert_eq!(f.service.surbs_held(), 0);
    // Tick drops expired SURBs of idle queues too.
    assert_eq!(
        subscribe(&mut f, &alice, id, 2, NOW + ttl).outcome,
        Outcome::Ok
    );
    assert_eq!(f.service.surbs_held(), 1, "one carried the message");
    let (_, out) = f.service.tick(NOW + 2 * ttl).unwrap();
    assert!(out.is_empty(), "no redelivery through an expired SURB");
    assert_eq!(f.service.surbs_held(), 0);
    // A renewal before expiry keeps the queue served.
    assert_eq!(
        subscribe(&mut f, &alice, id, 2, NOW + 2 * ttl).outcome,
        Outcome::Ok
    );
    assert_eq!(f.service.surbs_held(), 1);
}

#[test]
fn an_ack_for_an_unknown_message_adds_no_surbs_and_answers_no_message() {
    let mut f = Fixture::new(config());
    let (alice, id, _, _) = secured(&mut f);
    assert_eq!(subscribe(&mut f, &alice, id, 1, NOW).outcome, Outcome::Ok);
    for i in 0..20u8 {
        let made_up = QueueMessageId::from_bytes([i; 16]);
        assert_eq!(
            ack(&mut f, &alice, id, made_up, 3),
            Outcome::Refused(ErrorCode::NoMessage)
        );
    }
    assert_eq!(f.service.surbs_held(), 1);
}

#[test]
fn an_ack_cannot_pass_the_per_queue_surb_cap() {
    let mut f = Fixture::new(ServiceConfig {
        max_surbs_per_queue: 3,
        queue_quota: 10,
        ..config()
    });
    let (alice, id, sender, bob) = secured(&mut f);
    for i in 0..3 {
        assert_eq!(send(&mut f, sender, &bob, message(i)), Outcome::Ok);
    }
    assert_eq!(
        subscribe(&mut f, &alice, id, 4, NOW).outcome,
        Outcome::Full(Limit::QueueSurbs)
    );
    assert_eq!(subscribe(&mut f, &alice, id, 3, NOW).outcome, Outcome::Ok);
    assert_eq!(f.service.surbs_held(), 2, "one carried the oldest message");
    // The Ack deletes its message; of its 5 SURBs only one fits (then one carries the next
    // message), and the service says which limit kept the others out.
    let oldest = f.service.store().oldest_message(&id).unwrap().unwrap();
    let surbs = (0..5).map(|_| f.surb()).collect();
    let p = f.request(
        Command::Ack {
            recipient_id: id,
            message_id: oldest.id,
            surbs,
            quiet: false,
        },
        Some(&alice),
    );
    let handled = f.run(&p, NOW);
    assert_eq!(handled.outcome, Outcome::Ok);
    assert_eq!(handled.limited, Some(Limit::QueueSurbs));
    assert_eq!(f.service.store().message_count(&id).unwrap(), 2);
    assert_eq!(
        f.service.surbs_held(),
        2,
        "3 held, one carried the next message"
    );
    // Acks over and over never take the queue past its cap.
    for _ in 0..10 {
        let next = f.service.store().oldest_message(&id).unwrap();
        let Some(next) = next else { break };
        assert_eq!(ack(&mut f, &alice, id, next.id, 9), Outcome::Ok);
        assert!(f.service.surbs_held() <= 3);
    }
    assert_eq!(f.service.store().message_count(&id).unwrap(), 0);
    assert_eq!(f.service.surbs_held(), 3);
}

#[test]
fn the_relay_holds_at_most_max_surbs_and_a_renewal_still_fits() {
    let mut f = Fixture::new(ServiceConfig {
        max_surbs: 4,
        ..config()
    });
    let (alice, a, _, _) = secured(&mut f);
    let (carol, c, _, _) = secured(&mut f);
    assert_eq!(subscribe(&mut f, &alice, a, 3, NOW).outcome, Outcome::Ok);
    assert_eq!(
        subscribe(&mut f, &carol, c, 2, NOW).outcome,
        Outcome::Full(Limit::Surbs)
    );
    assert_eq!(subscribe(&mut f, &carol, c, 1, NOW).outcome, Outcome::Ok);
    assert_eq!(f.service.surbs_held(), 4);
    // Subscribe replaces what the queue holds: a renewal of the same size fits.
    assert_eq!(subscribe(&mut f, &alice, a, 3, NOW).outcome, Outcome::Ok);
    // Delete gives the queue's SURBs back.
    let p = f.request(Command::Delete { recipient_id: a }, Some(&alice));
    assert_eq!(f.run(&p, NOW).outcome, Outcome::Ok);
    assert_eq!(f.service.surbs_held(), 1);
    assert_eq!(f.service.store().usage().queues, 1);
}

#[test]
fn memory_store_usage_follows_every_write() {
    let mut store = MemoryStore::new();
    let q = |b: u8| QueueRecord {
        recipient_id: QueueId::from_bytes([b; 16]),
        sender_id: QueueId::from_bytes([b + 100; 16]),
        recipient_key: AuthKeyPair::generate(&mut ChaCha20Rng::seed_from_u64(b.into()))
            .public_key(),
        sender_key: None,
        created_at: NOW,
    };
    let m = |b: u8, at: u64, len: usize| StoredMessage {
        id: QueueMessageId::from_bytes([b; 16]),
        received_at: at,
        body: vec![b; len],
    };
    let (a, b) = (q(1), q(2));
    store.insert_queue(&a).unwrap();
    store.insert_queue(&a).unwrap();
    store.insert_queue(&b).unwrap();
    store.push_message(&a.recipient_id, &m(1, NOW, 10)).unwrap();
    store
        .push_message(&a.recipient_id, &m(2, NOW + 5, 20))
        .unwrap();
    store.push_message(&b.recipient_id, &m(3, NOW, 40)).unwrap();
    let blob = BlobId::from_bytes([9; 16]);
    store.put_blob_chunk(&blob, 0, b"x", NOW + 1).unwrap();
    store.put_blob_chunk(&blob, 0, b"x", NOW + 1).unwrap();
    store.put_blob_chunk(&blob, 1, b"y", NOW + 9).unwrap();
    let usage = |s: &MemoryStore| {
        let u = s.usage();
        (u.queues, u.messages, u.message_bytes, u.blob_chunks)
    };
    assert_eq!(usage(&store), (2, 3, 70, 2));
    assert!(
        !store
            .remove_message(&a.recipient_id, &QueueMessageId::from_bytes([7; 16]))
            .unwrap()
    );
    assert!(
        store
            .remove_message(&a.recipient_id, &QueueMessageId::from_bytes([2; 16]))
            .unwrap()
    );
    assert_eq!(usage(&store), (2, 2, 50, 2));
    store.sweep(NOW + 2, NOW + 1).unwrap();
    assert_eq!(usage(&store), (2, 0, 0, 1));
    store
        .push_message(&b.recipient_id, &m(4, NOW + 9, 8))
        .unwrap();
    store.delete_queue(&b.recipient_id).unwrap();
    store.delete_queue(&b.recipient_id).unwrap();
    assert_eq!(usage(&store), (1, 0, 0, 1));
}
