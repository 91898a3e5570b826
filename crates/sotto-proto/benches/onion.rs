//! Onion, queue and PoW costs, each beside a named reference run in the same process:
//! a bare X25519 Diffie-Hellman (x25519-dalek) and a bare ChaCha20-Poly1305 seal of 1 KiB.
//!
//! Run: `cargo bench -p sotto-proto --bench onion -- --warm-up-time 1 --measurement-time 2`.
//! After criterion's report, the bench prints ratios ("one hop = X bare DH") measured with a
//! simple median-of-batches timer, so the numbers read the same on any machine.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use criterion::{Criterion, criterion_group};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sotto_proto::ids::RelayId;
use sotto_proto::keys::AuthKeyPair;
use sotto_proto::onion::{
    ConnTag, Hop, Packet, RelayKey, RelayKeys, ReplayCache, build_forward, build_surb, process,
};
use sotto_proto::pow::{self, Challenge, DEFAULT_CREATE_BITS, Scope};
use sotto_proto::queue::{Command, ReceivedRequest, Request};
use sotto_proto::service::{MemoryStore, Outcome, QueueService, ServiceConfig};
use sotto_proto::sizes::QUEUE_MESSAGE_SIZE;

/// A replay cache that never remembers, so one packet can be processed again and again.
struct Forgetful;
impl ReplayCache for Forgetful {
    fn check_and_insert(&mut self, _epoch: u32, _tag: [u8; 32]) -> bool {
        true
    }
}

struct Fixture {
    route: Vec<Hop>,
    keys: Vec<RelayKeys>,
    first: Packet,
    last: Packet,
    dh_secret: x25519_dalek::StaticSecret,
    dh_public: x25519_dalek::PublicKey,
    aead: ChaCha20Poly1305,
}

fn fixture() -> Fixture {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut route = Vec::new();
    let mut keys = Vec::new();
    for i in 0..3u8 {
        let k = RelayKey::generate(&mut rng, 1);
        route.push(Hop {
            id: RelayId::from_bytes([i + 1; 32]),
            key: k.public_key(),
        });
        keys.push(RelayKeys::new(k));
    }
    let first = build_forward(&mut rng, &route, &[7u8; 3800]).expect("build");
    // walk to the last hop's input
    let mut p = first.clone();
    for k in keys.iter().take(2) {
        match process(p.as_bytes(), k, &mut Forgetful).expect("process") {
            sotto_proto::onion::Processed::Forward { packet, .. } => p = packet,
            _ => unreachable!(),
        }
    }
    let dh_secret = x25519_dalek::StaticSecret::from([9u8; 32]);
    let dh_public = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from([5u8; 32]));
    Fixture {
        route,
        keys,
        first,
        last: p,
        dh_secret,
        dh_public,
        aead: ChaCha20Poly1305::new(&Key::from([3u8; 32])),
    }
}

fn bare_dh(f: &Fixture) -> [u8; 32] {
    f.dh_secret.diffie_hellman(&f.dh_public).to_bytes()
}

fn bare_seal_1k(f: &Fixture, buf: &mut [u8; 1024]) {
    let tag = f
        .aead
        .encrypt_inout_detached(&Nonce::from([0u8; 12]), b"", buf.as_mut_slice().into())
        .expect("seal");
    black_box(tag);
}

fn benches(c: &mut Criterion) {
    let f = fixture();
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let mut g = c.benchmark_group("reference");
    g.bench_function("x25519 DH", |b| b.iter(|| black_box(bare_dh(&f))));
    let mut buf = [0u8; 1024];
    g.bench_function("chacha20poly1305 seal 1 KiB", |b| {
        b.iter(|| bare_seal_1k(&f, &mut buf))
    });
    g.finish();

    let mut g = c.benchmark_group("onion");
    g.bench_function("build 3-hop packet", |b| {
        b.iter(|| black_box(build_forward(&mut rng, &f.route, &[7u8; 3800]).expect("build")))
    });
    g.bench_function("build 3-hop SURB", |b| {
        b.iter(|| {
            black_box(build_surb(&mut rng, &f.route, ConnTag::from_bytes([1; 16])).expect("surb"))
        })
    });
    g.bench_function("process forward hop", |b| {
        b.iter(|| black_box(process(f.first.as_bytes(), &f.keys[0], &mut Forgetful)))
    });
    g.bench_function("process final hop", |b| {
        b.iter(|| black_box(process(f.last.as_bytes(), &f.keys[2], &mut Forgetful)))
    });
    g.finish();

    let mut g = c.benchmark_group("queue");
    let key = AuthKeyPair::from_persisted_bytes([4; 32]);
    let (reply, _) = build_surb(&mut rng, &f.route, ConnTag::from_bytes([1; 16])).expect("surb");
    let send = Request {
        request_id: 1,
        reply: Some(reply),
        command: Command::Send {
            sender_id: sotto_proto::ids::QueueId::from_bytes([2; 16]),
            message: vec![0; QUEUE_MESSAGE_SIZE],
        },
    };
    let bytes = send.encode(Some(&key)).expect("encode");
    g.bench_function("encode+sign Send", |b| {
        b.iter(|| black_box(send.encode(Some(&key))))
    });
    g.bench_function("decode+verify Send", |b| {
        b.iter(|| {
            let r = ReceivedRequest::decode(&bytes).expect("decode");
            black_box(r.verify(&key.public_key()))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("pow");
    g.sample_size(10);
    let mut n = 0u64;
    g.bench_function(format!("solve {DEFAULT_CREATE_BITS} bits"), |b| {
        b.iter(|| {
            n += 1;
            let ch = Challenge::new(b"bench", &n.to_be_bytes());
            black_box(pow::solve(&ch, DEFAULT_CREATE_BITS))
        })
    });
    g.finish();
}

/// Median time per call of `op`, over `batches` batches of `per_batch` calls.
fn median(batches: usize, per_batch: u32, mut op: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..batches)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_batch {
                op();
            }
            t.elapsed() / per_batch
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn ratios() {
    let f = fixture();
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let dh = median(31, 200, || {
        black_box(bare_dh(&f));
    });
    let mut buf = [0u8; 1024];
    let seal = median(31, 2000, || bare_seal_1k(&f, &mut buf));
    let fwd = median(31, 50, || {
        black_box(process(f.first.as_bytes(), &f.keys[0], &mut Forgetful).is_ok());
    });
    let fin = median(31, 50, || {
        black_box(process(f.last.as_bytes(), &f.keys[2], &mut Forgetful).is_ok());
    });
    let build = median(15, 20, || {
        black_box(build_forward(&mut rng, &f.route, &[7u8; 3800]).is_ok());
    });
    // hashes per second, from verify (one hash each)
    let ch = Challenge::new(b"bench", b"rate");
    let hash = median(31, 20_000, || {
        black_box(pow::verify(&ch, 0, black_box(7)).is_ok());
    });
    let per_s = 1.0 / hash.as_secs_f64();
    let expected_solve = hash.as_secs_f64() * f64::from(1u32 << DEFAULT_CREATE_BITS);

    // A refused Create, as the queue service sees it (decode, checks, the sealed error answer):
    // with bad work (refused after two hashes) and with good work and a bad signature.
    let (bad_work, bad_sig, full) = refused_creates(&f, &mut rng);

    let r = |d: Duration, base: Duration| d.as_secs_f64() / base.as_secs_f64();
    println!("\n== ratios (median of batches, same process) ==");
    println!("bare x25519 DH                 {dh:>10.2?}");
    println!("bare ChaCha20-Poly1305 1 KiB   {seal:>10.2?}");
    println!(
        "process forward hop            {fwd:>10.2?}  = {:.2} x bare DH  (goal <= 1.5)",
        r(fwd, dh)
    );
    println!(
        "process final hop              {fin:>10.2?}  = {:.2} x bare DH",
        r(fin, dh)
    );
    println!(
        "build 3-hop packet             {build:>10.2?}  = {:.2} x bare DH",
        r(build, dh)
    );
    println!(
        "one PoW hash                   {hash:>10.2?}  = {:.3} x bare seal 1 KiB  ({:.2} M hashes/s)",
        r(hash, seal),
        per_s / 1e6
    );
    println!(
        "expected PoW solve at {DEFAULT_CREATE_BITS} bits   {:>8.3} s  = {:.0} x bare DH  (2^{DEFAULT_CREATE_BITS} hashes)",
        expected_solve,
        expected_solve / dh.as_secs_f64()
    );
    // The floor of the relay's defence: requests/s one core refuses at full cost, against
    // the bare DHs/s of the same core (the cost of peeling one onion layer is about one DH).
    let per_s = |d: Duration| 1.0 / d.as_secs_f64();
    for (what, d, how) in [
        ("bad work     ", bad_work, "decode, 2 hashes, error answer"),
        ("bad signature", bad_sig, "decode, work, Ed25519, answer"),
        (
            "relay full   ",
            full,
            "decode, work, spent set, room, answer",
        ),
    ] {
        println!(
            "refused Create, {what}  {d:>10.2?}  = {:.2} x bare DH  ({how}); {:.0}/s = {:.2} x the DH rate",
            r(d, dh),
            per_s(d),
            per_s(d) / per_s(dh)
        );
    }
}

/// Median time of `QueueService::handle` for a Create refused for its work, for one with
/// good work refused for its signature, and for one with good work at a relay that holds all
/// the queues it may (refused before the signature).
fn refused_creates(f: &Fixture, rng: &mut ChaCha20Rng) -> (Duration, Duration, Duration) {
    const NOW: u64 = 1_800_000_000;
    let bits = 16;
    let mut service = QueueService::new(
        MemoryStore::new(),
        ServiceConfig {
            pow_bits: bits,
            ..ServiceConfig::default()
        },
    );
    let scope = Scope {
        relay: f.route[2].id,
        key_epoch: 1,
    };
    let owner = AuthKeyPair::generate(rng);
    let back = [f.route[1], f.route[2], f.route[0]];
    let conn = ConnTag::random(rng);
    let (surb, _) = build_surb(rng, &back, conn).expect("surb");
    let mut command = Command::Create {
        recipient_key: owner.public_key(),
        timestamp: NOW,
        pow_nonce: 0,
    };
    while command.verify_pow(&scope, bits).is_ok() {
        command.set_pow_nonce(command.pow_nonce().unwrap_or(0) + 1);
    }
    let weak = Request {
        request_id: 1,
        reply: Some(surb.clone()),
        command,
    }
    .encode(Some(&owner))
    .expect("encode");
    let good = Request::create(2, surb, &owner, NOW, bits, &scope).expect("create");
    let mut forged = good.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let mut run = |payload: &[u8], expect: Outcome| {
        median(31, 100, || {
            let handled = service.handle(payload, &scope, NOW, rng);
            assert_eq!(handled.outcome, expect);
            black_box(handled);
        })
    };
    let bad_work = run(&weak, Outcome::Refused(sotto_proto::queue::ErrorCode::Pow));
    let bad_sig = run(
        &forged,
        Outcome::Refused(sotto_proto::queue::ErrorCode::Auth),
    );
    let mut full_service = QueueService::new(
        MemoryStore::new(),
        ServiceConfig {
            pow_bits: bits,
            max_queues: 0,
            ..ServiceConfig::default()
        },
    );
    let full = median(31, 100, || {
        let handled = full_service.handle(&good, &scope, NOW, rng);
        assert_eq!(
            handled.outcome,
            Outcome::Full(sotto_proto::service::Limit::Queues)
        );
        black_box(handled);
    });
    (bad_work, bad_sig, full)
}

criterion_group!(group, benches);

fn main() {
    group();
    Criterion::default().configure_from_args().final_summary();
    ratios();
}
