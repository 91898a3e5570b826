#![no_main]
//! Invitation decoding: binary layout and links, as pasted (mangled) text. Never panics;
//! whatever decodes re-encodes to the same bytes; a token found is at most 122 base64url
//! characters; wrapping a link that parses in noise (spaces, line breaks, bidi and zero-width
//! marks, punctuation) parses to the same invitation.
use libfuzzer_sys::fuzz_target;
use sotto_proto::invitation::{Invitation, TOKEN_LEN, find_token};

fuzz_target!(|data: &[u8]| {
    if let Ok(inv) = Invitation::from_bytes(data, 0) {
        assert_eq!(&inv.to_bytes()[..], data);
        let link = inv.to_link("https://sotto.example");
        let (head, tail) = link.split_at(50);
        let mangled = format!("\u{FEFF}<{head}\r\n\u{200B}{tail}\u{200E}>.");
        assert_eq!(Invitation::parse_link(&mangled, 0), Ok(inv));
    }
    if let Ok(text) = core::str::from_utf8(data) {
        if let Ok(token) = find_token(text) {
            assert!(token.len() <= TOKEN_LEN);
            assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
        if let Ok(inv) = Invitation::parse_link(text, 0) {
            let again = Invitation::parse_link(&inv.to_fragment(), 0);
            assert_eq!(again, Ok(inv));
        }
    }
});
