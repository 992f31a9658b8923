//! `genesys-compliance demo` runs to completion as a user runs it.

use std::process::Command;

#[test]
fn the_demo_runs_end_to_end_and_proves_its_audit_trail() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_genesys-compliance"))
        .args(["demo", "--violations", "3000", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("extracted:  3000 unique violations"),
        "{stderr}"
    );
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
}

#[test]
fn the_demo_survives_a_misbehaving_server() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_genesys-compliance"))
        .args(["demo", "--violations", "2000", "--faults", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("extracted:  2000 unique violations"),
        "{stderr}"
    );
}
