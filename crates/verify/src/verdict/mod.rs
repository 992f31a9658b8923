//! The verification stage proper: scan each evidence value, redact it, judge
//! the violation against the rule matrix, and count what was seen.

use crate::pii::{Finding, PiiType};
use crate::rules::{RuleMatrix, LOW_TOLERANCE};
use crate::scan::Scanner;
use compliance_api::{Severity, Violation};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;

mod rendered;
pub(crate) use rendered::Rule;

/// One line of the output: the violation as received (evidence redacted
/// unless PII is kept) and the verdict on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputRecord {
    pub violation: Violation,
    pub verdict: Verdict,
}

/// What the verifier concluded about one violation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub status: Status,
    /// Why it is a false positive; `null` when validated.
    pub reason: Option<Reason>,
    /// The regulations the rules file maps the violation's rule to, as listed.
    pub regulations: Vec<String>,
    /// Every PII finding in the evidence, in evidence order then by position.
    pub pii: Vec<PiiFinding>,
}

/// `validated` or `false_positive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Validated,
    FalsePositive,
}

impl Status {
    /// Both statuses, as output records and metrics labels list them.
    pub const ALL: [Status; 2] = [Status::Validated, Status::FalsePositive];

    /// The snake_case name written in output records.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Validated => "validated",
            Status::FalsePositive => "false_positive",
        }
    }
}

/// Why a violation is a false positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Its rule maps to no regulation.
    NoRegulatoryMapping,
    /// It is `LOW` and its rule carries no `low_tolerance` tag.
    BelowSeverityThreshold,
}

impl Reason {
    /// The snake_case name written in output records.
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::NoRegulatoryMapping => "no_regulatory_mapping",
            Reason::BelowSeverityThreshold => "below_severity_threshold",
        }
    }
}

/// One finding in one evidence value: `value[start..end]` in UTF-8 bytes of
/// the original (unredacted) value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PiiFinding {
    #[serde(rename = "type")]
    pub kind: PiiType,
    pub evidence_index: usize,
    pub start: usize,
    pub end: usize,
}

/// The verification stage: PII scan, redaction, rule matrix, verdict.
/// Holds no I/O; `Send + Sync`, so one verifier can serve many tasks.
#[derive(Debug, Clone)]
pub struct Verifier {
    rules: RuleMatrix,
    keep_pii: bool,
    /// Each rule's regulations as the output's JSON array, rendered once.
    pub(crate) rendered: rendered::Rendered,
}

thread_local! {
    // Scan buffers, reused across violations on each thread.
    static BUFFERS: RefCell<(Scanner, Vec<Finding>)> = RefCell::default();
}

impl Verifier {
    /// A verifier judging by `rules`; with `keep_pii`, evidence is left as
    /// received (findings are still reported).
    pub fn new(rules: RuleMatrix, keep_pii: bool) -> Verifier {
        let rendered = rendered::Rendered::new(&rules);
        Verifier {
            rules,
            keep_pii,
            rendered,
        }
    }

    /// The rule matrix in use.
    pub fn rules(&self) -> &RuleMatrix {
        &self.rules
    }

    /// Whether evidence is left unredacted.
    pub fn keep_pii(&self) -> bool {
        self.keep_pii
    }

    /// Verifies one violation.
    pub fn verify(&self, mut violation: Violation) -> OutputRecord {
        let mut pii = Vec::new();
        for (index, item) in violation.evidence.iter_mut().flatten().enumerate() {
            let Some(value) = item.value.as_mut() else {
                continue;
            };
            let mut found = false;
            self.scan_value(value, |f| {
                found = true;
                pii.push(PiiFinding {
                    kind: f.kind,
                    evidence_index: index,
                    start: f.start,
                    end: f.end,
                });
            });
            if found && !self.keep_pii {
                let first = pii.partition_point(|p| p.evidence_index < index);
                let findings: Vec<Finding> = pii[first..]
                    .iter()
                    .map(|p| Finding {
                        kind: p.kind,
                        start: p.start,
                        end: p.end,
                    })
                    .collect();
                *value = crate::redact(value, &findings);
            }
        }
        let verdict = self.judge(&violation.rule_id, violation.severity, pii);
        OutputRecord { violation, verdict }
    }

    /// Scans one evidence value, handing each finding to `found` in order.
    pub(crate) fn scan_value(&self, value: &str, mut found: impl FnMut(Finding)) {
        BUFFERS.with_borrow_mut(|(scanner, findings)| {
            scanner.scan_into(value, findings);
            findings.iter().copied().for_each(&mut found);
        });
    }

    /// The verdict for a violation of `rule_id` at `severity` with these findings.
    pub(crate) fn judge(&self, rule_id: &str, severity: Severity, pii: Vec<PiiFinding>) -> Verdict {
        let regulations = self.rules.regulations(rule_id);
        let reason = reason(regulations, severity);
        Verdict {
            status: if reason.is_some() {
                Status::FalsePositive
            } else {
                Status::Validated
            },
            reason,
            regulations: regulations.to_vec(),
            pii,
        }
    }
}

/// Why a violation at `severity` whose rule lists `regulations` is a false positive, if it is.
pub(crate) fn reason(regulations: &[String], severity: Severity) -> Option<Reason> {
    if regulations.is_empty() {
        Some(Reason::NoRegulatoryMapping)
    } else if severity == Severity::Low && !regulations.iter().any(|r| r == LOW_TOLERANCE) {
        Some(Reason::BelowSeverityThreshold)
    } else {
        None
    }
}

/// Counts one more `key` in `counts`. Once every key has been seen (after a
/// few lines), this is a search of a node of a few keys, without the
/// [`std::collections::btree_map::Entry`] that `entry` builds.
#[inline]
fn bump<K: Ord>(counts: &mut BTreeMap<K, u64>, key: K) {
    match counts.get_mut(&key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key, 1);
        }
    }
}

/// Running counts over verified violations, for summaries and audit records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub violations: u64,
    pub validated: u64,
    pub false_positives: u64,
    pub by_reason: BTreeMap<Reason, u64>,
    pub by_severity: BTreeMap<Severity, u64>,
    /// Findings per PII type.
    pub pii_by_type: BTreeMap<PiiType, u64>,
    /// All findings: each piece of PII found counts once.
    pub pii_exposures: u64,
    /// Violations with no evidence value to scan.
    pub missing_evidence: u64,
    /// Card numbers the detectors missed and the last pass over the output
    /// redacted ([`crate::late`]); 0 unless a detector has a gap.
    #[serde(default)]
    pub late_pii: u64,
    /// Of `late_pii`, the numbers in an issued card range (a brand's IIN
    /// range and length): detector gaps. The others are Luhn-valid numbers
    /// no brand issues ([`crate::late::Late`]).
    #[serde(default)]
    pub late_pii_issued_range: u64,
}

impl Tally {
    /// Counts one output record.
    pub fn add(&mut self, record: &OutputRecord) {
        let has_value = record.violation.has_evidence_value();
        let kinds = record.verdict.pii.iter().map(|p| p.kind);
        self.count(
            record.violation.severity,
            record.verdict.reason,
            kinds,
            has_value,
        );
    }

    /// Counts one violation from its parts: its severity, why it is a false
    /// positive (if it is), the types of its findings, and whether it had any
    /// non-empty evidence value.
    #[inline]
    pub fn count(
        &mut self,
        severity: Severity,
        reason: Option<Reason>,
        pii: impl Iterator<Item = PiiType>,
        has_value: bool,
    ) {
        self.violations += 1;
        match reason {
            None => self.validated += 1,
            Some(reason) => {
                self.false_positives += 1;
                bump(&mut self.by_reason, reason);
            }
        }
        bump(&mut self.by_severity, severity);
        for kind in pii {
            bump(&mut self.pii_by_type, kind);
            self.pii_exposures += 1;
        }
        if !has_value {
            self.missing_evidence += 1;
        }
    }

    /// What the last pass redacted, as counted here.
    pub fn late(&self) -> crate::late::Late {
        crate::late::Late {
            issued_range: self.late_pii_issued_range,
            no_issued_range: self.late_pii - self.late_pii_issued_range,
        }
    }

    /// Counts what the last pass redacted.
    pub fn add_late(&mut self, late: crate::late::Late) {
        self.late_pii += late.total();
        self.late_pii_issued_range += late.issued_range;
    }

    /// Adds another tally's counts to this one.
    pub fn merge(&mut self, other: &Tally) {
        self.violations += other.violations;
        self.validated += other.validated;
        self.false_positives += other.false_positives;
        for (k, n) in &other.by_reason {
            *self.by_reason.entry(*k).or_default() += n;
        }
        for (k, n) in &other.by_severity {
            *self.by_severity.entry(*k).or_default() += n;
        }
        for (k, n) in &other.pii_by_type {
            *self.pii_by_type.entry(*k).or_default() += n;
        }
        self.pii_exposures += other.pii_exposures;
        self.missing_evidence += other.missing_evidence;
        self.late_pii += other.late_pii;
        self.late_pii_issued_range += other.late_pii_issued_range;
    }

    /// Validated violations divided by all violations; 0 when there are none
    /// (the design document's accuracy rate).
    pub fn accuracy_rate(&self) -> f64 {
        if self.violations == 0 {
            0.0
        } else {
            self.validated as f64 / self.violations as f64
        }
    }
}
