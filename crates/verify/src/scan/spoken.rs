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

/// What the word `b[start..end]` (not all digits) means: the number word
/// it is, by its key in [`WORDS`] (any case; a word of more than six bytes
/// is none).
fn token(b: &[u8], start: usize, end: usize) -> Token {
    TOKENS[usize::from(number_word(b, start, end - start).0)]
}

/// A lowercase word of up to 8 letters packed as [`number_word`] packs
/// words: the first letter in the lowest byte.
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

impl Word {
    const NONE: Word = Word {
        start: 0,
        end: 0,
        token: Token::Other,
    };
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
    let Tally {
        words: n,
        number_words,
        singles,
        most_digits,
    } = read_words(b, chunks, words);
    // Without a number word a run counts only when each of its groups is
    // one digit, and the shortest number a run is validated as (an SSN)
    // has nine digits: half the texts hold neither, and a third of the
    // others fewer digits in all ("two or three days"), and need no run.
    if (number_words || singles >= 9) && most_digits >= 9 {
        let mut run = Run::new(units, digits);
        for w in &words[..n] {
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

/// What the first reading of a text found: how many tokens it put at the
/// front of the word buffer, and what they say about the run reading.
struct Tally {
    words: usize,
    number_words: bool,
    /// Tokens of one digit written as a digit.
    singles: usize,
    /// At most how many digits all tokens together stand for.
    most_digits: usize,
}

/// Puts the tokens of `b` (its words that are no [`Token::Other`]) at the
/// front of `words`, in order. Every word is classified without a branch
/// that depends on it (packed key, perfect hash, one comparison), and
/// written whether or not it is a token, the count moving on only for a
/// token: words are too varied for branches to be predicted.
fn read_words(b: &[u8], chunks: &[Classes], words: &mut Vec<Word>) -> Tally {
    // A word takes a byte and the byte after it: at most this many words.
    let most_words = b.len() / 2 + 1;
    if words.len() < most_words {
        words.resize(most_words, Word::NONE);
    }
    let mut t = Tally {
        words: 0,
        number_words: false,
        singles: 0,
        most_digits: 0,
    };
    let mut carry = 0;
    for (k, c) in chunks.iter().enumerate() {
        // A word starts where a word byte follows one that is not.
        let mut starts = c.word & !(c.word << 1 | carry);
        carry = c.word >> 63;
        while starts != 0 {
            let bit = starts.trailing_zeros() as usize;
            starts &= starts - 1;
            let start = k * 64 + bit;
            // The word ends at the chunk's next byte that is no word byte
            // (the shift brings in zeros: the count stops at the chunk's end).
            let len = ((!c.word >> bit).trailing_zeros() as usize).min(64 - bit);
            let (end, code, digits) = if bit + len < 64 {
                let all_digits = (c.digits >> bit) & ((1 << len) - 1) == (1 << len) - 1;
                let (code, weight) = number_word(b, start, len);
                let code = if all_digits { DIGITS } else { code };
                (start + len, code, if all_digits { len } else { weight })
            } else {
                // On past the chunk (rare): read byte by byte.
                let mut end = start + len;
                while end < b.len() && is_word_byte(b[end]) {
                    end += 1;
                }
                let token = token_of(b, start, end);
                let digits = match token {
                    Token::Digits => end - start,
                    Token::Word(_) => 1,
                    // "triple" and its digit: three digits, counted whole.
                    Token::Repeat(_) => 3,
                    Token::Other => 0,
                };
                (end, code_of(token), digits)
            };
            let is_digits = code == DIGITS;
            t.singles += usize::from(is_digits & (end - start == 1));
            t.number_words |= code > DIGITS;
            t.most_digits += digits;
            words[t.words] = Word {
                start,
                end,
                token: TOKENS[usize::from(code)],
            };
            t.words += usize::from(code != OTHER);
        }
    }
    t
}

/// Which number word, if any, `b[start..start + len]` is (as a token
/// code, [`TOKENS`]), and how many digits it stands for at most: its key
/// (lowercased, packed) looked up in [`WORDS`] by a perfect hash.
#[inline(always)]
fn number_word(b: &[u8], start: usize, len: usize) -> (u8, usize) {
    let mask = LENGTH_MASK[len.min(7)];
    // Eight bytes read at once where the text has them.
    let packed = match b.get(start..start + 8) {
        Some(eight) => u64::from_le_bytes(eight.try_into().expect("eight bytes")),
        None => b[start..]
            .iter()
            .rev()
            .fold(0u64, |k, &c| k << 8 | u64::from(c)),
    };
    // `| 0x20` lowercases letters, and makes no letter of anything else.
    let key = (packed | u64::from_ne_bytes([0x20; 8])) & mask;
    let entry = WORDS[slot(key)];
    // All ones if the slot holds this word, else nothing: no branch.
    let hit = 0u8.wrapping_sub(u8::from(entry.key == key));
    (entry.code & hit, usize::from(entry.digits & hit))
}

/// Tokens by a small code, so that a token is chosen by arithmetic rather
/// than by branches: 0 is [`Token::Other`], 1 [`Token::Digits`], 2 to 11
/// the digit words, 12 and 13 "double" and "triple".
const TOKENS: [Token; 16] = {
    let mut table = [Token::Other; 16];
    table[DIGITS as usize] = Token::Digits;
    let mut d = 0;
    while d < 10 {
        table[2 + d as usize] = Token::Word(d);
        d += 1;
    }
    table[12] = Token::Repeat(2);
    table[13] = Token::Repeat(3);
    table
};
const OTHER: u8 = 0;
const DIGITS: u8 = 1;

/// The code of `token` in [`TOKENS`].
const fn code_of(token: Token) -> u8 {
    match token {
        Token::Other => OTHER,
        Token::Digits => DIGITS,
        Token::Word(d) => 2 + d,
        Token::Repeat(times) => 10 + times,
    }
}

/// The bytes a key keeps of a word of 0 to 6 bytes; none of a longer one
/// (an empty key, which is no number word).
const LENGTH_MASK: [u64; 8] = [
    0,
    0xff,
    0xffff,
    0xff_ffff,
    0xffff_ffff,
    0xff_ffff_ffff,
    0xffff_ffff_ffff,
    0,
];

/// A number word in the hash table: its key, its token, and how many
/// digits it stands for at most.
#[derive(Debug, Clone, Copy)]
struct Entry {
    key: u64,
    code: u8,
    digits: u8,
}

/// The multiplier of the perfect hash: the 13 number words land in 13
/// different slots of 16 (found by a search, checked by a test).
const HASH: u64 = 0x4d6b_e287_2099_a8a7;

const fn slot(key: u64) -> usize {
    (key.wrapping_mul(HASH) >> 60) as usize
}

/// The number words by the slot of their key; the other slots hold a key
/// no word has (no byte of a word is 0xff).
const WORDS: [Entry; 16] = {
    const NUMBER_WORDS: [(&[u8], Token); 13] = [
        (b"zero", Token::Word(0)),
        (b"oh", Token::Word(0)),
        (b"one", Token::Word(1)),
        (b"two", Token::Word(2)),
        (b"three", Token::Word(3)),
        (b"four", Token::Word(4)),
        (b"five", Token::Word(5)),
        (b"six", Token::Word(6)),
        (b"seven", Token::Word(7)),
        (b"eight", Token::Word(8)),
        (b"nine", Token::Word(9)),
        (b"double", Token::Repeat(2)),
        (b"triple", Token::Repeat(3)),
    ];
    let mut table = [Entry {
        key: u64::MAX,
        code: OTHER,
        digits: 0,
    }; 16];
    let mut i = 0;
    while i < NUMBER_WORDS.len() {
        let (word, token) = NUMBER_WORDS[i];
        // "triple" and its digit: three digits, counted here whole.
        let digits = if matches!(token, Token::Repeat(_)) {
            3
        } else {
            1
        };
        table[slot(key(word))] = Entry {
            key: key(word),
            code: code_of(token),
            digits,
        };
        i += 1;
    }
    table
};

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
                "ones", "fivE", "tw", "doubled", "FOUR", "sevens", "oh_", "t", "ZERO",
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

    /// What a word is, by comparing it lowercased with each number word:
    /// the reference for [`number_word`].
    fn plain_token(word: &[u8]) -> Token {
        let words: [(&[u8], Token); 13] = [
            (b"zero", Token::Word(0)),
            (b"oh", Token::Word(0)),
            (b"one", Token::Word(1)),
            (b"two", Token::Word(2)),
            (b"three", Token::Word(3)),
            (b"four", Token::Word(4)),
            (b"five", Token::Word(5)),
            (b"six", Token::Word(6)),
            (b"seven", Token::Word(7)),
            (b"eight", Token::Word(8)),
            (b"nine", Token::Word(9)),
            (b"double", Token::Repeat(2)),
            (b"triple", Token::Repeat(3)),
        ];
        let lower = word.to_ascii_lowercase();
        words
            .iter()
            .find(|(w, _)| *w == lower.as_slice())
            .map_or(Token::Other, |&(_, t)| t)
    }

    /// The 13 number words each have a slot of their own in the table.
    #[test]
    fn every_number_word_has_its_own_slot() {
        let words = [
            "zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
            "double", "triple",
        ];
        let slots: std::collections::BTreeSet<usize> =
            words.iter().map(|w| slot(key(w.as_bytes()))).collect();
        assert_eq!(slots.len(), 13);
        for w in words {
            let (code, _) = number_word(w.as_bytes(), 0, w.len());
            assert_eq!(TOKENS[usize::from(code)], plain_token(w.as_bytes()), "{w}");
            assert_ne!(code, OTHER, "{w}");
        }
    }

    /// Words of 1 to 8 bytes: number words in any case, near misses,
    /// other words, non-ASCII.
    fn any_word() -> impl Strategy<Value = String> {
        let near = prop::sample::select(vec![
            "zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
            "double", "triple", "ones", "tw", "doubled", "o", "on", "thre", "fiv", "sixx",
            "eights", "nin", "triples", "zer0", "0h", "one_", "twoé", "ohh", "doubl",
        ]);
        let cased = (near, any::<u64>()).prop_map(|(w, case)| {
            w.chars()
                .enumerate()
                .map(|(k, c)| {
                    if case >> k & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect::<String>()
        });
        prop_oneof![3 => cased, 1 => "[a-zA-Z0-9_éü]{1,8}"]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        /// The hashed classification says what comparing the lowercased
        /// word with each number word says, wherever the word sits and
        /// whatever follows it (the 8-byte load reads past it).
        #[test]
        fn hashed_classification_equals_plain_comparison(
            word in any_word(),
            before in "[ a-z]{0,9}",
            after in prop::sample::select(vec!["", " ", "x", "ONE two", ", 4111 1111"]),
        ) {
            let text = format!("{before} {word}{after}");
            let start = before.len() + 1;
            let b = text.as_bytes();
            let (code, digits) = number_word(b, start, word.len());
            let want = plain_token(word.as_bytes());
            prop_assert_eq!(TOKENS[usize::from(code)], want, "{:?}", text);
            prop_assert_eq!(token(b, start, start + word.len()), want, "{:?}", text);
            let most = match want {
                Token::Word(_) => 1,
                Token::Repeat(_) => 3,
                _ => 0,
            };
            prop_assert_eq!(digits, most);
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
