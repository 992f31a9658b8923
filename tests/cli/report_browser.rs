//! The demo's report in a real browser (headless Chromium): it renders, each
//! chart has its marks and each key figure its value in the DOM, it makes no
//! network request, and no PII of the simulator's ground truth is in it.
//!
//! Chromium is `.ci/run`'s to install. Without it these tests fail when `CI`
//! is set, and are skipped with a message otherwise.

use crate::util::bin;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The browser, or `None` (outside CI) when it is not installed.
fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|p| p.join(name))
                    .find(|p| p.is_file())
            })
        });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but Chromium is not installed: .ci/run installs Debian's `chromium` \
             (apt-get install -y chromium); these browser tests must run in CI"
        );
        eprintln!("skipped: Chromium is not installed (apt-get install -y chromium to run it)");
    }
    found
}

/// Headless Chromium on `page` with `extra` flags; its standard output.
fn run_chromium(browser: &Path, page: &Path, extra: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            // Chromium's own traffic (clock, sign-in, updates, field trials), so that
            // a request seen can only be the page's.
            "--disable-default-apps",
            "--disable-domain-reliability",
            "--disable-client-side-phishing-detection",
            "--no-pings",
            "--no-default-browser-check",
            "--metrics-recording-only",
            "--disable-field-trial-config",
            "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter,AutofillServerCommunication,CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions,SigninInterception",
            "--hide-scrollbars",
            "--timeout=20000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The demo in `dir` and its report; returns the report's path.
fn demo_report(dir: &Path, extra: &[&str]) -> PathBuf {
    let out = bin()
        .args(["demo", "--violations", "2000", "--seed", "42", "--dir"])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let page = dir.join("report.html");
    assert!(
        stderr.contains(&format!("report:     {}", page.display())),
        "the demo says where: {stderr}"
    );
    page
}

/// The part of the DOM from the element with `id` to its closing `</svg>`.
fn svg<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no chart #{id}"));
    let end = start + dom[start..].find("</svg>").unwrap();
    &dom[start..end]
}

#[test]
fn the_demos_report_renders_with_every_chart_and_figure() {
    let Some(browser) = chromium() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let page = demo_report(tmp.path(), &[]);

    // A picture for people to look at, under target/.
    let target = Path::new(env!("CARGO_BIN_EXE_genesys-compliance"))
        .parent()
        .unwrap()
        .parent()
        .unwrap();
    let shot = target.join("report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    run_chromium(
        &browser,
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1200,5000".into(),
        ],
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 50_000,
        "{} bytes",
        png.len()
    );

    let dom = run_chromium(&browser, &page, &["--dump-dom".into()]);
    for (chart, at_least) in [
        ("chart-time", 24 * 4),
        ("chart-rules", 8),
        ("chart-agents", 12),
        ("chart-queues", 8),
        ("chart-reasons", 2),
        ("chart-pii", 5),
        ("chart-accuracy", 1),
    ] {
        let marks = svg(&dom, chart).matches(r#"class="mark "#).count();
        assert!(
            marks >= at_least,
            "#{chart} has {marks} marks, expected {at_least} or more"
        );
    }
    // Figures as the browser holds them, against the files they come from.
    let lines = std::fs::read_to_string(tmp.path().join("violations.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let validated = records
        .iter()
        .filter(|r| r["verdict"]["status"] == "validated")
        .count();
    let pii: usize = records
        .iter()
        .map(|r| r["verdict"]["pii"].as_array().unwrap().len())
        .sum();
    let figure = |id: &str, n: usize| {
        let shown = format!(
            r#"id="{id}" data-value="{n}">{}<"#,
            compliance_report::num(n as u64)
        );
        assert!(dom.contains(&shown), "#{id} should read {n}");
    };
    figure("total-violations", records.len());
    figure("total-validated", validated);
    figure("total-false-positives", records.len() - validated);
    figure("total-pii", pii);
    figure("extractions", 1);
    assert!(dom.contains(r#"id="trail-verdict">intact<"#));
    let audit = std::fs::read_to_string(tmp.path().join("audit/audit.jsonl")).unwrap();
    let entry: serde_json::Value = serde_json::from_str(audit.trim()).unwrap();
    assert!(dom.contains(&format!(
        r#"id="head-hash">{}<"#,
        entry["hash"].as_str().unwrap()
    )));
}

#[test]
fn the_report_requests_nothing_and_shows_no_pii_even_from_kept_pii_output() {
    let Some(browser) = chromium() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let page = demo_report(tmp.path(), &["--keep-pii"]);
    let html = std::fs::read_to_string(&page).unwrap();

    // The simulator's ground truth: every piece of PII it put in the evidence.
    let at = |s: &str| s.parse().unwrap();
    let dataset = compliance_simulator::generate(
        42,
        2000,
        at("2023-10-01T00:00:00Z"),
        at("2023-10-02T00:00:00Z"),
        (0.0, Duration::from_secs(900)),
    );
    let mut truths = Vec::new();
    for v in &dataset.violations {
        for (item, spans) in v.evidence.iter().flatten().zip(&v.pii) {
            truths.extend(spans.iter().map(|t| item.value[t.start..t.end].to_owned()));
        }
    }
    let output = std::fs::read_to_string(tmp.path().join("violations.jsonl")).unwrap();
    let kept = truths
        .iter()
        .filter(|t| output.contains(t.as_str()))
        .count();
    assert!(
        kept > 1000,
        "the output kept the PII ({kept} of {} found in it)",
        truths.len()
    );
    let shown: Vec<&String> = truths
        .iter()
        .filter(|t| html.contains(t.as_str()))
        .collect();
    assert!(
        shown.is_empty(),
        "PII on the page: {:?}",
        &shown[..shown.len().min(5)]
    );
    assert!(html.contains("written with --keep-pii; they are redacted here"));

    assert_eq!(
        page_requests(&browser, &page),
        Vec::<String>::new(),
        "the page made requests"
    );
    // The check sees a request when there is one.
    let control = tmp.path().join("control.html");
    std::fs::write(
        &control,
        r#"<p>x</p><img src="http://example.invalid/x.png">"#,
    )
    .unwrap();
    assert_eq!(
        page_requests(&browser, &control),
        ["http://example.invalid/x.png"]
    );
}

/// The URLs that `page` itself requested, from Chromium's net log: requests
/// whose initiator is the page's (opaque, file) origin. Chromium's own
/// traffic (clock, updates, sign-in) has another initiator and is left out;
/// no name resolves, so nothing leaves the machine either way.
fn page_requests(browser: &Path, page: &Path) -> Vec<String> {
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("net.json");
    let dom = run_chromium(
        browser,
        page,
        &[
            "--dump-dom".into(),
            format!("--log-net-log={}", log.display()),
            "--host-resolver-rules=MAP * ~NOTFOUND".into(),
        ],
    );
    assert!(dom.contains("<p>"), "the page rendered");
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&log).unwrap()).unwrap();
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
    assert!(start_job.is_number(), "a net log with its constants");
    log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == start_job)
        .filter(|e| {
            let p = &e["params"];
            p["initiator"] == "null"
                || p["network_isolation_key"]
                    .as_str()
                    .is_some_and(|k| k.starts_with("file://"))
        })
        .filter_map(|e| e["params"]["url"].as_str())
        .filter(|url| !url.starts_with("file:"))
        .map(String::from)
        .collect()
}
