//! Display names' grapheme clusters by the engine's `Intl.Segmenter` (src/graphemes.rs), in
//! headless Chromium: the same clusters as the unicode-segmentation crate that native builds
//! use (both Unicode 17.0 here: the crate's tables, Chromium 156's ICU 78), over a generated
//! corpus, and names' own cases passing with it.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sotto_proto::envelope::MAX_DISPLAY_NAME_BYTES;
use sotto_proto::names::{MAX_GRAPHEMES, NameError, sanitize, validate};
use unicode_segmentation::UnicodeSegmentation as _;
use wasm_bindgen_test::wasm_bindgen_test as test;
use wasm_bindgen_test::wasm_bindgen_test_configure;

wasm_bindgen_test_configure!(run_in_browser);

/// The engine's clusters of `text`.
fn engine(text: &str) -> Vec<&str> {
    let mut clusters = Vec::new();
    let mut start = 0;
    for end in sotto_wasm::graphemes::grapheme_ends(text) {
        clusters.push(&text[start..end]);
        start = end;
    }
    assert_eq!(start, text.len(), "{text:?}");
    clusters
}

/// What the module's start function does when a page instantiates it (a test binary does not
/// run it): names split by the engine (idempotent, the first install wins).
fn setup() {
    sotto_wasm::graphemes::install();
}

#[test]
fn names_are_split_by_the_engine_once_installed() {
    setup();
    // The first install won: another segmenter is refused, and names are split as the engine
    // splits them (the names cases below run with it).
    assert!(!sotto_proto::names::install_segmenter(|_| Vec::new()));
    assert!(!sotto_wasm::graphemes::install());
    let family = "👨\u{200D}👩\u{200D}👧";
    assert_eq!(sotto_proto::names::graphemes(family), engine(family));
    assert_eq!(engine(family), [family]);
}

/// One character of each Grapheme_Cluster_Break value (UAX #29 table 2) and of the Indic
/// conjunct classes, plus emoji parts and plain letters.
const PARTS: &[&str] = &[
    "\r",
    "\n",
    "\0",
    "\u{200B}",
    "\u{AD}", // CR, LF, Control
    "\u{300}",
    "\u{308}",
    "\u{FE0F}",
    "\u{1F3FB}",
    "\u{E0067}",
    "\u{E007F}", // Extend
    "\u{200D}",  // ZWJ
    "\u{1F1E6}", // Regional_Indicator
    "\u{600}",
    "\u{110BD}", // Prepend
    "\u{903}",
    "\u{E33}", // SpacingMark
    "\u{1100}",
    "\u{1160}",
    "\u{11A8}",
    "\u{AC00}",
    "\u{AC01}", // L, V, T, LV, LVT
    "\u{915}",
    "\u{94D}",
    "\u{93C}", // InCB Consonant, Linker, Extend
    "\u{231A}",
    "\u{1F476}",
    "\u{1F3F4}",
    "\u{2764}", // Extended_Pictographic
    "a",
    " ",
    "李",
    "\u{3164}",
];

/// Whole sequences: emoji ZWJ sequences, flags (regional indicator pairs, tag sequences),
/// Hangul syllables and jamo, Indic conjuncts, combining marks, CRLF, and a long stack.
const SEQUENCES: &[&str] = &[
    "👨\u{200D}👩\u{200D}👧\u{200D}👦",
    "👩🏽\u{200D}🚀",
    "🏳\u{FE0F}\u{200D}🌈",
    "🇩🇪🇫🇷🇯",
    "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}",
    "한국어 \u{1112}\u{1161}\u{11AB}",
    "क्षि स्त्री",
    "Zoe\u{308} e\u{301}\u{302}\u{303}",
    "a\r\nb\n\rc",
    "ಕ್ಷೇತ್ರ தமிழ் ภาษาไทย",
    "\u{200D}a\u{200D}",
];

fn assert_same(text: &str) {
    let reference: Vec<&str> = text.graphemes(true).collect();
    assert_eq!(engine(text), reference, "{text:?}");
}

#[test]
fn the_engine_s_clusters_are_unicode_segmentation_s() {
    assert_same("");
    for s in SEQUENCES {
        assert_same(s);
    }
    for a in PARTS {
        for b in PARTS {
            for c in PARTS {
                assert_same(&format!("{a}{b}{c}"));
            }
        }
    }
}

#[test]
fn long_and_odd_texts_are_segmented_without_panic() {
    assert_same(&"e\u{301}".repeat(5000));
    assert_same(&format!("a{}", "\u{301}".repeat(5000)));
    assert_same(&"🇩".repeat(1001));
    assert_same(&"\u{FFFF}\u{10FFFF}\u{E000}".repeat(10));
}

include!("../../sotto-proto/src/names_cases.rs");
