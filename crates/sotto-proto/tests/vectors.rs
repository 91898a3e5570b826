//! One harness for every test-vector file in `tests/vectors/` (format: `tests/vectors/README.md`).
//! Files are embedded with `include_str!` so the harness also runs on wasm32.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::convert::Infallible;

use sotto_proto::crypto::{aead_open, aead_seal, hkdf_sha256};
use sotto_proto::directory::{DirectoryError, DirectoryTrust, SignedDirectory};
use sotto_proto::envelope::{Content, ENVELOPE_SIZE, Envelope, Hello, MessageId};
use sotto_proto::handshake::{InvitationSecret, accept_invitation};
use sotto_proto::ids::{QueueId, RelayId};
use sotto_proto::invitation::{Invitation, InvitationKind};
use sotto_proto::keys::{AuthPublicKey, PublicKey, SecretKey};
use sotto_proto::mnemonic::Mnemonic;
use sotto_proto::snapshot;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const FILES: &[(&str, &str)] = &[
    (
        "rfc7748-x25519.txt",
        include_str!("vectors/rfc7748-x25519.txt"),
    ),
    (
        "rfc8439-chacha20poly1305.txt",
        include_str!("vectors/rfc8439-chacha20poly1305.txt"),
    ),
    (
        "rfc5869-hkdf-sha256.txt",
        include_str!("vectors/rfc5869-hkdf-sha256.txt"),
    ),
    (
        "sotto-mnemonic.txt",
        include_str!("vectors/sotto-mnemonic.txt"),
    ),
    (
        "sotto-invitation.txt",
        include_str!("vectors/sotto-invitation.txt"),
    ),
    (
        "sotto-envelope.txt",
        include_str!("vectors/sotto-envelope.txt"),
    ),
    (
        "sotto-ratchet.txt",
        include_str!("vectors/sotto-ratchet.txt"),
    ),
    (
        "sotto-directory.txt",
        include_str!("vectors/sotto-directory.txt"),
    ),
    (
        "sotto-snapshot.txt",
        include_str!("vectors/sotto-snapshot.txt"),
    ),
];

/// A snapshot vector's address (from `entropy`, `period`, `slot`) and its sealed chunks (of
/// `state` written at `created_at`, the version salted `salt`).
fn snapshot_from(b: &Block) -> (snapshot::Address, Vec<Vec<u8>>) {
    let root = Mnemonic::from_entropy(&b.arr("entropy")).root_secret();
    let slot = u32::from_be_bytes(b.arr("slot"));
    let address = snapshot::Address::derive(&root, b.u64("period"), slot);
    let chunks = address
        .seal_salted(&b.arr("salt"), b.u64("created_at"), &b.hex("state"))
        .unwrap();
    (address, chunks)
}

/// SHA-256 of `chunks` joined.
fn joined_sha256(chunks: &[Vec<u8>]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for c in chunks {
        h.update(c);
    }
    h.finalize().into()
}

/// One block: `key = value` lines.
struct Block {
    file: &'static str,
    fields: BTreeMap<String, String>,
}

impl Block {
    fn str(&self, key: &str) -> &str {
        self.fields
            .get(key)
            .unwrap_or_else(|| panic!("{}: block {:?} lacks `{key}`", self.file, self.name()))
    }
    fn name(&self) -> Option<&String> {
        self.fields.get("name")
    }
    fn hex(&self, key: &str) -> Vec<u8> {
        hex::decode(self.str(key))
            .unwrap_or_else(|e| panic!("{}: `{key}` is not hex: {e}", self.file))
    }
    fn arr<const N: usize>(&self, key: &str) -> [u8; N] {
        self.hex(key).try_into().unwrap_or_else(|v: Vec<u8>| {
            panic!("{}: `{key}` has {} bytes, want {N}", self.file, v.len())
        })
    }
    fn u64(&self, key: &str) -> u64 {
        u64::from_be_bytes(self.arr(key))
    }
    /// A quoted string value.
    fn text(&self, key: &str) -> String {
        let v = self.str(key);
        v.strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or_else(|| panic!("{}: `{key}` is not quoted", self.file))
            .to_owned()
    }
}

fn parse(file: &'static str, text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut fields = BTreeMap::new();
    for line in text.lines().chain(core::iter::once("")) {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        if line.is_empty() {
            if !fields.is_empty() {
                blocks.push(Block {
                    file,
                    fields: core::mem::take(&mut fields),
                });
            }
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{file}: not `key = value`: {line}"));
        let old = fields.insert(k.trim().to_owned(), v.trim().to_owned());
        assert!(old.is_none(), "{file}: duplicate key {k}");
    }
    blocks
}

fn all_blocks() -> Vec<Block> {
    FILES.iter().flat_map(|(f, t)| parse(f, t)).collect()
}

/// An RNG that hands out the bytes of a vector's `rng` field in order, so a vector states
/// exactly which random bytes went where.
struct ScriptedRng {
    bytes: Vec<u8>,
    pos: usize,
}

impl rand_core::TryRng for ScriptedRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        let end = self.pos + dst.len();
        assert!(end <= self.bytes.len(), "scripted RNG exhausted");
        dst.copy_from_slice(&self.bytes[self.pos..end]);
        self.pos = end;
        Ok(())
    }
}

impl rand_core::TryCryptoRng for ScriptedRng {}

fn run(b: &Block) {
    match b.str("test") {
        "x25519" => {
            let s = SecretKey::from_persisted_bytes(b.arr("scalar"));
            let shared = s.diffie_hellman(&PublicKey::from_bytes(b.arr("u")));
            assert!(shared.ct_eq_bytes(&b.arr("out")));
        }
        "x25519-dh" => {
            let a = SecretKey::from_persisted_bytes(b.arr("alice_secret"));
            let bob = SecretKey::from_persisted_bytes(b.arr("bob_secret"));
            assert_eq!(a.public_key().as_bytes(), &b.arr::<32>("alice_public"));
            assert_eq!(bob.public_key().as_bytes(), &b.arr::<32>("bob_public"));
            let shared = b.arr("shared");
            assert!(a.diffie_hellman(&bob.public_key()).ct_eq_bytes(&shared));
            assert!(bob.diffie_hellman(&a.public_key()).ct_eq_bytes(&shared));
        }
        "aead" => {
            let (key, nonce, ad) = (b.arr("key"), b.arr("nonce"), b.hex("ad"));
            let mut buf = b.hex("plaintext");
            let tag = aead_seal(&key, &nonce, &ad, &mut buf).unwrap();
            assert_eq!(buf, b.hex("ciphertext"));
            assert_eq!(tag, b.arr::<16>("tag"));
            aead_open(&key, &nonce, &ad, &mut buf, &tag).unwrap();
            assert_eq!(buf, b.hex("plaintext"));
            let mut bad = tag;
            bad[0] ^= 1;
            assert!(aead_open(&key, &nonce, &ad, &mut buf, &bad).is_err());
        }
        "hkdf" => {
            let want = b.hex("okm");
            let mut okm = vec![0u8; want.len()];
            hkdf_sha256(&b.hex("salt"), &b.hex("ikm"), &b.hex("info"), &mut okm).unwrap();
            assert_eq!(okm, want);
        }
        "snapshot" => {
            let (address, chunks) = snapshot_from(b);
            assert_eq!(address.blob_id.as_bytes(), &b.arr::<16>("blob_id"));
            assert_eq!(address.relay_pick, b.u64("relay_pick"));
            assert_eq!(chunks.len(), usize::from(b.arr::<1>("chunks")[0]));
            assert_eq!(&chunks[0][..64], &b.hex("chunk0_head")[..]);
            assert_eq!(joined_sha256(&chunks), b.arr::<32>("chunks_sha256"));
            let (header, state) = snapshot::open(&address, &chunks).unwrap();
            assert_eq!(&state[..], &b.hex("state")[..]);
            assert_eq!(header.created_at, b.u64("created_at"));
        }
        "mnemonic" => {
            let m = Mnemonic::from_entropy(&b.arr("entropy"));
            assert_eq!(*m.phrase(), b.text("phrase"));
            let root = Mnemonic::parse(&b.text("phrase")).unwrap().root_secret();
            assert_eq!(root.store_key().expose(), &b.arr::<32>("store_key"));
            assert_eq!(root.backup_key().expose(), &b.arr::<32>("backup_key"));
        }
        "invitation" => {
            let inv = invitation_from(b);
            assert_eq!(inv.to_bytes().to_vec(), b.hex("encoded"));
            assert_eq!(inv.to_fragment(), b.text("fragment"));
            assert_eq!(Invitation::parse_link(&b.text("fragment"), 0).unwrap(), inv);
        }
        "envelope" => {
            let env = envelope_from(b);
            let enc = env.encode().unwrap();
            let head = b.hex("encoded_head");
            assert_eq!(enc.len(), ENVELOPE_SIZE);
            assert_eq!(&enc[..head.len()], &head[..]);
            assert!(enc[head.len()..].iter().all(|&x| x == 0));
            assert_eq!(Envelope::decode(&enc).unwrap(), env);
        }
        "hello-message" => {
            let (secret, acc) = hello_from(b);
            assert_eq!(secret.invitation().to_bytes().to_vec(), b.hex("invitation"));
            assert_eq!(acc.first_message, b.hex("message"));
            let mut rng = ScriptedRng {
                bytes: b.hex("alice_rng"),
                pos: 0,
            };
            let (_, hello, env) = secret
                .receive_hello(&mut rng, &acc.first_message, b.u64("now"))
                .unwrap();
            assert_eq!(env, acc.envelope);
            assert_eq!(hello.display_name, b.text("display_name"));
        }
        "directory" => {
            let doc = SignedDirectory::parse(&b.text("document")).unwrap();
            assert_eq!(doc.signed_bytes(), b.hex("body"));
            assert_eq!(doc.to_json(), b.text("document"));
            let keys = b
                .hex("keys")
                .chunks(32)
                .map(|k| AuthPublicKey::from_bytes(k.try_into().unwrap()))
                .collect();
            let trust = DirectoryTrust::new(keys, usize::from(b.arr::<1>("threshold")[0])).unwrap();
            let got = doc.verify(&trust, b.u64("now"));
            match b.str("result") {
                "ok" => assert!(got.is_ok(), "{}: {got:?}", b.file),
                "expired" => assert!(matches!(got, Err(DirectoryError::Expired { .. }))),
                "not-yet-valid" => {
                    assert!(matches!(got, Err(DirectoryError::NotYetValid { .. })));
                }
                "too-few" => {
                    assert!(matches!(got, Err(DirectoryError::TooFewSignatures { .. })));
                }
                r => panic!("{}: unknown result {r}", b.file),
            }
        }
        other => panic!("{}: unknown test kind {other}", b.file),
    }
}

fn invitation_from(b: &Block) -> Invitation {
    let key = SecretKey::from_persisted_bytes(b.arr("handshake_secret")).public_key();
    let kind = match b.hex("kind").as_slice() {
        [1] => InvitationKind::OneTime,
        [2] => InvitationKind::ContactAddress {
            pow_difficulty: b.arr::<1>("pow")[0],
        },
        k => panic!("kind {k:?}"),
    };
    Invitation {
        kind,
        relay: RelayId::from_bytes(b.arr("relay")),
        queue: QueueId::from_bytes(b.arr("queue")),
        handshake_key: key,
        expires_at: b.u64("expires_at"),
    }
}

fn envelope_from(b: &Block) -> Envelope {
    let content = match b.str("content") {
        "text" => Content::Text(b.text("text")),
        "hello" => Content::Hello(Hello {
            reply_relay: RelayId::from_bytes(b.arr("reply_relay")),
            reply_queue: QueueId::from_bytes(b.arr("reply_queue")),
            display_name: b.text("display_name"),
        }),
        "timer" => Content::DisappearingTimer {
            seconds: u32::from_be_bytes(b.arr("seconds")),
        },
        other => panic!("content {other}"),
    };
    Envelope {
        id: MessageId::from_bytes(b.arr("id")),
        sent_at: b.u64("sent_at"),
        content,
    }
}

fn hello_from(b: &Block) -> (InvitationSecret, sotto_proto::handshake::Accepted) {
    let mut rng = ScriptedRng {
        bytes: b.hex("bob_rng"),
        pos: 0,
    };
    let now = b.u64("now");
    let secret = {
        let mut alice_rng = ScriptedRng {
            bytes: b.hex("invitation_secret"),
            pos: 0,
        };
        InvitationSecret::create(
            &mut alice_rng,
            InvitationKind::OneTime,
            RelayId::from_bytes(b.arr("relay")),
            QueueId::from_bytes(b.arr("queue")),
            now,
        )
    };
    let inv = *secret.invitation();
    let acc = accept_invitation(
        &mut rng,
        &inv,
        RelayId::from_bytes(b.arr("reply_relay")),
        QueueId::from_bytes(b.arr("reply_queue")),
        &b.text("display_name"),
        now,
    )
    .unwrap();
    assert_eq!(rng.pos, rng.bytes.len(), "bob_rng not fully used");
    (secret, acc)
}

#[test]
fn every_vector_passes() {
    let blocks = all_blocks();
    let mut count = BTreeMap::<String, usize>::new();
    for b in &blocks {
        run(b);
        *count.entry(b.str("test").to_owned()).or_default() += 1;
    }
    // Guard against a file silently parsing to nothing.
    for kind in [
        "x25519",
        "x25519-dh",
        "aead",
        "hkdf",
        "mnemonic",
        "invitation",
        "envelope",
        "hello-message",
        "directory",
        "snapshot",
    ] {
        assert!(
            count.get(kind).copied().unwrap_or(0) > 0,
            "no `{kind}` vectors"
        );
    }
    assert_eq!(count["hkdf"], 3);
    assert_eq!(count["x25519"], 2);
}

/// Prints the outputs of the Sotto vectors from the inputs in the files (used once to freeze
/// them). `cargo test -p sotto-proto --test vectors -- --ignored --nocapture`
#[test]
#[ignore]
fn print_sotto_outputs() {
    for b in all_blocks() {
        match b.str("test") {
            "snapshot" => {
                let (address, chunks) = snapshot_from(&b);
                println!("blob_id = {}", hex::encode(address.blob_id.as_bytes()));
                println!(
                    "relay_pick = {}",
                    hex::encode(address.relay_pick.to_be_bytes())
                );
                println!("chunks = {:02x}", chunks.len());
                println!("chunk0_head = {}", hex::encode(&chunks[0][..64]));
                println!("chunks_sha256 = {}\n", hex::encode(joined_sha256(&chunks)));
            }
            "mnemonic" => {
                let m = Mnemonic::from_entropy(&b.arr("entropy"));
                let root = m.root_secret();
                println!("phrase = \"{}\"", &*m.phrase());
                println!("store_key = {}", hex::encode(root.store_key().expose()));
                println!("backup_key = {}\n", hex::encode(root.backup_key().expose()));
            }
            "invitation" => {
                let inv = invitation_from(&b);
                println!("encoded = {}", hex::encode(inv.to_bytes()));
                println!("fragment = \"{}\"\n", inv.to_fragment());
            }
            "envelope" => {
                let enc = envelope_from(&b).encode().unwrap();
                let end = 28 + usize::from(u16::from_be_bytes([enc[26], enc[27]]));
                println!("encoded_head = {}\n", hex::encode(&enc[..end]));
            }
            "hello-message" => {
                let (secret, acc) = hello_from(&b);
                println!(
                    "invitation = {}",
                    hex::encode(secret.invitation().to_bytes())
                );
                println!("message = {}\n", hex::encode(&acc.first_message));
            }
            _ => {}
        }
    }
}
