#![no_main]
//! Display names from peers: `sanitize` never panics, and what it returns is empty or passes
//! `validate` unchanged; `validate` never panics and returns a name that passes again.
use libfuzzer_sys::fuzz_target;
use sotto_proto::names::{sanitize, validate};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = core::str::from_utf8(data) {
        let shown = sanitize(text);
        assert!(shown.is_empty() || validate(&shown) == Ok(shown.as_str()));
        if let Ok(name) = validate(text) {
            assert_eq!(validate(name), Ok(name));
        }
    }
});
