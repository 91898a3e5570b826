//! Display names: the one rule every name passes, ours and the ones peers send.
//!
//! A display name, after trimming (whitespace and the blank "filler" letters below, at both
//! ends):
//! - has 1 to [`MAX_GRAPHEMES`] user-perceived characters (extended grapheme clusters, UAX #29)
//!   and fits a hello ([`crate::envelope::MAX_DISPLAY_NAME_BYTES`] bytes of UTF-8);
//! - has no line break (LF, CR, NEL, U+2028, U+2029) and no other control character (Cc);
//! - has no format character (Cf: zero-width spaces and joiners, bidi embeddings, overrides and
//!   isolates, U+200E/U+200F marks, U+FEFF, …), except a zero-width joiner inside an emoji
//!   sequence and the tag characters of a flag emoji;
//! - is not made only of invisible characters (Hangul fillers U+115F, U+1160, U+3164, U+FFA0,
//!   the blank Braille pattern U+2800, variation selectors and other marks that show nothing
//!   on their own).
//!
//! [`validate`] applies it to a name the user chose (the caller reports the [`NameError`]);
//! [`sanitize`] turns a name a peer sent into one that passes it (or into the empty string,
//! "unnamed", when nothing visible is left), so a raw peer name never reaches the UI.
//!
//! Grapheme clusters come from one of, in this order: a segmenter the embedder installed with
//! [`install_segmenter`] (the browser build installs the engine's `Intl.Segmenter`, so the
//! wasm carries no copy of the Unicode tables); the `unicode-segmentation` crate when the
//! feature of that name is on (the default); otherwise every character is its own cluster,
//! which is stricter (more clusters, and an emoji's joiners and tags refused), never looser.

use std::sync::OnceLock;

use crate::envelope::MAX_DISPLAY_NAME_BYTES;
use crate::format_char::is_format;

/// A grapheme segmenter: the byte offsets in `text` where each extended grapheme cluster
/// (UAX #29) ends, in increasing order, the last being `text.len()` (none for empty text).
/// Offsets that are not increasing char boundaries within `text` make [`graphemes`] fall back
/// to the built-in segmentation for that text.
pub type Segmenter = fn(text: &str) -> Vec<usize>;

static SEGMENTER: OnceLock<Segmenter> = OnceLock::new();

/// Makes `segmenter` the one display names are split with, for the rest of the process
/// (the first call wins; later ones return `false` and change nothing). Call it before the
/// first name is checked, e.g. at the module's start.
pub fn install_segmenter(segmenter: Segmenter) -> bool {
    SEGMENTER.set(segmenter).is_ok()
}

/// The extended grapheme clusters of `text`, in order, by the installed segmenter (see the
/// module docs for the order tried).
pub fn graphemes(text: &str) -> Vec<&str> {
    if let Some(segmenter) = SEGMENTER.get()
        && let Some(clusters) = split_at(text, &segmenter(text))
    {
        return clusters;
    }
    builtin_graphemes(text)
}

/// `text` cut at `ends`, or `None` when `ends` are not increasing char boundaries ending at
/// `text.len()`.
fn split_at<'a>(text: &'a str, ends: &[usize]) -> Option<Vec<&'a str>> {
    let mut clusters = Vec::with_capacity(ends.len());
    let mut start = 0;
    for &end in ends {
        if end <= start {
            return None;
        }
        clusters.push(text.get(start..end)?);
        start = end;
    }
    (start == text.len()).then_some(clusters)
}

#[cfg(feature = "unicode-segmentation")]
fn builtin_graphemes(text: &str) -> Vec<&str> {
    unicode_segmentation::UnicodeSegmentation::graphemes(text, true).collect()
}

#[cfg(not(feature = "unicode-segmentation"))]
fn builtin_graphemes(text: &str) -> Vec<&str> {
    text.char_indices()
        .map(|(i, c)| &text[i..i + c.len_utf8()])
        .collect()
}

/// The most user-perceived characters (grapheme clusters) a display name may have.
pub const MAX_GRAPHEMES: usize = 64;

/// Why a display name is refused. The message says what to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Nothing visible is left after trimming.
    #[error("a display name needs at least one visible character")]
    Empty,
    /// More than [`MAX_GRAPHEMES`] characters, or more bytes than a hello carries.
    #[error(
        "a display name is at most {MAX_GRAPHEMES} characters ({MAX_DISPLAY_NAME_BYTES} bytes of UTF-8)"
    )]
    TooLong,
    /// A line break.
    #[error("a display name cannot contain a line break")]
    LineBreak,
    /// A control character (general category Cc), given as its code point.
    #[error("a display name cannot contain the control character U+{0:04X}")]
    Control(u32),
    /// An invisible format or text-direction character (general category Cf), given as its
    /// code point.
    #[error(
        "a display name cannot contain the invisible formatting or direction character U+{0:04X}"
    )]
    Format(u32),
}

/// Blank letters that render as nothing (or as a space): trimmed at the ends like whitespace.
fn is_filler(c: char) -> bool {
    matches!(
        c,
        '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{2800}'
    )
}

/// Characters that show nothing on their own (fillers, and marks such as the combining
/// grapheme joiner, Mongolian and other variation selectors, Khmer inherent vowels).
fn is_invisible(c: char) -> bool {
    is_filler(c)
        || c.is_whitespace()
        || matches!(
            c,
            '\u{034F}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{E0100}'..='\u{E01EF}'
        )
        || is_format(c)
}

fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

fn trim(name: &str) -> &str {
    name.trim_matches(|c: char| c.is_whitespace() || is_filler(c))
}

/// Whether the format character `c` at char position `i` of grapheme cluster `g` is part of
/// an emoji: a zero-width joiner that joins two characters into one cluster (ZWJ sequences
/// such as a family), or a tag character of a flag (U+1F3F4 followed by tags).
fn is_emoji_format(g: &str, i: usize, c: char) -> bool {
    let count = g.chars().count();
    match c {
        '\u{200D}' => i > 0 && i + 1 < count,
        '\u{E0020}'..='\u{E007F}' => g.starts_with('\u{1F3F4}') && i > 0,
        _ => false,
    }
}

/// The first character of `name` that the rule refuses, as an error.
fn bad_char(name: &str) -> Option<NameError> {
    for g in graphemes(name) {
        for (i, c) in g.chars().enumerate() {
            if is_line_break(c) {
                return Some(NameError::LineBreak);
            }
            if c.is_control() {
                return Some(NameError::Control(c.into()));
            }
            if is_format(c) && !is_emoji_format(g, i, c) {
                return Some(NameError::Format(c.into()));
            }
        }
    }
    None
}

/// Checks a display name the user chose against the rule (see the module docs) and returns it
/// trimmed; the error says what is wrong.
pub fn validate(name: &str) -> Result<&str, NameError> {
    let name = trim(name);
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_DISPLAY_NAME_BYTES || graphemes(name).len() > MAX_GRAPHEMES {
        return Err(NameError::TooLong);
    }
    if let Some(e) = bad_char(name) {
        return Err(e);
    }
    if name.chars().all(is_invisible) {
        return Err(NameError::Empty);
    }
    Ok(name)
}

/// A name a peer sent, made safe to show: a valid name is kept as [`validate`] returns it;
/// otherwise line breaks become spaces, other control and format characters are dropped
/// (emoji joiners kept), the ends trimmed and the name cut to the limits at a grapheme
/// boundary. When nothing visible is left the result is empty: "unnamed" (the UI shows its own
/// placeholder). The result always passes [`validate`] or is empty.
pub fn sanitize(name: &str) -> String {
    if let Ok(valid) = validate(name) {
        return valid.to_owned();
    }
    let mut cleaned = String::with_capacity(name.len().min(4 * MAX_DISPLAY_NAME_BYTES));
    for g in graphemes(name) {
        for (i, c) in g.chars().enumerate() {
            if is_line_break(c) {
                cleaned.push(' ');
            } else if c.is_control() || (is_format(c) && !is_emoji_format(g, i, c)) {
                continue;
            } else {
                cleaned.push(c);
            }
        }
    }
    let mut out = String::new();
    for g in graphemes(trim(&cleaned)).into_iter().take(MAX_GRAPHEMES) {
        if out.len() + g.len() > MAX_DISPLAY_NAME_BYTES {
            break;
        }
        out.push_str(g);
    }
    // Dropping characters can make new clusters; whatever still fails is not shown.
    match validate(&out) {
        Ok(valid) => valid.to_owned(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// The built-in segmenter: nothing to install.
    fn setup() {}

    include!("names_cases.rs");

    #[test]
    fn a_segmenter_s_bad_offsets_fall_back_to_the_built_in_one() {
        assert_eq!(split_at("ab", &[1, 2]), Some(vec!["a", "b"]));
        assert_eq!(split_at("", &[]), Some(vec![]));
        for bad in [
            &[][..],
            &[1],
            &[2, 1, 2],
            &[0, 2],
            &[1, 1, 2],
            &[1, 3],
            &[3],
        ] {
            assert_eq!(split_at("ab", bad), None, "{bad:?}");
        }
        // Inside a character.
        assert_eq!(split_at("é", &[1, 2]), None);
    }
}
