//! The client over real sockets: trust with and without the private CA,
//! and bodies read with a bound from servers that send too much.

use compliance_http::{
    client, read_bounded, untrusted_certificate, BodyError, ByteSize, CaBundle, ClientSettings,
    ServerTls, TestCa,
};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What a test server sends after the request head.
#[derive(Clone, Copy)]
enum Answer {
    /// `200` with a short body.
    Hello,
    /// `200` declaring `n` bytes in Content-Length (and sending them lazily).
    Declared(u64),
    /// `200` without a length, whitespace without end.
    Endless,
    /// `302` to this location.
    Redirect(&'static str),
}

/// A server on a free loopback port, over TLS when `tls` is given; it
/// answers every connection with `answer` and stops when dropped.
struct Server {
    port: u16,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// A plain-HTTP GET of `/`, its answer's head read.
    async fn get(&self) -> reqwest::Response {
        let http = client(&ClientSettings::new(Duration::from_secs(30))).unwrap();
        http.get(format!("http://127.0.0.1:{}/", self.port))
            .send()
            .await
            .unwrap()
    }
}

async fn serve(tls: Option<ServerTls>, answer: Answer) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let tls = tls.clone();
            connections.spawn(async move {
                match tls {
                    None => respond(stream, answer).await,
                    Some(tls) => {
                        if let Ok(stream) = tls.accept(stream).await {
                            respond(stream, answer).await
                        }
                    }
                }
            });
        }
    });
    Server { port, task }
}

async fn respond<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, answer: Answer) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let chunk = vec![b' '; 64 << 10];
    let (header, total) = match answer {
        Answer::Hello => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")
                .await;
            return;
        }
        Answer::Redirect(to) => {
            let head = format!("HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\n\r\n");
            let _ = stream.write_all(head.as_bytes()).await;
            return;
        }
        Answer::Declared(n) => (format!("content-length: {n}\r\n"), Some(n)),
        Answer::Endless => ("connection: close\r\n".to_string(), None),
    };
    let head = format!("HTTP/1.1 200 OK\r\n{header}\r\n");
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let mut sent = 0u64;
    while total.is_none_or(|t| sent < t) {
        if stream.write_all(&chunk).await.is_err() {
            return; // The client hung up: what the bound is for.
        }
        sent += chunk.len() as u64;
    }
}

fn ca_bundle(ca: &TestCa) -> CaBundle {
    CaBundle::from_pem(Path::new("test-ca.pem"), ca.cert_pem().as_bytes()).unwrap()
}

#[tokio::test]
async fn a_private_ca_is_trusted_only_when_given() {
    let ca = TestCa::new("Example Corp Root CA");
    let server = serve(Some(ca.loopback_server()), Answer::Hello).await;
    let url = format!("https://localhost:{}/", server.port);

    let trusting = client(&ClientSettings {
        ca: Some(ca_bundle(&ca)),
        ..ClientSettings::new(Duration::from_secs(10))
    })
    .unwrap();
    let body = trusting
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "hello");

    let plain = client(&ClientSettings::new(Duration::from_secs(10))).unwrap();
    let err = plain.get(&url).send().await.unwrap_err();
    assert_eq!(
        untrusted_certificate(&err).as_deref(),
        Some("signed by a CA that is not trusted"),
        "{err:?}"
    );

    // Another CA's certificate does not vouch for this server either.
    let other = client(&ClientSettings {
        ca: Some(ca_bundle(&TestCa::new("Someone Else"))),
        ..ClientSettings::new(Duration::from_secs(10))
    })
    .unwrap();
    let err = other.get(&url).send().await.unwrap_err();
    assert!(untrusted_certificate(&err).is_some(), "{err:?}");
}

#[tokio::test]
async fn a_network_failure_is_not_taken_for_an_untrusted_certificate() {
    let server = serve(None, Answer::Hello).await;
    let port = server.port;
    drop(server);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let plain = client(&ClientSettings::new(Duration::from_secs(5))).unwrap();
    let err = plain
        .get(format!("https://localhost:{port}/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(untrusted_certificate(&err), None, "{err:?}");
}

#[tokio::test]
async fn an_endless_body_is_refused_at_the_bound() {
    let server = serve(None, Answer::Endless).await;
    let started = Instant::now();
    let response = server.get().await;
    // The body has no end: only a bound ends this read.
    let err = read_bounded(response, ByteSize::mib(1)).await.unwrap_err();
    assert!(
        matches!(
            err,
            BodyError::TooLarge {
                limit,
                declared: None
            } if limit == ByteSize::mib(1)
        ),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "the answer is larger than 1 MiB");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_declared_length_over_the_bound_is_refused_before_reading() {
    let server = serve(None, Answer::Declared(1 << 40)).await;
    let response = server.get().await;
    let err = read_bounded(response, ByteSize::mib(64)).await.unwrap_err();
    assert!(
        matches!(
            err,
            BodyError::TooLarge {
                declared: Some(n),
                ..
            } if n == 1 << 40
        ),
        "{err:?}"
    );

    // At the bound exactly, the body is read whole.
    let server = serve(None, Answer::Declared(1 << 20)).await;
    let response = server.get().await;
    let body = read_bounded(response, ByteSize::mib(1)).await.unwrap();
    assert_eq!(body.len(), 1 << 20);
}

#[tokio::test]
async fn a_redirect_to_plain_http_off_loopback_is_refused() {
    let ca = TestCa::new("Example Corp Root CA");
    let server = serve(
        Some(ca.loopback_server()),
        Answer::Redirect("http://audit.example.com/collect"),
    )
    .await;
    let http = client(&ClientSettings {
        ca: Some(ca_bundle(&ca)),
        ..ClientSettings::new(Duration::from_secs(10))
    })
    .unwrap();
    let err = http
        .get(format!("https://localhost:{}/", server.port))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_redirect(), "{err:?}");
    assert!(
        format!("{err:?}").contains("plain http:// off loopback"),
        "{err:?}"
    );

    // To loopback it is followed (simulators, local gateways).
    let target = serve(None, Answer::Hello).await;
    let to: &'static str = format!("http://127.0.0.1:{}/", target.port).leak();
    let server = serve(Some(ca.loopback_server()), Answer::Redirect(to)).await;
    let body = http
        .get(format!("https://localhost:{}/", server.port))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "hello");
}
