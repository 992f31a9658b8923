//! Evidence text with customer PII at known places: the ground truth that
//! tests and benchmarks measure the PII detectors against.

use rand::Rng;

/// One piece of PII the generator placed in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiiTruth {
    /// `ssn`, `credit_card`, `email`, `phone` or `iban`.
    pub kind: &'static str,
    /// UTF-8 byte span of the PII in the text.
    pub start: usize,
    pub end: usize,
    /// Whether the number is written as words ("four one one one").
    pub spoken: bool,
}

/// One evidence value in agent or customer voice, and the PII it holds.
pub fn evidence_text<R: Rng>(rng: &mut R) -> (String, Vec<PiiTruth>) {
    const PLAIN: [&str; 3] = [
        "Thank you for calling, how can I help you today?",
        "I can confirm the order number is 4471 and it ships on Monday.",
        "Vielen Dank für Ihren Anruf, einen schönen Tag noch.",
    ];
    if rng.gen_bool(0.5) {
        return (PLAIN[rng.gen_range(0..PLAIN.len())].to_string(), Vec::new());
    }
    let prefix = "Sure, my card number is ";
    let card = "4111 1111 1111 1111";
    let text = format!("{prefix}{card}, thanks.");
    let truth = PiiTruth {
        kind: "credit_card",
        start: prefix.len(),
        end: prefix.len() + card.len(),
        spoken: false,
    };
    (text, vec![truth])
}
