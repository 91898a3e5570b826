//! Several envelopes in one ratchet message (issue 18): a short text uses a few tens of the
//! [`ENVELOPE_SIZE`] bytes of a message, so an outbox that holds several sends as many as fit
//! in one message, encrypted once and stored by the relay once.
//!
//! A batch is an envelope whose id and sent-at are zero and whose content tag is 6; its body:
//!
//! | size | field |
//! |---|---|
//! | 1 | count `n` (u8, 2..=255) |
//! | `n` × (2 + `len`) | each envelope: len16 ‖ its unpadded encoding ([`Envelope::encode_unpadded`]) |
//!
//! Each inner envelope is read exactly as a single one (version, id, sent-at, tag, body;
//! consumed exactly, no padding) and is never a batch itself. The body is consumed exactly
//! and the message's padding is zero, as for any envelope. One envelope alone is never a
//! batch: it keeps the single encoding, so a batch of fewer than two is refused.

use zeroize::Zeroizing;

use super::{ENVELOPE_SIZE, Envelope, EnvelopeError, MAX_BODY_BYTES, MessageId, Raw};
use super::{TAG_BATCH, frame};
use crate::codec::{Reader, SecretWriter, Writer as _};

/// The most envelopes in one batch.
pub const MAX_BATCH: usize = 255;
/// Bytes a batch adds to each envelope it carries (its len16).
pub const BATCH_ENTRY_OVERHEAD: usize = 2;

/// How many of the leading envelopes, given by the lengths of their unpadded encodings, one
/// message carries: as many as fit in a batch, else the first alone (1), or 0 for none.
pub fn fit_in_message(lens: impl IntoIterator<Item = usize>) -> usize {
    // The count byte, then each entry.
    let mut used = 1;
    let mut n = 0;
    let mut any = false;
    for len in lens {
        any = true;
        used += BATCH_ENTRY_OVERHEAD + len;
        if used > MAX_BODY_BYTES || n == MAX_BATCH {
            break;
        }
        n += 1;
    }
    if any { n.max(1) } else { 0 }
}

/// Encodes one ratchet message's plaintext ([`ENVELOPE_SIZE`] bytes) from unpadded envelope
/// encodings (as [`Envelope::encode_unpadded`] makes them): one alone as a single envelope,
/// several as a batch. [`EnvelopeError::InvalidValue`] for none, [`EnvelopeError::TooLarge`]
/// when they do not fit in one message (see [`fit_in_message`]).
pub fn encode_message(parts: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    let (first, rest) = parts.split_first().ok_or(EnvelopeError::InvalidValue)?;
    if rest.is_empty() {
        if first.len() > ENVELOPE_SIZE {
            return Err(EnvelopeError::TooLarge);
        }
        let mut out = Zeroizing::new(first.to_vec());
        out.resize(ENVELOPE_SIZE, 0);
        return Ok(out);
    }
    if parts.len() > MAX_BATCH {
        return Err(EnvelopeError::TooLarge);
    }
    let mut body = SecretWriter::with_capacity(MAX_BODY_BYTES);
    body.put_u8(u8::try_from(parts.len()).map_err(|_| EnvelopeError::TooLarge)?);
    for part in parts {
        body.put_u16_prefixed(part)
            .map_err(|_| EnvelopeError::TooLarge)?;
    }
    // The id and the time zero.
    let mut out = frame(
        &MessageId::from_bytes([0; 16]),
        0,
        TAG_BATCH,
        &body.into_inner(),
    )?;
    out.resize(ENVELOPE_SIZE, 0);
    Ok(out)
}

/// Decodes one ratchet message's plaintext (exactly [`ENVELOPE_SIZE`] bytes): its envelope,
/// or a batch's envelopes in order. Any error fails the whole message (see
/// [`decode_message_each`] for one that does not).
pub fn decode_message(bytes: &[u8]) -> Result<Vec<Envelope>, EnvelopeError> {
    // A loop, not `collect` into a `Result`: one instance of `Vec`'s code less in the wasm.
    let each = decode_message_each(bytes)?;
    let mut out = Vec::with_capacity(each.len());
    for envelope in each {
        out.push(envelope?);
    }
    Ok(out)
}

/// [`decode_message`], each envelope decoded on its own: `Err` when the message itself is
/// malformed (its size, version or padding; a batch's id, time, count, entry lengths or
/// trailing bytes), else each envelope's own result in order, one that cannot be read (an
/// unknown content tag, a malformed body, a nested batch) failing alone. A receiver hands on
/// the readable envelopes of a message whose frame checks out.
#[allow(clippy::type_complexity)]
pub fn decode_message_each(
    bytes: &[u8],
) -> Result<Vec<Result<Envelope, EnvelopeError>>, EnvelopeError> {
    let raw = Raw::padded(bytes)?;
    if raw.tag != TAG_BATCH {
        return Ok(vec![raw.single()]);
    }
    if raw.sent_at != 0 || raw.id.as_bytes().iter().any(|&b| b != 0) {
        return Err(EnvelopeError::InvalidValue);
    }
    let mut r = Reader::new(raw.body);
    let count = usize::from(r.take_u8()?);
    if count < 2 {
        return Err(EnvelopeError::InvalidValue);
    }
    // The frame first: every length and the end of the body, before any entry is read.
    let mut parts = Vec::with_capacity(count);
    for _ in 0..count {
        parts.push(r.take_u16_prefixed()?);
    }
    r.should_be_exhausted()?;
    let mut out = Vec::with_capacity(count);
    for part in parts {
        out.push(Envelope::decode_unpadded(part));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::tests::samples;
    use super::super::{Content, MAX_TEXT_BYTES, MessageId};
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn unpadded(envelopes: &[Envelope]) -> Vec<Zeroizing<Vec<u8>>> {
        envelopes
            .iter()
            .map(|e| e.encode_unpadded().unwrap())
            .collect()
    }

    fn texts(rng: &mut ChaCha20Rng, n: usize) -> Vec<Envelope> {
        (0..n)
            .map(|i| {
                Envelope::new(
                    rng,
                    1_800_000_000 + i as u64,
                    Content::Text(format!("m{i}")),
                )
            })
            .collect()
    }

    fn batch_of(envelopes: &[Envelope]) -> Vec<u8> {
        let parts = unpadded(envelopes);
        let refs: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
        encode_message(&refs).unwrap().to_vec()
    }

    #[test]
    fn a_batch_round_trips_in_order_and_one_alone_is_a_single_envelope() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        // Every kind but the longest text (which fills a message alone).
        let mut all = samples(&mut rng);
        all.retain(|e| !matches!(&e.content, Content::Text(t) if t.len() == MAX_TEXT_BYTES));
        let bytes = batch_of(&all);
        assert_eq!(bytes.len(), ENVELOPE_SIZE);
        assert_eq!(bytes[25], TAG_BATCH);
        assert_eq!(decode_message(&bytes).unwrap(), all);
        // One alone: exactly today's single encoding.
        let one = &all[..1];
        let bytes = batch_of(one);
        assert_eq!(&bytes[..], &one[0].encode().unwrap()[..]);
        assert_eq!(decode_message(&bytes).unwrap(), one);
        assert_eq!(Envelope::decode(&bytes).unwrap(), one[0]);
        // `Envelope::decode` refuses a batch.
        assert_eq!(
            Envelope::decode(&batch_of(&all)).unwrap_err(),
            EnvelopeError::NestedBatch
        );
    }

    #[test]
    fn fit_in_message_takes_as_many_as_fit() {
        assert_eq!(fit_in_message([]), 0);
        assert_eq!(fit_in_message([ENVELOPE_SIZE]), 1);
        assert_eq!(fit_in_message([ENVELOPE_SIZE, 30]), 1);
        // count byte + n × (2 + 30) ≤ MAX_BODY_BYTES.
        let n = (MAX_BODY_BYTES - 1) / 32;
        assert_eq!(fit_in_message(std::iter::repeat_n(30, 500)), n);
        assert_eq!(fit_in_message(std::iter::repeat_n(0, 500)), MAX_BATCH);
        let mut rng = ChaCha20Rng::seed_from_u64(12);
        let many = texts(&mut rng, 200);
        let parts = unpadded(&many);
        let n = fit_in_message(parts.iter().map(|p| p.len()));
        assert!(n > 50 && n < 200, "{n}");
        let refs: Vec<&[u8]> = parts.iter().take(n).map(|p| &p[..]).collect();
        assert_eq!(
            decode_message(&encode_message(&refs).unwrap()).unwrap(),
            many[..n]
        );
        let refs: Vec<&[u8]> = parts.iter().take(n + 1).map(|p| &p[..]).collect();
        assert_eq!(encode_message(&refs).unwrap_err(), EnvelopeError::TooLarge);
        assert_eq!(
            encode_message(&[]).unwrap_err(),
            EnvelopeError::InvalidValue
        );
    }

    /// Offsets in a batch of two texts `m0`, `m1`: the body starts at 28 (count), the first
    /// entry's len16 at 29, its envelope at 31 (30 bytes: header 28 + body 2), the second's
    /// len16 at 61 and its envelope at 63.
    fn two(rng: &mut ChaCha20Rng) -> Vec<u8> {
        batch_of(&texts(rng, 2))
    }

    fn set_body_len(b: &mut [u8], len: usize) {
        b[26..28].copy_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
    }

    #[test]
    fn malformed_batches_get_typed_errors() {
        let mut rng = ChaCha20Rng::seed_from_u64(13);
        let good = two(&mut rng);
        assert_eq!(decode_message(&good).unwrap().len(), 2);
        let body_len = usize::from(u16::from_be_bytes([good[26], good[27]]));
        assert_eq!(body_len, 1 + 2 * 32);
        // Counts: 0 and 1 are refused, more than the body holds is truncated.
        for (count, error) in [
            (0, EnvelopeError::InvalidValue),
            (1, EnvelopeError::InvalidValue),
            (3, EnvelopeError::Truncated),
        ] {
            let mut b = good.clone();
            b[28] = count;
            assert_eq!(decode_message(&b).unwrap_err(), error, "count {count}");
        }
        // An entry's length past the body, one short of its envelope's body, one short of its
        // envelope's header, one longer than its envelope: the frame is read first, and the
        // next entry's length, out of place, points past the end (an entry's own length
        // errors: `decode_unpadded_is_exact`).
        for (len, error) in [
            (0x0fff, EnvelopeError::LengthPastEnd),
            (29, EnvelopeError::LengthPastEnd),
            (20, EnvelopeError::LengthPastEnd),
            (31, EnvelopeError::LengthPastEnd),
        ] {
            let mut b = good.clone();
            b[29..31].copy_from_slice(&u16::to_be_bytes(len));
            assert_eq!(decode_message(&b).unwrap_err(), error, "entry length {len}");
        }
        // Bytes after the entries.
        let mut b = good.clone();
        set_body_len(&mut b, body_len + 1);
        assert_eq!(
            decode_message(&b).unwrap_err(),
            EnvelopeError::TrailingBytes
        );
        // Padding after the batch.
        let mut b = good.clone();
        b[ENVELOPE_SIZE - 1] = 1;
        assert_eq!(
            decode_message(&b).unwrap_err(),
            EnvelopeError::NonZeroPadding
        );
        // A non-zero id or time on the batch itself.
        for at in [1, 17, 24] {
            let mut b = good.clone();
            b[at] = 1;
            assert_eq!(decode_message(&b).unwrap_err(), EnvelopeError::InvalidValue);
        }
        // An inner envelope of another version, of an unknown tag, not UTF-8: the whole
        // message fails, or, read each on its own, that envelope alone.
        let second = Envelope::decode_unpadded(&good[63..93]).unwrap();
        for (at, value, error) in [
            (31, 9, EnvelopeError::UnsupportedVersion(9)),
            (56, 99, EnvelopeError::UnknownTag(99)),
            (59, 0xff, EnvelopeError::InvalidUtf8),
        ] {
            let mut b = good.clone();
            b[at] = value;
            assert_eq!(decode_message(&b).unwrap_err(), error, "offset {at}");
            let each = decode_message_each(&b).unwrap();
            assert_eq!(each, vec![Err(error), Ok(second.clone())], "offset {at}");
        }
        // A malformed frame fails the message however it is read.
        let mut b = good.clone();
        b[29..31].copy_from_slice(&u16::to_be_bytes(0x0fff));
        assert_eq!(
            decode_message_each(&b).unwrap_err(),
            EnvelopeError::LengthPastEnd
        );
        assert_eq!(
            decode_message(&good[..100]).unwrap_err(),
            EnvelopeError::WrongSize { found: 100 }
        );
    }

    #[test]
    fn a_batch_inside_a_batch_is_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(14);
        let inner = two(&mut rng);
        let inner_len = 28 + usize::from(u16::from_be_bytes([inner[26], inner[27]]));
        let other = texts(&mut rng, 1)[0].encode_unpadded().unwrap();
        let nested = encode_message(&[&inner[..inner_len], &other[..]]).unwrap();
        assert_eq!(
            decode_message(&nested).unwrap_err(),
            EnvelopeError::NestedBatch
        );
        assert_eq!(
            Envelope::decode_unpadded(&inner[..inner_len]).unwrap_err(),
            EnvelopeError::NestedBatch
        );
    }

    #[test]
    fn decode_unpadded_is_exact() {
        let mut rng = ChaCha20Rng::seed_from_u64(15);
        let env = &texts(&mut rng, 1)[0];
        let bytes = env.encode_unpadded().unwrap();
        assert_eq!(&Envelope::decode_unpadded(&bytes).unwrap(), env);
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert_eq!(
            Envelope::decode_unpadded(&longer).unwrap_err(),
            EnvelopeError::TrailingBytes
        );
        assert_eq!(
            Envelope::decode_unpadded(&bytes[..bytes.len() - 1]).unwrap_err(),
            EnvelopeError::LengthPastEnd
        );
        let id = MessageId::random(&mut rng);
        assert_ne!(id, env.id);
    }
}
