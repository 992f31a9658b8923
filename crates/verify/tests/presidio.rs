//! Conformance with Presidio's own recognizer tests
//! (`testdata/presidio-recognizer-vectors.jsonl`, copied from the shared test data): for every vector,
//! the spans of findings of the vector's type must equal Presidio's expected
//! spans, except where the project deliberately differs; those cases are
//! listed below with the reason, and the test checks that they still differ
//! (so the list cannot go stale).

use compliance_verify::{scan, PiiType};
use serde_json::Value;

/// Where we differ from Presidio on purpose: (type, text, what we find, why).
const DIFFERENCES: &[(&str, &str, &[[usize; 2]], &str)] = &[
    (
        "ssn",
        "078-051121 07805-1121",
        &[],
        "a 3-6 or 5-4 split is not how SSNs are written; 5-4 is the shape of a ZIP+4 code",
    ),
    (
        "phone",
        "My Israeli number is 09-7625400",
        &[],
        "a national number without +country code is only recognised for North America",
    ),
    (
        "phone",
        "My Japanese number is 090-1234-5678",
        &[],
        "a national number without +country code is only recognised for North America",
    ),
    (
        "phone",
        "My US number is (415) 555-0132, and my international one is 91-415-555-0132",
        &[[16, 30]],
        "without a + the leading 91 is no country code, and a dash-grouped number that carries on \
         past the North American shape is one longer number (like a tracking number)",
    ),
];

fn spans_of(text: &str, kind: PiiType) -> Vec<[usize; 2]> {
    scan(text)
        .into_iter()
        .filter(|f| f.kind == kind)
        .map(|f| [f.start, f.end])
        .collect()
}

#[test]
fn presidio_recognizer_vectors() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/presidio-recognizer-vectors.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("the shared test vectors are readable");
    let (mut agreed, mut differed, mut failures) = (0, 0, Vec::new());
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap();
        let kind = PiiType::parse(v["type"].as_str().unwrap()).expect("a known type");
        let input = v["text"].as_str().unwrap();
        let expected: Vec<[usize; 2]> =
            serde_json::from_value(v["expected_spans"].clone()).unwrap();
        let got = spans_of(input, kind);
        match DIFFERENCES
            .iter()
            .find(|d| d.0 == kind.as_str() && d.1 == input)
        {
            Some((_, _, ours, why)) => {
                if got == expected || got != *ours {
                    failures.push(format!(
                        "listed difference {input:?} ({why}): expected {ours:?}, got {got:?}"
                    ));
                }
                differed += 1;
            }
            None if got == expected => agreed += 1,
            None => failures.push(format!(
                "{kind} {input:?}: expected {expected:?}, got {got:?}"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} vectors disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(differed, DIFFERENCES.len());
    println!("presidio vectors: {agreed} agree, {differed} deliberate differences");
}
