//! The Unicode general category Cf ("Format": invisible characters such as zero-width spaces
//! and joiners, bidi marks and isolates, the BOM, the soft hyphen, tag characters), as one
//! small table rather than a whole general-category table in the wasm (issue 18: that one was
//! 42 KB raw). Unicode 18.0, the version of unicode-properties 0.1.5, whose table the test below
//! compares with code point by code point; when a newer Unicode adds a Cf character, that test
//! fails on the dev-dependency's update and names it.

/// Whether `c`'s general category is Cf (Format), per the Unicode Character Database 18.0
/// (`DerivedGeneralCategory.txt`).
pub(crate) fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{AD}'
            | '\u{600}'..='\u{605}'
            | '\u{61C}'
            | '\u{6DD}'
            | '\u{70F}'
            | '\u{890}'..='\u{891}'
            | '\u{8E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn is_format_is_general_category_cf_for_every_code_point() {
        let wrong: Vec<char> = ('\0'..=char::MAX)
            .filter(|&c| is_format(c) != (c.general_category() == GeneralCategory::Format))
            .collect();
        assert!(
            wrong.is_empty(),
            "differs from unicode-properties at {wrong:?}"
        );
        assert_eq!(unicode_properties::UNICODE_VERSION, (18, 0, 0));
    }
}
