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
//!
//! It reads every byte of every output line, so it is built for speed: most
//! digit runs in a line (timestamps, UUID groups, offsets) are short, and a
//! run of 12 digits spans at least 12 bytes that are all digits or joining
//! separators. Such stretches are found 64 bytes at a time with bit masks
//! ([`stretch`]), and the runs in them read from digit and separator masks
//! ([`Runs`]); only the few long enough are read byte by byte. `verify`'s
//! fast path sweeps the violation part of each record as it writes it, and
//! takes the verdict part already swept from its rule (`Rule::swept_verdict`):
//! the same bytes and counts as one sweep over the whole record.

use crate::masks::{chunk_mask, equal};
use crate::pii::PiiType;
use crate::scan::is_word_byte;
use stretch::Stretches;

/// What a late card number is replaced by: the detectors' own marker.
fn marker() -> &'static [u8] {
    PiiType::CreditCard.marker().as_bytes()
}

/// What the last pass redacted, told apart by whether the number lies in an
/// issued card range (a brand's IIN range and one of its lengths: a card the
/// detectors missed, a gap to report) or in none (a Luhn-valid number that is
/// no card, such as the simulator's deliberate hard negatives).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Late {
    pub issued_range: u64,
    pub no_issued_range: u64,
}

impl Late {
    /// Every number redacted: the `late_pii` count.
    pub fn total(self) -> u64 {
        self.issued_range + self.no_issued_range
    }

    /// Counts one redacted run (its digits and separators).
    fn count(&mut self, run: &[u8]) {
        let mut digits = [0u8; 19];
        let n = luhn_digits(run, &mut digits);
        if crate::detect::card::is_card(&digits[..n]) {
            self.issued_range += 1;
        } else {
            self.no_issued_range += 1;
        }
    }
}

impl std::ops::AddAssign for Late {
    fn add_assign(&mut self, other: Late) {
        self.issued_range += other.issued_range;
        self.no_issued_range += other.no_issued_range;
    }
}

/// Appends `text` to `out` with every late card number redacted; says how many.
pub fn sweep_text(text: &[u8], out: &mut Vec<u8>) -> Late {
    sweep(text, 0, out, |_| true)
}

/// [`sweep_text`] for one JSON text: only its strings (keys too) are swept;
/// numbers are left as they are, and the JSON stays valid. A string with
/// escapes is swept as it reads (`\n` is a line break, not a letter `n`
/// glued to the digits) and, only when something is redacted, written back
/// escaped as serde_json escapes it.
pub fn sweep_json(json: &[u8], out: &mut Vec<u8>) -> Late {
    let (mut copied, mut count, mut at) = (0, Late::default(), 0);
    while let Some(k) = memchr::memchr(b'"', &json[at..]) {
        let open = at + k;
        let (close, escaped) = string_end(json, open + 1);
        let body = &json[open + 1..close];
        out.extend_from_slice(&json[copied..open + 1]);
        copied = close;
        let quoted = &json[open..(close + 1).min(json.len())];
        let decoded = escaped
            .then(|| serde_json::from_slice::<String>(quoted).ok())
            .flatten();
        match decoded {
            Some(text) => {
                let mut swept = Vec::new();
                let n = sweep_text(text.as_bytes(), &mut swept);
                if n.total() == 0 {
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

/// Appends `text[from..]` to `out`, redacting the runs starting where
/// `redact` says. `from` is where the caller stopped looking: 0 or the start
/// of a run.
fn sweep(
    text: &[u8],
    from: usize,
    out: &mut Vec<u8>,
    mut redact: impl FnMut(usize) -> bool,
) -> Late {
    let (mut copied, mut count) = (from, Late::default());
    for (start, end) in Runs::new(text, from).filter(|&(start, _)| redact(start)) {
        out.extend_from_slice(&text[copied..start]);
        out.extend_from_slice(marker());
        copied = end;
        count.count(&text[start..end]);
    }
    out.extend_from_slice(&text[copied..]);
    count
}

/// [`sweep_json`] over `buf[from..]`, in place: the common case, nothing
/// found, copies nothing; otherwise the sweep goes on from the first find.
pub fn sweep_json_tail(buf: &mut Vec<u8>, from: usize) -> Late {
    // Escapes change what a string reads (`\n` before digits is no letter):
    // those lines are swept string by string.
    if memchr::memchr(b'\\', &buf[from..]).is_some() {
        let tail = buf.split_off(from);
        return sweep_json(&tail, buf);
    }
    sweep_unescaped_json_tail(buf, from)
}

/// [`sweep_json_tail`] for a JSON text the caller knows to hold no backslash
/// (`verify`'s reader saw none), without searching for one.
pub fn sweep_unescaped_json_tail(buf: &mut Vec<u8>, from: usize) -> Late {
    debug_assert!(!buf[from..].contains(&b'\\'), "a backslash in {buf:?}");
    let mut strings = Strings::default();
    let tail = &buf[from..];
    let first = Runs::new(tail, 0).find(|&(start, _)| strings.inside(tail, start));
    let Some((start, _)) = first else {
        return Late::default();
    };
    let tail = buf.split_off(from);
    buf.extend_from_slice(&tail[..start]);
    sweep(&tail, start, buf, |at| strings.inside(&tail, at))
}

/// Whether a JSON position lies in a string, read forward lazily: runs are
/// rare, so most lines are never read for quotes at all.
#[derive(Default)]
struct Strings {
    pos: usize,
    in_string: bool,
}

impl Strings {
    /// Asking again about the same position gives the same answer.
    fn inside(&mut self, json: &[u8], at: usize) -> bool {
        // `pos` is past `at` when the byte at `at` was escaped.
        while self.pos < at {
            let n = (at - self.pos).min(64);
            let first = |n: usize| u64::MAX >> (64 - n); // bits of the first n bytes, n >= 1
            let quotes = chunk_mask(json, self.pos, quotes) & first(n);
            let escapes = chunk_mask(json, self.pos, backslashes) & first(n);
            // Up to the first escape only the number of quotes matters; an
            // escape (only found in strings) takes the next byte with it.
            let (counted, step) = match escapes.trailing_zeros() as usize {
                64 => (quotes, n),
                k => (quotes & !(u64::MAX << k), k + 2),
            };
            self.in_string ^= counted.count_ones() % 2 == 1;
            self.pos += step;
        }
        self.in_string
    }
}

/// The late card numbers in `b` at or after `i`, in order, as `(start, end)`.
/// `i` must be 0, the start of a run, or a byte that does not join one.
struct Runs<'a> {
    b: &'a [u8],
    i: usize,
    /// How stretches are found, decided once.
    stretches: Stretches,
}

impl Runs<'_> {
    fn new(b: &[u8], i: usize) -> Runs<'_> {
        Runs {
            b,
            i,
            stretches: Stretches::new(),
        }
    }
}

impl Iterator for Runs<'_> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        let b = self.b;
        loop {
            // Nothing before `at` joins it to a run: it is `i`, or it
            // follows a byte that cannot join.
            let at = self.stretches.find(b, self.i)?;
            // The runs of the 64 bytes from `at`, read from masks: most
            // stretches hold only short runs (a date, a UUID group), which
            // are passed over without reading a byte.
            let (digit, sep) = self.stretches.digits_and_separators(b, at);
            // Bit k: `b[at + k]` joins a run. The byte after bit 63 is not
            // in the masks: the run through bit 62 or 63, if any, is read
            // byte by byte.
            let joined = digit | (sep & (digit << 1) & (digit >> 1));
            let last = if joined >> 62 == 0 {
                64
            } else {
                64 - (joined | 1 << 63).leading_ones() as usize
            };
            // Bit k: a run of at least LEN bytes starts at k, before `last`.
            let mut long = joined & !(joined << 1);
            let mut all = joined;
            all &= all >> 1;
            all &= all >> 2;
            all &= all >> 4;
            all &= all >> (LEN - 8);
            long &= all & u64::MAX.checked_shr(64 - last as u32).unwrap_or(0);
            self.i = (at + 64).min(b.len());
            while long != 0 {
                let first = long.trailing_zeros() as usize;
                long &= long - 1;
                let len = (!(joined >> first)).trailing_zeros() as usize;
                let n = ((digit >> first) & !(u64::MAX << len)).count_ones() as usize;
                let (start, end) = (at + first, at + first + len);
                if late_card(b, start, end, n) {
                    self.i = end;
                    return Some((start, end));
                }
            }
            if last < 64 {
                let start = at + last;
                let (end, n) = run_end(b, start);
                self.i = end;
                if late_card(b, start, end, n) {
                    return Some((start, end));
                }
            }
        }
    }
}

/// Whether the run `b[start..end]` of `n` digits is a late card number.
fn late_card(b: &[u8], start: usize, end: usize, n: usize) -> bool {
    (12..=19).contains(&n) && !glued(b, start, end) && luhn_run(&b[start..end])
}

/// Where the run that starts at `start` ends, byte by byte, and how many
/// digits it holds.
fn run_end(b: &[u8], start: usize) -> (usize, usize) {
    let (mut end, mut n) = (start, 0);
    loop {
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            n += 1;
            end += 1;
        }
        if !joins(b, end) {
            return (end, n);
        }
        end += 1;
    }
}

/// Whether `b[at]` belongs to a run: a digit, or a separator between two.
fn joins(b: &[u8], at: usize) -> bool {
    let digit = |k: Option<usize>| k.and_then(|k| b.get(k)).is_some_and(u8::is_ascii_digit);
    digit(Some(at))
        || (matches!(b.get(at), Some(b' ' | b'-' | b'.'))
            && digit(at.checked_sub(1))
            && digit(Some(at + 1)))
}

/// Whether the run `b[start..end]` is glued to a word, directly or through a
/// hyphen or dot: then it is part of an identifier (the last group of a
/// UUID, "a36d-123456789012").
fn glued(b: &[u8], start: usize, end: usize) -> bool {
    let joint = |c: Option<&u8>| matches!(c, Some(b'-' | b'.'));
    let before = |k: usize| start.checked_sub(k).and_then(|at| b.get(at));
    word_before(b, start)
        || (joint(before(1)) && word_before(b, start - 1))
        || word_after(b, end)
        || (joint(b.get(end)) && word_after(b, end + 1))
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

/// The Luhn check of a run's digits, separators left out: what
/// [`crate::detect::card::luhn`] gives on the digits alone, read in place (most runs checked
/// fail, so copying their digits out first was half the cost).
fn luhn_run(run: &[u8]) -> bool {
    let (mut sum, mut double) = (0u32, false);
    for &c in run.iter().rev() {
        if c.is_ascii_digit() {
            let v = u32::from(c - b'0') << u32::from(double);
            sum += if v > 9 { v - 9 } else { v };
            double = !double;
        }
    }
    sum % 10 == 0
}

/// Copies a run's digits (at most 19), separators left out; returns how many.
fn luhn_digits(run: &[u8], digits: &mut [u8; 19]) -> usize {
    let mut n = 0;
    // A plain loop: written with iterator adapters, the compiler unrolled
    // it into a thousand instructions per run.
    for &c in run {
        if c.is_ascii_digit() && n < digits.len() {
            digits[n] = c;
            n += 1;
        }
    }
    n
}

/// The fewest bytes a late card number spans.
const LEN: usize = 12;

fn quotes(chunk: &[u8; 64]) -> u64 {
    equal(chunk, b'"')
}

fn backslashes(chunk: &[u8; 64]) -> u64 {
    equal(chunk, b'\\')
}

mod stretch;
#[cfg(test)]
mod tests;
