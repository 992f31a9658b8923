//! `genesys-compliance audit verify` and `audit enable-webhook`: exit codes
//! and what they print, one test per kind of tampering, and what `extract`
//! does with a tampered log and a disabled endpoint.

use crate::util::{bin, output, simulator, text, DAY, WEBHOOK_SECRET};
use compliance_audit::{
    anchor_key, extraction_file_name, AuditLog, ChainEntry, WebhookSecret, LOG_FILE,
};
use compliance_receiver::WebhookReceiver;
use compliance_store::{SqliteStore, StateStore};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

// The audit crate's test helpers: sample records, reading and writing the log.
#[path = "../../crates/audit/tests/common/mod.rs"]
mod common;

use common::{lines, record, write_lines};

const SECRET: &str = WEBHOOK_SECRET;

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
    } = bin().current_dir(cwd).args(args).output().unwrap();
    (status.code().unwrap_or(-1), text(&stdout), text(&stderr))
}

/// Appends a forged record `n`, correctly linked to the last line, with its
/// extraction file: what the chain alone cannot tell from a real append.
fn append_forged(dir: &Path, n: u64) {
    let mut l = lines(dir);
    let last: ChainEntry = serde_json::from_str(l.last().unwrap()).unwrap();
    let forged = serde_json::to_value(record(n)).unwrap();
    let id = forged["extraction_id"].as_str().unwrap().to_owned();
    let entry = ChainEntry::new(last.seq + 1, &last.hash, forged.clone());
    l.push(entry.to_line());
    write_lines(dir, &l);
    let file = dir.join(extraction_file_name(&id));
    std::fs::write(file, serde_json::to_vec_pretty(&forged).unwrap()).unwrap();
}

/// Runs `audit verify audit` in `cwd` (its default state store) and expects
/// exit 1 with every one of `parts` on standard error.
fn assert_not_intact(cwd: &Path, parts: &[&str]) {
    let (code, out, err) = run(cwd, &["audit", "verify", "audit"]);
    assert_eq!(code, 1, "{out}{err}");
    for part in parts {
        assert!(err.contains(part), "{part}: {err}");
    }
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
    let changed = lines[1].replace("\"total_violations\":98", "\"total_violations\":97");
    assert_ne!(changed, lines[1]);
    std::fs::write(&log, format!("{}\n{changed}\n{}\n", lines[0], lines[2])).unwrap();
    let (code, out, err) = run(tmp.path(), &["audit", "verify", "audit"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("modified: record seq 2"), "{err}");
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn a_deleted_record_exits_1_naming_it() {
    let (tmp, dir) = workdir();
    let mut l = lines(&dir);
    l.remove(1);
    write_lines(&dir, &l);
    assert_not_intact(tmp.path(), &["deleted: record seq 2", "line 2", "missing"]);
}

#[test]
fn an_inserted_record_exits_1_naming_it() {
    let (tmp, dir) = workdir();
    // A copy of record 1 pushed in between records 2 and 3.
    let mut l = lines(&dir);
    l.insert(2, l[0].clone());
    write_lines(&dir, &l);
    assert_not_intact(
        tmp.path(),
        &["inserted: record seq 1", "line 3", "does not belong"],
    );
}

#[test]
fn reordered_records_exit_1_naming_them() {
    let (tmp, dir) = workdir();
    let mut l = lines(&dir);
    l.swap(1, 2);
    write_lines(&dir, &l);
    assert_not_intact(tmp.path(), &["reordered: record seq 3", "line 2"]);
}

#[test]
fn a_record_appended_after_the_anchored_head_exits_1_naming_it() {
    let (tmp, dir) = workdir();
    let expect = head(tmp.path());
    append_forged(&dir, 4);
    assert_not_intact(
        tmp.path(),
        &[
            "inserted: record seq 4",
            "00000000-0000-4000-8000-000000000004",
            "line 4",
            "after the anchored head seq 3",
        ],
    );
    let (code, _, err) = run(
        tmp.path(),
        &["audit", "verify", "audit", "--expect-head", &expect],
    );
    assert_eq!(code, 1, "the state store still refuses it: {err}");
    // A webhook's head may lag behind the log: alone, it is no proof either
    // way, and the report says which records it does not cover.
    let elsewhere = tempfile::tempdir().unwrap();
    let (code, out, err) = run(
        elsewhere.path(),
        &[
            "audit",
            "verify",
            dir.to_str().unwrap(),
            "--expect-head",
            &expect,
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("records seq 4 to 4 come after the head given by --expect-head"),
        "{out}"
    );
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

/// Runs `extract` in `cwd` (its default state store, audit dir `audit`)
/// against `api`, with `extra` arguments.
async fn extract(cwd: &Path, api: &str, extra: &[&str]) -> (i32, String) {
    let mut cmd = crate::util::extract();
    cmd.args(["--api-base-url", api])
        .args(DAY)
        .args(["--out", "violations.jsonl", "--audit-dir", "audit"])
        .args(extra)
        .current_dir(cwd)
        .env("COMPLIANCE_WEBHOOK_SECRET", SECRET);
    let o = output(cmd).await;
    (o.status.code().unwrap_or(-1), text(&o.stderr))
}

fn extraction_records(dir: &Path) -> Vec<serde_json::Value> {
    lines(dir)
        .iter()
        .map(|l| serde_json::from_str::<ChainEntry>(l).unwrap().record)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_extraction_records_accuracy_0_and_a_forged_record_after_it_stops_the_next() {
    let sim = simulator(0, |_| {}).await;
    let tmp = tempfile::tempdir().unwrap();
    let (code, err) = extract(tmp.path(), &sim.base_url(), &[]).await;
    assert_eq!(code, 0, "{err}");
    let audit = tmp.path().join("audit");
    let records = extraction_records(&audit);
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(
        (&r["violations_fetched"], &r["total_violations"]),
        (&0.into(), &0.into())
    );
    // 0, never NaN (which JSON would carry as null).
    assert_eq!(r["accuracy_rate"].as_f64(), Some(0.0), "{r}");
    let file = audit.join(extraction_file_name(r["extraction_id"].as_str().unwrap()));
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    assert_eq!(file["accuracy_rate"].as_f64(), Some(0.0));
    let anchored = head(tmp.path());

    append_forged(&audit, 2);
    let (code, err) = extract(tmp.path(), &sim.base_url(), &[]).await;
    assert_eq!(code, 1, "{err}");
    for part in [
        "anchored (seq 1) to seq 2",
        "not adopted",
        "genesys-compliance audit verify audit --state genesys-compliance.db",
    ] {
        assert!(err.contains(part), "{part}: {err}");
    }
    // The anchor stayed on the real head, and nothing was appended.
    assert_eq!(head(tmp.path()), anchored);
    assert_eq!(lines(&audit).len(), 2);
    assert_not_intact(tmp.path(), &["inserted: record seq 2"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_gone_is_enabled_again_by_the_command_its_message_names() {
    let sim = simulator(5, |_| {}).await;
    let receiver = WebhookReceiver::start(Some(WebhookSecret::parse(SECRET).unwrap()))
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let url = receiver.url();
    let webhook = ["--webhook-url", url.as_str()];

    receiver.respond_with(Some(410));
    let (code, err) = extract(tmp.path(), &sim.base_url(), &webhook).await;
    assert_eq!(code, 5, "{err}");
    assert!(
        err.contains("1 still queued: the endpoint answered 410 Gone"),
        "{err}"
    );
    // The message names the exact command, with this run's state store.
    let start = err
        .find("`genesys-compliance audit enable-webhook ")
        .unwrap_or_else(|| panic!("no enable-webhook command in: {err}"));
    let command = &err[start + 1..];
    let command = &command[..command.find('`').unwrap()];
    let state = tmp
        .path()
        .join("genesys-compliance.db")
        .canonicalize()
        .unwrap();
    assert_eq!(
        command,
        format!(
            "genesys-compliance audit enable-webhook {url} --state {}",
            state.display()
        )
    );
    let args: Vec<&str> = command.split(' ').skip(1).collect();
    let elsewhere = tempfile::tempdir().unwrap();
    let (code, out, err) = run(elsewhere.path(), &args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("webhook endpoint {url} enabled again")),
        "{out}"
    );
    assert!(
        out.contains("1 queued audit record will be delivered by the next run"),
        "{out}"
    );
    // Once more: nothing to change, and it says so.
    let (code, out, _) = run(elsewhere.path(), &args);
    assert_eq!(code, 0);
    assert!(out.contains("was not disabled; nothing changed"), "{out}");

    // The next run delivers the queued record first, then its own.
    receiver.respond_with(None);
    let (code, err) = extract(tmp.path(), &sim.base_url(), &webhook).await;
    assert_eq!(code, 0, "{err}");
    let seqs: Vec<u64> = receiver
        .messages()
        .iter()
        .map(|m| {
            let body: serde_json::Value = serde_json::from_slice(&m.body).unwrap();
            body["chain"]["seq"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(seqs, [1, 2]);
    assert!(receiver.acceptances().values().all(|&n| n == 1));
    let (code, out, _) = run(tmp.path(), &args);
    assert_eq!(code, 0);
    assert!(out.contains("no audit records are queued for it"), "{out}");
}

#[test]
fn enable_webhook_refuses_bad_input_naming_it() {
    let (tmp, _) = workdir();
    let (code, _, err) = run(
        tmp.path(),
        &["audit", "enable-webhook", "http://audit.example.com/h"],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("http://audit.example.com/h") && err.contains("https://"),
        "{err}"
    );
    let (code, _, err) = run(
        tmp.path(),
        &[
            "audit",
            "enable-webhook",
            "https://audit.example.com/h",
            "--state",
            "nope.db",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("nope.db"), "{err}");
    assert!(!tmp.path().join("nope.db").exists());
}
