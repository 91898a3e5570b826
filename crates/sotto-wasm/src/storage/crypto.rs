//! The store's sealing: ChaCha20-Poly1305 records (nonce ‖ tag ‖ ciphertext) and the key
//! that wraps the store key (Argon2id of the NFKC-normalised passphrase, or HKDF of a fixed
//! label).

use js_sys::{JsString, Object, Uint8Array};
use sotto_proto::crypto::{TAG_LEN, aead_open, aead_seal, hkdf_sha256};
use wasm_bindgen::JsValue;
use zeroize::Zeroizing;

use crate::js::set;

use super::schema::corrupt;

const NONE_LABEL: &[u8] = b"sotto/v1/no-passphrase";
/// Associated data of the wrapped store key.
pub const WRAP_AD: &[u8] = b"sotto/v1/store-key";
/// Argon2id memory for new profiles, in KiB: 64 MiB (RFC 9106 §4, the second recommended
/// option: m = 64 MiB, t = 3, p = 1). Stored with the profile; a profile stored with weaker
/// parameters is rewrapped with these on its next unlock.
pub const ARGON2_M_KIB: u32 = 64 * 1024;
/// Argon2id passes for new profiles (RFC 9106's second recommendation).
pub const ARGON2_T: u32 = 3;
/// Argon2id lanes (RFC 9106's second recommendation).
pub const ARGON2_P: u32 = 1;

pub fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // The browser's RNG does not fail; if it did, a zero nonce/key would be caught nowhere,
    // so refuse loudly instead.
    if getrandom::fill(&mut b).is_err() {
        wasm_bindgen::throw_str("no cryptographic RNG");
    }
    b
}

/// nonce ‖ tag ‖ ciphertext.
pub fn seal(key: &[u8; 32], ad: &[u8], plain: &[u8]) -> Vec<u8> {
    let nonce: [u8; 12] = random();
    let mut buf = Zeroizing::new(plain.to_vec());
    let tag = aead_seal(key, &nonce, ad, &mut buf).unwrap_or([0; TAG_LEN]);
    let mut out = Vec::with_capacity(12 + TAG_LEN + buf.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&tag);
    out.extend_from_slice(&buf);
    out
}

pub fn open(key: &[u8; 32], ad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let nonce: [u8; 12] = sealed.get(..12)?.try_into().ok()?;
    let tag: [u8; TAG_LEN] = sealed.get(12..12 + TAG_LEN)?.try_into().ok()?;
    let mut buf = Zeroizing::new(sealed.get(12 + TAG_LEN..)?.to_vec());
    aead_open(key, &nonce, ad, &mut buf, &tag).ok()?;
    Some(buf)
}

/// `s` in Unicode Normalization Form KC (UAX #15), by the engine's
/// `String.prototype.normalize("NFKC")` (ECMA-262; in every browser, window and worker alike):
/// the engine's Unicode tables rather than a copy of them in the wasm (issue 18: they were a
/// tenth of it, gzipped). The copy returned is zeroized when dropped; the normalised JS string
/// is the engine's to collect, as the passphrase it came from already was.
fn nfkc(s: &str) -> Zeroizing<String> {
    Zeroizing::new(String::from(JsString::from(s).normalize("NFKC")))
}

pub fn kek(
    passphrase: Option<&str>,
    salt: &[u8],
    m: u32,
    t: u32,
    p: u32,
) -> Result<Zeroizing<[u8; 32]>, JsValue> {
    let mut out = Zeroizing::new([0u8; 32]);
    match passphrase {
        Some(pw) => {
            // NFKC: the same words typed in another normal form (NFC, NFD) give the same key.
            let pw = nfkc(pw);
            let params = argon2::Params::new(m, t, p, Some(32))
                .map_err(|_| corrupt("key derivation parameters"))?;
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                .hash_password_into(pw.as_bytes(), salt, &mut out[..])
                .map_err(|_| corrupt("key derivation"))?;
        }
        None => {
            hkdf_sha256(salt, NONE_LABEL, NONE_LABEL, &mut out[..])
                .map_err(|_| corrupt("key derivation"))?;
        }
    }
    Ok(out)
}

/// Wraps `key` for `passphrase` (`None`: no passphrase) under a fresh salt, with Argon2id
/// costs `m_kib` and `t`, into the `meta` fields `kdf`, `salt`, `m`, `t`, `p` and `wrapped`.
pub fn wrap_into(
    meta: &Object,
    key: &[u8; 32],
    passphrase: Option<&str>,
    m_kib: u32,
    t: u32,
) -> Result<(), JsValue> {
    let salt: [u8; 16] = random();
    let kek = kek(passphrase, &salt, m_kib, t, ARGON2_P)?;
    let wrapped = seal(&kek, WRAP_AD, &key[..]);
    let kdf = if passphrase.is_some() {
        "argon2id"
    } else {
        "none"
    };
    set(meta, "kdf", &kdf.into());
    set(meta, "salt", &Uint8Array::from(&salt[..]).into());
    set(meta, "m", &m_kib.into());
    set(meta, "t", &t.into());
    set(meta, "p", &ARGON2_P.into());
    set(meta, "wrapped", &Uint8Array::from(&wrapped[..]).into());
    Ok(())
}

// NFKC comes from the engine (`String.prototype.normalize`), so these run in the browser only
// (scripts/test-wasm.sh).
#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn a_passphrase_in_nfc_or_nfd_gives_one_key() {
        let nfc = "caf\u{e9} cr\u{e8}me";
        let nfd = "cafe\u{301} cre\u{300}me";
        assert_ne!(nfc, nfd);
        let salt = [5u8; 16];
        let a = kek(Some(nfc), &salt, 8, 1, 1).unwrap();
        let b = kek(Some(nfd), &salt, 8, 1, 1).unwrap();
        let c = kek(Some("cafe creme"), &salt, 8, 1, 1).unwrap();
        assert_eq!(a[..], b[..]);
        assert_ne!(a[..], c[..]);
    }

    /// Argon2id of `pw`'s bytes as they are, with `kek`'s parameters.
    fn argon2id_raw(pw: &str, salt: &[u8]) -> [u8; 32] {
        let params = argon2::Params::new(8, 1, 1, Some(32)).unwrap();
        let mut out = [0u8; 32];
        argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password_into(pw.as_bytes(), salt, &mut out)
            .unwrap();
        out
    }

    #[test]
    fn the_key_is_argon2id_of_the_nfkc_form() {
        let salt = [7u8; 16];
        // NFKC composes (e + U+0301 -> U+00E9) and folds compatibility characters: the
        // ligature U+FB01 to "fi", fullwidth letters to ASCII, U+2460 (circled 1) to "1".
        for (typed, nfkc_form) in [
            ("cafe\u{301}", "caf\u{e9}"),
            ("\u{fb01}ve", "five"),
            ("\u{ff43}\u{ff41}\u{ff46}\u{e9}", "caf\u{e9}"),
            ("\u{2460} more", "1 more"),
            ("plain", "plain"),
        ] {
            assert_eq!(&nfkc(typed)[..], nfkc_form, "{typed:?}");
            let key = kek(Some(typed), &salt, 8, 1, 1).unwrap();
            assert_eq!(key[..], argon2id_raw(nfkc_form, &salt), "{typed:?}");
        }
    }
}
