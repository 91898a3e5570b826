//! Grapheme clusters (UAX #29, extended) for display names by the engine's `Intl.Segmenter`
//! (ECMA-402, granularity `"grapheme"`; in every browser, window and worker alike): the
//! engine's Unicode tables rather than unicode-segmentation's copy of them in the wasm (issue
//! 18: 10.5 KB of it, gzipped), as the passphrase's NFKC uses `String.prototype.normalize`.
//!
//! [`install`] hands [`grapheme_ends`] to `sotto_proto::names` at the module's start; an engine
//! without `Intl.Segmenter` leaves names to sotto-proto's fallback (every character its own
//! cluster: stricter, never looser).

use js_sys::{Array, Intl, Object, Reflect};

thread_local! {
    /// The engine's grapheme segmenter, made once (`None` where the engine has none).
    static SEGMENTER: Option<Intl::Segmenter> = new_segmenter();
}

/// `new Intl.Segmenter([], { granularity: "grapheme" })`, or `None` where the engine has no
/// `Intl.Segmenter` (probed first: the binding's constructor would throw).
fn new_segmenter() -> Option<Intl::Segmenter> {
    let intl = Reflect::get(&js_sys::global(), &"Intl".into()).ok()?;
    if !Reflect::get(&intl, &"Segmenter".into()).ok()?.is_function() {
        return None;
    }
    let options = Object::new();
    Reflect::set(&options, &"granularity".into(), &"grapheme".into()).ok()?;
    Some(Intl::Segmenter::new(&Array::new(), &options))
}

/// Installs [`grapheme_ends`] as display names' segmenter when the engine has
/// `Intl.Segmenter`; returns whether it did.
pub fn install() -> bool {
    SEGMENTER.with(Option::is_some) && sotto_proto::names::install_segmenter(grapheme_ends)
}

/// The byte offsets in `text` where each grapheme cluster ends, by the engine's
/// `Intl.Segmenter` (a [`sotto_proto::names::Segmenter`]). Empty when the engine has no
/// segmenter, which sotto-proto's names reject for non-empty text (and use their fallback).
pub fn grapheme_ends(text: &str) -> Vec<usize> {
    SEGMENTER.with(|segmenter| {
        let Some(segmenter) = segmenter else {
            return Vec::new();
        };
        let segments = segmenter.segment(text);
        // The engine counts UTF-16 code units; `text` is walked once alongside, turning each
        // cluster's end into a byte offset.
        let mut ends = Vec::new();
        let mut chars = text.char_indices();
        let (mut utf16, mut byte) = (0u32, 0usize);
        while let Some(data) = segments.containing(utf16) {
            let end16 = data.index().saturating_add(data.segment().length());
            if end16 <= utf16 {
                break;
            }
            // A boundary inside a surrogate pair (never for a Rust string's well-formed UTF-16)
            // is rounded up to the end of that character.
            while utf16 < end16 {
                let Some((i, c)) = chars.next() else { break };
                utf16 += c.len_utf16() as u32;
                byte = i + c.len_utf8();
            }
            ends.push(byte);
            if byte == text.len() {
                break;
            }
        }
        ends
    })
}
