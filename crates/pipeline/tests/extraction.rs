//! One extraction end to end over real loopback HTTP: the simulator upstream,
//! a signature-checking webhook receiver downstream, SQLite state on disk.

mod common;

use common::extractor;
use compliance_audit::{verify_dir, WebhookEndpoint, WebhookSecret};
use compliance_client::{Query, Window};
use compliance_pipeline::{AuditTarget, ExtractJob, OutputTarget, RunError, Webhook};
use compliance_receiver::WebhookReceiver;
use compliance_simulator::{SimConfig, Simulator};
use compliance_sources::SourceKind;
use compliance_store::{SqliteStore, StateStore};
use compliance_verify::{RuleMatrix, Verifier};
use serde_json::Value;
use std::sync::Arc;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[tokio::test]
async fn every_violation_is_output_once_verified_redacted_and_audited() {
    let config = SimConfig {
        violations: 1_500,
        ..SimConfig::default()
    };
    let (start, end) = (config.start, config.end);
    let sim = Simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let receiver = WebhookReceiver::start(Some(secret.clone())).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn StateStore> =
        Arc::new(SqliteStore::open(dir.path().join("state.db")).unwrap());

    let extractor = extractor(&sim);
    let query = Query {
        window: Window::new(start, end).unwrap(),
        filters: Default::default(),
        page_size: compliance_api::PageSize::new(200).unwrap(),
    };
    let out = dir.path().join("violations.jsonl");
    let audit = AuditTarget {
        dir: dir.path().join("audit"),
        store: store.clone(),
        webhook: Some(Webhook {
            endpoint: WebhookEndpoint::parse(&receiver.url()).unwrap(),
            secret: Some(secret),
            retry: None,
            ca: None,
            enable_command: None,
        }),
    };
    let verifier = Verifier::new(RuleMatrix::design_default(), false);
    let job = ExtractJob {
        source: SourceKind::Agentassist,
        query,
        output: OutputTarget::File(out.clone()),
        store: Some(store.clone()),
        audit: Some(audit),
    };
    let report = job
        .run(&extractor, &verifier, std::future::pending())
        .await
        .unwrap();
    assert!(!report.resumed);

    // Every violation exactly once, in the API's order.
    let dataset = sim.dataset();
    let lines: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = lines
        .iter()
        .map(|l| l["violation"]["id"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = dataset.violations.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(ids, expected);

    // No byte of planted PII survives, and every record carries a verdict.
    for (line, truth) in lines.iter().zip(&dataset.violations) {
        let status = line["verdict"]["status"].as_str().unwrap();
        assert!(status == "validated" || status == "false_positive");
        let original = truth.json();
        for (i, pii) in truth.pii.iter().enumerate() {
            let value = original["evidence"][i]["value"].as_str().unwrap();
            let written = line["violation"]["evidence"][i]["value"].as_str().unwrap();
            for p in pii {
                let secret_text = &value[p.start..p.end];
                assert!(
                    !written.contains(secret_text),
                    "{} leaked {secret_text:?} in {written:?}",
                    truth.id
                );
            }
        }
    }

    // The record counts what was output; the chain is intact; the webhook arrived signed.
    let record = &report.record;
    assert_eq!(record.violations_fetched, dataset.violations.len() as u64);
    assert_eq!(
        record.total_violations + record.false_positives_filtered,
        record.violations_fetched
    );
    assert!(record.pii_exposures_detected > 0);
    // Its breakdowns are those of the output, line by line.
    let mut by_severity = std::collections::BTreeMap::new();
    let mut by_status = std::collections::BTreeMap::new();
    let mut by_pii_type = std::collections::BTreeMap::new();
    for line in &lines {
        let severity = line["violation"]["severity"].as_str().unwrap().to_string();
        *by_severity.entry(severity).or_insert(0) += 1;
        let status = line["verdict"]["status"].as_str().unwrap().to_string();
        *by_status.entry(status).or_insert(0) += 1;
        for finding in line["verdict"]["pii"].as_array().unwrap() {
            let kind = finding["type"].as_str().unwrap().to_string();
            *by_pii_type.entry(kind).or_insert(0) += 1;
        }
    }
    assert_eq!(record.by_severity, by_severity);
    assert_eq!(record.by_status, by_status);
    assert_eq!(record.by_pii_type, by_pii_type);
    assert_eq!(record.total_violations, by_status["validated"]);
    assert_eq!(
        record.pii_exposures_detected,
        by_pii_type.values().sum::<u64>()
    );
    let validated = by_status["validated"] as f64;
    assert!((record.accuracy_rate - validated / lines.len() as f64).abs() < 1e-12);
    // What was asked and how: the interval, its windows, the pages fetched,
    // and the hash of the query payload.
    assert_eq!(record.interval, Window::new(start, end).unwrap().interval());
    assert!(!record.windows.is_empty());
    assert_eq!(record.windows.first().unwrap().start, start);
    assert_eq!(record.windows.last().unwrap().end, end);
    assert_eq!(record.pages, report.client.pages);
    let payload = compliance_api::ViolationQuery {
        time_interval: record.interval,
        filters: Default::default(),
        size: compliance_api::PageSize::new(200).unwrap(),
        cursor: None,
    };
    assert_eq!(
        record.payload_hash,
        compliance_audit::payload_hash(&serde_json::to_vec(&payload).unwrap()),
        "the hash of the whole interval's query payload, as the contract's JSON"
    );
    let appended = report.appended.as_ref().unwrap();
    let anchor = compliance_audit::Anchor {
        seq: appended.seq,
        hash: appended.hash.clone(),
    };
    let chain = verify_dir(&dir.path().join("audit"), Some(&anchor)).unwrap();
    assert_eq!(chain.records, 1);
    let delivery = report.delivery.as_ref().unwrap();
    assert_eq!(store.outbox_depth().unwrap(), 0);
    assert!(delivery.is_complete(), "{delivery:?}");
    let received = receiver.messages();
    assert_eq!(received.len(), 1);
    assert!(received[0].verified);
}

#[tokio::test]
async fn a_stopped_job_continues_where_it_stopped_and_outputs_each_violation_once() {
    let config = SimConfig {
        violations: 2_000,
        latency: std::time::Duration::from_millis(5),
        faults: compliance_simulator::Faults {
            duplicates: 0.5,
            ..Default::default()
        },
        ..SimConfig::default()
    };
    let (start, end) = (config.start, config.end);
    let sim = Simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn StateStore> =
        Arc::new(SqliteStore::open(dir.path().join("state.db")).unwrap());
    let out = dir.path().join("violations.jsonl");
    let job = || ExtractJob {
        source: SourceKind::Agentassist,
        query: Query {
            window: Window::new(start, end).unwrap(),
            filters: Default::default(),
            page_size: compliance_api::PageSize::new(50).unwrap(),
        },
        output: OutputTarget::File(out.clone()),
        store: Some(store.clone()),
        audit: Some(AuditTarget {
            dir: dir.path().join("audit"),
            store: store.clone(),
            webhook: None,
        }),
    };
    let verifier = Verifier::new(RuleMatrix::design_default(), false);
    let key = job().key();

    // Stop once a few pages are checkpointed.
    let watched = store.clone();
    let stop = async move {
        loop {
            let saved = watched.load_progress(&key).unwrap().unwrap_or_default();
            if saved.contains("\"output\":") && !saved.contains("\"output\":0,") {
                let v: Value = serde_json::from_str(&saved).unwrap();
                if v["progress"]["pages"].as_u64().unwrap_or(0) >= 3 {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    };
    let first = job().run(&extractor(&sim), &verifier, stop).await;
    assert!(matches!(first, Err(RunError::Interrupted)), "{first:?}");
    assert!(!out.exists(), "an unfinished output is not put in place");

    let report = job()
        .run(&extractor(&sim), &verifier, std::future::pending())
        .await
        .unwrap();
    assert!(report.resumed);
    let ids: Vec<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["violation"]["id"].as_str().unwrap().to_string()
        })
        .collect();
    let expected: Vec<String> = sim
        .dataset()
        .violations
        .iter()
        .map(|v| v.id.clone())
        .collect();
    assert_eq!(ids, expected);
    assert_eq!(report.record.violations_fetched, expected.len() as u64);
    // The finished job leaves no checkpoint behind: the next run starts afresh.
    assert_eq!(store.load_progress(&job().key()).unwrap(), None);
}
