//! Telephone numbers: North American (NANP) numbers, and international
//! numbers written with `+` and a country calling code whose national number
//! has a length that country uses.

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

/// Country calling code and the lengths of national significant numbers in
/// that country (ITU-T E.164 national numbering plans).
const COUNTRIES: &[(&str, usize, usize)] = &[
    ("1", 10, 10),
    ("7", 10, 10),
    ("20", 8, 10),
    ("27", 9, 9),
    ("30", 10, 10),
    ("31", 9, 9),
    ("32", 8, 9),
    ("33", 9, 9),
    ("34", 9, 9),
    ("36", 8, 9),
    ("39", 6, 11),
    ("40", 9, 9),
    ("41", 9, 9),
    ("43", 7, 13),
    ("44", 9, 10),
    ("45", 8, 8),
    ("46", 7, 10),
    ("47", 8, 8),
    ("48", 9, 9),
    ("49", 6, 12),
    ("51", 8, 9),
    ("52", 10, 10),
    ("53", 8, 8),
    ("54", 10, 11),
    ("55", 10, 11),
    ("56", 9, 9),
    ("57", 10, 10),
    ("58", 10, 10),
    ("60", 9, 10),
    ("61", 9, 9),
    ("62", 9, 12),
    ("63", 10, 10),
    ("64", 8, 10),
    ("65", 8, 8),
    ("66", 9, 9),
    ("81", 9, 10),
    ("82", 8, 10),
    ("84", 9, 10),
    ("86", 10, 11),
    ("90", 10, 10),
    ("91", 10, 10),
    ("92", 9, 10),
    ("93", 9, 9),
    ("94", 9, 9),
    ("95", 8, 10),
    ("98", 10, 10),
    ("212", 9, 9),
    ("213", 9, 9),
    ("216", 8, 8),
    ("234", 10, 10),
    ("254", 9, 9),
    ("351", 9, 9),
    ("352", 6, 11),
    ("353", 7, 9),
    ("354", 7, 7),
    ("356", 8, 8),
    ("357", 8, 8),
    ("358", 6, 11),
    ("359", 8, 9),
    ("370", 8, 8),
    ("371", 8, 8),
    ("372", 7, 8),
    ("380", 9, 9),
    ("381", 8, 9),
    ("385", 8, 9),
    ("386", 8, 8),
    ("420", 9, 9),
    ("421", 9, 9),
    ("852", 8, 8),
    ("886", 9, 9),
    ("966", 9, 9),
    ("971", 8, 9),
    ("972", 8, 9),
    ("974", 8, 8),
];

/// Whether ASCII digits written after a `+` form a valid international
/// number: a known country code followed by a national number of a length
/// that country uses, not starting with the trunk prefix 0 (Italy keeps its 0).
pub fn is_international(digits: &[u8]) -> bool {
    // Country codes are prefix-free, so at most one entry matches.
    let Some((cc, min, max)) = COUNTRIES
        .iter()
        .find(|(cc, _, _)| digits.starts_with(cc.as_bytes()))
    else {
        return false;
    };
    let national = &digits[cc.len()..];
    if *cc == "1" {
        return is_nanp(national);
    }
    (*min..=*max).contains(&national.len()) && (national.first() != Some(&b'0') || *cc == "39")
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
}
