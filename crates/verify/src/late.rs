//! The last pass over what leaves the program: after redaction, any run of
//! 12 to 19 digits (groups joined by single spaces, hyphens or dots) that
//! passes the Luhn check is taken for a card number the detectors missed,
//! replaced by `[REDACTED:credit_card]`, and counted (`late_pii`), so that a
//! detector gap shows up as a number instead of a leak. It is deliberately
//! blunter than [`crate::scan`] (no issuer ranges, no groupings), so it also
//! catches, now and then, a number that is no card (a Luhn-valid 13-digit
//! millisecond timestamp in free text, one time in ten).
//!
//! A run glued to a letter, digit or underscore is part of an identifier and
//! left alone; redaction markers hold no digits, so they are never flagged.

use crate::detect::card::luhn;
use crate::pii::PiiType;
use crate::scan::{first_ascii_digit, is_word_byte};

/// What a late card number is replaced by: the detectors' own marker.
fn marker() -> &'static [u8] {
    PiiType::CreditCard.marker().as_bytes()
}

/// Appends `text` to `out` with every late card number redacted; returns how many.
pub fn sweep_text(text: &[u8], out: &mut Vec<u8>) -> u64 {
    sweep(text, out, |_| true)
}

/// [`sweep_text`] for one JSON text: only runs inside its strings are
/// redacted (the marker needs no escaping, so the JSON stays valid);
/// numbers are left as they are.
pub fn sweep_json(json: &[u8], out: &mut Vec<u8>) -> u64 {
    let mut strings = Strings::default();
    sweep(json, out, |start| strings.inside(json, start))
}

/// Appends `text` to `out`, redacting the runs starting where `redact` says.
fn sweep(text: &[u8], out: &mut Vec<u8>, mut redact: impl FnMut(usize) -> bool) -> u64 {
    let (mut copied, mut count) = (0, 0);
    runs(text, |start, end| {
        if redact(start) {
            out.extend_from_slice(&text[copied..start]);
            out.extend_from_slice(marker());
            copied = end;
            count += 1;
        }
    });
    out.extend_from_slice(&text[copied..]);
    count
}

/// [`sweep_json`] over `buf[from..]`, in place: the common case, nothing
/// found, copies nothing.
pub fn sweep_json_tail(buf: &mut Vec<u8>, from: usize) -> u64 {
    let mut any = false;
    let mut strings = Strings::default();
    runs(&buf[from..], |start, _| {
        any |= strings.inside(&buf[from..], start)
    });
    if !any {
        return 0;
    }
    let tail = buf.split_off(from);
    sweep_json(&tail, buf)
}

/// Whether a JSON position lies in a string, read forward lazily: runs are
/// rare, so most lines are never read for quotes at all.
#[derive(Default)]
struct Strings {
    pos: usize,
    in_string: bool,
}

impl Strings {
    fn inside(&mut self, json: &[u8], at: usize) -> bool {
        while let Some(k) = memchr::memchr2(b'"', b'\\', &json[self.pos..at]) {
            if json[self.pos + k] == b'\\' {
                // An escape, only found in strings: skip the escaped byte.
                self.pos += k + 2;
            } else {
                self.in_string = !self.in_string;
                self.pos += k + 1;
            }
            if self.pos >= at {
                break;
            }
        }
        self.pos = self.pos.max(at);
        self.in_string
    }
}

/// Calls `found(start, end)` for each late card number in `b`, in order.
fn runs(b: &[u8], mut found: impl FnMut(usize, usize)) {
    let mut i = 0;
    while let Some(k) = first_ascii_digit(&b[i..]) {
        let start = i + k;
        let (mut pos, mut n) = (start, 0);
        let mut digits = [0u8; 19];
        loop {
            while pos < b.len() && b[pos].is_ascii_digit() {
                if n < digits.len() {
                    digits[n] = b[pos];
                }
                n += 1;
                pos += 1;
            }
            let joined = matches!(b.get(pos), Some(b' ' | b'-' | b'.'))
                && b.get(pos + 1).is_some_and(u8::is_ascii_digit);
            if !joined {
                break;
            }
            pos += 1;
        }
        // Glued to a word, directly or through a hyphen or dot, the run is
        // part of an identifier (the last group of a UUID, "a36d-123456789012").
        let joint = |c: Option<&u8>| matches!(c, Some(b'-' | b'.'));
        let word = |c: Option<&u8>| c.is_some_and(|&c| is_word_byte(c));
        let before = |k: usize| start.checked_sub(k).and_then(|at| b.get(at));
        let glued = word(before(1))
            || (joint(before(1)) && word(before(2)))
            || word(b.get(pos))
            || (joint(b.get(pos)) && word(b.get(pos + 1)));
        if !glued && (12..=19).contains(&n) && luhn(&digits[..n]) {
            found(start, pos);
        }
        i = pos;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> (String, u64) {
        let mut out = Vec::new();
        let n = sweep_text(s.as_bytes(), &mut out);
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

    #[test]
    fn json_strings_only_and_valid_json_after() {
        let line = br#"{"n":4111111111111111,"s":"card 4111 1111 1111 1111","k\"4111111111111111":"x\\ 4111111111111111"}"#;
        let mut out = Vec::new();
        // Keys are strings too, and leave the program like values.
        assert_eq!(sweep_json(line, &mut out), 3);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["n"], 4111111111111111u64);
        assert_eq!(v["s"], "card [REDACTED:credit_card]");
        assert_eq!(v["k\"[REDACTED:credit_card]"], "x\\ [REDACTED:credit_card]");
    }
}
