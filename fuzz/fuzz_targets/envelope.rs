#![no_main]
//! Envelope decoding. Inputs shorter than an envelope are also tried zero-padded to the full
//! size, so the fuzzer reaches the body parsers. Whatever decodes re-encodes to the same bytes.
use libfuzzer_sys::fuzz_target;
use sotto_proto::envelope::{ENVELOPE_SIZE, Envelope};

fuzz_target!(|data: &[u8]| {
    let _ = Envelope::decode(data);
    if data.len() <= ENVELOPE_SIZE {
        let mut padded = data.to_vec();
        padded.resize(ENVELOPE_SIZE, 0);
        if let Ok(env) = Envelope::decode(&padded) {
            let again = env.encode().expect("a decoded envelope re-encodes");
            assert_eq!(&again[..], &padded[..]);
        }
    }
});
