//! Telephone numbers: North American (NANP) numbers, and international
//! numbers written with `+` and a country calling code whose national number
//! is of a length and in a range that country uses.

/// Whether 10 ASCII digits form a NANP number: area code and exchange
/// `[2-9]XX`, neither an `N11` service code, and no `[2-9]9X` area (reserved
/// for expansion) or `37X`/`96X` area (reserved).
pub fn is_nanp(digits: &[u8]) -> bool {
    if digits.len() != 10 {
        return false;
    }
    let (area, exchange) = (&digits[..3], &digits[3..6]);
    let plausible = |c: &[u8]| c[0] >= b'2' && !(c[1] == b'1' && c[2] == b'1');
    plausible(area)
        && plausible(exchange)
        && area[1] != b'9'
        && !(area[0] == b'3' && area[1] == b'7')
        && !(area[0] == b'9' && area[1] == b'6')
}

/// The national numbering plans: for each country calling code and national
/// number length, a bit per three-digit prefix of the national number that
/// holds valid numbers (from libphonenumber's metadata, see `phone_plans`).
#[derive(Debug, Clone, Copy)]
struct Plan {
    cc: &'static str,
    len: usize,
    prefixes: [u64; 16],
}

/// The plans, parsed when the program is compiled: parsing them at run time
/// cost the first number checked two million instructions.
static PLANS: [Plan; super::phone_plans::PLANS.len()] = {
    let source = super::phone_plans::PLANS;
    let empty = Plan {
        cc: "",
        len: 0,
        prefixes: [0; 16],
    };
    let mut plans = [empty; super::phone_plans::PLANS.len()];
    let mut i = 0;
    while i < source.len() {
        let (cc, len, ranges) = source[i];
        plans[i] = Plan {
            cc,
            len,
            prefixes: prefix_bits(ranges.as_bytes()),
        };
        i += 1;
    }
    plans
};

/// The bits of `"001,112-117,..."`: one per three-digit prefix listed.
const fn prefix_bits(ranges: &[u8]) -> [u64; 16] {
    /// The number at `ranges[i..]`, and where it ends.
    const fn number(ranges: &[u8], mut i: usize) -> (usize, usize) {
        let mut n = 0;
        while i < ranges.len() && ranges[i].is_ascii_digit() {
            n = n * 10 + (ranges[i] - b'0') as usize;
            i += 1;
        }
        (n, i)
    }
    let mut bits = [0u64; 16];
    let mut i = 0;
    while i < ranges.len() {
        let (from, end) = number(ranges, i);
        let (to, end) = if end < ranges.len() && ranges[end] == b'-' {
            number(ranges, end + 1)
        } else {
            (from, end)
        };
        assert!(
            from <= to && to < 1000 && end > i,
            "a generated prefix range"
        );
        let mut p = from;
        while p <= to {
            bits[p / 64] |= 1 << (p % 64);
            p += 1;
        }
        // Past the comma.
        i = end + 1;
    }
    bits
}

/// For each country calling code, by the number its digits spell, the
/// span of its plans in [`PLANS`]: codes never start with 0, so that number
/// tells the code's length too ("7" is 7, "212" is 212).
const BY_CODE: [(u8, u8); 1000] = {
    // Read from the source list, in the same order as [`PLANS`].
    let source = super::phone_plans::PLANS;
    let mut table = [(0u8, 0u8); 1000];
    let mut i = 0;
    while i < source.len() {
        let code = source[i].0.as_bytes();
        assert!(!code.is_empty() && code.len() <= 3 && code[0] != b'0' && source.len() < 256);
        let mut n = 0;
        let mut k = 0;
        while k < code.len() {
            n = n * 10 + (code[k] - b'0') as usize;
            k += 1;
        }
        let (start, end) = table[n];
        // A code's plans are listed together.
        assert!(
            start == end || end as usize == i,
            "plans of one code together"
        );
        table[n] = if start == end {
            (i as u8, i as u8 + 1)
        } else {
            (start, end + 1)
        };
        i += 1;
    }
    table
};

/// Whether ASCII digits written after a `+` form a valid international
/// number: a country calling code, then a national number of a length that
/// country uses whose first three digits begin valid numbers there (not the
/// trunk prefix 0, which Italy alone keeps). `+1` follows the NANP rules.
pub fn is_international(digits: &[u8]) -> bool {
    if digits.first() == Some(&b'1') {
        return is_nanp(&digits[1..]);
    }
    plan_of(digits).is_some_and(|plan| in_plan(plan, &digits[plan.cc.len()..]))
}

/// The plan of the code that begins `digits` with their length: codes of
/// one to three digits looked up in [`BY_CODE`] rather than a walk over
/// every plan.
fn plan_of(digits: &[u8]) -> Option<&'static Plan> {
    // No code starts with 0 (which the number it spells would hide).
    if digits.first() == Some(&b'0') {
        return None;
    }
    let mut code = 0;
    for (k, d) in digits.iter().take(3).enumerate() {
        code = code * 10 + usize::from(d.wrapping_sub(b'0')).min(9);
        let (start, end) = BY_CODE[code];
        let national = digits.len() - (k + 1);
        let plans = &PLANS[usize::from(start)..usize::from(end)];
        if let Some(plan) = plans.iter().find(|p| p.len == national) {
            return Some(plan);
        }
    }
    None
}

/// Whether the national number `national` is in `plan`.
fn in_plan(plan: &Plan, national: &[u8]) -> bool {
    if national[0] == b'0' && plan.cc != "39" {
        return false;
    }
    let prefix = national[..3]
        .iter()
        .fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
    plan.prefixes[prefix / 64] & (1 << (prefix % 64)) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanp_rules() {
        assert!(is_nanp(b"4155550132"));
        assert!(is_nanp(b"2125551234"));
        for bad in [
            "1235550132",
            "4111550132",
            "4150550132",
            "9115550132",
            "415555013",
        ] {
            assert!(!is_nanp(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn international_lengths() {
        for ok in [
            "442071234567",
            "4930123456",
            "33142685300",
            "390667843430",
            "14155550132",
        ] {
            assert!(is_international(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "4420712345678",
            "4402071234567",
            "2421234567",
            "14111550132",
            "3314268530",
        ] {
            assert!(!is_international(bad.as_bytes()), "{bad}");
        }
    }

    /// Of the right length but outside what the country assigns.
    #[test]
    fn international_ranges() {
        for (ok, bad) in [
            ("442071234567", "442021234567"), // London 020 7, but no 020 2
            ("34912345678", "34903345678"),   // Madrid 91, but no 903
            ("33142685300", "33402685300"),   // Paris 1, but no 40
            ("919812345678", "911012345678"), // mobile 98, but no 101
        ] {
            assert!(is_international(ok.as_bytes()), "{ok}");
            assert!(!is_international(bad.as_bytes()), "{bad}");
        }
    }

    /// The plans parsed at compile time equal a plain parse of the source.
    #[test]
    fn compiled_plans_equal_a_plain_parse() {
        let source = crate::detect::phone_plans::PLANS;
        assert_eq!(PLANS.len(), source.len());
        for (plan, &(cc, len, ranges)) in PLANS.iter().zip(source) {
            let mut prefixes = [0u64; 16];
            for range in ranges.split(',') {
                let (from, to) = range.split_once('-').unwrap_or((range, range));
                let (from, to): (usize, usize) = (from.parse().unwrap(), to.parse().unwrap());
                for p in from..=to {
                    prefixes[p / 64] |= 1 << (p % 64);
                }
            }
            assert_eq!((plan.cc, plan.len, plan.prefixes), (cc, len, prefixes));
        }
    }

    /// Country codes are prefix-free, and one plan at most per code and length:
    /// so the first code that begins the digits is the only one.
    #[test]
    fn codes_are_prefix_free_and_plans_unique() {
        for (i, a) in PLANS.iter().enumerate() {
            for (j, b) in PLANS.iter().enumerate() {
                if a.cc != b.cc {
                    assert!(!b.cc.starts_with(a.cc), "{} {}", a.cc, b.cc);
                } else if i != j {
                    assert_ne!(a.len, b.len, "{}", a.cc);
                }
            }
        }
    }

    /// The plain walk over every plan that the code table replaces.
    fn plan_by_walk(digits: &[u8]) -> Option<&'static Plan> {
        PLANS
            .iter()
            .find(|p| digits.len() == p.cc.len() + p.len && digits.starts_with(p.cc.as_bytes()))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]
        /// Digits after the `+` of every length a chain can have, starting
        /// with a real code half the time.
        #[test]
        fn the_code_table_finds_the_plan_the_walk_finds(
            pick in 0..PLANS.len(),
            real in proptest::bool::ANY,
            digits in "[0-9]{0,19}",
        ) {
            let digits = if real {
                format!("{}{digits}", PLANS[pick].cc)
            } else {
                digits
            };
            let b = digits.as_bytes();
            let walk = plan_by_walk(b);
            proptest::prop_assert_eq!(plan_of(b).map(|p| (p.cc, p.len)), walk.map(|p| (p.cc, p.len)));
            if !b.is_empty() && b[0] != b'1' {
                let plain = walk.is_some_and(|p| in_plan(p, &b[p.cc.len()..]));
                proptest::prop_assert_eq!(is_international(b), plain);
            }
        }
    }

    #[test]
    fn the_generated_plans_parse_and_cover_every_country() {
        assert!(PLANS.len() > 100);
        for plan in PLANS.iter() {
            assert!(
                plan.prefixes.iter().any(|w| *w != 0),
                "{} {}",
                plan.cc,
                plan.len
            );
        }
    }
}
