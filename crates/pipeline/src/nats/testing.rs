//! JetStream for tests: a stream of its own per test on the shared test
//! server ([`TEST_NATS_ENV`], which `.ci/run` starts and sets), a server of
//! the test's own that it can stop and start again, and reading a stream
//! back with a consumer.
//!
//! Without the variable or the server binary: under CI (`CI` set) a panic,
//! since the test would prove nothing; elsewhere the reason is printed and
//! the test returns early.

use async_nats::jetstream::{self, consumer};
use futures::StreamExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The environment variable with the shared test server's URL, such as
/// `nats://127.0.0.1:4222`.
pub const TEST_NATS_ENV: &str = "GENESYS_COMPLIANCE_TEST_NATS";

/// A message read back from a stream.
#[derive(Debug, Clone)]
pub struct Read {
    /// Its `Nats-Msg-Id` header.
    pub msg_id: Option<String>,
    pub payload: Vec<u8>,
}

impl Read {
    /// The payload's `violation.id`.
    pub fn violation_id(&self) -> String {
        let v: serde_json::Value =
            serde_json::from_slice(&self.payload).expect("each message is one JSON object");
        v["violation"]["id"]
            .as_str()
            .expect("a violation id")
            .to_owned()
    }
}

/// Skips (returns `None`) or panics under CI, saying why.
fn unavailable<T>(test: &str, why: &str) -> Option<T> {
    if std::env::var_os("CI").is_some() {
        panic!("`{test}` cannot run against NATS: {why}; .ci/run starts a server and sets {TEST_NATS_ENV}");
    }
    eprintln!("skipping `{test}`: {why} (run .ci/run, or set {TEST_NATS_ENV} to a nats:// URL of a server with JetStream)");
    None
}

/// A subject (and so a stream) no other test uses.
fn unique_subject(test: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let word: String = test
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(40)
        .collect();
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    format!(
        "gc_test.{word}.p{}_{}_{ms}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A subject of one test on the shared test server. The stream is created
/// by the program under test (`--create-stream`) or by [`TestStream::create_stream`],
/// and deleted when this is dropped.
pub struct TestStream {
    server: String,
    subject: String,
}

impl TestStream {
    /// A new subject on the shared server, or `None` (the test returns) when
    /// [`TEST_NATS_ENV`] is unset outside CI.
    pub fn new(test: &str) -> Option<TestStream> {
        let server = match std::env::var(TEST_NATS_ENV) {
            Ok(url) if !url.is_empty() => url,
            _ => return unavailable(test, &format!("{TEST_NATS_ENV} is not set")),
        };
        Some(TestStream {
            server: server.trim_end_matches('/').to_owned(),
            subject: unique_subject(test),
        })
    }

    /// `nats://HOST:PORT/SUBJECT`: what `--sink` takes.
    pub fn url(&self) -> String {
        format!("{}/{}", self.server, self.subject)
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The name the program gives the stream it creates for this subject.
    pub fn stream_name(&self) -> String {
        super::Subject::parse(&self.subject)
            .expect("a valid subject")
            .stream_name()
    }

    /// Creates the stream as an operator would, with `window` as its
    /// duplicate window.
    pub fn create_stream(&self, window: Duration) {
        let (server, name, subject) = (
            self.server.clone(),
            self.stream_name(),
            self.subject.clone(),
        );
        on_own_runtime(async move {
            let js = jetstream::new(async_nats::connect(server).await.expect("connects"));
            js.create_stream(jetstream::stream::Config {
                name,
                subjects: vec![subject],
                duplicate_window: window,
                ..Default::default()
            })
            .await
            .expect("the test stream is created");
        });
    }

    /// Every message of the stream, in order, read with a consumer.
    pub fn read_all(&self) -> Vec<Read> {
        read_stream(&self.server, &self.stream_name())
    }
}

impl Drop for TestStream {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.stream_name());
        on_own_runtime(async move {
            if let Ok(client) = async_nats::connect(server).await {
                let _ = jetstream::new(client).delete_stream(name).await;
            }
        });
    }
}

/// Every message of stream `name` on `server` (`nats://HOST:PORT`), read
/// with an ephemeral consumer from the first message to the last.
pub fn read_stream(server: &str, name: &str) -> Vec<Read> {
    let (server, name) = (server.to_owned(), name.to_owned());
    on_own_runtime(async move {
        let js = jetstream::new(async_nats::connect(server).await.expect("connects"));
        let mut stream = js.get_stream(&name).await.expect("the stream exists");
        let count = stream.info().await.expect("stream info").state.messages as usize;
        let consumer = stream
            .create_consumer(consumer::pull::Config {
                deliver_policy: consumer::DeliverPolicy::All,
                ack_policy: consumer::AckPolicy::None,
                ..Default::default()
            })
            .await
            .expect("a consumer is created");
        let mut messages = consumer.messages().await.expect("messages");
        let mut read = Vec::with_capacity(count);
        while read.len() < count {
            let message = tokio::time::timeout(Duration::from_secs(10), messages.next())
                .await
                .expect("the stream delivers what it holds")
                .expect("the consumer goes on")
                .expect("a message");
            let msg_id = message
                .headers
                .as_ref()
                .and_then(|h| h.get("Nats-Msg-Id"))
                .map(|v| v.as_str().to_owned());
            read.push(Read {
                msg_id,
                payload: message.payload.to_vec(),
            });
        }
        read
    })
}

/// Runs `work` to its end on a runtime of its own, on a thread of its own:
/// callable from sync tests and from inside async ones.
fn on_own_runtime<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(work)
    })
    .join()
    .expect("the NATS test helper panicked")
}

/// A `nats-server -js` of one test, which it may kill and start again on
/// the same port with the same store (a server that goes away mid-run).
/// Killed when dropped.
pub struct NatsServer {
    binary: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts a server on a free loopback port, or `None` (the test
    /// returns) when `nats-server` is not installed, outside CI.
    pub fn start(test: &str) -> Option<NatsServer> {
        let binary = [
            "nats-server",
            "/usr/sbin/nats-server",
            "/usr/bin/nats-server",
        ]
        .iter()
        .map(PathBuf::from)
        .find(|p| {
            Command::new(p)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        let Some(binary) = binary else {
            return unavailable(test, "nats-server is not installed");
        };
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut server = NatsServer {
            binary,
            dir,
            port: 0,
            child: None,
        };
        server.spawn();
        Some(server)
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// `nats://127.0.0.1:PORT/SUBJECT`.
    pub fn sink(&self, subject: &str) -> String {
        format!("{}/{subject}", self.url())
    }

    /// Kills the server at once (SIGKILL): the stream's store stays.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, with the same store.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Every message of stream `name`, read back with a consumer.
    pub fn read_stream(&self, name: &str) -> Vec<Read> {
        read_stream(&self.url(), name)
    }

    fn spawn(&mut self) {
        let ports = self.dir.path().join("ports");
        let _ = std::fs::remove_dir_all(&ports);
        std::fs::create_dir_all(&ports).expect("the ports directory");
        let port = match self.port {
            0 => "-1".to_owned(),
            p => p.to_string(),
        };
        let child = Command::new(&self.binary)
            .args(["-a", "127.0.0.1", "-p", &port, "-js", "-sd"])
            .arg(self.dir.path().join("jetstream"))
            .arg("--ports_file_dir")
            .arg(&ports)
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        self.port = wait_for_port(&ports, &self.dir.path().join("server.log"));
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The client port from the server's ports file, once it listens.
fn wait_for_port(dir: &Path, log: &Path) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .find_map(|text| {
                let v: serde_json::Value = serde_json::from_str(&text).ok()?;
                let url = v["nats"][0].as_str()?;
                url.rsplit(':').next()?.parse::<u16>().ok()
            });
        if let Some(port) = found {
            return port;
        }
        assert!(
            Instant::now() < deadline,
            "nats-server did not start within 10 s; its log: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
