//! The last pass against a plain byte-by-byte reference, and its edges.

use super::*;
use crate::detect::card::luhn;
use proptest::prelude::*;

fn text(s: &str) -> (String, u64) {
    let mut out = Vec::new();
    let n = sweep_text(s.as_bytes(), &mut out).total();
    (String::from_utf8(out).unwrap(), n)
}

#[test]
fn redacts_luhn_runs_of_12_to_19_digits_in_any_grouping() {
    for card in [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111.1111.1111.1111",
        "41-11111111-111111",
        "7000 0000 0000 0005", // no issuer: the detectors' business, not this pass's
        "5018 0000 0009",
        "6062 8288 8866 6688 9",
    ] {
        assert_eq!(
            text(&format!("a {card} b")),
            ("a [REDACTED:credit_card] b".into(), 1),
            "{card}"
        );
    }
}

#[test]
fn leaves_other_numbers_and_markers() {
    for s in [
        "4111 1111 1111 1112",                     // Luhn fails
        "41111111111",                             // 11 digits
        "41111111111111111111",                    // 20 digits
        "ref AB4111111111111111",                  // glued to letters
        "id 4111-1111-1111-1111-abc",              // part of a longer identifier
        "id 92662a35-e8d8-4e5c-a36d-411111111117", // a UUID's last group
        "v2.4111111111111111",
        "[REDACTED:credit_card] and [REDACTED:phone]",
        "at 2023-10-01T13:04:05.120Z",
    ] {
        assert_eq!(text(s), (s.to_string(), 0), "{s}");
    }
}

/// Found by fuzzing: any non-ASCII byte used to count as a letter, so a
/// card after a no-break space or an em dash was left alone.
#[test]
fn only_letters_and_digits_of_other_scripts_glue() {
    for s in ["\u{a0}", "\u{2014}", "«", "\u{fffd}", "：", "\u{3000}"] {
        assert_eq!(
            text(&format!("card{s}7000 0000 0000 0005{s}ok")),
            (format!("card{s}[REDACTED:credit_card]{s}ok"), 1),
            "{s:?}"
        );
    }
    for s in ["é", "日", "٣", "ß-"] {
        let t = format!("ref{s}7000000000000005 7000000000000005{s}x");
        assert_eq!(text(&t), (t.clone(), 0), "{s:?}");
    }
}

/// Found by fuzzing: in `"\\n-411111111117"` the `n` of the escape
/// glued the digits, though the string reads a line break before them;
/// `\\u0001` put escape digits in front of a run.
#[test]
fn escapes_are_read_as_what_they_mean() {
    for (json, swept) in [
        (
            r#"{"a":"x\n-411111111117"}"#,
            r#"{"a":"x\n-[REDACTED:credit_card]"}"#,
        ),
        (
            r#"{"a":"\u00014111111111111111 \""}"#,
            r#"{"a":"\u0001[REDACTED:credit_card] \""}"#,
        ),
        (
            r#"{"a":"\t4111 1111 1111 1111\r"}"#,
            r#"{"a":"\t[REDACTED:credit_card]\r"}"#,
        ),
        (
            r#"{"a\"b":"\u00e94111111111111111"}"#,
            r#"{"a\"b":"\u00e94111111111111111"}"#,
        ),
    ] {
        let mut out = Vec::new();
        let n = sweep_json(json.as_bytes(), &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), swept, "{json}");
        assert_eq!(n.total(), u64::from(json != swept));
        let mut tail = json.as_bytes().to_vec();
        assert_eq!(sweep_json_tail(&mut tail, 0), n);
        assert_eq!(String::from_utf8(tail).unwrap(), swept);
    }
}

/// A number in an issued card range (a Visa, however grouped) is told
/// apart from a Luhn-valid number no brand issues (leading 7).
#[test]
fn finds_are_told_apart_by_issued_range() {
    let mut out = Vec::new();
    let late = sweep_text(
        b"a 4111 1111 1111 1111, b 7000-0000-0000-0005, c 7000000000000013",
        &mut out,
    );
    assert_eq!(
        late,
        Late {
            issued_range: 1,
            no_issued_range: 2
        }
    );
    assert_eq!(late.total(), 3);
}

#[test]
fn json_strings_only_and_valid_json_after() {
    let line = br#"{"n":4111111111111111,"s":"card 4111 1111 1111 1111","k\"4111111111111111":"x\\ 4111111111111111"}"#;
    let mut out = Vec::new();
    // Keys are strings too, and leave the program like values.
    assert_eq!(sweep_json(line, &mut out).total(), 3);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["n"], 4111111111111111u64);
    assert_eq!(v["s"], "card [REDACTED:credit_card]");
    assert_eq!(v["k\"[REDACTED:credit_card]"], "x\\ [REDACTED:credit_card]");
}

/// The pass as first written, one byte at a time with nothing clever:
/// the fast pass must find exactly what this finds.
mod reference {
    use crate::detect::card::luhn;

    fn digit(b: &[u8], at: usize) -> bool {
        b.get(at).is_some_and(u8::is_ascii_digit)
    }

    /// Whether the character ending at `before` or starting at `after`
    /// is a letter or digit of any script, or `_`.
    fn word(c: Option<char>) -> bool {
        c.is_some_and(|c| c.is_alphanumeric() || c == '_')
    }

    fn char_before(b: &[u8], end: Option<usize>) -> Option<char> {
        let end = end?;
        (end.saturating_sub(4)..end)
            .find_map(|k| std::str::from_utf8(&b[k..end]).ok())
            .and_then(|s| s.chars().next_back())
    }

    fn char_after(b: &[u8], at: usize) -> Option<char> {
        (1..=4)
            .filter(|n| at + n <= b.len())
            .find_map(|n| std::str::from_utf8(&b[at..at + n]).ok())
            .and_then(|s| s.chars().next())
    }

    fn joint(b: &[u8], at: Option<usize>) -> bool {
        matches!(at.and_then(|at| b.get(at)), Some(b'-' | b'.'))
    }

    /// Every late card number in `b`, as `(start, end)`.
    pub fn runs(b: &[u8]) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if !digit(b, i) {
                i += 1;
                continue;
            }
            let (start, mut end) = (i, i);
            let mut digits = Vec::new();
            loop {
                while digit(b, end) {
                    digits.push(b[end]);
                    end += 1;
                }
                if matches!(b.get(end), Some(b' ' | b'-' | b'.')) && digit(b, end + 1) {
                    end += 1;
                } else {
                    break;
                }
            }
            let glued = word(char_before(b, Some(start)))
                || (joint(b, start.checked_sub(1)) && word(char_before(b, start.checked_sub(1))))
                || word(char_after(b, end))
                || (joint(b, Some(end)) && word(char_after(b, end + 1)));
            if !glued && (12..=19).contains(&digits.len()) && luhn(&digits) {
                found.push((start, end));
            }
            i = end;
        }
        found
    }

    /// Whether each position of `json` is inside a string (a backslash
    /// always takes the next byte with it).
    pub fn in_string(json: &[u8]) -> Vec<bool> {
        let mut inside = vec![false; json.len() + 2];
        let (mut k, mut now) = (0, false);
        while k < json.len() {
            inside[k] = now;
            match json[k] {
                b'\\' => {
                    inside[k + 1] = now;
                    k += 2;
                }
                b'"' => {
                    now = !now;
                    k += 1;
                }
                _ => k += 1,
            }
        }
        inside
    }

    pub fn sweep(text: &[u8], redact: impl Fn(usize) -> bool) -> (Vec<u8>, u64) {
        let (mut out, mut copied, mut count) = (Vec::new(), 0, 0);
        for (start, end) in runs(text) {
            if redact(start) {
                out.extend_from_slice(&text[copied..start]);
                out.extend_from_slice(b"[REDACTED:credit_card]");
                copied = end;
                count += 1;
            }
        }
        out.extend_from_slice(&text[copied..]);
        (out, count)
    }

    pub fn sweep_json(json: &[u8]) -> (Vec<u8>, u64) {
        let inside = in_string(json);
        sweep(json, |at| inside[at])
    }
}

/// The fast pass on `text` as plain text, as JSON, and as the tail of a
/// buffer, against the reference.
fn same_as_reference(text: &[u8]) {
    let mut out = Vec::new();
    let n = sweep_text(text, &mut out).total();
    assert_eq!((out, n), reference::sweep(text, |_| true), "text {text:?}");
    // JSON with escapes is swept as its strings read: tests/fuzz.rs checks
    // that against the words of docs/late-pii.md.
    if text.contains(&b'\\') {
        return;
    }
    let expected = reference::sweep_json(text);
    let mut out = Vec::new();
    let n = sweep_json(text, &mut out).total();
    assert_eq!((out, n), expected, "json {text:?}");
    let mut buf = b"{\"earlier\":\"4111 1111 1111 1111\"}".to_vec();
    let from = buf.len();
    buf.extend_from_slice(text);
    let n = sweep_json_tail(&mut buf, from).total();
    assert_eq!((buf[from..].to_vec(), n), expected, "tail {text:?}");
}

/// Luhn-valid numbers of 11 to 20 digits, the edges included.
fn luhn_number() -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..10, 10..=19).prop_map(|body| {
        let mut digits: Vec<u8> = body.iter().map(|d| b'0' + d).collect();
        digits.push(b'0');
        let last = digits.len() - 1;
        while !luhn(&digits) {
            digits[last] += 1;
        }
        String::from_utf8(digits).unwrap()
    })
}

/// A number cut into groups joined by one separator.
fn grouped() -> impl Strategy<Value = String> {
    (
        luhn_number(),
        proptest::collection::vec(1usize..6, 1..8),
        "[ .-]",
    )
        .prop_map(|(number, cuts, sep)| {
            let (mut s, mut at) = (String::new(), 0usize);
            for cut in cuts.into_iter().chain([usize::MAX]) {
                let end = at.saturating_add(cut).min(number.len());
                s.push_str(&number[at..end]);
                if end == number.len() {
                    break;
                }
                s.push_str(&sep);
                at = end;
            }
            s
        })
}

/// Text made of what surrounds numbers in output lines.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => luhn_number(),
        3 => grouped(),
        3 => "[0-9]{1,20}",
        4 => "[ .-]{1,2}",
        2 => "[a-fA-F_xT:Zé]{1,3}",
        1 => Just("\"".to_string()),
        1 => Just("\\".to_string()),
        1 => Just("[REDACTED:credit_card]".to_string()),
        1 => "[,:{}\\[\\]\n/]",
    ]
}

fn text_of_pieces() -> impl Strategy<Value = String> {
    proptest::collection::vec(piece(), 0..70).prop_map(|p| p.concat())
}

/// JSON texts whose keys, strings and numbers hold such text.
fn json() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        text_of_pieces().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
    ];
    let value = leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(text_of_pieces(), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    value.prop_map(|v| serde_json::to_vec(&v).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The check read in place is the check of the digits alone.
    #[test]
    fn luhn_of_a_run_is_luhn_of_its_digits(run in prop_oneof![grouped(), luhn_number(), "[0-9]{1,19}"]) {
        let digits: Vec<u8> = run.bytes().filter(u8::is_ascii_digit).collect();
        prop_assert_eq!(luhn_run(run.as_bytes()), luhn(&digits), "{}", run);
    }

    #[test]
    fn finds_what_the_reference_finds_in_text(text in text_of_pieces()) {
        same_as_reference(text.as_bytes());
    }

    #[test]
    fn finds_what_the_reference_finds_in_json(json in json()) {
        same_as_reference(&json);
    }

    #[test]
    fn finds_what_the_reference_finds_in_any_bytes(
        bytes in proptest::collection::vec(
            prop_oneof![4 => b'0'..=b'9', 2 => Just(b' '), 1 => Just(b'-'), 1 => Just(b'.'), 1 => any::<u8>()],
            0..300,
        )
    ) {
        same_as_reference(&bytes);
    }
}

#[test]
fn finds_a_run_wherever_it_falls_against_the_64_byte_chunks() {
    for card in [
        "4111111111111111",
        "4111 1111 1111 1111",
        "5018-0000-0009",
        "411111111111111111111",
    ] {
        for filler in [
            &b"x"[..],
            b" ",
            b"1",
            b"-",
            b"1 ",
            b"/",
            b"1/",
            b"\",",
            b"9\"",
        ] {
            for at in 0..140 {
                let mut text: Vec<u8> = filler.iter().copied().cycle().take(at).collect();
                text.extend_from_slice(b" ");
                text.extend_from_slice(card.as_bytes());
                text.extend(filler.iter().copied().cycle().take(150 - at));
                same_as_reference(&text);
            }
        }
    }
}
