//! `genesys-compliance simulate` as a process: it prints the address it bound,
//! serves the token endpoint there, and exits 0 on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_genesys-compliance");

/// One HTTP/1.1 exchange over a plain socket; returns the whole response.
fn http(addr: &str, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn prints_its_address_serves_tokens_and_exits_0_on_sigterm() {
    let mut child = Command::new(BIN)
        .args(["simulate", "--listen", "127.0.0.1:0", "--violations", "50"])
        .args([
            "--extra-client",
            "etl:pw",
            "--no-permission-client",
            "reader:s3cret",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("first line: {first:?}"))
        .to_string();
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "{addr}"
    );

    let token = |id: &str, secret: &str| {
        let body = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
        http(
            &addr,
            &format!(
                "POST /oauth/token HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    // Further clients from the flags; unknown ones refused.
    assert!(token("etl", "pw").starts_with("HTTP/1.1 200"));
    assert!(token("reader", "s3cret").starts_with("HTTP/1.1 200"));
    assert!(token("nobody", "pw").starts_with("HTTP/1.1 401"));
    let body = "grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret";
    let response = http(
        &addr,
        &format!(
            "POST /oauth/token HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response
        .to_ascii_lowercase()
        .contains("inin-correlation-id:"));
    assert!(response.contains("\"token_type\":\"bearer\""), "{response}");

    stop(child, "-TERM");
}

#[test]
fn exits_0_on_sigint_too() {
    let mut child = Command::new(BIN)
        .args(["simulate", "--listen", "127.0.0.1:0", "--violations", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(
        first.starts_with("listening on http://127.0.0.1:"),
        "{first}"
    );
    stop(child, "-INT");
}

/// Sends `signal` (`-TERM`, `-INT`) and expects exit code 0.
fn stop(mut child: std::process::Child, signal: &str) {
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "after {signal}");
}

#[test]
fn a_bad_flag_value_exits_2_naming_the_flag() {
    for args in [
        &["--fault-5xx", "1.5"][..],
        &["--token-lifetime", "soon"],
        &[
            "--start",
            "2023-10-02T00:00:00Z",
            "--end",
            "2023-10-01T00:00:00Z",
        ],
    ] {
        let out = Command::new(BIN)
            .arg("simulate")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let flag = if args[0] == "--start" {
            "--end"
        } else {
            args[0]
        };
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn dump_jsonl_writes_the_dataset_one_violation_per_line_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raw.jsonl");
    let dump = |seed: &str| {
        let status = Command::new(BIN)
            .args([
                "simulate",
                "--violations",
                "300",
                "--seed",
                seed,
                "--dump-jsonl",
            ])
            .arg(&path)
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(0));
        std::fs::read_to_string(&path).unwrap()
    };
    let text = dump("9");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 300);
    assert!(lines
        .iter()
        .all(|v| v["id"].is_string() && v["detectedAt"].is_string()));
    assert_eq!(dump("9"), text, "the same seed gives the same data");
    assert_ne!(dump("10"), text);
}
