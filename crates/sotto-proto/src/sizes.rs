//! The size budget, from the packet on the wire down to the padded envelope.
//!
//! Every packet on every hop is exactly [`PACKET_SIZE`] bytes, whatever it carries. Each layer
//! below takes a fixed overhead out of the layer above, so the envelope that a person's text
//! is padded into always fills the packet: an observer learns nothing from length.
//!
//! ```text
//! PACKET_SIZE            = Sphinx header + SPHINX_PAYLOAD_SIZE
//! SPHINX_PAYLOAD_SIZE    = Lioness-encrypted onion payload (fixed)
//! ONION_PLAINTEXT_SIZE   = SPHINX_PAYLOAD_SIZE - Sphinx payload overhead (what a final hop reads)
//! QUEUE_MESSAGE_SIZE     = the opaque blob a queue stores and delivers (a ratchet message)
//! ```
//! The queue codec (`queue`) fits a command with a QUEUE_MESSAGE_SIZE body inside
//! ONION_PLAINTEXT_SIZE; the ratchet (`ratchet`) produces messages of exactly
//! QUEUE_MESSAGE_SIZE; the envelope (`envelope`) pads to what the ratchet leaves.

/// The Sphinx payload size handed to `sphinx-packet` (Lioness block). Fixed for all traffic.
pub const SPHINX_PAYLOAD_SIZE: usize = 4096;

/// Bytes of `sphinx-packet`'s payload overhead (a zero-filled security prefix and a pad marker).
pub const SPHINX_PAYLOAD_OVERHEAD: usize = sphinx_packet::payload::PAYLOAD_OVERHEAD_SIZE;

/// What the final hop (or the SURB's creator) reads out of a packet.
pub const ONION_PLAINTEXT_SIZE: usize = SPHINX_PAYLOAD_SIZE - SPHINX_PAYLOAD_OVERHEAD;

/// Every packet on the wire, on every hop: the Sphinx header plus the payload.
pub const PACKET_SIZE: usize = sphinx_packet::header::HEADER_SIZE + SPHINX_PAYLOAD_SIZE;

/// The opaque, end-to-end encrypted blob a queue stores and delivers. A ratchet message is
/// exactly this long; the queue codec leaves room for its own framing around it.
pub const QUEUE_MESSAGE_SIZE: usize = 3584;

// The budget leaves room for a command's framing around a queue message.
const _: () = assert!(QUEUE_MESSAGE_SIZE + 256 <= ONION_PLAINTEXT_SIZE);

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn every_packet_is_the_sphinx_header_plus_the_fixed_payload() {
        assert_eq!(PACKET_SIZE, 348 + 4096);
        assert_eq!(ONION_PLAINTEXT_SIZE, 4079);
    }
}
