//! An org's name, as `serve`'s `[[org]]` tables give it: what its lease,
//! its state and its audit chain are keyed by.

use crate::ValueError;
use std::fmt;
use std::str::FromStr;

/// A name of lowercase ASCII letters, digits and hyphens, 1 to 63 of them
/// (a DNS label's alphabet: safe in keys, paths and log lines alike).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrgName(String);

impl OrgName {
    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key of this org's work: its lease unit, and the state store key
    /// its audit chain is anchored under.
    pub fn unit(&self) -> String {
        format!("org:{}", self.0)
    }
}

impl FromStr for OrgName {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if (1..=63).contains(&s.len()) && s.chars().all(allowed) {
            Ok(OrgName(s.to_owned()))
        } else {
            Err(ValueError(format!(
                "`{s}` is not an org name; give 1 to 63 lowercase letters, digits or hyphens, \
                 such as acme-eu"
            )))
        }
    }
}

impl fmt::Display for OrgName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_the_allowed_alphabet_and_length_parse() {
        for ok in ["a", "acme-eu", "bu-7", &"x".repeat(63)] {
            assert_eq!(ok.parse::<OrgName>().unwrap().as_str(), ok);
        }
        assert_eq!("acme".parse::<OrgName>().unwrap().unit(), "org:acme");
    }

    #[test]
    fn other_names_are_refused_saying_what_is_allowed() {
        for bad in [
            "",
            "Acme",
            "acme_eu",
            "acme eu",
            "ümlaut",
            &"x".repeat(64),
            "a/b",
        ] {
            let err = bad.parse::<OrgName>().unwrap_err().to_string();
            assert!(
                err.contains("1 to 63 lowercase letters, digits or hyphens"),
                "{err}"
            );
        }
    }
}
