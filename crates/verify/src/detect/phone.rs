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
struct Plan {
    cc: &'static str,
    len: usize,
    prefixes: [u64; 16],
}

fn plans() -> &'static [Plan] {
    static PLANS: std::sync::OnceLock<Vec<Plan>> = std::sync::OnceLock::new();
    PLANS.get_or_init(|| {
        super::phone_plans::PLANS
            .iter()
            .map(|&(cc, len, ranges)| {
                let mut prefixes = [0u64; 16];
                for range in ranges.split(',') {
                    let (from, to) = range.split_once('-').unwrap_or((range, range));
                    let (from, to): (usize, usize) = (
                        from.parse().expect("a generated prefix"),
                        to.parse().expect("a generated prefix"),
                    );
                    for p in from..=to {
                        prefixes[p / 64] |= 1 << (p % 64);
                    }
                }
                Plan { cc, len, prefixes }
            })
            .collect()
    })
}

/// Whether ASCII digits written after a `+` form a valid international
/// number: a country calling code, then a national number of a length that
/// country uses whose first three digits begin valid numbers there (not the
/// trunk prefix 0, which Italy alone keeps). `+1` follows the NANP rules.
pub fn is_international(digits: &[u8]) -> bool {
    if digits.first() == Some(&b'1') {
        return is_nanp(&digits[1..]);
    }
    // Country codes are prefix-free: one code at most begins the digits.
    let Some(plan) = plans()
        .iter()
        // The length first: it rules out most plans without a comparison of bytes.
        .find(|p| digits.len() == p.cc.len() + p.len && digits.starts_with(p.cc.as_bytes()))
    else {
        return false;
    };
    let national = &digits[plan.cc.len()..];
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

    #[test]
    fn the_generated_plans_parse_and_cover_every_country() {
        assert!(plans().len() > 100);
        for plan in plans() {
            assert!(
                plan.prefixes.iter().any(|w| *w != 0),
                "{} {}",
                plan.cc,
                plan.len
            );
        }
    }
}
