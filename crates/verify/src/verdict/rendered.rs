//! The rule matrix as `verify`'s fast path (`crate::line`) uses it, built
//! once per verifier.

use super::Reason;
use crate::rules::RuleMatrix;
use compliance_api::Severity;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The rule matrix as the fast path uses it: per rule, its regulations
/// already serialised and what decides the verdict, so that a line costs
/// one cheap lookup and one copy instead of a SipHash lookup and a
/// serialisation per regulation.
#[derive(Debug, Clone)]
pub(crate) struct Rendered {
    rules: HashMap<Box<str>, Rule, BuildHasherDefault<Fnv>>,
    /// A rule the matrix does not list: no regulations.
    unknown: Rule,
}

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// The `regulations` array as serde_json writes it.
    pub(crate) json: Box<[u8]>,
    /// Whether `json` holds an escape (a regulation name with a quote).
    pub(crate) escapes: bool,
    /// The verdict's reason when the violation is LOW, and when it is not.
    low: Option<Reason>,
    other: Option<Reason>,
}

impl Rule {
    fn new(regulations: &[String]) -> Rule {
        // The verdict depends only on the rule and on whether it is LOW.
        let reason = |severity| super::reason(regulations, severity);
        let json: Box<[u8]> = serde_json::to_vec(regulations)
            .expect("a list of strings serialises")
            .into();
        Rule {
            escapes: json.contains(&b'\\'),
            json,
            low: reason(Severity::Low),
            other: reason(Severity::High),
        }
    }

    // Inlined as it was beside the fast path, which calls both once a line.
    #[inline]
    pub(crate) fn reason(&self, severity: Severity) -> Option<Reason> {
        if severity == Severity::Low {
            self.low
        } else {
            self.other
        }
    }
}

impl Rendered {
    pub(crate) fn new(matrix: &RuleMatrix) -> Rendered {
        Rendered {
            rules: matrix
                .iter()
                .map(|(id, regulations)| (id.into(), Rule::new(regulations)))
                .collect(),
            unknown: Rule::new(&[]),
        }
    }

    #[inline]
    pub(crate) fn get(&self, rule_id: &str) -> &Rule {
        self.rules.get(rule_id).unwrap_or(&self.unknown)
    }
}

/// FNV-1a: rule ids are short, and the keys come from the rules file, not
/// from the input, so a keyed hash buys nothing here.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
