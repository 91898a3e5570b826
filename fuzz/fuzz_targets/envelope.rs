#![no_main]
//! Envelope decoding, single and batched. Inputs shorter than an envelope are also tried
//! zero-padded to the full size, so the fuzzer reaches the body parsers. Whatever decodes
//! re-encodes to the same bytes: a single envelope by itself, a batch from its envelopes'
//! unpadded encodings; and an unpadded encoding that decodes re-encodes to itself.
use libfuzzer_sys::fuzz_target;
use sotto_proto::envelope::{
    ENVELOPE_SIZE, Envelope, decode_message, decode_message_each, encode_message,
};

fuzz_target!(|data: &[u8]| {
    let _ = Envelope::decode(data);
    let _ = decode_message(data);
    if let Ok(env) = Envelope::decode_unpadded(data) {
        let again = env.encode_unpadded().expect("a decoded envelope re-encodes");
        assert_eq!(&again[..], data);
    }
    if data.len() <= ENVELOPE_SIZE {
        let mut padded = data.to_vec();
        padded.resize(ENVELOPE_SIZE, 0);
        if let Ok(env) = Envelope::decode(&padded) {
            let again = env.encode().expect("a decoded envelope re-encodes");
            assert_eq!(&again[..], &padded[..]);
        }
        // Read each on its own, a message decodes whole exactly when every envelope does.
        let each = decode_message_each(&padded);
        let whole = decode_message(&padded);
        match (&each, &whole) {
            (Ok(each), Ok(whole)) => assert!(each.iter().flatten().eq(whole.iter())),
            (Ok(each), Err(_)) => assert!(each.iter().any(Result::is_err)),
            (Err(a), Err(b)) => assert_eq!(a, b),
            (Err(_), Ok(_)) => panic!("a frame error that decode_message does not see"),
        }
        if let Ok(envelopes) = whole {
            let parts: Vec<_> = envelopes
                .iter()
                .map(|e| e.encode_unpadded().expect("a decoded envelope re-encodes"))
                .collect();
            let refs: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
            let again = encode_message(&refs).expect("a decoded message re-encodes");
            assert_eq!(&again[..], &padded[..]);
        }
    }
});
