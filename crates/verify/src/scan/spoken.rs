//! Numbers as speech-to-text engines write them: "four one one one", "oh"
//! for zero, "double five", digits and words mixed, single digits spaced
//! out. A run of such tokens is normalised to its digits, validated whole,
//! and a finding covers the words of the whole run in the original text.

use super::classes::{Classes, DigitBits};
use super::{is_word_byte, Sep, Unit};
use crate::detect::{card, phone, ssn};
use crate::pii::{Finding, PiiType};

/// What a token of the text means for a spoken number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// One digit said as a word.
    Word(u8),
    /// "double" or "triple": the next digit, repeated.
    Repeat(u8),
    /// Digits written as digits.
    Digits,
    Other,
}

/// What the word `b[start..end]` (not all digits) means.
fn token(b: &[u8], start: usize, end: usize) -> Token {
    let t = &b[start..end];
    // Number words are 2 to 6 letters (their first letters are what
    // `TokenStarts` picks words by, see [`can_start_token`]).
    if !(2..=6).contains(&t.len()) {
        return Token::Other;
    }
    // Most words with such a first letter go on with a letter no number
    // word does ("the", "so", "de"): told by one look-up, unpacked.
    if SECOND_LETTERS[usize::from(t[0] & 31)] & 1 << (t[1] & 31) == 0 {
        return Token::Other;
    }
    // The word, lowercased, packed into an integer: one comparison per word.
    const ZERO: u64 = key(b"zero");
    const OH: u64 = key(b"oh");
    const ONE: u64 = key(b"one");
    const TWO: u64 = key(b"two");
    const THREE: u64 = key(b"three");
    const FOUR: u64 = key(b"four");
    const FIVE: u64 = key(b"five");
    const SIX: u64 = key(b"six");
    const SEVEN: u64 = key(b"seven");
    const EIGHT: u64 = key(b"eight");
    const NINE: u64 = key(b"nine");
    const DOUBLE: u64 = key(b"double");
    const TRIPLE: u64 = key(b"triple");
    // Eight bytes read at once where the text has them, the word's kept.
    let word = u64::MAX >> (64 - 8 * t.len());
    let packed = match b.get(start..start + 8) {
        Some(eight) => u64::from_le_bytes(eight.try_into().expect("eight bytes")) & word,
        None => t.iter().rev().fold(0u64, |k, &c| k << 8 | u64::from(c)),
    };
    // `| 0x20` lowercases letters, and makes no letter of anything else.
    match packed | (u64::from_ne_bytes([0x20; 8]) & word) {
        ZERO | OH => Token::Word(0),
        ONE => Token::Word(1),
        TWO => Token::Word(2),
        THREE => Token::Word(3),
        FOUR => Token::Word(4),
        FIVE => Token::Word(5),
        SIX => Token::Word(6),
        SEVEN => Token::Word(7),
        EIGHT => Token::Word(8),
        NINE => Token::Word(9),
        DOUBLE => Token::Repeat(2),
        TRIPLE => Token::Repeat(3),
        _ => Token::Other,
    }
}

/// For each first letter (by its low five bits, the same in either case),
/// the second letters (a bit each, by their low five bits) of the number
/// words that start with it.
const SECOND_LETTERS: [u32; 32] = {
    const WORDS: [&[u8]; 13] = [
        b"zero", b"oh", b"one", b"two", b"three", b"four", b"five", b"six", b"seven", b"eight",
        b"nine", b"double", b"triple",
    ];
    let mut table = [0u32; 32];
    let mut i = 0;
    while i < WORDS.len() {
        table[(WORDS[i][0] & 31) as usize] |= 1 << (WORDS[i][1] & 31);
        i += 1;
    }
    table
};

/// A lowercase word of up to 8 letters packed as `token` packs words: the
/// first letter in the lowest byte.
const fn key(word: &[u8]) -> u64 {
    let mut k = 0u64;
    let mut i = 0;
    while i < word.len() {
        k |= (word[i] as u64) << (8 * i);
        i += 1;
    }
    k
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
    /// Where the last token of the run ends.
    last_end: usize,
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

/// A word that is a token of a spoken number (not [`Token::Other`]), as
/// the first reading of a text found it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Word {
    start: usize,
    end: usize,
    token: Token,
}

/// Records spoken numbers; returns where the first word holding a digit
/// starts (the written pass starts there), if any does. `words` is a
/// buffer, reused across texts; `chunks` are the classes of the text's
/// bytes ([`Classes::of_text`]).
pub(super) fn find(
    b: &[u8],
    chunks: &[Classes],
    units: &mut Vec<Unit>,
    digits: &mut Vec<u8>,
    words: &mut Vec<Word>,
    raw: &mut Vec<Finding>,
) -> Option<usize> {
    // One reading collects the tokens. Words that are no token are left
    // out: outside a run such a word changes nothing, and inside one it
    // ends the run, as the gap to the next token (which holds it, and so
    // does not [`joins`]) does.
    words.clear();
    let (mut number_words, mut singles) = (false, 0);
    // At most how many digits all tokens of the text together stand for.
    let mut most_digits = 0;
    for (start, end) in TokenStarts::new(b, chunks) {
        let token = token_of(b, start, end);
        match token {
            Token::Other => continue,
            Token::Digits => {
                singles += usize::from(end - start == 1);
                most_digits += end - start;
            }
            Token::Word(_) => (number_words, most_digits) = (true, most_digits + 1),
            // "triple" and its digit: three digits, counted here whole.
            Token::Repeat(_) => (number_words, most_digits) = (true, most_digits + 3),
        }
        words.push(Word { start, end, token });
    }
    // Without a number word a run counts only when each of its groups is
    // one digit, and the shortest number a run is validated as (an SSN)
    // has nine digits: half the texts hold neither, and a third of the
    // others fewer digits in all ("two or three days"), and need no run.
    if (number_words || singles >= 9) && most_digits >= 9 {
        let mut run = Run::new(units, digits);
        for w in words.iter() {
            run.word(b, w.start, w.end, w.token, raw);
        }
        run.finish(raw);
    }
    first_digit(b, DigitBits(chunks))
}

/// What the word `b[start..end]` is for a spoken number.
fn token_of(b: &[u8], start: usize, end: usize) -> Token {
    // A word is digits if its first byte is one and so are the others;
    // a word starting with a digit is never a number word.
    if b[start].is_ascii_digit() {
        if b[start..end].iter().all(u8::is_ascii_digit) {
            Token::Digits
        } else {
            Token::Other
        }
    } else {
        token(b, start, end)
    }
}

impl<'a> Run<'a> {
    fn new(units: &'a mut Vec<Unit>, digits: &'a mut Vec<u8>) -> Self {
        let mut run = Run {
            units,
            digits,
            words: 0,
            multi_digit_groups: 0,
            repeat: None,
            last_end: 0,
        };
        run.clear();
        run
    }

    /// Reads the word `b[start..i]`, which is `tok`.
    fn word(&mut self, b: &[u8], start: usize, i: usize, tok: Token, raw: &mut Vec<Finding>) {
        let word = &b[start..i];
        let in_run = !self.units.is_empty() || self.repeat.is_some();
        if !in_run && tok == Token::Other {
            // The common case: an ordinary word outside any number.
            return;
        }
        // A capitalised number word starts a sentence ("... 32 Oh, okay"):
        // it may begin a number but does not continue one.
        let capital = word[0].is_ascii_uppercase() && tok != Token::Other;
        if in_run && (capital || !joins(&b[self.last_end..start])) {
            self.finish(raw);
        }
        if let Some((times, _)) = self.repeat {
            // "double" counts only when a single digit follows it.
            let digit = match tok {
                Token::Word(d) => Some(b'0' + d),
                Token::Digits if i - start == 1 => Some(b[start]),
                _ => None,
            };
            match digit {
                Some(d) => {
                    self.words += 1;
                    self.push(start, i, &[d], times);
                    self.last_end = i;
                    return;
                }
                None => self.finish(raw),
            }
        }
        match tok {
            Token::Word(d) => {
                self.words += 1;
                self.push(start, i, &[b'0' + d], 1);
            }
            Token::Digits => {
                if i - start > 1 {
                    self.multi_digit_groups += 1;
                }
                self.push(start, i, &b[start..i], 1);
            }
            Token::Repeat(times) => self.repeat = Some((times, start)),
            Token::Other => self.finish(raw),
        }
        self.last_end = i;
    }
}

/// Whether a word starting with `c` can be a token: a digit, or the first
/// letter of a number word (zero, oh, one, two, three, four, five, six,
/// seven, eight, nine, double, triple: d, e, f, n, o, s, t, z).
fn can_start_token(c: u8) -> bool {
    CAN_START[usize::from(c)]
}

const CAN_START: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        table[c] = b.is_ascii_digit()
            || b.is_ascii_alphabetic()
                && matches!(
                    b | 0x20,
                    b'd' | b'e' | b'f' | b'n' | b'o' | b's' | b't' | b'z'
                );
        c += 1;
    }
    table
};

/// The words of a text that can be tokens of a spoken number, as
/// `(start, end)`: those that start with a digit or with the first letter of
/// a number word. Word starts are found 64 bytes at a time with bit masks,
/// so the text's other words are never read byte by byte, and most only by
/// their first byte.
struct TokenStarts<'a> {
    b: &'a [u8],
    chunks: &'a [Classes],
    /// Where the next chunk starts.
    next: usize,
    /// Where the chunk of `starts` starts.
    base: usize,
    /// Word starts left in the chunk, one bit each.
    starts: u64,
    /// The chunk's word bytes, one bit each.
    word: u64,
    /// 1 if the last byte of the previous chunk belongs to a word.
    carry: u64,
}

impl<'a> TokenStarts<'a> {
    fn new(b: &'a [u8], chunks: &'a [Classes]) -> Self {
        TokenStarts {
            b,
            chunks,
            next: 0,
            base: 0,
            starts: 0,
            word: 0,
            carry: 0,
        }
    }
}

impl Iterator for TokenStarts<'_> {
    type Item = (usize, usize);

    #[inline]
    fn next(&mut self) -> Option<(usize, usize)> {
        let (bit, start) = loop {
            while self.starts == 0 {
                let Classes { word, .. } = *self.chunks.get(self.next / 64)?;
                // A word starts where a word byte follows one that is not.
                self.starts = word & !(word << 1 | self.carry);
                self.word = word;
                self.carry = word >> 63;
                self.base = self.next;
                self.next += 64;
            }
            let bit = self.starts.trailing_zeros();
            self.starts &= self.starts - 1;
            let start = self.base + bit as usize;
            if can_start_token(self.b[start]) {
                break (bit, start);
            }
        };
        // The word ends at the chunk's next byte that is not a word byte,
        // or past the chunk (rare: the rest is read byte by byte).
        let len = (!self.word >> bit).trailing_zeros().min(64 - bit) as usize;
        let mut end = start + len;
        if bit as usize + len == 64 {
            while end < self.b.len() && is_word_byte(self.b[end]) {
                end += 1;
            }
        }
        Some((start, end))
    }
}

/// [`find`] reading every word byte by byte: the reference it must equal.
#[cfg(test)]
fn find_every_word(b: &[u8], raw: &mut Vec<Finding>) -> Option<usize> {
    let (mut units, mut digits) = (Vec::new(), Vec::new());
    let mut run = Run::new(&mut units, &mut digits);
    let mut i = 0;
    while i < b.len() {
        if !is_word_byte(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_word_byte(b[i]) {
            i += 1;
        }
        run.word(b, start, i, token_of(b, start, i), raw);
    }
    run.finish(raw);
    b.iter().position(u8::is_ascii_digit).map(|at| {
        (0..at)
            .rev()
            .take_while(|&k| is_word_byte(b[k]))
            .last()
            .unwrap_or(at)
    })
}

/// Where the first word holding a digit starts: the word around the first
/// digit, found in the digit bits rather than by a second search.
fn first_digit(b: &[u8], digits: DigitBits) -> Option<usize> {
    let mut at = digits.next(0)?;
    while at > 0 && is_word_byte(b[at - 1]) {
        at -= 1;
    }
    Some(at)
}

#[cfg(test)]
mod word_tests {
    use super::*;
    use proptest::prelude::*;

    /// Texts of number words, digits, separators and other words, long
    /// enough to cross 64-byte chunks at every kind of place.
    fn text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            4 => prop::sample::select(vec![
                "one", "One", "ONE", "oh", "Oh", "zero", "two", "three", "four", "five", "six",
                "seven", "eight", "nine", "double", "Triple", "4", "1", "0", "41", "4111", "555",
            ]),
            4 => prop::sample::select(vec![" ", ", ", "-", ".", ". ", "\n", "  ", "\t", ",", "(", ")"]),
            2 => prop::sample::select(vec![
                "the", "then", "twelve", "onex", "4a", "a4", "é", "ü1", "_", "x", "—", "so", "do", "Zed", "nines",
            ]),
        ];
        proptest::collection::vec(piece, 0..120).prop_map(|p| p.concat())
    }

    fn both(text: &str) {
        let b = text.as_bytes();
        let (mut units, mut digits, mut words, mut fast) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut chunks = Vec::new();
        Classes::of_text(b, &mut chunks);
        let first = find(b, &chunks, &mut units, &mut digits, &mut words, &mut fast);
        let mut plain = Vec::new();
        let first_plain = find_every_word(b, &mut plain);
        assert_eq!(fast, plain, "{text:?}");
        assert_eq!(first, first_plain, "{text:?}");
    }

    /// Texts without number words: single digits, groups, other words.
    fn text_without_number_words() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            6 => (0u8..10).prop_map(|d| d.to_string()),
            1 => prop::sample::select(vec!["41", "4111", "555"]).prop_map(str::to_string),
            4 => prop::sample::select(vec![" ", ", ", "-", ".", ". ", " "]).prop_map(str::to_string),
            1 => prop::sample::select(vec!["the", "x", "é", "Zed"]).prop_map(str::to_string),
        ];
        proptest::collection::vec(piece, 0..80).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn texts_without_number_words_too(text in text_without_number_words()) {
            both(&text);
        }

        #[test]
        fn reading_only_candidate_words_finds_what_reading_every_word_finds(text in text()) {
            both(&text);
        }
    }

    /// Nine single digits make an SSN with no number word; eight make nothing.
    #[test]
    fn single_digits_spaced_out_need_no_number_word() {
        let mut found = Vec::new();
        let (mut units, mut digits, mut words) = (Vec::new(), Vec::new(), Vec::new());
        let mut chunks = Vec::new();
        let mut find = |text: &[u8], found: &mut Vec<Finding>| {
            Classes::of_text(text, &mut chunks);
            find(text, &chunks, &mut units, &mut digits, &mut words, found);
        };
        find(b"ssn 5 3 6 2 2 1 2 3 4 ok", &mut found);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].kind, found[0].start, found[0].end),
            (PiiType::Ssn, 4, 21)
        );
        found.clear();
        find(b"ssn 5 3 6 2 2 1 2 3 ok", &mut found);
        assert!(found.is_empty());
    }

    #[test]
    fn a_spoken_number_wherever_it_falls_against_the_64_byte_chunks() {
        for number in [
            "four one one one one one one one one one one one one one one one",
            "five five five, oh one three two",
            "double five five",
        ] {
            for filler in ["x", " ", "the ", "ü", "4"] {
                for at in 0..140 {
                    let mut text: String = filler.repeat(at);
                    text.push(' ');
                    text.push_str(number);
                    text.push_str(&filler.repeat(140 - at));
                    both(&text);
                }
            }
        }
    }
}
