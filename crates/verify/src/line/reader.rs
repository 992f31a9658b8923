//! A strict reader of one violation line, for the fast path.
//!
//! It reads what the fast path needs (the rule id, the severity, where each
//! evidence value lies in the line) and checks every other field as the
//! typed [`compliance_api::Violation`] parse would. It answers `None`
//! whenever it is not certain the typed parse accepts the line in the same
//! way: string escapes in typed fields, `\u` escapes anywhere, raw control
//! bytes, duplicate known keys, numbers it would have to convert, deep
//! nesting. Such lines take the typed path, so this reader never needs to
//! explain an error, only to never accept what the typed parse refuses.

use crate::masks::quotes_of_plain_json;
use compliance_api::{Severity, Timestamp};

/// What the fast path needs of a violation line.
pub(super) struct Line<'a> {
    pub rule_id: &'a str,
    pub severity: Severity,
    /// Each evidence item's value, in evidence order (`None`: absent or null).
    pub values: Values<'a>,
    /// Whether the line holds a backslash (an escape in a string it skipped).
    pub escapes: bool,
}

/// Evidence values, the first few inline, so that a line allocates nothing.
#[derive(Default)]
pub(super) struct Values<'a> {
    inline: [Option<&'a str>; INLINE_VALUES],
    len: usize,
    more: Vec<Option<&'a str>>,
}

const INLINE_VALUES: usize = 4;

impl<'a> Values<'a> {
    pub(super) fn push(&mut self, value: Option<&'a str>) {
        if self.len < INLINE_VALUES {
            self.inline[self.len] = value;
        } else {
            self.more.push(value);
        }
        self.len += 1;
    }

    /// Each item's value, in evidence order.
    pub fn iter(&self) -> impl Iterator<Item = Option<&'a str>> + '_ {
        self.inline[..self.len.min(INLINE_VALUES)]
            .iter()
            .chain(&self.more)
            .copied()
    }
}

/// Reads `text` (one JSON object, already checked to be UTF-8): by the
/// compact fast path ([`super::compact`]) where it answers, else in full.
pub(super) fn read(text: &str) -> Option<Line<'_>> {
    super::compact::read(text).or_else(|| read_general(text))
}

/// [`read`] without its fast path: for the lines that path leaves, and the
/// reference it is tested against.
#[inline(never)]
pub(super) fn read_general(text: &str) -> Option<Line<'_>> {
    let mut quotes = [0; QUOTE_WORDS];
    let plain =
        text.len() <= QUOTE_WORDS * 64 && quotes_of_plain_json(text.as_bytes(), &mut quotes);
    read_in_full(text, quotes, plain)
}

/// The general reader, with the line's quotes if it is `plain`.
fn read_in_full(text: &str, quotes: [u64; QUOTE_WORDS], plain: bool) -> Option<Line<'_>> {
    let mut r = Reader {
        text,
        i: 0,
        escapes: false,
        quotes,
        plain,
    };
    let mut line = r.violation()?;
    r.ws();
    line.escapes = r.escapes;
    (r.i == text.len()).then_some(line)
}

/// Nesting deeper than this in unknown fields is left to the typed parse.
const MAX_DEPTH: u32 = 64;

struct Reader<'a> {
    text: &'a str,
    i: usize,
    /// A backslash was seen: only strings skipped over may hold one.
    escapes: bool,
    /// Where the line's quotes are, one bit per byte, if it is `plain`.
    quotes: [u64; QUOTE_WORDS],
    /// The line holds no backslash and no control byte, so every string
    /// ends at the next quote (nearly every line): strings are then passed
    /// over by a look at `quotes`, not a search.
    plain: bool,
}

/// Lines up to this many 64-byte words long are indexed (4 KiB; a violation
/// is about 650 bytes); longer ones search each string's end.
const QUOTE_WORDS: usize = 64;

/// Known keys of a violation, one bit each, so that a duplicate is seen.
const ID: u32 = 1;
const RULE_ID: u32 = 1 << 1;
const SEVERITY: u32 = 1 << 2;
const DETECTED_AT: u32 = 1 << 3;
const REQUIRED: u32 = ID | RULE_ID | SEVERITY | DETECTED_AT;

impl<'a> Reader<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn ws(&mut self) {
        // Lines from the API hold no white space between tokens: one
        // comparison answers for almost every call.
        while let Some(&c) = self.bytes().get(self.i) {
            if c > b' ' || !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.i += 1;
        }
    }

    /// The next byte after white space, not consumed.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.bytes().get(self.i).copied()
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        // Compact JSON: the byte is next, no white space to pass over.
        if self.bytes().get(self.i) == Some(&c) {
            self.i += 1;
            return Some(());
        }
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// Consumes `word` (a literal such as `null`) if it comes next.
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.ws();
        let b = self.bytes();
        if b.get(self.i..self.i + word.len())? == word {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    fn null(&mut self) -> bool {
        self.peek() == Some(b'n') && self.literal(b"null").is_some()
    }

    /// A string without escapes: its text.
    #[inline]
    fn plain_str(&mut self) -> Option<&'a str> {
        if self.bytes().get(self.i) == Some(&b'"') {
            self.i += 1;
        } else {
            self.eat(b'"')?;
        }
        let start = self.i;
        let end = self.string_stop(start)?;
        (self.bytes()[end] == b'"').then_some(())?;
        self.i = end + 1;
        // SAFETY: `start` follows a quote and `end` is at one (checked
        // above), `start <= end`: in UTF-8 text, both are character
        // boundaries, ASCII bytes being characters of their own.
        Some(unsafe { self.text.get_unchecked(start..end) })
    }

    /// Where the string body starting at `from` stops: the first quote,
    /// backslash or control byte at or after `from`.
    #[inline]
    fn string_stop(&self, from: usize) -> Option<usize> {
        if !self.plain {
            return special(&self.bytes()[from..]).map(|k| from + k);
        }
        let mut word = from / 64;
        let mut bits = self.quotes.get(word)? & (u64::MAX << (from % 64));
        while bits == 0 {
            word += 1;
            bits = *self.quotes.get(word)?;
        }
        Some(word * 64 + bits.trailing_zeros() as usize)
    }

    /// `null` or a string without escapes.
    #[inline]
    fn opt_str(&mut self) -> Option<Option<&'a str>> {
        if self.bytes().get(self.i) != Some(&b'"') && self.null() {
            return Some(None);
        }
        self.plain_str().map(Some)
    }

    /// Any string: escapes other than `\u` are checked and passed over.
    fn skip_str(&mut self) -> Option<()> {
        self.eat(b'"')?;
        let b = self.bytes();
        loop {
            self.i = self.string_stop(self.i)?;
            match b[self.i] {
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                b'\\'
                    if matches!(
                        b.get(self.i + 1)?,
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't'
                    ) =>
                {
                    self.escapes = true;
                    self.i += 2
                }
                _ => return None,
            }
        }
    }

    /// A number: `-?(0|[1-9][0-9]*)(.[0-9]+)?`, no exponent, short enough
    /// that no parse of it can overflow. Returns whether it had a fraction.
    fn number(&mut self) -> Option<bool> {
        self.ws();
        let b = self.bytes();
        let start = self.i;
        if b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        let int = self.digits();
        if int == 0 || (int > 1 && b[self.i - int] == b'0') {
            return None;
        }
        let fraction = b.get(self.i) == Some(&b'.');
        if fraction {
            self.i += 1;
            (self.digits() > 0).then_some(())?;
        }
        if matches!(b.get(self.i), Some(b'e' | b'E')) || self.i - start > 18 {
            return None;
        }
        Some(fraction)
    }

    fn digits(&mut self) -> usize {
        let b = self.bytes();
        let start = self.i;
        while self.i < b.len() && b[self.i].is_ascii_digit() {
            self.i += 1;
        }
        self.i - start
    }

    /// `null` or an integer (an `i64` field).
    fn opt_integer(&mut self) -> Option<()> {
        if self.null() {
            return Some(());
        }
        self.ws();
        let start = self.i;
        let fraction = self.number()?;
        // serde_json reads `-0` as the float -0.0, which an `i64` refuses.
        (!fraction && &self.bytes()[start..self.i] != b"-0").then_some(())
    }

    /// `null` or any number (an `f64` field).
    fn opt_number(&mut self) -> Option<()> {
        if self.null() {
            return Some(());
        }
        self.number().map(drop)
    }

    /// Any JSON value, checked and passed over.
    fn skip_value(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.skip_str(),
            b'{' => self.members(|r, _| r.skip_value(depth + 1)),
            b'[' => self.elements(|r| r.skip_value(depth + 1)),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number().map(drop),
            _ => None,
        }
    }

    /// An object, handing each key (without escapes) to `member`, which reads the value.
    fn members(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let key = self.plain_str()?;
            self.eat(b':')?;
            member(self, key)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An array, with `element` reading each element.
    fn elements(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        loop {
            element(self)?;
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn violation(&mut self) -> Option<Line<'a>> {
        let (mut seen, mut optional_seen) = (0u32, 0u32);
        let (mut rule_id, mut severity) = (None, None);
        let mut values = Values::default();
        // Each optional key once, as the typed parse refuses duplicates.
        let once = |seen: &mut u32, bit: u32| (*seen & bit == 0).then(|| *seen |= bit);
        // Keys told apart by length first: one comparison each.
        self.members(|r, key| match (key.len(), key) {
            (2, "id") => {
                once(&mut seen, ID)?;
                r.plain_str().map(drop)
            }
            (6, "ruleId") => {
                once(&mut seen, RULE_ID)?;
                rule_id = Some(r.plain_str()?);
                Some(())
            }
            (8, "severity") => {
                once(&mut seen, SEVERITY)?;
                severity = Some(match r.plain_str()? {
                    "LOW" => Severity::Low,
                    "MEDIUM" => Severity::Medium,
                    "HIGH" => Severity::High,
                    "CRITICAL" => Severity::Critical,
                    _ => return None,
                });
                Some(())
            }
            (10, "detectedAt") => {
                once(&mut seen, DETECTED_AT)?;
                timestamp(r.plain_str()?).then_some(())
            }
            (14, "conversationId") => r.optional(&mut optional_seen, 1),
            (15, "communicationId") => r.optional(&mut optional_seen, 1 << 1),
            (7, "agentId") => r.optional(&mut optional_seen, 1 << 2),
            (7, "queueId") => r.optional(&mut optional_seen, 1 << 3),
            (8, "policyId") => r.optional(&mut optional_seen, 1 << 4),
            (8, "ruleName") => r.optional(&mut optional_seen, 1 << 5),
            (16, "segmentReference") => r.optional(&mut optional_seen, 1 << 6),
            (10, "confidence") => {
                once(&mut optional_seen, 1 << 7)?;
                r.opt_number()
            }
            (8, "evidence") => {
                once(&mut optional_seen, 1 << 8)?;
                if r.null() {
                    return Some(());
                }
                r.elements(|r| {
                    values.push(r.evidence()?);
                    Some(())
                })
            }
            _ => r.skip_value(1),
        })?;
        (seen == REQUIRED).then_some(())?;
        Some(Line {
            rule_id: rule_id?,
            severity: severity?,
            values,
            escapes: false,
        })
    }

    /// An optional string field (`bit` of `seen`), at most once.
    fn optional(&mut self, seen: &mut u32, bit: u32) -> Option<()> {
        (*seen & bit == 0).then_some(())?;
        *seen |= bit;
        self.opt_str().map(drop)
    }

    /// One evidence item: its value.
    fn evidence(&mut self) -> Option<Option<&'a str>> {
        let mut seen = 0u32;
        let mut value = None;
        let mut once = |bit: u32| (seen & bit == 0).then(|| seen |= bit);
        self.members(|r, key| match (key.len(), key) {
            (4, "type") => {
                once(1)?;
                r.plain_str().map(drop)
            }
            (11, "participant") => {
                once(2)?;
                r.opt_str().map(drop)
            }
            (5, "value") => {
                once(4)?;
                value = r.opt_str()?;
                Some(())
            }
            (7, "startMs") => {
                once(8)?;
                r.opt_integer()
            }
            (5, "endMs") => {
                once(16)?;
                r.opt_integer()
            }
            _ => r.skip_value(2),
        })?;
        // `type` is required.
        (seen & 1 == 1).then_some(value)
    }
}

thread_local! {
    /// The date (`YYYY-MM-DD`) of the last timestamp accepted: the lines of
    /// a file mostly share their dates.
    static LAST_DATE: std::cell::Cell<[u8; 10]> = const { std::cell::Cell::new([0; 10]) };
}

/// Whether `s` is a [`Timestamp`] that its parse accepts. A timestamp on
/// the date of the last one accepted (a valid date, then) needs only its
/// time of day checked, in the plain form `THH:MM:SS[.fraction]Z` that the
/// parse reads directly; anything else is parsed.
pub(super) fn timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() >= 20 && LAST_DATE.get() == b[..10] && plain_time_of_day(&b[10..]) {
        return true;
    }
    let ok = s.parse::<Timestamp>().is_ok();
    if ok {
        // An accepted timestamp starts with a valid `YYYY-MM-DD`.
        LAST_DATE.set(b[..10].try_into().expect("at least 20 bytes"));
    }
    ok
}

/// `THH:MM:SS`, hours to 23, minutes and seconds to 59 (no leap second),
/// then `Z`, or a fraction of 1 to 9 digits and `Z`.
fn plain_time_of_day(t: &[u8]) -> bool {
    if t.len() < 10 {
        return false;
    }
    let two = |at: usize, max: u8| {
        t[at].is_ascii_digit()
            && t[at + 1].is_ascii_digit()
            && (t[at] - b'0') * 10 + (t[at + 1] - b'0') <= max
    };
    let fraction = match t.get(9..t.len() - 1) {
        Some([]) => true,
        Some([b'.', digits @ ..]) => {
            (1..=9).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    };
    t[0] == b'T'
        && t[3] == b':'
        && t[6] == b':'
        && t[t.len() - 1] == b'Z'
        && two(1, 23)
        && two(4, 59)
        && two(7, 59)
        && fraction
}

fn is_special(c: u8) -> bool {
    c == b'"' || c == b'\\' || c < 0x20
}

/// The position of the first byte in `b` that ends or interrupts a string:
/// a quote, a backslash or a control byte. Strings are most of a line, so
/// this is the reader's hot loop: sixteen bytes at a time with SSE2, which
/// every x86-64 processor has.
#[cfg(target_arch = "x86_64")]
pub(super) fn special(b: &[u8]) -> Option<usize> {
    use std::arch::x86_64::*;
    let mut i = 0;
    // SAFETY: SSE2 is part of the x86-64 baseline, and each load reads 16
    // bytes that lie inside `b` (`i + 16 <= b.len()`).
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        // Unsigned `c < 0x20` as a signed compare: flip the high bits first.
        let flip = _mm_set1_epi8(i8::MIN);
        let limit = _mm_set1_epi8((0x20u8 ^ 0x80) as i8);
        while i + 16 <= b.len() {
            let x = _mm_loadu_si128(b.as_ptr().add(i).cast::<__m128i>());
            let control = _mm_cmplt_epi8(_mm_xor_si128(x, flip), limit);
            let ends = _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash));
            let mask = _mm_movemask_epi8(_mm_or_si128(ends, control));
            if mask != 0 {
                return Some(i + mask.trailing_zeros() as usize);
            }
            i += 16;
        }
    }
    b[i..].iter().position(|&c| is_special(c)).map(|k| i + k)
}

#[cfg(not(target_arch = "x86_64"))]
pub(super) fn special(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| is_special(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_matches_a_byte_search() {
        let mut text: Vec<u8> = Vec::new();
        for n in 0..800u32 {
            // Mostly printable bytes, some of them special, some above 0x7f.
            let c = (n.wrapping_mul(2_654_435_761) >> 11) as u8;
            text.push(if c % 5 == 0 { c } else { 0x20 + c % 0x60 });
            for start in 0..text.len().min(24) {
                let t = &text[start..];
                assert_eq!(special(t), t.iter().position(|&c| is_special(c)), "{t:?}");
            }
        }
        // Every byte value at every position of a vector and of the tail.
        for c in 0..=255u8 {
            for at in 0..40 {
                let mut t = [b'a'; 40];
                t[at] = c;
                assert_eq!(
                    special(&t),
                    t.iter().position(|&c| is_special(c)),
                    "{c} at {at}"
                );
            }
        }
    }

    /// Whatever date the last accepted timestamp had, a timestamp is
    /// accepted exactly when its parse accepts it.
    #[test]
    fn timestamps_are_accepted_as_their_parse_accepts_them() {
        let dates = [
            "2023-10-01",
            "2023-02-29",
            "2024-02-29",
            "2023-13-01",
            "2023-1x-01",
            "2023/10/01",
        ];
        let times = [
            "T00:00:00Z",
            "T23:59:59Z",
            "T24:00:00Z",
            "T23:60:00Z",
            "T23:59:60Z",
            "T12:00:00.1Z",
            "T12:00:00.123456789Z",
            "T12:00:00.1234567890Z",
            "T12:00:00.Z",
            "T12:00:00+01:00",
            "T12:00:00z",
            "T1:00:00Z",
            "T12:00:00.000Zx",
            "T12-00:00Z",
            "T12:00:00.12aZ",
            " 12:00:00Z",
            "T12:00:00ZZ",
            "t12:00:00Z",
            "T12:00:0Z",
        ];
        let all: Vec<String> = dates
            .iter()
            .flat_map(|d| times.iter().map(move |t| format!("{d}{t}")))
            .collect();
        for primer in &all {
            timestamp(primer);
            for s in &all {
                assert_eq!(
                    timestamp(s),
                    s.parse::<Timestamp>().is_ok(),
                    "{s} after {primer}"
                );
            }
        }
    }

    #[test]
    fn reads_what_the_fast_path_needs() {
        let text = r#"{"id":"v","ruleId":"rule-uuid-002","severity":"LOW","detectedAt":"2023-10-01T13:04:05.120Z",
            "confidence":0.5,"x":{"y":[1,-2.5,true,false,null,"a\"b"]},
            "evidence":[{"type":"T","value":"one"},{"type":"S","value":null,"startMs":-3},{"type":"M"}]}"#;
        let line = read(text).expect("accepted");
        assert_eq!(line.rule_id, "rule-uuid-002");
        assert_eq!(line.severity, Severity::Low);
        assert_eq!(
            line.values.iter().collect::<Vec<_>>(),
            [Some("one"), None, None]
        );
    }

    /// The last pass skips its search for backslashes on the reader's word:
    /// a line with one anywhere must say so.
    #[test]
    fn says_whether_a_line_holds_a_backslash() {
        let base = r#""id":"a","ruleId":"r","severity":"LOW","detectedAt":"2023-10-01T13:04:05Z""#;
        for (text, escapes) in [
            (
                format!(r#"{{{base},"evidence":[{{"type":"T","value":"x 1"}}]}}"#),
                false,
            ),
            (format!(r#"{{{base},"x":"a\nb"}}"#), true),
            (
                format!(r#"{{{base},"evidence":[{{"type":"T","z":["\/"]}}]}}"#),
                true,
            ),
            (format!(r#"{{{base},"x":{{"y":"\t"}}}}"#), true),
        ] {
            let line = read(&text).expect(&text);
            assert_eq!(line.escapes, escapes, "{text}");
            assert_eq!(line.escapes, text.contains('\\'), "{text}");
        }
    }

    #[test]
    fn leaves_to_the_typed_parse_what_it_is_unsure_of() {
        let base = r#""ruleId":"r","severity":"LOW","detectedAt":"2023-10-01T13:04:05Z""#;
        for (case, text) in [
            ("escaped id", format!(r#"{{"id":"a\"b",{base}}}"#)),
            ("unicode escape", format!(r#"{{"id":"a",{base},"x":"\u0041"}}"#)),
            ("duplicate id", format!(r#"{{"id":"a","id":"b",{base}}}"#)),
            ("duplicate optional", format!(r#"{{"id":"a",{base},"agentId":null,"agentId":"x"}}"#)),
            ("missing id", format!(r#"{{{base}}}"#)),
            ("lowercase severity", r#"{"id":"a","ruleId":"r","severity":"low","detectedAt":"2023-10-01T13:04:05Z"}"#.to_string()),
            ("exponent", format!(r#"{{"id":"a",{base},"x":1e400}}"#)),
            ("leading zero", format!(r#"{{"id":"a",{base},"x":01}}"#)),
            ("fractional ms", format!(r#"{{"id":"a",{base},"evidence":[{{"type":"T","startMs":1.5}}]}}"#)),
            ("negative zero ms", format!(r#"{{"id":"a",{base},"evidence":[{{"type":"T","endMs":-0}}]}}"#)),
            ("evidence without type", format!(r#"{{"id":"a",{base},"evidence":[{{"value":"x"}}]}}"#)),
            ("trailing comma", format!(r#"{{"id":"a",{base},}}"#)),
            ("trailing bytes", format!(r#"{{"id":"a",{base}}} x"#)),
            ("raw tab in a string", format!("{{\"id\":\"a\tb\",{base}}}")),
            ("non-UTC time", r#"{"id":"a","ruleId":"r","severity":"LOW","detectedAt":"2023-10-01T13:04:05+01:00"}"#.to_string()),
            ("deep nesting", format!(r#"{{"id":"a",{base},"x":{}{}}}"#, "[".repeat(100), "]".repeat(100))),
        ] {
            assert!(read(&text).is_none(), "{case}: {text}");
        }
    }
}
