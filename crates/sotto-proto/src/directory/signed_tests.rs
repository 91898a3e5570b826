use super::*;
use crate::keys::AuthKeyPair;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn authority(n: u8) -> AuthKeyPair {
    AuthKeyPair::from_persisted_bytes([n; 32])
}

fn relay(n: u8) -> RelayDescriptor {
    RelayDescriptor {
        id: RelayId::from_bytes([n; 32]),
        url: format!("ws://127.0.0.1:{}", 9100 + u16::from(n)),
        sphinx_key: PublicKey::from_bytes([n.wrapping_add(100); 32]),
        key_epoch: 3,
        key_rotates_at: Some(2_000),
        previous_key: Some(PreviousKey {
            sphinx_key: PublicKey::from_bytes([n.wrapping_add(50); 32]),
            key_epoch: 2,
            valid_until: 1_500,
        }),
        pow_bits: Some(12),
    }
}

/// Two relays, valid [1000, 2000), signed by authorities 1, 2 and 3.
fn doc() -> SignedDirectory {
    let relays = (1..=2)
        .map(|n| {
            SignedDescriptor::sign(
                relay(n),
                &AuthKeyPair::from_persisted_bytes([n + 40; 32]),
                900,
            )
        })
        .collect();
    let mut d = SignedDirectory::new(relays, 1_000, 2_000);
    for a in 1..=3 {
        d.sign(&authority(a));
    }
    d
}

fn trust(keys: &[u8], threshold: usize) -> DirectoryTrust {
    DirectoryTrust::new(
        keys.iter().map(|&n| authority(n).public_key()).collect(),
        threshold,
    )
    .unwrap()
}

#[test]
fn a_signed_directory_round_trips_through_json_and_verifies() {
    let d = doc();
    let text = d.to_json();
    let back = SignedDirectory::parse(&text).unwrap();
    assert_eq!(back, d);
    let dir = back.verify(&trust(&[1, 2, 3], 2), 1_500).unwrap();
    assert_eq!(dir.relays, vec![relay(1), relay(2)]);
    // Exactly the threshold suffices; keys the client does not trust are ignored.
    assert!(back.verify(&trust(&[3, 9], 1), 1_000).is_ok());
}

#[test]
fn signatures_by_keys_not_trusted_count_for_nothing() {
    assert_eq!(
        doc().verify(&trust(&[7, 8, 9], 1), 1_500),
        Err(DirectoryError::TooFewSignatures {
            valid: 0,
            needed: 1
        })
    );
}

#[test]
fn below_the_threshold_is_refused() {
    let mut d = doc();
    d.signatures.truncate(1);
    assert_eq!(
        d.verify(&trust(&[1, 2, 3], 2), 1_500),
        Err(DirectoryError::TooFewSignatures {
            valid: 1,
            needed: 2
        })
    );
}

#[test]
fn a_key_that_signed_twice_counts_once() {
    let mut d = doc();
    d.signatures.truncate(1);
    let again = d.signatures[0];
    d.signatures.push(again);
    d.signatures.push(again);
    assert_eq!(
        d.verify(&trust(&[1, 2, 3], 2), 1_500),
        Err(DirectoryError::TooFewSignatures {
            valid: 1,
            needed: 2
        })
    );
}

#[test]
fn a_trusted_keys_bad_signature_is_its_only_chance_and_too_many_are_refused_unread() {
    // A bad signature by a trusted key, then its good one: the key is checked once, so a host
    // cannot make a client check one key's signatures over and over.
    let mut d = doc();
    d.signatures.truncate(1);
    let mut bad = d.signatures[0];
    bad.signature[0] ^= 1;
    d.signatures.insert(0, bad);
    assert_eq!(
        d.verify(&trust(&[1], 1), 1_500),
        Err(DirectoryError::TooFewSignatures {
            valid: 0,
            needed: 1
        })
    );
    // More signatures than MAX_SIGNATURES: refused when parsed, before any is checked.
    let mut d = doc();
    let junk = d.signatures[2];
    d.signatures.resize(MAX_SIGNATURES + 1, junk);
    assert_eq!(
        SignedDirectory::parse(&d.to_json()),
        Err(DirectoryError::BadField {
            field: "signatures"
        })
    );
    d.signatures.truncate(MAX_SIGNATURES);
    assert!(SignedDirectory::parse(&d.to_json()).is_ok());
}

#[test]
fn an_unsigned_document_is_refused() {
    let mut d = doc();
    d.signatures.clear();
    assert_eq!(
        d.verify(&trust(&[1], 1), 1_500),
        Err(DirectoryError::Unsigned)
    );
    let text = d.to_json();
    let parsed = SignedDirectory::parse(&text).unwrap();
    assert_eq!(
        parsed.verify(&trust(&[1], 1), 1_500),
        Err(DirectoryError::Unsigned)
    );
    // A version 1 list is unsigned by definition.
    let v1 = Directory::new(vec![relay(1)]).to_json();
    assert_eq!(SignedDirectory::parse(&v1), Err(DirectoryError::Unsigned));
}

#[test]
fn only_inside_the_validity_period() {
    let t = trust(&[1, 2, 3], 2);
    assert_eq!(
        doc().verify(&t, 999),
        Err(DirectoryError::NotYetValid {
            valid_after: 1_000,
            now: 999
        })
    );
    assert_eq!(
        doc().verify(&t, 2_000),
        Err(DirectoryError::Expired {
            valid_until: 2_000,
            now: 2_000
        })
    );
    assert!(doc().verify(&t, 1_999).is_ok());
}

#[test]
fn a_tampered_body_breaks_every_authority_signature() {
    let t = trust(&[1, 2, 3], 1);
    let mut d = doc();
    d.valid_until += 1;
    assert!(matches!(
        d.verify(&t, 1_500),
        Err(DirectoryError::TooFewSignatures { valid: 0, .. })
    ));
    let mut d = doc();
    d.relays[1].relay.sphinx_key = PublicKey::from_bytes([0xee; 32]);
    assert!(matches!(
        d.verify(&t, 1_500),
        Err(DirectoryError::TooFewSignatures { valid: 0, .. })
    ));
    let mut d = doc();
    d.relays.pop();
    assert!(matches!(
        d.verify(&t, 1_500),
        Err(DirectoryError::TooFewSignatures { valid: 0, .. })
    ));
}

#[test]
fn a_tampered_descriptor_is_refused_even_when_the_authorities_signed_it() {
    // Authorities signing a descriptor whose relay signature does not match.
    let mut d = doc();
    d.relays[1].relay.url = "ws://evil.example:1".into();
    d.signatures.clear();
    for a in 1..=3 {
        d.sign(&authority(a));
    }
    assert_eq!(
        d.verify(&trust(&[1, 2, 3], 2), 1_500),
        Err(DirectoryError::BadDescriptorSignature { relay: 1 })
    );
    assert_eq!(doc().relays[0].verify(0), Ok(()));
}

#[test]
fn malformed_documents_give_typed_errors() {
    let good: Value = serde_json::from_str(&doc().to_json()).unwrap();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        SignedDirectory::parse(&v.to_string())
    };
    assert!(matches!(
        SignedDirectory::parse("{"),
        Err(DirectoryError::NotJson { .. })
    ));
    assert!(matches!(
        SignedDirectory::parse("[]"),
        Err(DirectoryError::NotJson { .. })
    ));
    assert_eq!(
        with(&|v| v["version"] = 3.into()),
        Err(DirectoryError::UnsupportedVersion)
    );
    assert_eq!(
        with(&|v| v["valid_until"] = "soon".into()),
        Err(DirectoryError::BadField {
            field: "valid_until"
        })
    );
    assert_eq!(
        with(&|v| v["signatures"][0]["signature"] = "!!".into()),
        Err(DirectoryError::BadField {
            field: "signatures"
        })
    );
    assert_eq!(
        with(&|v| v["signatures"][0]["key"] = "AAAA".into()),
        Err(DirectoryError::BadField {
            field: "signatures"
        })
    );
    assert_eq!(
        with(&|v| v["signatures"] = 1.into()),
        Err(DirectoryError::BadField {
            field: "signatures"
        })
    );
    assert_eq!(
        with(&|v| v["relays"][1]["signature"] = "@@".into()),
        Err(DirectoryError::NotBase64 {
            relay: 1,
            field: "signature"
        })
    );
    assert_eq!(
        with(&|v| v["relays"][0]["identity_key"] = "AAAA".into()),
        Err(DirectoryError::BadKeyLength {
            relay: 0,
            field: "identity_key",
            len: 3
        })
    );
    assert_eq!(
        with(&|v| {
            v["relays"][0]
                .as_object_mut()
                .unwrap()
                .remove("published_at");
        }),
        Err(DirectoryError::MissingField {
            relay: 0,
            field: "published_at"
        })
    );
    assert_eq!(
        with(&|v| v["relays"] = 1.into()),
        Err(DirectoryError::NoRelayList)
    );
}

#[test]
fn trust_needs_keys_and_a_sane_threshold() {
    let k = authority(1).public_key();
    assert!(matches!(
        DirectoryTrust::new(vec![], 1),
        Err(DirectoryError::BadTrust(_))
    ));
    assert!(matches!(
        DirectoryTrust::new(vec![k], 0),
        Err(DirectoryError::BadTrust(_))
    ));
    // The same key twice is one key.
    assert!(matches!(
        DirectoryTrust::new(vec![k, k], 2),
        Err(DirectoryError::BadTrust(_))
    ));
    assert!(matches!(
        DirectoryTrust::from_base64(&["not a key"], None),
        Err(DirectoryError::BadTrust(_))
    ));
    let b = crate::codec::base64url(k.as_bytes());
    let t = DirectoryTrust::from_base64(&[b.clone(), format!("{b}=")], Some(1)).unwrap();
    assert_eq!((t.keys().len(), t.threshold()), (2, 1));
}

/// Prints the document, the authority keys and the signed body of the test vector in
/// `tests/vectors/sotto-directory.txt` (run with `--ignored --nocapture`).
#[test]
#[ignore]
fn print_the_test_vector() {
    let d = doc();
    println!("document = \"{}\"", d.to_json());
    for a in 1..=3 {
        println!(
            "key = {}",
            hex::encode(authority(a).public_key().as_bytes())
        );
    }
    println!("body = {}", hex::encode(d.signed_bytes()));
}
