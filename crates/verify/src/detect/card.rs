//! Payment card numbers: length, Luhn, and an issuer range that really exists.

/// One issuer range: the first `digits` digits lie in `lo..=hi`, and the card
/// has `min..=max` digits.
struct Range {
    digits: u32,
    lo: u32,
    hi: u32,
    min: usize,
    max: usize,
}

const fn r(digits: u32, lo: u32, hi: u32, min: usize, max: usize) -> Range {
    Range {
        digits,
        lo,
        hi,
        min,
        max,
    }
}

/// Issuer ranges of the card networks (IIN tables as the networks publish them).
const ISSUERS: &[Range] = &[
    r(1, 4, 4, 13, 19),           // Visa (13, 16, 19 in practice)
    r(2, 34, 34, 15, 15),         // American Express
    r(2, 37, 37, 15, 15),         // American Express
    r(2, 51, 55, 16, 16),         // Mastercard
    r(4, 2221, 2720, 16, 16),     // Mastercard 2-series
    r(3, 300, 305, 14, 19),       // Diners Club International
    r(4, 3095, 3095, 14, 19),     // Diners Club International
    r(2, 36, 36, 14, 19),         // Diners Club International
    r(2, 38, 39, 16, 19),         // Diners Club
    r(4, 3528, 3589, 16, 19),     // JCB
    r(4, 6011, 6011, 16, 19),     // Discover
    r(3, 644, 649, 16, 19),       // Discover
    r(2, 65, 65, 16, 19),         // Discover, RuPay
    r(2, 62, 62, 16, 19),         // UnionPay (Discover's 622126-622925 included)
    r(2, 81, 82, 16, 16),         // RuPay
    r(2, 60, 60, 16, 16),         // RuPay
    r(4, 2200, 2204, 16, 19),     // Mir
    r(4, 5018, 5020, 12, 19),     // Maestro, Dankort (5019)
    r(4, 5038, 5038, 12, 19),     // Maestro
    r(4, 5893, 5893, 12, 19),     // Maestro
    r(4, 6304, 6304, 12, 19),     // Maestro
    r(4, 6759, 6759, 12, 19),     // Maestro UK
    r(4, 6761, 6763, 12, 19),     // Maestro
    r(6, 506099, 506198, 16, 19), // Verve
    r(6, 650002, 650027, 16, 19), // Verve
    r(4, 9792, 9792, 16, 16),     // Troy
    r(1, 1, 1, 15, 15),           // UATP
];

/// The Luhn (mod 10) check over ASCII digits.
pub fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

fn prefix(digits: &[u8], n: u32) -> u32 {
    digits[..n as usize]
        .iter()
        .fold(0, |acc, d| acc * 10 + u32::from(d - b'0'))
}

/// Whether `digits` (ASCII digits only) is a plausible card number: 13 to 19
/// digits, a real issuer range for that length, and a valid Luhn digit.
pub fn is_card(digits: &[u8]) -> bool {
    let n = digits.len();
    if !(13..=19).contains(&n) {
        return false;
    }
    let issued = ISSUERS
        .iter()
        .any(|r| (r.min..=r.max).contains(&n) && (r.lo..=r.hi).contains(&prefix(digits, r.digits)));
    issued && luhn(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_test_numbers_of_the_networks() {
        for n in [
            "4111111111111111",
            "5555555555554444",
            "2223003122003222",
            "378282246310005",
            "6011111111111117",
            "3530111333300000",
            "30569309025904",
            "6759649826438453",
            "122000000000003",
        ] {
            assert!(is_card(n.as_bytes()), "{n}");
        }
    }

    #[test]
    fn refuses_bad_luhn_unknown_issuer_and_wrong_length() {
        for n in [
            "4111111111111112",
            "9111111111111111",
            "1696165445123",
            "2023100113040512",
            "411111111111",
            "41111111111111111111",
        ] {
            assert!(!is_card(n.as_bytes()), "{n}");
        }
    }
}
