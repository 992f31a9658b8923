//! `genesys-compliance verify`, run as the real binary on real files.

use crate::util::{bin, text};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Output, Stdio};

fn run(dir: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Runs `verify` in `dir` with `args` and expects exit 0.
fn verify_ok(dir: &Path, args: &[&str]) -> Output {
    let out = run(dir, &[&["verify"], args].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    out
}

fn violation(id: &str, rule: &str, severity: &str, values: &[&str]) -> Value {
    json!({
        "id": id, "ruleId": rule, "severity": severity,
        "detectedAt": "2023-10-01T13:04:05.120Z",
        "segmentReference": "conversation/c/segment/4",
        "sentiment": {"score": -0.4},
        "evidence": values.iter().map(|v| json!({"type": "TRANSCRIPT", "participant": "CUSTOMER", "value": v, "startMs": 1, "endMs": 2})).collect::<Vec<_>>(),
    })
}

fn jsonl(values: &[Value]) -> String {
    values.iter().map(|v| format!("{v}\n")).collect()
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn verifies_redacts_and_judges() {
    let dir = tempfile::tempdir().unwrap();
    let card = "my card is 4111 1111 1111 1111 ok";
    let input = jsonl(&[
        violation(
            "v1",
            "rule-uuid-001",
            "HIGH",
            &[card, "four one five, five five five, oh one three two"],
        ),
        violation("v2", "rule-uuid-002", "LOW", &["nothing here"]),
        violation(
            "v3",
            "rule-uuid-999",
            "CRITICAL",
            &["mail jane@example.com"],
        ),
    ]);
    std::fs::write(dir.path().join("raw.jsonl"), input).unwrap();
    let out = verify_ok(dir.path(), &["--in", "raw.jsonl", "--out", "out.jsonl"]);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("verified 3 violations"), "{stderr}");
    assert!(stderr.contains("accuracy rate 0.3333"), "{stderr}");

    let r = records(&dir.path().join("out.jsonl"));
    assert_eq!(r.len(), 3);
    assert_eq!(
        r[0]["verdict"],
        json!({"status": "validated", "reason": null, "regulations": ["gdpr_art5", "hipaa_164"],
               "pii": [{"type": "credit_card", "evidence_index": 0, "start": 11, "end": 30},
                       {"type": "phone", "evidence_index": 1, "start": 0, "end": 47}]})
    );
    assert_eq!(
        r[0]["violation"]["evidence"][0]["value"],
        "my card is [REDACTED:credit_card] ok"
    );
    assert_eq!(
        r[0]["violation"]["evidence"][1]["value"],
        "[REDACTED:phone]"
    );
    // Unknown fields pass through.
    assert_eq!(r[0]["violation"]["sentiment"], json!({"score": -0.4}));
    assert_eq!(r[1]["verdict"]["status"], "false_positive");
    assert_eq!(r[1]["verdict"]["reason"], "below_severity_threshold");
    assert_eq!(r[2]["verdict"]["reason"], "no_regulatory_mapping");
    assert_eq!(r[2]["verdict"]["regulations"], json!([]));
    let written = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
    assert!(
        !written.contains("4111") && !written.contains("jane@"),
        "{written}"
    );
    assert!(!dir.path().join("out.jsonl.partial").exists());
}

#[test]
fn keep_pii_and_stdin_stdout_and_rules() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.toml"),
        "[rules.\"r\"]\nregulations = [\"pci_dss_req6\", \"low_tolerance\"]\n",
    )
    .unwrap();
    let mut child = bin()
        .current_dir(dir.path())
        .args([
            "verify",
            "--in",
            "-",
            "--out",
            "-",
            "--keep-pii",
            "--rules",
            "rules.toml",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = jsonl(&[violation("v1", "r", "LOW", &["ssn 536-22-1234"])]);
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["violation"]["evidence"][0]["value"], "ssn 536-22-1234");
    assert_eq!(r["verdict"]["status"], "validated");
    assert_eq!(
        r["verdict"]["regulations"],
        json!(["pci_dss_req6", "low_tolerance"])
    );
    assert_eq!(r["verdict"]["pii"][0]["type"], "ssn");
}

#[test]
fn malformed_lines_go_to_rejects_redacted_with_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let good = violation("v1", "rule-uuid-001", "HIGH", &["hello"]).to_string();
    let input = format!(
        "{good}\n{{\"id\": \"v2\", \"note\": \"card 4111 1111 1111 1111\"}}\nnot json\n\n{good}\n"
    );
    std::fs::write(dir.path().join("raw.jsonl"), input).unwrap();
    let out = verify_ok(dir.path(), &["--in", "raw.jsonl", "--out", "out.jsonl"]);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("rejected 2 lines"), "{stderr}");
    assert_eq!(records(&dir.path().join("out.jsonl")).len(), 2);
    let rejects = records(&dir.path().join("out.jsonl.rejects.jsonl"));
    assert_eq!(rejects.len(), 2);
    assert_eq!(rejects[0]["line"], 2);
    assert!(
        rejects[0]["reason"]
            .as_str()
            .unwrap()
            .contains("missing field"),
        "{}",
        rejects[0]
    );
    assert!(rejects[0]["text"]
        .as_str()
        .unwrap()
        .contains("[REDACTED:credit_card]"));
    assert_eq!(rejects[1]["line"], 3);
}

#[test]
fn bad_inputs_exit_2_naming_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let refused = |args: &[&str]| {
        let out = run(dir.path(), &[&["verify"], args].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        text(&out.stderr)
    };
    let stderr = refused(&["--in", "missing.jsonl", "--out", "out.jsonl"]);
    assert!(
        stderr.contains("missing.jsonl") && stderr.contains("--in"),
        "{stderr}"
    );

    std::fs::write(dir.path().join("raw.jsonl"), "").unwrap();
    std::fs::write(
        dir.path().join("rules.toml"),
        "[rules.\"r\"]\nregulation = [\"x\"]\n",
    )
    .unwrap();
    let stderr = refused(&[
        "--in",
        "raw.jsonl",
        "--out",
        "out.jsonl",
        "--rules",
        "rules.toml",
    ]);
    assert!(
        stderr.contains("rules.toml") && stderr.contains("allowed"),
        "{stderr}"
    );

    let stderr = refused(&["--in", "raw.jsonl", "--out", "no/such/dir/out.jsonl"]);
    assert!(stderr.contains("--out"), "{stderr}");
}

#[test]
fn lines_across_read_buffers_are_all_verified_once() {
    // More than the 1 MiB read buffer, so that lines straddle two reads.
    let dir = tempfile::tempdir().unwrap();
    let filler = "x".repeat(700);
    let input: String = (0..3000)
        .map(|i| {
            let value = format!("call (415) 555-{:04} {filler}", i % 10_000);
            format!(
                "{}\n",
                violation(&format!("v{i}"), "rule-uuid-001", "HIGH", &[&value])
            )
        })
        .collect();
    assert!(input.len() > 2 << 20);
    std::fs::write(dir.path().join("raw.jsonl"), input).unwrap();
    verify_ok(dir.path(), &["--in", "raw.jsonl", "--out", "out.jsonl"]);
    let r = records(&dir.path().join("out.jsonl"));
    assert_eq!(r.len(), 3000);
    for (i, rec) in r.iter().enumerate() {
        assert_eq!(rec["violation"]["id"], format!("v{i}"));
        assert_eq!(rec["verdict"]["pii"][0]["type"], "phone");
        assert!(rec["violation"]["evidence"][0]["value"]
            .as_str()
            .unwrap()
            .starts_with("call [REDACTED:phone] x"));
    }
}

/// A file and standard input give the same output and rejects, byte for
/// byte, including lines that straddle two reads, blank lines, CRLF, rejects
/// and a last line without a newline.
#[test]
fn a_file_and_standard_input_give_the_same_output() {
    let dir = tempfile::tempdir().unwrap();
    let filler = "y".repeat(900);
    let mut input: String = (0..3000)
        .map(|i| {
            let value = format!("ssn 536-22-{:04} four one five {filler}", 1000 + i);
            let line = violation(&format!("v{i}"), "rule-uuid-002", "LOW", &[&value]);
            match i % 500 {
                7 => format!("{line}\r\n\n"),
                9 => format!("{{\"id\": \"bad{i}\", \"note\": \"card 4111 1111 1111 1111\"}}\n"),
                _ => format!("{line}\n"),
            }
        })
        .collect();
    input.push_str(
        &violation("last", "rule-uuid-001", "HIGH", &["mail jane@example.com"]).to_string(),
    );
    assert!(input.len() > 2 << 20);
    std::fs::write(dir.path().join("raw.jsonl"), &input).unwrap();
    let out = verify_ok(dir.path(), &["--in", "raw.jsonl", "--out", "file.jsonl"]);

    let mut child = bin()
        .current_dir(dir.path())
        .args(["verify", "--in", "-", "--out", "read.jsonl"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer =
        std::thread::spawn(move || std::io::Write::write_all(&mut stdin, input.as_bytes()));
    let read = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(read.status.success(), "{}", text(&read.stderr));

    let file = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    assert_eq!(file("file.jsonl"), file("read.jsonl"));
    assert_eq!(
        file("file.jsonl.rejects.jsonl"),
        file("read.jsonl.rejects.jsonl")
    );
    let verified = records(&dir.path().join("file.jsonl"));
    assert_eq!(verified.len(), 3000 - 6 + 1);
    assert_eq!(verified.last().unwrap()["violation"]["id"], "last");
    let rejects = records(&dir.path().join("file.jsonl.rejects.jsonl"));
    assert_eq!(rejects.len(), 6);
    // Line 8 ends in CRLF and is followed by a blank line.
    assert_eq!(rejects[0]["line"], 11);
    // The summary (counts, not the time) is the same too.
    let counts = |o: &Output| {
        text(&o.stderr)
            .lines()
            .skip(1)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(counts(&out)[..3], counts(&read)[..3]);
}

/// `verify`'s output is, byte for byte, what it was before the speed work of
/// issue 15 (point 4): the same input gives the same output file, rejects
/// file and summary counts, with and without `--keep-pii`, to a file and to
/// standard output. The input and the digests of the expected files are in
/// `testdata/verify-golden/` (its README says how they were made).
#[test]
fn output_is_byte_identical_to_the_stored_expected_output() {
    use sha2::{Digest, Sha256};
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/verify-golden");
    let input = golden.join("input.jsonl");
    let input = input.to_str().unwrap();
    let stored = |name: &str| std::fs::read_to_string(golden.join(name)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let summary = |o: &Output| {
        // Its first line holds the time taken; the rejects line a temporary path.
        let stderr = text(&o.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let first = lines
            .iter()
            .position(|l| l.starts_with("verified 1006 violations in "))
            .unwrap_or_else(|| panic!("no summary: {stderr}"));
        lines[first + 1..first + 4].join("\n") + "\n"
    };
    let plain = verify_ok(dir.path(), &["--in", input, "--out", "out.jsonl"]);
    assert_eq!(summary(&plain), stored("summary.txt"));
    let kept = verify_ok(
        dir.path(),
        &["--keep-pii", "--in", input, "--out", "keep.jsonl"],
    );
    assert_eq!(summary(&kept), stored("summary-keep-pii.txt"));
    let piped = verify_ok(
        dir.path(),
        &[
            "--in",
            input,
            "--out",
            "-",
            "--rejects",
            "piped.rejects.jsonl",
        ],
    );
    // As `sha256sum` prints them, so that `sha256sum -c` can check them by hand.
    let mut digests = String::new();
    for name in [
        "out.jsonl",
        "out.jsonl.rejects.jsonl",
        "keep.jsonl",
        "keep.jsonl.rejects.jsonl",
    ] {
        let bytes = std::fs::read(dir.path().join(name)).unwrap();
        digests += &format!("{:x}  {name}\n", Sha256::digest(&bytes));
    }
    assert_eq!(digests, stored("expected.sha256"));
    assert_eq!(
        piped.stdout,
        std::fs::read(dir.path().join("out.jsonl")).unwrap()
    );
    assert_eq!(
        std::fs::read(dir.path().join("piped.rejects.jsonl")).unwrap(),
        std::fs::read(dir.path().join("out.jsonl.rejects.jsonl")).unwrap()
    );
}

/// Issue 17: the last pass's finds are logged once per run, with their
/// count, what they mean and where to read more, not once per record; the
/// summary still counts them.
#[test]
fn late_pii_is_one_warning_per_run_with_the_count() {
    let dir = tempfile::tempdir().unwrap();
    // Luhn-valid, but no brand issues numbers starting with 7: the detectors
    // leave them, the last pass redacts them.
    let mut input = jsonl(&[
        violation(
            "v1",
            "rule-uuid-001",
            "HIGH",
            &["ref 7000 0000 0000 0005 ok"],
        ),
        violation("v2", "rule-uuid-001", "HIGH", &["ref 7000-0000-0000-0013"]),
        violation("v3", "rule-uuid-002", "LOW", &["a 7000000000000021 b"]),
        // A Visa number, but grouped as no card is printed: the detectors
        // leave it (a hard negative of theirs), the last pass does not.
        violation(
            "v4",
            "rule-uuid-002",
            "LOW",
            &["card 4111 11 1111 1111 11 ok"],
        ),
    ]);
    input.push_str("{\"id\": \"bad\", \"note\": \"7000 0000 0000 0039\"}\n");
    std::fs::write(dir.path().join("raw.jsonl"), input).unwrap();
    let out = verify_ok(dir.path(), &["--in", "raw.jsonl", "--out", "out.jsonl"]);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("late_pii 5;"), "{stderr}");
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    for words in [
        "redacted 5 Luhn-valid runs",
        "1 in an issued card range",
        "4 in no issued range",
        "hard negatives",
        "docs/late-pii.md",
        "late_pii=5",
        "late_pii_issued_range=1",
    ] {
        assert!(warnings[0].contains(words), "{words}: {stderr}");
    }
    assert!(
        !stderr.contains("7000") && !stderr.contains("4111"),
        "{stderr}"
    );
    let written = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap()
        + &std::fs::read_to_string(dir.path().join("out.jsonl.rejects.jsonl")).unwrap();
    assert!(
        !written.contains("7000") && !written.contains("4111"),
        "{written}"
    );
}
