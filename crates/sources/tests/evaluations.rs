//! The evaluations source over loopback HTTP against the simulator's quality
//! endpoints, checked against its ground truth: failed fatal and critical
//! questions, rescored and retracted evaluations.

mod common;

use common::*;
use compliance_api::{Severity, Timestamp, Violation};
use compliance_simulator::catalogue::QuestionKind;
use compliance_simulator::{SimClient, SimConfig, Simulator};
use compliance_sources::SourceKind;
use std::collections::{BTreeSet, HashMap};

/// Conversations on 2023-10-01; evaluations are submitted days later and
/// rescored or retracted days after that, all within this quarter.
const QUARTER: (&str, &str) = ("2023-10-01T00:00:00Z", "2023-12-30T00:00:00Z");

fn config() -> SimConfig {
    SimConfig {
        conversations: 200,
        rate_limit_per_minute: 1_000_000,
        ..SimConfig::default()
    }
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// (evaluation, question) → severity of the failed fatal and critical
/// questions in force at `now`, retracted evaluations left out.
fn truth(sim: &Simulator, now: Timestamp) -> BTreeSet<(String, String, Severity)> {
    sim.org()
        .failed_questions(now)
        .into_iter()
        .filter_map(|(e, q, kind)| {
            let severity = match kind {
                QuestionKind::Kill => Severity::Critical,
                QuestionKind::Critical => Severity::High,
                QuestionKind::Plain => return None,
            };
            Some((e.to_string(), q.to_string(), severity))
        })
        .collect()
}

fn current(v: &[Violation]) -> BTreeSet<(String, String, Severity)> {
    v.iter()
        .filter(|v| v.extra["retracted"] == false)
        .map(|v| {
            (
                v.extra["evaluationId"].as_str().unwrap().to_string(),
                v.rule_id.clone(),
                v.severity,
            )
        })
        .collect()
}

#[tokio::test]
async fn every_failed_fatal_or_critical_question_is_one_violation() {
    let sim = start(config()).await;
    let now = at("2024-01-01T00:00:00Z");
    sim.set_clock(Some(now));
    let source = open(&sim, SourceKind::Evaluations);
    let got = extract(source.as_ref(), window(QUARTER.0, QUARTER.1))
        .await
        .unwrap();
    let expected = truth(&sim, now);
    assert!(
        expected.len() > 20,
        "the dataset fails questions: {}",
        expected.len()
    );
    assert_eq!(current(&got), expected);
    let ids: BTreeSet<_> = got.iter().map(|v| &v.id).collect();
    assert_eq!(ids.len(), got.len());
    let org = sim.org();
    for v in got.iter().filter(|v| v.extra["retracted"] == false) {
        let e = org
            .evaluation(v.extra["evaluationId"].as_str().unwrap().parse().unwrap())
            .unwrap();
        let c = &org.conversations[e.conversation];
        assert_eq!(v.conversation_id.as_deref(), Some(&*c.id.to_string()));
        assert_eq!(v.agent_id.as_deref(), Some(&*c.agent_id.to_string()));
        assert_eq!(v.policy_id.as_deref(), Some(e.form().context_id));
        assert!(v
            .segment_reference
            .as_deref()
            .unwrap()
            .starts_with(&format!("evaluation/{}/questionGroup/", e.id)));
        let first = &v.evidence.as_ref().unwrap()[0];
        assert_eq!(first.kind, "METADATA");
        assert!(
            first.value.as_deref().unwrap().ends_with("answered \"No\""),
            "{first:?}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_rescore_replaces_the_earlier_record_and_a_retraction_withdraws_it() {
    let sim = start(config()).await;
    let w = window(QUARTER.0, QUARTER.1);
    // First extraction early on: some evaluations are in their first version.
    let early = at("2023-10-05T00:00:00Z");
    sim.set_clock(Some(early));
    let first = extract(open(&sim, SourceKind::Evaluations).as_ref(), w)
        .await
        .unwrap();
    assert_eq!(current(&first), truth(&sim, early));
    // Later, after rescores and retractions.
    let late = at("2024-01-01T00:00:00Z");
    sim.set_clock(Some(late));
    let second = extract(open(&sim, SourceKind::Evaluations).as_ref(), w)
        .await
        .unwrap();
    let org = sim.org();
    let changed: BTreeSet<String> = org
        .rescored(late)
        .into_iter()
        .chain(org.retracted(late))
        .map(|e| e.to_string())
        .filter(|e| first.iter().any(|v| v.extra["evaluationId"] == *e.as_str()))
        .collect();
    assert!(
        !changed.is_empty(),
        "some extracted evaluations changed later"
    );

    // The meaning of both outputs together: per violationKey, the record with
    // the latest evaluationVersion counts; retracted ones withdraw.
    let mut latest: HashMap<String, &Violation> = HashMap::new();
    for v in first.iter().chain(&second) {
        let key = v.extra["violationKey"].as_str().unwrap().to_string();
        let newer = latest.get(&key).is_none_or(|old| {
            v.extra["evaluationVersion"].as_str() >= old.extra["evaluationVersion"].as_str()
        });
        if newer {
            latest.insert(key, v);
        }
    }
    let standing: Vec<Violation> = latest
        .into_values()
        .filter(|v| v.extra["retracted"] == false)
        .cloned()
        .collect();
    // A question that passes after its rescore has no later record of its own
    // (docs/sources.md, known gap) unless the evaluation still fails another
    // question: compare only evaluations whose latest version still fails.
    let now_failing: BTreeSet<String> = truth(&sim, late).into_iter().map(|(e, _, _)| e).collect();
    let standing_now: BTreeSet<_> = current(&standing)
        .into_iter()
        .filter(|(e, _, _)| now_failing.contains(e) || !changed.contains(e))
        .collect();
    assert_eq!(standing_now, truth(&sim, late));

    // A retracted evaluation that was extracted before is written again, retracted.
    for e in org.retracted(late) {
        let e = e.to_string();
        if first.iter().any(|v| v.extra["evaluationId"] == *e.as_str()) {
            assert!(
                second.iter().any(|v| v.extra["evaluationId"] == *e.as_str() && v.extra["retracted"] == true),
                "retraction of {e} written"
            );
        }
    }
    // Unchanged evaluations keep their ids: a rerun writes nothing new for them.
    let second_ids: BTreeSet<&String> = second.iter().map(|v| &v.id).collect();
    for v in first
        .iter()
        .filter(|v| !changed.contains(v.extra["evaluationId"].as_str().unwrap()))
    {
        assert!(second_ids.contains(&v.id), "{} kept its id", v.id);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn intervals_longer_than_the_search_allows_are_split() {
    let sim = start(config()).await;
    sim.set_clock(Some(at("2024-01-01T00:00:00Z")));
    let source = open(&sim, SourceKind::Evaluations);
    // Half a year: more than the search's three months.
    let w = window("2023-07-01T00:00:00Z", "2024-01-01T00:00:00Z");
    let plan = source.plan(&query(w)).await.unwrap();
    assert!(plan.windows.len() >= 3, "{}", plan.windows.len());
    let got = extract(source.as_ref(), w).await.unwrap();
    assert_eq!(current(&got), truth(&sim, at("2024-01-01T00:00:00Z")));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_missing_permission_is_named_with_the_source() {
    let sim = start(SimConfig {
        clients: vec![SimClient::lacking(
            "c",
            "s",
            ["quality:evaluationForm:view"],
        )],
        ..config()
    })
    .await;
    sim.set_clock(Some(at("2024-01-01T00:00:00Z")));
    let source = open_as(&sim, SourceKind::Evaluations, "c", "s");
    let e = extract(source.as_ref(), window(QUARTER.0, QUARTER.1))
        .await
        .unwrap_err();
    let message = e.to_string();
    assert!(
        message.contains("`quality:evaluationForm:view`") && message.contains("evaluations"),
        "{message}"
    );
    sim.shutdown().await;
}
