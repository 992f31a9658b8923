//! `genesys-compliance simulate` as a process: it prints the address it bound,
//! serves the token endpoint and the API there, injects the faults its flags
//! ask for, and exits 0 on SIGTERM.

use crate::util::{bin, http, output_within, text, try_http, Reply, Running};
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::{Duration, Instant};

const QUERY: &str = "/api/v2/agentassist/compliance/violations/query";

/// A `simulate` process on a free loopback port, stopped when dropped.
struct Served(Running);

impl Served {
    /// Starts `simulate --listen 127.0.0.1:0` with `flags` and reads the
    /// address from its first line.
    fn start(flags: &[&str]) -> Served {
        let served = Running::start(
            bin()
                .args(["simulate", "--listen", "127.0.0.1:0"])
                .args(flags),
            None,
        );
        assert!(
            served.addr.starts_with("127.0.0.1:") && !served.addr.ends_with(":0"),
            "{}",
            served.addr
        );
        Served(served)
    }

    /// A token for the demo client (the form-field credentials).
    fn token(&self) -> String {
        let reply = Reply::parse(http(
            &self.addr,
            &token_request(&self.addr, "demo-client", "demo-secret"),
        ));
        assert_eq!(reply.status, 200, "{}", reply.head);
        reply.json()["access_token"].as_str().unwrap().to_string()
    }

    /// Posts `body` to the query endpoint with `token`.
    fn query(&self, token: &str, body: &Value) -> Reply {
        Reply::parse(http(&self.addr, &query_request(&self.addr, token, body)))
    }
}

impl std::ops::Deref for Served {
    type Target = Running;
    fn deref(&self) -> &Running {
        &self.0
    }
}

fn post(addr: &str, path: &str, headers: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn token_request(addr: &str, id: &str, secret: &str) -> String {
    let body = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
    post(
        addr,
        "/oauth/token",
        "Content-Type: application/x-www-form-urlencoded\r\n",
        &body,
    )
}

fn query_request(addr: &str, token: &str, body: &Value) -> String {
    let headers = format!("Authorization: Bearer {token}\r\nContent-Type: application/json\r\n");
    post(addr, QUERY, &headers, &body.to_string())
}

/// The first page of the day the dataset covers.
fn day_query(size: u64) -> Value {
    json!({
        "time_interval": {"start": "2023-10-01T00:00:00Z", "end": "2023-10-02T00:00:00Z"},
        "filters": {},
        "size": size,
    })
}

#[test]
fn prints_its_address_serves_tokens_and_exits_0_on_sigterm() {
    let served = Served::start(&[
        "--violations",
        "50",
        "--extra-client",
        "etl:pw",
        "--no-permission-client",
        "reader:s3cret",
    ]);
    let addr = served.addr.clone();

    let token = |id: &str, secret: &str| http(&addr, &token_request(&addr, id, secret));
    // Further clients from the flags; unknown ones refused.
    assert!(token("etl", "pw").starts_with("HTTP/1.1 200"));
    assert!(token("reader", "s3cret").starts_with("HTTP/1.1 200"));
    assert!(token("nobody", "pw").starts_with("HTTP/1.1 401"));
    let response = token("demo-client", "demo-secret");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response
        .to_ascii_lowercase()
        .contains("inin-correlation-id:"));
    assert!(response.contains("\"token_type\":\"bearer\""), "{response}");

    stop(served, "-TERM");
}

#[test]
fn exits_0_on_sigint_too() {
    stop(Served::start(&["--violations", "5"]), "-INT");
}

/// Sends `signal` (`-TERM`, `-INT`) and expects exit code 0.
fn stop(mut served: Served, signal: &str) {
    served.signal(signal);
    let status = served.0.exit_within(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "after {signal}");
}

#[test]
fn a_bad_flag_value_exits_2_naming_the_flag() {
    for args in [
        &["--fault-5xx", "1.5"][..],
        &["--token-lifetime", "soon"],
        &["--fault-job-failed", "2"],
        &["--fault-transcript-url-expired", "-0.1"],
        &["--transcript-url-lifetime", "soon"],
        &["--client-lacking", "reader:s3cret"],
        &["--client-lacking", "reader:s3cret:not-a-permission"],
        &[
            "--start",
            "2023-10-02T00:00:00Z",
            "--end",
            "2023-10-01T00:00:00Z",
        ],
    ] {
        let out = bin().arg("simulate").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = text(&out.stderr);
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
        let status = bin()
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

/// With probability 1, every request (token endpoint and API alike) gets
/// one of the contract's transient statuses.
#[test]
fn fault_5xx_1_answers_every_request_with_500_502_503_or_504() {
    let served = Served::start(&["--violations", "20", "--fault-5xx", "1"]);
    let addr = &served.addr;
    for _ in 0..4 {
        for request in [
            token_request(addr, "demo-client", "demo-secret"),
            query_request(addr, "any-token", &day_query(5)),
        ] {
            let reply = Reply::parse(http(addr, &request));
            assert!(
                [500, 502, 503, 504].contains(&reply.status),
                "{}",
                reply.head
            );
        }
    }
}

#[test]
fn fault_429_1_answers_every_request_with_429_and_retry_after() {
    let served = Served::start(&["--violations", "20", "--fault-429", "1"]);
    let addr = &served.addr;
    for request in [
        token_request(addr, "demo-client", "demo-secret"),
        query_request(addr, "any-token", &day_query(5)),
    ] {
        let reply = Reply::parse(http(addr, &request));
        assert_eq!(reply.status, 429, "{}", reply.head);
        assert_eq!(reply.header("Retry-After"), Some("1"), "{}", reply.head);
        assert_eq!(reply.json()["code"], "too.many.requests.retry.after");
    }
}

/// A reset connection carries no response at all: the read fails with a
/// reset, or the stream ends before a single byte.
#[test]
fn fault_reset_1_closes_every_connection_without_a_response() {
    let served = Served::start(&["--violations", "20", "--fault-reset", "1"]);
    let addr = &served.addr;
    for request in [
        token_request(addr, "demo-client", "demo-secret"),
        query_request(addr, "any-token", &day_query(5)),
    ] {
        match try_http(addr, &request) {
            Ok(response) => assert!(response.is_empty(), "a response: {response}"),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        }
    }
}

/// `--latency` delays each query response and `--fault-slow 1` every
/// response; only a lower bound is asserted, as a loaded machine is slower.
#[test]
fn latency_and_slow_responses_take_at_least_the_delay() {
    let served = Served::start(&["--violations", "20", "--latency", "400ms"]);
    let token = served.token();
    let started = Instant::now();
    let reply = served.query(&token, &day_query(5));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(started.elapsed() >= Duration::from_millis(400));

    let served = Served::start(&[
        "--violations",
        "20",
        "--fault-slow",
        "1",
        "--slow-delay",
        "400ms",
    ]);
    let started = Instant::now();
    let token = served.token();
    assert!(started.elapsed() >= Duration::from_millis(400));
    let started = Instant::now();
    assert_eq!(served.query(&token, &day_query(5)).status, 200);
    assert!(started.elapsed() >= Duration::from_millis(400));
}

/// Pages through the day with `size`; returns each page's ids and whether
/// a further page followed it.
fn pages(served: &Served, size: u64) -> Vec<(Vec<String>, bool)> {
    let token = served.token();
    let mut query = day_query(size);
    let mut pages = Vec::new();
    // Short pages may hold none; the bound only stops a broken cursor.
    for _ in 0..500 {
        let reply = served.query(&token, &query);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let page = reply.json();
        let ids = page["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_string())
            .collect();
        let next = page["nextPageCursor"].clone();
        pages.push((ids, !next.is_null()));
        if next.is_null() {
            return pages;
        }
        query["cursor"] = next;
    }
    panic!("no last page after 500 pages");
}

#[test]
fn fault_duplicates_1_begins_every_later_page_with_the_previous_last() {
    let served = Served::start(&["--violations", "50", "--fault-duplicates", "1"]);
    let pages = pages(&served, 10);
    assert!(pages.len() >= 3, "{pages:?}");
    for pair in pages.windows(2) {
        let (previous, next) = (&pair[0].0, &pair[1].0);
        assert_eq!(next.first(), previous.last(), "{pages:?}");
    }
}

/// Every page is shorter than the size while more follow, and paging still
/// reaches every violation once.
#[test]
fn fault_short_pages_1_serves_pages_shorter_than_the_size() {
    let served = Served::start(&["--violations", "50", "--fault-short-pages", "1"]);
    let pages = pages(&served, 10);
    assert!(
        pages.len() > 5,
        "50 violations in short pages of 10: {pages:?}"
    );
    for (ids, more) in &pages[..pages.len() - 1] {
        assert!(ids.len() < 10 && *more, "{pages:?}");
    }
    let mut all: Vec<&String> = pages.iter().flat_map(|(ids, _)| ids).collect();
    assert_eq!(all.len(), 50);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 50, "no violation twice");
}

/// The client and limit flags take effect: a client without the permission
/// gets 403, a token outlives --token-lifetime by nothing (401), and
/// --rate-limit counts a client's token and API requests together (429,
/// Retry-After).
#[test]
fn permission_token_lifetime_and_rate_limit_flags_take_effect() {
    let served = Served::start(&[
        "--violations",
        "20",
        "--no-permission-client",
        "reader:s3cret",
        "--token-lifetime",
        "1s",
        "--rate-limit",
        "6",
    ]);
    let addr = served.addr.clone();
    let token_of = |id: &str, secret: &str| {
        let reply = Reply::parse(http(&addr, &token_request(&addr, id, secret)));
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()["access_token"].as_str().unwrap().to_string()
    };
    // The reader: a token, then its query refused for the permission.
    let reader = token_of("reader", "s3cret");
    let refused = served.query(&reader, &day_query(5));
    assert_eq!(refused.status, 403, "{}", refused.body);
    // The demo client's requests 1-2: a token, good at once.
    let token = served.token();
    assert_eq!(served.query(&token, &day_query(5)).status, 200);
    // The same token after its lifetime (refused before it counts).
    std::thread::sleep(Duration::from_millis(1_200));
    let expired = served.query(&token, &day_query(5));
    assert_eq!(expired.status, 401, "{}", expired.body);
    assert_eq!(expired.json()["code"], "bad.credentials");
    // 3 (a new token) to 6 use up the minute's 6; the 7th gets 429.
    let fresh = served.token();
    for _ in 4..=6 {
        assert_eq!(served.query(&fresh, &day_query(5)).status, 200);
    }
    let limited = served.query(&fresh, &day_query(5));
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited.header("Retry-After").is_some(), "{}", limited.head);
}

/// Every record lacks one of the fields a violation cannot be used without,
/// each of them in turn; `--dump-jsonl` refuses the flag (it breaks pages only).
#[test]
fn fault_malformed_1_serves_every_record_without_one_required_field() {
    let served = Served::start(&["--violations", "40", "--fault-malformed", "1"]);
    let token = served.token();
    let reply = served.query(&token, &day_query(100));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let page = reply.json();
    let records = page["violations"].as_array().unwrap();
    assert_eq!(records.len(), 40);
    let mut lacking = std::collections::BTreeSet::new();
    for record in records {
        let missing: Vec<&str> = ["id", "ruleId", "severity", "detectedAt"]
            .into_iter()
            .filter(|k| record.get(*k).is_none())
            .collect();
        assert_eq!(missing.len(), 1, "{record}");
        lacking.insert(missing[0]);
    }
    assert_eq!(lacking.len(), 4, "{lacking:?}");

    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["simulate", "--fault-malformed", "0.5", "--dump-jsonl"])
        .arg(dir.path().join("raw.jsonl"))
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--fault-malformed") && stderr.contains("--dump-jsonl"));
    assert!(!dir.path().join("raw.jsonl").exists());
}

/// A probability outside [0, 1] is a usage error (exit 2) naming the flag
/// and the range. It is refused before binding: the port given is held
/// here, so reaching the bind would fail with `cannot listen` instead.
#[test]
fn a_probability_outside_0_to_1_exits_2_naming_the_flag_and_range_before_binding() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = held.local_addr().unwrap().to_string();
    for flag in [
        "--fault-5xx",
        "--fault-429",
        "--fault-reset",
        "--fault-slow",
        "--fault-duplicates",
        "--fault-short-pages",
        "--fault-malformed",
        "--late-arrivals",
    ] {
        for value in ["1.5", "-0.1"] {
            let out = bin()
                .args(["simulate", "--listen", &listen, "--violations", "5"])
                .args([flag, value])
                .output()
                .unwrap();
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{flag} {value}: {stderr}");
            assert!(
                stderr.contains(flag) && stderr.contains("from 0 to 1"),
                "{flag} {value}: {stderr}"
            );
            assert!(!stderr.contains("cannot listen"), "{stderr}");
            assert!(out.stdout.is_empty());
        }
    }
    // With good values the held port is refused at the bind, so the check
    // above can tell. Guarded: should the bind succeed, the server is killed.
    let out = output_within(
        bin().args(["simulate", "--listen", &listen, "--violations", "5"]),
        Duration::from_secs(30),
    );
    let (status, stderr) = (out.status, text(&out.stderr));
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot listen"), "{stderr}");
}

fn get(addr: &str, path: &str, token: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\n\r\n"
    )
}

/// The real Genesys Cloud endpoints are served beside the agentassist query,
/// with the flags that shape them: the organisation's size, how many polls a
/// job takes, and a client lacking one permission.
#[test]
fn the_real_endpoints_are_served_and_their_flags_take_effect() {
    let served = Served::start(&[
        "--violations",
        "10",
        "--conversations",
        "40",
        "--job-polls",
        "0",
        "--client-lacking",
        "norec:pw:recording:recording:view",
    ]);
    let addr = served.addr.clone();
    let token = served.token();
    let body = json!({
        "interval": "2023-10-01T00:00:00.000Z/2023-10-03T00:00:00.000Z",
        "groupBy": ["conversationId"],
        "metrics": ["nSpeechTextAnalyzedConversations"],
    });
    let headers = format!("Authorization: Bearer {token}\r\nContent-Type: application/json\r\n");
    let job = Reply::parse(http(
        &addr,
        &post(
            &addr,
            "/api/v2/analytics/transcripts/aggregates/jobs",
            &headers,
            &body.to_string(),
        ),
    ));
    assert_eq!(job.status, 202, "{}", job.body);
    let id = job.json()["jobId"].as_str().unwrap().to_string();
    // --job-polls 0: done at the first poll.
    let status = Reply::parse(http(
        &addr,
        &get(
            &addr,
            &format!("/api/v2/analytics/transcripts/aggregates/jobs/{id}"),
            &token,
        ),
    ));
    assert_eq!(status.json()["state"], "FULFILLED", "{}", status.body);
    let results = Reply::parse(http(
        &addr,
        &get(
            &addr,
            &format!("/api/v2/analytics/transcripts/aggregates/jobs/{id}/results"),
            &token,
        ),
    ));
    let rows = results.json()["results"].as_array().unwrap().len();
    // Covered conversations of 40 (six queues of eight), wholly inside the two days.
    assert!((15..=40).contains(&rows), "{rows}");
    let conversation = results.json()["results"][0]["group"]["conversationId"]
        .as_str()
        .unwrap()
        .to_string();
    let details = Reply::parse(http(
        &addr,
        &get(
            &addr,
            &format!("/api/v2/analytics/conversations/{conversation}/details"),
            &token,
        ),
    ));
    assert_eq!(details.status, 200, "{}", details.body);
    let agent = details.json()["participants"][1].clone();
    assert_eq!(agent["purpose"], "agent");
    let session = agent["sessions"][0]["sessionId"]
        .as_str()
        .unwrap()
        .to_string();
    let url_path = format!("/api/v2/speechandtextanalytics/conversations/{conversation}/communications/{session}/transcripturl");
    assert_eq!(
        Reply::parse(http(&addr, &get(&addr, &url_path, &token))).status,
        200
    );
    // The client lacking recording:recording:view is refused, the permission named.
    let reply = Reply::parse(http(&addr, &token_request(&addr, "norec", "pw")));
    let norec = reply.json()["access_token"].as_str().unwrap().to_string();
    let refused = Reply::parse(http(&addr, &get(&addr, &url_path, &norec)));
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains("recording:recording:view"),
        "{}",
        refused.body
    );
}
