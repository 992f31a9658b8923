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
    let (mut copied, mut count) = (0, 0);
    runs(text, |start, end| {
        out.extend_from_slice(&text[copied..start]);
        out.extend_from_slice(marker());
        copied = end;
        count += 1;
    });
    out.extend_from_slice(&text[copied..]);
    count
}

/// [`sweep_text`] for one JSON text: only its strings (keys too) are swept;
/// numbers are left as they are, and the JSON stays valid. A string with
/// escapes is swept as it reads (`\n` is a line break, not a letter `n`
/// glued to the digits) and, only when something is redacted, written back
/// escaped as serde_json escapes it.
pub fn sweep_json(json: &[u8], out: &mut Vec<u8>) -> u64 {
    let (mut copied, mut count, mut at) = (0, 0, 0);
    while let Some(k) = memchr::memchr(b'"', &json[at..]) {
        let open = at + k;
        let (close, escaped) = string_end(json, open + 1);
        let body = &json[open + 1..close];
        out.extend_from_slice(&json[copied..open + 1]);
        copied = close;
        let decoded = escaped
            .then(|| {
                serde_json::from_slice::<String>(&json[open..(close + 1).min(json.len())]).ok()
            })
            .flatten();
        match decoded {
            Some(text) => {
                let mut swept = Vec::new();
                let n = sweep_text(text.as_bytes(), &mut swept);
                if n == 0 {
                    out.extend_from_slice(body);
                } else {
                    // Redacting ASCII in valid UTF-8 keeps it valid UTF-8.
                    let swept = String::from_utf8(swept).expect("UTF-8 stays UTF-8");
                    let escaped = serde_json::to_vec(&swept).expect("a string serialises");
                    out.extend_from_slice(&escaped[1..escaped.len() - 1]);
                    count += n;
                }
            }
            None => count += sweep_text(body, out),
        }
        at = close + 1;
        if at >= json.len() {
            break;
        }
    }
    out.extend_from_slice(&json[copied.min(json.len())..]);
    count
}

/// Where the JSON string whose text starts at `from` ends (its closing
/// quote, or the end of the input), and whether it holds escapes.
fn string_end(json: &[u8], from: usize) -> (usize, bool) {
    let (mut at, mut escaped) = (from, false);
    while let Some(k) = memchr::memchr2(b'"', b'\\', json.get(at..).unwrap_or_default()) {
        if json[at + k] == b'"' {
            return (at + k, escaped);
        }
        escaped = true;
        at += k + 2;
    }
    (json.len(), escaped)
}

/// [`sweep_json`] over `buf[from..]`, in place: the common case, nothing
/// found, copies nothing.
pub fn sweep_json_tail(buf: &mut Vec<u8>, from: usize) -> u64 {
    let mut any = false;
    let mut strings = Strings::default();
    runs(&buf[from..], |start, _| {
        any |= strings.inside(&buf[from..], start)
    });
    // Escapes change what a string reads: `\n` before digits is no letter.
    if !any && memchr::memchr(b'\\', &buf[from..]).is_none() {
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
        let before = |k: usize| start.checked_sub(k).and_then(|at| b.get(at));
        let glued = word_before(b, start)
            || (joint(before(1)) && word_before(b, start - 1))
            || word_after(b, pos)
            || (joint(b.get(pos)) && word_after(b, pos + 1));
        if !glued && (12..=19).contains(&n) && luhn(&digits[..n]) {
            found(start, pos);
        }
        i = pos;
    }
}

/// Whether the character that starts at `at` is a word character: a letter
/// or digit of any script, or `_`. Not a word: the end, a space, punctuation
/// of any script (a no-break space, an em dash, `«`), a byte that is not UTF-8.
fn word_after(b: &[u8], at: usize) -> bool {
    match b.get(at) {
        None => false,
        Some(&c) if c.is_ascii() => is_word_byte(c),
        Some(_) => b[at..(at + 4).min(b.len())]
            .utf8_chunks()
            .next()
            .and_then(|chunk| chunk.valid().chars().next())
            .is_some_and(char::is_alphanumeric),
    }
}

/// [`word_after`] for the character that ends just before `at`.
fn word_before(b: &[u8], at: usize) -> bool {
    match at.checked_sub(1).map(|i| b[i]) {
        None => false,
        Some(c) if c.is_ascii() => is_word_byte(c),
        // A character is at most 4 bytes: find where it starts.
        Some(_) => (at.saturating_sub(4)..at)
            .rev()
            .find(|&k| b[k] & 0xC0 != 0x80)
            .is_some_and(|k| word_after(b, k) && k + utf8_len(b[k]) == at),
    }
}

/// How many bytes the UTF-8 character led by `lead` takes.
fn utf8_len(lead: u8) -> usize {
    match lead.leading_ones() {
        0 => 1,
        n => n as usize,
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
            assert_eq!(n, u64::from(json != swept));
            let mut tail = json.as_bytes().to_vec();
            assert_eq!(sweep_json_tail(&mut tail, 0), n);
            assert_eq!(String::from_utf8(tail).unwrap(), swept);
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
