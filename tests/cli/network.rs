//! The network as deployed (issue 15, points 2 and 3): HTTPS with a
//! certificate from a private CA made here, `--ca-cert`, a CONNECT proxy
//! from `HTTPS_PROXY`, and answers that are too large or too slow. Every
//! server is real, on a loopback port, and stops when the test ends.

use crate::util::*;
use compliance_audit::WebhookSecret;
use compliance_http::TestCa;
use compliance_receiver::WebhookReceiver;
use compliance_simulator::{Faults, SimConfig, Simulator};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A private CA, its certificate written to `DIR/ca.pem`.
fn private_ca(dir: &Path) -> (TestCa, PathBuf) {
    let ca = TestCa::new("Example Corp Internal Root CA");
    let path = dir.join("ca.pem");
    std::fs::write(&path, ca.cert_pem()).unwrap();
    (ca, path)
}

/// The simulator serving HTTPS with a certificate of `ca`, unlimited rate.
async fn https_simulator(ca: &TestCa, violations: usize) -> Simulator {
    let config = SimConfig {
        violations,
        rate_limit_per_minute: 0,
        ..SimConfig::default()
    };
    Simulator::start_with_tls(
        config,
        "127.0.0.1:0".parse().unwrap(),
        Some(ca.loopback_server()),
    )
    .await
    .unwrap()
}

/// `stderr` says that `host`'s certificate is signed by an untrusted CA,
/// and names the flag that adds one.
fn assert_untrusted(stderr: &str, host: &str) {
    assert!(
        stderr.contains(&format!(
            "the TLS certificate of {host} is signed by a CA that is not trusted"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("--ca-cert"), "{stderr}");
}

/// `extract` of the default day against `api`, into `dir`.
fn extract_into(api: &str, dir: &Path) -> Command {
    let mut cmd = extract();
    cmd.args(DAY)
        .args(["--api-base-url", api])
        .arg("--out")
        .arg(dir.join("violations.jsonl"))
        .arg("--state")
        .arg(dir.join("state.db"))
        .arg("--audit-dir")
        .arg(dir.join("audit"));
    cmd
}

/// A CONNECT proxy on a free loopback port, as corporate networks run:
/// it reads `CONNECT host:port`, answers 200 and splices both ways. It
/// records each tunnel's target, and stops when dropped.
struct ConnectProxy {
    port: u16,
    tunnels: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ConnectProxy {
    async fn start() -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tunnels = Arc::new(Mutex::new(Vec::new()));
        let seen = tunnels.clone();
        let task = tokio::spawn(async move {
            // Aborting this task drops the set, and every tunnel with it.
            let mut open = tokio::task::JoinSet::new();
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                open.spawn(tunnel(client, seen.clone()));
            }
        });
        ConnectProxy {
            port,
            tunnels,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn tunnels(&self) -> Vec<String> {
        self.tunnels.lock().unwrap().clone()
    }
}

async fn tunnel(client: TcpStream, seen: Arc<Mutex<Vec<String>>>) {
    let mut client = BufReader::new(client);
    let mut request = String::new();
    if client.read_line(&mut request).await.is_err() {
        return;
    }
    // The rest of the head (Host, Proxy-Connection, ...) up to the blank line.
    loop {
        let mut line = String::new();
        match client.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let mut words = request.split_whitespace();
    let (Some("CONNECT"), Some(target)) = (words.next(), words.next()) else {
        let _ = client
            .get_mut()
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    seen.lock().unwrap().push(target.to_string());
    let Ok(mut upstream) = TcpStream::connect(target).await else {
        let _ = client
            .get_mut()
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    if client
        .get_mut()
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_private_ca_reaches_the_api_login_and_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, ca_file) = private_ca(dir.path());
    let sim = https_simulator(&ca, 300).await;
    let receiver = WebhookReceiver::start_tls(
        Some(WebhookSecret::parse(WEBHOOK_SECRET).unwrap()),
        ca.loopback_server(),
    )
    .await
    .unwrap();
    assert!(sim.base_url().starts_with("https://localhost:"));
    assert!(receiver.url().starts_with("https://localhost:"));

    let mut cmd = extract_into(&sim.base_url(), dir.path());
    cmd.arg("--ca-cert")
        .arg(&ca_file)
        .args(["--webhook-url", &receiver.url()])
        .env("COMPLIANCE_WEBHOOK_SECRET", WEBHOOK_SECRET);
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let written = read(&dir.path().join("violations.jsonl"));
    assert_eq!(violation_ids(&written), dataset_ids(&sim));
    assert!(sim.stats().token_requests >= 1);
    assert_eq!(receiver.messages().len(), 1, "{:?}", receiver.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_ca_the_certificate_is_refused_naming_the_host_and_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, _) = private_ca(dir.path());
    let sim = https_simulator(&ca, 100).await;
    let started = Instant::now();
    let out = output(extract_into(&sim.base_url(), dir.path())).await;
    let stderr = text(&out.stderr);
    // interface.md: 4 is the server's side failing (unavailable, network).
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert_untrusted(&stderr, &format!("localhost:{}", sim.addr().port()));
    // No retry can make the certificate trusted: it fails at once.
    assert!(started.elapsed() < Duration::from_secs(20));
    // Nothing was sent, over TLS or in clear text: no request reached it.
    let stats = sim.stats();
    assert_eq!(stats.token_requests + stats.query_requests, 0, "{stats:?}");
    assert_eq!(stats.other_requests, 0, "{stats:?}");
    assert!(!dir.path().join("violations.jsonl").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_proxy_carries_the_api_login_and_webhook_and_no_proxy_bypasses_it() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, ca_file) = private_ca(dir.path());
    let sim = https_simulator(&ca, 200).await;
    let receiver = WebhookReceiver::start_tls(
        Some(WebhookSecret::parse(WEBHOOK_SECRET).unwrap()),
        ca.loopback_server(),
    )
    .await
    .unwrap();
    let proxy = ConnectProxy::start().await;
    let api_host = format!("localhost:{}", sim.addr().port());
    let hook_host = format!("localhost:{}", receiver.addr().port());

    let run = |name: &str, env: &[(&str, String)]| {
        let run_dir = dir.path().join(name);
        std::fs::create_dir(&run_dir).unwrap();
        let mut cmd = extract_into(&sim.base_url(), &run_dir);
        cmd.arg("--ca-cert")
            .arg(&ca_file)
            .args(["--webhook-url", &receiver.url()])
            .env("COMPLIANCE_WEBHOOK_SECRET", WEBHOOK_SECRET);
        for (k, v) in env {
            cmd.env(k, v);
        }
        (cmd, run_dir)
    };

    // HTTPS_PROXY: every host through a tunnel of the proxy.
    let (cmd, run_dir) = run("upper", &[("HTTPS_PROXY", proxy.url())]);
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        violation_ids(&read(&run_dir.join("violations.jsonl"))),
        dataset_ids(&sim)
    );
    let tunnels = proxy.tunnels();
    assert!(tunnels.contains(&api_host), "{tunnels:?}");
    assert!(tunnels.contains(&hook_host), "{tunnels:?}");
    assert!(
        tunnels.iter().all(|t| t == &api_host || t == &hook_host),
        "{tunnels:?}"
    );
    assert_eq!(receiver.messages().len(), 1);

    // The lower-case spelling too.
    let before = proxy.tunnels().len();
    let (cmd, _) = run("lower", &[("https_proxy", proxy.url())]);
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(proxy.tunnels().len() > before);
    assert_eq!(receiver.messages().len(), 2);

    // NO_PROXY names the host: straight there, no tunnel.
    let before = proxy.tunnels().len();
    let (cmd, _) = run(
        "bypass",
        &[
            ("HTTPS_PROXY", proxy.url()),
            ("NO_PROXY", "localhost".into()),
        ],
    );
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(proxy.tunnels().len(), before, "{:?}", proxy.tunnels());
    assert_eq!(receiver.messages().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_ca_file_is_refused_by_name_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, _) = private_ca(dir.path());
    let sim = https_simulator(&ca, 10).await;
    let file = |name: &str, content: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.display().to_string()
    };
    let missing = dir.path().join("missing.pem").display().to_string();
    let not_pem = file("notes.txt", "this is not a certificate\n");
    let key_only = file(
        "key.pem",
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
    );
    let garbage = file(
        "garbage.pem",
        "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n",
    );
    let config = file(
        "settings.toml",
        &format!("ca_cert = {:?}\n", dir.path().join("notes.txt")),
    );
    for (flags, names, why) in [
        (
            vec!["--ca-cert", &missing],
            vec!["--ca-cert", &missing],
            "cannot read",
        ),
        (
            vec!["--ca-cert", &not_pem],
            vec!["--ca-cert", &not_pem],
            "not PEM",
        ),
        (
            vec!["--ca-cert", &key_only],
            vec!["--ca-cert", &key_only],
            "holds no certificate",
        ),
        (
            vec!["--ca-cert", &garbage],
            vec!["--ca-cert", &garbage],
            "not a usable X.509 certificate",
        ),
        (
            vec!["--config", &config],
            vec!["key ca_cert", &not_pem],
            "not PEM",
        ),
    ] {
        let mut cmd = extract_into(&sim.base_url(), dir.path());
        cmd.args(&flags);
        let out = output(cmd).await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {stderr}");
        for name in names {
            assert!(stderr.contains(name), "{flags:?}: {name} in {stderr}");
        }
        assert!(stderr.contains(why), "{flags:?}: {why} in {stderr}");
    }
    let stats = sim.stats();
    assert_eq!(stats.token_requests + stats.query_requests, 0, "{stats:?}");
}

/// A plain simulator with `faults` on every page, no rate limit.
async fn faulty_simulator(violations: usize, faults: Faults) -> Simulator {
    simulator(violations, |c| {
        c.rate_limit_per_minute = 0;
        c.faults = faults;
    })
    .await
}

/// After a failed run: nothing final was written, and a rerun against the
/// server, now sane, completes the output with every violation once.
async fn rerun_completes(sim: &Simulator, dir: &Path) {
    assert!(!dir.join("violations.jsonl").exists());
    sim.set_faults(Faults::default());
    let out = output(extract_into(&sim.base_url(), dir)).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        violation_ids(&read(&dir.join("violations.jsonl"))),
        dataset_ids(sim)
    );
    assert_chain_intact(&dir.join("audit"), &dir.join("state.db"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_page_is_refused_while_read_naming_the_bound_and_flag() {
    // A page with a terabyte of whitespace in front, no Content-Length:
    // read whole, it would never end; refused at the bound, it ends at once.
    let sim = faulty_simulator(
        300,
        Faults {
            oversized: 1.0,
            oversized_bytes: 1 << 40,
            ..Faults::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut cmd = extract_into(&sim.base_url(), dir.path());
    cmd.args(["--max-response-size", "2MiB"]);
    let out = output(cmd).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("is larger than 2 MiB"), "{stderr}");
    assert!(stderr.contains("--max-response-size"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(sim.stats().faults.oversized >= 1);
    rerun_completes(&sim, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_bound_lets_a_thousand_realistic_violations_through() {
    let sim = faulty_simulator(1_000, Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = extract_into(&sim.base_url(), dir.path());
    cmd.args(["--page-size", "1000"]);
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let written = read(&dir.path().join("violations.jsonl"));
    assert_eq!(violation_ids(&written).len(), 1_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_page_is_cut_by_the_request_timeout_retried_then_refused() {
    // One byte every 500 ms: no read ever stalls long, only the total does.
    let sim = faulty_simulator(
        100,
        Faults {
            trickle: 1.0,
            trickle_interval: Duration::from_millis(500),
            ..Faults::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut cmd = extract_into(&sim.base_url(), dir.path());
    cmd.args([
        "--request-timeout",
        "2s",
        "--retry-max-attempts",
        "3",
        "--retry-base-delay",
        "100ms",
    ]);
    let out = output(cmd).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("after 3 attempts"), "{stderr}");
    assert!(stderr.contains("timed out"), "{stderr}");
    assert!(stderr.contains("--request-timeout"), "{stderr}");
    // Three attempts of 2 s each and short backoffs.
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(6), "{took:?}");
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert!(sim.stats().faults.trickled >= 3, "{:?}", sim.stats());
    rerun_completes(&sim, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_webhook_certificate_leaves_the_record_queued_until_its_ca_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, ca_file) = private_ca(dir.path());
    let sim = faulty_simulator(50, Faults::default()).await;
    let receiver = WebhookReceiver::start_tls(
        Some(WebhookSecret::parse(WEBHOOK_SECRET).unwrap()),
        ca.loopback_server(),
    )
    .await
    .unwrap();
    let run = |ca_cert: Option<&Path>| {
        let mut cmd = extract_into(&sim.base_url(), dir.path());
        cmd.args(["--webhook-url", &receiver.url()])
            .env("COMPLIANCE_WEBHOOK_SECRET", WEBHOOK_SECRET);
        if let Some(path) = ca_cert {
            cmd.arg("--ca-cert").arg(path);
        }
        cmd
    };
    let started = Instant::now();
    let out = output(run(None)).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert_untrusted(&stderr, &format!("localhost:{}", receiver.addr().port()));
    // Not retried for minutes: no retry makes the certificate trusted.
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(receiver.requests().is_empty());

    // With the CA, the next run delivers the queued record first, then its own.
    let out = output(run(Some(&ca_file))).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(receiver.messages().len(), 2, "{:?}", receiver.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_response_bound_is_refused_by_name_before_anything_is_sent() {
    let sim = faulty_simulator(10, Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("settings.toml");
    std::fs::write(&config, "max_response_size = \"5GiB\"\n").unwrap();
    let config = config.display().to_string();
    for (flags, input, allowed) in [
        (
            vec!["--max-response-size", "lots"],
            "--max-response-size",
            "64MiB",
        ),
        (
            vec!["--max-response-size", "64MB"],
            "--max-response-size",
            "64MiB",
        ),
        (
            vec!["--max-response-size", "1KiB"],
            "--max-response-size",
            "from 64 KiB to 4 GiB",
        ),
        (
            vec!["--config", &config],
            "key max_response_size",
            "from 64 KiB to 4 GiB",
        ),
    ] {
        let mut cmd = extract_into(&sim.base_url(), dir.path());
        cmd.args(&flags);
        let out = output(cmd).await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(input), "{flags:?}: {stderr}");
        assert!(stderr.contains(allowed), "{flags:?}: {stderr}");
    }
    let stats = sim.stats();
    assert_eq!(stats.token_requests + stats.query_requests, 0, "{stats:?}");
}

#[test]
fn help_names_the_ca_flag_the_proxy_variables_and_the_bound() {
    for command in ["extract", "serve"] {
        let out = bin().args([command, "--help"]).output().unwrap();
        // Wrapped to the terminal's width: compare words, not lines.
        let help = text(&out.stdout)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(out.status.success(), "{command}");
        for words in [
            "--ca-cert <FILE>",
            "HTTPS_PROXY and NO_PROXY are honoured",
            "--max-response-size <SIZE>",
            "[default: 64MiB]",
            "--request-timeout <DURATION>",
        ] {
            assert!(
                help.contains(words),
                "{command} --help lacks {words:?}:\n{help}"
            );
        }
    }
}

/// `simulate --tls-cert --tls-key` serves HTTPS with a certificate the user
/// brings (here from a private CA made by the test): `extract --ca-cert`
/// with that CA reads every violation from it, and without it is refused.
#[test]
fn simulate_serves_https_with_a_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (ca, ca_file) = private_ca(dir);
    let (chain, key) = ca.issue(&["localhost"]);
    std::fs::write(dir.join("server.pem"), chain).unwrap();
    std::fs::write(dir.join("server.key"), key).unwrap();
    let sim = Running::start(
        bin()
            .args(["simulate", "--listen", "127.0.0.1:0", "--violations", "120"])
            .args(DAY)
            .arg("--tls-cert")
            .arg(dir.join("server.pem"))
            .arg("--tls-key")
            .arg(dir.join("server.key")),
        Some(&dir.join("sim.err")),
    );
    assert!(sim.addr.starts_with("localhost:"), "{}", sim.addr);
    let api = format!("https://{}", sim.addr);

    std::fs::create_dir(dir.join("refused")).unwrap();
    let refused = extract_into(&api, &dir.join("refused")).output().unwrap();
    assert_eq!(refused.status.code(), Some(4), "{}", text(&refused.stderr));
    assert_untrusted(&text(&refused.stderr), &sim.addr);

    let out = extract_into(&api, dir)
        .arg("--ca-cert")
        .arg(&ca_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let written = read(&dir.join("violations.jsonl"));
    assert_eq!(violation_ids(&written).len(), 120);
}

/// A certificate without its key, or a file that is not PEM, is exit 2
/// naming the flag and the file, before anything listens.
#[test]
fn simulate_refuses_a_bad_certificate_or_key_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (ca, _) = private_ca(dir);
    let (chain, _) = ca.issue(&["localhost"]);
    std::fs::write(dir.join("server.pem"), chain).unwrap();
    std::fs::write(dir.join("garbage.key"), "not a key\n").unwrap();
    let simulate = |args: &[&str]| {
        let out = bin()
            .args(["simulate", "--listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let (code, stdout, stderr) = simulate(&["--tls-cert", "server.pem"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--tls-key"), "{stderr}");
    assert!(stdout.is_empty(), "nothing listened: {stdout}");
    let (code, stdout, stderr) =
        simulate(&["--tls-cert", "server.pem", "--tls-key", "garbage.key"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--tls-key `garbage.key`") && stderr.contains("PEM"),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "nothing listened: {stdout}");
    let (code, _, stderr) = simulate(&["--tls-cert", "missing.pem", "--tls-key", "garbage.key"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot read --tls-cert `missing.pem`"),
        "{stderr}"
    );
}
