#![no_main]
//! Signed directory documents (`/directory.json`, version 2) from whoever serves them:
//! `SignedDirectory::parse` never panics; what parses writes back to JSON that parses to the
//! same document, and verifying it (against a fixed key, at a time taken from the input) never
//! panics either.
use libfuzzer_sys::fuzz_target;
use sotto_proto::directory::{DirectoryTrust, SignedDirectory};
use sotto_proto::keys::AuthKeyPair;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = SignedDirectory::parse(text) else {
        return;
    };
    assert_eq!(SignedDirectory::parse(&doc.to_json()), Ok(doc.clone()));
    let key = AuthKeyPair::from_persisted_bytes([1; 32]).public_key();
    let trust = DirectoryTrust::new(vec![key], 1).unwrap();
    let _ = doc.verify(&trust, u64::try_from(data.len()).unwrap_or(0) * 1_000_000);
});
