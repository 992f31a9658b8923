//! The real `genesys-compliance extract` binary against the simulator:
//! exit codes 0, 2, 3 and 4, output, summary and help.

use crate::util::{bin, dataset_ids, output, simulator, text, violation_ids, BIN, DAY};
use compliance_simulator::{SimClient, Simulator};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

/// Runs `extract` with `args` in a directory of its own (its default state
/// file stays its own), with the demo credentials unless `env` says
/// otherwise (a `None` value removes the variable).
async fn extract(args: &[impl AsRef<std::ffi::OsStr>], env: &[(&str, Option<&str>)]) -> Output {
    let cwd = tempfile::tempdir().expect("a temporary directory");
    let mut cmd = crate::util::extract();
    cmd.args(args).current_dir(cwd.path());
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    output(cmd).await
}

/// `extract`'s arguments for the day the simulator's data covers, fetched
/// from `sim` and written to `out` (`-` for standard output), then `extra`.
fn day_from(sim: &Simulator, out: &str, extra: &[&str]) -> Vec<String> {
    let base = sim.base_url();
    DAY.iter()
        .copied()
        .chain(["--out", out, "--api-base-url", &base])
        .chain(extra.iter().copied())
        .map(String::from)
        .collect()
}

fn stderr(o: &Output) -> String {
    text(&o.stderr)
}

fn requests(sim: &Simulator) -> u64 {
    let s = sim.stats();
    s.token_requests + s.query_requests + s.other_requests
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_writes_every_violation_once_and_a_summary() {
    let sim = simulator(1_500, |c| {
        c.faults.duplicates = 0.3;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("violations.jsonl");
    let o = extract(
        &day_from(&sim, out.to_str().unwrap(), &["--page-size", "100"]),
        &[],
    )
    .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let want = dataset_ids(&sim);
    assert_eq!(violation_ids(&std::fs::read_to_string(&out).unwrap()), want);
    assert!(!Path::new(&format!("{}.partial", out.display())).exists());
    // Every line carries a verdict, and no PII of the dataset leaves unredacted.
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.lines().all(|l| l.contains("\"verdict\":{\"status\"")));
    let with_pii = sim
        .dataset()
        .violations
        .iter()
        .filter(|v| v.pii.iter().any(|p| !p.is_empty()))
        .count();
    assert!(with_pii > 0 && text.contains("[REDACTED:"));
    for part in [
        "1500 unique violations",
        "dropped; missing evidence",
        "429s received 0",
        "token renewals 1",
        "p95",
        "p99",
    ] {
        assert!(err.contains(part), "summary lacks {part}: {err}");
    }
    assert!(!err.contains("demo-secret"));
    // The warning and the summary count violations without evidence alike.
    let number_before = |text: &str, marker: &str| -> u64 {
        let at = text
            .find(marker)
            .unwrap_or_else(|| panic!("no {marker:?}: {text}"));
        let digits: String = text[..at]
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.chars().rev().collect::<String>().parse().unwrap()
    };
    let warned = number_before(&err, " violations without evidence, kept");
    let summed: u64 = err
        .split("missing evidence: ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no missing evidence count: {err}"));
    assert!(
        warned > 0 && warned == summed,
        "{warned} warned, {summed} in the summary"
    );
    // Standard error is a pipe here, not a terminal: log lines without colour codes.
    assert!(err.contains("WARN"), "{err}");
    assert!(!err.contains('\u{1b}'), "a colour code: {err}");
    // Without --audit-dir the record goes to `audit` in the working directory.
    assert!(err.contains("audit:      record 1 (extraction "), "{err}");

    // `--out -` writes to standard output; the summary stays on standard error.
    let o = extract(&day_from(&sim, "-", &[]), &[]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(violation_ids(&String::from_utf8(o.stdout).unwrap()), want);
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_credentials_and_permission_exit_3() {
    let sim = simulator(10, |c| {
        c.clients = vec![
            SimClient::new("demo-client", "demo-secret"),
            SimClient::without_permission("reader", "pw"),
        ];
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.jsonl");
    let args = day_from(&sim, out.to_str().unwrap(), &[]);

    let o = extract(&args, &[("GENESYSCLOUD_OAUTHCLIENT_SECRET", Some("nope"))]).await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("GENESYSCLOUD_OAUTHCLIENT_SECRET") && err.contains("invalid_client"),
        "{err}"
    );
    assert!(
        err.contains("correlation id") && !err.contains("nope"),
        "{err}"
    );

    let o = extract(
        &args,
        &[
            ("GENESYSCLOUD_OAUTHCLIENT_ID", Some("reader")),
            ("GENESYSCLOUD_OAUTHCLIENT_SECRET", Some("pw")),
        ],
    )
    .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("agentassist:compliance:read"), "{err}");
    assert!(!out.exists(), "no output claims to be complete");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_stays_down_exits_4_naming_status_and_correlation_id() {
    let sim = simulator(10, |c| {
        c.faults.server_errors = 1.0;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.jsonl");
    let retries = [
        "--retry-max-attempts",
        "3",
        "--retry-base-delay",
        "1ms",
        "--retry-max-delay",
        "5ms",
    ];
    let o = extract(&day_from(&sim, out.to_str().unwrap(), &retries), &[]).await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(
        err.contains("after 3 attempts") && err.contains("HTTP 50"),
        "{err}"
    );
    let last_line = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .expect("an error line");
    assert!(
        last_line.contains("correlation id") && !last_line.contains("correlation id none"),
        "{err}"
    );
    assert!(!out.exists());
}

/// Retries stop when the next wait would overrun --retry-max-elapsed, long
/// before --retry-max-attempts; the message names the status, the error code
/// and the correlation id.
#[tokio::test(flavor = "multi_thread")]
async fn rate_limited_to_the_end_of_the_time_budget_exits_4_naming_the_code() {
    let sim = simulator(10, |c| {
        // Every request: 429 with Retry-After: 1.
        c.faults.rate_limit_bursts = 1.0;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.jsonl");
    let budget = [
        "--retry-max-attempts",
        "50",
        "--retry-max-elapsed",
        "2500ms",
    ];
    let o = extract(&day_from(&sim, out.to_str().unwrap(), &budget), &[]).await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(4), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .expect("an error line");
    assert!(line.contains("429"), "{line}");
    assert!(line.contains("too.many.requests.retry.after"), "{line}");
    assert!(line.contains("correlation id"), "{line}");
    // Retry-After: 1 each time, so a 2.5 s budget holds about three attempts.
    let attempts: u64 = line
        .split("after ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no attempt count in {line}"));
    assert!((2..50).contains(&attempts), "{line}");
    assert_eq!(sim.stats().status(429), attempts, "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_exits_2_naming_it_and_sends_nothing() {
    let sim = simulator(10, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |name: &str, text: &str| {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let broken_rules = write("broken.toml", "[rules.\"r1\"\nregulations = [");
    let tableless_rules = write("tableless.toml", "regulations = [\"gdpr_art5\"]\n");
    let unknown_key = write("c.toml", "region = \"usw2\"\npage_sise = 10\n");
    let bad_file_size = write("c2.toml", "page_size = 5000\n");
    let missing = d.join("missing.toml").to_str().unwrap().to_string();
    let nowhere = d.join("no/such/dir/o.jsonl").to_str().unwrap().to_string();
    let many_ids: Vec<String> = (0..101)
        .flat_map(|i| {
            [
                "--policy-id".to_string(),
                format!("3f1f0e2a-6c1b-4a57-9d7e-{i:012}"),
            ]
        })
        .collect();
    let base = sim.base_url();
    let out = d.join("o.jsonl").to_str().unwrap().to_string();

    // (what is wrong, extra args, env changes, the name the message must hold)
    type Case<'a> = (
        &'a str,
        Vec<String>,
        Vec<(&'a str, Option<&'a str>)>,
        &'a str,
    );
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let cases: Vec<Case> = vec![
        (
            "offset, not Z",
            s(&["--start", "2023-10-01T02:00:00+02:00"]),
            vec![],
            "--start",
        ),
        (
            "not a timestamp",
            s(&["--start", "yesterday"]),
            vec![],
            "--start",
        ),
        (
            "empty fraction",
            s(&["--end", "2023-10-02T00:00:00.Z"]),
            vec![],
            "--end",
        ),
        ("no time", s(&["--end", "2023-10-02"]), vec![], "--end"),
        (
            "end before start",
            s(&["--end", "2023-09-30T00:00:00Z"]),
            vec![],
            "--end",
        ),
        (
            "end equals start",
            s(&["--end", "2023-10-01T00:00:00Z"]),
            vec![],
            "--end",
        ),
        (
            "unknown severity",
            s(&["--severity", "HIGH,SEVERE"]),
            vec![],
            "--severity",
        ),
        (
            "empty severity",
            s(&["--severity", ""]),
            vec![],
            "--severity",
        ),
        (
            "policy id not a UUID",
            s(&["--policy-id", "policy-7"]),
            vec![],
            "--policy-id",
        ),
        (
            "agent id in braces",
            s(&["--agent-id", "{3f1f0e2a-6c1b-4a57-9d7e-2b1a4c9e8f10}"]),
            vec![],
            "--agent-id",
        ),
        ("101 policy ids", many_ids, vec![], "--policy-id"),
        (
            "page size 0",
            s(&["--page-size", "0"]),
            vec![],
            "--page-size",
        ),
        (
            "page size 1001",
            s(&["--page-size", "1001"]),
            vec![],
            "--page-size",
        ),
        (
            "non-ASCII timestamp",
            s(&["--start", "2023-10-01T00:00:0éZ"]),
            vec![],
            "--start",
        ),
        (
            "negative page size",
            s(&["--page-size", "-1"]),
            vec![],
            "1 to 1000",
        ),
        (
            "zero retry budget",
            s(&["--retry-max-elapsed", "0s"]),
            vec![],
            "--retry-max-elapsed",
        ),
        (
            "page size not a number",
            s(&["--page-size", "lots"]),
            vec![],
            "--page-size",
        ),
        (
            "rules file missing",
            s(&["--rules", &missing]),
            vec![],
            "--rules",
        ),
        (
            "rules file not TOML",
            s(&["--rules", &broken_rules]),
            vec![],
            "--rules",
        ),
        (
            "rules file without [rules]",
            s(&["--rules", &tableless_rules]),
            vec![],
            "--rules",
        ),
        (
            "no client id",
            vec![],
            vec![("GENESYSCLOUD_OAUTHCLIENT_ID", None)],
            "GENESYSCLOUD_OAUTHCLIENT_ID",
        ),
        (
            "no client secret",
            vec![],
            vec![("GENESYSCLOUD_OAUTHCLIENT_SECRET", None)],
            "GENESYSCLOUD_OAUTHCLIENT_SECRET",
        ),
        (
            "remote http base URL",
            s(&["--api-base-url", "http://example.com"]),
            vec![],
            "--api-base-url",
        ),
        (
            "remote http login URL",
            s(&["--login-base-url", "http://10.1.2.3:8080"]),
            vec![],
            "--login-base-url",
        ),
        (
            "ftp base URL in env",
            vec![],
            vec![("GENESYSCLOUD_API_BASE_URL", Some("ftp://127.0.0.1"))],
            "GENESYSCLOUD_API_BASE_URL",
        ),
        (
            "unknown region",
            s(&["--region", "mars-north-1"]),
            vec![],
            "--region",
        ),
        (
            "unknown region in env",
            vec![],
            vec![("GENESYSCLOUD_REGION", Some("atlantis"))],
            "GENESYSCLOUD_REGION",
        ),
        (
            "unknown config key",
            s(&["--config", &unknown_key]),
            vec![],
            "page_sise",
        ),
        (
            "bad page size in config",
            s(&["--config", &bad_file_size]),
            vec![],
            "key page_size",
        ),
        (
            "config file missing",
            s(&["--config", &missing]),
            vec![],
            "--config",
        ),
        (
            "rate limit 0",
            s(&["--rate-limit-per-minute", "0"]),
            vec![],
            "--rate-limit-per-minute",
        ),
        (
            "bad duration",
            s(&["--retry-base-delay", "5 parsecs"]),
            vec![],
            "--retry-base-delay",
        ),
        (
            "concurrency 0",
            s(&["--concurrency", "0"]),
            vec![],
            "--concurrency",
        ),
        (
            "output dir missing",
            s(&["--out", &nowhere]),
            vec![],
            "--out",
        ),
        (
            "webhook over plain http to a remote host",
            s(&[
                "--webhook-url",
                "http://grc.example.com/hook",
                "--audit-dir",
                "audit",
            ]),
            vec![],
            "--webhook-url",
        ),
        (
            "malformed webhook secret",
            s(&[
                "--webhook-url",
                "https://grc.example.com/hook",
                "--audit-dir",
                "audit",
            ]),
            vec![("COMPLIANCE_WEBHOOK_SECRET", Some("hunter2-not-whsec"))],
            "COMPLIANCE_WEBHOOK_SECRET",
        ),
    ];
    assert!(cases.len() >= 20);
    for (what, extra, env, name) in cases {
        // The explicit base URL goes last only when the case does not set one.
        let mut args = s(&DAY);
        args.extend(["--out".into(), out.clone()]);
        let sets_url = extra.iter().any(|a| a.ends_with("-base-url"))
            || env.iter().any(|(k, _)| k.ends_with("BASE_URL"));
        if !sets_url {
            args.extend(["--api-base-url".into(), base.clone()]);
        }
        args.extend(extra);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = extract(&argv, &env).await;
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{what}: {err}");
        assert!(
            err.contains(name),
            "{what}: the message names {name}: {err}"
        );
        assert_eq!(requests(&sim), 0, "{what}: nothing was sent");
        assert!(
            !err.contains("hunter2"),
            "{what}: a secret's value never reaches a message"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn help_is_complete_with_examples() {
    let o = output({
        let mut cmd = bin();
        cmd.args(["extract", "--help"]);
        cmd
    })
    .await;
    assert_eq!(o.status.code(), Some(0));
    let help = String::from_utf8(o.stdout).unwrap();
    for flag in [
        "--start",
        "--end",
        "--out",
        "--severity",
        "--policy-id",
        "--agent-id",
        "--page-size",
        "--rules",
        "--config",
        "--region",
        "--api-base-url",
        "--login-base-url",
        "--rate-limit-per-minute",
        "--retry-max-attempts",
        "--retry-base-delay",
        "--concurrency",
        "--audit-dir",
        "--webhook-url",
        "--state",
        "--keep-pii",
        "Examples:",
        "GENESYSCLOUD_OAUTHCLIENT_ID",
        "Exit codes",
    ] {
        assert!(help.contains(flag), "help lacks {flag}");
    }
}

/// Each command's `--help` (and the program's) ends with its examples: the
/// text after `Examples:` is indented example lines only.
#[test]
fn every_help_ends_with_its_examples() {
    let commands: [&[&str]; 8] = [
        &[],
        &["demo"],
        &["extract"],
        &["verify"],
        &["simulate"],
        &["serve"],
        &["audit", "verify"],
        &["audit", "enable-webhook"],
    ];
    for command in commands {
        let o = bin().args(command).arg("--help").output().unwrap();
        assert!(o.status.success(), "{command:?}");
        let help = String::from_utf8(o.stdout).unwrap();
        let heading = ["\nExamples:\n", "\nExample:\n"]
            .iter()
            .filter_map(|h| help.rfind(h).map(|at| at + h.len()))
            .max()
            .unwrap_or_else(|| panic!("{command:?} --help has no examples:\n{help}"));
        let examples = &help[heading..];
        assert!(
            examples
                .lines()
                .all(|l| l.is_empty() || l.starts_with("  ")),
            "{command:?} --help goes on after its examples:\n{examples}"
        );
    }
}

/// With `--log-format json` every line on standard error is one JSON event
/// (log lines, summary, notes, the final error), and none holds a colour code.
#[tokio::test(flavor = "multi_thread")]
async fn json_log_format_makes_every_stderr_line_json() {
    let sim = simulator(300, |c| {
        // Retries log warnings: log events, not only the summary.
        c.faults.server_errors = 0.2;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.jsonl");
    let audit = dir.path().join("audit");
    let args = day_from(
        &sim,
        out.to_str().unwrap(),
        &[
            "--log-format",
            "json",
            "--page-size",
            "50",
            "--retry-base-delay",
            "1ms",
            "--audit-dir",
            audit.to_str().unwrap(),
        ],
    );
    let events = |o: &Output| -> Vec<serde_json::Value> {
        let err = stderr(o);
        assert!(!err.contains('\u{1b}'), "a colour code: {err}");
        err.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    };
    let message = |e: &serde_json::Value| e["fields"]["message"].as_str().unwrap().to_string();

    let o = extract(&args, &[("GENESYS_COMPLIANCE_LOG", Some("info"))]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let got = events(&o);
    assert!(got.iter().all(|e| e["level"].is_string()), "{got:?}");
    let messages: Vec<String> = got.iter().map(message).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("audit:      record 1")),
        "{messages:#?}"
    );
    assert!(got.iter().any(|e| e["level"] == "WARN"), "{messages:#?}");
    // The summary is one event with every figure a field.
    let summary = got
        .iter()
        .find(|e| message(e) == "summary")
        .expect("a summary");
    assert_eq!(summary["fields"]["violations"], 300, "{summary}");
    assert!(summary["fields"]["accuracy_rate"].is_number(), "{summary}");

    // The final error too, with its exit code.
    let o = extract(&args, &[("GENESYSCLOUD_OAUTHCLIENT_SECRET", Some("nope"))]).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let last = events(&o).pop().expect("an error event");
    assert_eq!(last["level"], "ERROR");
    assert_eq!(last["fields"]["exit_code"], 3);
    assert!(message(&last).contains("GENESYSCLOUD_OAUTHCLIENT_SECRET"));
}

/// Records served without a required field are never dropped silently: each
/// goes to the rejects file beside the output, with the reason, its PII
/// redacted (kept only with --keep-pii), and is counted in the summary.
#[tokio::test(flavor = "multi_thread")]
async fn broken_records_go_to_the_rejects_file_redacted_and_counted() {
    let sim = simulator(1_000, |c| {
        c.faults.malformed = 0.05;
    })
    .await;
    let dataset = sim.dataset();
    let (broken, usable): (Vec<_>, Vec<_>) = dataset
        .violations
        .iter()
        .partition(|v| v.served_without.is_some());
    // The PII strings of the broken records, from the generator's ground truth.
    let pii: Vec<&str> = broken
        .iter()
        .flat_map(|v| {
            let evidence = v.evidence.as_deref().unwrap_or_default();
            evidence
                .iter()
                .zip(&v.pii)
                .flat_map(|(e, truths)| truths.iter().map(|t| &e.value[t.start..t.end]))
        })
        .collect();
    assert!(broken.len() > 20 && !pii.is_empty(), "{}", broken.len());

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.jsonl");
    let args = day_from(&sim, out.to_str().unwrap(), &[]);
    let rejects_of = |o: &Output| {
        assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
        let text = std::fs::read_to_string(dir.path().join("o.jsonl.rejects.jsonl")).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (text, lines)
    };

    let o = extract(&args, &[]).await;
    let (text, rejects) = rejects_of(&o);
    let want: Vec<&str> = usable.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(violation_ids(&std::fs::read_to_string(&out).unwrap()), want);
    assert_eq!(rejects.len(), broken.len());
    for (reject, v) in rejects.iter().zip(&broken) {
        let field = v.served_without.unwrap();
        assert_eq!(reject["reason"], format!("missing {field}"), "{reject}");
        if field != "id" {
            assert_eq!(reject["record"]["id"], v.id.as_str(), "in order");
        }
    }
    for p in &pii {
        assert!(!text.contains(p), "PII {p:?} left in the rejects file");
    }
    assert!(text.contains("[REDACTED:"), "{text}");
    let err = stderr(&o);
    assert!(
        err.contains(&format!("rejects: {} (in ", broken.len())),
        "{err}"
    );

    // Asked for explicitly, the PII is kept.
    let kept = day_from(&sim, out.to_str().unwrap(), &["--keep-pii"]);
    let (text, _) = rejects_of(&extract(&kept, &[]).await);
    assert!(pii.iter().all(|p| text.contains(p)), "--keep-pii keeps PII");
}

/// On a terminal (a pseudo-terminal from util-linux `script`, part of every
/// Debian base system) standard error shows a progress bar with windows,
/// pages, violations, retries and the rate; the summary follows it.
#[tokio::test(flavor = "multi_thread")]
async fn a_terminal_gets_a_progress_bar() {
    let sim = simulator(600, |c| {
        // Long enough for the bar to be drawn a few times.
        c.latency = Duration::from_millis(150);
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.jsonl");
    let command = format!(
        "{BIN} extract --start 2023-10-01T00:00:00Z --end 2023-10-02T00:00:00Z \
         --api-base-url {} --page-size 50 --concurrency 1 --out {} --audit-dir {} --state {}",
        sim.base_url(),
        out.display(),
        dir.path().join("audit").display(),
        dir.path().join("state.db").display(),
    );
    let mut cmd = tokio::process::Command::new("script");
    cmd.args(["-q", "-e", "-c", &command, "/dev/null"])
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", "demo-client")
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", "demo-secret")
        .env_remove("NO_COLOR")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let o = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("finishes within a minute")
        .expect("util-linux `script` runs");
    let screen = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{screen}");
    // The bar's own line (the summary says "N pages in W windows" instead).
    let bar = screen
        .split(['\r', '\n'])
        .find(|l| l.contains("windows ") && l.contains(", pages ") && l.contains(" violations/s"))
        .unwrap_or_else(|| panic!("no progress bar in: {screen:?}"));
    for part in [", violations ", ", retries "] {
        assert!(bar.contains(part), "the bar lacks {part:?}: {bar}");
    }
    // Drawn over itself: carriage returns or escape codes, not new lines.
    assert!(
        screen.contains('\r') || screen.contains('\u{1b}'),
        "{screen}"
    );
    assert!(
        screen.contains("extracted:  600 unique violations"),
        "{screen}"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 600);
}

/// Issue 17: what the last pass redacts is logged once per run, with the
/// run's count, what it means (the simulator's Luhn-valid hard negatives) and
/// where to read more, not once per record; the summary counts the same.
#[tokio::test(flavor = "multi_thread")]
async fn late_pii_is_one_warning_per_run_with_the_count() {
    let sim = simulator(1_500, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.jsonl");
    let args = day_from(
        &sim,
        out.to_str().unwrap(),
        &["--log-format", "json", "--page-size", "100"],
    );
    let o = extract(&args, &[]).await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let events: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let message = |e: &serde_json::Value| e["fields"]["message"].as_str().unwrap_or("").to_owned();
    let summary = events
        .iter()
        .find(|e| message(e) == "summary")
        .expect("a summary");
    let late = summary["fields"]["late_pii"].as_u64().expect("late_pii");
    // The simulator's hard negatives include Luhn-valid numbers no brand issues.
    assert!(late > 0, "{summary}");
    let warnings: Vec<_> = events
        .iter()
        .filter(|e| e["level"] == "WARN" && message(e).contains("late_pii"))
        .collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert_eq!(warnings[0]["fields"]["late_pii"], late, "{err}");
    // Both kinds of hard negative: real card numbers grouped as no card is
    // printed (in an issued range), Luhn-valid numbers no brand issues (in none).
    let issued = summary["fields"]["late_pii_issued_range"]
        .as_u64()
        .expect("late_pii_issued_range");
    assert!(0 < issued && issued < late, "{summary}");
    assert_eq!(
        warnings[0]["fields"]["late_pii_issued_range"], issued,
        "{err}"
    );
    for words in [
        format!("redacted {late} Luhn-valid runs"),
        format!("{issued} in an issued card range"),
        format!("{} in no issued range", late - issued),
        "hard negatives".to_owned(),
        "docs/late-pii.md".to_owned(),
    ] {
        assert!(message(warnings[0]).contains(&words), "{words}: {err}");
    }
}
