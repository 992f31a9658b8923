//! The rule matrix as `verify`'s fast path (`crate::line`) uses it, built
//! once per verifier.

use super::Reason;
use crate::late::Late;
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
    /// Whether the regulations, as serde_json writes them, hold an escape
    /// (a regulation name with a quote).
    pub(crate) escapes: bool,
    /// The verdict's reason when the violation is LOW, and when it is not.
    low: Option<Reason>,
    other: Option<Reason>,
    /// The output record's bytes from the verdict to its `pii` array, when
    /// the violation is LOW and when it is not: one copy per line.
    verdict_low: Box<[u8]>,
    verdict_other: Box<[u8]>,
    /// The same bytes after the last pass, and what it redacted in them (a
    /// regulation may be named with digits): they depend on nothing else,
    /// so the fast path does not sweep them again on every line.
    swept_low: (Box<[u8]>, Late),
    swept_other: (Box<[u8]>, Late),
}

impl Rule {
    fn new(regulations: &[String]) -> Rule {
        // The verdict depends only on the rule and on whether it is LOW.
        let reason = |severity| super::reason(regulations, severity);
        let json: Box<[u8]> = serde_json::to_vec(regulations)
            .expect("a list of strings serialises")
            .into();
        let (low, other) = (reason(Severity::Low), reason(Severity::High));
        let (verdict_low, verdict_other) = (verdict(low, &json), verdict(other, &json));
        Rule {
            escapes: json.contains(&b'\\'),
            swept_low: swept(&verdict_low),
            swept_other: swept(&verdict_other),
            verdict_low,
            verdict_other,
            low,
            other,
        }
    }

    /// [`Rule::verdict`] after the last pass, and what the pass redacted in
    /// it. The verdict starts outside any JSON string, after the closing
    /// brace of the violation, and its `pii` array that follows holds no
    /// digit in a string: so the last pass over a whole record is the pass
    /// over the violation, then this.
    #[inline]
    pub(crate) fn swept_verdict(&self, severity: Severity) -> (&[u8], Late) {
        let (bytes, late) = if severity == Severity::Low {
            &self.swept_low
        } else {
            &self.swept_other
        };
        (bytes, *late)
    }

    /// What [`Rule::reason`] gives, as the output record spells it from the
    /// verdict to the opening of its `pii` array.
    #[inline]
    pub(crate) fn verdict(&self, severity: Severity) -> &[u8] {
        if severity == Severity::Low {
            &self.verdict_low
        } else {
            &self.verdict_other
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

/// `verdict` after the last pass.
fn swept(verdict: &[u8]) -> (Box<[u8]>, Late) {
    let mut out = Vec::new();
    let late = crate::late::sweep_json(verdict, &mut out);
    (out.into(), late)
}

/// `,"verdict":{"status":…,"reason":…,"regulations":…,"pii":[` as
/// serialising an [`super::OutputRecord`] writes it.
fn verdict(reason: Option<Reason>, regulations: &[u8]) -> Box<[u8]> {
    let mut out = b",\"verdict\":{\"status\":".to_vec();
    match reason {
        None => out.extend_from_slice(b"\"validated\",\"reason\":null"),
        Some(r) => {
            out.extend_from_slice(b"\"false_positive\",\"reason\":\"");
            out.extend_from_slice(r.as_str().as_bytes());
            out.push(b'"');
        }
    }
    out.extend_from_slice(b",\"regulations\":");
    out.extend_from_slice(regulations);
    out.extend_from_slice(b",\"pii\":[");
    out.into()
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
