//! US Social Security numbers, by the SSA's allocation rules.

/// Numbers that are well known to be invalid: advertised, used in samples, or
/// retired by the SSA.
const KNOWN_INVALID: &[&[u8; 9]] = &[
    b"078051120", // the Woolworth wallet card
    b"219099999", // SSA advertisement
    b"457555462", // published by its owner in an advertisement
    b"123456789",
];

/// Whether 9 ASCII digits form an SSN the SSA could have issued: area not
/// 000, 666 or 900-999; group not 00; serial not 0000; not one digit
/// repeated; not a well-known invalid number.
pub fn is_ssn(digits: &[u8]) -> bool {
    if digits.len() != 9 {
        return false;
    }
    let area = &digits[..3];
    if area == b"000" || area == b"666" || area[0] == b'9' {
        return false;
    }
    if &digits[3..5] == b"00" || &digits[5..] == b"0000" {
        return false;
    }
    if digits.iter().all(|d| *d == digits[0]) {
        return false;
    }
    !KNOWN_INVALID.iter().any(|k| k.as_slice() == digits)
}

#[cfg(test)]
mod tests {
    use super::is_ssn;

    #[test]
    fn ssa_rules() {
        assert!(is_ssn(b"078051123"));
        assert!(is_ssn(b"536221234"));
        for bad in [
            "000121234",
            "666121234",
            "912345678",
            "999121234",
            "536001234",
            "536120000",
            "111111111",
            "078051120",
            "123456789",
            "53612123",
        ] {
            assert!(!is_ssn(bad.as_bytes()), "{bad}");
        }
    }
}
