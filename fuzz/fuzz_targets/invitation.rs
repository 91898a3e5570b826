#![no_main]
//! Invitation decoding: binary layout and links. Never panics; whatever decodes re-encodes to
//! the same bytes.
use libfuzzer_sys::fuzz_target;
use sotto_proto::invitation::Invitation;

fuzz_target!(|data: &[u8]| {
    if let Ok(inv) = Invitation::from_bytes(data, 0) {
        assert_eq!(&inv.to_bytes()[..], data);
    }
    if let Ok(text) = core::str::from_utf8(data) {
        if let Ok(inv) = Invitation::parse_link(text, 0) {
            let again = Invitation::parse_link(&inv.to_fragment(), 0);
            assert_eq!(again, Ok(inv));
        }
    }
});
