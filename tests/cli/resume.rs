//! `extract` killed with SIGKILL at several points, then run again: the
//! output ends with every violation of the simulator exactly once, in order,
//! with one audit record; and a webhook receiver that is down for the first
//! run and up for the second gets every record, signed, once per webhook-id.

use crate::util::{
    assert_chain_intact, dataset_ids, simulator, text, violation_ids, DAY, WEBHOOK_SECRET,
};
use compliance_audit::WebhookSecret;
use compliance_receiver::WebhookReceiver;
use compliance_simulator::Simulator;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const SECRET: &str = WEBHOOK_SECRET;

/// A loopback port with nobody listening (for now) and its webhook URL.
fn receiver_not_yet_listening() -> (std::net::SocketAddr, String) {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    (addr, format!("http://{addr}/webhook"))
}

/// `extract` of the simulator's day at `api` into `dir`: output, state and
/// audit directory there, webhooks signed.
fn extract(api: &str, dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = crate::util::extract();
    cmd.args(["--api-base-url", api, "--page-size", "50"])
        .args(DAY)
        .arg("--out")
        .arg(dir.join("violations.jsonl"))
        .arg("--state")
        .arg(dir.join("state.db"))
        .arg("--audit-dir")
        .arg(dir.join("audit"))
        .args(extra)
        .env("COMPLIANCE_WEBHOOK_SECRET", SECRET)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// The simulator with `violations` and no rate limit.
async fn unlimited(violations: usize) -> Simulator {
    simulator(violations, |c| c.rate_limit_per_minute = 0).await
}

fn ids(path: &Path) -> Vec<String> {
    violation_ids(&std::fs::read_to_string(path).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_runs_continue_to_every_violation_exactly_once() {
    let sim = simulator(3_000, |c| {
        c.latency = Duration::from_millis(25);
        c.rate_limit_per_minute = 0;
        c.faults.duplicates = 0.3;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let api = sim.base_url();

    // Kill at growing delays until a run gets to the end by itself.
    let mut kills = 0;
    let mut delay = Duration::from_millis(150);
    let status = loop {
        let mut child = extract(&api, dir.path(), &[]).spawn().unwrap();
        tokio::time::sleep(delay).await;
        match child.try_wait().unwrap() {
            Some(status) => break status,
            None => {
                child.kill().unwrap(); // SIGKILL: no chance to clean up
                child.wait().unwrap();
                kills += 1;
                delay += Duration::from_millis(150);
            }
        }
        assert!(kills < 40, "the extraction never finished");
    };
    assert!(status.success(), "{status:?}");
    assert!(
        kills >= 2,
        "killed only {kills} times; the test needs a slower extraction"
    );

    let expected = dataset_ids(&sim);
    assert_eq!(ids(&dir.path().join("violations.jsonl")), expected);
    let log = std::fs::read_to_string(dir.path().join("audit/audit.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 1, "one extraction, one audit record");
    let record: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(record["record"]["violations_fetched"], 3_000);
    assert_chain_intact(&dir.path().join("audit"), &dir.path().join("state.db"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_the_first_run_gets_every_record_on_the_second() {
    let sim = unlimited(500).await;
    let dir = tempfile::tempdir().unwrap();
    let api = sim.base_url();
    let (addr, url) = receiver_not_yet_listening();
    let quick = ["--webhook-url", &url];

    let first = extract(&api, dir.path(), &quick).output().unwrap();
    let err = text(&first.stderr);
    assert_eq!(first.status.code(), Some(5), "{err}");
    assert!(err.contains("still queued"), "{err}");

    let receiver = WebhookReceiver::bind(addr, Some(WebhookSecret::parse(SECRET).unwrap()))
        .await
        .unwrap();
    let second = extract(&api, dir.path(), &quick).output().unwrap();
    let err = text(&second.stderr);
    assert_eq!(second.status.code(), Some(0), "{err}");

    let messages = receiver.messages();
    assert_eq!(messages.len(), 2, "both records: {messages:?}");
    assert!(messages.iter().all(|m| m.verified));
    let accepted = receiver.acceptances();
    assert!(
        accepted.values().all(|n| *n == 1),
        "once per webhook-id: {accepted:?}"
    );
    // The first run's record came first, with the id it was queued with
    // (derived from its chain entry), then the second's.
    let log = std::fs::read_to_string(dir.path().join("audit/audit.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2);
    for (n, (message, line)) in messages.iter().zip(log.lines()).enumerate() {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        let anchor = compliance_audit::Anchor {
            seq: entry["seq"].as_u64().unwrap(),
            hash: entry["hash"].as_str().unwrap().to_string(),
        };
        assert_eq!(anchor.seq, n as u64 + 1);
        assert_eq!(
            message.webhook_id,
            compliance_audit::webhook_id_for(&anchor),
            "record {}",
            anchor.seq
        );
        let body: serde_json::Value = serde_json::from_slice(&message.body).unwrap();
        assert_eq!(body["chain"]["seq"], anchor.seq);
    }
}

/// Runs `extract` to completion against `sim` in `dir`, asserting exit 0.
fn finish(api: &str, dir: &Path, extra: &[&str]) {
    let out = extract(api, dir, extra).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_each_step_boundary_is_finished_by_the_rerun() {
    let sim = unlimited(300).await;
    let api = sim.base_url();
    let expected = dataset_ids(&sim);
    for point in [
        "after-plan",
        "after-page",
        "after-complete",
        "before-delivery",
        "after-audit-append",
        "after-rename",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let receiver = WebhookReceiver::start(Some(WebhookSecret::parse(SECRET).unwrap()))
            .await
            .unwrap();
        let url = receiver.url();
        let webhook = ["--webhook-url", url.as_str()];
        let crashed = extract(&api, dir.path(), &webhook)
            .env("GENESYS_COMPLIANCE_CRASH_AT", point)
            .output()
            .unwrap();
        assert!(
            crashed.status.code().is_none(),
            "{point}: the process was killed there: {:?}",
            crashed.status
        );
        finish(&api, dir.path(), &webhook);
        // The record reached the receiver once, signed, whatever the point.
        let messages = receiver.messages();
        assert_eq!(messages.len(), 1, "{point}: {:?}", receiver.requests());
        assert!(receiver.acceptances().values().all(|&n| n == 1), "{point}");
        let out = dir.path().join("violations.jsonl");
        assert_eq!(
            ids(&out),
            expected,
            "{point}: every violation once, in order"
        );
        assert!(
            !dir.path().join("violations.jsonl.partial").exists(),
            "{point}"
        );
        let log = std::fs::read_to_string(dir.path().join("audit/audit.jsonl")).unwrap();
        assert_eq!(log.lines().count(), 1, "{point}: one audit record");
        let record: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
        assert_eq!(record["record"]["violations_fetched"], 300, "{point}");
        // The checkpoint is gone: a third run is a new extraction, not a stuck one.
        finish(&api, dir.path(), &webhook);
        assert_eq!(ids(&out), expected, "{point}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_refused_by_the_server_still_delivers_what_earlier_runs_queued() {
    let sim = unlimited(100).await;
    let dir = tempfile::tempdir().unwrap();
    let api = sim.base_url();
    let (addr, url) = receiver_not_yet_listening();
    let first = extract(&api, dir.path(), &["--webhook-url", &url])
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(5), "receiver down: still queued");

    let receiver = WebhookReceiver::bind(addr, Some(WebhookSecret::parse(SECRET).unwrap()))
        .await
        .unwrap();
    let refused = extract(&api, dir.path(), &["--webhook-url", &url])
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", "not-the-secret")
        .output()
        .unwrap();
    let err = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(3), "{err}");
    let messages = receiver.messages();
    assert_eq!(messages.len(), 1, "the first run's record: {messages:?}");
    assert!(messages[0].verified);
}
