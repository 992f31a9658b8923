//! `serve` over several scheduled runs against a simulator whose violations
//! keep arriving, some of them late: every violation is output exactly once.

mod common;

use common::extractor;
use compliance_api::Timestamp;
use compliance_pipeline::{AuditTarget, Health, ServeConfig, Service};
use compliance_simulator::{Faults, SimConfig, Simulator};
use compliance_store::{
    Anchor, AppendIntent, DisabledEndpoint, OutboxEntry, SeenId, SqliteStore, StateStore,
    StoreError,
};
use compliance_verify::{RuleMatrix, Verifier};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn at(offset_ms: i64) -> Timestamp {
    Timestamp::from_datetime(chrono::Utc::now() + chrono::Duration::milliseconds(offset_ms))
}

/// A service over `sim` that runs every 700 ms, writing under `dir`.
fn service(
    sim: &Simulator,
    since: Timestamp,
    store: &Arc<dyn StateStore>,
    dir: &Path,
    lookback: Duration,
) -> Service {
    Service {
        source: Box::new(extractor(sim)),
        verifier: Verifier::new(RuleMatrix::design_default(), false),
        config: ServeConfig {
            filters: Default::default(),
            page_size: compliance_api::PageSize::new(25).unwrap(),
            since: Some(since),
            every: Duration::from_millis(700),
            lookback,
            lag: Duration::ZERO,
            out_dir: Some(dir.join("out")),
            rotation: Default::default(),
            stream: None,
            store: store.clone(),
            audit: AuditTarget {
                dir: dir.join("audit"),
                store: store.clone(),
                webhook: None,
            },
            retention_margin: Duration::from_secs(60),
        },
        health: Arc::new(Health::default()),
    }
}

/// How often each violation id is in the output files of `out_dir`.
fn output_counts(out_dir: &Path) -> HashMap<String, u32> {
    let mut counts: HashMap<String, u32> = HashMap::new();
    for entry in std::fs::read_dir(out_dir).unwrap() {
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
    counts
}

/// The audit log's records under `dir`, parsed.
fn audit_records(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("audit/audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect()
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
    let service = service(&sim, since, &store, dir.path(), Duration::from_secs(3));
    // Long enough for the data's end plus its lateness plus a look-back's worth of runs.
    let stop = async { tokio::time::sleep(Duration::from_secs(8)).await };
    let stop = futures::future::FutureExt::shared(Box::pin(stop));
    service.run(stop).await.unwrap();

    let counts = output_counts(&out_dir);
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
    let dropped: u64 = audit_records(dir.path())
        .iter()
        .map(|l| l["record"]["duplicates_dropped"].as_u64().unwrap())
        .sum();
    assert!(
        dropped > 0,
        "the look-back re-reads violations and drops them"
    );
    // Runs after the data's end found nothing new, and still left a record.
    let records = audit_records(dir.path());
    assert!(
        records
            .iter()
            .any(|r| r["record"]["violations_fetched"] == 0),
        "an empty run has its record too"
    );
    let fetched: u64 = records
        .iter()
        .map(|r| r["record"]["violations_fetched"].as_u64().unwrap())
        .sum();
    assert_eq!(fetched, 400, "each violation counted in one record");
}

/// The real SQLite store, except that the page commits (saves with ids)
/// numbered in `fail` fail, as a full disk or a lock held too long would.
struct FailingCommits {
    inner: SqliteStore,
    path: std::path::PathBuf,
    fail: Vec<usize>,
    commits: std::sync::atomic::AtomicUsize,
}

impl StateStore for FailingCommits {
    fn file(&self) -> Option<&Path> {
        self.inner.file()
    }
    fn anchor(&self, d: &str) -> Result<Option<Anchor>, StoreError> {
        self.inner.anchor(d)
    }
    fn set_anchor(&self, d: &str, a: &Anchor) -> Result<(), StoreError> {
        self.inner.set_anchor(d, a)
    }
    fn begin_append(&self, i: &AppendIntent) -> Result<(), StoreError> {
        self.inner.begin_append(i)
    }
    fn pending_append(&self, d: &str) -> Result<Option<AppendIntent>, StoreError> {
        self.inner.pending_append(d)
    }
    fn finish_append(&self, d: &str, seq: u64) -> Result<bool, StoreError> {
        self.inner.finish_append(d, seq)
    }
    fn abandon_append(&self, d: &str) -> Result<(), StoreError> {
        self.inner.abandon_append(d)
    }
    fn pending_webhooks(&self, e: &str) -> Result<Vec<OutboxEntry>, StoreError> {
        self.inner.pending_webhooks(e)
    }
    fn webhook(&self, id: &str) -> Result<Option<OutboxEntry>, StoreError> {
        self.inner.webhook(id)
    }
    fn mark_delivered(&self, id: &str, status: u16) -> Result<(), StoreError> {
        self.inner.mark_delivered(id, status)
    }
    fn record_failure(
        &self,
        id: &str,
        status: Option<u16>,
        error: &str,
        next: Option<i64>,
    ) -> Result<(), StoreError> {
        self.inner.record_failure(id, status, error, next)
    }
    fn disable_endpoint(&self, e: &str, reason: &str) -> Result<(), StoreError> {
        self.inner.disable_endpoint(e, reason)
    }
    fn enable_endpoint(&self, e: &str) -> Result<(), StoreError> {
        self.inner.enable_endpoint(e)
    }
    fn disabled_endpoint(&self, e: &str) -> Result<Option<DisabledEndpoint>, StoreError> {
        self.inner.disabled_endpoint(e)
    }
    fn outbox_depth(&self) -> Result<u64, StoreError> {
        self.inner.outbox_depth()
    }
    fn load_progress(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.load_progress(key)
    }
    fn save_progress(&self, key: &str, state: &str, seen: &[SeenId]) -> Result<(), StoreError> {
        if !seen.is_empty() {
            let n = 1 + self
                .commits
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if self.fail.contains(&n) {
                return Err(StoreError::Locked {
                    path: self.path.clone(),
                });
            }
        }
        self.inner.save_progress(key, state, seen)
    }
    fn clear_progress(&self, key: &str) -> Result<(), StoreError> {
        self.inner.clear_progress(key)
    }
    fn seen_among(&self, scope: &str, ids: &[&str]) -> Result<HashSet<String>, StoreError> {
        self.inner.seen_among(scope, ids)
    }
    fn prune_seen(&self, scope: &str, before_ms: i64) -> Result<u64, StoreError> {
        self.inner.prune_seen(scope, before_ms)
    }
}

/// A page whose commit fails after its lines are written, the run's first
/// page included, is cut back and output again by the next run: nothing is
/// lost or doubled. The pages a failed run did commit are counted in the
/// next audit record: the records together count every violation once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_commits_lose_and_double_nothing_and_every_violation_is_audited_once() {
    let config = SimConfig {
        violations: 300,
        start: at(-20_000),
        end: at(-2_000),
        ..SimConfig::default()
    };
    let sim = Simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    // 300 violations in pages of 25: the first run fails on its first page's
    // commit, the second on its fourth page's (after three committed).
    let failing = Arc::new(FailingCommits {
        inner: SqliteStore::open(&path).unwrap(),
        path,
        fail: vec![1, 5],
        commits: Default::default(),
    });
    let store: Arc<dyn StateStore> = failing.clone();
    let service = service(
        &sim,
        at(-25_000),
        &store,
        dir.path(),
        Duration::from_secs(1),
    );
    // Time for the two failing runs and a third that completes, with room for a slow machine.
    let stop = async { tokio::time::sleep(Duration::from_millis(4_000)).await };
    let stop = futures::future::FutureExt::shared(Box::pin(stop));
    service.run(stop).await.unwrap();
    assert!(
        failing.commits.load(std::sync::atomic::Ordering::SeqCst) > 5,
        "both failures happened"
    );

    let counts = output_counts(&dir.path().join("out"));
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "output more than once: {repeated:?}");
    assert_eq!(counts.len(), 300, "every violation of the simulator");

    let records = audit_records(dir.path());
    let audited: u64 = records
        .iter()
        .map(|r| r["record"]["violations_fetched"].as_u64().unwrap())
        .sum();
    assert_eq!(audited, 300, "each output violation in exactly one record");
    // The record after the failures carries the three pages committed before
    // the second failure, which the run that wrote it re-read and dropped.
    assert_eq!(records[0]["record"]["violations_fetched"], 300);
    let dropped = records[0]["record"]["duplicates_dropped"].as_u64().unwrap();
    assert!(dropped > 0 && dropped < 300, "{records:#?}");
    compliance_audit::verify_dir(&dir.path().join("audit"), None).unwrap();
}
