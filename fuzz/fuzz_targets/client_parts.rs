#![no_main]
//! The client state in parts (`Client::from_parts`): the input is cut into a core and contact
//! parts (each preceded by its length, u16 big-endian); hostile bytes give an error, never a
//! panic, and whatever is accepted cuts into exactly the same parts again (one state, one
//! encoding; the contact parts in id order) when they are of today's layout version.
use libfuzzer_sys::fuzz_target;
use sotto_proto::client::{CLIENT_STATE_VERSION, Client};

fuzz_target!(|data: &[u8]| {
    let mut pieces = Vec::new();
    let mut rest = data;
    while let [hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (piece, next) = tail.split_at(len);
        pieces.push(piece);
        rest = next;
    }
    let Some((core, contacts)) = pieces.split_first() else {
        return;
    };
    // Parts of an older layout version are read, and written again in today's.
    let today = core.get(1) == Some(&CLIENT_STATE_VERSION)
        && contacts
            .iter()
            .all(|p| p.first() == Some(&CLIENT_STATE_VERSION));
    if let Ok(client) = Client::from_parts(core, contacts.iter().copied())
        && today
    {
        let parts = client.to_parts();
        assert_eq!(parts.core.as_bytes(), *core);
        let mut given: Vec<&[u8]> = contacts.to_vec();
        given.sort_by_key(|p| p.get(1..9).map(<[u8]>::to_vec));
        let again: Vec<&[u8]> = parts.contacts.iter().map(|c| c.part.as_bytes()).collect();
        assert_eq!(again, given);
    }
});
