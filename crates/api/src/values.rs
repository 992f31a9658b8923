//! Small values that parse instead of validate.

use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Why a value was refused; the message says what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

/// An instant written as RFC 3339 in UTC with the `Z` suffix and at most nine
/// fractional digits, as the contract requires of every timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The instant `at` (any instant is representable).
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Timestamp(at)
    }
    /// The current instant.
    pub fn now() -> Self {
        Timestamp(Utc::now())
    }
    /// The instant as a `chrono` value.
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }
    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(&self) -> i64 {
        self.0.timestamp_millis()
    }
}

impl FromStr for Timestamp {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        let refuse = |why: &str| {
            ValueError(format!(
                "`{s}` is not a UTC timestamp ({why}); write RFC 3339 with a Z suffix, \
                 such as 2023-10-01T00:00:00Z or 2023-10-01T00:00:00.000Z"
            ))
        };
        // Every character of the form is ASCII; checking first keeps the
        // byte positions below on character boundaries.
        if !s.is_ascii() {
            return Err(refuse("only ASCII digits, -, :, T, . and Z belong in it"));
        }
        let b = s.as_bytes();
        if !s.ends_with('Z') {
            return Err(refuse("it must end in Z, no other offset"));
        }
        // YYYY-MM-DDTHH:MM:SS is 19 bytes, then an optional fraction, then Z.
        if b.len() < 20 || b[10] != b'T' {
            return Err(refuse("expected YYYY-MM-DDTHH:MM:SS"));
        }
        let fraction = &s[19..s.len() - 1];
        if !fraction.is_empty() {
            let digits = &fraction[1..];
            if !fraction.starts_with('.')
                || digits.is_empty()
                || digits.len() > 9
                || !digits.bytes().all(|c| c.is_ascii_digit())
            {
                return Err(refuse("the fraction of a second takes 1 to 9 digits"));
            }
        }
        // The form the API writes, read directly: much cheaper than the full
        // RFC 3339 parse, which decides whatever is left (a leap second).
        if let Some(at) = plain_utc(&b[..19], fraction.get(1..).unwrap_or_default()) {
            return Ok(Timestamp(at));
        }
        DateTime::parse_from_rfc3339(s)
            .map(|t| Timestamp(t.with_timezone(&Utc)))
            .map_err(|e| refuse(&e.to_string()))
    }
}

/// `head`, `YYYY-MM-DDTHH:MM:SS`, followed by the fraction of a second
/// `digits` (0 to 9 ASCII digits), as an instant in UTC; `None` when `head` is
/// not of that form or names no plain instant (a leap second, a 30 February).
fn plain_utc(head: &[u8], digits: &str) -> Option<DateTime<Utc>> {
    let number = |at: usize, len: usize| {
        head.get(at..at + len)?.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(at, c)| head.get(at) != Some(&c)) {
        return None;
    }
    let year = i32::try_from(number(0, 4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, number(5, 2)?, number(8, 2)?)?;
    let nanos = digits
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(9)
        .fold(0u32, |n, c| n * 10 + u32::from(c - b'0'));
    let time = NaiveTime::from_hms_nano_opt(number(11, 2)?, number(14, 2)?, number(17, 2)?, nanos)?;
    Some(date.and_time(time).and_utc())
}

impl fmt::Display for Timestamp {
    /// Milliseconds always, more digits only when the instant has them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.timestamp_subsec_nanos();
        let precision = if nanos % 1_000_000 == 0 {
            SecondsFormat::Millis
        } else if nanos % 1_000 == 0 {
            SecondsFormat::Micros
        } else {
            SecondsFormat::Nanos
        };
        f.write_str(&self.0.to_rfc3339_opts(precision, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Severity of a violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// `LOW`
    Low,
    /// `MEDIUM`
    Medium,
    /// `HIGH`
    High,
    /// `CRITICAL`
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    /// The name on the wire: `LOW`, `MEDIUM`, `HIGH` or `CRITICAL`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = ValueError;
    /// Case-insensitive, so that users may write `high` on a command line.
    fn from_str(s: &str) -> Result<Self, ValueError> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                ValueError(format!(
                    "`{s}` is not a severity; allowed: LOW, MEDIUM, HIGH, CRITICAL"
                ))
            })
    }
}

/// Page size of a query: 1 to 1000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PageSize(u32);

impl PageSize {
    /// The smallest page size the contract allows.
    pub const MIN: u32 = 1;
    /// The largest page size the contract allows.
    pub const MAX: u32 = 1000;
    /// The page size used when none is given.
    pub const DEFAULT: PageSize = PageSize(500);

    /// `n`, if it is within [`PageSize::MIN`]..=[`PageSize::MAX`].
    pub fn new(n: u64) -> Result<Self, ValueError> {
        if (Self::MIN as u64..=Self::MAX as u64).contains(&n) {
            Ok(PageSize(n as u32))
        } else {
            Err(ValueError(format!(
                "page size {n} is out of range; allowed: {} to {}",
                Self::MIN,
                Self::MAX
            )))
        }
    }
    /// The number of violations per page.
    pub fn get(&self) -> u32 {
        self.0
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl FromStr for PageSize {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        let n: u64 = s.trim().parse().map_err(|_| {
            ValueError(format!(
                "`{s}` is not a page size; allowed: a whole number from 1 to 1000"
            ))
        })?;
        PageSize::new(n)
    }
}

impl<'de> Deserialize<'de> for PageSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        PageSize::new(u64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A UUID written in the canonical 8-4-4-4-12 hexadecimal form (the form the
/// contract requires in filters); braces, URNs and the hyphen-less form are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CanonicalUuid(uuid::Uuid);

impl CanonicalUuid {
    /// The UUID itself.
    pub fn get(&self) -> uuid::Uuid {
        self.0
    }
    /// Whether `s` is a UUID in canonical 8-4-4-4-12 form.
    pub fn is_canonical(s: &str) -> bool {
        let b = s.as_bytes();
        b.len() == 36
            && b.iter().enumerate().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => *c == b'-',
                _ => c.is_ascii_hexdigit(),
            })
    }
}

impl From<uuid::Uuid> for CanonicalUuid {
    fn from(u: uuid::Uuid) -> Self {
        CanonicalUuid(u)
    }
}

impl FromStr for CanonicalUuid {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        if !Self::is_canonical(s) {
            return Err(ValueError(format!(
                "`{s}` is not a UUID; allowed: 8-4-4-4-12 hexadecimal, \
                 such as 3f1f0e2a-6c1b-4a57-9d7e-2b1a4c9e8f10"
            )));
        }
        Ok(CanonicalUuid(
            uuid::Uuid::parse_str(s).expect("canonical form checked"),
        ))
    }
}

impl fmt::Display for CanonicalUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl Serialize for CanonicalUuid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CanonicalUuid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct reading of the usual form gives exactly what the full RFC
    /// 3339 parse gives, and leaves to it everything else.
    #[test]
    fn the_plain_form_reads_as_the_full_parse_does() {
        let mut plain = 0;
        for year in [
            "0000", "0001", "1900", "1970", "2000", "2023", "2024", "2100", "9999",
        ] {
            for month in 0..=13 {
                for day in 0..=32 {
                    for (time, fraction) in [
                        ("13:04:05", ""),
                        ("23:59:59", "999999999"),
                        ("00:00:00", "1"),
                        ("00:00:00", "120"),
                        ("24:00:00", ""),
                        ("12:60:00", ""),
                        ("23:59:60", ""),
                        ("1a:04:05", ""),
                    ] {
                        let head = format!("{year}-{month:02}-{day:02}T{time}");
                        let dot = if fraction.is_empty() { "" } else { "." };
                        let full = DateTime::parse_from_rfc3339(&format!("{head}{dot}{fraction}Z"))
                            .ok()
                            .map(|t| t.with_timezone(&Utc));
                        match plain_utc(head.as_bytes(), fraction) {
                            Some(at) => {
                                plain += 1;
                                assert_eq!(Some(at), full, "{head}.{fraction}");
                            }
                            // Left to the full parse: a leap second, or nothing valid.
                            None => assert!(full.is_none() || time == "23:59:60", "{head}"),
                        }
                    }
                }
            }
        }
        assert!(plain > 9 * 365 * 4, "{plain}");
        for s in [
            "2023-10-01T13:04:05Z",
            "2024-02-29T00:00:00.000Z",
            "2023-10-01T13:04:05.120Z",
        ] {
            assert!(plain_utc(&s.as_bytes()[..19], "").is_some(), "{s}");
        }
        for head in [
            "2023-10-01 13:04:05",
            "2023-10-01T13:04:5Z",
            "2023-02-29T00:00:00",
            "2023-10-01T13-04-05",
        ] {
            assert!(plain_utc(head.as_bytes(), "").is_none(), "{head}");
        }
    }

    #[test]
    fn timestamps_must_be_utc_with_z() {
        for good in [
            "2023-10-01T00:00:00Z",
            "2023-10-01T00:00:00.1Z",
            "2023-10-01T00:00:00.000Z",
            "2023-10-01T00:00:00.123456789Z",
        ] {
            good.parse::<Timestamp>().unwrap();
        }
        for bad in [
            "2023-10-01T00:00:00+00:00",
            "2023-10-01T02:00:00+02:00",
            "2023-10-01 00:00:00Z",
            "2023-10-01T00:00:00.1234567891Z",
            "2023-10-01T00:00:00.Z",
            "2023-10-01",
            "2023-13-01T00:00:00Z",
            "yesterday",
            "",
        ] {
            let err = bad.parse::<Timestamp>().unwrap_err();
            assert!(err.0.contains("RFC 3339"), "{bad}: {err}");
        }
    }

    #[test]
    fn non_ascii_anywhere_in_a_timestamp_is_refused_not_a_panic() {
        let good = "2023-10-01T00:00:00.000Z";
        for i in 0..=good.len() {
            for c in ['é', '€', '😀'] {
                let replaced = format!("{}{c}{}", &good[..i], good.get(i + 1..).unwrap_or(""));
                let inserted = format!("{}{c}{}", &good[..i], &good[i..]);
                for bad in [replaced, inserted] {
                    let err = bad.parse::<Timestamp>().unwrap_err();
                    assert!(err.0.contains("RFC 3339"), "{bad}: {err}");
                }
            }
        }
        let err = "2023-10-01T00:00:0éZ".parse::<Timestamp>().unwrap_err();
        assert!(err.0.contains("ASCII"), "{err}");
    }

    #[test]
    fn timestamps_print_milliseconds_or_more() {
        let t: Timestamp = "2023-10-01T13:04:05.12Z".parse().unwrap();
        assert_eq!(t.to_string(), "2023-10-01T13:04:05.120Z");
        let t: Timestamp = "2023-10-01T13:04:05.000000001Z".parse().unwrap();
        assert_eq!(t.to_string(), "2023-10-01T13:04:05.000000001Z");
    }

    #[test]
    fn severities_parse_case_insensitively_and_name_what_is_allowed() {
        assert_eq!("critical".parse::<Severity>().unwrap(), Severity::Critical);
        let err = "SEVERE".parse::<Severity>().unwrap_err();
        assert!(err.0.contains("LOW, MEDIUM, HIGH, CRITICAL"));
    }

    #[test]
    fn page_size_is_one_to_a_thousand() {
        assert!(PageSize::new(0).is_err());
        assert!(PageSize::new(1001).is_err());
        assert_eq!(PageSize::new(1000).unwrap().get(), 1000);
        assert!("-1".parse::<PageSize>().is_err());
        assert!(serde_json::from_str::<PageSize>("0").is_err());
    }

    #[test]
    fn uuids_must_be_canonical() {
        "3f1f0e2a-6c1b-4a57-9d7e-2b1a4c9e8f10"
            .parse::<CanonicalUuid>()
            .unwrap();
        for bad in [
            "3f1f0e2a6c1b4a579d7e2b1a4c9e8f10",
            "{3f1f0e2a-6c1b-4a57-9d7e-2b1a4c9e8f10}",
            "urn:uuid:3f1f0e2a-6c1b-4a57-9d7e-2b1a4c9e8f10",
            "3f1f0e2a-6c1b-4a57-9d7e-2b1a4c9e8f1g",
            "",
        ] {
            assert!(bad.parse::<CanonicalUuid>().is_err(), "{bad}");
        }
    }
}

/// A duration written like `250ms`, `30s`, `5m`, `1h` or `1h30m` (units `ms`, `s`, `m`, `h`, `d`),
/// as flags and config files take them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration(pub std::time::Duration);

impl HumanDuration {
    /// The duration itself.
    pub fn get(&self) -> std::time::Duration {
        self.0
    }
}

impl FromStr for HumanDuration {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        let refuse = || {
            ValueError(format!(
                "`{s}` is not a duration; write a number and a unit (ms, s, m, h, d), \
                 such as 250ms, 30s, 5m or 1h30m"
            ))
        };
        let mut rest = s.trim();
        if rest.is_empty() {
            return Err(refuse());
        }
        let mut total = std::time::Duration::ZERO;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let n: u64 = rest[..digits].parse().map_err(|_| refuse())?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let millis_per_unit: u64 = match &rest[..unit_len] {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(refuse()),
            };
            rest = &rest[unit_len..];
            let millis = n.checked_mul(millis_per_unit).ok_or_else(refuse)?;
            total = total
                .checked_add(std::time::Duration::from_millis(millis))
                .ok_or_else(refuse)?;
        }
        Ok(HumanDuration(total))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        match ms {
            0 => f.write_str("0s"),
            ms if ms % 3_600_000 == 0 => write!(f, "{}h", ms / 3_600_000),
            ms if ms % 60_000 == 0 => write!(f, "{}m", ms / 60_000),
            ms if ms % 1_000 == 0 => write!(f, "{}s", ms / 1_000),
            ms => write!(f, "{ms}ms"),
        }
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod duration_tests {
    use super::HumanDuration;
    use std::time::Duration;

    #[test]
    fn durations_parse_with_units() {
        let d = |s: &str| s.parse::<HumanDuration>().map(|d| d.get());
        assert_eq!(d("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(d("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(d("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(d("40ms").unwrap(), Duration::from_millis(40));
        assert_eq!(d("0s").unwrap(), Duration::ZERO);
        for bad in ["", "5", "m", "5 minutes", "-5s", "1.5h", "5x"] {
            let err = d(bad).unwrap_err();
            assert!(err.0.contains("such as 250ms"), "{bad}: {err}");
        }
        assert_eq!("90m".parse::<HumanDuration>().unwrap().to_string(), "90m");
    }
}
