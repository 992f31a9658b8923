//! The speech-analytics source over loopback HTTP against the simulator's
//! real endpoints, checked against the simulator's ground truth.

mod common;

use common::*;
use compliance_api::Severity;
use compliance_client::{ApiClient, Error, Resume};
use compliance_simulator::{Faults, SimClient, SimConfig, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
use compliance_sources::speech::SpeechConfig;
use compliance_sources::{Source, SourceKind, SourceRules, SpeechAnalytics};
use std::collections::{BTreeSet, HashSet};

const DAY: (&str, &str) = ("2023-10-01T00:00:00Z", "2023-10-02T00:00:00Z");

fn config(conversations: usize) -> SimConfig {
    SimConfig {
        conversations,
        // Tests do not pace themselves; the pacing has its own tests.
        rate_limit_per_minute: 1_000_000,
        ..SimConfig::default()
    }
}

/// (conversation, rule) pairs the simulator says fired, for the rules file's
/// categories, among conversations the day covers wholly (aggregates leave
/// out the others, as the real API does).
fn truth(sim: &compliance_simulator::Simulator) -> BTreeSet<(String, String)> {
    let org = sim.org();
    let rules = rules(SourceKind::SpeechAnalytics);
    let (start, end) = (DAY.0.parse().unwrap(), DAY.1.parse().unwrap());
    let inside: HashSet<_> = org
        .conversations
        .iter()
        .filter(|c| c.start >= start && c.end <= end)
        .map(|c| c.id)
        .collect();
    org.category_hits()
        .into_iter()
        .filter(|(c, k)| inside.contains(c) && !rules.regulations(k).is_empty())
        .map(|(c, k)| (c.to_string(), k.to_string()))
        .collect()
}

fn pairs(v: &[compliance_api::Violation]) -> BTreeSet<(String, String)> {
    v.iter()
        .map(|v| (v.conversation_id.clone().unwrap(), v.rule_id.clone()))
        .collect()
}

#[tokio::test]
async fn every_category_that_fired_is_one_violation_with_its_evidence() {
    let sim = start(config(300)).await;
    let source = open(&sim, SourceKind::SpeechAnalytics);
    let got = extract(source.as_ref(), window(DAY.0, DAY.1))
        .await
        .unwrap();
    let expected = truth(&sim);
    assert!(
        expected.len() > 20,
        "the dataset fires categories: {}",
        expected.len()
    );
    assert_eq!(pairs(&got), expected);
    let ids: HashSet<_> = got.iter().map(|v| &v.id).collect();
    assert_eq!(ids.len(), got.len(), "ids are unique");
    let org = sim.org();
    for v in &got {
        let c = org
            .conversation(v.conversation_id.as_ref().unwrap().parse().unwrap())
            .unwrap();
        assert_eq!(v.agent_id.as_deref(), Some(&*c.agent_id.to_string()));
        assert_eq!(v.queue_id.as_deref(), Some(&*c.queue_id.to_string()));
        assert_eq!(v.extra["source"], "speech-analytics");
        let evidence = v.evidence.as_ref().unwrap();
        assert!(!evidence.is_empty(), "{v:?}");
        // Inverted categories say what was missing; the others quote the transcript.
        let inverted = [
            "7453dd0c-7737-4270-a37f-d70c5c0adc8e",
            "c514d4cf-27d3-4e1f-819e-343e4eb203f7",
        ];
        if inverted.contains(&v.rule_id.as_str()) {
            assert_eq!(evidence[0].kind, "METADATA");
            assert!(evidence[0]
                .value
                .as_deref()
                .unwrap()
                .contains("was not detected"));
        } else {
            assert!(evidence.iter().all(|e| e.kind == "TRANSCRIPT"), "{v:?}");
            let said: Vec<String> = c.phrases().into_iter().map(|p| p.text).collect();
            for e in evidence {
                assert!(said.contains(e.value.as_ref().unwrap()), "{e:?}");
                assert!(e.start_ms.unwrap() >= 0 && e.end_ms.unwrap() > e.start_ms.unwrap());
            }
            assert!(v
                .segment_reference
                .as_deref()
                .unwrap()
                .starts_with(&format!("conversation/{}/communication/", c.id)));
        }
    }
    // Severity comes from the rules file.
    assert!(got
        .iter()
        .filter(|v| v.rule_id == "1ee2df96-8277-4361-8519-bacae5255352")
        .all(|v| v.severity == Severity::Critical));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_rerun_gives_the_same_ids_and_a_resume_from_any_batch_completes_exactly_once() {
    let sim = start(config(200)).await;
    let small_batches = || {
        let client = ApiClient::new(transport(&sim, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)).unwrap();
        let rules = SourceRules::from_matrix(
            &rules(SourceKind::SpeechAnalytics),
            SourceKind::SpeechAnalytics,
        )
        .unwrap();
        let tuning = SpeechConfig {
            conversations_per_batch: 10,
            ..SpeechConfig::default()
        };
        SpeechAnalytics::new(client, &rules, &Default::default(), tuning).unwrap()
    };
    let source = small_batches();
    let w = window(DAY.0, DAY.1);
    let plan = source.plan(&query(w)).await.unwrap();
    let (whole, points) = collect(&source, plan.clone(), Resume::default())
        .await
        .unwrap();
    assert!(points.len() >= 3, "several batches: {}", points.len());
    let again = extract(&source, w).await.unwrap();
    assert_eq!(
        whole.iter().map(|v| &v.id).collect::<Vec<_>>(),
        again.iter().map(|v| &v.id).collect::<Vec<_>>()
    );
    // Killed after batch k: what was passed on, then a fresh source resumed
    // from the checkpoint, is the whole, each violation once.
    let mut passed = 0;
    let mut batches = source.fetch(plan.clone(), Resume::default());
    for (k, point) in points.iter().enumerate() {
        let batch = batches.next().await.unwrap().unwrap();
        passed += batch.violations.len();
        let fresh = small_batches();
        let (rest, _) = collect(&fresh, plan.clone(), point.clone()).await.unwrap();
        let ids: Vec<&String> = whole[..passed].iter().chain(&rest).map(|v| &v.id).collect();
        assert_eq!(
            ids,
            whole.iter().map(|v| &v.id).collect::<Vec<_>>(),
            "after batch {k}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn expired_transcript_urls_are_asked_for_again() {
    let sim = start(SimConfig {
        faults: Faults {
            transcript_url_expiries: 0.25,
            ..Faults::default()
        },
        ..config(150)
    })
    .await;
    let source = open(&sim, SourceKind::SpeechAnalytics);
    let got = extract(source.as_ref(), window(DAY.0, DAY.1))
        .await
        .unwrap();
    assert_eq!(pairs(&got), truth(&sim));
    let snapshot = source.stats().snapshot();
    assert!(snapshot.downloads > 0);
    // Some downloads were refused as expired and fetched again through a new URL.
    assert!(sim.stats().status(403) > 0, "the fault fired");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failed_or_expired_job_is_submitted_again_and_a_second_failure_names_the_job() {
    // A day: long enough for a job, not the synchronous query.
    let day = window(DAY.0, DAY.1);
    let sim = start(SimConfig {
        faults: Faults {
            job_failures: 1.0,
            ..Faults::default()
        },
        ..config(50)
    })
    .await;
    let source = open(&sim, SourceKind::SpeechAnalytics);
    let e = extract(source.as_ref(), day).await.unwrap_err();
    assert!(matches!(e, Error::JobFailed { .. }), "{e}");
    let message = e.to_string();
    assert!(
        message.contains("transcript aggregates job") && message.contains("FAILED twice"),
        "{message}"
    );
    assert_eq!(
        e.kind(),
        compliance_client::ErrorKind::Unavailable,
        "exit 4"
    );
    sim.shutdown().await;

    let sim = start(SimConfig {
        faults: Faults {
            job_expiries: 0.5,
            ..Faults::default()
        },
        ..config(300)
    })
    .await;
    let source = open(&sim, SourceKind::SpeechAnalytics);
    // With page sizes small enough for several result pages, expiries strike mid-way.
    let got = extract(source.as_ref(), day).await;
    match got {
        Ok(got) => assert_eq!(pairs(&got), truth(&sim)),
        // Two expiries in a row for one query are a clear failure, not a silent gap.
        Err(e) => assert!(
            matches!(e, Error::JobFailed { ref state, .. } if state == "EXPIRED"),
            "{e}"
        ),
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_missing_permission_is_named_with_the_source() {
    let sim = start(SimConfig {
        clients: vec![SimClient::lacking("c", "s", ["recording:recording:view"])],
        ..config(50)
    })
    .await;
    let source = open_as(&sim, SourceKind::SpeechAnalytics, "c", "s");
    let e = extract(source.as_ref(), window(DAY.0, DAY.1))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), compliance_client::ErrorKind::Refused, "exit 3");
    let message = e.to_string();
    assert!(
        message.contains("`recording:recording:view`") && message.contains("speech-analytics"),
        "{message}"
    );
    sim.shutdown().await;
}
