//! `genesys-compliance demo` runs to completion as a user runs it.

use crate::util::{bin, text};
use std::path::Path;

/// Runs `demo` writing into `dir` with `args`, expects exit 0 and `violations`
/// unique violations extracted; returns standard error.
fn demo(dir: &Path, args: &[&str], violations: usize) -> String {
    let out = bin()
        .arg("demo")
        .args(args)
        .arg("--dir")
        .arg(dir)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("extracted:  {violations} unique violations")),
        "{stderr}"
    );
    stderr
}

#[test]
fn the_demo_runs_end_to_end_and_proves_its_audit_trail() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = demo(dir.path(), &["--violations", "3000"], 3000);
    assert!(stderr.contains("chain intact"), "{stderr}");
    assert!(
        stderr.contains("1 of 1 received with a valid signature"),
        "{stderr}"
    );

    let output = std::fs::read_to_string(dir.path().join("violations.jsonl")).unwrap();
    assert_eq!(output.lines().count(), 3000);
    let first: serde_json::Value = serde_json::from_str(output.lines().next().unwrap()).unwrap();
    assert!(first["verdict"]["status"].is_string());
    assert!(dir.path().join("audit/audit.jsonl").exists());
    // The summary says where the report is, and it is there.
    let report = dir.path().join("report.html");
    assert!(
        stderr.contains(&format!(
            "report:     {} (3000 violations",
            report.display()
        )),
        "{stderr}"
    );
    assert!(std::fs::read_to_string(report)
        .unwrap()
        .contains(r#"data-value="3000""#));
}

#[test]
fn the_demo_survives_a_misbehaving_server() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path(), &["--violations", "2000", "--faults"], 2000);
}
