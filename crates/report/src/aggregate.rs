//! Streaming aggregation of output records: counts by time, severity, rule,
//! agent, queue, reason and PII type, in memory bounded by the number of
//! distinct keys (capped), never by the number of records.

use crate::safe::{Pseudonyms, Redacted};
use compliance_api::{Severity, Timestamp};
use compliance_verify::{OutputRecord, PiiType, Reason, Status, Tally};
use std::collections::{BTreeMap, HashMap};

/// Distinct rules, agents or queues counted one by one; past it, the rest
/// are counted together as "others" (and the page says so), so that memory
/// stays bounded whatever the input holds.
pub const MAX_KEYS: usize = 50_000;
/// Rows of the top-N tables and bars of their charts.
pub const TOP: usize = 12;
/// Newest high-severity violations shown with their (redacted) evidence.
pub const LATEST: usize = 8;
/// Bytes of evidence shown per violation.
const EXCERPT: usize = 180;

/// Counts of one rule, agent or queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub validated: u64,
    pub false_positives: u64,
    pub pii: u64,
}

impl Counts {
    pub fn total(&self) -> u64 {
        self.validated + self.false_positives
    }
    /// Every violation counted (each is in one row or in "others") minus the `shown` rows.
    fn minus<'a>(&self, shown: impl Iterator<Item = &'a Counts>) -> Counts {
        shown.fold(self.clone(), |mut rest, c| {
            rest.validated -= c.validated;
            rest.false_positives -= c.false_positives;
            rest.pii -= c.pii;
            rest
        })
    }
    fn add(&mut self, validated: bool, pii: u64) {
        if validated {
            self.validated += 1;
        } else {
            self.false_positives += 1;
        }
        self.pii += pii;
    }
}

#[derive(Debug, Default)]
struct Keyed<V> {
    map: HashMap<String, V>,
    /// Whether keys past [`MAX_KEYS`] were met (counted only in the totals).
    others_keys: bool,
}

impl<V: Default> Keyed<V> {
    /// The entry of `key`, or `None` once [`MAX_KEYS`] are taken.
    fn entry(&mut self, key: &str) -> Option<&mut V> {
        if !self.map.contains_key(key) {
            if self.map.len() >= MAX_KEYS {
                self.others_keys = true;
                return None;
            }
            self.map.insert(key.to_owned(), V::default());
        }
        self.map.get_mut(key)
    }
}

#[derive(Debug, Default)]
struct RuleEntry {
    name: Option<String>,
    regulations: Vec<String>,
    counts: Counts,
}

/// One violation shown in full (evidence redacted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latest {
    pub detected_at: Timestamp,
    pub severity: Severity,
    pub id: Redacted,
    pub rule: Redacted,
    pub agent: Option<Redacted>,
    pub evidence: Redacted,
}

/// A violation kept for the newest-violations table, not yet redacted.
#[derive(Debug)]
struct Candidate {
    detected_at: Timestamp,
    severity: Severity,
    id: String,
    rule: String,
    agent: Option<String>,
    evidence: String,
}

/// Running counts over output records; see the module documentation.
#[derive(Debug, Default)]
pub struct Aggregator {
    tally: Tally,
    /// Violations per hour since the epoch, by severity (index in `Severity::ALL`).
    hours: BTreeMap<i64, [u64; 4]>,
    rules: Keyed<RuleEntry>,
    agents: Keyed<Counts>,
    queues: Keyed<Counts>,
    /// Findings whose evidence value in the input carries the type's marker.
    redacted_in_input: BTreeMap<PiiType, u64>,
    /// The newest validated HIGH and CRITICAL violations, newest first, as received.
    latest: Vec<Candidate>,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
}

fn severity_index(s: Severity) -> usize {
    Severity::ALL
        .iter()
        .position(|x| *x == s)
        .expect("ALL lists every severity")
}

impl Aggregator {
    /// Counts one record.
    pub fn add(&mut self, record: &OutputRecord) {
        self.tally.add(record);
        let v = &record.violation;
        let at = v.detected_at;
        let hour = at.unix_millis().div_euclid(3_600_000);
        self.hours.entry(hour).or_default()[severity_index(v.severity)] += 1;
        self.first = Some(self.first.map_or(at, |f| f.min(at)));
        self.last = Some(self.last.map_or(at, |l| l.max(at)));

        let validated = record.verdict.status == Status::Validated;
        let pii = record.verdict.pii.len() as u64;
        if let Some(rule) = self.rules.entry(&v.rule_id) {
            if rule.name.is_none() {
                rule.name.clone_from(&v.rule_name);
            }
            if rule.regulations.is_empty() && !record.verdict.regulations.is_empty() {
                rule.regulations.clone_from(&record.verdict.regulations);
            }
            rule.counts.add(validated, pii);
        }
        for (keyed, id) in [
            (&mut self.agents, &v.agent_id),
            (&mut self.queues, &v.queue_id),
        ] {
            let key = id.as_deref().unwrap_or("(none)");
            if let Some(counts) = keyed.entry(key) {
                counts.add(validated, pii);
            }
        }
        self.count_redacted(record);
        if validated && v.severity >= Severity::High {
            self.keep_latest(record);
        }
    }

    /// How many of the record's findings arrived redacted: per type, the
    /// markers in its evidence, at most its findings of that type.
    fn count_redacted(&mut self, record: &OutputRecord) {
        let mut by_type: BTreeMap<PiiType, u64> = BTreeMap::new();
        for f in &record.verdict.pii {
            *by_type.entry(f.kind).or_default() += 1;
        }
        for (kind, found) in by_type {
            let markers: usize = record
                .violation
                .evidence
                .iter()
                .flatten()
                .filter_map(|e| e.value.as_deref())
                .map(|value| value.matches(kind.marker()).count())
                .sum();
            *self.redacted_in_input.entry(kind).or_default() += found.min(markers as u64);
        }
    }

    fn keep_latest(&mut self, record: &OutputRecord) {
        let v = &record.violation;
        let key = (v.detected_at, v.severity);
        if self.latest.len() == LATEST
            && self
                .latest
                .iter()
                .all(|l| (l.detected_at, l.severity) >= key)
        {
            return;
        }
        let evidence = v
            .evidence
            .iter()
            .flatten()
            .filter_map(|e| e.value.as_deref())
            .find(|value| !value.is_empty())
            // Whole: cutting before the redaction could hide part of a number from the scan.
            .unwrap_or("")
            .to_owned();
        let rule = v.rule_name.clone().unwrap_or_else(|| v.rule_id.clone());
        self.latest.push(Candidate {
            detected_at: v.detected_at,
            severity: v.severity,
            id: v.id.clone(),
            rule,
            agent: v.agent_id.clone(),
            evidence,
        });
        self.latest
            .sort_by_key(|l| std::cmp::Reverse((l.detected_at, l.severity)));
        self.latest.truncate(LATEST);
    }

    /// Every violation counted, as one [`Counts`].
    fn tally_counts(&self) -> Counts {
        Counts {
            validated: self.tally.validated,
            false_positives: self.tally.false_positives,
            pii: self.tally.pii_exposures,
        }
    }

    /// The counts as the page shows them: top-N rows, bucketed series, and
    /// every label from the input redacted (agents pseudonymised if asked).
    pub fn finish(self, pseudonyms: Option<&Pseudonyms>) -> Aggregates {
        let agent_label = |id: &str| match pseudonyms {
            Some(p) if id != "(none)" => Redacted::new(&p.of(id)),
            _ => Redacted::new(id),
        };
        let total = self.tally_counts();
        let rules_distinct = self.rules.map.len();
        let rule_rows = top(self.rules.map, |r| r.counts.total());
        let rules_others = total.minus(rule_rows.iter().map(|(_, r)| &r.counts));
        let rules = rule_rows
            .into_iter()
            .map(|(id, r)| RuleRow {
                id: Redacted::new(&id),
                name: r.name.as_deref().map(Redacted::new),
                regulations: r.regulations.iter().map(|x| Redacted::new(x)).collect(),
                counts: r.counts,
            })
            .collect();
        let rows = |keyed: Keyed<Counts>, label: &dyn Fn(&str) -> Redacted| {
            let distinct = keyed.map.len();
            let rows = top(keyed.map, Counts::total);
            Ranking {
                distinct,
                capped: keyed.others_keys,
                others: total.minus(rows.iter().map(|(_, c)| c)),
                rows: rows.into_iter().map(|(k, c)| (label(&k), c)).collect(),
            }
        };
        let agents = rows(self.agents, &agent_label);
        let queues = rows(self.queues, &|q: &str| Redacted::new(q));
        let latest = self
            .latest
            .into_iter()
            .map(|c| Latest {
                detected_at: c.detected_at,
                severity: c.severity,
                id: Redacted::new(&c.id),
                rule: Redacted::new(&c.rule),
                agent: c.agent.as_deref().map(agent_label),
                evidence: Redacted::excerpt(&c.evidence, EXCERPT),
            })
            .collect();
        Aggregates {
            rules_distinct,
            rules_capped: self.rules.others_keys,
            tally: self.tally,
            hours: self.hours,
            rules,
            rules_others,
            agents,
            queues,
            redacted_in_input: self.redacted_in_input,
            latest,
            first: self.first,
            last: self.last,
        }
    }
}

/// The `TOP` entries with the highest `weight`, highest first, ties by key.
fn top<V>(map: HashMap<String, V>, weight: impl Fn(&V) -> u64) -> Vec<(String, V)> {
    let mut all: Vec<(String, V)> = map.into_iter().collect();
    all.sort_by(|a, b| weight(&b.1).cmp(&weight(&a.1)).then_with(|| a.0.cmp(&b.0)));
    all.truncate(TOP);
    all
}

/// One rule's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRow {
    pub id: Redacted,
    pub name: Option<Redacted>,
    pub regulations: Vec<Redacted>,
    pub counts: Counts,
}

/// The top agents or queues, and the rest summed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranking {
    /// Distinct keys counted one by one.
    pub distinct: usize,
    /// Whether more than [`MAX_KEYS`] appeared (the rest are in `others`).
    pub capped: bool,
    pub rows: Vec<(Redacted, Counts)>,
    /// Everything not in `rows`.
    pub others: Counts,
}

/// What [`Aggregator::finish`] gives the renderer.
#[derive(Debug, Clone)]
pub struct Aggregates {
    /// The same counts as the summaries of `extract`, `verify` and `demo`.
    pub tally: Tally,
    /// Violations per hour (hours since the epoch), by severity, lowest first.
    pub hours: BTreeMap<i64, [u64; 4]>,
    pub rules: Vec<RuleRow>,
    pub rules_others: Counts,
    pub rules_distinct: usize,
    pub rules_capped: bool,
    pub agents: Ranking,
    pub queues: Ranking,
    /// Findings per type whose evidence arrived redacted; the rest arrived
    /// as found (output written with `--keep-pii`).
    pub redacted_in_input: BTreeMap<PiiType, u64>,
    pub latest: Vec<Latest>,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
}

impl Aggregates {
    /// False positives by reason, every reason listed.
    pub fn reasons(&self) -> Vec<(Reason, u64)> {
        [Reason::NoRegulatoryMapping, Reason::BelowSeverityThreshold]
            .into_iter()
            .map(|r| (r, self.tally.by_reason.get(&r).copied().unwrap_or(0)))
            .collect()
    }
}
