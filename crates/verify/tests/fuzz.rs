//! Fuzz targets of the verify crate's public parsers: the PII scanner and
//! redactor, the last pass (`late`), and the rules file. Each runs its
//! checked-in corpus and then mutated inputs (see `compliance_fuzz` and
//! `docs/fuzzing.md`; `FUZZ_SECONDS=N` runs them longer).

use compliance_fuzz::fuzz_text;
use compliance_verify::{late, redact, scan, PiiType, RuleMatrix};

/// Words the scanner reacts to: digits in groups, spoken numbers, emails, IBANs.
const PII_TOKENS: &[&str] = &[
    "4111 1111 1111 1111",
    "5555555555554444",
    "536-22-1234",
    "@example.com",
    "jane@",
    "GB82 WEST 1234 5698 7654 32",
    "(415) 555-0132",
    "+44 20 7946 0958",
    " four",
    " one",
    " oh",
    " double",
    " triple",
    " five",
    "-",
    ".",
    " ",
    "é",
    "日",
    "\u{200b}",
    "[REDACTED:ssn]",
];

/// Findings are sorted, do not overlap, lie on character boundaries; the
/// redacted text is the text with exactly those spans replaced by their
/// markers, so no byte of a finding survives; a found value that occurs once
/// in the text does not occur in the redacted text.
#[test]
fn fuzz_scan_redact() {
    fuzz_text("scan_redact", PII_TOKENS, |text| {
        let found = scan(text);
        let mut expected = String::new();
        let mut copied = 0;
        for f in &found {
            assert!(
                copied <= f.start && f.start < f.end && f.end <= text.len(),
                "findings out of order, overlapping or out of bounds: {found:?} in {text:?}"
            );
            assert!(
                text.is_char_boundary(f.start) && text.is_char_boundary(f.end),
                "{f:?} is not on character boundaries of {text:?}"
            );
            expected.push_str(&text[copied..f.start]);
            expected.push_str(f.kind.marker());
            copied = f.end;
        }
        expected.push_str(&text[copied..]);
        let redacted = redact(text, &found);
        assert_eq!(redacted, expected, "redaction of {text:?} with {found:?}");
        for f in &found {
            let value = &text[f.start..f.end];
            if text.matches(value).count() == 1 {
                assert!(
                    !redacted.contains(value),
                    "{value:?} ({}) survives in {redacted:?}",
                    f.kind
                );
            }
        }
    });
}

/// JSON that the last pass reads: program output, so made by serde_json from
/// whatever JSON the bytes hold.
const JSON_TOKENS: &[&str] = &[
    "\"",
    "\\",
    "\\n",
    "\\t",
    "\\u0041",
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "7000.0000.0000.0005",
    "5018 0000 0009",
    "6062828888666688 9",
    "0",
    "null",
];

/// After the last pass, text holds no Luhn-valid run of 12 to 19 digits
/// (as `docs/late-pii.md` defines one); JSON stays JSON with the same shape
/// and none in any of its strings, keys included; a second pass finds nothing.
#[test]
fn fuzz_late_sweep() {
    fuzz_text("late_sweep", JSON_TOKENS, |input| {
        // What leaves the program is UTF-8.
        let input = input.as_bytes();
        let mut out = Vec::new();
        late::sweep_text(input, &mut out);
        let text = String::from_utf8(out.clone()).expect("UTF-8 in, UTF-8 out");
        assert_eq!(late_card(&text), None, "after the text pass: {text:?}");
        assert_eq!(
            late::sweep_text(&out, &mut Vec::new()).total(),
            0,
            "{text:?}"
        );

        let Ok(value) = serde_json::from_slice::<serde_json::Value>(input) else {
            return;
        };
        for json in [input.to_vec(), serde_json::to_vec(&value).unwrap()] {
            let mut out = Vec::new();
            late::sweep_json(&json, &mut out);
            let swept: serde_json::Value = serde_json::from_slice(&out).unwrap_or_else(|e| {
                panic!(
                    "the last pass broke JSON {:?}: {e}",
                    String::from_utf8_lossy(&out)
                )
            });
            // (Compared with the same bytes parsed: a float may not survive a
            // round trip through serde_json exactly.)
            let before: serde_json::Value = serde_json::from_slice(&json).unwrap();
            assert_same_shape(&before, &swept);
            let mut tail = b"kept".to_vec();
            tail.extend_from_slice(&json);
            late::sweep_json_tail(&mut tail, 4);
            assert_eq!(&tail[..4], b"kept");
            assert_eq!(
                tail[4..],
                out[..],
                "sweep_json_tail differs from sweep_json"
            );
        }
        let mut out = Vec::new();
        late::sweep_json(&serde_json::to_vec(&value).unwrap(), &mut out);
        let swept: serde_json::Value = serde_json::from_slice(&out).unwrap();
        strings(&swept, &mut |s| {
            assert_eq!(late_card(s), None, "a card number survives in string {s:?}")
        });
    });
}

/// Numbers, literals and nesting are untouched; only strings change.
fn assert_same_shape(before: &serde_json::Value, after: &serde_json::Value) {
    use serde_json::Value::*;
    match (before, after) {
        (String(_), String(_)) => {}
        (Array(a), Array(b)) => {
            assert_eq!(a.len(), b.len());
            a.iter().zip(b).for_each(|(a, b)| assert_same_shape(a, b));
        }
        (Object(a), Object(b)) => {
            // Redacted keys may merge or sort elsewhere; untouched keys keep their values.
            assert!(b.len() <= a.len(), "{before} -> {after}");
            for (key, value) in a {
                if let Some(swept) = b.get(key) {
                    assert_same_shape(value, swept);
                }
            }
        }
        _ => assert_eq!(before, after),
    }
}

/// Calls `f` on every string of `value`, keys included.
fn strings(value: &serde_json::Value, f: &mut impl FnMut(&str)) {
    match value {
        serde_json::Value::String(s) => f(s),
        serde_json::Value::Array(items) => items.iter().for_each(|v| strings(v, f)),
        serde_json::Value::Object(map) => map.iter().for_each(|(k, v)| {
            f(k);
            strings(v, f)
        }),
        _ => {}
    }
}

/// The first late card number in `text`, as `docs/late-pii.md` words it: a
/// run of 12 to 19 digits, groups joined by single spaces, hyphens or dots,
/// passing the Luhn check, not glued to a letter, digit or underscore
/// (directly or through a hyphen or dot; letters of any script). Written
/// from those words, not from the code under test.
fn late_card(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let joint = |c: Option<char>| matches!(c, Some('-' | '.'));
    let before = |at: usize| text[..at].chars().next_back();
    let after = |at: usize| text[at..].chars().next();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = Vec::new();
        loop {
            while i < b.len() && b[i].is_ascii_digit() {
                digits.push(b[i] - b'0');
                i += 1;
            }
            let sep = i < b.len() && matches!(b[i], b' ' | b'-' | b'.');
            if sep && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                i += 1;
            } else {
                break;
            }
        }
        // Joints are ASCII, so one byte past one is a character boundary.
        let glued = word(before(start))
            || (joint(before(start)) && word(before(start - 1)))
            || word(after(i))
            || (joint(after(i)) && word(after(i + 1)));
        if !glued && (12..=19).contains(&digits.len()) && luhn(&digits) {
            return Some(text[start..i].to_string());
        }
    }
    None
}

/// The Luhn check (ISO/IEC 7812-1 annex B) over digit values.
fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(k, &d)| {
            let d = u32::from(d);
            if k % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

const TOML_TOKENS: &[&str] = &[
    "[rules.\"",
    "\"]\n",
    "regulations = ",
    "[\"gdpr_art5\"]",
    "\"low_tolerance\"",
    "\n",
    "=",
    "'",
    "\"\"\"",
    "{",
    "}",
    "[[rules]]",
    "#",
    "\\u00e9",
    " ",
    "\"\"",
];

/// A rules file is read as TOML says: what is accepted is a TOML document
/// whose `rules` tables each list their regulations, none blank, and the
/// matrix answers exactly those; what is refused says why.
#[test]
fn fuzz_rules_toml() {
    fuzz_text(
        "rules_toml",
        TOML_TOKENS,
        |text| match RuleMatrix::from_toml(text) {
            Ok(matrix) => {
                let doc: toml::Table = toml::from_str(text).expect("accepted, so TOML");
                let rules = doc.get("rules").and_then(|r| r.as_table());
                assert_eq!(matrix.len(), rules.map_or(0, |r| r.len()), "{text:?}");
                for (id, entry) in rules.into_iter().flatten() {
                    let listed: Vec<String> = entry["regulations"]
                        .as_array()
                        .expect("regulations is a list")
                        .iter()
                        .map(|r| r.as_str().expect("a string").to_string())
                        .collect();
                    assert!(listed.iter().all(|r| !r.trim().is_empty()), "{text:?}");
                    assert_eq!(matrix.regulations(id), listed, "{text:?}");
                }
            }
            Err(message) => assert!(
                !message.trim().is_empty(),
                "no reason for refusing {text:?}"
            ),
        },
    );
}

#[test]
fn the_independent_late_card_finder_agrees_with_the_docs_examples() {
    // docs/late-pii.md and late.rs's own examples, read by the test's finder.
    for card in [
        "4111 1111 1111 1111",
        "41-11111111-111111",
        "7000 0000 0000 0005",
        "5018 0000 0009",
    ] {
        assert_eq!(late_card(&format!("a {card} b")).as_deref(), Some(card));
    }
    for other in [
        "4111 1111 1111 1112",
        "41111111111",
        "ref AB4111111111111111",
        "v2.4111111111111111",
    ] {
        assert_eq!(late_card(other), None, "{other}");
    }
    assert_eq!(PiiType::CreditCard.marker(), "[REDACTED:credit_card]");
}
