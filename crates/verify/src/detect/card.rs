//! Payment card numbers (ISO/IEC 7812): a length the brand issues, an issuer
//! range (IIN) that really exists, a valid Luhn digit, and, when written in
//! groups, a grouping that cards are printed with.

/// One card brand: the IIN ranges it issues and the lengths of its numbers.
struct Brand {
    /// Ranges of leading digits, inclusive; both ends have the same number
    /// of digits, which is how many leading digits the range looks at.
    iins: &'static [(u32, u32)],
    /// Lengths its numbers have, in digits.
    lengths: &'static [usize],
}

const fn b(iins: &'static [(u32, u32)], lengths: &'static [usize]) -> Brand {
    Brand { iins, lengths }
}

const ANY_12_19: &[usize] = &[12, 13, 14, 15, 16, 17, 18, 19];
const FROM_16: &[usize] = &[16, 17, 18, 19];

/// The brands as their networks publish them (ISO/IEC 7812 register as
/// summarised by the brands' issuer guides).
const BRANDS: &[Brand] = &[
    b(&[(4, 4)], &[13, 16, 19]),         // Visa (Visa Electron, Elo's 4xxxxx)
    b(&[(34, 34), (37, 37)], &[15]),     // American Express
    b(&[(51, 55), (2221, 2720)], &[16]), // Mastercard
    b(&[(36, 36), (300, 305)], &[14, 15, 16, 17, 18, 19]), // Diners Club International
    b(&[(3095, 3095), (38, 39)], FROM_16), // Diners Club (Discover network)
    b(&[(3528, 3589)], FROM_16),         // JCB
    b(&[(6011, 6011), (644, 649), (65, 65)], FROM_16), // Discover
    b(&[(62, 62)], FROM_16),             // UnionPay
    b(
        &[
            (60, 60),
            (65, 65),
            (81, 82),
            (508, 508),
            (353, 353),
            (356, 356),
        ],
        &[16],
    ), // RuPay
    b(&[(2200, 2204)], FROM_16),         // Mir
    b(
        &[
            (5018, 5018),
            (5020, 5020),
            (5038, 5038),
            (5893, 5893),
            (6304, 6304),
            (6759, 6759),
            (6761, 6763),
            (676770, 676770),
            (676774, 676774),
        ],
        ANY_12_19,
    ), // Maestro, Maestro UK
    b(&[(5019, 5019), (4571, 4571)], &[16]), // Dankort
    b(&[(9792, 9792), (65, 65)], &[16]), // Troy
    b(
        &[
            (401178, 401179),
            (431274, 431274),
            (438935, 438935),
            (451416, 451416),
            (457393, 457393),
            (457631, 457632),
            (504175, 504175),
            (506699, 506778),
            (509000, 509999),
            (627780, 627780),
            (636297, 636297),
            (636368, 636368),
            (650031, 650033),
            (650035, 650051),
            (650405, 650439),
            (650485, 650538),
            (650541, 650598),
            (650700, 650718),
            (650720, 650727),
            (650901, 650978),
            (651652, 651679),
            (655000, 655019),
            (655021, 655058),
        ],
        &[16],
    ), // Elo
    b(
        &[(506099, 506198), (507865, 507964), (650002, 650027)],
        &[16, 18, 19],
    ), // Verve
    b(&[(636, 636)], FROM_16),           // InterPayment
    b(&[(637, 639)], &[16]),             // InstaPayment
    b(&[(1, 1)], &[15]),                 // UATP
];

/// The groupings cards are printed with, by length: groups of four with a
/// shorter last group (4-4-4, 4-4-4-4, 4-4-4-4-2, 4-4-4-4-3, ...), Diners
/// Club's 4-6-4, American Express's 4-6-5, UATP's 4-5-6, the old 13-digit
/// Visa's 4-3-3-3, Maestro's 4-4-5 and UnionPay's 6-13. A number written
/// in one group (no separators) is always allowed.
const GROUPINGS: &[&[usize]] = &[
    &[4, 6, 4],
    &[4, 6, 5],
    &[4, 5, 6],
    &[4, 3, 3, 3],
    &[4, 4, 5],
    &[6, 13],
];

/// The Luhn (mod 10) check over ASCII digits.
pub fn luhn(digits: &[u8]) -> bool {
    // Every second digit from the right, doubled and its digits summed.
    const DOUBLED: [u8; 10] = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];
    let mut sum = 0u32;
    let mut pairs = digits.rchunks_exact(2);
    for pair in &mut pairs {
        sum += u32::from(pair[1] - b'0') + u32::from(DOUBLED[usize::from(pair[0] - b'0')]);
    }
    if let [first] = pairs.remainder() {
        sum += u32::from(first - b'0');
    }
    sum % 10 == 0
}

/// How many decimal digits `v` has (IIN ranges: up to six).
const fn width(v: u32) -> usize {
    match v {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        1000..=9999 => 4,
        10000..=99999 => 5,
        _ => 6,
    }
}

/// For each number of two leading digits, the brands (a bit each, by their
/// place in [`BRANDS`]) with an issuer range that can begin with them: most
/// numbers then meet no brand, the others one or two, not all nineteen.
const BRANDS_BY_LEADING: [u32; 100] = {
    assert!(BRANDS.len() <= 32);
    let mut table = [0u32; 100];
    let mut i = 0;
    while i < BRANDS.len() {
        let mut r = 0;
        while r < BRANDS[i].iins.len() {
            let (lo, hi) = BRANDS[i].iins[r];
            // The two-digit numbers the range's numbers begin with.
            let (from, to) = match width(lo) {
                1 => (lo * 10, hi * 10 + 9),
                w => (lo / 10u32.pow(w as u32 - 2), hi / 10u32.pow(w as u32 - 2)),
            };
            let mut p = from;
            while p <= to {
                table[p as usize] |= 1 << i;
                p += 1;
            }
            r += 1;
        }
        i += 1;
    }
    table
};

/// For each length, the brands (a bit each) that issue numbers of it.
const BRANDS_BY_LENGTH: [u32; 20] = {
    let mut table = [0u32; 20];
    let mut i = 0;
    while i < BRANDS.len() {
        let mut k = 0;
        while k < BRANDS[i].lengths.len() {
            table[BRANDS[i].lengths[k]] |= 1 << i;
            k += 1;
        }
        i += 1;
    }
    table
};

/// Whether `digits` (ASCII digits only) is a card number: 12 to 19 digits,
/// an issuer range that issues that length, and a valid Luhn digit.
pub fn is_card(digits: &[u8]) -> bool {
    let n = digits.len();
    if !(12..=19).contains(&n) {
        return false;
    }
    // The brands that issue this length and have a range starting with
    // these two digits: a look-up that rules out most digit runs at once.
    let leading = usize::from(digits[0] - b'0') * 10 + usize::from(digits[1] - b'0');
    let mut brands = BRANDS_BY_LEADING[leading] & BRANDS_BY_LENGTH[n];
    if brands == 0 || !luhn(digits) {
        return false;
    }
    let of = leading_numbers(digits);
    while brands != 0 {
        let brand = &BRANDS[brands.trailing_zeros() as usize];
        if (brand.iins.iter()).any(|&(lo, hi)| (lo..=hi).contains(&of[width(lo)])) {
            return true;
        }
        brands &= brands - 1;
    }
    false
}

/// `leading[w]`: the number the first `w` digits spell, for each width an
/// IIN range can have.
fn leading_numbers(digits: &[u8]) -> [u32; 7] {
    let mut leading = [0u32; 7];
    for w in 1..leading.len() {
        leading[w] = leading[w - 1] * 10 + u32::from(digits[w - 1] - b'0');
    }
    leading
}

/// [`is_card`] walking every brand: the reference the tables must equal.
#[cfg(test)]
fn is_card_by_walk(digits: &[u8]) -> bool {
    let n = digits.len();
    if !(12..=19).contains(&n) || !luhn_plain(digits) {
        return false;
    }
    let leading = leading_numbers(digits);
    BRANDS.iter().any(|brand| {
        brand.lengths.contains(&n)
            && brand
                .iins
                .iter()
                .any(|&(lo, hi)| (lo..=hi).contains(&leading[width(lo)]))
    })
}

/// The Luhn check digit by digit, as the standard states it.
#[cfg(test)]
fn luhn_plain(digits: &[u8]) -> bool {
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

/// Whether digit groups of these lengths are a grouping cards are printed
/// with (see [`GROUPINGS`]); one group is a number written without separators.
pub fn is_printed_grouping(groups: &[usize]) -> bool {
    let total: usize = groups.iter().sum();
    let fours = groups.len() == total.div_ceil(4)
        && groups.iter().enumerate().all(|(i, &g)| {
            if i + 1 < groups.len() {
                g == 4
            } else {
                (1..=4).contains(&g)
            }
        });
    groups.len() == 1 || fours || GROUPINGS.contains(&groups)
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
            "501800000009",
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
            "411111111113",
            "41111111111111111111",
            "41111111111113",
        ] {
            assert!(!is_card(n.as_bytes()), "{n}");
        }
    }

    /// `is_card` reads at most six leading digits: no range is wider, and
    /// both ends of each have the same width.
    #[test]
    fn issuer_ranges_are_one_to_six_digits() {
        for brand in BRANDS {
            for &(lo, hi) in brand.iins {
                assert!((1..=999_999).contains(&lo) && lo <= hi, "{lo}-{hi}");
                assert_eq!(width(lo), lo.to_string().len(), "{lo}");
                assert_eq!(width(hi), width(lo), "{lo}-{hi}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20000))]
        /// Digits of every length around the card lengths, beginning with a
        /// real issuer range's first digits half the time, their Luhn digit
        /// made right half the time.
        #[test]
        fn the_brand_tables_accept_what_the_walk_accepts(
            brand in 0..BRANDS.len(),
            range in 0..32usize,
            real in proptest::bool::ANY,
            fix_luhn in proptest::bool::ANY,
            body in "[0-9]{0,20}",
        ) {
            let mut digits = body.into_bytes();
            if real {
                let iins = BRANDS[brand].iins;
                let (lo, hi) = iins[range % iins.len()];
                let start = (lo + (range as u32) % (hi - lo + 1)).to_string();
                digits.splice(0..0, start.bytes());
                digits.truncate(20);
            }
            if fix_luhn && !digits.is_empty() {
                let last = digits.len() - 1;
                for d in b'0'..=b'9' {
                    digits[last] = d;
                    if luhn_plain(&digits) {
                        break;
                    }
                }
            }
            proptest::prop_assert_eq!(luhn(&digits), luhn_plain(&digits));
            proptest::prop_assert_eq!(is_card(&digits), is_card_by_walk(&digits), "{:?}", digits);
        }
    }

    #[test]
    fn printed_groupings() {
        for g in [
            &[16][..],
            &[4, 4, 4, 4],
            &[4, 4, 4, 4, 3],
            &[4, 6, 5],
            &[4, 6, 4],
            &[4, 4, 4],
        ] {
            assert!(is_printed_grouping(g), "{g:?}");
        }
        for g in [
            &[8, 8][..],
            &[4, 4, 8],
            &[3, 3, 3, 3, 4],
            &[4, 4, 4, 3, 1],
            &[2, 4, 4, 4, 2],
        ] {
            assert!(!is_printed_grouping(g), "{g:?}");
        }
    }
}
