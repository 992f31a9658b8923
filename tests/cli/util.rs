//! The harness every test of the binary shares: the binary with a clean
//! environment, processes that are stopped when the test ends however it
//! ends, plain HTTP over loopback, the in-process simulator, and reading
//! output records back.

use compliance_simulator::{SimConfig, Simulator};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_genesys-compliance");

/// A webhook signing secret of the Standard Webhooks form.
pub const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The day the simulator's dataset covers by default.
pub const DAY: [&str; 4] = [
    "--start",
    "2023-10-01T00:00:00Z",
    "--end",
    "2023-10-02T00:00:00Z",
];

/// The environment variables that are settings (interface.md) or shape the
/// log: a test sets the ones it means and inherits none.
const SETTINGS_ENV: [&str; 8] = [
    "GENESYSCLOUD_OAUTHCLIENT_ID",
    "GENESYSCLOUD_OAUTHCLIENT_SECRET",
    "GENESYSCLOUD_REGION",
    "GENESYSCLOUD_API_BASE_URL",
    "GENESYSCLOUD_LOGIN_BASE_URL",
    "COMPLIANCE_WEBHOOK_SECRET",
    "GENESYS_COMPLIANCE_LOG",
    "GENESYS_COMPLIANCE_LOG_FORMAT",
];

/// The environment variables that route or trust connections (proxies, the
/// system's CA file): a test sets the ones it means and inherits none.
const NETWORK_ENV: [&str; 10] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// The simulator's demo client, which it accepts by default.
pub const DEMO_CLIENT: [(&str, &str); 2] = [
    ("GENESYSCLOUD_OAUTHCLIENT_ID", "demo-client"),
    ("GENESYSCLOUD_OAUTHCLIENT_SECRET", "demo-secret"),
];

/// The binary, with none of the settings of the surrounding environment.
pub fn bin() -> Command {
    let mut cmd = Command::new(BIN);
    for name in SETTINGS_ENV.iter().chain(&NETWORK_ENV) {
        cmd.env_remove(name);
    }
    cmd
}

/// `extract` as the tests run it: the demo client's credentials and only
/// warnings in the log, so that standard error holds the summary.
pub fn extract() -> Command {
    let mut cmd = bin();
    cmd.arg("extract")
        .envs(DEMO_CLIENT)
        .env("GENESYS_COMPLIANCE_LOG", "warn");
    cmd
}

/// Runs `cmd` to its end from async code (killed if it takes over a minute).
pub async fn output(cmd: Command) -> Output {
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("the binary finishes within a minute")
        .expect("the binary runs")
}

/// Bytes a process wrote, as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A file's text, empty when it does not exist (yet).
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The in-process simulator on a free loopback port, holding `violations`
/// in its default day, with `edit` made to its default configuration; it
/// stops when dropped.
pub async fn simulator(violations: usize, edit: impl FnOnce(&mut SimConfig)) -> Simulator {
    let mut config = SimConfig {
        violations,
        ..SimConfig::default()
    };
    edit(&mut config);
    Simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the simulator starts")
}

/// The ids of every violation the simulator holds, in order.
pub fn dataset_ids(sim: &Simulator) -> Vec<String> {
    sim.dataset()
        .violations
        .iter()
        .map(|v| v.id.clone())
        .collect()
}

/// The violation ids of output records, one record per line, in order.
pub fn violation_ids(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("one JSON object per line");
            v["violation"]["id"].as_str().expect("an id").to_string()
        })
        .collect()
}

/// `audit verify AUDIT_DIR --state STATE` finds the trail intact.
pub fn assert_chain_intact(audit_dir: &Path, state: &Path) {
    let out = bin()
        .args(["audit", "verify"])
        .arg(audit_dir)
        .arg("--state")
        .arg(state)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A child process that prints `listening on http://ADDR` first (`simulate`,
/// `serve`). It is killed when the test ends, however it ends.
pub struct Running {
    child: Child,
    pub addr: String,
}

impl Running {
    /// Starts `cmd` and reads the address from its first line. Standard error
    /// goes to `stderr` (shown if the first line is not the address), or nowhere.
    pub fn start(cmd: &mut Command, stderr: Option<&Path>) -> Running {
        let errors = match stderr {
            Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
            None => Stdio::null(),
        };
        let mut running = Running::spawn(cmd.stdout(Stdio::piped()).stderr(errors));
        let mut line = String::new();
        BufReader::new(running.take_stdout())
            .read_line(&mut line)
            .unwrap();
        let line = line.trim();
        running.addr = line
            .strip_prefix("listening on http://")
            .or_else(|| line.strip_prefix("listening on https://"))
            .unwrap_or_else(|| {
                let shown = stderr.map(read).unwrap_or_default();
                panic!("first line: {line:?}; stderr: {shown}")
            })
            .to_string();
        running
    }

    /// Starts `cmd` as it is, for a test that reads what it prints itself.
    pub fn spawn(cmd: &mut Command) -> Running {
        Running {
            child: cmd.spawn().unwrap(),
            addr: String::new(),
        }
    }

    /// The piped standard output.
    pub fn take_stdout(&mut self) -> ChildStdout {
        self.child.stdout.take().expect("standard output is piped")
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has exited (without waiting).
    pub fn has_exited(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }

    /// Sends `name` (`-TERM`, `-INT`) with kill(1).
    pub fn signal(&self, name: &str) {
        signal(self.child.id(), name);
    }

    /// Waits at most `within` for the process to exit.
    pub fn exit_within(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the process did not exit within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Runs `cmd` to its end from sync code; fails (and kills it) after `within`.
/// For commands that write little: its pipes are read after it exits.
pub fn output_within(cmd: &mut Command, within: Duration) -> Output {
    let mut running = Running::spawn(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()));
    let status = running.exit_within(within);
    let all = |pipe: Option<&mut dyn Read>| {
        let mut bytes = Vec::new();
        if let Some(pipe) = pipe {
            pipe.read_to_end(&mut bytes).unwrap();
        }
        bytes
    };
    Output {
        status,
        stdout: all(running.child.stdout.as_mut().map(|p| p as &mut dyn Read)),
        stderr: all(running.child.stderr.as_mut().map(|p| p as &mut dyn Read)),
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Already gone after a stop; the errors say only that.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `done` every 100 ms until it holds, failing after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One HTTP/1.1 exchange over a plain socket; returns the whole response.
pub fn http(addr: &str, request: &str) -> String {
    try_http(addr, request).unwrap()
}

pub fn try_http(addr: &str, request: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

/// `GET path`: the status and the body.
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let reply = Reply::parse(http(addr, &request));
    (reply.status, reply.body)
}

/// A response split into status, head and body.
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    pub fn parse(raw: String) -> Reply {
        let (head, body) = raw
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("not an HTTP response: {raw:?}"));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status: {head}"));
        Reply {
            status,
            head: head.to_string(),
            body: body.to_string(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Sends `name` (`-TERM`, `-KILL`, `-STOP`, ...) to process `pid` with kill(1).
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([name, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {name} {pid}");
}

/// Now plus `offset_secs`, as an RFC 3339 UTC timestamp to the second.
pub fn utc(offset_secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(offset_secs))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// No file under `dir` holds `secret`.
pub fn assert_not_in_files(dir: &Path, secret: &str) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_not_in_files(&path, secret);
        } else {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !text(&bytes).contains(secret),
                "the password is in {}",
                path.display()
            );
        }
    }
}
