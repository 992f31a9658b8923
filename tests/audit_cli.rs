//! `genesys-compliance audit verify`: exit codes and what it prints.

use compliance_api::{Filters, TimeInterval};
use compliance_audit::{anchor_key, AuditLog, AuditRecord, LOG_FILE};
use compliance_store::{SqliteStore, StateStore};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

fn record(n: u64) -> AuditRecord {
    let at = |s: &str| s.parse().unwrap();
    let interval = TimeInterval {
        start: at("2023-10-01T00:00:00Z"),
        end: at("2023-10-02T00:00:00Z"),
    };
    AuditRecord {
        timestamp: at("2023-10-02T00:00:03.512Z"),
        extraction_id: format!("00000000-0000-4000-8000-{n:012}").parse().unwrap(),
        payload_hash: compliance_audit::payload_hash(b"{}"),
        total_violations: 96,
        accuracy_rate: 0.8,
        latency_ms: 5321.7,
        pii_exposures_detected: 14,
        false_positives_filtered: 24,
        interval,
        windows: vec![interval],
        filters: Filters::default(),
        pages: 3,
        violations_fetched: 120,
        duplicates_dropped: 0,
        by_severity: Default::default(),
        by_status: Default::default(),
        by_pii_type: Default::default(),
        retries: 0,
        program_version: "test".into(),
    }
}

/// A working directory with `genesys-compliance.db` and an audit dir `audit`
/// of three records.
fn workdir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let store: Arc<dyn StateStore> =
        Arc::new(SqliteStore::open(tmp.path().join("genesys-compliance.db")).unwrap());
    let mut log = AuditLog::open(tmp.path().join("audit"), store, None).unwrap();
    for n in 1..=3 {
        log.append(&record(n)).unwrap();
    }
    let dir = log.dir().to_path_buf();
    (tmp, dir)
}

fn run(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_genesys-compliance"))
        .current_dir(cwd)
        .args(args)
        .output()
        .unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn head(cwd: &Path) -> String {
    let store = SqliteStore::open(cwd.join("genesys-compliance.db")).unwrap();
    let a = store
        .anchor(&anchor_key(&cwd.join("audit")).unwrap())
        .unwrap()
        .unwrap();
    format!("{}:{}", a.seq, a.hash)
}

#[test]
fn an_intact_trail_exits_0_and_names_its_anchor() {
    let (tmp, _) = workdir();
    // The default state store in the working directory is found.
    let (code, out, err) = run(tmp.path(), &["audit", "verify", "audit"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("intact: 3 records"), "{out}");
    assert!(out.contains("state store genesys-compliance.db"), "{out}");
    let expect = head(tmp.path());
    let (code, out, _) = run(
        tmp.path(),
        &["audit", "verify", "audit", "--expect-head", &expect],
    );
    assert_eq!(code, 0);
    assert!(out.contains("--expect-head"), "{out}");
}

#[test]
fn without_an_anchor_it_warns_that_truncation_cannot_be_ruled_out() {
    let (_tmp, dir) = workdir();
    let elsewhere = tempfile::tempdir().unwrap();
    let (code, out, _) = run(
        elsewhere.path(),
        &["audit", "verify", dir.to_str().unwrap()],
    );
    assert_eq!(code, 0);
    assert!(out.contains("cannot be ruled out"), "{out}");
}

#[test]
fn a_modified_record_exits_1_naming_it() {
    let (tmp, dir) = workdir();
    let log = dir.join(LOG_FILE);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let changed = lines[1].replace("\"total_violations\":96", "\"total_violations\":95");
    assert_ne!(changed, lines[1]);
    std::fs::write(&log, format!("{}\n{changed}\n{}\n", lines[0], lines[2])).unwrap();
    let (code, out, err) = run(tmp.path(), &["audit", "verify", "audit"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("modified: record seq 2"), "{err}");
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn cut_newest_records_exit_1_against_the_state_or_the_expected_head() {
    let (tmp, dir) = workdir();
    let expect = head(tmp.path());
    let log = dir.join(LOG_FILE);
    let text = std::fs::read_to_string(&log).unwrap();
    let kept: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
    std::fs::write(&log, kept).unwrap();
    std::fs::remove_file(dir.join("extraction_00000000-0000-4000-8000-000000000003.json")).unwrap();
    let (code, _, err) = run(tmp.path(), &["audit", "verify", "audit"]);
    assert_eq!(code, 1);
    assert!(err.contains("truncated: record seq 3"), "{err}");
    let elsewhere = tempfile::tempdir().unwrap();
    let args = [
        "audit",
        "verify",
        dir.to_str().unwrap(),
        "--expect-head",
        &expect,
    ];
    let (code, _, err) = run(elsewhere.path(), &args);
    assert_eq!(code, 1);
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let (tmp, _) = workdir();
    let (code, _, err) = run(tmp.path(), &["audit", "verify", "no-such-dir"]);
    assert_eq!(code, 2);
    assert!(err.contains("no-such-dir"), "{err}");
    let (code, _, err) = run(
        tmp.path(),
        &["audit", "verify", "audit", "--expect-head", "3"],
    );
    assert_eq!(code, 2);
    assert!(err.contains("SEQ:HASH"), "{err}");
    let (code, _, err) = run(
        tmp.path(),
        &["audit", "verify", "audit", "--state", "nope.db"],
    );
    assert_eq!(code, 2);
    assert!(err.contains("nope.db"), "{err}");
    assert!(!tmp.path().join("nope.db").exists());
}
