//! The strict reader's fast path for the lines the API writes: compact JSON
//! (no white space between tokens), no backslash or control byte, only the
//! known keys of a violation and of its evidence, in the API's order.
//!
//! It walks the line's quotes in order (one bit each, found 64 bytes at a
//! time by [`quotes_of_plain_json`](crate::masks::quotes_of_plain_json)):
//! every string is the text between two of them, every other token is
//! checked where it must be. Each key is first compared with the one that
//! followed the previous key, by one masked 16-byte compare.
//!
//! It only ever accepts a line the general reader ([`super::reader`])
//! accepts in the same way: anything else (white space, an unknown key, a
//! duplicate, a number or timestamp it is unsure of) answers `None`, and
//! the general reader decides. The tests hold it to that.

use super::reader::{timestamp, Line, Values};
use compliance_api::Severity;

/// Reads `text`, a line free of backslashes and control bytes whose quotes
/// are the bits of `quotes` (`text.len().div_ceil(64)` words).
pub(super) fn read<'a>(text: &'a str, quotes: &[u64]) -> Option<Line<'a>> {
    let mut r = Compact {
        text,
        i: 0,
        quotes: Quotes {
            words: quotes,
            word: 0,
            bits: *quotes.first()?,
        },
    };
    let line = r.violation()?;
    (r.i == text.len()).then_some(line)
}

/// The quotes of a line, in order.
struct Quotes<'q> {
    words: &'q [u64],
    word: usize,
    /// The quotes of `words[word]` not yet taken.
    bits: u64,
}

impl Quotes<'_> {
    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        while self.bits == 0 {
            self.word += 1;
            self.bits = *self.words.get(self.word)?;
        }
        let at = self.word * 64 + self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        Some(at)
    }
}

/// A known key and what its value is read as.
struct Key<T> {
    len: usize,
    /// The key's bytes, little-endian, and a mask of its `len` bytes.
    bytes: u128,
    mask: u128,
    field: T,
}

impl<T> Key<T> {
    const fn new(name: &str, field: T) -> Key<T> {
        let b = name.as_bytes();
        assert!(b.len() <= 16, "keys fit one 16-byte compare");
        let (mut bytes, mut mask, mut k) = (0u128, 0u128, 0);
        while k < b.len() {
            bytes |= (b[k] as u128) << (8 * k);
            mask |= 0xff << (8 * k);
            k += 1;
        }
        Key {
            len: b.len(),
            bytes,
            mask,
            field,
        }
    }
}

#[derive(Clone, Copy)]
enum Field {
    Id,
    RuleId,
    Severity,
    DetectedAt,
    Confidence,
    Evidence,
    /// An optional string the fast path does not need.
    Optional,
}

/// The violation's keys, in the API's (alphabetical) order: the known keys
/// of the general reader, no other.
const VIOLATION: [Key<Field>; 13] = [
    Key::new("agentId", Field::Optional),
    Key::new("communicationId", Field::Optional),
    Key::new("confidence", Field::Confidence),
    Key::new("conversationId", Field::Optional),
    Key::new("detectedAt", Field::DetectedAt),
    Key::new("evidence", Field::Evidence),
    Key::new("id", Field::Id),
    Key::new("policyId", Field::Optional),
    Key::new("queueId", Field::Optional),
    Key::new("ruleId", Field::RuleId),
    Key::new("ruleName", Field::Optional),
    Key::new("segmentReference", Field::Optional),
    Key::new("severity", Field::Severity),
];

/// Bits (of the `VIOLATION` index) of the keys a violation must have.
const REQUIRED: u32 = 1 << 4 | 1 << 6 | 1 << 9 | 1 << 12;

#[derive(Clone, Copy)]
enum Item {
    Type,
    Value,
    /// `participant`, an optional string.
    Optional,
    /// `startMs` or `endMs`, an optional integer.
    Ms,
}

/// An evidence item's keys, in the API's order.
const EVIDENCE: [Key<Item>; 5] = [
    Key::new("endMs", Item::Ms),
    Key::new("participant", Item::Optional),
    Key::new("startMs", Item::Ms),
    Key::new("type", Item::Type),
    Key::new("value", Item::Value),
];

/// `type`'s bit.
const TYPE: u32 = 1 << 3;

struct Compact<'a, 'q> {
    text: &'a str,
    i: usize,
    quotes: Quotes<'q>,
}

impl<'a> Compact<'a, '_> {
    #[inline(always)]
    fn at(&self, i: usize) -> Option<u8> {
        self.text.as_bytes().get(i).copied()
    }

    /// Consumes `c` if it is the next byte.
    #[inline(always)]
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.at(self.i)? == c).then(|| self.i += 1)
    }

    /// A string: the text between the next two quotes, the first of them next.
    #[inline(always)]
    fn string(&mut self) -> Option<&'a str> {
        // Every quote before `i` has been taken: the next one is at `i`
        // exactly when the next byte is a quote.
        let open = self.quotes.next()?;
        (open == self.i).then_some(())?;
        let close = self.quotes.next()?;
        self.i = close + 1;
        // SAFETY: `open` and `close` are quotes, `open < close`: in UTF-8
        // text, both are character boundaries, ASCII bytes being
        // characters of their own.
        Some(unsafe { self.text.get_unchecked(open + 1..close) })
    }

    /// Consumes `null` if it is next; `None` if nothing else can be.
    #[inline(always)]
    fn null(&mut self) -> Option<bool> {
        if self.at(self.i)? != b'n' {
            return Some(false);
        }
        let b = self.text.as_bytes();
        (b.get(self.i..self.i + 4)? == b"null").then_some(())?;
        self.i += 4;
        Some(true)
    }

    /// `null` or a string.
    #[inline(always)]
    fn opt_string(&mut self) -> Option<Option<&'a str>> {
        if self.null()? {
            return Some(None);
        }
        self.string().map(Some)
    }

    /// A number as the general reader takes it: `-?(0|[1-9][0-9]*)(.[0-9]+)?`,
    /// at most 18 bytes (an exponent is refused by the separator after it).
    /// Returns whether it had a fraction.
    fn number(&mut self) -> Option<bool> {
        let b = self.text.as_bytes();
        let start = self.i;
        let mut i = start + usize::from(b.get(start) == Some(&b'-'));
        let digits = |mut i: usize| {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        let int = i;
        i = digits(i);
        if i == int || (i - int > 1 && b[int] == b'0') {
            return None;
        }
        let fraction = b.get(i) == Some(&b'.');
        if fraction {
            let from = i + 1;
            i = digits(from);
            (i > from).then_some(())?;
        }
        (i - start <= 18).then_some(())?;
        self.i = i;
        Some(fraction)
    }

    /// `null` or an integer that is not `-0` (an `i64` field).
    fn opt_integer(&mut self) -> Option<()> {
        if self.null()? {
            return Some(());
        }
        let start = self.i;
        let fraction = self.number()?;
        (!fraction && &self.text.as_bytes()[start..self.i] != b"-0").then_some(())
    }

    /// The next key and its colon: its index in `keys`, tried from `guess`
    /// on (the key that followed the previous one) and then from the start.
    #[inline(always)]
    fn key<T>(&mut self, keys: &[Key<T>], guess: usize) -> Option<usize> {
        let open = self.quotes.next()?;
        (open == self.i).then_some(())?;
        let close = self.quotes.next()?;
        let (from, len) = (open + 1, close - open - 1);
        let b = self.text.as_bytes();
        let is = |key: &Key<T>| {
            key.len == len
                && match b.get(from..from + 16) {
                    Some(window) => {
                        let window = u128::from_le_bytes(window.try_into().expect("16 bytes"));
                        window & key.mask == key.bytes
                    }
                    // Near the end of a short line: byte by byte.
                    None => {
                        (0..len).all(|k| u128::from(b[from + k]) == key.bytes >> (8 * k) & 0xff)
                    }
                }
        };
        let found = match keys.get(guess) {
            Some(key) if is(key) => guess,
            _ => keys.iter().position(is)?,
        };
        self.i = close + 1;
        self.eat(b':')?;
        Some(found)
    }

    /// After a member: `,` (`true`, more follow) or `close` (`false`).
    #[inline(always)]
    fn more(&mut self, close: u8) -> Option<bool> {
        let c = self.at(self.i)?;
        self.i += 1;
        match c {
            b',' => Some(true),
            c if c == close => Some(false),
            _ => None,
        }
    }

    fn violation(&mut self) -> Option<Line<'a>> {
        self.eat(b'{')?;
        let (mut seen, mut next) = (0u32, 0);
        let (mut rule_id, mut severity) = (None, None);
        let mut values = Values::default();
        loop {
            let k = self.key(&VIOLATION, next)?;
            (seen & 1 << k == 0).then_some(())?;
            seen |= 1 << k;
            next = k + 1;
            match VIOLATION[k].field {
                Field::Id => drop(self.string()?),
                Field::RuleId => rule_id = Some(self.string()?),
                Field::Severity => {
                    severity = Some(match self.string()? {
                        "LOW" => Severity::Low,
                        "MEDIUM" => Severity::Medium,
                        "HIGH" => Severity::High,
                        "CRITICAL" => Severity::Critical,
                        _ => return None,
                    })
                }
                Field::DetectedAt => timestamp(self.string()?).then_some(())?,
                Field::Optional => drop(self.opt_string()?),
                Field::Confidence => {
                    if !self.null()? {
                        self.number()?;
                    }
                }
                Field::Evidence => {
                    if !self.null()? {
                        self.evidence(&mut values)?;
                    }
                }
            }
            if !self.more(b'}')? {
                break;
            }
        }
        (seen & REQUIRED == REQUIRED).then_some(())?;
        Some(Line {
            rule_id: rule_id?,
            severity: severity?,
            values,
            escapes: false,
        })
    }

    /// The evidence array, each item's value pushed to `values`.
    fn evidence(&mut self, values: &mut Values<'a>) -> Option<()> {
        self.eat(b'[')?;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            values.push(self.item()?);
            if !self.more(b']')? {
                return Some(());
            }
        }
    }

    /// One evidence item: its value.
    fn item(&mut self) -> Option<Option<&'a str>> {
        self.eat(b'{')?;
        let (mut seen, mut next) = (0u32, 0);
        let mut value = None;
        loop {
            let k = self.key(&EVIDENCE, next)?;
            (seen & 1 << k == 0).then_some(())?;
            seen |= 1 << k;
            next = k + 1;
            match EVIDENCE[k].field {
                Item::Type => drop(self.string()?),
                Item::Value => value = self.opt_string()?,
                Item::Optional => drop(self.opt_string()?),
                Item::Ms => self.opt_integer()?,
            }
            if !self.more(b'}')? {
                break;
            }
        }
        (seen & TYPE != 0).then_some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::super::reader::read_general;
    use super::*;
    use crate::masks::quotes_of_plain_json;
    use proptest::prelude::*;

    /// The fast path on `text`, as [`super::super::reader::read`] calls it.
    fn fast(text: &str) -> Option<Line<'_>> {
        let mut quotes = [0; 64];
        (text.len() <= 64 * 64 && quotes_of_plain_json(text.as_bytes(), &mut quotes))
            .then_some(())?;
        read(text, &quotes[..text.len().div_ceil(64)])
    }

    type Seen<'a> = (&'a str, Severity, Vec<Option<&'a str>>, bool);

    fn seen<'a>(line: &Line<'a>) -> Seen<'a> {
        let values = line.values.iter().collect();
        (line.rule_id, line.severity, values, line.escapes)
    }

    const API_LINE: &str = r#"{"agentId":"797cdde6-2b92-468c-81a9-56a14a1bce01","confidence":0.5,"conversationId":"6bd86503-42dc-4553-8836-17e08e42131b","detectedAt":"2023-10-01T00:00:00.000Z","evidence":[{"endMs":430860,"participant":"CUSTOMER","startMs":423974,"type":"TRANSCRIPT","value":"The router is at 192.168.121.196. Card on file: 6565 6973 5999 9890"}],"id":"71b2e35e-23e5-410b-82bf-1ddadd310bb2","policyId":"4ef4e263-2f76-4f56-807e-aa45e46c9bd6","ruleId":"rule-uuid-002","ruleName":"Payment taken without secure IVR","segmentReference":"conversation/6bd86503/segment/35","severity":"CRITICAL"}"#;

    /// A line as the API writes it takes the fast path, and reads as in full.
    #[test]
    fn reads_an_api_line_as_the_general_reader_does() {
        let line = fast(API_LINE).expect("the fast path takes an API line");
        assert_eq!(seen(&line), seen(&read_general(API_LINE).unwrap()));
        assert_eq!(line.rule_id, "rule-uuid-002");
        assert_eq!(line.severity, Severity::Critical);
    }

    /// What the fast path leaves to the general reader, which may accept it.
    #[test]
    fn leaves_other_shapes_to_the_general_reader() {
        for text in [
            API_LINE.replace(r#""confidence":0.5"#, r#""confidence" : 0.5"#),
            API_LINE.replace(r#""ruleName""#, r#""note":[1,{"a":null}],"ruleName""#),
            API_LINE.replace(r#""type":"TRANSCRIPT""#, r#""type":"TRANSCRIPT","z":1"#),
            format!("{API_LINE} "),
        ] {
            assert!(fast(&text).is_none(), "{text}");
            assert!(read_general(&text).is_some(), "{text}");
        }
        for text in [
            API_LINE.replace(r#""id":"#, r#""id":"a","id":"#),
            API_LINE.replace("0.5", "5e-1"),
            API_LINE.replace("430860", "-0"),
            API_LINE.replace("430860", "4.5"),
            API_LINE.replace("0.5", "01"),
            API_LINE.replace("0.5", "1234567890123456789"),
            API_LINE.replace("CRITICAL", "critical"),
            API_LINE.replace("T00:00:00.000Z", "T24:00:00Z"),
            API_LINE.replace(r#""type":"TRANSCRIPT","#, ""),
            API_LINE.replace(r#""ruleId":"rule-uuid-002","#, ""),
            API_LINE.replace("}]", "},]"),
            API_LINE.replace(
                r#""agentId":"797cdde6-2b92-468c-81a9-56a14a1bce01""#,
                r#""agentId":nul"#,
            ),
        ] {
            assert!(fast(&text).is_none(), "{text}");
            assert!(read_general(&text).is_none(), "{text}");
        }
    }

    /// A value for `key` as the API writes it, or (now and then) one it
    /// does not write: another type, a malformed token, an edge of a number.
    fn value(key: &'static str) -> BoxedStrategy<String> {
        let text = "[a-zA-Z0-9 .:é/-]{0,90}".prop_map(|s| format!("\"{s}\""));
        let good: BoxedStrategy<String> = match key {
            "severity" => prop::sample::select(vec![
                "LOW", "MEDIUM", "HIGH", "CRITICAL", "LOW", "HIGH", "MEDIUM", "Low",
            ])
            .prop_map(|s| format!("\"{s}\""))
            .boxed(),
            "detectedAt" => prop::sample::select(vec![
                "2023-10-01T00:00:00.000Z",
                "2023-10-01T00:00:00.000Z",
                "2023-10-01T00:00:00.000Z",
                "2023-10-01T23:59:59Z",
                "2023-10-01T23:59:59Z",
                "2023-10-02T23:59:59Z",
                "2023-10-02T13:04:05.123456789Z",
                "2023-02-29T00:00:00Z",
                "2023-10-01T13:04:05+01:00",
                "2023-10-01T24:00:00Z",
            ])
            .prop_map(|s| format!("\"{s}\""))
            .boxed(),
            "confidence" | "startMs" | "endMs" => prop_oneof![
                6 => (-99_999_999i64..99_999_999).prop_map(|n| n.to_string()),
                2 => (0u32..1000).prop_map(|n| format!("0.{n}")),
                1 => prop::sample::select(vec![
                    "null", "-0", "0", "-0.0", "1e3", "01", "-", "-1.", "123456789012345678",
                    "1234567890123456789", "-12345678901234567", "-123456789012345678",
                ])
                .prop_map(str::to_string),
            ]
            .boxed(),
            "evidence" => prop_oneof![
                prop::collection::vec(item(), 0..4)
                    .prop_map(|items| format!("[{}]", items.join(","))),
                Just("null".to_string()),
            ]
            .boxed(),
            "id" | "ruleId" | "type" => text.boxed(),
            _ => prop_oneof![text, Just("null".to_string())].boxed(),
        };
        let odd = prop::sample::select(vec![
            "-0",
            "0",
            "-",
            "01",
            "1.",
            "1.5",
            "-2.25",
            "1e3",
            "1E3",
            "12345678901234567",
            "123456789012345678",
            "1234567890123456789",
            "true",
            "nul",
            "null",
            "{}",
            "[]",
            "[1]",
            "\"\"",
            "\"LOW\"",
            "\"\\\"\"",
        ])
        .prop_map(str::to_string);
        prop_oneof![40 => good, 1 => odd].boxed()
    }

    fn members(keys: &'static [&'static str]) -> impl Strategy<Value = Vec<(String, String)>> {
        let each: Vec<_> = keys
            .iter()
            .map(|&key| {
                // Required keys are mostly there, so that many lines are accepted.
                let there = match key {
                    "id" | "ruleId" | "severity" | "detectedAt" | "type" => 0.99,
                    _ => 0.8,
                };
                prop::option::weighted(there, value(key).prop_map(move |v| (key.to_string(), v)))
            })
            .collect();
        each.prop_map(|members| members.into_iter().flatten().collect())
    }

    const KEYS: &[&str] = &[
        "agentId",
        "communicationId",
        "confidence",
        "conversationId",
        "detectedAt",
        "evidence",
        "id",
        "policyId",
        "queueId",
        "ruleId",
        "ruleName",
        "segmentReference",
        "severity",
    ];
    const ITEM_KEYS: &[&str] = &["endMs", "participant", "startMs", "type", "value"];

    fn item() -> impl Strategy<Value = String> {
        (members(ITEM_KEYS), edits()).prop_map(|(m, e)| object(m, &e))
    }

    /// Changes to a well-formed object: a member repeated, two swapped,
    /// one dropped, one with an unknown key.
    #[derive(Debug, Clone)]
    enum Edit {
        Repeat(prop::sample::Index),
        Swap(prop::sample::Index, prop::sample::Index),
        Drop(prop::sample::Index),
        Unknown(prop::sample::Index),
    }

    fn edits() -> impl Strategy<Value = Vec<Edit>> {
        let index = any::<prop::sample::Index>;
        let edit = prop_oneof![
            index().prop_map(Edit::Repeat),
            (index(), index()).prop_map(|(a, b)| Edit::Swap(a, b)),
            index().prop_map(Edit::Drop),
            index().prop_map(Edit::Unknown),
        ];
        prop_oneof![4 => Just(Vec::new()), 1 => prop::collection::vec(edit, 1..3)]
    }

    fn object(mut members: Vec<(String, String)>, edits: &[Edit]) -> String {
        for edit in edits {
            if members.is_empty() {
                break;
            }
            let n = members.len();
            match edit {
                Edit::Repeat(i) => members.push(members[i.index(n)].clone()),
                Edit::Swap(a, b) => members.swap(a.index(n), b.index(n)),
                Edit::Drop(i) => drop(members.remove(i.index(n))),
                Edit::Unknown(i) => members[i.index(n)].0.push('x'),
            }
        }
        let members: Vec<String> = members
            .iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect();
        format!("{{{}}}", members.join(","))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Wherever the fast path answers, the general reader answers the
        /// same; on compact lines of known keys, it answers wherever the
        /// general reader accepts. Lines of many lengths, so that their
        /// quotes fall on both sides of 64-byte edges; a byte changed or
        /// a space put in now and then.
        #[test]
        fn the_fast_path_reads_as_the_general_reader(
            members in members(KEYS),
            edits in edits(),
            change in prop::option::weighted(0.2, (any::<prop::sample::Index>(),
                prop::sample::select(b" {}[]:,\"\\0-.enul\t".to_vec()))),
        ) {
            let mut text = object(members, &edits);
            if let Some((at, byte)) = change {
                let at = at.index(text.len());
                if text.is_char_boundary(at) {
                    text.insert(at, byte as char);
                }
            }
            let general = read_general(&text);
            match fast(&text) {
                Some(line) => prop_assert_eq!(Some(seen(&line)), general.as_ref().map(seen), "{}", text),
                None => {
                    let compact = change.is_none()
                        && !edits.iter().any(|e| matches!(e, Edit::Unknown(_)))
                        && !text.contains("x\":");
                    prop_assert!(!(compact && general.is_some()), "the fast path leaves {}", text);
                }
            }
        }
    }
}
