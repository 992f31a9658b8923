//! `serve` over several scheduled runs against a simulator whose violations
//! keep arriving, some of them late: every violation is output exactly once.

use compliance_api::Timestamp;
use compliance_client::{
    BaseUrl, Credentials, Endpoints, ExtractorConfig, TransportConfig, ViolationExtractor,
};
use compliance_pipeline::health::Health;
use compliance_pipeline::run::AuditTarget;
use compliance_pipeline::serve::{ServeConfig, Service};
use compliance_simulator::{Faults, SimConfig, Simulator};
use compliance_store::{SqliteStore, StateStore};
use compliance_verify::{RuleMatrix, Verifier};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

fn at(offset_ms: i64) -> Timestamp {
    Timestamp::from_datetime(chrono::Utc::now() + chrono::Duration::milliseconds(offset_ms))
}

fn extractor(sim: &Simulator) -> ViolationExtractor {
    let base = BaseUrl::parse(&sim.base_url()).unwrap();
    let mut transport = TransportConfig::new(
        Endpoints {
            api: base.clone(),
            login: base,
        },
        Credentials {
            client_id: "demo-client".into(),
            client_secret: "demo-secret".to_string().into(),
        },
    );
    transport.rate_limit_per_minute = 0;
    transport.retry.base_delay = Duration::from_millis(5);
    ViolationExtractor::new(ExtractorConfig::new(transport)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_arrivals_across_scheduled_runs_are_output_exactly_once() {
    // Violations from 20 s ago until 3 s from now; 30 % become visible up to 2 s late.
    let config = SimConfig {
        violations: 400,
        start: at(-20_000),
        end: at(3_000),
        faults: Faults {
            late_arrivals: 0.3,
            late_max: Duration::from_secs(2),
            duplicates: 0.3,
            ..Faults::default()
        },
        ..SimConfig::default()
    };
    let since = at(-25_000);
    let sim = Simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn StateStore> =
        Arc::new(SqliteStore::open(dir.path().join("state.db")).unwrap());
    let out_dir = dir.path().join("out");
    let service = Service {
        extractor: extractor(&sim),
        verifier: Verifier::new(RuleMatrix::design_default(), false),
        config: ServeConfig {
            filters: Default::default(),
            page_size: compliance_api::PageSize::new(25).unwrap(),
            since: Some(since),
            every: Duration::from_millis(700),
            lookback: Duration::from_secs(3),
            lag: Duration::ZERO,
            out_dir: Some(out_dir.clone()),
            rotation: Default::default(),
            store: store.clone(),
            audit: AuditTarget {
                dir: dir.path().join("audit"),
                store: store.clone(),
                webhook: None,
            },
            retention_margin: Duration::from_secs(60),
        },
        health: Arc::new(Health::default()),
    };
    // Long enough for the data's end plus its lateness plus a look-back's worth of runs.
    let stop = async { tokio::time::sleep(Duration::from_secs(8)).await };
    let stop = futures::future::FutureExt::shared(Box::pin(stop));
    service.run(stop).await.unwrap();

    let mut counts: HashMap<String, u32> = HashMap::new();
    for entry in std::fs::read_dir(&out_dir).unwrap() {
        let path = entry.unwrap().path();
        if !path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("violations-")
        {
            continue;
        }
        for line in std::fs::read_to_string(path).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            *counts
                .entry(v["violation"]["id"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    let dataset = sim.dataset();
    let late = dataset
        .violations
        .iter()
        .filter(|v| v.visible_at != v.detected_at)
        .count();
    assert!(late > 50, "the dataset has late arrivals ({late})");
    let missing: Vec<&str> = dataset
        .violations
        .iter()
        .filter(|v| !counts.contains_key(&v.id))
        .map(|v| v.id.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "{} missing, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(3)]
    );
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "output more than once: {repeated:?}");
    assert_eq!(counts.len(), dataset.violations.len());

    // One audit record per run, and the runs re-read (and dropped) the look-back.
    let chain = compliance_audit::verify_dir(&dir.path().join("audit"), None).unwrap();
    assert!(chain.records >= 5, "{} runs", chain.records);
    let log = std::fs::read_to_string(dir.path().join("audit/audit.jsonl")).unwrap();
    let dropped: u64 = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|l| l["record"]["duplicates_dropped"].as_u64().unwrap())
        .sum();
    assert!(
        dropped > 0,
        "the look-back re-reads violations and drops them"
    );
}
