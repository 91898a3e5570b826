//! The one byte codec every binary layout in Sotto is read and written with, after arti's
//! `tor-bytes`: a bounds-checked [`Reader`] over a slice and a [`Writer`] over a growing
//! buffer. Integers are big-endian (network order) everywhere.
//!
//! * [`Reader`] never panics and never reads past its slice: every read returns
//!   [`CodecError::Truncated`] instead. A decoder of a whole message ends with
//!   [`Reader::should_be_exhausted`], which refuses trailing bytes.
//! * [`Writer`] is implemented for `Vec<u8>` and for [`SecretWriter`], the variant for secret
//!   material: a `Zeroizing` buffer that also wipes the old allocation whenever it grows, so no
//!   copy of a key is left behind in freed memory.
//! * [`Readable`] / [`Writeable`] are implemented by fixed-size byte arrays and by the id
//!   newtypes (`crate::ids::id_type!`), so `r.extract::<QueueId>()` and `w.put(&queue_id)` work.
//!
//! Each protocol module maps [`CodecError`] into its own error type (`From` impls next to those
//! types), so callers keep seeing the errors they always saw.

use zeroize::Zeroizing;

/// What can go wrong reading or writing a layout. Always the peer's fault when reading
/// (malformed input), the caller's when writing (a field too long for its length prefix).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The input ends before the field does: `wanted` bytes were asked for, `remaining` were
    /// left.
    #[error("truncated: wanted {wanted} bytes, {remaining} left")]
    Truncated { wanted: usize, remaining: usize },
    /// `count` bytes are left after the last field of a whole message.
    #[error("{count} trailing bytes")]
    TrailingBytes { count: usize },
    /// A length prefix that cannot be right: when reading, it points past the end of the input;
    /// when writing, the field is longer than the prefix can express.
    #[error("length {len} out of range (at most {max})")]
    BadLength { len: usize, max: usize },
}

/// A bounds-checked cursor over a byte slice. Every read either returns the whole field and
/// advances, or fails and leaves the position where it was.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// Bytes read so far (the position).
    pub fn consumed(&self) -> usize {
        self.pos
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        let truncated = CodecError::Truncated {
            wanted: n,
            remaining: self.remaining(),
        };
        let end = self.pos.checked_add(n).ok_or(truncated)?;
        let out = self.bytes.get(self.pos..end).ok_or(truncated)?;
        self.pos = end;
        Ok(out)
    }

    /// Skips `n` bytes.
    pub fn advance(&mut self, n: usize) -> Result<(), CodecError> {
        self.take(n).map(|_| ())
    }

    /// Everything left (possibly nothing); the reader is exhausted afterwards.
    pub fn take_rest(&mut self) -> &'a [u8] {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        self.pos = self.bytes.len();
        rest
    }

    /// Reads one value of a fixed-size type: `[u8; N]`, an integer, an id newtype.
    pub fn extract<E: Readable>(&mut self) -> Result<E, CodecError> {
        E::take_from(self)
    }

    pub fn take_u8(&mut self) -> Result<u8, CodecError> {
        self.extract()
    }

    /// A big-endian `u16`.
    pub fn take_u16(&mut self) -> Result<u16, CodecError> {
        self.extract()
    }

    /// A big-endian `u32`.
    pub fn take_u32(&mut self) -> Result<u32, CodecError> {
        self.extract()
    }

    /// A big-endian `u64`.
    pub fn take_u64(&mut self) -> Result<u64, CodecError> {
        self.extract()
    }

    /// A `u8` length followed by that many bytes.
    pub fn take_u8_prefixed(&mut self) -> Result<&'a [u8], CodecError> {
        let len = usize::from(self.take_u8()?);
        self.take_len(len, 1)
    }

    /// A big-endian `u16` length followed by that many bytes.
    pub fn take_u16_prefixed(&mut self) -> Result<&'a [u8], CodecError> {
        let len = usize::from(self.take_u16()?);
        self.take_len(len, 2)
    }

    /// A big-endian `u32` length followed by that many bytes.
    pub fn take_u32_prefixed(&mut self) -> Result<&'a [u8], CodecError> {
        let len = usize::try_from(self.take_u32()?).unwrap_or(usize::MAX);
        self.take_len(len, 4)
    }

    /// The body of a length-prefixed field whose `prefix`-byte length was just read. A length
    /// past the end is [`CodecError::BadLength`], and the prefix is given back so the reader is
    /// where it was before the field.
    fn take_len(&mut self, len: usize, prefix: usize) -> Result<&'a [u8], CodecError> {
        let max = self.remaining();
        if len > max {
            self.pos = self.pos.saturating_sub(prefix);
            return Err(CodecError::BadLength { len, max });
        }
        self.take(len)
    }

    /// Ends the decoding of a whole message: [`CodecError::TrailingBytes`] if anything is
    /// left.
    pub fn should_be_exhausted(&self) -> Result<(), CodecError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(CodecError::TrailingBytes { count }),
        }
    }
}

/// A fixed-size value a [`Reader`] can extract.
pub trait Readable: Sized {
    /// Reads one value, advancing `r` past it.
    fn take_from(r: &mut Reader<'_>) -> Result<Self, CodecError>;
}

/// A value a [`Writer`] can put.
pub trait Writeable {
    /// Appends the value's encoding to `w`.
    fn write_onto<W: Writer + ?Sized>(&self, w: &mut W);
}

impl<const N: usize> Readable for [u8; N] {
    fn take_from(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let remaining = r.remaining();
        <[u8; N]>::try_from(r.take(N)?).map_err(|_| CodecError::Truncated {
            wanted: N,
            remaining,
        })
    }
}

impl<const N: usize> Writeable for [u8; N] {
    fn write_onto<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_bytes(self);
    }
}

macro_rules! int_codec {
    ($($t:ty),*) => {$(
        impl Readable for $t {
            fn take_from(r: &mut Reader<'_>) -> Result<Self, CodecError> {
                r.extract().map(<$t>::from_be_bytes)
            }
        }

        impl Writeable for $t {
            fn write_onto<W: Writer + ?Sized>(&self, w: &mut W) {
                w.put_bytes(&self.to_be_bytes());
            }
        }
    )*};
}

int_codec!(u8, u16, u32, u64);

/// Appends fields to a buffer. Implemented for `Vec<u8>` and for [`SecretWriter`]; everything
/// but [`Writer::put_bytes`] is provided.
pub trait Writer {
    /// Appends `bytes` as they are.
    fn put_bytes(&mut self, bytes: &[u8]);

    /// Appends a fixed-size value (an integer, an array, an id newtype).
    fn put<E: Writeable + ?Sized>(&mut self, value: &E) {
        value.write_onto(self);
    }

    fn put_u8(&mut self, v: u8) {
        self.put_bytes(&[v]);
    }

    /// Big-endian.
    fn put_u16(&mut self, v: u16) {
        self.put_bytes(&v.to_be_bytes());
    }

    /// Big-endian.
    fn put_u32(&mut self, v: u32) {
        self.put_bytes(&v.to_be_bytes());
    }

    /// Big-endian.
    fn put_u64(&mut self, v: u64) {
        self.put_bytes(&v.to_be_bytes());
    }

    /// A `u8` length and `bytes`, as [`Reader::take_u8_prefixed`] reads them; nothing is
    /// written if `bytes` is longer than 255 ([`CodecError::BadLength`]).
    fn put_u8_prefixed(&mut self, bytes: &[u8]) -> Result<(), CodecError> {
        self.put_u8(prefix_len(bytes.len(), usize::from(u8::MAX))?);
        self.put_bytes(bytes);
        Ok(())
    }

    /// A `u16` length and `bytes`, as [`Reader::take_u16_prefixed`] reads them; nothing is
    /// written if `bytes` is longer than 65 535 ([`CodecError::BadLength`]).
    fn put_u16_prefixed(&mut self, bytes: &[u8]) -> Result<(), CodecError> {
        self.put_u16(prefix_len(bytes.len(), usize::from(u16::MAX))?);
        self.put_bytes(bytes);
        Ok(())
    }

    /// A `u32` length and `bytes`, as [`Reader::take_u32_prefixed`] reads them; nothing is
    /// written if `bytes` is longer than 2³² − 1 ([`CodecError::BadLength`]).
    fn put_u32_prefixed(&mut self, bytes: &[u8]) -> Result<(), CodecError> {
        self.put_u32(prefix_len(
            bytes.len(),
            usize::try_from(u32::MAX).unwrap_or(usize::MAX),
        )?);
        self.put_bytes(bytes);
        Ok(())
    }
}

/// `len` as a length prefix of type `L`, or [`CodecError::BadLength`] if it does not fit
/// (`max` is the largest that does, for the error).
fn prefix_len<L: TryFrom<usize>>(len: usize, max: usize) -> Result<L, CodecError> {
    L::try_from(len).map_err(|_| CodecError::BadLength { len, max })
}

impl Writer for Vec<u8> {
    fn put_bytes(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// A [`Writer`] for secret material (keys, session state, plaintext). The buffer is zeroized
/// on drop, and when it must grow the contents move into a fresh, larger allocation and the
/// old one is zeroized, so reallocation leaves no copy behind. Size it with
/// [`SecretWriter::with_capacity`] to avoid growing at all.
pub struct SecretWriter(Zeroizing<Vec<u8>>);

impl SecretWriter {
    /// An empty writer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self(Zeroizing::new(Vec::with_capacity(capacity)))
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The written bytes, still zeroized on drop.
    pub fn into_inner(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

impl Writer for SecretWriter {
    fn put_bytes(&mut self, bytes: &[u8]) {
        let needed = self.0.len().saturating_add(bytes.len());
        if needed > self.0.capacity() {
            let mut grown = Zeroizing::new(Vec::with_capacity(
                needed.max(self.0.capacity().saturating_mul(2)),
            ));
            grown.extend_from_slice(&self.0);
            // The old buffer is dropped here, and `Zeroizing` wipes it.
            self.0 = grown;
        }
        self.0.extend_from_slice(bytes);
    }
}

impl core::fmt::Debug for SecretWriter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SecretWriter({} bytes, <redacted>)", self.0.len())
    }
}

/// Declares a serialized-state type: `Zeroizing` bytes made by a [`SecretWriter`], read
/// back with `as_bytes`, whose `Debug` prints only the type's name:
/// `persisted_bytes!(/// docs Name, "as_bytes docs")`.
macro_rules! persisted_bytes {
    ($(#[$meta:meta])* $name:ident, $as_bytes_doc:literal) => {
        $(#[$meta])*
        pub struct $name(zeroize::Zeroizing<Vec<u8>>);

        impl $name {
            #[doc = $as_bytes_doc]
            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}
pub(crate) use persisted_bytes;

/// `bytes` as unpadded base64url (RFC 4648 §5, no `=`): invitation links and the directory's
/// keys and signatures. By RustCrypto's `base64ct`, constant-time (no table lookups indexed by
/// secret bytes: invitation tokens carry secrets) and smaller in the wasm than `base64`'s engine.
pub fn base64url(bytes: &[u8]) -> String {
    use base64ct::Encoding as _;
    base64ct::Base64UrlUnpadded::encode_string(bytes)
}

/// The bytes of unpadded base64url `text` (RFC 4648 §5), or `None` when it is not exactly that:
/// a character outside the alphabet, padding, whitespace, a length no encoding has, or unused
/// trailing bits that are not zero (non-canonical). Callers that accept padding strip it first.
pub fn from_base64url(text: &str) -> Option<Vec<u8>> {
    use base64ct::Encoding as _;
    base64ct::Base64UrlUnpadded::decode_vec(text).ok()
}

/// Test helper: `decode` refuses every proper prefix of `bytes` (a truncation at any
/// position is an error, never a shorter value).
#[cfg(test)]
pub(crate) fn assert_every_cut_fails<T, E>(bytes: &[u8], decode: impl Fn(&[u8]) -> Result<T, E>) {
    for cut in 0..bytes.len() {
        assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn base64url_is_the_base64_crates_url_safe_no_pad() {
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let bytes: Vec<u8> = (0..=255u8).rev().chain(0..=255).collect();
        for len in 0..70 {
            let b = &bytes[len * 3..len * 4];
            let text = base64url(b);
            assert_eq!(text, URL_SAFE_NO_PAD.encode(b), "{len}");
            assert_eq!(from_base64url(&text).as_deref(), Some(b), "{len}");
        }
        // Refused by both: padding, whitespace, the standard alphabet's + and /, an impossible
        // length, non-zero trailing bits ("AB" holds 12 bits of which the last 4 must be 0).
        for bad in ["AA==", "AA A", "+/8", "A", "AB", "AAAAA", "é"] {
            assert_eq!(from_base64url(bad), None, "{bad:?}");
            assert!(URL_SAFE_NO_PAD.decode(bad).is_err(), "{bad:?}");
        }
        assert_eq!(from_base64url("AA").as_deref(), Some(&[0u8][..]));
    }

    /// One of everything: u8, u16, u32, u64, array, and the three prefixed forms.
    fn sample() -> Vec<u8> {
        let mut w = Vec::new();
        w.put_u8(0xa1);
        w.put_u16(0xb2b3);
        w.put_u32(0xc4c5_c6c7);
        w.put_u64(0xd8d9_dadb_dcdd_dedf);
        w.put(&[1u8, 2, 3]);
        w.put_u8_prefixed(b"ab").unwrap();
        w.put_u16_prefixed(b"cde").unwrap();
        w.put_u32_prefixed(b"").unwrap();
        w
    }

    fn read_sample(bytes: &[u8]) -> Result<(), CodecError> {
        let mut r = Reader::new(bytes);
        assert_eq!(r.take_u8()?, 0xa1);
        assert_eq!(r.take_u16()?, 0xb2b3);
        assert_eq!(r.take_u32()?, 0xc4c5_c6c7);
        assert_eq!(r.take_u64()?, 0xd8d9_dadb_dcdd_dedf);
        assert_eq!(r.extract::<[u8; 3]>()?, [1, 2, 3]);
        assert_eq!(r.take_u8_prefixed()?, b"ab");
        assert_eq!(r.take_u16_prefixed()?, b"cde");
        assert_eq!(r.take_u32_prefixed()?, b"");
        r.should_be_exhausted()
    }

    #[test]
    fn round_trip_is_big_endian() {
        let bytes = sample();
        assert_eq!(&bytes[..3], &[0xa1, 0xb2, 0xb3]);
        assert_eq!(bytes.len(), 1 + 2 + 4 + 8 + 3 + 3 + 5 + 4);
        read_sample(&bytes).unwrap();
    }

    #[test]
    fn truncation_at_every_position_is_an_error() {
        let bytes = sample();
        for cut in 0..bytes.len() {
            let err = read_sample(&bytes[..cut]).unwrap_err();
            assert!(
                matches!(
                    err,
                    CodecError::Truncated { .. } | CodecError::BadLength { .. }
                ),
                "cut at {cut}: {err:?}"
            );
        }
    }

    #[test]
    fn trailing_bytes_are_refused() {
        for extra in 1..4 {
            let mut bytes = sample();
            bytes.extend(core::iter::repeat_n(0, extra));
            assert_eq!(
                read_sample(&bytes),
                Err(CodecError::TrailingBytes { count: extra })
            );
        }
        let mut r = Reader::new(&[1, 2]);
        r.take_u8().unwrap();
        assert_eq!(
            r.should_be_exhausted(),
            Err(CodecError::TrailingBytes { count: 1 })
        );
        assert_eq!(r.take_rest(), &[2]);
        r.should_be_exhausted().unwrap();
        assert_eq!(r.take_rest(), b"");
    }

    #[test]
    fn overlong_length_prefix_is_bad_length_and_reads_nothing() {
        let mut r = Reader::new(&[5, 1, 2, 3]);
        assert_eq!(
            r.take_u8_prefixed(),
            Err(CodecError::BadLength { len: 5, max: 3 })
        );
        assert_eq!(r.consumed(), 0);
        let mut r = Reader::new(&[0xff, 0xff, 0]);
        assert_eq!(
            r.take_u16_prefixed(),
            Err(CodecError::BadLength {
                len: 0xffff,
                max: 1
            })
        );
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(
            r.take_u32_prefixed(),
            Err(CodecError::BadLength { max: 0, .. })
        ));
        assert_eq!(r.remaining(), 4);
    }

    #[test]
    fn failed_reads_do_not_move_the_position() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(
            r.take_u32(),
            Err(CodecError::Truncated {
                wanted: 4,
                remaining: 3
            })
        );
        assert_eq!(r.consumed(), 0);
        assert!(r.take(usize::MAX).is_err());
        assert!(r.advance(4).is_err());
        r.advance(1).unwrap();
        assert_eq!(r.extract::<[u8; 2]>().unwrap(), [2, 3]);
        assert!(r.extract::<[u8; 1]>().is_err());
        assert_eq!(r.extract::<[u8; 0]>().unwrap(), [0u8; 0]);
    }

    #[test]
    fn arrays_at_an_offset_are_bounds_checked() {
        // What `crypto::array_at` used to check, through the reader.
        let at = |off: usize| -> Option<[u8; 2]> {
            let mut r = Reader::new(&[1, 2, 3]);
            r.advance(off).ok()?;
            r.extract().ok()
        };
        assert_eq!(at(1), Some([2, 3]));
        assert_eq!(at(2), None);
        assert_eq!(at(usize::MAX), None);
    }

    #[test]
    fn writers_refuse_fields_too_long_for_their_prefix() {
        let mut w = Vec::new();
        assert_eq!(
            w.put_u8_prefixed(&[0; 256]),
            Err(CodecError::BadLength { len: 256, max: 255 })
        );
        assert!(w.put_u16_prefixed(&vec![0; 65_536]).is_err());
        assert!(w.is_empty(), "nothing written on error");
        w.put_u8_prefixed(&[7; 255]).unwrap();
        assert_eq!(w.len(), 256);
    }

    #[test]
    fn secret_writer_matches_vec_and_grows() {
        let mut s = SecretWriter::with_capacity(1);
        let mut v = Vec::new();
        for i in 0..100u32 {
            s.put_u32(i);
            v.put_u32(i);
        }
        assert_eq!(s.len(), 400);
        assert!(!s.is_empty());
        assert_eq!(format!("{s:?}"), "SecretWriter(400 bytes, <redacted>)");
        assert_eq!(&s.into_inner()[..], &v[..]);
    }
}
