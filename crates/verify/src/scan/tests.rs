//! Examples of what the scanner finds and what it leaves alone.

use super::scan;
use crate::pii::PiiType::{self, *};

fn found(text: &str) -> Vec<(PiiType, &str)> {
    scan(text)
        .into_iter()
        .map(|f| (f.kind, &text[f.start..f.end]))
        .collect()
}

#[test]
fn written_numbers() {
    assert_eq!(
        found("card 4111-1111-1111-1111."),
        [(CreditCard, "4111-1111-1111-1111")]
    );
    assert_eq!(found("ssn 536-22-1234, ok"), [(Ssn, "536-22-1234")]);
    assert_eq!(
        found("call (415) 555-0132 now"),
        [(Phone, "(415) 555-0132")]
    );
    assert_eq!(
        found("call +44 20 7123 4567"),
        [(Phone, "+44 20 7123 4567")]
    );
    assert_eq!(
        found("IBAN DE89 3704 0044 0532 0130 00."),
        [(Iban, "DE89 3704 0044 0532 0130 00")]
    );
    assert_eq!(
        found("write to Jane.Doe@example.co.uk."),
        [(Email, "Jane.Doe@example.co.uk")]
    );
}

#[test]
fn spoken_numbers() {
    assert_eq!(
        found("it's four one one one, one one one one, one one one one, one one one one thanks"),
        [(
            CreditCard,
            "four one one one, one one one one, one one one one, one one one one"
        )]
    );
    assert_eq!(
        found("Five three six, double two, one two three four"),
        [(Ssn, "Five three six, double two, one two three four")]
    );
    assert_eq!(
        found("my number is 415 five five five oh one three two"),
        [(Phone, "415 five five five oh one three two")]
    );
    assert_eq!(
        found("4 1 5 5 5 5 0 1 3 2"),
        [(Phone, "4 1 5 5 5 5 0 1 3 2")]
    );
}

#[test]
fn hard_negatives() {
    for text in [
        "order 4471 ships in two or three days",
        "one moment please",
        "at 2023-10-01T13:04:05.120Z, ts 1696165445123",
        "card 4111 1111 1111 1112",
        "ssn 912-34-5678",
        "zip 90210-1234",
        "version 10.0.19041.1234",
        "IBAN DE89 3704 0044 0532 0130 01",
        "tracking 1Z999AA10123456784",
        "total $1,234.56 on 12/25/2023",
        "mail me at someone@example.invalidtld",
        "ref AB4111111111111111",
        "(123) 555-0100",
    ] {
        assert_eq!(found(text), [], "{text}");
    }
}

#[test]
fn overlaps_resolve_to_the_most_specific() {
    // The IBAN's digits hold card- and phone-like runs; only the IBAN counts.
    assert_eq!(
        found("GB82 WEST 1234 5698 7654 32"),
        [(Iban, "GB82 WEST 1234 5698 7654 32")]
    );
    assert_eq!(found("+1 415 555 0132"), [(Phone, "+1 415 555 0132")]);
}
