//! `--sink nats://HOST:PORT/SUBJECT`: output lines published to NATS
//! JetStream, read back with a consumer. Every violation is in the stream
//! exactly once, with its id as `Nats-Msg-Id`, across a crash between the
//! stream's ack and the checkpoint, SIGKILLs and reruns, and a server that
//! goes away mid-run; a server down at start exits 4, a bad URL or a
//! missing stream exits 2, before anything is sent; the URL's credentials
//! appear nowhere.

use crate::util::{
    assert_not_in_files, bin, dataset_ids, simulator, text, Running, DAY, DEMO_CLIENT,
};
use compliance_pipeline::nats::testing::{NatsServer, Read, TestStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A password that must appear in no output, log, error or file.
const PASSWORD: &str = "n4ts-s3cret-pw";

/// `url` (`nats://HOST:PORT/SUBJECT`) with a user and [`PASSWORD`]. A server
/// without authorisation ignores them; the program must hide them anyway.
fn with_credentials(url: &str) -> String {
    url.replacen("nats://", &format!("nats://app:{PASSWORD}@"), 1)
}

/// `extract` of the simulator's day into `sink`, state and audit in `dir`.
fn extract(api: &str, dir: &Path, sink: &str) -> Command {
    let mut cmd = crate::util::extract();
    cmd.args(["--api-base-url", api, "--page-size", "50"])
        .args(DAY)
        .args(["--sink", sink])
        .arg("--state")
        .arg(dir.join("state.db"))
        .arg("--audit-dir")
        .arg(dir.join("audit"))
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Each of `expected` exactly once in `read`, each with its violation id
/// as its `Nats-Msg-Id`.
fn assert_each_once(read: &[Read], expected: &[String]) {
    let mut ids: Vec<String> = read.iter().map(Read::violation_id).collect();
    for (message, id) in read.iter().zip(&ids) {
        assert_eq!(message.msg_id.as_deref(), Some(id.as_str()), "Nats-Msg-Id");
    }
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len(), "a violation is in the stream twice");
    let mut expected = expected.to_vec();
    expected.sort();
    assert_eq!(
        ids, expected,
        "the stream holds other violations than the dataset"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extract_publishes_each_violation_once_with_its_id_as_nats_msg_id() {
    let Some(stream) = TestStream::new("extract_publishes_each_violation_once") else {
        return;
    };
    // Created as an operator would: the program finds it by its subject.
    stream.create_stream(Duration::from_secs(3600));
    let sim = simulator(400, |c| c.rate_limit_per_minute = 0).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = with_credentials(&stream.url());
    let out = extract(&sim.base_url(), dir.path(), &sink)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&stream.url()),
        "the summary names the stream: {stderr}"
    );
    assert!(!stderr.contains(PASSWORD), "the password is in: {stderr}");
    assert_not_in_files(dir.path(), PASSWORD);

    let read = stream.read_all();
    assert_each_once(&read, &dataset_ids(&sim));
    // The last pass ran over every line: nothing is left for it to redact.
    for message in &read {
        let mut swept = Vec::new();
        let late = compliance_verify::late::sweep_json(&message.payload, &mut swept);
        assert_eq!(
            late.total(),
            0,
            "a card number reached the stream: {}",
            text(&message.payload)
        );
    }
    assert!(
        !dir.path().join("violations.jsonl").exists(),
        "no file output beside the stream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_extractions_publish_each_violation_once_after_the_rerun() {
    let Some(stream) = TestStream::new("killed_extractions_publish_once") else {
        return;
    };
    let sim = simulator(1_500, |c| {
        c.latency = Duration::from_millis(25);
        c.rate_limit_per_minute = 0;
        c.faults.duplicates = 0.3;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let api = sim.base_url();
    let sink = stream.url();

    // Killed after the stream acknowledged the first page, before the
    // checkpoint recorded it: the rerun sends that page again.
    let crashed = extract(&api, dir.path(), &sink)
        .arg("--create-stream")
        .env("GENESYS_COMPLIANCE_CRASH_AT", "after-publish")
        .output()
        .unwrap();
    assert!(crashed.status.code().is_none(), "{}", text(&crashed.stderr));
    assert_eq!(stream.count(), 50, "the first page is in the stream");

    // Then SIGKILLs at growing delays until a run finishes; each run's log
    // is kept, killed or not.
    let mut kills = 0;
    let mut delay = Duration::from_millis(700);
    let mut logs = String::new();
    loop {
        let log = dir.path().join(format!("run-{kills}.log"));
        let mut child = extract(&api, dir.path(), &sink)
            .env("GENESYS_COMPLIANCE_LOG", "info")
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        tokio::time::sleep(delay).await;
        let status = match child.try_wait().unwrap() {
            Some(status) => Some(status),
            None => {
                child.kill().unwrap(); // SIGKILL: no chance to clean up
                child.wait().unwrap();
                kills += 1;
                delay += Duration::from_millis(250);
                None
            }
        };
        logs.push_str(&std::fs::read_to_string(&log).unwrap());
        if let Some(status) = status {
            assert!(status.success(), "{logs}");
            break;
        }
        assert!(kills < 40, "the extraction never finished");
    }
    assert!(
        kills >= 1,
        "never killed; the test needs a slower extraction"
    );
    assert!(
        logs.contains("the stream already held some lines"),
        "the page sent again was recognised by the stream: {logs}"
    );
    assert_each_once(&stream.read_all(), &dataset_ids(&sim));
    let audit = std::fs::read_to_string(dir.path().join("audit/audit.jsonl")).unwrap();
    assert_eq!(audit.lines().count(), 1, "one extraction, one audit record");
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_down_at_start_exits_4_before_anything_is_sent() {
    let sim = simulator(50, |c| c.rate_limit_per_minute = 0).await;
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let sink = with_credentials(&format!("nats://127.0.0.1:{port}/compliance.violations"));
    let started = Instant::now();
    let out = extract(&sim.base_url(), dir.path(), &sink)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("--sink") && stderr.contains(&format!("127.0.0.1:{port} is unreachable")),
        "{stderr}"
    );
    assert!(!stderr.contains(PASSWORD), "the password is in: {stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "reported within seconds"
    );
    assert!(sim.requests().is_empty(), "nothing was sent to the API");

    // serve too: it stops at once instead of serving without its output.
    let out = bin()
        .args(["serve", "--api-base-url", &sim.base_url()])
        .args(["--since", "2023-10-01T00:00:00Z", "--listen", "127.0.0.1:0"])
        .args(["--sink", &sink])
        .arg("--state")
        .arg(dir.path().join("state.db"))
        .envs(DEMO_CLIENT)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("is unreachable"), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "the password is in: {stderr}");
    assert!(sim.requests().is_empty(), "nothing was sent to the API");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_sink_url_exits_2_naming_the_flag_and_the_allowed_form() {
    let sim = simulator(50, |c| c.rate_limit_per_minute = 0).await;
    let dir = tempfile::tempdir().unwrap();
    for (url, why) in [
        ("http://127.0.0.1:4222/v", "does not start with nats://"),
        ("nats://127.0.0.1:4222", "names no subject"),
        ("nats://127.0.0.1:4222/violations.*", "wildcard"),
        ("nats://127.0.0.1:4222/violations.>", "wildcard"),
        ("nats://127.0.0.1:4222/bad subject", "the character ' '"),
        ("nats://127.0.0.1:99999/v", "the port `99999`"),
        (
            &format!("nats://app:{PASSWORD}@127.0.0.1:4222/a..b"),
            "empty token",
        ),
    ] {
        let out = extract(&sim.base_url(), dir.path(), url).output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{url}: {stderr}");
        assert!(stderr.contains("--sink"), "{url}: {stderr}");
        assert!(stderr.contains(why), "{url}: {stderr}");
        assert!(
            stderr.contains("nats://HOST[:PORT]/SUBJECT"),
            "the allowed form: {stderr}"
        );
        assert!(!stderr.contains(PASSWORD), "the password is in: {stderr}");
    }
    let both = extract(&sim.base_url(), dir.path(), "nats://127.0.0.1/v")
        .args(["--out", "out.jsonl"])
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2), "{}", text(&both.stderr));
    assert!(text(&both.stderr).contains("--out and --sink"));
    assert!(sim.requests().is_empty(), "nothing was sent to the API");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_stream_exits_2_saying_what_to_create() {
    let Some(stream) = TestStream::new("a_missing_stream_exits_2") else {
        return;
    };
    let sim = simulator(50, |c| c.rate_limit_per_minute = 0).await;
    let dir = tempfile::tempdir().unwrap();
    let out = extract(&sim.base_url(), dir.path(), &stream.url())
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "nats stream add {} --subjects '{}' --dupe-window 24h",
            stream.stream_name(),
            stream.subject()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("--create-stream"), "{stderr}");
    assert!(sim.requests().is_empty(), "nothing was sent to the API");
    assert_eq!(stream.count(), 0, "nothing was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_going_down_mid_run_stops_the_run_and_the_rerun_publishes_each_once() {
    let Some(mut server) = NatsServer::start("nats_going_down_mid_run") else {
        return;
    };
    let sim = simulator(2_000, |c| {
        c.latency = Duration::from_millis(40);
        c.rate_limit_per_minute = 0;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let subject = "compliance.midrun";
    let name = "COMPLIANCE_MIDRUN";
    let sink = server.sink(subject);
    let run = extract(&sim.base_url(), dir.path(), &sink)
        .arg("--create-stream")
        .spawn()
        .unwrap();
    crate::util::wait_for(
        "the first pages in the stream",
        Duration::from_secs(30),
        || server.count(name) >= 100,
    );
    server.kill();
    let finished = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let out = run.wait_with_output().unwrap();
        (out, started.elapsed())
    })
    .await
    .unwrap();
    let (out, took) = finished;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("acknowledged"), "{stderr}");
    assert!(stderr.contains("run the same command again"), "{stderr}");
    assert!(
        took < Duration::from_secs(45),
        "retries are bounded: {took:?}"
    );

    server.restart();
    let out = extract(&sim.base_url(), dir.path(), &sink)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_each_once(&server.read_stream(name), &dataset_ids(&sim));
}

/// `serve` of the simulator's day into `sink`, state in `dir`.
fn serve(api: &str, dir: &Path, sink: &str, log: &Path) -> Command {
    let mut cmd = bin();
    cmd.args(["serve", "--api-base-url", api, "--page-size", "50"])
        .args(["--since", "2023-10-01T00:00:00Z"])
        .args(["--listen", "127.0.0.1:0", "--sink", sink, "--create-stream"])
        .arg("--state")
        .arg(dir.join("state.db"))
        .arg("--out-dir")
        .arg(dir.join("out"))
        .envs(DEMO_CLIENT)
        .env("GENESYS_COMPLIANCE_LOG", "info")
        .current_dir(dir)
        .stderr(std::fs::File::create(log).unwrap());
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_publishes_each_violation_once_across_a_crash_and_a_restart() {
    let Some(stream) = TestStream::new("serve_publishes_each_violation_once") else {
        return;
    };
    let sim = simulator(600, |c| c.rate_limit_per_minute = 0).await;
    let dir = tempfile::tempdir().unwrap();
    let (api, sink) = (sim.base_url(), stream.url());

    // Killed after the stream acknowledged a page, before its ids were
    // committed to the state store.
    let crashed = serve(&api, dir.path(), &sink, &dir.path().join("crashed.log"))
        .env("GENESYS_COMPLIANCE_CRASH_AT", "after-publish")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(crashed.code().is_none(), "{crashed:?}");
    assert_eq!(stream.count(), 50);

    let log = dir.path().join("serve.log");
    let mut running = Running::start(&mut serve(&api, dir.path(), &sink, &log), Some(&log));
    crate::util::wait_for("the first run", Duration::from_secs(60), || {
        crate::util::read(&log).contains("run complete")
    });
    running.signal("-TERM");
    assert!(running.exit_within(Duration::from_secs(12)).success());

    // A restart re-reads the day through a look-back longer than the state
    // store remembers ids (look-back + 1 h): the store takes them for new,
    // and the stream drops every one of them by its Nats-Msg-Id.
    let log2 = dir.path().join("serve2.log");
    let mut again = serve(&api, dir.path(), &sink, &log2);
    again.args(["--lookback", "40000h"]);
    let mut running = Running::start(&mut again, Some(&log2));
    crate::util::wait_for("the run after the restart", Duration::from_secs(60), || {
        crate::util::read(&log2).contains("run complete")
    });
    running.signal("-TERM");
    assert!(running.exit_within(Duration::from_secs(12)).success());

    let logs = crate::util::read(&log);
    assert!(
        logs.contains("the stream already held some lines"),
        "the page sent again was recognised by the stream: {logs}"
    );
    let logs2 = crate::util::read(&log2);
    assert!(
        logs2.contains("new=600") && logs2.contains("duplicates=50 of=50"),
        "the restart sent every violation again, and the stream dropped them: {logs2}"
    );
    assert_each_once(&stream.read_all(), &dataset_ids(&sim));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_exit_2_without_showing_the_password() {
    let Some(server) = NatsServer::start_with(
        "refused_credentials",
        &["--user", "app", "--pass", "right-one"],
    ) else {
        return;
    };
    let sim = simulator(50, |c| c.rate_limit_per_minute = 0).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = with_credentials(&server.sink("compliance.auth"));
    let out = extract(&sim.base_url(), dir.path(), &sink)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("refused the credentials"), "{stderr}");
    assert!(stderr.contains("--sink"), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "the password is in: {stderr}");
    assert!(sim.requests().is_empty(), "nothing was sent to the API");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_survives_nats_going_down_and_the_next_run_publishes_the_rest_once() {
    let Some(mut server) = NatsServer::start("serve_survives_nats_going_down") else {
        return;
    };
    let sim = simulator(2_000, |c| {
        c.latency = Duration::from_millis(40);
        c.rate_limit_per_minute = 0;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let name = "COMPLIANCE_SERVE_MIDRUN";
    let log = dir.path().join("serve.log");
    let mut cmd = serve(
        &sim.base_url(),
        dir.path(),
        &server.sink("compliance.serve_midrun"),
        &log,
    );
    cmd.args(["--every", "2s"]);
    let mut running = Running::start(&mut cmd, Some(&log));
    crate::util::wait_for(
        "the first pages in the stream",
        Duration::from_secs(30),
        || server.count(name) >= 100,
    );
    server.kill();
    crate::util::wait_for("the run to fail", Duration::from_secs(60), || {
        crate::util::read(&log).contains("run failed")
    });
    server.restart();
    crate::util::wait_for("a run to complete", Duration::from_secs(60), || {
        crate::util::read(&log).contains("run complete")
    });
    running.signal("-TERM");
    assert!(running.exit_within(Duration::from_secs(12)).success());
    let logs = crate::util::read(&log);
    assert!(logs.contains("were acknowledged by the stream"), "{logs}");
    assert_each_once(&server.read_stream(name), &dataset_ids(&sim));
}
