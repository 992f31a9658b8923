//! The simulated organisation's violations: generated from a seed (same seed,
//! same data), realistic enough to exercise a client and a PII detector, and
//! carrying the ground truth of where the PII sits.
//!
//! Violations are held as compact structs and rendered to JSON when served:
//! a million `serde_json::Value`s would cost gigabytes, these cost a few
//! hundred bytes each (see docs/benchmarks.md (simulator section)).

use crate::evidence::{evidence_text, PiiTruth};
use chrono::Duration as ChronoDuration;
use compliance_api::{Severity, Timestamp};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::time::Duration;
use uuid::Uuid;

/// A compliance rule of the simulated organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    pub name: &'static str,
}

/// The rules violations refer to: the design document's `rule-uuid-001` and
/// `-002` (mapped to regulations by the default rules file), UUID-shaped ids,
/// and ids that no rules file maps (so they become false positives).
pub const RULES: [Rule; 8] = [
    Rule {
        id: "rule-uuid-001",
        name: "Card number read back to customer",
    },
    Rule {
        id: "rule-uuid-002",
        name: "Payment details requested outside the secure IVR",
    },
    Rule {
        id: "0b6f3c1e-5a2d-4e8f-9c7b-1d2e3f4a5b6c",
        name: "Identity verified with full SSN",
    },
    Rule {
        id: "7d9e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a",
        name: "Données personnelles communiquées sans vérification",
    },
    Rule {
        id: "rule-disclosure-missing",
        name: "Call-recording disclosure missing",
    },
    Rule {
        id: "rule-prohibited-language",
        name: "Prohibited language",
    },
    Rule {
        id: "rule-consent-not-captured",
        name: "Marketing consent not captured — Einwilligung fehlt",
    },
    Rule {
        id: "rule-hold-time-exceeded",
        name: "Customer on hold longer than policy",
    },
];

/// One evidence item of a simulated violation.
#[derive(Debug, Clone, PartialEq)]
pub struct SimEvidence {
    /// `TRANSCRIPT`, `SCREEN`, `METADATA`, or rarely a type newer than the contract.
    pub kind: &'static str,
    /// `AGENT` or `CUSTOMER` for transcripts.
    pub participant: Option<&'static str>,
    pub value: String,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// A field newer than the contract (`confidenceBand`, listed in
    /// [`crate::EXTRA_EVIDENCE_FIELDS`]), on a few items.
    pub confidence_band: Option<&'static str>,
}

/// One violation as the simulator serves it, with the ground truth of its PII.
///
/// The wire object is rendered on demand by [`SimViolation::json`] (or by
/// serialising the struct), exactly as the server sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimViolation {
    /// Canonical lowercase UUID.
    pub id: String,
    pub detected_at: Timestamp,
    /// When the violation becomes visible to queries: `detected_at` unless it arrives late.
    pub visible_at: Timestamp,
    pub conversation_id: Option<Uuid>,
    pub communication_id: Option<Uuid>,
    pub agent_id: Option<Uuid>,
    pub queue_id: Option<Uuid>,
    pub policy_id: Option<Uuid>,
    pub rule: Rule,
    pub severity: Severity,
    /// The segment number of `segmentReference` (`conversation/<id>/segment/<n>`).
    pub segment: Option<u16>,
    pub confidence: Option<f64>,
    pub evidence: Option<Vec<SimEvidence>>,
    /// Ground truth per evidence item: where the generator put PII.
    pub pii: Vec<Vec<PiiTruth>>,
    /// Whether missing usually-present fields are sent as `null` (else left out).
    pub missing_as_null: bool,
    /// Fields newer than the contract (`sentiment`, `channel`, listed in
    /// [`crate::EXTRA_VIOLATION_FIELDS`]), on a few violations.
    pub extra: Option<Box<Map<String, Value>>>,
    /// A required field this violation is served without (one of
    /// [`REQUIRED_FIELDS`]): a broken record that a client must reject, never
    /// drop silently. Set by [`Dataset::break_records`].
    pub served_without: Option<&'static str>,
}

/// The fields a violation cannot be used without, as the contract names them.
pub const REQUIRED_FIELDS: [&str; 4] = ["id", "ruleId", "severity", "detectedAt"];

impl SimViolation {
    /// The wire object exactly as served.
    pub fn json(&self) -> Value {
        serde_json::to_value(self).expect("a violation always serialises")
    }
}

impl Serialize for SimViolation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        macro_rules! required {
            ($key:expr, $value:expr) => {
                if self.served_without != Some($key) {
                    m.serialize_entry($key, $value)?;
                }
            };
        }
        // Usually-present fields: absent or null when missing, as the violation says.
        macro_rules! usually {
            ($key:expr, $value:expr) => {
                match $value {
                    Some(v) => m.serialize_entry($key, &v)?,
                    None if self.missing_as_null => m.serialize_entry($key, &())?,
                    None => {}
                }
            };
        }
        required!("id", &self.id);
        usually!("conversationId", self.conversation_id);
        usually!("communicationId", self.communication_id);
        usually!("agentId", self.agent_id);
        usually!("queueId", self.queue_id);
        usually!("policyId", self.policy_id);
        required!("ruleId", self.rule.id);
        m.serialize_entry("ruleName", self.rule.name)?;
        required!("severity", self.severity.as_str());
        required!("detectedAt", &self.detected_at);
        let segment = self
            .conversation_id
            .zip(self.segment)
            .map(|(c, n)| format!("conversation/{c}/segment/{n}"));
        usually!("segmentReference", segment);
        if let Some(c) = self.confidence {
            m.serialize_entry("confidence", &c)?;
        }
        usually!("evidence", self.evidence.as_ref());
        if let Some(extra) = &self.extra {
            for (k, v) in extra.iter() {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

impl Serialize for SimEvidence {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", self.kind)?;
        if let Some(p) = self.participant {
            m.serialize_entry("participant", p)?;
        }
        m.serialize_entry("value", &self.value)?;
        if let (Some(a), Some(b)) = (self.start_ms, self.end_ms) {
            m.serialize_entry("startMs", &a)?;
            m.serialize_entry("endMs", &b)?;
        }
        if let Some(band) = self.confidence_band {
            m.serialize_entry("confidenceBand", band)?;
        }
        m.end()
    }
}

/// The simulated organisation: its violations sorted by (`detectedAt`, `id`),
/// and the agents, queues and policies they refer to (handy for filter tests).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dataset {
    pub violations: Vec<SimViolation>,
    pub agents: Vec<Uuid>,
    pub queues: Vec<Uuid>,
    pub policies: Vec<Uuid>,
}

impl Dataset {
    /// Adds violations, keeping the order by (`detectedAt`, `id`).
    pub fn extend(&mut self, more: impl IntoIterator<Item = SimViolation>) {
        self.violations.extend(more);
        self.violations
            .sort_by(|a, b| order_key(a).cmp(&order_key(b)));
    }

    /// Serves `fraction` of the violations (chosen from `seed`) without one
    /// of their required fields, taken in turn: ground truth for reject
    /// handling. A separate random stream, so the data itself is unchanged.
    pub fn break_records(&mut self, fraction: f64, seed: u64) {
        if fraction <= 0.0 {
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6d61_6c66_6f72_6d65);
        let mut next = 0;
        for v in &mut self.violations {
            if rng.gen_bool(fraction.min(1.0)) {
                v.served_without = Some(REQUIRED_FIELDS[next % REQUIRED_FIELDS.len()]);
                next += 1;
            }
        }
    }

    /// Index of the first violation at or after `(at, id)` in the serving order.
    pub(crate) fn position(&self, at: Timestamp, id: &str) -> usize {
        self.violations
            .partition_point(|v| (v.detected_at, v.id.as_str()) < (at, id))
    }
}

fn order_key(v: &SimViolation) -> (Timestamp, &str) {
    (v.detected_at, v.id.as_str())
}

fn uuid_from(rng: &mut ChaCha8Rng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.gen()).into_uuid()
}

/// Generates `n` violations detected in `[start, end)` from `seed`: pure and
/// deterministic. `late = (fraction, late_max)`: that fraction of violations
/// becomes visible a uniform (0, late_max] after its `detectedAt`.
///
/// An empty or inverted interval puts every violation at `start`.
pub fn generate(
    seed: u64,
    n: usize,
    start: Timestamp,
    end: Timestamp,
    late: (f64, Duration),
) -> Dataset {
    let mut generator = Generator::new(seed, n, start, end, late);
    let violations = generator.by_ref().collect();
    Dataset {
        violations,
        agents: generator.agents,
        queues: generator.queues,
        policies: generator.policies,
    }
}

/// The violations of [`generate`], one at a time and already in serving
/// order, for writing a large dataset without holding it (`--dump-jsonl`).
#[derive(Debug)]
pub struct Generator {
    rng: ChaCha8Rng,
    agents: Vec<Uuid>,
    queues: Vec<Uuid>,
    policies: Vec<Uuid>,
    start: Timestamp,
    late: (f64, i64),
    /// Every detection time as ms after `start`, sorted; `next` indexes it.
    offsets: Vec<i64>,
    next: usize,
    /// Violations sharing one `detectedAt`, sorted by id, not yet handed out.
    ready: std::collections::VecDeque<SimViolation>,
}

impl Generator {
    /// See [`generate`].
    pub fn new(
        seed: u64,
        n: usize,
        start: Timestamp,
        end: Timestamp,
        late: (f64, Duration),
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let agents: Vec<Uuid> = (0..40).map(|_| uuid_from(&mut rng)).collect();
        let queues: Vec<Uuid> = (0..8).map(|_| uuid_from(&mut rng)).collect();
        let policies: Vec<Uuid> = (0..6).map(|_| uuid_from(&mut rng)).collect();
        let span_ms = (end.unix_millis() - start.unix_millis()).max(1);
        // Times first, sorted, so that violations can be made in serving order.
        let mut offsets: Vec<i64> = (0..n).map(|_| rng.gen_range(0..span_ms)).collect();
        offsets.sort_unstable();
        let late_max_ms = late.1.as_millis().clamp(1, i64::MAX as u128) as i64;
        Generator {
            rng,
            agents,
            queues,
            policies,
            start,
            late: (late.0.clamp(0.0, 1.0), late_max_ms),
            offsets,
            next: 0,
            ready: Default::default(),
        }
    }
}

impl Iterator for Generator {
    type Item = SimViolation;

    fn next(&mut self) -> Option<SimViolation> {
        if self.ready.is_empty() {
            let offset = *self.offsets.get(self.next)?;
            let same = self.offsets[self.next..].partition_point(|&o| o == offset);
            self.next += same;
            let detected_at = Timestamp::from_datetime(
                self.start.as_datetime() + ChronoDuration::milliseconds(offset),
            );
            for _ in 0..same {
                let rng = &mut self.rng;
                let visible_at = if self.late.0 > 0.0 && rng.gen_bool(self.late.0) {
                    let delay = ChronoDuration::milliseconds(rng.gen_range(1..=self.late.1));
                    Timestamp::from_datetime(detected_at.as_datetime() + delay)
                } else {
                    detected_at
                };
                let v = one_violation(
                    rng,
                    detected_at,
                    visible_at,
                    &self.agents,
                    &self.queues,
                    &self.policies,
                );
                self.ready.push_back(v);
            }
            // Ties in detectedAt are served by id.
            self.ready.make_contiguous().sort_by(|a, b| a.id.cmp(&b.id));
        }
        self.ready.pop_front()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.offsets.len() - self.next + self.ready.len();
        (left, Some(left))
    }
}

fn one_violation(
    rng: &mut ChaCha8Rng,
    detected_at: Timestamp,
    visible_at: Timestamp,
    agents: &[Uuid],
    queues: &[Uuid],
    policies: &[Uuid],
) -> SimViolation {
    let id = uuid_from(rng).hyphenated().to_string();
    // Usually present; each missing now and then.
    let conversation_id = rng.gen_bool(0.97).then(|| uuid_from(rng));
    let communication_id = rng.gen_bool(0.9).then(|| uuid_from(rng));
    let agent_id = rng
        .gen_bool(0.97)
        .then(|| *agents.choose(rng).expect("agents"));
    let queue_id = rng
        .gen_bool(0.9)
        .then(|| *queues.choose(rng).expect("queues"));
    let policy_id = rng
        .gen_bool(0.97)
        .then(|| *policies.choose(rng).expect("policies"));
    let rule = RULES[rng.gen_range(0..RULES.len())];
    let severity = match rng.gen_range(0..100) {
        0..=24 => Severity::Low,
        25..=59 => Severity::Medium,
        60..=87 => Severity::High,
        _ => Severity::Critical,
    };
    let segment = rng.gen_bool(0.97).then(|| rng.gen_range(1..40));
    let confidence = rng
        .gen_bool(0.95)
        .then(|| (rng.gen_range(0.5..1.0f64) * 100.0).round() / 100.0);

    let (evidence, pii) = if rng.gen_bool(0.05) {
        (None, Vec::new())
    } else {
        // Mostly one or two items, now and then three.
        let items = match rng.gen_range(0..100) {
            0..=54 => 1,
            55..=89 => 2,
            _ => 3,
        };
        let mut clock = rng.gen_range(0..600_000i64);
        let (items, pii): (Vec<_>, Vec<_>) =
            (0..items).map(|_| one_evidence(rng, &mut clock)).unzip();
        (Some(items), pii)
    };
    let extra = rng.gen_bool(0.05).then(|| {
        let v = json!({
            "sentiment": {"score": (rng.gen_range(-1.0..1.0f64) * 100.0).round() / 100.0, "label": "négatif"},
            "channel": if rng.gen_bool(0.8) { "voice" } else { "chat" },
        });
        match v {
            Value::Object(m) => Box::new(m),
            _ => unreachable!("an object literal"),
        }
    });
    SimViolation {
        id,
        detected_at,
        visible_at,
        conversation_id,
        communication_id,
        agent_id,
        queue_id,
        policy_id,
        rule,
        severity,
        segment,
        confidence,
        evidence,
        pii,
        missing_as_null: rng.gen_bool(0.5),
        extra,
        served_without: None,
    }
}

/// One evidence item and its PII truth; `clock` is the transcript position in ms.
fn one_evidence(rng: &mut ChaCha8Rng, clock: &mut i64) -> (SimEvidence, Vec<PiiTruth>) {
    const METADATA: [&str; 4] = [
        "holdSeconds=412; transfers=2",
        "wrapUpCode=PAYMENT_TAKEN; queue=Billing",
        "recordingPaused=false; ivrSecure=false",
        "disposition=Rückruf vereinbart",
    ];
    let confidence_band = rng.gen_bool(0.03).then_some("high");
    let roll = rng.gen_range(0..100);
    let (kind, participant, (value, pii)) = match roll {
        0..=79 => {
            let who = if rng.gen_bool(0.5) {
                "AGENT"
            } else {
                "CUSTOMER"
            };
            ("TRANSCRIPT", Some(who), evidence_text(rng))
        }
        80..=88 => ("SCREEN", None, evidence_text(rng)),
        89..=97 => {
            let text = METADATA[rng.gen_range(0..METADATA.len())].to_string();
            ("METADATA", None, (text, Vec::new()))
        }
        // A type newer than the contract: clients must pass it on untouched.
        _ => ("ANNOTATION", None, evidence_text(rng)),
    };
    // Now and then an item with an empty value (speech-to-text heard nothing).
    let (mut value, mut pii) = if rng.gen_bool(0.02) {
        (String::new(), Vec::new())
    } else {
        (value, pii)
    };
    // Held for the server's lifetime: drop the slack of how they were built.
    value.shrink_to_fit();
    pii.shrink_to_fit();
    let (start_ms, end_ms) = if kind == "TRANSCRIPT" {
        let start = *clock + rng.gen_range(500..20_000);
        let end = start + rng.gen_range(1_500..12_000);
        *clock = end;
        (Some(start), Some(end))
    } else {
        (None, None)
    };
    let item = SimEvidence {
        kind,
        participant,
        value,
        start_ms,
        end_ms,
        confidence_band,
    };
    (item, pii)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn day(n: usize, late: (f64, Duration)) -> Dataset {
        let start = "2023-10-01T00:00:00Z".parse().unwrap();
        let end = "2023-10-02T00:00:00Z".parse().unwrap();
        generate(42, n, start, end, late)
    }

    #[test]
    fn violations_are_sorted_within_the_window_with_unique_ids() {
        let data = day(2_000, (0.0, Duration::ZERO));
        assert_eq!(data.violations.len(), 2_000);
        assert!(data
            .violations
            .windows(2)
            .all(|w| order_key(&w[0]) < order_key(&w[1])));
        let (start, end) = ("2023-10-01T00:00:00Z", "2023-10-02T00:00:00Z");
        let (start, end): (Timestamp, Timestamp) = (start.parse().unwrap(), end.parse().unwrap());
        assert!(data.violations.iter().all(|v| v.detected_at >= start
            && v.detected_at < end
            && v.visible_at == v.detected_at));
        let ids: HashSet<&str> = data.violations.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids.len(), 2_000);
        assert!(ids
            .iter()
            .all(|id| compliance_api::CanonicalUuid::is_canonical(id)));
    }

    #[test]
    fn the_data_is_as_varied_as_a_real_organisation() {
        let data = day(2_000, (0.0, Duration::ZERO));
        let n = data.violations.len() as f64;
        let share = |f: &dyn Fn(&SimViolation) -> bool| {
            data.violations.iter().filter(|v| f(v)).count() as f64 / n
        };
        for severity in Severity::ALL {
            assert!(share(&|v| v.severity == severity) > 0.05, "{severity}");
        }
        for rule in RULES {
            assert!(share(&|v| v.rule == rule) > 0.05, "{}", rule.id);
        }
        let no_evidence = share(&|v| v.evidence.is_none());
        assert!((0.02..0.09).contains(&no_evidence), "{no_evidence}");
        let extra = share(&|v| v.extra.is_some());
        assert!((0.02..0.09).contains(&extra), "{extra}");
        assert!(share(&|v| v.agent_id.is_none() && v.missing_as_null) > 0.0);
        assert!(share(&|v| v.agent_id.is_none() && !v.missing_as_null) > 0.0);
        let items: Vec<&SimEvidence> = data
            .violations
            .iter()
            .flat_map(|v| v.evidence.iter().flatten())
            .collect();
        for kind in ["TRANSCRIPT", "SCREEN", "METADATA", "ANNOTATION"] {
            assert!(items.iter().any(|e| e.kind == kind), "{kind}");
        }
        let transcripts = items.iter().filter(|e| e.kind == "TRANSCRIPT");
        assert!(transcripts
            .clone()
            .all(|e| e.start_ms < e.end_ms && matches!(e.participant, Some("AGENT" | "CUSTOMER"))));
        assert!(items.iter().any(|e| e.value.is_empty()));
        assert!(items.iter().any(|e| !e.value.is_ascii()));
        let truths: Vec<&PiiTruth> = data
            .violations
            .iter()
            .flat_map(|v| v.pii.iter().flatten())
            .collect();
        for kind in ["ssn", "credit_card", "email", "phone", "iban"] {
            assert!(truths.iter().any(|t| t.kind == kind), "{kind}");
        }
        assert!(truths.iter().any(|t| t.spoken), "numbers spoken as words");
    }

    #[test]
    fn pii_truth_points_into_each_evidence_value() {
        let data = day(2_000, (0.0, Duration::ZERO));
        for v in &data.violations {
            let items = v.evidence.as_deref().unwrap_or_default();
            assert_eq!(v.pii.len(), items.len());
            for (item, truths) in items.iter().zip(&v.pii) {
                for t in truths {
                    assert!(
                        t.start < t.end && t.end <= item.value.len(),
                        "{t:?} in {:?}",
                        item.value
                    );
                    assert!(
                        item.value.is_char_boundary(t.start) && item.value.is_char_boundary(t.end)
                    );
                    assert!(["ssn", "credit_card", "email", "phone", "iban"].contains(&t.kind));
                }
            }
        }
    }

    #[test]
    fn every_wire_object_is_a_contract_violation() {
        let data = day(1_000, (0.0, Duration::ZERO));
        for v in &data.violations {
            let json = v.json();
            for key in ["id", "ruleId", "severity", "detectedAt"] {
                assert!(json[key].is_string(), "{key} in {json}");
            }
            let typed: compliance_api::Violation = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(typed.id, v.id);
            assert_eq!(typed.detected_at, v.detected_at);
            let text = serde_json::to_string(&json).unwrap();
            assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), json);
        }
    }

    #[test]
    fn late_violations_become_visible_within_late_max() {
        let late_max = Duration::from_secs(900);
        let data = day(2_000, (0.2, late_max));
        let late: Vec<&SimViolation> = data
            .violations
            .iter()
            .filter(|v| v.visible_at != v.detected_at)
            .collect();
        assert!((300..500).contains(&late.len()), "{}", late.len());
        for v in late {
            let delay = v.visible_at.as_datetime() - v.detected_at.as_datetime();
            assert!(delay > chrono::Duration::zero() && delay <= chrono::Duration::seconds(900));
        }
    }

    #[test]
    fn broken_records_lack_one_required_field_each_and_nothing_else_changes() {
        let intact = day(2_000, (0.0, Duration::ZERO));
        let mut broken = intact.clone();
        broken.break_records(0.1, 42);
        let mut again = intact.clone();
        again.break_records(0.1, 42);
        assert_eq!(
            broken.violations, again.violations,
            "the same ones for a seed"
        );
        let mut lacking = std::collections::BTreeMap::new();
        for (b, v) in broken.violations.iter().zip(&intact.violations) {
            let (mut json, whole) = (b.json(), v.json());
            match b.served_without {
                None => assert_eq!(json, whole),
                Some(field) => {
                    assert!(json.get(field).is_none(), "{field} in {json}");
                    json[field] = whole[field].clone();
                    assert_eq!(json, whole, "only {field} is missing");
                    *lacking.entry(field).or_insert(0) += 1;
                }
            }
        }
        let n: usize = lacking.values().sum();
        assert!((120..280).contains(&n), "{n} of 2,000");
        assert_eq!(lacking.len(), REQUIRED_FIELDS.len(), "{lacking:?}");
    }
}
