//! Shared helpers: sample records, a store and an audit dir in a temporary directory.
#![allow(dead_code)]

use compliance_api::{Filters, TimeInterval};
use compliance_audit::{AuditLog, AuditRecord, WebhookEndpoint, WebhookSecret, LOG_FILE};
use compliance_store::{SqliteStore, StateStore};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// A fixed secret, `whsec_` + base64 of 32 bytes.
pub const SECRET: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

pub fn secret() -> WebhookSecret {
    WebhookSecret::parse(SECRET).unwrap()
}

/// The `n`-th sample record; its extraction id ends in `n`.
pub fn record(n: u64) -> AuditRecord {
    let at = |s: &str| s.parse().unwrap();
    let interval = TimeInterval {
        start: at("2023-10-01T00:00:00Z"),
        end: at("2023-10-02T00:00:00Z"),
    };
    AuditRecord {
        timestamp: at("2023-10-02T00:00:03.512Z"),
        extraction_id: format!("00000000-0000-4000-8000-{n:012}").parse().unwrap(),
        payload_hash: compliance_audit::payload_hash(format!("query {n}").as_bytes()),
        total_violations: 96 + n,
        accuracy_rate: compliance_audit::accuracy_rate(96, 120),
        latency_ms: 5321.7,
        pii_exposures_detected: 14,
        false_positives_filtered: 24,
        interval,
        windows: vec![interval],
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

pub fn store(dir: &Path) -> Arc<dyn StateStore> {
    Arc::new(SqliteStore::open(dir.join("state.db")).unwrap())
}

pub fn open_log(dir: &Path, store: &Arc<dyn StateStore>, url: Option<&str>) -> AuditLog {
    let endpoint = url.map(|u| WebhookEndpoint::parse(u).unwrap());
    AuditLog::open(dir.join("audit"), store.clone(), endpoint).unwrap()
}

/// The lines of the audit log in `dir`.
pub fn lines(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join(LOG_FILE))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Replaces the audit log in `dir` with `lines`.
pub fn write_lines(dir: &Path, lines: &[String]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join(LOG_FILE), text).unwrap();
}
