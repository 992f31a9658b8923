//! Fuzz target `timestamp`: RFC 3339 timestamps as the contract allows them
//! (UTC, `Z` suffix, 1 to 9 fraction digits), against chrono's RFC 3339
//! parser: accepted exactly when the text has the contract's form and is a
//! real instant, the same instant; a refusal names the input and the form.

use chrono::DateTime;
use compliance_api::Timestamp;
use compliance_fuzz::fuzz_text;

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`, checked character by character.
fn contract_form(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let fixed = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[b.len() - 1] == b'Z';
    let fraction = &b[19.min(b.len())..b.len().saturating_sub(1).max(19.min(b.len()))];
    fixed
        && (fraction.is_empty()
            || (fraction[0] == b'.'
                && (2..=10).contains(&fraction.len())
                && digits(20..b.len() - 1)))
}

#[test]
fn fuzz_timestamp() {
    let tokens = [
        "Z",
        "z",
        "T",
        "t",
        ".",
        "0",
        "9",
        "60",
        "-",
        ":",
        "+00:00",
        "1234567890",
        " ",
        "٣",
    ];
    fuzz_text("timestamp", &tokens, |s| {
        let chrono = DateTime::parse_from_rfc3339(s);
        match s.parse::<Timestamp>() {
            Ok(t) => {
                assert!(contract_form(s), "accepted {s:?}, not the contract's form");
                let chrono =
                    chrono.unwrap_or_else(|e| panic!("accepted {s:?}, chrono refuses: {e}"));
                assert_eq!(t.as_datetime(), chrono, "{s:?}");
            }
            Err(e) => {
                let message = e.to_string();
                assert!(
                    message.contains(s) && message.contains("RFC 3339"),
                    "{message}"
                );
                // Leap seconds (:60) are the one real instant the contract's form
                // may be refused for.
                if contract_form(s) && &s[17..19] != "60" {
                    assert!(
                        chrono.is_err(),
                        "refused {s:?} ({message}), chrono reads {chrono:?}"
                    );
                }
            }
        }
    });
}
