//! The last pass as the fast path makes it (the violation swept as soon as
//! it is written, the verdict swept once per rule) against the pass as it
//! was first made: [`crate::late::sweep_json_tail`] over the finished record.

use super::*;
use crate::RuleMatrix;
use proptest::prelude::*;

/// Rules whose regulations hold digit runs: a Luhn-valid number the pass
/// redacts (in an issued range and not), and ones it leaves.
fn rules() -> RuleMatrix {
    RuleMatrix::from_toml(
        r#"
        [rules."card"]
        regulations = ["pci_dss_req6", "ref 4111 1111 1111 1111"]
        [rules."plain"]
        regulations = ["low_tolerance", "no-7000-0000-0000-0005 x", "7000.0000.0000.0005"]
        [rules."date"]
        regulations = ["gdpr_art5", "2023-10-01 12345678901"]
        [rules."none"]
        regulations = []
        "#,
    )
    .unwrap()
}

/// A Luhn-valid number of 11 to 20 digits, grouped or not.
fn luhn_number() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(0u8..10, 10..=19),
        "[ .-]?",
        0usize..6,
    )
        .prop_map(|(body, sep, group)| {
            let mut digits: Vec<u8> = body.iter().map(|d| b'0' + d).collect();
            digits.push(b'0');
            let last = digits.len() - 1;
            while !crate::detect::card::luhn(&digits) {
                digits[last] += 1;
            }
            let mut s = String::new();
            for (k, d) in digits.iter().enumerate() {
                if group > 0 && k > 0 && k % (group + 2) == 0 {
                    s.push_str(&sep);
                }
                s.push(char::from(*d));
            }
            s
        })
}

/// Text made of what evidence values and other fields hold around numbers:
/// PII the detectors cut (so that cuts fall beside digit runs), numbers
/// only the last pass takes, words, separators.
fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => luhn_number(),
        2 => "[0-9]{1,20}",
        3 => "[ .-]{1,2}",
        2 => "[a-zA-Z_é]{1,4}",
        1 => Just("4111 1111 1111 1111".to_string()),
        1 => Just("536-22-1234".to_string()),
        1 => Just("jane@example.com".to_string()),
        1 => Just("(415) 555-0132".to_string()),
        1 => Just("7000 0000 0000 0005".to_string()),
        1 => "[,:/()\\[\\]]",
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|p| p.concat())
}

/// A violation line: the fields the reader requires, evidence values and an
/// unknown field made of [`text`], a key with digits, and padding of any
/// length so that everything falls anywhere against the 64-byte chunks.
fn line() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just("card"),
            Just("plain"),
            Just("date"),
            Just("none"),
            Just("unlisted")
        ],
        prop_oneof![Just("LOW"), Just("MEDIUM"), Just("HIGH"), Just("CRITICAL")],
        proptest::collection::vec(text(), 0..4),
        text(),
        text(),
        "[a-z ]{0,70}",
    )
        .prop_map(|(rule, severity, values, key, other, padding)| {
            let evidence: Vec<_> = values
                .iter()
                .map(|v| serde_json::json!({"type": "TRANSCRIPT", "value": v}))
                .collect();
            serde_json::json!({
                "id": padding, "ruleId": rule, "severity": severity,
                "detectedAt": "2023-10-01T13:04:05.120Z",
                "evidence": evidence, key: other,
            })
            .to_string()
        })
}

/// `line` through `verify_json`, and through the fast path without the
/// last pass followed by the pass over the whole record.
fn both(verifier: &Verifier, line: &[u8]) -> ((Vec<u8>, Tally), (Vec<u8>, Tally)) {
    let (mut fast, mut t1) = (b"before".to_vec(), Tally::default());
    verifier.verify_json(line, &mut fast, &mut t1).unwrap();
    let (mut plain, mut t2) = (b"before".to_vec(), Tally::default());
    verifier
        .verify_line(line, &mut plain, &mut t2, false)
        .unwrap();
    t2.add_late(crate::late::sweep_json_tail(&mut plain, 6));
    ((fast, t1), (plain, t2))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn the_record_is_swept_as_the_whole_record_is(line in line()) {
        let verifier = Verifier::new(rules(), false);
        let (fast, plain) = both(&verifier, line.as_bytes());
        prop_assert_eq!(
            String::from_utf8(fast.0).unwrap(),
            String::from_utf8(plain.0).unwrap(),
            "{}", line
        );
        prop_assert_eq!(fast.1, plain.1, "{}", line);
    }
}

/// A regulation named with a Luhn-valid number is redacted in every
/// record of its rule, and counted once per record, as the pass over the
/// whole record did.
#[test]
fn a_regulation_with_a_card_number_is_swept_in_every_record() {
    let verifier = Verifier::new(rules(), false);
    let line = br#"{"id":"v","ruleId":"card","severity":"HIGH","detectedAt":"2023-10-01T13:04:05Z","evidence":[{"type":"T","value":"ssn 536-22-1234"}]}"#;
    let (mut out, mut tally) = (Vec::new(), Tally::default());
    for _ in 0..2 {
        out.clear();
        verifier.verify_json(line, &mut out, &mut tally).unwrap();
        let record: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            record["verdict"]["regulations"],
            serde_json::json!(["pci_dss_req6", "ref [REDACTED:credit_card]"])
        );
    }
    assert_eq!((tally.late_pii, tally.late_pii_issued_range), (2, 2));
    let ((fast, t1), (plain, t2)) = both(&verifier, line);
    assert_eq!((fast, t1), (plain, t2));
}

/// Lines with escapes, or rules whose regulations need them, are swept
/// string by string after the record is written, as before.
#[test]
fn escaped_records_are_swept_after_they_are_written() {
    let rules = RuleMatrix::from_toml(
        r#"
        [rules."quoted"]
        regulations = ["say \"4111 1111 1111 1111\""]
        "#,
    )
    .unwrap();
    let verifier = Verifier::new(rules, false);
    for line in [
        r#"{"id":"v","ruleId":"quoted","severity":"HIGH","detectedAt":"2023-10-01T13:04:05Z","evidence":[{"type":"T","value":"x"}]}"#,
        r#"{"id":"v\n7000 0000 0000 0005","ruleId":"card","severity":"HIGH","detectedAt":"2023-10-01T13:04:05Z","evidence":[{"type":"T","value":"4111 1111 1111 1111"}]}"#,
    ] {
        let ((fast, t1), (plain, t2)) = both(&verifier, line.as_bytes());
        assert_eq!(t1.late_pii, 1, "{line}");
        assert_eq!((fast, t1), (plain, t2), "{line}");
    }
}
