#![no_main]
//! Persisted client state (`Client::from_persisted`): hostile bytes give an error, never a
//! panic; whatever is accepted in the current layout persists again to exactly the same bytes
//! (one state, one encoding), and a state of an older layout, once written in the current one,
//! reads back to that encoding.
use libfuzzer_sys::fuzz_target;
use sotto_proto::client::{CLIENT_STATE_VERSION, Client};

fuzz_target!(|data: &[u8]| {
    if let Ok(client) = Client::from_persisted(data) {
        let again = client.to_persisted();
        if data.first() == Some(&CLIENT_STATE_VERSION) {
            assert_eq!(again.as_bytes(), data);
        } else {
            let back = Client::from_persisted(again.as_bytes()).expect("the current layout reads");
            assert_eq!(back.to_persisted().as_bytes(), again.as_bytes());
        }
    }
});
