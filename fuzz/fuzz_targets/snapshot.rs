#![no_main]
//! The relay snapshot's decrypt and parse path: any bytes, as a relay's answer for a
//! snapshot chunk, either open (only a genuine chunk) or give a typed error; any bytes as an
//! opened plaintext either parse or are `Malformed`, never a panic; and a genuine snapshot
//! opens to what was sealed.
use libfuzzer_sys::fuzz_target;
use sotto_proto::mnemonic::Mnemonic;
use sotto_proto::snapshot::{Address, finish, open, read_header};

fuzz_target!(|data: &[u8]| {
    let root = Mnemonic::from_entropy(&[7; 32]).root_secret();
    let address = Address::derive(&root, 20_000, 3);
    let index = data.first().copied().unwrap_or(0) as u32;
    assert!(address.open_chunk(index, data).is_err(), "forged chunk opened");
    let _ = read_header(data);
    let _ = finish(data);
    let state = data.get(..data.len().min(10_000)).unwrap_or_default();
    let sealed = address
        .seal_salted(&[9; 16], 42, state)
        .expect("a small state seals");
    let (header, back) = open(&address, &sealed).expect("a genuine snapshot opens");
    assert_eq!(header.created_at, 42);
    assert_eq!(&back[..], state);
});
