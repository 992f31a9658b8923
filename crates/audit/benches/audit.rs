//! What the audit side costs: a durable append (fsync of the log, the
//! extraction file, its directory, and two SQLite commits), verification of a
//! long trail, and the per-record hashing and signing.
//!
//! `CARGO_TARGET_DIR=... cargo bench -p compliance-audit --bench audit`

use compliance_api::{Filters, TimeInterval};
use compliance_audit::{
    entry_hash, extraction_file_name, verify_dir, AuditLog, AuditRecord, ChainEntry, WebhookSecret,
    GENESIS_HASH, LOG_FILE,
};
use compliance_store::{SqliteStore, StateStore};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::collections::BTreeMap;
use std::sync::Arc;

fn record(n: u64) -> AuditRecord {
    let at = |s: &str| s.parse().unwrap();
    let interval = TimeInterval {
        start: at("2023-10-01T00:00:00Z"),
        end: at("2023-10-02T00:00:00Z"),
    };
    AuditRecord {
        timestamp: at("2023-10-02T00:00:03.512Z"),
        extraction_id: uuid::Uuid::from_u128(n as u128),
        payload_hash: compliance_audit::payload_hash(b"{}"),
        total_violations: 96,
        accuracy_rate: 0.8,
        latency_ms: 5321.7,
        pii_exposures_detected: 14,
        false_positives_filtered: 24,
        interval,
        windows: vec![interval; 4],
        filters: Filters::default(),
        pages: 3,
        violations_fetched: 120,
        duplicates_dropped: 2,
        by_severity: BTreeMap::from([("HIGH".into(), 70), ("LOW".into(), 50)]),
        by_status: BTreeMap::from([("false_positive".into(), 24), ("validated".into(), 96)]),
        by_pii_type: BTreeMap::from([("credit_card".into(), 9), ("email".into(), 5)]),
        retries: 1,
        source: None,
        api_requests: None,
        late_pii: 0,
        program_version: "0.1.0".into(),
    }
}

fn append(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::open(tmp.path().join("s.db")).unwrap());
    let endpoint = compliance_audit::WebhookEndpoint::parse("http://127.0.0.1:9/h").unwrap();
    let mut log = AuditLog::open(tmp.path().join("audit"), store, Some(endpoint)).unwrap();
    let mut n = 0;
    c.bench_function("append (durable, webhook queued)", |b| {
        b.iter(|| {
            n += 1;
            log.append(&record(n)).unwrap()
        })
    });
}

const TRAIL: u64 = 10_000;

fn verify(c: &mut Criterion) {
    // Written directly (no fsync) so that setting up is quick; the files are
    // what AuditLog writes.
    let tmp = tempfile::tempdir().unwrap();
    let mut prev = GENESIS_HASH.to_owned();
    let mut text = String::new();
    for n in 1..=TRAIL {
        let value = serde_json::to_value(record(n)).unwrap();
        let name = extraction_file_name(value["extraction_id"].as_str().unwrap());
        std::fs::write(
            tmp.path().join(name),
            serde_json::to_vec_pretty(&value).unwrap(),
        )
        .unwrap();
        let entry = ChainEntry::new(n, &prev, value);
        prev = entry.hash.clone();
        text.push_str(&entry.to_line());
        text.push('\n');
    }
    std::fs::write(tmp.path().join(LOG_FILE), &text).unwrap();
    let mut group = c.benchmark_group("trail");
    group.sample_size(10);
    group.throughput(Throughput::Elements(TRAIL));
    group.bench_function(format!("verify_dir, {TRAIL} records"), |b| {
        b.iter(|| assert_eq!(verify_dir(tmp.path(), None).unwrap().records, TRAIL))
    });
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::open(tmp.path().join("s.db")).unwrap());
    group.bench_function(format!("AuditLog::open, {TRAIL} records"), |b| {
        b.iter(|| AuditLog::open(tmp.path(), store.clone(), None).unwrap())
    });
    group.finish();
    println!("trail of {TRAIL} records: audit.jsonl {} bytes", text.len());
}

fn per_record(c: &mut Criterion) {
    let value = serde_json::to_value(record(1)).unwrap();
    c.bench_function("entry_hash (canonical JSON + SHA-256)", |b| {
        b.iter(|| entry_hash(7, GENESIS_HASH, &value))
    });
    let secret = WebhookSecret::generate();
    let body = serde_json::to_vec(&value).unwrap();
    c.bench_function(&format!("sign webhook ({} byte body)", body.len()), |b| {
        b.iter(|| secret.sign("msg_0123456789abcdef", 1_700_000_000, &body))
    });
}

criterion_group!(benches, per_record, verify, append);
criterion_main!(benches);
