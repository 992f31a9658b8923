//! A size in bytes, as settings write it: `64MiB`, `512KiB`, `1GiB`, `1000000`.

use std::fmt;
use std::str::FromStr;

/// A number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(u64);

const UNITS: [(&str, u64); 4] = [
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("B", 1),
];

impl ByteSize {
    /// `n` mebibytes.
    pub const fn mib(n: u64) -> ByteSize {
        ByteSize(n << 20)
    }
    /// `n` bytes.
    pub const fn bytes(n: u64) -> ByteSize {
        ByteSize(n)
    }
    /// The number of bytes.
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// A size that does not parse; the message says how to write one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a size; write a whole number with a unit, such as 64MiB, 512KiB or 1GiB (or bytes, such as 1048576)")]
pub struct ByteSizeError(String);

impl FromStr for ByteSize {
    type Err = ByteSizeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = (&text[..split], text[split..].trim());
        let refuse = || ByteSizeError(s.to_string());
        let n: u64 = digits.parse().map_err(|_| refuse())?;
        let factor = if unit.is_empty() {
            1
        } else {
            UNITS
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(unit))
                .map(|(_, f)| *f)
                .ok_or_else(refuse)?
        };
        n.checked_mul(factor).map(ByteSize).ok_or_else(refuse)
    }
}

impl fmt::Display for ByteSize {
    /// In the largest unit that divides it: `64 MiB`, `1500 B`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, factor) = UNITS
            .iter()
            .find(|(_, factor)| self.0 != 0 && self.0 % factor == 0)
            .copied()
            .unwrap_or(("B", 1));
        write!(f, "{} {name}", self.0 / factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units_and_print_back() {
        for (text, bytes, shown) in [
            ("64MiB", 64 << 20, "64 MiB"),
            ("512 kib", 512 << 10, "512 KiB"),
            ("1GiB", 1 << 30, "1 GiB"),
            ("1048576", 1 << 20, "1 MiB"),
            ("1500B", 1500, "1500 B"),
        ] {
            let size: ByteSize = text.parse().unwrap();
            assert_eq!(size.get(), bytes, "{text}");
            assert_eq!(size.to_string(), shown, "{text}");
        }
        for bad in ["", "MiB", "64MB", "-1", "1.5GiB", "99999999999999999999GiB"] {
            let e = bad.parse::<ByteSize>().unwrap_err().to_string();
            assert!(e.contains("64MiB"), "{bad}: {e}");
        }
    }
}
