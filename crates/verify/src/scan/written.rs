//! Numbers written with digits: chains of digit groups joined by single
//! separators ("4111 1111 1111 1111", "(415) 555-0132", "+44 20 7123 4567"),
//! and IBANs, which start with two capital letters.

use super::classes::DigitBits;
use super::{is_word_byte, Sep, Unit};
use crate::detect::{card, iban, phone, ssn};
use crate::pii::{Finding, PiiType};

/// Longest chain considered; longer ones are cut (no PII spans more groups).
const MAX_GROUPS: usize = 40;

/// Fewest digits a window is validated with ([`windows`]).
const MIN_DIGITS: usize = 8;

/// Records written numbers and IBANs found from byte `from` on.
pub(super) fn find(
    b: &[u8],
    from: usize,
    digit_bits: DigitBits,
    units: &mut Vec<Unit>,
    digits: &mut Vec<u8>,
    raw: &mut Vec<Finding>,
) {
    let mut i = from;
    while i < b.len() {
        // Straight to the next digit.
        match digit_bits.next(i) {
            Some(at) => i = at,
            None => break,
        }
        if i >= 2 && b[i - 2].is_ascii_uppercase() && b[i - 1].is_ascii_uppercase() {
            match find_iban(b, i - 2) {
                Some((f, true)) => {
                    raw.push(f);
                    i = f.end;
                    continue;
                }
                // A mistyped IBAN: its digits are no card or phone either.
                Some((f, false)) => {
                    i = f.end;
                    continue;
                }
                None => {}
            }
        }
        i = chain(b, i, digit_bits, units, digits, raw);
    }
}

/// Reads the chain of digit groups that starts at `i`, records what it holds,
/// and returns where scanning resumes.
fn chain(
    b: &[u8],
    i: usize,
    digit_bits: DigitBits,
    units: &mut Vec<Unit>,
    digits: &mut Vec<u8>,
    raw: &mut Vec<Finding>,
) -> usize {
    units.clear();
    digits.clear();
    let (mut prefix_start, mut plus, mut open) = (i, false, false);
    if i > 0 && b[i - 1] == b'+' {
        (prefix_start, plus) = (i - 1, true);
    } else if i > 0 && b[i - 1] == b'(' {
        (prefix_start, open) = (i - 1, true);
    }
    let mut tainted = prefix_start > 0 && is_word_byte(b[prefix_start - 1]);
    let (mut pos, mut sep, mut count) = (i, Sep::None, 0);
    loop {
        let start = pos;
        pos = digit_bits.run_end(pos);
        let d0 = count;
        count += pos - start;
        units.push(Unit {
            start,
            end: pos,
            d0,
            d1: count,
            sep,
        });
        match separator(b, pos) {
            Some((next, len)) if units.len() < MAX_GROUPS => {
                sep = next;
                pos += len;
            }
            _ => break,
        }
    }
    tainted |= pos < b.len() && is_word_byte(b[pos]);
    // No PII has fewer digits: most chains (years, amounts, times) end
    // here, their digits never copied.
    if !tainted && count >= MIN_DIGITS {
        for u in units.iter() {
            digits.extend_from_slice(&b[u.start..u.end]);
        }
        windows(units, digits, prefix_start, plus, open, raw);
    }
    pos
}

/// The separator at `pos` if a digit follows it, and its length.
fn separator(b: &[u8], pos: usize) -> Option<(Sep, usize)> {
    let at = |k: usize| b.get(pos + k).copied().unwrap_or(0);
    let (sep, len) = match (at(0), at(1)) {
        (b' ', b'(') => (Sep::Open, 2),
        (b')', b' ') => (Sep::Close, 2),
        (b' ', _) => (Sep::Space, 1),
        (b'-', _) => (Sep::Dash, 1),
        (b'.', _) => (Sep::Dot, 1),
        (b'(', _) => (Sep::Open, 1),
        (b')', _) => (Sep::Close, 1),
        _ => return None,
    };
    at(len).is_ascii_digit().then_some((sep, len))
}

/// Tries every window of consecutive groups, longest first from each start,
/// and records the first that validates.
fn windows(
    units: &[Unit],
    digits: &[u8],
    prefix_start: usize,
    plus: bool,
    open: bool,
    raw: &mut Vec<Finding>,
) {
    // Units before `free` belong to a finding already.
    let (mut a, mut free) = (0, 0);
    while a < units.len() {
        let mut hit = None;
        for z in (a + 1..=units.len()).rev() {
            let ds = &digits[units[a].d0..units[z - 1].d1];
            if ds.len() > 19 {
                continue;
            }
            if ds.len() < MIN_DIGITS {
                break;
            }
            // A grouping that carries on past the window in the same style
            // is one longer number (a tracking number), not PII inside it.
            let carries_on = z - a >= 2
                && ((a > free && units[a].sep == units[a + 1].sep)
                    || (z < units.len() && units[z].sep == units[z - 1].sep));
            if carries_on {
                continue;
            }
            let first = a == 0;
            if let Some(kind) = classify(&units[a..z], ds, first && plus, first && open) {
                hit = Some((kind, z));
                break;
            }
        }
        match hit {
            Some((kind, z)) => {
                let prefixed = a == 0 && kind == PiiType::Phone;
                raw.push(Finding {
                    kind,
                    start: if prefixed {
                        prefix_start
                    } else {
                        units[a].start
                    },
                    end: units[z - 1].end,
                });
                a = z;
                free = z;
            }
            None => a += 1,
        }
    }
}

fn classify(units: &[Unit], ds: &[u8], plus: bool, open: bool) -> Option<PiiType> {
    let seps = || units[1..].iter().map(|u| u.sep);
    if plus {
        return phone::is_international(ds).then_some(PiiType::Phone);
    }
    let uniform = |allowed: &[Sep]| {
        let first = units.get(1).map_or(Sep::None, |u| u.sep);
        (units.len() == 1 || allowed.contains(&first)) && seps().all(|s| s == first)
    };
    if (12..=19).contains(&ds.len())
        && uniform(&[Sep::Space, Sep::Dash, Sep::Dot])
        && card_shape(units)
        && card::is_card(ds)
    {
        return Some(PiiType::CreditCard);
    }
    if ds.len() == 9
        && ssn_shape(units)
        && uniform(&[Sep::Space, Sep::Dash, Sep::Dot])
        && ssn::is_ssn(ds)
    {
        return Some(PiiType::Ssn);
    }
    if nanp_shape(units, open) {
        let national = if ds.len() == 11 && ds[0] == b'1' {
            &ds[1..]
        } else {
            ds
        };
        if phone::is_nanp(national) {
            return Some(PiiType::Phone);
        }
    }
    None
}

/// A grouping cards are printed with (one separator throughout, checked by the caller).
fn card_shape(units: &[Unit]) -> bool {
    let mut lens = [0usize; 5];
    if units.len() > lens.len() {
        return false;
    }
    for (len, u) in lens.iter_mut().zip(units) {
        *len = u.len();
    }
    card::is_printed_grouping(&lens[..units.len()])
}

/// `123456789` or `123-45-6789` (one separator throughout, checked by the caller).
fn ssn_shape(units: &[Unit]) -> bool {
    let lens: [usize; 3] = match units {
        [u] => return u.len() == 9,
        [a, b, c] => [a.len(), b.len(), c.len()],
        _ => return false,
    };
    lens == [3, 2, 4]
}

/// `4155550132`, `415-555-0132`, `(415) 555-0132`, `1 415 555 0132`, `1 (415) 555-0132`.
fn nanp_shape(units: &[Unit], open: bool) -> bool {
    let plain = |s: Sep| matches!(s, Sep::Space | Sep::Dash | Sep::Dot);
    // A leading country code 1, glued or separated.
    let rest = match units {
        [u] => return u.len() == 10 || u.len() == 11,
        [one, rest @ ..] if one.len() == 1 && rest.len() == 3 => rest,
        _ => units,
    };
    let open = open || rest.first().is_some_and(|u| u.sep == Sep::Open);
    if rest.len() < units.len() && !(open || plain(rest[0].sep)) {
        return false;
    }
    let [area, exchange, line] = rest else {
        return false;
    };
    let paren_form = open && exchange.sep == Sep::Close;
    let area_sep_ok = paren_form || plain(exchange.sep);
    area.len() == 3 && exchange.len() == 3 && line.len() == 4 && area_sep_ok && plain(line.sep)
}

/// An IBAN starting at `at` (two capital letters, then digits): groups of
/// capitals and digits joined by single spaces or dashes, exactly the
/// country's length; with whether it passes the mod-97 check.
fn find_iban(b: &[u8], at: usize) -> Option<(Finding, bool)> {
    if at > 0 && is_word_byte(b[at - 1]) {
        return None;
    }
    let want = iban::length(&b[at..at + 2])?;
    let mut compact = [0u8; 34];
    let (mut n, mut pos) = (0, at);
    while n < want {
        let c = *b.get(pos)?;
        if c.is_ascii_uppercase() || c.is_ascii_digit() {
            compact[n] = c;
            n += 1;
            pos += 1;
        } else if (c == b' ' || c == b'-')
            && n >= 4
            && pos > at
            && b.get(pos + 1).is_some_and(|c| c.is_ascii_alphanumeric())
        {
            pos += 1;
        } else {
            return None;
        }
    }
    if pos < b.len() && is_word_byte(b[pos]) {
        return None;
    }
    let finding = Finding {
        kind: PiiType::Iban,
        start: at,
        end: pos,
    };
    Some((finding, iban::is_iban(&compact[..n])))
}
