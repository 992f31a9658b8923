//! Finding PII in free text: candidates are cut out of the text by three
//! passes (emails around `@`, digit groups with their separators and IBAN
//! country prefixes, numbers spoken as words), validated by [`crate::detect`],
//! and overlaps resolved to the single most specific finding.

mod classes;
mod spoken;
mod written;

use crate::detect::email;
use crate::pii::{Finding, PiiType};

/// Finds every piece of PII in `text`, sorted by position, never overlapping.
/// Spans are UTF-8 byte offsets on character boundaries.
pub fn scan(text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    Scanner::default().scan_into(text, &mut out);
    out
}

/// A reusable scanner: keeps its buffers between texts so that scanning many
/// values allocates nothing once warm.
#[derive(Debug, Default)]
pub struct Scanner {
    units: Vec<Unit>,
    digits: Vec<u8>,
    words: Vec<spoken::Word>,
    /// The classes of the text's bytes, 64 at a time.
    chunks: Vec<classes::Classes>,
    raw: Vec<Finding>,
}

/// A run of digits in the text (written digits, or one spoken token) and the
/// separator that precedes it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unit {
    /// Byte span of the unit in the text.
    start: usize,
    end: usize,
    /// Span of its digits in the scanner's digit buffer.
    d0: usize,
    d1: usize,
    sep: Sep,
}

impl Unit {
    fn len(&self) -> usize {
        self.d1 - self.d0
    }
}

/// How a written digit group is joined to the previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sep {
    /// First group of a chain.
    None,
    Space,
    Dash,
    Dot,
    /// `(` or ` (`: opens an area code.
    Open,
    /// `)` or `) `: closes an area code.
    Close,
}

impl Scanner {
    /// Appends the findings of `text` to `out` (cleared first), sorted by
    /// position and never overlapping.
    pub fn scan_into(&mut self, text: &str, out: &mut Vec<Finding>) {
        out.clear();
        self.raw.clear();
        let bytes = text.as_bytes();
        // Every pass reads the bytes' classes, found here once.
        classes::Classes::of_text(bytes, &mut self.chunks);
        if self.chunks.iter().any(|c| c.at != 0) {
            let ats = classes::positions(&self.chunks, |c| c.at);
            find_emails(bytes, ats, &mut self.raw);
        }
        // The spoken pass reads every word; the written pass needs digits
        // and starts at the first word holding one.
        let first_digit = spoken::find(
            bytes,
            &self.chunks,
            &mut self.units,
            &mut self.digits,
            &mut self.words,
            &mut self.raw,
        );
        if let Some(from) = first_digit {
            written::find(
                bytes,
                from,
                classes::DigitBits(&self.chunks),
                &mut self.units,
                &mut self.digits,
                &mut self.raw,
            );
        }
        resolve(&mut self.raw, out);
    }
}

/// Whether a byte continues a word: a glued letter or digit means the digits
/// around it belong to something else (an order code, a product name).
pub(crate) const fn is_word_byte(b: u8) -> bool {
    WORD_BYTES[b as usize]
}

const WORD_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c >= 0x80 || c == b'_';
        b += 1;
    }
    table
};

/// Records the addresses around the `@`s at `ats`.
fn find_emails(b: &[u8], ats: impl Iterator<Item = usize>, raw: &mut Vec<Finding>) {
    for at in ats {
        let mut left = at;
        while left > 0 && email::is_local_char(b[left - 1]) && at - left < 64 {
            left -= 1;
        }
        while left < at && b[left] == b'.' {
            left += 1;
        }
        let mut right = at + 1;
        while right < b.len() && email::is_domain_char(b[right]) {
            right += 1;
        }
        // A sentence may end right after the address.
        while right > at + 1 && matches!(b[right - 1], b'.' | b'-') {
            right -= 1;
        }
        if left < at && email::is_mail_domain(&b[at + 1..right]) {
            raw.push(Finding {
                kind: PiiType::Email,
                start: left,
                end: right,
            });
        }
    }
}

/// Keeps, among overlapping candidates, the longest (then the most specific),
/// and sorts the survivors by position.
fn resolve(raw: &mut [Finding], out: &mut Vec<Finding>) {
    // Most texts hold one finding or none: nothing to choose or sort.
    if raw.len() <= 1 {
        out.extend_from_slice(raw);
        return;
    }
    raw.sort_unstable_by_key(|f| (usize::MAX - f.len(), f.kind.specificity(), f.start));
    for f in raw.iter() {
        if !out.iter().any(|k| f.start < k.end && k.start < f.end) {
            out.push(*f);
        }
    }
    out.sort_unstable_by_key(|f| f.start);
}

#[cfg(test)]
mod tests;
