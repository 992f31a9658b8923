//! International bank account numbers: country, length, ISO 13616 mod-97.

/// IBAN length per country (the SWIFT IBAN registry).
const LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BI", 27),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DJ", 27),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FK", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HN", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"LY", 25),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MN", 20),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NI", 28),
    (b"NL", 18),
    (b"NO", 15),
    (b"OM", 23),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"RU", 33),
    (b"SA", 24),
    (b"SC", 31),
    (b"SD", 18),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"SO", 23),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
    (b"YE", 30),
];

/// [`LENGTHS`] by country code, `(first - 'A') * 26 + (second - 'A')`,
/// 0 where no IBAN is issued: one look-up instead of a walk.
const BY_COUNTRY: [u8; 26 * 26] = {
    let mut table = [0u8; 26 * 26];
    let mut i = 0;
    while i < LENGTHS.len() {
        let (c, n) = LENGTHS[i];
        assert!(c[0].is_ascii_uppercase() && c[1].is_ascii_uppercase() && n < 256);
        table[(c[0] - b'A') as usize * 26 + (c[1] - b'A') as usize] = n as u8;
        i += 1;
    }
    table
};

/// The IBAN length of a country, if it issues IBANs.
pub fn length(country: &[u8]) -> Option<usize> {
    let &[a, b] = country else { return None };
    if !a.is_ascii_uppercase() || !b.is_ascii_uppercase() {
        return None;
    }
    match BY_COUNTRY[usize::from(a - b'A') * 26 + usize::from(b - b'A')] {
        0 => None,
        n => Some(usize::from(n)),
    }
}

/// Whether compact IBAN characters (uppercase letters and digits, no
/// separators) form a valid IBAN: known country, its length, mod 97 == 1.
pub fn is_iban(chars: &[u8]) -> bool {
    if chars.len() < 4 || length(&chars[..2]) != Some(chars.len()) {
        return false;
    }
    if !chars[2].is_ascii_digit() || !chars[3].is_ascii_digit() {
        return false;
    }
    // Move the first four characters to the end; letters count as 10..35.
    let rem =
        mod97(chars[4..].iter().copied(), 0).and_then(|rem| mod97(chars[..4].iter().copied(), rem));
    rem == Some(1)
}

/// The remainder mod 97 of the number `rem` followed by `chars` (digits, or
/// letters as 10..35), or `None` at any other byte. Reduced only when the
/// next two digits could overflow: a compare per character rather than a
/// division.
fn mod97(chars: impl Iterator<Item = u8>, rem: u64) -> Option<u64> {
    let mut rem = rem;
    for c in chars {
        rem = match c {
            b'0'..=b'9' => rem * 10 + u64::from(c - b'0'),
            b'A'..=b'Z' => rem * 100 + u64::from(c - b'A') + 10,
            _ => return None,
        };
        if rem >= 1 << 56 {
            rem %= 97;
        }
    }
    Some(rem % 97)
}

/// [`is_iban`] reducing after every character, as ISO 13616 states it: the
/// reference for the fast form.
#[cfg(test)]
fn is_iban_plain(chars: &[u8]) -> bool {
    if chars.len() < 4 || length(&chars[..2]) != Some(chars.len()) {
        return false;
    }
    if !chars[2].is_ascii_digit() || !chars[3].is_ascii_digit() {
        return false;
    }
    let mut rem = 0u32;
    for &c in chars[4..].iter().chain(&chars[..4]) {
        rem = match c {
            b'0'..=b'9' => (rem * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => (rem * 100 + u32::from(c - b'A') + 10) % 97,
            _ => return false,
        };
    }
    rem == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table answers as the list it is built from, for any two bytes.
    #[test]
    fn lengths_by_table_equal_the_list() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let walk = LENGTHS.iter().find(|(c, _)| **c == [a, b]).map(|(_, n)| *n);
                assert_eq!(length(&[a, b]), walk, "{a} {b}");
            }
        }
        assert_eq!(length(b"DEX"), None);
        assert_eq!(length(b"D"), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// Real countries with their lengths, letters and digits, and the
        /// check digits made right a fair part of the time.
        #[test]
        fn the_fast_check_equals_the_plain_one(
            pick in 0..LENGTHS.len(),
            body in "[0-9A-Z]{28,34}",
            extra in 0..3usize,
            bad in proptest::option::of((0..34usize, proptest::sample::select(vec![b' ', b'a', b'-']))),
        ) {
            let (country, len) = LENGTHS[pick];
            let mut chars = country.to_vec();
            chars.extend(body.bytes());
            // One short, the country's length, or one long.
            chars.truncate(len + extra - 1);
            if let Some((at, byte)) = bad {
                if at < chars.len() {
                    chars[at] = byte;
                }
            }
            proptest::prop_assert_eq!(is_iban(&chars), is_iban_plain(&chars));
            if chars.len() >= 4 {
                for check in 0..100u8 {
                    chars[2] = b'0' + check / 10;
                    chars[3] = b'0' + check % 10;
                    proptest::prop_assert_eq!(is_iban(&chars), is_iban_plain(&chars), "{:?}", chars);
                }
            }
        }
    }

    #[test]
    fn mod97_and_length() {
        assert!(is_iban(b"GB29NWBK60161331926819"));
        assert!(is_iban(b"DE89370400440532013000"));
        assert!(!is_iban(b"GB29NWBK60161331926818"));
        assert!(!is_iban(b"GB29NWBK6016133192681"));
        assert!(!is_iban(b"XX29NWBK60161331926819"));
        assert!(!is_iban(b"GB29NWBK6016133192681a"));
    }
}
