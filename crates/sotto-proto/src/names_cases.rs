// The display-name rule's cases (names.rs), included by its unit tests and by sotto-wasm's
// tests/graphemes.rs, which runs them with the engine's Intl.Segmenter installed as the
// segmenter: `validate`, `sanitize`, `NameError` and `MAX_GRAPHEMES` come from the includer's
// scope, `test` is the wasm test attribute there, and `setup()` installs the segmenter (a
// test binary does not run the module's start function).

#[test]
fn names_the_rule_accepts() {
    setup();
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
    setup();
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
    setup();
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
    setup();
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
