//! `--source speech-analytics` and `--source evaluations` as users run them:
//! an extraction killed at each step boundary (and while an analytics job is
//! being polled) and run again outputs every violation exactly once; every bad
//! input for the new settings exits 2 with nothing sent.

use crate::util::{assert_chain_intact, extract, output, simulator, text, violation_ids, DAY};
use compliance_simulator::Simulator;
use std::path::Path;
use std::process::{Command, Stdio};

const STA_RULES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/deploy/rules.speech-analytics.example.toml"
);

/// The simulator's real endpoints with `conversations`, unpaced, and jobs
/// that take a few polls.
async fn organisation(conversations: usize) -> Simulator {
    simulator(10, |c| {
        c.conversations = conversations;
        c.rate_limit_per_minute = 0;
        c.job_polls = 2;
    })
    .await
}

/// `extract --source speech-analytics` of the simulator's day into `dir`.
fn sta(api: &str, dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = extract();
    // The simulator here is unlimited; pacing at the default 300/min would
    // only make the test slow.
    cmd.args(["--api-base-url", api, "--source", "speech-analytics"])
        .args(["--rate-limit-per-minute", "1000000"])
        .args(["--rules", STA_RULES])
        .args(DAY)
        .arg("--out")
        .arg(dir.join("violations.jsonl"))
        .arg("--state")
        .arg(dir.join("state.db"))
        .arg("--audit-dir")
        .arg(dir.join("audit"))
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

fn ids(dir: &Path) -> Vec<String> {
    violation_ids(&std::fs::read_to_string(dir.join("violations.jsonl")).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speech_analytics_killed_at_each_step_and_while_polling_outputs_every_violation_once() {
    let sim = organisation(300).await;
    let api = sim.base_url();
    let reference = tempfile::tempdir().unwrap();
    let o = output(sta(&api, reference.path(), &[])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let expected = ids(reference.path());
    assert!(expected.len() > 50, "{} violations", expected.len());
    let record = std::fs::read_to_string(reference.path().join("audit/audit.jsonl")).unwrap();
    let record: serde_json::Value = serde_json::from_str(record.lines().next().unwrap()).unwrap();
    assert_eq!(record["record"]["source"], "speech-analytics");
    assert!(record["record"]["api_requests"].as_u64().unwrap() > expected.len() as u64 / 2);
    assert!(
        text(&o.stderr).contains("per violation"),
        "{}",
        text(&o.stderr)
    );

    for point in [
        "while-polling",
        "after-plan",
        "after-page",
        "after-complete",
        "before-delivery",
        "after-audit-append",
        "after-rename",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let crashed = output({
            let mut cmd = sta(&api, dir.path(), &[]);
            cmd.env("GENESYS_COMPLIANCE_CRASH_AT", point);
            cmd
        })
        .await;
        assert!(
            crashed.status.code().is_none(),
            "{point}: the process was killed there: {:?} {}",
            crashed.status,
            text(&crashed.stderr)
        );
        let o = output(sta(&api, dir.path(), &[])).await;
        assert_eq!(o.status.code(), Some(0), "{point}: {}", text(&o.stderr));
        assert_eq!(
            ids(dir.path()),
            expected,
            "{point}: every violation once, in order"
        );
        let log = std::fs::read_to_string(dir.path().join("audit/audit.jsonl")).unwrap();
        assert_eq!(log.lines().count(), 1, "{point}: one audit record");
        assert_chain_intact(&dir.path().join("audit"), &dir.path().join("state.db"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_source_settings_exit_2_with_nothing_sent() {
    let sim = organisation(20).await;
    let api = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    let rules = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    };
    let not_uuid = rules(
        "not-uuid.toml",
        "[rules.\"disclosure-missing\"]\nregulations = [\"gdpr_art13\"]\nseverity = \"HIGH\"\nsource = \"speech-analytics\"\n",
    );
    let no_severity = rules(
        "no-severity.toml",
        "[rules.\"7453dd0c-7737-4270-a37f-d70c5c0adc8e\"]\nregulations = [\"gdpr_art13\"]\nsource = \"speech-analytics\"\n",
    );
    let unknown_in_rules = rules(
        "unknown-source.toml",
        "[rules.\"7453dd0c-7737-4270-a37f-d70c5c0adc8e\"]\nregulations = [\"gdpr_art13\"]\nseverity = \"HIGH\"\nsource = \"speech\"\n",
    );
    let config = rules("config.toml", "source = \"transcripts\"\n");
    let out = dir.path().join("v.jsonl").to_string_lossy().into_owned();
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        ("unknown source", vec!["--source", "speech"], "--source"),
        (
            "unknown source in the config file",
            vec!["--config", &config],
            "key source",
        ),
        (
            "a category id that is not a UUID",
            vec!["--source", "speech-analytics", "--rules", &not_uuid],
            "\"disclosure-missing\"",
        ),
        (
            "a rule without the severity the source needs",
            vec!["--source", "speech-analytics", "--rules", &no_severity],
            "no severity",
        ),
        (
            "a rule naming an unknown source",
            vec!["--source", "speech-analytics", "--rules", &unknown_in_rules],
            "unknown source `speech`",
        ),
        (
            "no rule for the source",
            vec!["--source", "speech-analytics"],
            "no rule with source = \"speech-analytics\"",
        ),
        (
            "a policy filter the source cannot apply",
            vec![
                "--source",
                "evaluations",
                "--policy-id",
                "3f1f0e2a-6c1b-4a57-9d7e-2b1a4c9e8f10",
            ],
            "--policy-id",
        ),
    ];
    for (what, extra, names) in cases {
        let before = sim.stats();
        let mut cmd = extract();
        cmd.args(["--api-base-url", &api, "--out", &out])
            .args(DAY)
            .args(&extra)
            .current_dir(dir.path());
        let o = output(cmd).await;
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{what}: {err}");
        assert!(
            err.contains(names),
            "{what}: the message names {names}: {err}"
        );
        let after = sim.stats();
        assert_eq!(
            (
                after.token_requests,
                after.query_requests,
                after.other_requests
            ),
            (
                before.token_requests,
                before.query_requests,
                before.other_requests
            ),
            "{what}: nothing was sent"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_permission_exits_3_naming_it_and_the_source() {
    let sim = simulator(10, |c| {
        c.conversations = 30;
        c.rate_limit_per_minute = 0;
        c.clients = vec![compliance_simulator::SimClient::lacking(
            "demo-client",
            "demo-secret",
            ["speechAndTextAnalytics:category:view"],
        )];
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let o = output(sta(&sim.base_url(), dir.path(), &[])).await;
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("`speechAndTextAnalytics:category:view`") && err.contains("speech-analytics"),
        "{err}"
    );
}
