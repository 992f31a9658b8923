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

/// FNV-1a, eight bytes at a time: rule ids are short, and the keys come
/// from the rules file, not from the input, so a keyed hash buys nothing
/// here (a line's lookup hashed its id one byte at a time: 1 % of `verify`).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
            self.0 = (self.0 ^ word).wrapping_mul(0x0100_0000_01b3);
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0 ^ u64::from_le_bytes(word)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        // A product carries low bits up, never down: fold the high bits,
        // where ids that differ late differ, into the low ones (the bucket).
        self.0 ^ (self.0 >> 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use compliance_api::Severity;

    /// Each rule id finds its own rule, ids that differ in their last byte
    /// or by length too, and an id not listed finds none.
    #[test]
    fn each_rule_id_finds_its_own_rule() {
        let ids: Vec<String> = (0..300)
            .map(|k| format!("rule-uuid-{k:03}"))
            .chain((0..20).map(|k| "r".repeat(k + 1)))
            .collect();
        let toml: String = ids
            .iter()
            .map(|id| format!("[rules.\"{id}\"]\nregulations = [\"reg {id}\"]\n"))
            .collect();
        let rendered = Rendered::new(&RuleMatrix::from_toml(&toml).unwrap());
        for id in &ids {
            let verdict = rendered.get(id).verdict(Severity::High);
            let expected = format!("\"reg {id}\"");
            assert!(
                verdict
                    .windows(expected.len())
                    .any(|w| w == expected.as_bytes()),
                "{id}"
            );
        }
        assert!(rendered
            .get("rule-uuid-300")
            .verdict(Severity::High)
            .ends_with(b"\"regulations\":[],\"pii\":["));
    }
}
