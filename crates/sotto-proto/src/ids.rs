//! Identifiers that go on the wire. Each is a newtype with a `Debug` that is safe to log:
//! only a short prefix, enough to correlate log lines, not enough to look anything up.

use core::fmt;

/// Declares a fixed-size id newtype with a log-safe `Debug`. Used for every id on the wire.
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $len:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; $len]);

        impl $name {
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

            /// A fresh random id.
            pub fn random<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
                let mut bytes = [0u8; $len];
                rng.fill_bytes(&mut bytes);
                Self(bytes)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    concat!(stringify!($name), "({:02x}{:02x}{:02x}…)"),
                    self.0[0], self.0[1], self.0[2]
                )
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
