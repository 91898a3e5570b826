//! RFC 8439's ChaCha20 vectors (`tests/vectors/rfc8439-chacha20.txt`: §2.3.2, §2.4.2, A.1, A.2)
//! through [`ChaCha20Simd`] (the eight-block backend), [`ChaCha20`] (what this target uses) and,
//! as a check on the file, the `chacha20` crate; applied whole, byte by byte and in uneven
//! pieces. Plus RFC 8439 §2.8.2's AEAD through `ChaChaPoly1305<ChaCha20Simd>`. The file is
//! embedded with `include_str!`, so this also runs on wasm32 in a browser.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chacha20_simd128::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20_simd128::{ChaCha20, ChaCha20Simd};
use chacha20poly1305::ChaChaPoly1305;
use chacha20poly1305::aead::{AeadInOut, KeyInit};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const VECTORS: &str = include_str!("vectors/rfc8439-chacha20.txt");

struct Vector {
    name: String,
    key: [u8; 32],
    nonce: [u8; 12],
    counter: u32,
    plaintext: Vec<u8>,
    ciphertext: Vec<u8>,
}

fn vectors() -> Vec<Vector> {
    let mut out = Vec::new();
    for record in VECTORS.split("\n\n") {
        let fields: Vec<(&str, &str)> = record
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| l.split_once(" = ").expect("field"))
            .collect();
        if fields.is_empty() {
            continue;
        }
        let get = |name: &str| fields.iter().find(|(k, _)| *k == name).expect(name).1;
        out.push(Vector {
            name: get("name").to_owned(),
            key: hex::decode(get("key")).unwrap().try_into().unwrap(),
            nonce: hex::decode(get("nonce")).unwrap().try_into().unwrap(),
            counter: get("counter").parse().unwrap(),
            plaintext: hex::decode(get("plaintext")).unwrap(),
            ciphertext: hex::decode(get("ciphertext")).unwrap(),
        });
    }
    assert_eq!(out.len(), 10, "every vector of the file is read");
    out
}

/// Encrypts `v.plaintext` at `v.counter` with `C`, feeding it in pieces of `piece` bytes.
fn encrypt<C: KeyIvInit + StreamCipher + StreamCipherSeek>(v: &Vector, piece: usize) -> Vec<u8> {
    let mut cipher = C::new_from_slices(&v.key, &v.nonce).unwrap();
    cipher.seek(u64::from(v.counter) * 64);
    let mut buf = v.plaintext.clone();
    for chunk in buf.chunks_mut(piece) {
        cipher.apply_keystream(chunk);
    }
    buf
}

#[test]
fn rfc8439_vectors_whole_and_in_pieces() {
    for v in vectors() {
        for piece in [usize::MAX, 1, 7, 64, 65, 200] {
            let piece = piece.min(v.plaintext.len());
            assert_eq!(
                encrypt::<ChaCha20Simd>(&v, piece),
                v.ciphertext,
                "{}: eight-block backend, pieces of {piece}",
                v.name
            );
            assert_eq!(
                encrypt::<ChaCha20>(&v, piece),
                v.ciphertext,
                "{}: ChaCha20, pieces of {piece}",
                v.name
            );
            assert_eq!(
                encrypt::<chacha20::ChaCha20>(&v, piece),
                v.ciphertext,
                "{}: the chacha20 crate, pieces of {piece}",
                v.name
            );
        }
    }
}

#[test]
fn decryption_is_encryption() {
    for v in vectors() {
        let mut cipher = ChaCha20Simd::new(&v.key.into(), &v.nonce.into());
        cipher.seek(u64::from(v.counter) * 64);
        let mut buf = v.ciphertext.clone();
        cipher.apply_keystream(&mut buf);
        assert_eq!(buf, v.plaintext, "{}", v.name);
    }
}

/// RFC 8439 §2.8.2: the AEAD built on the eight-block backend.
#[test]
fn rfc8439_aead_through_chachapoly1305() {
    let key: [u8; 32] =
        hex::decode("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
            .unwrap()
            .try_into()
            .unwrap();
    let nonce: [u8; 12] = hex::decode("070000004041424344454647")
        .unwrap()
        .try_into()
        .unwrap();
    let ad = hex::decode("50515253c0c1c2c3c4c5c6c7").unwrap();
    let mut buf = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".to_vec();
    let aead = ChaChaPoly1305::<ChaCha20Simd>::new(&key.into());
    let tag = aead
        .encrypt_inout_detached(&nonce.into(), &ad, buf.as_mut_slice().into())
        .unwrap();
    assert_eq!(
        hex::encode(&buf),
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
    );
    assert_eq!(hex::encode(tag), "1ae10b594f09e26a7e902ecbd0600691");
    // A flipped tag bit or ciphertext bit is refused, and the buffer is left as it was.
    let sealed = buf.clone();
    let mut bad_tag = tag;
    bad_tag[0] ^= 1;
    assert!(
        aead.decrypt_inout_detached(&nonce.into(), &ad, buf.as_mut_slice().into(), &bad_tag)
            .is_err()
    );
    assert_eq!(buf, sealed);
    buf[7] ^= 0x80;
    assert!(
        aead.decrypt_inout_detached(&nonce.into(), &ad, buf.as_mut_slice().into(), &tag)
            .is_err()
    );
    buf[7] ^= 0x80;
    aead.decrypt_inout_detached(&nonce.into(), &ad, buf.as_mut_slice().into(), &tag)
        .unwrap();
    assert!(buf.starts_with(b"Ladies and Gentlemen"));
}

/// The browser build (simd128 on, `.cargo/config.toml`) uses the eight-block backend, with its
/// `v128` lanes, as its `ChaCha20`; these tests then run those lanes.
#[cfg(target_arch = "wasm32")]
#[test]
fn the_browser_build_uses_the_eight_block_backend() {
    assert_eq!(
        core::any::type_name::<ChaCha20>(),
        core::any::type_name::<ChaCha20Simd>()
    );
}
