//! Bench-only exports for `make bench` (tests/bench/crypto.mjs), compiled only with the cargo
//! feature `bench`: the shipped pkg/ never contains them. Each is a thin wrapper over the same
//! sotto-proto code path the app runs (x25519-dalek and chacha20poly1305 underneath), called
//! from JavaScript the way the alternatives (libsodium.js, @noble, WebCrypto) are called; the
//! page does the timing with `performance.now()`, the same clock for every contender.

use std::cell::OnceCell;

use rand_core::UnwrapErr;
use sotto_proto::crypto::aead_seal;
use sotto_proto::ids::RelayId;
use sotto_proto::keys::{PublicKey, SecretKey};
use sotto_proto::onion::{Hop, build_forward};
use wasm_bindgen::prelude::*;

type Rng = UnwrapErr<getrandom::SysRng>;

fn array<const N: usize>(bytes: &[u8]) -> Result<[u8; N], JsError> {
    bytes
        .try_into()
        .map_err(|_| JsError::new(&format!("expected {N} bytes")))
}

/// A fresh X25519 key pair from the browser's CSPRNG; returns its public key.
#[wasm_bindgen(js_name = benchX25519Keygen)]
pub fn x25519_keygen() -> Vec<u8> {
    SecretKey::generate(&mut UnwrapErr(getrandom::SysRng))
        .public_key()
        .as_bytes()
        .to_vec()
}

/// One X25519 Diffie-Hellman. sotto-proto never hands out a shared secret, so this returns
/// whether it is contributory (not all-zero); `benchX25519DhEquals` checks the bytes.
#[wasm_bindgen(js_name = benchX25519Dh)]
pub fn x25519_dh(secret: &[u8], public: &[u8]) -> Result<bool, JsError> {
    let secret = SecretKey::from_persisted_bytes(array(secret)?);
    Ok(secret
        .diffie_hellman(&PublicKey::from_bytes(array(public)?))
        .is_contributory())
}

/// Cross-check for the page: does our DH equal `expected` (another library's output)?
#[wasm_bindgen(js_name = benchX25519DhEquals)]
pub fn x25519_dh_equals(secret: &[u8], public: &[u8], expected: &[u8]) -> Result<bool, JsError> {
    let secret = SecretKey::from_persisted_bytes(array(secret)?);
    Ok(secret
        .diffie_hellman(&PublicKey::from_bytes(array(public)?))
        .ct_eq_bytes(&array(expected)?))
}

/// ChaCha20-Poly1305 seal (RFC 8439, no associated data): ciphertext || tag, the output
/// layout of libsodium's `crypto_aead_chacha20poly1305_ietf_encrypt`.
#[wasm_bindgen(js_name = benchChachaSeal)]
pub fn chacha_seal(key: &[u8], nonce: &[u8], msg: &[u8]) -> Result<Vec<u8>, JsError> {
    let mut buf = Vec::with_capacity(msg.len() + 16);
    buf.extend_from_slice(msg);
    let tag = aead_seal(&array(key)?, &array(nonce)?, b"", &mut buf)
        .map_err(|e| JsError::new(&e.to_string()))?;
    buf.extend_from_slice(&tag);
    Ok(buf)
}

/// `iters` X25519 DHs in a loop inside wasm (the reference for `benchBuildPacket`).
#[wasm_bindgen(js_name = benchX25519DhLoop)]
pub fn x25519_dh_loop(iters: u32) -> u32 {
    let secret = SecretKey::from_persisted_bytes([9; 32]);
    let mut public = SecretKey::from_persisted_bytes([5; 32]).public_key();
    let mut n = 0;
    for _ in 0..iters {
        let shared = secret.diffie_hellman(&public);
        n += u32::from(shared.is_contributory());
        // feed a changing input so nothing can be hoisted out of the loop
        let mut next = *public.as_bytes();
        next[0] = next[0].wrapping_add(1);
        public = PublicKey::from_bytes(next);
    }
    n
}

thread_local! {
    static ROUTE: OnceCell<Vec<Hop>> = const { OnceCell::new() };
}

/// `iters` forward 3-hop onion packets (3,800-byte payload, as in the native criterion bench)
/// built in a loop inside wasm; returns a byte of the last one.
#[wasm_bindgen(js_name = benchBuildPacket)]
pub fn build_packet(iters: u32) -> Result<u32, JsError> {
    let route = ROUTE.with(|cell| {
        cell.get_or_init(|| {
            (0..3u8)
                .map(|i| Hop {
                    id: RelayId::from_bytes([i + 1; 32]),
                    key: SecretKey::from_persisted_bytes([i + 11; 32]).public_key(),
                })
                .collect()
        })
        .clone()
    });
    let mut rng: Rng = UnwrapErr(getrandom::SysRng);
    let payload = [7u8; 3800];
    let mut last = 0u32;
    for _ in 0..iters {
        let packet =
            build_forward(&mut rng, &route, &payload).map_err(|e| JsError::new(&e.to_string()))?;
        last ^= u32::from(packet.as_bytes()[100]);
    }
    Ok(last)
}

/// `iters` Sphinx key derivations for the 3-hop route of `benchBuildPacket`
/// (`sphinx_packet::header::keys::KeyMaterial::derive`, the step of `build_forward` that does
/// the scalar multiplications: the packet's group element, then hop i's shared secret, its key
/// times the product of the initial secret and every earlier blinding factor: one
/// multiplication per hop in the vendored sphinx-packet, `vendor/README.md`); returns a byte of
/// the last one. The packet build minus this is its symmetric share.
#[wasm_bindgen(js_name = benchSphinxKeyDerive)]
pub fn sphinx_key_derive(iters: u32) -> u32 {
    use sphinx_packet::crypto::{PrivateKey, PublicKey as DalekPublic};
    use sphinx_packet::header::keys::KeyMaterial;
    use sphinx_packet::route::{Node, NodeAddressBytes};
    let route: Vec<Node> = (0..3u8)
        .map(|i| {
            let key = PrivateKey::from([i + 11; 32]);
            Node::new(
                NodeAddressBytes::from_bytes([i + 1; 32]),
                DalekPublic::from(&key),
            )
        })
        .collect();
    let mut last = 0u32;
    for i in 0..iters {
        let mut seed = [3u8; 32];
        seed[..4].copy_from_slice(&i.to_le_bytes());
        let keys = KeyMaterial::derive(&route, &PrivateKey::from(seed));
        last ^= u32::from(keys.initial_shared_secret.as_bytes()[0]);
    }
    last
}

/// Writes `count` text messages with contact `contact_id` into the stored profile `profile`
/// (one made without a passphrase, closed), through the messenger's own storage code: records
/// from `Store::message_record`, written with `Store::write` in transactions of `batch`
/// messages, each with the client state record as `pump` writes it (the sequence counter in
/// front, moved on by the batch). Alternates outgoing and incoming messages, oldest first, one
/// second apart, ending now. Seeds the storage bench (tests/bench/app.mjs) without sending
/// 10,000 messages through the network.
#[wasm_bindgen(js_name = benchSeedMessages)]
pub async fn seed_messages(
    profile: String,
    contact_id: String,
    count: u32,
    batch: u32,
) -> Result<(), JsValue> {
    use crate::storage::MessageRecord;

    let contact: u64 = contact_id
        .parse()
        .map_err(|_| JsError::new("a contact id is a decimal number"))?;
    let store = stored_profile(&profile).await?;
    let state = store
        .read_state()
        .await?
        .ok_or_else(|| JsError::new("the profile has no client state"))?;
    let (seq, client) = state
        .split_at_checked(8)
        .ok_or_else(|| JsError::new("short state"))?;
    let mut seq = u64::from_be_bytes(array(seq)?);
    let now = (js_sys::Date::now() / 1000.0) as u64;
    let mut written = 0u32;
    while written < count {
        let n = batch.max(1).min(count - written);
        let mut records = Vec::with_capacity(n as usize + 1);
        for i in written..written + n {
            let mut id = [0u8; 16];
            getrandom::fill(&mut id).map_err(|_| JsError::new("no RNG"))?;
            let sent_at = now - u64::from(count - i);
            let outgoing = i % 2 == 0;
            records.push(store.message_record(&MessageRecord::text_message(
                seq,
                crate::js::hex(&id),
                contact,
                format!("bench message #{i}: about the length of a short chat line, ✓"),
                sent_at,
                (!outgoing).then_some(sent_at),
            )));

            seq += 1;
        }
        let mut bytes = zeroize::Zeroizing::new(seq.to_be_bytes().to_vec());
        bytes.extend_from_slice(client);
        store.write_state(records, &bytes).await?;
        written += n;
    }
    store.close();
    Ok(())
}

/// The stored profile `profile` (one made without a passphrase), opened; a missing one is
/// refused (and the empty store opening it made is deleted).
async fn stored_profile(profile: &str) -> Result<crate::storage::Store, JsValue> {
    let store = crate::storage::Store::open(profile, None).await?;
    if store.created {
        store.wipe().await?;
        return Err(JsError::new("no such profile (make it with Sotto.open first)").into());
    }
    Ok(store)
}

/// Relays in memory and a network in virtual time (sotto-proto's simulation tests' own
/// harness), to make a real conversation for [`receive_write_bytes`] without a network.
#[path = "../../sotto-proto/tests/common/mod.rs"]
mod sim;

/// Messages received before the one whose write is measured (more than the 32 received ids a
/// contact keeps).
const WARM_MESSAGES: usize = 40;

/// The text of the message [`receive_write_bytes`] receives.
const RECEIVED_TEXT: &str = "a received message, about the length of a short chat line ✓";

/// Bytes put into IndexedDB by the write that one received text message causes, in a profile
/// with `contacts` contacts, both ways: as the messenger writes now (`parts`: the state's core,
/// the contact records whose part changed, the message and the bookkeeping record) and as it
/// wrote before per-contact records (`whole`: the whole client state, the message and the
/// bookkeeping record). Counted as the sealed values' lengths ([`Store::bytes_written`]).
///
/// Alice and Bob meet through relays in memory; Bob sends Alice [`WARM_MESSAGES`] messages (the
/// steady state), then the one measured. Alice's `contacts`
/// contacts are Bob and copies of Bob's part under other contact and queue ids (each as large
/// as a real one). Profiles `{profile}-parts` and `{profile}-whole` are stored with Alice's
/// state before the message (written through `StateParts`, the parts profile then opened
/// as the messenger opens it: `IdbHistory::open`), then each is written as its code writes
/// the state after it. Both profiles are left for [`open_state`].
///
/// [`Store::bytes_written`]: crate::storage::Store::bytes_written
#[wasm_bindgen(js_name = benchReceiveWriteBytes)]
pub async fn receive_write_bytes(profile: String, contacts: u32) -> Result<JsValue, JsValue> {
    use crate::history::idb::IdbHistory;
    use crate::history::{History, StateParts, state_bytes};
    use crate::storage::{LOCAL_KEY, Local, MessageRecord, Store, db_name, delete_database, kind};
    use sotto_proto::client::Event;

    let n = contacts.max(1);
    let mut w = sim::World::new(0xb17e, 0, &["Alice", "Bob"]);
    let (_, alice_at_bob) = w.introduce(0, 1);
    let quiet = |w: &sim::World| {
        w.clients
            .iter()
            .all(|c| c.pending_requests() == 0 && c.unsent_messages() == 0)
    };
    w.run_until(60, quiet);
    // Steady state: Alice has received WARM_MESSAGES first, so that the contact's window of
    // received ids (32, sotto-proto client/read_ids.rs) is full and its part no longer grows.
    for _ in 0..WARM_MESSAGES {
        let now = w.client_now(1);
        w.clients[1]
            .send_text(&mut w.rng, alice_at_bob, RECEIVED_TEXT, now)
            .map_err(|e| JsError::new(&e.to_string()))?;
        w.run_until(60, quiet);
    }
    let before = w.clients[0].to_parts();
    let from = w.events[0].len();
    let now = w.client_now(1);
    w.clients[1]
        .send_text(&mut w.rng, alice_at_bob, RECEIVED_TEXT, now)
        .map_err(|e| JsError::new(&e.to_string()))?;
    w.run_until(60, |w| {
        w.events[0][from..]
            .iter()
            .any(|e| matches!(e, Event::Message { .. }))
    });
    w.run_until(60, quiet);
    let Some((contact, id, sent_at, received_at)) =
        w.events[0][from..].iter().find_map(|e| match e {
            Event::Message {
                contact,
                envelope,
                received_at,
                ..
            } => Some((*contact, envelope.id, envelope.sent_at, *received_at)),
            _ => None,
        })
    else {
        return Err(JsError::new("the message did not arrive").into());
    };
    let after = w.clients[0].to_parts();
    // The copies are of Bob's part before the message in both: only Bob's own part moves on.
    let alice_before = with_copies(&before, &before, n)?;
    let alice_after = with_copies(&after, &before, n)?;
    let message = |seq| {
        MessageRecord::text_message(
            seq,
            crate::js::hex(id.as_bytes()),
            contact,
            RECEIVED_TEXT.to_owned(),
            sent_at,
            Some(received_at),
        )
    };

    // Now: parts. Stored before the message, opened as the messenger opens it.
    let name = format!("{profile}-parts");
    delete_database(&db_name(&name)).await?;
    let store = Store::open_with(&name, None, 1024, 1).await?;
    StateParts::whole(&store, 0, &alice_before)
        .write(&store, Vec::new())
        .await?;
    store.close();
    let (mut history, restored) = IdbHistory::open(&name, None).await?;
    let local = restored.map(|r| r.local).unwrap_or_default();
    let store = history.store().ok_or_else(|| JsError::new("no store"))?;
    history.keep(message(0));
    // Read from the whole state, every contact counts as changed: the write compares every
    // part with the stored one, as before the client marked its changed contacts.
    let mut alice_after =
        sotto_proto::client::Client::from_persisted(alice_after.to_persisted().as_bytes())
            .map_err(|e| JsError::new(&e.to_string()))?;
    let write = history
        .take_write(&local, &mut alice_after)
        .ok_or_else(|| JsError::new("no write"))?;
    let start = store.bytes_written();
    let written = write.run().await;
    history.write_done(write, written.is_ok());
    written?;
    let parts = store.bytes_written() - start;
    store.close();

    // Before per-contact records: the whole state, as main's `take_write` wrote it.
    let name = format!("{profile}-whole");
    delete_database(&db_name(&name)).await?;
    let store = Store::open_with(&name, None, 1024, 1).await?;
    store
        .write_state(Vec::new(), &state_bytes(0, &alice_before))
        .await?;
    let records = vec![
        store.message_record(&message(0)),
        store.record(kind::LOCAL, LOCAL_KEY, &Local::default().encode(), None),
    ];
    let start = store.bytes_written();
    store
        .write_state(records, &state_bytes(1, &alice_after))
        .await?;
    let whole = store.bytes_written() - start;
    store.close();

    Ok(crate::js::obj(&[
        ("contacts", n.into()),
        ("parts", (parts as f64).into()),
        ("whole", (whole as f64).into()),
        (
            "wholeState",
            (alice_after.to_persisted().as_bytes().len() as f64).into(),
        ),
        ("core", (after.core.as_bytes().len() as f64).into()),
        (
            "contactPart",
            (after.contacts[0].part.as_bytes().len() as f64).into(),
        ),
    ]))
}

/// Opens a stored profile that [`receive_write_bytes`] left (`{profile}-parts` or
/// `{profile}-whole`: its state record and every contact record, as `Sotto.open` reads them,
/// and the client they make); returns how many contacts it has. The page times it.
#[wasm_bindgen(js_name = benchOpenState)]
pub async fn open_state(profile: String) -> Result<u32, JsValue> {
    let (mut history, restored) = crate::history::idb::IdbHistory::open(&profile, None).await?;
    let count = restored.map_or(0, |r| r.client.contact_ids().count());
    if let Some(store) = crate::history::History::take_store(&mut history) {
        store.close();
    }
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

/// Gives the stored profile `profile` (one made without a passphrase, closed, with one contact
/// and no message unsent) `contacts - 1` more contacts: copies of its contact under new contact
/// and receive-queue ids (see [`with_copies`]; their queues exist on no relay), written as the
/// messenger writes its state (the core and one record per contact). Seeds the storage bench's
/// profile of 1,000 contacts (tests/bench/app.mjs); returns how many contacts it has.
#[wasm_bindgen(js_name = benchGrowProfile)]
pub async fn grow_profile(profile: String, contacts: u32) -> Result<u32, JsValue> {
    use crate::history::StateParts;

    let store = stored_profile(&profile).await?;
    let stored = store
        .read_state_parts()
        .await?
        .ok_or_else(|| JsError::new("the profile has no client state"))?;
    let seq = u64::from_be_bytes(array(stored.state.get(..8).unwrap_or_default())?);
    let client = sotto_proto::client::Client::from_parts(
        stored.state.get(8..).unwrap_or_default(),
        stored.contacts.iter().map(|(_, p)| &p[..]),
    )
    .map_err(|e| JsError::new(&e.to_string()))?;
    if client.unsent_messages() > 0 {
        // Each copy would send it again once opened.
        return Err(JsError::new("the profile still has a message to send").into());
    }
    let parts = client.to_parts();
    let grown = with_copies(&parts, &parts, contacts)?;
    StateParts::whole(&store, seq, &grown)
        .write(&store, Vec::new())
        .await?;
    store.close();
    Ok(u32::try_from(grown.contact_ids().count()).unwrap_or(u32::MAX))
}

/// `parts` (a client with one contact, no queue of an invitation) with `n - 1` copies of the contact of `template` (the same client at another
/// time) under new contact ids and receive-queue ids: a client of `n` contacts whose parts are
/// each as large as a real one.
fn with_copies(
    parts: &sotto_proto::client::PersistedParts,
    template: &sotto_proto::client::PersistedParts,
    n: u32,
) -> Result<sotto_proto::client::Client, JsError> {
    let bad = || JsError::new("the client is not as the copies need it");
    let ([own], [template]) = (&parts.contacts[..], &template.contacts[..]) else {
        return Err(bad());
    };
    let first = own.id;
    let part = template.part.as_bytes();
    let len = part.len();
    // …‖ one receive queue: count 1 ‖ id 16 ‖ relay 32 ‖ key seed 32 ‖ 0x00 ‖ contact id ‖ 0x00.
    if len < 94 || part[len - 94..len - 90] != 1u32.to_be_bytes() || part[len - 10] != 0 {
        return Err(bad());
    }
    let mut copies = vec![own.part.as_bytes().to_vec()];
    for i in 1..u64::from(n) {
        let id = first + i;
        let mut copy = part.to_vec();
        copy[1..9].copy_from_slice(&id.to_be_bytes());
        let mut queue = [0xb0; 16];
        queue[8..].copy_from_slice(&id.to_be_bytes());
        copy[len - 90..len - 74].copy_from_slice(&queue);
        copy[len - 9..len - 1].copy_from_slice(&id.to_be_bytes());
        copies.push(copy);
    }
    // The core: mark 1 ‖ version 1 ‖ config 19 ‖ relay count 4 ‖ relays 64 each ‖ gateway 32 ‖
    // connection tag ‖ display name (u16 length) ‖ unused 8 ‖ next contact id 8 ‖ no queue
    // (count 0) ‖ contact count 4 ‖ parts digest 32 ‖ requests, clock offset, moved, rekey secret
    // (left as they are).
    let mut core = parts.core.as_bytes().to_vec();
    let u32_at = |b: &[u8], at: usize| {
        b.get(at..at + 4)
            .and_then(|x| <[u8; 4]>::try_from(x).ok())
            .map(u32::from_be_bytes)
    };
    let relays = u32_at(&core, 21).ok_or_else(bad)? as usize;
    let name_at = 25 + relays * 64 + 32 + sotto_proto::onion::CONN_TAG_LEN;
    let name_len = core
        .get(name_at..name_at + 2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        .ok_or_else(bad)?;
    let next_at = name_at + 2 + name_len + 8;
    if u32_at(&core, next_at + 8) != Some(0) || u32_at(&core, next_at + 12) != Some(1) {
        return Err(bad());
    }
    core[next_at..next_at + 8].copy_from_slice(&(first + u64::from(n)).to_be_bytes());
    core[next_at + 12..next_at + 16].copy_from_slice(&n.to_be_bytes());
    let digests: Vec<_> = copies
        .iter()
        .map(|c| sotto_proto::client::part_digest(c))
        .collect();
    let digest_at = next_at + 16;
    core.get_mut(digest_at..digest_at + 32)
        .ok_or_else(bad)?
        .copy_from_slice(&sotto_proto::client::parts_digest(&digests));
    sotto_proto::client::Client::from_parts(&core, &copies)
        .map_err(|e| JsError::new(&e.to_string()))
}

/// Where the time of rebuilding a client of `contacts` contacts from its parts goes (issue 18):
/// `from_parts_ms` (`Client::from_parts`, the median of `reps`), and, `contacts` times each,
/// the key derivations its readers do: `x25519_public_ms` (an X25519 public key from its
/// secret) and `ed25519_from_seed_ms` (an Ed25519 signing key from its seed, public half
/// included). Milliseconds of the page's `performance.now()`.
#[wasm_bindgen(js_name = benchOpenStateCost)]
pub fn open_state_cost(contacts: u32, reps: u32) -> Result<JsValue, JsValue> {
    use sotto_proto::client::Client;
    use sotto_proto::keys::AuthKeyPair;

    let n = contacts.max(1);
    let mut w = sim::World::new(0xb17e, 0, &["Alice", "Bob"]);
    w.introduce(0, 1);
    w.run_until(60, |w| {
        w.clients
            .iter()
            .all(|c| c.pending_requests() == 0 && c.unsent_messages() == 0)
    });
    let one = w.clients[0].to_parts();
    let parts = with_copies(&one, &one, n)?.to_parts();
    let contacts_bytes: Vec<&[u8]> = parts.contacts.iter().map(|c| c.part.as_bytes()).collect();
    let mut runs = Vec::new();
    for _ in 0..reps.max(1) {
        let t0 = now_ms();
        let client = Client::from_parts(parts.core.as_bytes(), contacts_bytes.iter().copied())
            .map_err(|e| JsError::new(&e.to_string()))?;
        runs.push(now_ms() - t0);
        drop(client);
    }
    runs.sort_by(f64::total_cmp);
    let median = runs[runs.len() / 2];
    // Distinct seeds, so that nothing is computed once for all.
    let seed = |fill: u8, i: u32| {
        let mut seed = [fill; 32];
        seed[..4].copy_from_slice(&i.to_le_bytes());
        seed
    };
    let t0 = now_ms();
    let mut x = 0u8;
    for i in 0..n {
        x ^= SecretKey::from_persisted_bytes(seed(7, i))
            .public_key()
            .as_bytes()[0];
    }
    let t1 = now_ms();
    for i in 0..n {
        x ^= AuthKeyPair::from_persisted_bytes(seed(9, i))
            .public_key()
            .as_bytes()[0];
    }
    let t2 = now_ms();
    Ok(crate::js::obj(&[
        ("contacts", n.into()),
        ("from_parts_ms", median.into()),
        ("x25519_public_ms", (t1 - t0).into()),
        ("ed25519_from_seed_ms", (t2 - t1).into()),
        ("check", x.into()),
    ]))
}

/// `performance.mark(name)` in the page (or worker); nothing where there is no `performance`.
pub fn mark(name: &str) {
    let Ok(p) = js_sys::Reflect::get(&js_sys::global(), &"performance".into()) else {
        return;
    };
    if let Ok(f) = js_sys::Reflect::get(&p, &"mark".into()) {
        let _ = js_sys::Function::from(f).call1(&p, &name.into());
    }
}

/// The page's (or worker's) `performance.now()`, in milliseconds.
fn now_ms() -> f64 {
    js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| {
            let now = js_sys::Reflect::get(&p, &"now".into()).ok()?;
            js_sys::Function::from(now).call0(&p).ok()?.as_f64()
        })
        .unwrap_or_else(js_sys::Date::now)
}
