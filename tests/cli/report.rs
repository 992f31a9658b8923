//! `genesys-compliance report` as a user runs it: on the demo's files, its
//! figures against `audit verify` and the run's summary; a tampered trail;
//! bad input refused with exit 2 naming it.

use crate::util::bin;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// One demo run shared by the tests (with its summary as JSON fields).
struct Demo {
    dir: tempfile::TempDir,
    summary: Value,
}

fn demo() -> &'static Demo {
    static DEMO: OnceLock<Demo> = OnceLock::new();
    DEMO.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = bin()
            .args([
                "--log-format",
                "json",
                "demo",
                "--violations",
                "2000",
                "--dir",
            ])
            .arg(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let summary = stderr
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|e| e["fields"]["message"] == "summary")
            .expect("a summary event")["fields"]
            .clone();
        Demo { dir, summary }
    })
}

fn report(args: &[&str], dir: &Path) -> (Output, String) {
    report_with(args, dir, |_| {})
}

/// [`report`] with the command set up further (environment, standard input).
fn report_with(args: &[&str], dir: &Path, setup: impl FnOnce(&mut Command)) -> (Output, String) {
    let mut cmd = bin();
    cmd.arg("report").args(args).current_dir(dir);
    setup(&mut cmd);
    let out = cmd.output().unwrap();
    let html = std::fs::read_to_string(dir.join("r.html")).unwrap_or_default();
    (out, html)
}

/// The `data-value` of the element with `id`.
fn value_of(html: &str, id: &str) -> String {
    let at = html
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no #{id}"));
    let rest = &html[at..];
    let start = rest.find("data-value=\"").unwrap() + "data-value=\"".len();
    rest[start..start + rest[start..].find('"').unwrap()].to_owned()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of the demo's files, to change or write beside.
fn demo_copy() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    copy_dir(demo().dir.path(), &dir);
    (tmp, dir)
}

const DEMO_ARGS: [&str; 8] = [
    "--in",
    "violations.jsonl",
    "--audit-dir",
    "audit",
    "--state",
    "genesys-compliance.db",
    "--out",
    "r.html",
];

#[test]
fn the_reports_figures_are_those_of_the_summary_and_of_audit_verify() {
    // The demo's own directory: its state store anchors the trail by path.
    let dir = demo().dir.path();
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("r.html");
    let mut args = DEMO_ARGS.map(String::from);
    args[7] = page.display().to_string();
    let out = bin()
        .arg("report")
        .args(&args)
        .current_dir(dir)
        .output()
        .unwrap();
    let html = std::fs::read_to_string(&page).unwrap_or_default();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = &demo().summary;
    for (id, field) in [
        ("total-violations", "violations"),
        ("total-validated", "validated"),
        ("total-false-positives", "false_positives"),
        ("total-pii", "pii_findings"),
    ] {
        assert_eq!(
            value_of(&html, id),
            s[field].to_string(),
            "{id} against the summary's {field}"
        );
    }
    let rate: f64 = value_of(&html, "accuracy-rate").parse().unwrap();
    assert!((rate - s["accuracy_rate"].as_f64().unwrap()).abs() < 1e-4);

    let verify = bin()
        .args([
            "audit",
            "verify",
            "audit",
            "--state",
            "genesys-compliance.db",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "{stdout}");
    let head = stdout
        .lines()
        .find_map(|l| l.strip_prefix("head: seq 1 hash "))
        .expect(&stdout);
    assert!(
        html.contains(&format!(r#"id="head-hash">{head}<"#)),
        "the head hash of audit verify"
    );
    assert!(html.contains("Chain verified: intact, 1 record"));
    assert!(
        html.contains(&format!(r#"class="hash anchored">{head}<"#)),
        "the anchored head"
    );
    assert_eq!(value_of(&html, "extractions"), "1");
    assert_eq!(value_of(&html, "webhooks-queued"), "0");

    // The audit record's own figures, and its payload hash, are on the page.
    let line = std::fs::read_to_string(dir.join("audit/audit.jsonl")).unwrap();
    let record: Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    let record = &record["record"];
    assert!(html.contains(record["payload_hash"].as_str().unwrap()));
    assert_eq!(record["total_violations"], s["validated"]);
    assert!(
        html.contains(r#"<span class="delivered">delivered</span>"#),
        "the webhook's state"
    );
    assert_eq!(
        html.matches(r#"<span class="delivered">equal</span>"#)
            .count(),
        4,
        "output and audit agree"
    );
}

#[test]
fn a_tampered_trail_is_shown_broken_with_its_first_bad_record() {
    let (_tmp, dir) = demo_copy();
    let log = dir.join("audit/audit.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    let validated = demo().summary["validated"].as_u64().unwrap();
    let changed = text.replace(
        &format!(r#""total_violations":{validated}"#),
        &format!(r#""total_violations":{}"#, validated - 1),
    );
    assert_ne!(changed, text);
    std::fs::write(&log, changed).unwrap();

    let (out, html) = report(&DEMO_ARGS, &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the report is written: {stderr}");
    assert!(
        stderr.contains("audit trail BROKEN: modified: record seq 1"),
        "{stderr}"
    );
    assert!(html.contains("Chain BROKEN: modified"), "the verdict");
    assert!(html.contains(r#"First bad record: seq <b id="bad-seq">1</b>"#));
    let id = text
        .split(r#""extraction_id":""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(
        html.contains(id),
        "the first bad record's extraction is named"
    );
}

#[test]
fn pseudonyms_replace_agent_ids_and_stay_the_same_with_the_same_key() {
    let (_tmp, dir) = demo_copy();
    let run = |key: &str| {
        let (out, html) = report_with(
            &[&["--pseudonymize-agents"], &DEMO_ARGS[..]].concat(),
            &dir,
            |cmd| {
                cmd.env("COMPLIANCE_PSEUDONYM_KEY", key);
            },
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        html
    };
    let first = run("a key of thirty-two bytes, kept.");
    let output = std::fs::read_to_string(dir.join("violations.jsonl")).unwrap();
    let agent = output
        .split(r#""agentId":""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(!first.contains(agent), "agent id {agent} is on the page");
    assert!(first.contains("keyed with COMPLIANCE_PSEUDONYM_KEY"));
    let pseudonyms = |html: &str| -> Vec<String> {
        html.split("<code>agent-")
            .skip(1)
            .map(|s| s[..12].to_owned())
            .collect()
    };
    assert!(!pseudonyms(&first).is_empty());
    assert_eq!(
        pseudonyms(&run("a key of thirty-two bytes, kept.")),
        pseudonyms(&first)
    );
    assert_ne!(
        pseudonyms(&run("another key, also long enough..")),
        pseudonyms(&first)
    );
}

#[test]
fn bad_input_exits_2_naming_the_input_and_what_is_allowed() {
    let (_tmp, dir) = demo_copy();
    std::fs::write(dir.join("bad.jsonl"), "{\"violation\":1}\n").unwrap();
    let lines = std::fs::read_to_string(dir.join("violations.jsonl")).unwrap();
    let first = lines.lines().next().unwrap();
    std::fs::write(dir.join("second-bad.jsonl"), format!("{first}\nnot json\n")).unwrap();
    let with = |replace: &[(&str, &str)], extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = DEMO_ARGS.iter().map(|s| s.to_string()).collect();
        for (flag, value) in replace {
            let i = args.iter().position(|a| a == flag).unwrap();
            args[i + 1] = value.to_string();
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            with(&[], &["--from", "yesterday"]),
            "--from: `yesterday` is not a UTC timestamp",
        ),
        (
            with(
                &[],
                &[
                    "--from",
                    "2023-10-02T00:00:00Z",
                    "--to",
                    "2023-10-01T00:00:00Z",
                ],
            ),
            "--to: 2023-10-01T00:00:00.000Z is not after --from",
        ),
        (
            with(&[("--in", "missing.jsonl")], &[]),
            "--in `missing.jsonl`: cannot read `missing.jsonl`",
        ),
        (
            with(&[("--in", "bad.jsonl")], &[]),
            "bad.jsonl line 1 is not an output record",
        ),
        (
            with(&[("--in", "second-bad.jsonl")], &[]),
            "second-bad.jsonl line 2 is not an output record",
        ),
        (
            with(&[("--audit-dir", "no-such-dir")], &[]),
            "--audit-dir: cannot read the audit directory no-such-dir",
        ),
        (
            with(&[("--state", "no-such.db")], &[]),
            "--state: state store no-such.db does not exist",
        ),
    ];
    for (args, expected) in cases {
        let out = bin()
            .arg("report")
            .args(&args)
            .current_dir(&dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}: expected `{expected}` in {stderr}"
        );
        assert!(!dir.join("r.html").exists(), "{args:?} wrote a report");
    }
    let out = bin()
        .args(["report", "--pseudonymize-agents"])
        .args(DEMO_ARGS)
        .env("COMPLIANCE_PSEUDONYM_KEY", "short")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("COMPLIANCE_PSEUDONYM_KEY holds 5 bytes"));
}

#[test]
fn a_directory_of_hourly_files_and_a_window_select_what_is_reported() {
    let (_tmp, dir) = demo_copy();
    // serve's layout: hourly files in a directory, split here by detectedAt hour.
    let hourly = dir.join("out");
    std::fs::create_dir(&hourly).unwrap();
    let lines = std::fs::read_to_string(dir.join("violations.jsonl")).unwrap();
    let mut in_window = 0;
    for line in lines.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let at = v["violation"]["detectedAt"].as_str().unwrap();
        let hour = &at[11..13];
        if ("06".."12").contains(&hour) {
            in_window += 1;
        }
        let file = hourly.join(format!("violations-20231001T{hour}.jsonl"));
        let mut text = std::fs::read_to_string(&file).unwrap_or_default();
        text.push_str(line);
        text.push('\n');
        std::fs::write(file, text).unwrap();
    }
    std::fs::write(
        hourly.join("violations-20231001T00.rejects.jsonl"),
        "not a record\n",
    )
    .unwrap();
    let (out, html) = report(
        &[
            "--in",
            "out",
            "--audit-dir",
            "audit",
            "--out",
            "r.html",
            "--from",
            "2023-10-01T06:00:00Z",
            "--to",
            "2023-10-01T12:00:00Z",
        ],
        &dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(value_of(&html, "total-violations"), in_window.to_string());
    assert!(html.contains(
        "24 files, out/violations-20231001T00.jsonl to out/violations-20231001T23.jsonl"
    ));
}

#[test]
fn output_records_can_come_from_standard_input() {
    let (_tmp, dir) = demo_copy();
    let input = std::fs::File::open(dir.join("violations.jsonl")).unwrap();
    let args = [
        "--in",
        "-",
        "--audit-dir",
        "audit",
        "--out",
        "r.html",
        "--title",
        "From a pipe",
    ];
    let (out, html) = report_with(&args, &dir, |cmd| {
        cmd.stdin(input);
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        value_of(&html, "total-violations"),
        demo().summary["violations"].to_string()
    );
    assert!(html.contains("<h1>From a pipe</h1>"));
    assert!(html.contains("input: standard input"));
}
