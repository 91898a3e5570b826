//! Security codes: how two people check that nobody sat between them when the one-time link
//! was passed on.
//!
//! Both sides of a conversation share the Double Ratchet's associated data `AD = IK ‖ EK`
//! (the invitation's handshake key and the acceptor's ephemeral key, see
//! [`crate::handshake`]). Someone who replaced the link on its way runs two handshakes, one
//! with each side, and each side then holds a different `AD`. The code is a digest of `AD`,
//! so equal codes on both screens mean one handshake, end to end:
//!
//! ```text
//! digest = SHA-512("sotto/v1/security-code" ‖ AD)                       (64 bytes)
//! code   = 12 groups of 5 digits: group i = BE40(digest[5i .. 5i+5]) mod 100000
//! qr     = "sotto-code:" ‖ the 60 digits (no spaces)
//! ```
//!
//! The digit layout is Signal's safety number's (60 digits, 5-byte chunks mod 100000); the
//! value is per conversation, as SimpleX's security code is (Sotto has no long-term identity
//! key to fingerprint). The attacker cannot aim at a collision: the two `AD`s are fixed by the
//! two honest parties' fresh keys before the attacker learns what the other side's code is.

use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

use crate::ratchet::AD_LEN;

/// Domain label of the security code's digest.
pub const SECURITY_CODE_LABEL: &[u8] = b"sotto/v1/security-code";
/// The prefix of a security code's QR payload (see [`SecurityCode::qr_payload`]).
pub const QR_PREFIX: &str = "sotto-code:";
/// Digits in a security code.
pub const DIGITS: usize = 60;
/// Digits per group in [`SecurityCode::display`].
pub const GROUP: usize = 5;

/// The security code of one conversation: 60 decimal digits. Not a secret (both people read it
/// aloud or show it as a QR code), so it prints and compares freely; [`SecurityCode::matches`]
/// still compares in constant time.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SecurityCode {
    digits: [u8; DIGITS],
}

impl SecurityCode {
    /// The code of the conversation whose ratchet has associated data `ad` (64 bytes,
    /// [`crate::ratchet::Session::associated_data`]).
    pub fn from_associated_data(ad: &[u8; AD_LEN]) -> Self {
        let digest = Sha512::new()
            .chain_update(SECURITY_CODE_LABEL)
            .chain_update(ad)
            .finalize();
        let mut digits = [0u8; DIGITS];
        for (group, chunk) in digits.chunks_exact_mut(GROUP).zip(digest.chunks_exact(5)) {
            let mut value = chunk.iter().fold(0u64, |v, b| (v << 8) | u64::from(*b)) % 100_000;
            for d in group.iter_mut().rev() {
                *d = (value % 10) as u8;
                value /= 10;
            }
        }
        Self { digits }
    }

    /// The 60 digits in 12 groups of 5, separated by spaces (`"01234 56789 …"`), as a screen
    /// shows them.
    pub fn display(&self) -> String {
        let groups: Vec<String> = self
            .digits
            .chunks(GROUP)
            .map(|g| g.iter().map(|d| char::from(b'0' + d)).collect())
            .collect();
        groups.join(" ")
    }

    /// What the QR code carries: `"sotto-code:"` and the 60 digits.
    pub fn qr_payload(&self) -> String {
        let digits: String = self.digits.iter().map(|d| char::from(b'0' + d)).collect();
        format!("{QR_PREFIX}{digits}")
    }

    /// The QR code of [`SecurityCode::qr_payload`] as an SVG document (at least 256 × 256,
    /// with its quiet zone), for the contact to scan.
    pub fn to_qr_svg(&self) -> String {
        match qrcode::QrCode::with_error_correction_level(
            self.qr_payload().as_bytes(),
            qrcode::EcLevel::M,
        ) {
            Ok(code) => code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(256, 256)
                .quiet_zone(true)
                .build(),
            // 71 bytes always fit (a version-5 code at level M holds 84); kept total anyway.
            Err(_) => String::new(),
        }
    }

    /// Whether `input` is this code: the QR payload as scanned, or the digits as typed or
    /// pasted (spaces, dashes and other separators are ignored; the prefix is optional).
    /// Anything that is not exactly 60 digits is `false`. Compares in constant time.
    pub fn matches(&self, input: &str) -> bool {
        let body = input.trim().strip_prefix(QR_PREFIX).unwrap_or(input);
        let mut got = Vec::with_capacity(DIGITS);
        for c in body.chars() {
            match c.to_digit(10) {
                Some(d) if c.is_ascii_digit() => got.push(d as u8),
                _ if c.is_whitespace() || c == '-' || c == '.' => {}
                _ => return false,
            }
        }
        got.len() == DIGITS && bool::from(got.as_slice().ct_eq(&self.digits[..]))
    }

    /// A 32-byte fingerprint of the code, kept with a verification so that a later change of
    /// the code is noticed.
    pub fn fingerprint(&self) -> [u8; 32] {
        let digest = Sha512::new()
            .chain_update(SECURITY_CODE_LABEL)
            .chain_update(self.digits)
            .finalize();
        let mut out = [0u8; 32];
        out.copy_from_slice(&digest[..32]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn sixty_digits_in_twelve_groups() {
        let code = SecurityCode::from_associated_data(&[7; AD_LEN]);
        let shown = code.display();
        assert_eq!(shown.len(), DIGITS + 11);
        assert_eq!(shown.split(' ').count(), 12);
        assert!(shown.split(' ').all(|g| g.len() == 5));
        assert!(code.qr_payload().starts_with(QR_PREFIX));
        assert_eq!(code.qr_payload().len(), QR_PREFIX.len() + DIGITS);
        assert!(code.to_qr_svg().starts_with("<?xml"));
    }

    #[test]
    fn equal_data_equal_codes_and_one_bit_changes_it() {
        let a = SecurityCode::from_associated_data(&[1; AD_LEN]);
        assert_eq!(a, SecurityCode::from_associated_data(&[1; AD_LEN]));
        let mut other = [1; AD_LEN];
        other[63] ^= 1;
        let b = SecurityCode::from_associated_data(&other);
        assert_ne!(a, b);
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn matches_scanned_typed_and_pasted_forms_only() {
        let code = SecurityCode::from_associated_data(&[3; AD_LEN]);
        assert!(code.matches(&code.qr_payload()));
        assert!(code.matches(&code.display()));
        assert!(code.matches(&code.display().replace(' ', "-")));
        assert!(code.matches(&format!("  {}\n", code.display())));
        let other = SecurityCode::from_associated_data(&[4; AD_LEN]);
        assert!(!code.matches(&other.qr_payload()));
        // Malformed: too short, too long, letters, other digit scripts, empty.
        let digits = code.qr_payload()[QR_PREFIX.len()..].to_owned();
        assert!(!code.matches(&digits[..59]));
        assert!(!code.matches(&format!("{digits}0")));
        assert!(!code.matches(&format!("x{}", &digits[1..])));
        assert!(!code.matches(&digits.replace('0', "٠")));
        assert!(!code.matches(""));
        assert!(!code.matches(QR_PREFIX));
    }
}
