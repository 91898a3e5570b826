use super::*;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn id() -> String {
    crate::codec::base64url(&[7u8; 32])
}

fn key() -> String {
    crate::codec::base64url(&[9u8; 32])
}

/// One entry with every field, one with only the required ones.
fn full_doc() -> String {
    let (id, key) = (id(), key());
    format!(
        r#"{{"version":1,"relays":[
            {{"id":"{id}","url":"ws://127.0.0.1:9101","sphinx_key":"{key}","key_epoch":3,
              "key_rotates_at":1200,"pow_bits":12,
              "previous_key":{{"sphinx_key":"{id}","key_epoch":2,"valid_until":1100}}}},
            {{"id":"{key}","url":"wss://relay.example/ws","sphinx_key":"{id}","key_epoch":1}}
        ]}}"#
    )
}

/// `full_doc` with its first entry's `"field"` replaced by `value` (raw JSON).
fn with_first(field: &str, value: &str) -> String {
    let mut doc: Value = serde_json::from_str(&full_doc()).unwrap();
    doc["relays"][0][field] = serde_json::from_str(value).unwrap();
    doc.to_string()
}

fn without_first(field: &str) -> String {
    let mut doc: Value = serde_json::from_str(&full_doc()).unwrap();
    doc["relays"][0].as_object_mut().unwrap().remove(field);
    doc.to_string()
}

#[test]
fn a_full_document_parses_into_typed_fields() {
    let dir = Directory::parse(&full_doc(), Unusable::Refuse).unwrap();
    assert_eq!(dir.relays.len(), 2);
    let r = &dir.relays[0];
    assert_eq!(r.id, RelayId::from_bytes([7; 32]));
    assert_eq!(r.url, "ws://127.0.0.1:9101");
    assert_eq!(r.sphinx_key, PublicKey::from_bytes([9; 32]));
    assert_eq!(r.key_epoch, 3);
    assert_eq!(r.key_rotates_at, Some(1200));
    assert_eq!(r.pow_bits, Some(12));
    assert_eq!(
        r.previous_key,
        Some(PreviousKey {
            sphinx_key: PublicKey::from_bytes([7; 32]),
            key_epoch: 2,
            valid_until: 1100,
        })
    );
    let r = &dir.relays[1];
    assert_eq!(
        (r.key_rotates_at, r.previous_key, r.pow_bits),
        (None, None, None)
    );
    let hops: Vec<_> = dir.hops().collect();
    assert_eq!(hops[1].1, "wss://relay.example/ws");
    assert_eq!(hops[1].0.id, RelayId::from_bytes([9; 32]));
}

#[test]
fn writing_is_the_served_shape_and_round_trips() {
    let dir = Directory::parse(&full_doc(), Unusable::Refuse).unwrap();
    let text = dir.to_json();
    // Compact, keys sorted, optional fields absent rather than null.
    let (id, key) = (id(), key());
    assert_eq!(
        text,
        format!(
            r#"{{"relays":[{{"id":"{id}","key_epoch":3,"key_rotates_at":1200,"pow_bits":12,"previous_key":{{"key_epoch":2,"sphinx_key":"{id}","valid_until":1100}},"sphinx_key":"{key}","url":"ws://127.0.0.1:9101"}},{{"id":"{key}","key_epoch":1,"sphinx_key":"{id}","url":"wss://relay.example/ws"}}],"version":1}}"#
        )
    );
    assert_eq!(Directory::parse(&text, Unusable::Refuse).unwrap(), dir);
}

#[test]
fn padded_base64_and_unknown_fields_are_accepted() {
    let padded = format!("{}=", key());
    let doc = with_first("sphinx_key", &format!("\"{padded}\""));
    assert!(Directory::parse(&doc, Unusable::Refuse).is_ok());
    let doc = with_first("signature", "\"later\"");
    assert!(Directory::parse(&doc, Unusable::Refuse).is_ok());
}

#[test]
fn malformed_documents_are_refused_with_typed_errors() {
    use DirectoryError::*;
    let refuse = |doc: &str| Directory::parse(doc, Unusable::Refuse).unwrap_err();
    assert!(matches!(refuse("not json"), NotJson { line: 1, .. }));
    assert!(matches!(refuse(""), NotJson { .. }));
    assert_eq!(refuse("[]"), UnsupportedVersion);
    assert_eq!(
        refuse(&full_doc().replace("\"version\":1", "\"version\":2")),
        UnsupportedVersion
    );
    assert_eq!(refuse(r#"{"version":1}"#), NoRelayList);
    assert_eq!(refuse(r#"{"version":1,"relays":{}}"#), NoRelayList);
    assert_eq!(refuse(r#"{"version":1,"relays":[]}"#), NoUsableRelay);
    for field in ["id", "url", "sphinx_key", "key_epoch"] {
        assert_eq!(
            refuse(&without_first(field)),
            MissingField { relay: 0, field },
            "without {field}"
        );
    }
    assert_eq!(
        refuse(&with_first("id", "7")),
        MissingField {
            relay: 0,
            field: "id"
        }
    );
    assert_eq!(
        refuse(&with_first("sphinx_key", "\"not base64!\"")),
        NotBase64 {
            relay: 0,
            field: "sphinx_key"
        }
    );
    let short = crate::codec::base64url(&[1u8; 31]);
    assert_eq!(
        refuse(&with_first("id", &format!("\"{short}\""))),
        BadKeyLength {
            relay: 0,
            field: "id",
            len: 31
        }
    );
    assert_eq!(
        refuse(&with_first("url", "\"http://127.0.0.1:9101\"")),
        BadUrl { relay: 0 }
    );
    assert_eq!(
        refuse(&with_first("key_epoch", "4294967296")),
        OutOfRange {
            relay: 0,
            field: "key_epoch"
        }
    );
    assert_eq!(
        refuse(&with_first(
            "previous_key",
            r#"{"key_epoch":2,"valid_until":1}"#
        )),
        MissingField {
            relay: 0,
            field: "previous_key.sphinx_key"
        }
    );
    assert_eq!(
        refuse(&with_first(
            "previous_key",
            &format!(r#"{{"sphinx_key":"{}","key_epoch":2}}"#, key())
        )),
        MissingField {
            relay: 0,
            field: "previous_key.valid_until"
        }
    );
    // Optional fields of the wrong type or range read as absent, as they always have.
    let dir = Directory::parse(&with_first("pow_bits", "300"), Unusable::Refuse).unwrap();
    assert_eq!(dir.relays[0].pow_bits, None);
    let dir = Directory::parse(&with_first("previous_key", "null"), Unusable::Refuse).unwrap();
    assert_eq!(dir.relays[0].previous_key, None);
}

#[test]
fn skipping_leaves_broken_entries_out_but_not_broken_documents() {
    let doc = with_first("sphinx_key", "\"AAAA\"");
    assert!(Directory::parse(&doc, Unusable::Refuse).is_err());
    let dir = Directory::parse(&doc, Unusable::Skip).unwrap();
    assert_eq!(dir.relays.len(), 1);
    assert_eq!(dir.relays[0].url, "wss://relay.example/ws");
    // Nothing usable left, or a broken document, is still an error.
    let (id, key) = (id(), key());
    let none = format!(r#"{{"version":1,"relays":[{{"id":"{id}","sphinx_key":"{key}"}},7]}}"#);
    assert_eq!(
        Directory::parse(&none, Unusable::Skip),
        Err(DirectoryError::NoUsableRelay)
    );
    assert_eq!(
        Directory::parse("{", Unusable::Skip)
            .map_err(|e| matches!(e, DirectoryError::NotJson { .. })),
        Err(true)
    );
    assert_eq!(
        Directory::parse(r#"{"version":2,"relays":[]}"#, Unusable::Skip),
        Err(DirectoryError::UnsupportedVersion)
    );
}

#[test]
fn the_directory_is_read_again_just_after_the_earliest_rotation_in_device_time() {
    let entry = |rotates_at: Option<u64>| RelayDescriptor {
        id: RelayId::from_bytes([1; 32]),
        url: "ws://127.0.0.1:1".into(),
        sphinx_key: PublicKey::from_bytes([2; 32]),
        key_epoch: 1,
        key_rotates_at: rotates_at,
        previous_key: None,
        pow_bits: None,
    };
    let now = 1_000_000;
    let relays = [entry(Some(now + 200)), entry(Some(now + 40)), entry(None)];
    for jitter in 0..20 {
        let at = reread_at(&relays, 0, now, jitter, 3600);
        assert!(
            (now + 41..=now + 40 + KEY_REREAD_MARGIN_SECS / 2).contains(&at),
            "{at}"
        );
    }
    // The device is 15 minutes fast: the rotation is 15 minutes later on its clock.
    assert_eq!(reread_at(&relays, -900, now, 0, 3600), now + 40 + 900 + 1);
    // Nothing announced: the longest wait; a rotation already past: not in a loop.
    assert_eq!(reread_at(&[entry(None)], 0, now, 0, 3600), now + 3600);
    assert_eq!(
        reread_at(&[entry(Some(now - 100))], 0, now, 0, 3600),
        now + MIN_REREAD_SECS
    );
    assert_eq!(
        reread_at(&[entry(Some(now + 9000))], 0, now, 0, 3600),
        now + 3600
    );
}
