//! Identifiers that go on the wire. Each is a newtype declared with the crate-private
//! `id_type!` macro, with a `Debug` that is safe to log: only a short prefix, enough to
//! correlate log lines, not enough to look anything up.
//!
//! The network-wide ids live here; the others are declared with the same macro next to the
//! protocol that gives them meaning:
//!
//! | id | where | what |
//! |---|---|---|
//! | [`RelayId`] | here | a relay's onion address |
//! | [`QueueId`] | here | one side's id of a queue |
//! | `QueueMessageId` | [`crate::queue`] | the relay-assigned id of a stored message (acked by it) |
//! | `BlobId` | [`crate::queue`] | an attachment blob on its relay |
//! | `MessageId` | [`crate::envelope`] | the end-to-end id of a message (receipts refer to it) |
//! | `ConnTag`, `SurbId` | [`crate::onion`] | a gateway connection tag, a SURB's identifier |

#[cfg(doc)]
use crate::codec::{Readable, Writeable};

/// Declares a fixed-size id newtype: `id_type!(/// docs Name, LEN)`, or
/// `id_type!(/// docs Name, LEN, nonzero)` for ids whose all-zero value means "none" on the
/// wire (then [`random`](QueueId::random) never returns it). Every id gets `from_bytes`,
/// `from_slice`, `as_bytes`, `random`, `Copy`/`Eq`/`Hash`/`Ord`, a log-safe `Debug` (the
/// first three bytes only) and [`Readable`]/[`Writeable`] for the [codec](crate::codec).
///
/// Equality is the derived one: none of these ids is a secret that is compared against a
/// guess (a connection tag or blob id is looked up in a map, and a map lookup is not
/// constant-time anyway).
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $len:expr) => {
        $crate::ids::id_type!(@define $(#[$meta])* $name, $len);

        impl $name {
            /// A fresh random id.
            pub fn random<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
                let mut bytes = [0u8; $len];
                rng.fill_bytes(&mut bytes);
                Self(bytes)
            }
        }
    };
    ($(#[$meta:meta])* $name:ident, $len:expr, nonzero) => {
        $crate::ids::id_type!(@define $(#[$meta])* $name, $len);

        impl $name {
            /// A fresh random value (never all-zero).
            pub fn random<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
                let mut bytes = [0u8; $len];
                while bytes == [0u8; $len] {
                    rng.fill_bytes(&mut bytes);
                }
                Self(bytes)
            }
        }
    };
    (@define $(#[$meta:meta])* $name:ident, $len:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; $len]);

        impl $name {
            /// Bytes on the wire.
            pub const LEN: usize = $len;

            pub const fn from_bytes(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }

            /// `None` unless `bytes` is exactly [`Self::LEN`] long.
            pub fn from_slice(bytes: &[u8]) -> Option<Self> {
                <[u8; $len]>::try_from(bytes).ok().map(Self)
            }

            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }
        }

        impl core::fmt::Debug for $name {
            /// The first three bytes: enough to correlate log lines, not to look anything up.
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(
                    f,
                    concat!(stringify!($name), "({:02x}{:02x}{:02x}…)"),
                    self.0[0], self.0[1], self.0[2]
                )
            }
        }

        impl $crate::codec::Readable for $name {
            fn take_from(
                r: &mut $crate::codec::Reader<'_>,
            ) -> Result<Self, $crate::codec::CodecError> {
                r.extract().map(Self)
            }
        }

        impl $crate::codec::Writeable for $name {
            fn write_onto<W: $crate::codec::Writer + ?Sized>(&self, w: &mut W) {
                w.put_bytes(&self.0);
            }
        }
    };
}

pub(crate) use id_type;

id_type!(
    /// A relay's address on the onion network (the Sphinx node address, 32 bytes). The
    /// directory maps it to the relay's WebSocket URL and Sphinx public key.
    RelayId,
    32
);

id_type!(
    /// One side's id of a queue. A queue has two unrelated ids: the recipient's (used to
    /// subscribe, acknowledge, delete) and the sender's (used to send). Neither can be derived
    /// from the other, so a relay's log of sends cannot be joined to its log of reads.
    QueueId,
    16
);

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn from_slice_takes_only_the_exact_length() {
        assert!(QueueId::from_slice(&[1u8; 16]).is_some());
        assert!(QueueId::from_slice(&[1u8; 15]).is_none());
        assert!(QueueId::from_slice(&[1u8; 17]).is_none());
        assert!(RelayId::from_slice(&[]).is_none());
    }

    #[test]
    fn debug_shows_a_short_prefix_only() {
        let id = QueueId::from_bytes([0xab; 16]);
        assert_eq!(format!("{id:?}"), "QueueId(ababab…)");
    }
}
