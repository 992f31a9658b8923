//! Any UTF-8 input: no panic, spans on character boundaries inside the text,
//! sorted and disjoint, and redaction leaves no byte of any finding.

use compliance_verify::{redact, scan, Finding};
use proptest::prelude::*;

fn check(text: &str) {
    let found = scan(text);
    let mut last_end = 0;
    for f in &found {
        assert!(f.start < f.end && f.end <= text.len(), "{f:?} in {text:?}");
        assert!(
            text.is_char_boundary(f.start) && text.is_char_boundary(f.end),
            "{f:?} in {text:?}"
        );
        assert!(f.start >= last_end, "overlap {found:?} in {text:?}");
        last_end = f.end;
    }
    let redacted = redact(text, &found);
    assert_eq!(redacted, rebuild(text, &found));
}

/// What redaction must produce: the text between findings, and a marker for each.
fn rebuild(text: &str, found: &[Finding]) -> String {
    let mut out = String::new();
    let mut at = 0;
    for f in found {
        out.push_str(&text[at..f.start]);
        out.push_str(&format!("[REDACTED:{}]", f.kind.as_str()));
        at = f.end;
    }
    out + &text[at..]
}

/// Pieces that make the scanner work hard: digits, separators, number words,
/// IBAN prefixes, emails, multi-byte characters.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,5}",
        "[ .()+@-]{1,2}",
        Just("four".to_string()),
        Just("oh".to_string()),
        Just("double".to_string()),
        Just("one".to_string()),
        Just("GB".to_string()),
        Just("DE89".to_string()),
        Just("a@b.com".to_string()),
        Just(".co.uk".to_string()),
        Just("é€日🙂".to_string()),
        "\\PC{1,3}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn arbitrary_text(text in "\\PC{0,300}") {
        check(&text);
    }

    #[test]
    fn number_like_text(pieces in proptest::collection::vec(piece(), 0..60)) {
        check(&pieces.concat());
    }
}

#[test]
fn known_pii_is_gone_after_redaction() {
    let text = "card 4111 1111 1111 1111, ssn 536-22-1234, mail jane@example.com, \
                phone (415) 555-0132, iban GB82 WEST 1234 5698 7654 32, said four one one one, \
                one one one one, one one one one, one one one one.";
    let found = scan(text);
    assert_eq!(found.len(), 6, "{found:?}");
    let redacted = redact(text, &found);
    for secret in [
        "4111", "536", "jane", "example", "415", "555", "GB82", "WEST", "four", "one one",
    ] {
        assert!(!redacted.contains(secret), "{secret} survived: {redacted}");
    }
}
