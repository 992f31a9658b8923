//! `--state postgres://...`: the state store in PostgreSQL, through the
//! binary. An extraction killed with SIGKILL and run again outputs every
//! violation exactly once; `audit verify` checks the chain against the
//! anchor in PostgreSQL; the URL's password appears in no output, log,
//! error or audit file; bad URLs and unreachable servers exit as
//! interface.md's table says.

use crate::util::{assert_not_in_files, bin, dataset_ids, simulator, text, violation_ids, DAY};
use compliance_store::testing::TestDatabase;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The URL's password, which must appear nowhere.
fn password(url: &str) -> String {
    let userinfo = url.split_once("://").unwrap().1.split_once('@').unwrap().0;
    userinfo
        .split_once(':')
        .expect("a URL with a password")
        .1
        .to_owned()
}

fn extract(api: &str, dir: &Path, state: &str) -> Command {
    let mut cmd = crate::util::extract();
    cmd.args(["--api-base-url", api, "--page-size", "50"])
        .args(DAY)
        .arg("--out")
        .arg(dir.join("violations.jsonl"))
        .args(["--state", state])
        .arg("--audit-dir")
        .arg(dir.join("audit"))
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_extractions_with_postgres_state_output_each_violation_once() {
    let Some(db) = TestDatabase::create("killed_extractions_with_postgres_state") else {
        return;
    };
    let secret = password(db.url());
    let sim = simulator(1_500, |c| {
        c.latency = Duration::from_millis(25);
        c.rate_limit_per_minute = 0;
        c.faults.duplicates = 0.3;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let api = sim.base_url();

    let mut kills = 0;
    let mut delay = Duration::from_millis(300);
    let finished = loop {
        let mut child = extract(&api, dir.path(), db.url()).spawn().unwrap();
        tokio::time::sleep(delay).await;
        match child.try_wait().unwrap() {
            Some(_) => break child.wait_with_output().unwrap(),
            None => {
                child.kill().unwrap(); // SIGKILL: no chance to clean up
                child.wait().unwrap();
                kills += 1;
                delay += Duration::from_millis(150);
            }
        }
        assert!(kills < 40, "the extraction never finished");
    };
    let stderr = text(&finished.stderr);
    assert!(finished.status.success(), "{stderr}");
    assert!(
        kills >= 1,
        "never killed; the test needs a slower extraction"
    );
    assert!(!stderr.contains(&secret), "the password is in: {stderr}");

    let out = std::fs::read_to_string(dir.path().join("violations.jsonl")).unwrap();
    assert_eq!(violation_ids(&out), dataset_ids(&sim));
    let log = std::fs::read_to_string(dir.path().join("audit/audit.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 1, "one extraction, one audit record");

    let verify = bin()
        .args(["audit", "verify"])
        .arg(dir.path().join("audit"))
        .args(["--state", db.url()])
        .output()
        .unwrap();
    let said = format!("{}{}", text(&verify.stdout), text(&verify.stderr));
    assert!(verify.status.success(), "{said}");
    assert!(
        said.contains("anchor: seq 1 from state store postgres://"),
        "{said}"
    );
    assert!(!said.contains(&secret), "the password is in: {said}");
    // The schema was there already: the server's "already exists" notices
    // are not the user's business.
    assert!(!said.contains("NOTICE"), "{said}");
    assert_not_in_files(dir.path(), &secret);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_record_is_caught_against_the_postgres_anchor() {
    let Some(db) = TestDatabase::create("an_altered_record_is_caught") else {
        return;
    };
    let sim = simulator(100, |c| c.rate_limit_per_minute = 0).await;
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = extract(&sim.base_url(), dir.path(), db.url())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    // Cut the newest record: only the anchor outside the log can tell.
    let log_path = dir.path().join("audit/audit.jsonl");
    let log = std::fs::read_to_string(&log_path).unwrap();
    let first = log.lines().next().unwrap();
    std::fs::write(&log_path, format!("{first}\n")).unwrap();
    let verify = bin()
        .args(["audit", "verify"])
        .arg(dir.path().join("audit"))
        .args(["--state", db.url()])
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify.stderr));
}

/// `extract` with `--state STATE` toward an API that is never reached: its
/// exit code and standard error.
fn extract_with_state(state: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::util::extract()
        .args(["--api-base-url", "http://127.0.0.1:9"])
        .args(DAY)
        .args(["--out", "v.jsonl", "--state", state])
        .current_dir(dir.path())
        .output()
        .unwrap();
    (out.status.code(), text(&out.stderr))
}

#[test]
fn a_malformed_url_exits_2_before_anything_is_sent_without_its_password() {
    let (code, stderr) = extract_with_state("postgres://gc:s3cret-Pw@127.0.0.1:notaport/state");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--state"), "{stderr}");
    assert!(
        stderr.contains("postgres://gc@127.0.0.1:notaport/state"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret-Pw"), "{stderr}");

    let (code, stderr) = extract_with_state("mysql://gc:s3cret-Pw@h/db");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("`mysql://`"), "{stderr}");
    assert!(!stderr.contains("s3cret-Pw"), "{stderr}");
}

#[test]
fn a_postgres_server_that_is_not_there_exits_4_without_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, stderr) =
        extract_with_state(&format!("postgres://gc:s3cret-Pw@127.0.0.1:{port}/state"));
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("unreachable"), "{stderr}");
    assert!(!stderr.contains("s3cret-Pw"), "{stderr}");
}

#[test]
fn a_newer_schema_in_postgres_exits_2() {
    let Some(db) = TestDatabase::create("a_newer_schema_in_postgres_exits_2") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let verify = |expect: i32| {
        let out = bin()
            .args(["audit", "enable-webhook", "https://grc.example.com/h"])
            .args(["--state", db.url()])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(expect), "{said}");
        said
    };
    verify(0);
    db.execute("UPDATE genesys_compliance_schema SET version = 99");
    let said = verify(2);
    assert!(said.contains("schema version 99"), "{said}");
    assert!(!said.contains(&password(db.url())), "{said}");
}
