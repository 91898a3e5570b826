#![no_main]
//! The attachment chunk decrypt path: any bytes, as a relay's BlobChunk answer, either open
//! (only if they are a genuine chunk) or give a typed error; and a genuine chunk opens to what
//! was sealed, at its own index only.
use libfuzzer_sys::fuzz_target;
use sotto_proto::attachment::{CHUNK_PLAINTEXT, open_chunk, seal_chunk};
use sotto_proto::envelope::{AttachmentKey, BlobId};

fuzz_target!(|data: &[u8]| {
    let key = AttachmentKey::from_bytes([7; 32]);
    let blob = BlobId::from_bytes([1; 16]);
    let index = data.first().copied().unwrap_or(0) as u32;
    assert!(open_chunk(&key, &blob, index, data).is_err(), "forged chunk opened");
    let file = data.get(..CHUNK_PLAINTEXT.min(data.len())).unwrap_or_default();
    let sealed = seal_chunk(&key, &blob, file, 0).expect("one chunk seals");
    let opened = open_chunk(&key, &blob, 0, &sealed).expect("a genuine chunk opens");
    assert_eq!(&opened[..file.len()], file);
    assert!(open_chunk(&key, &blob, 1, &sealed).is_err());
});
