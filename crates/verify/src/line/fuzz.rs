//! Fuzz target `verify_line`: the strict reader of the fast path against the
//! typed serde path. On any bytes, both accept or both refuse (with the same
//! error), and where they accept they give the same record and counts; the
//! reader never accepts a line the typed parse refuses.

use super::reader;
use crate::verdict::{OutputRecord, Tally, Verifier};
use crate::RuleMatrix;
use compliance_api::Violation;

/// Keys and values of a violation, beside any JSON's tokens.
const TOKENS: &[&str] = &[
    "\\\"",
    "\\n",
    " ",
    "-0.5e3",
    "\"evidence\":",
    "\"value\":",
    "\"id\":",
    "\"ruleId\":",
    "\"severity\":",
    "\"detectedAt\":",
    "\"LOW\"",
    "\"CRITICAL\"",
    "\"2023-10-01T13:04:05Z\"",
    "\"2023-10-01T13:04:05.123+01:00\"",
    "4111 1111 1111 1111",
    "536-22-1234",
    "jane@example.com",
    "é",
];

#[test]
fn fuzz_verify_line() {
    let verifiers = [false, true].map(|keep| Verifier::new(RuleMatrix::design_default(), keep));
    compliance_fuzz::fuzz(
        "verify_line",
        &[compliance_fuzz::JSON, TOKENS].concat(),
        |line| {
            if let Ok(text) = std::str::from_utf8(line) {
                if reader::read(text).is_some() {
                    let typed = serde_json::from_str::<Violation>(text);
                    assert!(
                        typed.is_ok(),
                        "the reader accepts what serde refuses: {text:?}: {typed:?}"
                    );
                }
            }
            for verifier in &verifiers {
                let (mut fast, mut typed) = (Vec::new(), Vec::new());
                let (mut t1, mut t2) = (Tally::default(), Tally::default());
                let a = verifier.verify_line(line, &mut fast, &mut t1, false);
                let b = verifier.verify_typed(line, &mut typed, &mut t2);
                match (a, b) {
                    (Ok((escapes, _)), Ok(())) => {
                        // The last pass skips its backslash search on this word.
                        assert!(
                            escapes || !fast.contains(&b'\\'),
                            "a backslash the reader did not report: {:?}",
                            String::from_utf8_lossy(line)
                        );
                        let fast: OutputRecord =
                            serde_json::from_slice(&fast).expect("fast record is JSON");
                        let typed: OutputRecord =
                            serde_json::from_slice(&typed).expect("typed record is JSON");
                        assert_eq!(fast, typed, "{:?}", String::from_utf8_lossy(line));
                        assert_eq!(t1, t2, "{:?}", String::from_utf8_lossy(line));
                    }
                    (Err(a), Err(b)) => {
                        assert_eq!(a.to_string(), b.to_string());
                        assert!(fast.is_empty(), "an error appended output");
                    }
                    (a, b) => panic!(
                        "paths disagree on {:?}: fast {a:?}, typed {b:?}",
                        String::from_utf8_lossy(line)
                    ),
                }
            }
        },
    );
}
