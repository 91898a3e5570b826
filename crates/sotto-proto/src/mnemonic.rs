//! Recovery phrase: a 24-word BIP39 mnemonic (English word list) and the keys derived from it.
//!
//! ```text
//! entropy (32 bytes, from the caller's RNG)
//!   └─ BIP39 mnemonic, 24 words (256 bits + 8-bit checksum)
//!        └─ BIP39 seed = PBKDF2-HMAC-SHA512(mnemonic, "mnemonic", 2048)   (64 bytes, empty passphrase)
//!             └─ RootSecret = HKDF-SHA256(salt = "sotto/v1/root", ikm = seed, info = "sotto/v1/root", L = 32)
//!                  ├─ store_key  = HKDF-SHA256(salt = "", ikm = root, info = "sotto/v1/store",  L = 32)
//!                  └─ backup_key = HKDF-SHA256(salt = "", ikm = root, info = "sotto/v1/backup", L = 32)
//! ```
//! Nothing here is printed: [`Mnemonic`], [`RootSecret`] and [`SubKey`] have redacted `Debug`
//! and are zeroized on drop.

use core::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::crypto::{Secret32, hkdf_sha256};

/// Words in a Sotto recovery phrase.
pub const WORD_COUNT: usize = 24;
/// Entropy behind a phrase.
pub const ENTROPY_LEN: usize = 32;

/// HKDF salt and info that turn the BIP39 seed into the [`RootSecret`].
pub const ROOT_LABEL: &str = "sotto/v1/root";
/// HKDF info of the key that encrypts the browser store.
pub const STORE_LABEL: &str = "sotto/v1/store";
/// HKDF info of the key that encrypts backups.
pub const BACKUP_LABEL: &str = "sotto/v1/backup";

/// What is wrong with a phrase a person typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MnemonicError {
    /// Not 24 words.
    #[error("a recovery phrase has {WORD_COUNT} words, this one has {found}")]
    WordCount { found: usize },
    /// Word number `index` (0-based) is not in the English BIP39 list.
    #[error("word {} is not a recovery-phrase word", index + 1)]
    UnknownWord { index: usize },
    /// Every word is valid but the checksum does not match: a word is wrong or out of order.
    #[error("the recovery phrase's checksum does not match; check the words and their order")]
    Checksum,
}

/// A 24-word recovery phrase: its 32 bytes of entropy and their 8-bit checksum (the first byte
/// of their SHA-256), 264 bits read as 24 indices of 11 bits into the English list (BIP39's
/// encoding, big-endian). Encoded and checked here with the SHA-256 of `sha2` (the one HKDF
/// uses), not bip39's `Mnemonic`, whose SHA-256 (bitcoin_hashes) would be a second one in the
/// wasm (issue 18); only bip39's word list is used. Zeroized on drop.
pub struct Mnemonic(Zeroizing<[u8; ENTROPY_LEN + 1]>);

impl Mnemonic {
    /// A new phrase from 32 bytes of the caller's randomness.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut entropy = Zeroizing::new([0u8; ENTROPY_LEN]);
        rng.fill_bytes(&mut entropy[..]);
        Self::from_entropy(&entropy)
    }

    /// The phrase for exactly these 32 bytes of entropy.
    pub fn from_entropy(entropy: &[u8; ENTROPY_LEN]) -> Self {
        let mut bits = Zeroizing::new([0u8; ENTROPY_LEN + 1]);
        bits[..ENTROPY_LEN].copy_from_slice(entropy);
        bits[ENTROPY_LEN] = checksum(entropy);
        Self(bits)
    }

    /// Parses what a person typed: case-insensitive, any whitespace between words, leading and
    /// trailing whitespace ignored. Exactly 24 English BIP39 words with a valid checksum.
    pub fn parse(phrase: &str) -> Result<Self, MnemonicError> {
        let normalized = lowercase_words(phrase);
        let found = normalized.split(' ').filter(|w| !w.is_empty()).count();
        if found != WORD_COUNT {
            return Err(MnemonicError::WordCount { found });
        }
        let mut bits = Zeroizing::new([0u8; ENTROPY_LEN + 1]);
        for (index, word) in normalized.split(' ').enumerate() {
            let value = bip39::Language::English
                .find_word(word)
                .ok_or(MnemonicError::UnknownWord { index })?;
            // Word `index` holds bits 11·index .. 11·index + 10 of the 264, most significant
            // first; they span two or three bytes.
            let at = 11 * index;
            let spread = u32::from(value) << (32 - 11 - at % 8);
            for (k, byte) in spread.to_be_bytes().iter().enumerate().take(3) {
                if let Some(b) = bits.get_mut(at / 8 + k) {
                    *b |= byte;
                }
            }
        }
        let (entropy, sum) = bits.split_at(ENTROPY_LEN);
        if [checksum(entropy)] != sum {
            return Err(MnemonicError::Checksum);
        }
        Ok(Self(bits))
    }

    /// The words, for showing once to the person who must write them down.
    pub fn words(&self) -> impl Iterator<Item = &'static str> + '_ {
        let list = bip39::Language::English.word_list();
        (0..WORD_COUNT).map(move |index| {
            let at = 11 * index;
            let mut spread = [0u8; 4];
            for (k, byte) in spread.iter_mut().enumerate().take(3) {
                *byte = self.0.get(at / 8 + k).copied().unwrap_or(0);
            }
            let value = (u32::from_be_bytes(spread) >> (32 - 11 - at % 8)) & 0x7ff;
            list[value as usize]
        })
    }

    /// The phrase as one space-separated string. Zeroized when dropped.
    pub fn phrase(&self) -> Zeroizing<String> {
        Zeroizing::new(self.words().collect::<Vec<_>>().join(" "))
    }

    /// The BIP39 seed of this phrase and `passphrase` (Sotto's is empty): PBKDF2-HMAC-SHA512
    /// (RFC 8018 §5.2) of the phrase (English words are their own NFKD) with the salt
    /// "mnemonic" ‖ `passphrase` (ASCII in the tests), 2048 rounds, 64 bytes. Computed with
    /// RustCrypto's SHA-512 (the one ed25519 uses), not bip39's `to_seed_normalized` and its
    /// second SHA-512 (issue 18); the tests check BIP39's vector and compare the two.
    fn seed(&self, passphrase: &str) -> Zeroizing<[u8; 64]> {
        let mut salt = Zeroizing::new(Vec::with_capacity(8 + passphrase.len()));
        salt.extend_from_slice(b"mnemonic");
        salt.extend_from_slice(passphrase.as_bytes());
        let mut seed = Zeroizing::new([0u8; 64]);
        pbkdf2::pbkdf2_hmac::<sha2::Sha512>(self.phrase().as_bytes(), &salt, 2048, &mut seed[..]);
        seed
    }

    /// The root of every key this phrase recovers.
    pub fn root_secret(&self) -> RootSecret {
        let seed = self.seed("");
        let mut root = Zeroizing::new([0u8; 32]);
        // 32 bytes is always a valid HKDF-SHA256 output length.
        let _ = hkdf_sha256(
            ROOT_LABEL.as_bytes(),
            &seed[..],
            ROOT_LABEL.as_bytes(),
            &mut root[..],
        );
        RootSecret(Secret32::copy_from(&root))
    }
}

impl fmt::Debug for Mnemonic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Mnemonic(<redacted>)")
    }
}

/// The secret every Sotto key of one person derives from. Zeroized on drop, never printed.
pub struct RootSecret(Secret32);

impl RootSecret {
    /// A named 32-byte subkey: HKDF-SHA256(salt = empty, ikm = root, info = `label`).
    pub fn subkey(&self, label: &str) -> SubKey {
        self.derive(label.as_bytes())
    }

    /// A 32-byte subkey for a binary `info` (a label followed by numbers, as the relay
    /// snapshot's per-period addresses use): HKDF-SHA256(salt = empty, ikm = root, info).
    pub fn derive(&self, info: &[u8]) -> SubKey {
        let mut out = Zeroizing::new([0u8; 32]);
        let _ = hkdf_sha256(&[], self.0.expose(), info, &mut out[..]);
        SubKey(Secret32::copy_from(&out))
    }

    /// The key that encrypts the browser store ([`STORE_LABEL`]).
    pub fn store_key(&self) -> SubKey {
        self.subkey(STORE_LABEL)
    }

    /// The key that encrypts backups ([`BACKUP_LABEL`]).
    pub fn backup_key(&self) -> SubKey {
        self.subkey(BACKUP_LABEL)
    }
}

impl fmt::Debug for RootSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootSecret(<redacted>)")
    }
}

/// A 32-byte key derived from the [`RootSecret`]. Zeroized on drop, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SubKey(Secret32);

impl SubKey {
    /// The key bytes, for the symmetric cipher that uses them (inside Rust only).
    pub fn expose(&self) -> &[u8; 32] {
        self.0.expose()
    }
}

impl fmt::Debug for SubKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubKey(<redacted>)")
    }
}

/// BIP39's checksum of 32 bytes of entropy: the first 256 / 32 = 8 bits of their SHA-256.
fn checksum(entropy: &[u8]) -> u8 {
    use sha2::Digest;
    sha2::Sha256::digest(entropy)[0]
}

/// `phrase`'s words in lower case as far as the English BIP39 list can tell, one space apart,
/// built in one buffer that is never reallocated (so no copy of the words is left behind
/// unwiped) and zeroized when dropped.
fn lowercase_words(phrase: &str) -> Zeroizing<String> {
    // No character grows (see `word_lowercase`), so the input's length is room enough.
    let mut out = Zeroizing::new(String::with_capacity(phrase.len()));
    for word in phrase.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        for c in word.chars().map(word_lowercase) {
            if out.len() + c.len_utf8() > out.capacity() {
                // Unreachable by the bound above; stop rather than reallocate.
                return out;
            }
            out.push(c);
        }
    }
    out
}

/// `c` in lower case where that can make a word of the English BIP39 list (all ASCII `a`-`z`):
/// ASCII letters, and U+212A KELVIN SIGN, the one non-ASCII character whose Unicode lower case
/// is ASCII (`k`); every other character is kept, and a word holding one is unknown with full
/// Unicode lower-casing too (its lower case is not ASCII). So `Mnemonic::parse` answers as with
/// `char::to_lowercase`, without core's case-mapping tables in the wasm (issue 18: 5 KB gzipped).
fn word_lowercase(c: char) -> char {
    match c {
        '\u{212A}' => 'k',
        c => c.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::{Rng, SeedableRng};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    // BIP39 reference vector: entropy 0x00 × 32.
    const ZERO_PHRASE: &str = "abandon abandon abandon abandon abandon abandon abandon abandon \
        abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
        abandon abandon abandon abandon art";

    #[test]
    fn lowercased_words_stay_in_one_wiped_buffer() {
        for (phrase, expected) in [
            ("  Abandon\tABILITY  able ", "abandon ability able"),
            ("\u{130}\u{23a} \u{130}", "\u{130}\u{23a} \u{130}"),
            ("\u{212A}ey \u{212A}IWI", "key kiwi"),
            ("", ""),
            ("x", "x"),
        ] {
            let out = lowercase_words(phrase);
            // Never reallocated: the only copy of the words is the zeroized one.
            assert_eq!(out.capacity(), phrase.len(), "{phrase:?}");
            assert_eq!(out.as_str(), expected);
        }
    }

    #[test]
    fn word_lowercase_agrees_with_unicode_lowercase_on_every_possible_word_letter() {
        // A word of the list is ASCII lower case: for each character, either both mappings
        // give the same ASCII letter, or neither gives ASCII (the word is unknown either way).
        for c in '\0'..=char::MAX {
            let full: String = c.to_lowercase().collect();
            let ours = word_lowercase(c);
            if full.is_ascii() {
                assert_eq!(full, ours.to_string(), "{c:?}");
            } else {
                assert!(!ours.is_ascii(), "{c:?}");
            }
        }
    }

    #[test]
    fn the_seed_is_bip39s() {
        // BIP39's published vector: entropy 0x00 × 32, passphrase "TREZOR".
        let m = Mnemonic::from_entropy(&[0u8; 32]);
        assert_eq!(
            hex::encode(&m.seed("TREZOR")[..]),
            "bda85446c68413707090a52022edd26a1c9462295029f2e60cd7c4f2bbd30971\
             70af7a4d73245cafa9c3cca8d561a7c3de6f5d4a10be8ed2a5e608d68f92fcc8"
        );
        for i in 0..4u8 {
            let entropy = [i.wrapping_mul(0x5b); 32];
            let m = Mnemonic::from_entropy(&entropy);
            let theirs = bip39::Mnemonic::from_entropy_in(bip39::Language::English, &entropy);
            assert_eq!(
                m.seed("")[..],
                theirs.unwrap().to_seed_normalized("")[..],
                "{i}"
            );
        }
    }

    #[test]
    fn the_words_and_the_checks_are_bip39_crates() {
        // Our encoding against bip39's `Mnemonic` (its own SHA-256) for random entropy, and
        // parsing against its parser for the phrase and for it with one word changed (mostly a
        // checksum error, sometimes still valid) or two words swapped.
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let list = bip39::Language::English.word_list();
        for round in 0..300u64 {
            let mut entropy = [0u8; 32];
            rng.fill_bytes(&mut entropy);
            if round < 2 {
                entropy = [[0xff; 32], [0x80; 32]][round as usize];
            }
            let m = Mnemonic::from_entropy(&entropy);
            let theirs =
                bip39::Mnemonic::from_entropy_in(bip39::Language::English, &entropy).unwrap();
            assert_eq!(m.phrase().as_str(), theirs.to_string(), "{round}");
            let mut words: Vec<&str> = m.words().collect();
            let at = (round % 24) as usize;
            words[at] = list[(round as usize * 97) % 2048];
            if round % 3 == 0 {
                words.swap(at, (at + 5) % 24);
            }
            let changed = words.join(" ");
            let ours = Mnemonic::parse(&changed).map(|m| m.phrase().to_string());
            let expected = bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &changed)
                .map(|m| m.to_string())
                .map_err(|_| MnemonicError::Checksum);
            assert_eq!(ours, expected, "{round}");
        }
    }

    #[test]
    fn a_kelvin_sign_parses_as_k() {
        let m = (0..)
            .map(|i| Mnemonic::generate(&mut ChaCha20Rng::seed_from_u64(i)))
            .find(|m| m.phrase().contains('k'))
            .unwrap();
        let typed = m.phrase().replace('k', "\u{212A}");
        let back = Mnemonic::parse(&typed).unwrap();
        assert!(back.root_secret().store_key() == m.root_secret().store_key());
    }

    #[test]
    fn zero_entropy_gives_the_bip39_reference_phrase() {
        let m = Mnemonic::from_entropy(&[0u8; 32]);
        assert_eq!(m.words().count(), 24);
        let expected: Vec<&str> = ZERO_PHRASE.split_whitespace().collect();
        assert_eq!(m.words().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn generate_parse_round_trip_and_same_keys() {
        let m = Mnemonic::generate(&mut ChaCha20Rng::seed_from_u64(1));
        let typed = format!("  {}\n", m.phrase().to_uppercase().replace(' ', "\t "));
        let back = Mnemonic::parse(&typed).unwrap();
        assert!(back.root_secret().store_key() == m.root_secret().store_key());
        assert!(m.root_secret().store_key() != m.root_secret().backup_key());
    }

    #[test]
    fn typed_errors() {
        assert_eq!(
            Mnemonic::parse("abandon abandon").unwrap_err(),
            MnemonicError::WordCount { found: 2 }
        );
        let bad_word = ZERO_PHRASE.replacen("abandon", "abandom", 1);
        assert_eq!(
            Mnemonic::parse(&bad_word).unwrap_err(),
            MnemonicError::UnknownWord { index: 0 }
        );
        let bad_sum = ZERO_PHRASE.replace(" art", " zoo");
        assert_eq!(
            Mnemonic::parse(&bad_sum).unwrap_err(),
            MnemonicError::Checksum
        );
        // A valid 12-word phrase is still the wrong length for Sotto.
        let twelve = "abandon abandon abandon abandon abandon abandon abandon abandon abandon \
            abandon abandon about";
        assert_eq!(
            Mnemonic::parse(twelve).unwrap_err(),
            MnemonicError::WordCount { found: 12 }
        );
    }

    #[test]
    fn derived_keys_are_frozen() {
        let root = Mnemonic::parse(ZERO_PHRASE).unwrap().root_secret();
        let store = hex::encode(root.store_key().expose());
        let backup = hex::encode(root.backup_key().expose());
        assert_eq!(store.len(), 64);
        assert_ne!(store, backup);
        assert_eq!(format!("{root:?}"), "RootSecret(<redacted>)");
        assert_eq!(format!("{:?}", root.store_key()), "SubKey(<redacted>)");
    }
}
