//! The alternative of issue 17, measured with the same primitives and provider: Signal-style
//! sender keys (a per-sender symmetric chain, each message sealed with ChaCha20-Poly1305 and
//! signed with Ed25519) whose chain keys travel over the pairwise channels. One pairwise
//! distribution is measured as an X25519 HPKE seal of the 64-byte sender key (one DH and one
//! AEAD, the cost of a Double Ratchet step with a DH ratchet); Sotto's onion packet per 1:1
//! message comes on top (BENCHMARKS.md: 2.16 ms in the browser, 0.58 ms native).

use openmls::prelude::*;
use openmls_basic_credential::SignatureKeyPair;
use openmls_traits::signatures::Signer as _;

use crate::{Provider, Res, Round, SUITE, TEXT_LEN, err, now_ms};

/// Operations per timed batch (the per-op figure is the batch's mean).
const BATCH: usize = 200;

/// Bytes of a sender-key message for `TEXT_LEN` bytes of text: key id (4) + iteration (4) +
/// ciphertext + Poly1305 tag (16) + Ed25519 signature (64).
pub const MESSAGE_BYTES: usize = 4 + 4 + TEXT_LEN + 16 + 64;

struct Chain {
    key: Vec<u8>,
    iteration: u32,
}

impl Chain {
    /// One step of the symmetric chain: (message key 32 bytes + nonce 12 bytes, next chain key).
    fn step(&mut self, provider: &Provider) -> Res<Vec<u8>> {
        let crypto = provider.crypto();
        let message_key = crypto
            .hkdf_expand(HashType::Sha2_256, &self.key, b"msg", 44)
            .map_err(err("hkdf"))?;
        self.key = crypto
            .hkdf_expand(HashType::Sha2_256, &self.key, b"chain", 32)
            .map_err(err("hkdf"))?
            .as_slice()
            .to_vec();
        self.iteration += 1;
        Ok(message_key.as_slice().to_vec())
    }
}

/// Times sender-key encrypt, decrypt and one pairwise distribution into `round`.
pub fn sender_keys(round: &mut Round) -> Res<()> {
    let provider = Provider::default();
    let crypto = provider.crypto();
    let signer = SignatureKeyPair::new(SUITE.signature_algorithm()).map_err(err("sig key"))?;
    let public = signer.to_public_vec();
    let mut sender = Chain { key: vec![7; 32], iteration: 0 };
    let mut receiver = Chain { key: vec![7; 32], iteration: 0 };
    let text = vec![b'x'; TEXT_LEN];

    let start = now_ms();
    let mut sealed = Vec::with_capacity(BATCH);
    for _ in 0..BATCH {
        let key = sender.step(&provider)?;
        let mut message = sender.iteration.to_be_bytes().to_vec();
        let ct = crypto
            .aead_encrypt(AeadType::ChaCha20Poly1305, &key[..32], &text, &key[32..], b"")
            .map_err(err("seal"))?;
        message.extend_from_slice(&ct);
        let signature = signer.sign(&message).map_err(err("sign"))?;
        sealed.push((message, signature));
    }
    round.ms.insert("sender keys: encrypt message".into(), (now_ms() - start) / BATCH as f64);

    let start = now_ms();
    for (message, signature) in &sealed {
        let key = receiver.step(&provider)?;
        crypto
            .verify_signature(SUITE.signature_algorithm(), message, &public, signature)
            .map_err(err("verify"))?;
        let plain = crypto
            .aead_decrypt(AeadType::ChaCha20Poly1305, &key[..32], &message[4..], &key[32..], b"")
            .map_err(err("open"))?;
        if plain != text {
            return Err("sender keys: wrong plaintext".into());
        }
    }
    round.ms.insert("sender keys: decrypt message".into(), (now_ms() - start) / BATCH as f64);

    let recipient = crypto.derive_hpke_keypair(SUITE.hpke_config(), &[3; 32]).map_err(err("hpke key"))?;
    let sender_key = [9u8; 64];
    let start = now_ms();
    for _ in 0..BATCH {
        crypto
            .hpke_seal(SUITE.hpke_config(), &recipient.public, b"sender key", b"", &sender_key)
            .map_err(err("hpke seal"))?;
    }
    round.ms.insert("sender keys: distribute to 1 member".into(), (now_ms() - start) / BATCH as f64);
    Ok(())
}
