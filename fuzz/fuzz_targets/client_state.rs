#![no_main]
//! Persisted client state (`Client::from_persisted`): hostile bytes give an error, never a
//! panic, and whatever is accepted persists again to exactly the same bytes (one state, one
//! encoding).
use libfuzzer_sys::fuzz_target;
use sotto_proto::client::Client;

fuzz_target!(|data: &[u8]| {
    if let Ok(client) = Client::from_persisted(data) {
        let again = client.to_persisted();
        assert_eq!(again.as_bytes(), data);
    }
});
