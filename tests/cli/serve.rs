//! `genesys-compliance serve` as operators run it: against a simulator whose
//! violations keep arriving (some late), scraped, stopped with SIGTERM in the
//! middle of a run, restarted: every violation is output exactly once.

use crate::util::{
    assert_chain_intact, bin, http_get, read, text, utc, violation_ids, wait_for, Running,
    DEMO_CLIENT,
};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Starts the binary and reads `listening on http://ADDR` from its first line.
fn spawn(args: &[&str], env: &[(&str, &str)], stderr: &Path) -> (Running, String) {
    let running = Running::start(bin().args(args).envs(env.iter().copied()), Some(stderr));
    let addr = running.addr.clone();
    (running, addr)
}

/// A `simulate` process with `flags`, its standard error in `stderr`: the
/// process and the base URL of its API.
fn simulate(stderr: &Path, flags: &[&str]) -> (Running, String) {
    let args = [&["simulate", "--listen", "127.0.0.1:0"], flags].concat();
    let (sim, addr) = spawn(&args, &[], stderr);
    (sim, format!("http://{addr}"))
}

/// `serve` as the demo client against `api` from `since`, writing into
/// `dir` (`out/`, `state.db`), its standard error in `log`.
fn serve_into(dir: &Path, api: &str, since: &str, log: &Path) -> (Running, String) {
    let (out_dir, state) = (dir.join("out"), dir.join("state.db"));
    let args = [
        "serve",
        "--api-base-url",
        api,
        "--since",
        since,
        "--listen",
        "127.0.0.1:0",
        "--out-dir",
        out_dir.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ];
    spawn(&args, &DEMO_CLIENT, log)
}

/// Sends SIGTERM and waits (at most 12 s) for the exit status.
fn terminate(mut child: Running) -> ExitStatus {
    child.signal("-TERM");
    child.exit_within(Duration::from_secs(12))
}

fn output_counts(dir: &Path) -> HashMap<String, u32> {
    let mut counts = HashMap::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        if !path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("violations-")
        {
            continue;
        }
        for id in violation_ids(&read(&path)) {
            *counts.entry(id).or_default() += 1;
        }
    }
    counts
}

/// Checks the Prometheus text format line by line and returns `name -> value` of unlabelled series
/// and `name{labels}` of labelled ones.
fn parse_prometheus(text: &str) -> HashMap<String, f64> {
    let mut series = HashMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix('#') {
            let words: Vec<&str> = comment.split_whitespace().collect();
            assert!(
                matches!(words.first(), Some(&"HELP") | Some(&"TYPE")),
                "comment {line:?}"
            );
            continue;
        }
        let (name, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("sample {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value in {line:?}"));
        let bare = name.split('{').next().unwrap();
        assert!(
            bare.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "metric name in {line:?}"
        );
        if let Some(labels) = name.strip_prefix(bare) {
            if !labels.is_empty() {
                assert!(
                    labels.starts_with('{') && labels.ends_with('}'),
                    "labels in {line:?}"
                );
            }
        }
        series.insert(name.to_string(), value);
    }
    series
}

#[test]
fn serve_outputs_every_violation_once_across_runs_late_arrivals_and_a_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (data_start, data_end, since) = (utc(-40), utc(6), utc(-45));
    let (_sim, api) = simulate(
        &dir.path().join("sim.err"),
        &[
            "--violations",
            "600",
            "--start",
            &data_start,
            "--end",
            &data_end,
            "--late-arrivals",
            "0.3",
            "--late-max",
            "2s",
            "--latency",
            "300ms",
            "--fault-duplicates",
            "0.2",
        ],
    );
    let out_dir = dir.path().join("out");
    let state = dir.path().join("state.db");
    let serve_args = |since: &str| -> Vec<String> {
        [
            "serve",
            "--api-base-url",
            &api,
            "--every",
            "1s",
            "--lookback",
            "4s",
            "--lag",
            "0s",
            "--page-size",
            "10",
            "--since",
            since,
            "--listen",
            "127.0.0.1:0",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([
            "--out-dir".to_string(),
            out_dir.display().to_string(),
            "--state".to_string(),
            state.display().to_string(),
        ])
        .collect()
    };
    let args = serve_args(&since);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    // First process: scrape it after a run or two, then stop it mid-run.
    let (serve, addr) = spawn(&args, &DEMO_CLIENT, &dir.path().join("serve1.err"));
    wait_for("a first run", Duration::from_secs(30), || {
        read(&dir.path().join("serve1.err")).contains("run complete")
    });
    assert_eq!(http_get(&addr, "/healthz").0, 200);
    let (status, metrics) = http_get(&addr, "/metrics");
    assert_eq!(status, 200);
    let series = parse_prometheus(&metrics);
    for name in [
        "genesys_compliance_page_latency_seconds_bucket{le=\"+Inf\"}",
        "genesys_compliance_page_latency_seconds_count",
        "genesys_compliance_outbox_depth",
        "genesys_compliance_last_success_timestamp_seconds",
        "genesys_compliance_retries_total{cause=\"server_error\"}",
        "genesys_compliance_extraction_duration_seconds_count",
        "genesys_compliance_rate_limited_total",
        "genesys_compliance_token_renewals_total",
        "genesys_compliance_accuracy_rate",
        "genesys_compliance_runs_total{outcome=\"succeeded\"}",
        "genesys_compliance_late_pii_total",
    ] {
        assert!(series.contains_key(name), "{name} missing from:\n{metrics}");
    }
    assert!(metrics.contains("# TYPE genesys_compliance_page_latency_seconds histogram"));
    let violations: f64 = series
        .iter()
        .filter(|(k, _)| k.starts_with("genesys_compliance_violations_total{"))
        .map(|(_, v)| v)
        .sum();
    assert!(
        violations > 0.0,
        "violations_total counts what was output:\n{metrics}"
    );
    assert!(
        series
            .keys()
            .any(|k| k.starts_with("genesys_compliance_violations_total{")
                && k.contains("severity=\"")
                && k.contains("status=\"")),
        "violations by severity and status:\n{metrics}"
    );
    let accuracy = series["genesys_compliance_accuracy_rate"];
    assert!((0.0..=1.0).contains(&accuracy), "{accuracy}");
    assert!(series
        .keys()
        .any(|k| k.starts_with("genesys_compliance_pii_findings_total{type=")));

    // Stop it while a run is paging: pages take 300 ms, so runs last longer
    // than the second between their starts and follow each other at once.
    std::thread::sleep(Duration::from_millis(700));
    let stopped_at = Instant::now();
    let status = terminate(serve);
    assert!(
        status.success(),
        "SIGTERM exits 0: {status:?}\n{}",
        read(&dir.path().join("serve1.err"))
    );
    assert!(stopped_at.elapsed() < Duration::from_secs(10));
    let log = read(&dir.path().join("serve1.err"));
    assert!(
        log.contains("stopping: output and state committed"),
        "the stop came in the middle of a run:\n{log}"
    );

    // Second process: no --since needed any more; it continues from the watermark.
    let args = serve_args(&since);
    let args: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--since" && *a != since)
        .collect();
    let (serve, _) = spawn(&args, &DEMO_CLIENT, &dir.path().join("serve2.err"));
    // Until the data's end, its lateness and a look-back have passed, plus a run.
    std::thread::sleep(Duration::from_secs(10));
    assert!(terminate(serve).success());

    let counts = output_counts(&out_dir);
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "output more than once: {repeated:?}");
    assert_eq!(counts.len(), 600, "every violation of the simulator, once");
    assert_chain_intact(&out_dir.join("audit"), &state);
}

#[test]
fn serve_refuses_bad_settings_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    for (args, named) in [
        (vec!["--every", "soon"], "--every"),
        (vec!["--every", "0s"], "--every"),
        (vec!["--lookback", "5 minutes"], "--lookback"),
        (vec!["--since", "2023-10-01T00:00:00+02:00"], "--since"),
        (vec!["--listen", "localhost"], "--listen"),
        (vec!["--rotate", "weekly"], "--rotate"),
        (vec![], "--since"),
    ] {
        let out = bin()
            .arg("serve")
            .args([
                "--api-base-url",
                "http://127.0.0.1:9",
                "--listen",
                "127.0.0.1:0",
                "--out-dir",
            ])
            .arg(dir.path().join("out"))
            .arg("--state")
            .arg(dir.path().join("state.db"))
            .args(&args)
            .env("GENESYSCLOUD_OAUTHCLIENT_ID", "x")
            .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", "y")
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?} names {named}: {stderr}");
    }
}

#[test]
fn credentials_refused_on_the_first_run_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, sim_api) = simulate(&dir.path().join("sim.err"), &["--violations", "10"]);
    let out = bin()
        .arg("serve")
        .args(["--api-base-url", &sim_api])
        .args(["--since", "2023-10-01T00:00:00Z", "--listen", "127.0.0.1:0"])
        .arg("--out-dir")
        .arg(dir.path().join("out"))
        .arg("--state")
        .arg(dir.path().join("state.db"))
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", "demo-client")
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", "not-the-secret")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("GENESYSCLOUD_OAUTHCLIENT_SECRET"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("not-the-secret"),
        "the secret never reaches a message"
    );
}

/// A webhook receiver that takes requests and never answers: it keeps a run
/// busy delivering. It stops by itself when dropped (or after a minute).
struct SilentReceiver {
    addr: String,
    got_request: std::sync::mpsc::Receiver<()>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl SilentReceiver {
    fn start() -> SilentReceiver {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, got_request) = std::sync::mpsc::channel();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut held = Vec::new();
            while !stopped.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        let mut first = [0u8; 1];
                        if stream.read_exact(&mut first).is_ok() {
                            let _ = tx.send(());
                        }
                        held.push(stream);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        SilentReceiver {
            addr,
            got_request,
            stop,
        }
    }
}

impl Drop for SilentReceiver {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// SIGTERM while the first run is still planning (every request is slow)
/// stops at once rather than after the grace period; a second signal while a
/// stop waits (on a webhook that does not answer) exits at once with 130.
#[test]
fn a_stop_does_not_wait_for_planning_and_a_second_signal_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let serve = |api: &str, extra: &[&str], log: &str| {
        let out_dir = dir.path().join("out");
        let audit_dir = dir.path().join("audit");
        let state = dir.path().join("state.db");
        let since = utc(-60);
        let mut args = vec![
            "serve",
            "--api-base-url",
            api,
            "--since",
            &since,
            "--every",
            "60s",
            "--lag",
            "0s",
            "--listen",
            "127.0.0.1:0",
            "--out-dir",
            out_dir.to_str().unwrap(),
            "--audit-dir",
            audit_dir.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        spawn(&args, &DEMO_CLIENT, &dir.path().join(log)).0
    };
    let wait_exit = |child: &mut Running| child.exit_within(Duration::from_secs(12));

    // Planning: every request takes 30 s, far beyond the 9 s grace.
    let (_slow, slow_api) = simulate(
        &dir.path().join("slow.err"),
        &["--violations", "10", "--latency", "30s"],
    );
    let mut child = serve(&slow_api, &[], "plan.err");
    std::thread::sleep(Duration::from_millis(500));
    child.signal("-TERM");
    let status = wait_exit(&mut child);
    let log = read(&dir.path().join("plan.err"));
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        log.contains("stopping: output and state committed"),
        "{log}"
    );
    assert!(!log.contains("still stopping after"), "{log}");

    // Delivery: the run's webhook never gets an answer, so the first signal's
    // stop waits; the second exits at once.
    let (_sim, sim_api) = simulate(
        &dir.path().join("sim.err"),
        &[
            "--violations",
            "10",
            "--start",
            &utc(-50),
            "--end",
            &utc(-10),
        ],
    );
    let receiver = SilentReceiver::start();
    let hook = format!("http://{}/hook", receiver.addr);
    let mut child = serve(&sim_api, &["--webhook-url", &hook], "deliver.err");
    receiver
        .got_request
        .recv_timeout(Duration::from_secs(20))
        .expect("the run's webhook is sent");
    child.signal("-TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!child.has_exited(), "the stop waits for the delivery");
    child.signal("-INT");
    let status = wait_exit(&mut child);
    let log = read(&dir.path().join("deliver.err"));
    assert_eq!(status.code(), Some(130), "{log}");
    assert!(log.contains("second signal: exiting at once"), "{log}");
}

/// A SIGTERM sent as soon as the address is printed stops the service
/// cleanly (exit 0): the signal handlers are in place before that line.
#[test]
fn a_sigterm_right_after_the_address_line_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let since = utc(-60);
    for round in 0..5 {
        let log = dir.path().join(format!("serve{round}.err"));
        // Nobody listens there: the first run retries until stopped.
        let (child, _) = serve_into(dir.path(), "http://127.0.0.1:9", &since, &log);
        let status = terminate(child);
        assert_eq!(status.code(), Some(0), "round {round}: {}", read(&log));
    }
}

/// `--out-dir -`: the records go to standard output (the address line to
/// standard error), every violation once over runs that re-read the look-back.
#[test]
fn serve_to_standard_output_writes_each_violation_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, sim_api) = simulate(
        &dir.path().join("sim.err"),
        &[
            "--violations",
            "30",
            "--start",
            &utc(-50),
            "--end",
            &utc(-20),
        ],
    );
    let log = dir.path().join("serve.err");
    let mut child = bin();
    child
        .args(["serve", "--api-base-url", &sim_api])
        .args(["--since", &utc(-60), "--every", "1s", "--lookback", "40s"])
        .args(["--lag", "0s", "--listen", "127.0.0.1:0", "--out-dir", "-"])
        .arg("--state")
        .arg(dir.path().join("state.db"))
        // Its audit directory defaults to `audit` here.
        .current_dir(dir.path())
        .envs(DEMO_CLIENT)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut serve = Running::spawn(&mut child);
    let stdout = serve.take_stdout();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Three runs or more: each re-reads all 30 through the look-back.
    wait_for("three runs", Duration::from_secs(30), || {
        read(&log).matches("run complete").count() >= 3
    });
    assert!(terminate(serve).success(), "{}", read(&log));
    // The process has exited: read to the end of its output.
    let mut got = Vec::new();
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(10)) {
        got.push(line);
    }
    let ids = violation_ids(&got.join("\n"));
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), 30, "{ids:?}");
    assert_eq!(unique.len(), 30);
    assert!(read(&log).contains("listening on http://127.0.0.1:"));
    let records = std::fs::read_to_string(dir.path().join("audit/audit.jsonl")).unwrap();
    assert!(records.lines().count() >= 3, "one record per run");
}

/// `# TYPE` lines of a scrape: family name -> type.
fn families(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| {
            let (name, kind) = l.split_once(' ').unwrap();
            (name.to_string(), kind.to_string())
        })
        .collect()
}

/// Every series of a `later` scrape was in the `first` one.
fn assert_no_new_series(first: &HashMap<String, f64>, later: &HashMap<String, f64>) {
    let new: Vec<&String> = later.keys().filter(|k| !first.contains_key(*k)).collect();
    assert!(
        new.is_empty(),
        "series missing from the first scrape: {new:?}"
    );
}

/// The families interface.md names for `GET /metrics`, with their label
/// values from interface.md (status, PII type) and the contract (severity),
/// each at 0 on a service that has output nothing.
fn assert_interface_families_at_zero(scrape: &str) {
    let kinds = families(scrape);
    for (name, kind) in [
        ("genesys_compliance_page_latency_seconds", "histogram"),
        ("genesys_compliance_violations_total", "counter"),
        ("genesys_compliance_pii_findings_total", "counter"),
        ("genesys_compliance_retries_total", "counter"),
        ("genesys_compliance_outbox_depth", "gauge"),
        ("genesys_compliance_last_success_timestamp_seconds", "gauge"),
    ] {
        assert_eq!(
            kinds.get(name).map(String::as_str),
            Some(kind),
            "{name} ({kind}) missing from:\n{scrape}"
        );
    }
    let series = parse_prometheus(scrape);
    let zero = |key: &str| {
        assert_eq!(series.get(key), Some(&0.0), "{key} at 0 in:\n{scrape}");
    };
    for severity in ["LOW", "MEDIUM", "HIGH", "CRITICAL"] {
        for status in ["validated", "false_positive"] {
            zero(&format!(
                "genesys_compliance_violations_total{{severity=\"{severity}\",status=\"{status}\"}}"
            ));
        }
    }
    for kind in ["ssn", "credit_card", "email", "phone", "iban"] {
        zero(&format!(
            "genesys_compliance_pii_findings_total{{type=\"{kind}\"}}"
        ));
    }
    assert!(
        series
            .iter()
            .any(|(k, v)| k.starts_with("genesys_compliance_retries_total{cause=\"") && *v == 0.0),
        "retries by cause:\n{scrape}"
    );
    zero("genesys_compliance_page_latency_seconds_count");
    zero("genesys_compliance_outbox_depth");
}

/// A scrape of a service whose upstream holds no violation at all lists
/// every family interface.md names, at 0, and an empty run adds none.
#[test]
fn a_fresh_service_lists_every_interface_metric_family_before_any_violation() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, sim_api) = simulate(&dir.path().join("sim.err"), &["--violations", "0"]);
    let log = dir.path().join("serve.err");
    let (serve, addr) = serve_into(dir.path(), &sim_api, &utc(-60), &log);
    let (status, first) = http_get(&addr, "/metrics");
    assert_eq!(status, 200);
    assert_interface_families_at_zero(&first);
    wait_for("an empty run", Duration::from_secs(30), || {
        read(&log).contains("run complete")
    });
    let (_, after) = http_get(&addr, "/metrics");
    assert_eq!(families(&first), families(&after));
    assert_no_new_series(&parse_prometheus(&first), &parse_prometheus(&after));
    assert!(terminate(serve).success(), "{}", read(&log));
}

/// Against the live clock, with serve's default lag: violations are
/// detected over 25 s and 40 % of them become visible up to 20 s late;
/// serve is stopped with SIGTERM, restarted, and stopped again a few
/// seconds after the last detection. Every violation that was visible 15 s
/// before the final stop is in the output exactly once, and no series
/// appears that the first scrape of a fresh process lacked.
#[test]
fn with_the_default_lag_serve_outputs_what_was_visible_before_the_stop_once_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = chrono::Utc::now();
    let (data_start, data_end, since) = (utc(-5), utc(20), utc(-10));
    let (seed, n, late, late_max) = (7u64, 300usize, 0.4, Duration::from_secs(20));
    let (_sim, api) = simulate(
        &dir.path().join("sim.err"),
        &[
            "--seed",
            &seed.to_string(),
            "--violations",
            &n.to_string(),
            "--start",
            &data_start,
            "--end",
            &data_end,
            "--late-arrivals",
            &late.to_string(),
            "--late-max",
            "20s",
        ],
    );
    let out_dir = dir.path().join("out");
    let state = dir.path().join("state.db");
    // No --lag: the default is what is tested. The look-back covers the
    // 20 s lateness plus a run.
    let args = vec![
        "serve",
        "--api-base-url",
        &api,
        "--every",
        "2s",
        "--lookback",
        "25s",
        "--listen",
        "127.0.0.1:0",
        "--out-dir",
        out_dir.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ];
    let until = |secs: i64| {
        let at = t0 + chrono::Duration::seconds(secs);
        if let Ok(wait) = (at - chrono::Utc::now()).to_std() {
            std::thread::sleep(wait);
        }
    };

    let log1 = dir.path().join("serve1.err");
    let first_args: Vec<&str> = args.iter().copied().chain(["--since", &since]).collect();
    let (serve, addr) = spawn(&first_args, &DEMO_CLIENT, &log1);
    let (_, fresh) = http_get(&addr, "/metrics");
    let fresh = parse_prometheus(&fresh);
    until(10);
    assert!(terminate(serve).success(), "{}", read(&log1));

    // Restarted without --since: it continues from the watermark.
    let log2 = dir.path().join("serve2.err");
    let (serve, addr) = spawn(&args, &DEMO_CLIENT, &log2);
    until(24);
    let (_, last) = http_get(&addr, "/metrics");
    let stop_ms = chrono::Utc::now().timestamp_millis();
    assert!(terminate(serve).success(), "{}", read(&log2));

    let last = parse_prometheus(&last);
    assert_no_new_series(&fresh, &last);
    let output_total: f64 = last
        .iter()
        .filter(|(k, _)| k.starts_with("genesys_compliance_violations_total{"))
        .map(|(_, v)| v)
        .sum();
    assert!(output_total > 0.0, "the second process counted its output");

    // The simulator's ground truth: when each violation became visible.
    let truth = compliance_simulator::generate(
        seed,
        n,
        data_start.parse().unwrap(),
        data_end.parse().unwrap(),
        (late, late_max),
    );
    let counts = output_counts(&out_dir);
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "output more than once: {repeated:?}");
    let known: std::collections::HashSet<&str> =
        truth.violations.iter().map(|v| v.id.as_str()).collect();
    assert!(counts.keys().all(|id| known.contains(id.as_str())));
    let due: Vec<_> = truth
        .violations
        .iter()
        .filter(|v| v.visible_at.unix_millis() <= stop_ms - 15_000)
        .collect();
    let late_due = due.iter().filter(|v| v.visible_at != v.detected_at).count();
    assert!(
        due.len() >= 50 && late_due >= 5,
        "the test needs violations due at the stop, late ones among them: {} due, {late_due} late",
        due.len()
    );
    let missing: Vec<_> = due
        .iter()
        .filter(|v| !counts.contains_key(&v.id))
        .map(|v| (&v.id, v.detected_at.to_string(), v.visible_at.to_string()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} violations visible 15 s before the stop (at {stop_ms} ms) were not output: {missing:?}\n{}",
        missing.len(),
        due.len(),
        read(&log2)
    );
}

/// `GET /report` serves the HTML report of the output directory and its
/// audit trail; `from`/`to` narrow it, and a bad one is a 400 naming it.
#[test]
fn serve_reports_its_output_directory_at_get_report() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, sim_api) = simulate(
        &dir.path().join("sim.err"),
        &[
            "--violations",
            "300",
            "--start",
            &utc(-600),
            "--end",
            &utc(-300),
        ],
    );
    let log = dir.path().join("serve.err");
    let (serve, addr) = serve_into(dir.path(), &sim_api, &utc(-900), &log);
    wait_for("the first run", Duration::from_secs(30), || {
        read(&log).contains("run complete")
    });
    let (status, html) = http_get(&addr, "/report");
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(r#"id="total-violations" data-value="300""#),
        "{}",
        &html[..html.len().min(3000)]
    );
    assert!(html.contains("Chain verified: intact, 1 record"));
    let (status, html) = http_get(&addr, &format!("/report?from={}", utc(-450)));
    assert_eq!(status, 200);
    let shown: u64 = html
        .split(r#"id="total-violations" data-value=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(shown < 300, "from narrows the report ({shown})");

    let (status, body) = http_get(&addr, "/report?from=yesterday");
    assert_eq!(status, 400);
    assert!(
        body.starts_with("from: `yesterday` is not a UTC timestamp"),
        "{body}"
    );
    let (status, body) = http_get(
        &addr,
        "/report?from=2023-10-02T00:00:00Z&to=2023-10-01T00:00:00Z",
    );
    assert_eq!(status, 400);
    assert!(body.starts_with("to: "), "{body}");
    assert!(terminate(serve).success(), "{}", read(&log));
}

/// `serve --source speech-analytics`: its runs output exactly what one
/// `extract` of the same conversations outputs, each violation once, and a
/// restart that reads them all again through the look-back outputs none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_speech_analytics_outputs_each_violation_once_across_a_restart() {
    use crate::sources::STA_RULES;
    use crate::util::{extract, output, simulator};
    let minute = |offset: i64| {
        let t = chrono::Utc::now() + chrono::Duration::minutes(offset);
        t.format("%Y-%m-%dT%H:%M:00Z").to_string()
    };
    // Conversations of the last two hours, all over ten minutes before now.
    let (start, end) = (minute(-120), minute(-10));
    let sim = simulator(10, |c| {
        c.conversations = 150;
        c.rate_limit_per_minute = 0;
        c.job_polls = 2;
        c.start = start.parse().unwrap();
        c.end = end.parse().unwrap();
    })
    .await;
    let api = sim.base_url();
    let unpaced = ["--rate-limit-per-minute", "1000000"];

    let reference = tempfile::tempdir().unwrap();
    let mut cmd = extract();
    cmd.args(["--api-base-url", &api, "--source", "speech-analytics"])
        .args(["--rules", STA_RULES, "--start", &start, "--end", &minute(1)])
        .args(unpaced)
        .arg("--out")
        .arg(reference.path().join("v.jsonl"))
        .current_dir(reference.path());
    let o = output(cmd).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let mut expected = violation_ids(&read(&reference.path().join("v.jsonl")));
    expected.sort();
    assert!(expected.len() > 20, "{} violations", expected.len());

    let dir = tempfile::tempdir().unwrap();
    let (out_dir, state) = (dir.path().join("out"), dir.path().join("state.db"));
    let audit_lines = || read(&out_dir.join("audit/audit.jsonl")).lines().count();
    let serve = |log: &str| {
        let args = [
            "serve",
            "--api-base-url",
            &api,
            "--source",
            "speech-analytics",
            "--rules",
            STA_RULES,
            "--since",
            &start,
            "--every",
            "2s",
            // Every restart reads the whole two hours again.
            "--lookback",
            "3h",
            "--listen",
            "127.0.0.1:0",
            "--out-dir",
            out_dir.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
            unpaced[0],
            unpaced[1],
        ];
        spawn(&args, &DEMO_CLIENT, &dir.path().join(log)).0
    };

    let first = serve("serve-1.log");
    wait_for("every violation output", Duration::from_secs(60), || {
        output_counts(&out_dir).len() == expected.len()
    });
    assert!(terminate(first).success());
    let runs = audit_lines();
    let second = serve("serve-2.log");
    wait_for("a run after the restart", Duration::from_secs(60), || {
        audit_lines() > runs
    });
    assert!(terminate(second).success());

    let counts = output_counts(&out_dir);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "output more than once: {twice:?}");
    let mut got: Vec<String> = counts.into_keys().collect();
    got.sort();
    assert_eq!(got, expected, "serve outputs what extract outputs");
    assert_chain_intact(&out_dir.join("audit"), &state);
}
