//! The MLS spike of issue 17: OpenMLS (rust-crypto provider, one ciphersuite) driven through the
//! operations a Sotto group needs, timed and sized. The same code runs natively
//! (`src/bin/native.rs`) and in headless Chromium (`run_json`, exported with wasm-bindgen; the
//! page in `page/` calls it). Not part of Sotto's workspace: `make bench-mls` builds it.
//!
//! Every scenario starts from fresh providers (OpenMLS's in-memory storage) so rounds are
//! independent; each timed step includes merging into, and so writing, that storage.

mod alt;

use std::collections::BTreeMap;
use std::fmt::Debug;

use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;
use openmls_basic_credential::SignatureKeyPair;

/// The suite measured: X25519 + ChaCha20-Poly1305 + SHA-256 + Ed25519 (RFC 9420 §17.1, 0x0003),
/// the same primitives as Sotto's 1:1 layer and fast in wasm without AES instructions.
#[cfg(not(feature = "xwing"))]
pub const SUITE: Ciphersuite = Ciphersuite::MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519;
/// With the `xwing` feature: X-Wing (ML-KEM-768 + X25519, draft-ietf-mls-pq-ciphersuites,
/// provisional 0x004D) + ChaCha20-Poly1305 + SHA-256 + Ed25519.
#[cfg(feature = "xwing")]
pub const SUITE: Ciphersuite = Ciphersuite::MLS_256_XWING_CHACHA20POLY1305_SHA256_Ed25519;

/// The crypto + storage provider: RustCrypto, or libcrux with the `xwing` feature.
#[cfg(not(feature = "xwing"))]
type Provider = openmls_rust_crypto::OpenMlsRustCrypto;
#[cfg(feature = "xwing")]
type Provider = openmls_libcrux_crypto::Provider;

/// Bytes of the application message measured (a short chat line).
pub const TEXT_LEN: usize = 100;

type Res<T> = Result<T, String>;

fn err<E: Debug>(what: &'static str) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e:?}")
}

/// Milliseconds from a monotonic clock: `Instant` natively, `performance.now()` in the browser.
#[cfg(not(target_arch = "wasm32"))]
fn now_ms() -> f64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e3
}

#[cfg(target_arch = "wasm32")]
fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or_else(js_sys::Date::now, |p| p.now())
}

/// One device: its own provider (crypto + storage), signature key and credential.
struct Client {
    provider: Provider,
    signer: SignatureKeyPair,
    credential: CredentialWithKey,
}

impl Client {
    /// A fresh client. The credential is a basic credential holding only the public signature
    /// key's first 8 bytes: no identifier, as the design proposes (a fresh key per group).
    fn new() -> Res<Self> {
        let provider = Provider::default();
        let signer = SignatureKeyPair::new(SUITE.signature_algorithm()).map_err(err("sig key"))?;
        signer.store(provider.storage()).map_err(err("store sig key"))?;
        let public = signer.to_public_vec();
        let credential = CredentialWithKey {
            credential: BasicCredential::new(public[..8].to_vec()).into(),
            signature_key: public.into(),
        };
        Ok(Client { provider, signer, credential })
    }

    fn key_package(&self) -> Res<KeyPackage> {
        let bundle = KeyPackage::builder()
            .build(SUITE, &self.provider, &self.signer, self.credential.clone())
            .map_err(err("key package"))?;
        Ok(bundle.key_package().clone())
    }

    fn create_group(&self) -> Res<MlsGroup> {
        let config = MlsGroupCreateConfig::builder()
            .ciphersuite(SUITE)
            .use_ratchet_tree_extension(true)
            .build();
        MlsGroup::new(&self.provider, &self.signer, &config, self.credential.clone())
            .map_err(err("create group"))
    }

    fn join(&self, welcome: &[u8]) -> Res<MlsGroup> {
        let message = MlsMessageIn::tls_deserialize_exact(welcome).map_err(err("decode welcome"))?;
        let MlsMessageBodyIn::Welcome(welcome) = message.extract() else {
            return Err("not a welcome".into());
        };
        let config = MlsGroupJoinConfig::builder().use_ratchet_tree_extension(true).build();
        StagedWelcome::new_from_welcome(&self.provider, &config, welcome, None)
            .map_err(err("stage welcome"))?
            .into_group(&self.provider)
            .map_err(err("join"))
    }

    /// Processes a commit from the wire and merges it.
    fn process_commit(&self, group: &mut MlsGroup, bytes: &[u8]) -> Res<()> {
        match self.process(group, bytes)? {
            ProcessedMessageContent::StagedCommitMessage(staged) => group
                .merge_staged_commit(&self.provider, *staged)
                .map_err(err("merge staged commit")),
            _ => Err("expected a commit".into()),
        }
    }

    fn process(&self, group: &mut MlsGroup, bytes: &[u8]) -> Res<ProcessedMessageContent> {
        let message = MlsMessageIn::tls_deserialize_exact(bytes).map_err(err("decode message"))?;
        let message = message.try_into_protocol_message().map_err(err("not a protocol message"))?;
        let processed = group.process_message(&self.provider, message).map_err(err("process"))?;
        Ok(processed.into_content())
    }
}

/// What a client's provider holds (OpenMLS's memory storage: keys and values, JSON-encoded).
fn stored_bytes(client: &Client) -> Res<usize> {
    let values = client.provider.storage().values.read().map_err(err("storage lock"))?;
    Ok(values.iter().map(|(k, v)| k.len() + v.len()).sum())
}

fn bytes(message: &MlsMessageOut) -> Res<Vec<u8>> {
    message.tls_serialize_detached().map_err(err("encode"))
}

/// A commit of the owner adding `kps`, merged by the owner: (commit, welcome) on the wire.
fn add(owner: &Client, group: &mut MlsGroup, kps: &[KeyPackage]) -> Res<(Vec<u8>, Vec<u8>)> {
    let (commit, welcome, _) = group
        .add_members(&owner.provider, &owner.signer, kps)
        .map_err(err("add members"))?;
    group.merge_pending_commit(&owner.provider).map_err(err("merge add"))?;
    Ok((bytes(&commit)?, bytes(&welcome)?))
}

/// `n` fresh clients and one key package of each.
fn crowd(n: usize) -> Res<(Vec<Client>, Vec<KeyPackage>)> {
    let clients = (0..n).map(|_| Client::new()).collect::<Res<Vec<_>>>()?;
    let kps = clients.iter().map(Client::key_package).collect::<Res<Vec<_>>>()?;
    Ok((clients, kps))
}

/// Measurements of one round: timings in ms and sizes in bytes, by row name.
#[derive(Default)]
pub struct Round {
    /// Milliseconds by operation.
    pub ms: BTreeMap<String, f64>,
    /// Bytes on the wire by message.
    pub bytes: BTreeMap<String, usize>,
}

impl Round {
    fn time<T>(&mut self, name: String, f: impl FnOnce() -> Res<T>) -> Res<T> {
        let start = now_ms();
        let out = f()?;
        self.ms.insert(name, now_ms() - start);
        Ok(out)
    }
}

/// Create a group, add Bob (who joins), then add `n` members in one commit: the owner's commit,
/// Bob processing it, one newcomer joining from the Welcome.
fn add_n(round: &mut Round, n: usize) -> Res<()> {
    let owner = Client::new()?;
    let bob = Client::new()?;
    let mut group = round.time("create group".into(), || owner.create_group())?;
    let (_, welcome) = add(&owner, &mut group, &[bob.key_package()?])?;
    let mut bob_group = bob.join(&welcome)?;
    let (newcomers, kps) = crowd(n)?;
    let (commit, welcome) =
        round.time(format!("add {n}: commit"), || add(&owner, &mut group, &kps))?;
    round.time(format!("add {n}: member processes"), || {
        bob.process_commit(&mut bob_group, &commit)
    })?;
    let joined = round.time(format!("add {n}: newcomer joins from Welcome"), || {
        newcomers[0].join(&welcome)
    })?;
    if joined.members().count() != n + 2 || bob_group.epoch() != group.epoch() {
        return Err(format!("add {n}: the groups disagree"));
    }
    round.bytes.insert(format!("add {n} to 2: commit"), commit.len());
    round.bytes.insert(format!("add {n} to 2: Welcome"), welcome.len());
    Ok(())
}

/// A group of `size` built in one commit (Bob among them, joined from its Welcome); then an
/// application message, adding one more member, and removing one, each sent and processed.
fn group_of(round: &mut Round, size: usize) -> Res<()> {
    let owner = Client::new()?;
    let bob = Client::new()?;
    let mut group = owner.create_group()?;
    let (_others, mut kps) = crowd(size - 2)?;
    kps.push(bob.key_package()?);
    let (_, welcome) = add(&owner, &mut group, &kps)?;
    round.bytes.insert(format!("{size}: Welcome of the founding commit"), welcome.len());
    let mut bob_group = round.time(format!("{size}: join from the founding Welcome"), || {
        bob.join(&welcome)
    })?;

    let text = vec![b'x'; TEXT_LEN];
    let message = round.time(format!("{size}: encrypt message"), || {
        let out = group
            .create_message(&owner.provider, &owner.signer, &text)
            .map_err(err("create message"))?;
        bytes(&out)
    })?;
    round.bytes.insert(format!("{size}: application message"), message.len());
    round.time(format!("{size}: decrypt message"), || {
        match bob.process(&mut bob_group, &message)? {
            ProcessedMessageContent::ApplicationMessage(m) => match m.into_bytes() == text {
                true => Ok(()),
                false => Err(String::from("wrong plaintext")),
            },
            _ => Err(String::from("wrong plaintext")),
        }
    })?;

    let extra = Client::new()?;
    let (commit, welcome) = add(&owner, &mut group, &[extra.key_package()?])?;
    round.bytes.insert(format!("{size}: add 1: commit"), commit.len());
    round.bytes.insert(format!("{size}: add 1: Welcome"), welcome.len());
    bob.process_commit(&mut bob_group, &commit)?;

    let victim = group
        .members()
        .map(|m| m.index)
        .find(|i| *i != group.own_leaf_index() && *i != bob_group.own_leaf_index())
        .ok_or("no one to remove")?;
    let commit = round.time(format!("{size}: remove 1: commit"), || {
        let (commit, _, _) = group
            .remove_members(&owner.provider, &owner.signer, &[victim])
            .map_err(err("remove"))?;
        group.merge_pending_commit(&owner.provider).map_err(err("merge remove"))?;
        bytes(&commit)
    })?;
    round.bytes.insert(format!("{size}: remove 1: commit"), commit.len());
    round.time(format!("{size}: remove 1: member processes"), || {
        bob.process_commit(&mut bob_group, &commit)
    })?;
    if bob_group.members().count() != size || bob_group.epoch() != group.epoch() {
        return Err(format!("group of {size}: the groups disagree"));
    }
    round.bytes.insert(format!("{size}: a member's stored state (JSON)"), stored_bytes(&bob)?);
    Ok(())
}

/// Group sizes for `group_of`; 1,000 only when `big`.
pub fn sizes(big: bool) -> Vec<usize> {
    if big { vec![10, 100, 1000] } else { vec![10, 100] }
}

/// One round of every scenario.
pub fn round(big: bool) -> Res<Round> {
    let mut round = Round::default();
    for n in [1, 10, 100] {
        add_n(&mut round, n)?;
    }
    for size in sizes(big) {
        group_of(&mut round, size)?;
    }
    alt::sender_keys(&mut round)?;
    round.bytes.insert("sender keys: application message".into(), alt::MESSAGE_BYTES);
    Ok(round)
}

/// Medians over rounds (timings) and the last round's sizes (they do not vary by more than a
/// few bytes of signature/varint encoding).
pub fn summarize(rounds: &[Round]) -> Round {
    let mut out = Round::default();
    if let Some(last) = rounds.last() {
        for name in last.ms.keys() {
            let mut v: Vec<f64> = rounds.iter().filter_map(|r| r.ms.get(name).copied()).collect();
            v.sort_by(f64::total_cmp);
            out.ms.insert(name.clone(), v[v.len() / 2]);
        }
        out.bytes = last.bytes.clone();
    }
    out
}

/// The summary as JSON: `{"ms": {op: median}, "bytes": {message: n}, "rounds": n}`.
pub fn to_json(summary: &Round, rounds: usize) -> String {
    let ms: Vec<String> = summary.ms.iter().map(|(k, v)| format!("{k:?}: {v:.3}")).collect();
    let by: Vec<String> = summary.bytes.iter().map(|(k, v)| format!("{k:?}: {v}")).collect();
    format!(
        "{{\"rounds\": {rounds}, \"ms\": {{{}}}, \"bytes\": {{{}}}}}",
        ms.join(", "),
        by.join(", ")
    )
}

/// Runs `rounds` rounds (with the 1,000-member group when `big`) and returns `to_json`.
pub fn run(rounds: usize, big: bool) -> Res<String> {
    let all = (0..rounds).map(|_| round(big)).collect::<Res<Vec<_>>>()?;
    Ok(to_json(&summarize(&all), rounds))
}

/// The browser entry point: `run` for the page (errors as JS exceptions).
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(js_name = runMlsBench)]
pub fn run_js(rounds: usize, big: bool) -> Result<String, wasm_bindgen::JsError> {
    run(rounds, big).map_err(|e| wasm_bindgen::JsError::new(&e))
}
