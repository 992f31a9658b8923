//! Numbers as speech-to-text engines write them: "four one one one", "oh"
//! for zero, "double five", digits and words mixed, single digits spaced
//! out. A run of such tokens is normalised to its digits, validated whole,
//! and a finding covers the words of the whole run in the original text.

use super::{is_word_byte, Sep, Unit};
use crate::detect::{card, phone, ssn};
use crate::pii::{Finding, PiiType};

/// What a token of the text means for a spoken number.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Token {
    /// One digit said as a word.
    Word(u8),
    /// "double" or "triple": the next digit, repeated.
    Repeat(u8),
    /// Digits written as digits.
    Digits,
    Other,
}

/// What a word (not all digits) means.
fn token(t: &[u8]) -> Token {
    // Number words are 2 to 6 letters and start with one of these.
    let first = t[0] | 0x20;
    if !(2..=6).contains(&t.len())
        || !matches!(first, b'z' | b'o' | b't' | b'f' | b's' | b'e' | b'n' | b'd')
    {
        return Token::Other;
    }
    let mut lower = [0u8; 6];
    let lower = &mut lower[..t.len()];
    lower.copy_from_slice(t);
    lower.make_ascii_lowercase();
    match &*lower {
        b"zero" | b"oh" => Token::Word(0),
        b"one" => Token::Word(1),
        b"two" => Token::Word(2),
        b"three" => Token::Word(3),
        b"four" => Token::Word(4),
        b"five" => Token::Word(5),
        b"six" => Token::Word(6),
        b"seven" => Token::Word(7),
        b"eight" => Token::Word(8),
        b"nine" => Token::Word(9),
        b"double" => Token::Repeat(2),
        b"triple" => Token::Repeat(3),
        _ => Token::Other,
    }
}

/// Whether the bytes between two tokens keep them in one spoken number:
/// spaces, commas, periods or hyphens, a few at most ("four, one-one"), but
/// not the end of a sentence.
fn joins(gap: &[u8]) -> bool {
    let sentence_end = gap
        .windows(2)
        .any(|w| w[0] == b'.' && w[1].is_ascii_whitespace());
    gap.len() <= 3
        && !sentence_end
        && gap
            .iter()
            .all(|b| matches!(b, b' ' | b',' | b'.' | b'-' | b'\t' | b'\n'))
}

/// A run being read.
struct Run<'a> {
    units: &'a mut Vec<Unit>,
    digits: &'a mut Vec<u8>,
    words: usize,
    multi_digit_groups: usize,
    /// A "double"/"triple" waiting for its digit: (times, start).
    repeat: Option<(u8, usize)>,
}

impl Run<'_> {
    fn clear(&mut self) {
        self.units.clear();
        self.digits.clear();
        self.words = 0;
        self.multi_digit_groups = 0;
        self.repeat = None;
    }

    fn push(&mut self, start: usize, end: usize, digits: &[u8], times: u8) {
        let d0 = self.digits.len();
        for _ in 0..times {
            self.digits.extend_from_slice(digits);
        }
        let start = self.repeat.take().map_or(start, |(_, s)| s);
        self.units.push(Unit {
            start,
            end,
            d0,
            d1: self.digits.len(),
            sep: Sep::Space,
        });
    }

    /// Validates the run as one number and records it.
    fn finish(&mut self, raw: &mut Vec<Finding>) {
        // Only runs with words, or digits spaced one by one, are spoken:
        // grouped digits are the written pass's.
        let spoken = self.words > 0 || self.multi_digit_groups == 0;
        if spoken && self.units.len() > 1 {
            if let Some(kind) = classify(self.digits) {
                raw.push(Finding {
                    kind,
                    start: self.units[0].start,
                    end: self.units[self.units.len() - 1].end,
                });
            }
        }
        self.clear();
    }
}

fn classify(ds: &[u8]) -> Option<PiiType> {
    if card::is_card(ds) {
        Some(PiiType::CreditCard)
    } else if ssn::is_ssn(ds) {
        Some(PiiType::Ssn)
    } else if phone::is_nanp(ds) || (ds.len() == 11 && ds[0] == b'1' && phone::is_nanp(&ds[1..])) {
        Some(PiiType::Phone)
    } else {
        None
    }
}

/// Records spoken numbers; returns where the first word holding a digit
/// starts (the written pass starts there), if any does.
pub(super) fn find(
    b: &[u8],
    units: &mut Vec<Unit>,
    digits: &mut Vec<u8>,
    raw: &mut Vec<Finding>,
) -> Option<usize> {
    let mut first_digit = None;
    let mut run = Run {
        units,
        digits,
        words: 0,
        multi_digit_groups: 0,
        repeat: None,
    };
    run.clear();
    let mut last_end = 0;
    let mut i = 0;
    while i < b.len() {
        if !is_word_byte(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        let (mut all_digits, mut any_digit) = (true, false);
        while i < b.len() && is_word_byte(b[i]) {
            let digit = b[i].is_ascii_digit();
            all_digits &= digit;
            any_digit |= digit;
            i += 1;
        }
        if any_digit && first_digit.is_none() {
            first_digit = Some(start);
        }
        let tok = if all_digits {
            Token::Digits
        } else {
            token(&b[start..i])
        };
        let in_run = !run.units.is_empty() || run.repeat.is_some();
        if !in_run && tok == Token::Other {
            // The common case: an ordinary word outside any number.
            continue;
        }
        if in_run && !joins(&b[last_end..start]) {
            run.finish(raw);
        }
        if let Some((times, _)) = run.repeat {
            // "double" counts only when a single digit follows it.
            let digit = match tok {
                Token::Word(d) => Some(b'0' + d),
                Token::Digits if i - start == 1 => Some(b[start]),
                _ => None,
            };
            match digit {
                Some(d) => {
                    run.words += 1;
                    run.push(start, i, &[d], times);
                    last_end = i;
                    continue;
                }
                None => run.finish(raw),
            }
        }
        match tok {
            Token::Word(d) => {
                run.words += 1;
                run.push(start, i, &[b'0' + d], 1);
            }
            Token::Digits => {
                if i - start > 1 {
                    run.multi_digit_groups += 1;
                }
                run.push(start, i, &b[start..i], 1);
            }
            Token::Repeat(times) => run.repeat = Some((times, start)),
            Token::Other => run.finish(raw),
        }
        last_end = i;
    }
    run.finish(raw);
    first_digit
}
