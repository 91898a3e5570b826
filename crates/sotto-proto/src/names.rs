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

use unicode_segmentation::UnicodeSegmentation as _;

use crate::envelope::MAX_DISPLAY_NAME_BYTES;
use crate::format_char::is_format;

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
    for g in name.graphemes(true) {
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
    if name.len() > MAX_DISPLAY_NAME_BYTES || name.graphemes(true).nth(MAX_GRAPHEMES).is_some() {
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
    for g in name.graphemes(true) {
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
    for g in trim(&cleaned).graphemes(true).take(MAX_GRAPHEMES) {
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

    #[test]
    fn names_the_rule_accepts() {
        for (input, kept) in [
            ("Alice", "Alice"),
            ("  Alice \n", "Alice"),
            ("\u{3164}Bob\u{3164}", "Bob"),
            ("Zoë", "Zoë"),
            ("José Müller-Lüdenscheidt", "José Müller-Lüdenscheidt"),
            ("李小龍", "李小龍"),
            ("محمد", "محمد"),
            ("שלום עולם", "שלום עולם"),
            ("Ana ❤️", "Ana ❤️"),
            ("👨\u{200D}👩\u{200D}👧", "👨\u{200D}👩\u{200D}👧"),
            (
                "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}",
                "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}",
            ),
            ("a", "a"),
        ] {
            assert_eq!(validate(input), Ok(kept), "{input:?}");
            assert_eq!(sanitize(input), kept, "{input:?}");
        }
        let longest = "é".repeat(MAX_GRAPHEMES);
        assert_eq!(validate(&longest), Ok(longest.as_str()));
    }

    #[test]
    fn names_the_rule_refuses_and_why() {
        use NameError::*;
        for (input, error) in [
            ("", Empty),
            ("   ", Empty),
            ("\u{3164}", Empty),
            ("\u{115F}\u{1160}", Empty),
            ("\u{2800}\u{2800}", Empty),
            ("\u{FE0F}", Empty),
            ("\u{200B}", Format(0x200B)),
            ("\u{200B}Alice", Format(0x200B)),
            ("Alice\u{200B}", Format(0x200B)),
            ("\u{FEFF}Alice", Format(0xFEFF)),
            ("\u{202E}ecila", Format(0x202E)),
            ("Al\u{2066}ice\u{2069}", Format(0x2066)),
            ("Alice\u{200E}", Format(0x200E)),
            ("A\u{200D}lice", Format(0x200D)),
            ("\u{200D}Alice", Format(0x200D)),
            ("Al\u{00AD}ice", Format(0xAD)),
            ("Alice\nSmith", LineBreak),
            ("Alice\r\nSmith", LineBreak),
            ("Alice\u{2028}Smith", LineBreak),
            ("Al\u{0007}ice", Control(7)),
            ("Al\u{001B}[31mice", Control(0x1B)),
        ] {
            assert_eq!(validate(input), Err(error), "{input:?}");
        }
        assert_eq!(validate(&"x".repeat(1000)), Err(TooLong));
        assert_eq!(validate(&"é".repeat(MAX_GRAPHEMES + 1)), Err(TooLong));
        // 64 graphemes, but more bytes than a hello carries.
        assert_eq!(validate(&"李".repeat(MAX_GRAPHEMES)), Err(TooLong));
    }

    #[test]
    fn peer_names_are_cleaned_or_left_unnamed() {
        for (input, shown) in [
            ("\u{200B}Alice", "Alice"),
            ("\u{202E}ecila", "ecila"),
            ("Alice\nSmith", "Alice Smith"),
            ("Al\u{0007}ice", "Alice"),
            ("\u{200B}", ""),
            ("\u{3164}", ""),
            ("\u{202E}\u{3164}\u{200F}", ""),
            ("", ""),
        ] {
            assert_eq!(sanitize(input), shown, "{input:?}");
        }
        let long = sanitize(&"x".repeat(1000));
        assert_eq!(long, "x".repeat(MAX_GRAPHEMES));
        let wide = sanitize(&"李".repeat(100));
        assert!(wide.len() <= MAX_DISPLAY_NAME_BYTES);
        assert_eq!(validate(&wide), Ok(wide.as_str()));
    }

    #[test]
    fn sanitized_names_always_pass_or_are_empty() {
        let parts = [
            "a",
            "\u{200D}",
            "\u{202E}",
            "\u{3164}",
            " ",
            "\n",
            "👨",
            "\u{FE0F}",
            "\u{0301}",
            "\u{E0067}",
            "🏴",
            "\u{7}",
            "李",
        ];
        for a in parts {
            for b in parts {
                for c in parts {
                    let name = format!("{a}{b}{c}");
                    let s = sanitize(&name);
                    assert!(
                        s.is_empty() || validate(&s) == Ok(s.as_str()),
                        "{name:?} → {s:?}"
                    );
                }
            }
        }
    }
}
