//! A webhook receiver on a loopback port, for `demo` and tests: it checks
//! Standard Webhooks signatures and timestamps and remembers what it got.
//! It stands in for the audit system; it lives outside `compliance-audit` so
//! that the audit library does not depend on a web server.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use compliance_audit::{WebhookSecret, DEFAULT_TOLERANCE};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;

pub use compliance_http::ServerTls;

/// One request the receiver got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedWebhook {
    pub webhook_id: String,
    pub timestamp: String,
    /// The signature and timestamp checked out against the receiver's secret.
    pub verified: bool,
    /// Why it was not verified, if it was not.
    pub problem: Option<String>,
    /// The status the receiver answered.
    pub status: u16,
    pub body: Vec<u8>,
}

#[derive(Debug)]
struct Inner {
    secret: Option<WebhookSecret>,
    respond_with: Option<u16>,
    requests: Vec<ReceivedWebhook>,
}

/// A running receiver; it stops when dropped. Path: any, method: `POST`.
///
/// It answers `204` to a verified request (and to any request when it has no
/// secret), `401` to one whose signature or timestamp fails, or the status
/// set by [`respond_with`](Self::respond_with).
#[derive(Debug)]
pub struct WebhookReceiver {
    addr: SocketAddr,
    /// Serving HTTPS (else plain HTTP).
    tls: bool,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WebhookReceiver {
    /// Starts a receiver on a free port of 127.0.0.1. Call it inside a tokio runtime.
    pub async fn start(secret: Option<WebhookSecret>) -> std::io::Result<Self> {
        Self::bind(SocketAddr::from(([127, 0, 0, 1], 0)), secret).await
    }

    /// Starts a receiver on a free port of 127.0.0.1 serving HTTPS with `tls`
    /// (a certificate from a private CA). Call it inside a tokio runtime.
    pub async fn start_tls(secret: Option<WebhookSecret>, tls: ServerTls) -> std::io::Result<Self> {
        Self::bind_with(SocketAddr::from(([127, 0, 0, 1], 0)), secret, Some(tls)).await
    }

    /// Starts a receiver on `addr`, which must be a loopback address.
    pub async fn bind(addr: SocketAddr, secret: Option<WebhookSecret>) -> std::io::Result<Self> {
        Self::bind_with(addr, secret, None).await
    }

    async fn bind_with(
        addr: SocketAddr,
        secret: Option<WebhookSecret>,
        tls: Option<ServerTls>,
    ) -> std::io::Result<Self> {
        if !addr.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the webhook receiver listens on loopback addresses only, not {addr}"),
            ));
        }
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Mutex::new(Inner {
            secret,
            respond_with: None,
            requests: Vec::new(),
        }));
        let app = Router::new()
            .fallback(post(receive))
            .with_state(inner.clone());
        let https = tls.is_some();
        let task = match tls {
            None => tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!("webhook receiver stopped: {e}");
                }
            }),
            Some(tls) => {
                let listener = TlsListener::new(listener, tls)?;
                tokio::spawn(async move {
                    if let Err(e) = axum::serve(listener, app).await {
                        tracing::error!("webhook receiver stopped: {e}");
                    }
                })
            }
        };
        Ok(WebhookReceiver {
            addr,
            tls: https,
            inner,
            task,
        })
    }

    /// The URL to post to (`https://localhost:PORT/webhook` when serving
    /// TLS: the name its certificate is issued for).
    pub fn url(&self) -> String {
        if self.tls {
            format!("https://localhost:{}/webhook", self.addr.port())
        } else {
            format!("http://{}/webhook", self.addr)
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers every request with `status` from now on (e.g. 500 or 410),
    /// or normally again with `None`.
    pub fn respond_with(&self, status: Option<u16>) {
        self.lock().respond_with = status;
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<ReceivedWebhook> {
        self.lock().requests.clone()
    }

    /// The accepted messages (verified and answered 2xx), one per webhook id,
    /// in the order they first arrived: the receiver's deduplicated view.
    pub fn messages(&self) -> Vec<ReceivedWebhook> {
        let mut seen = std::collections::HashSet::new();
        self.lock()
            .requests
            .iter()
            .filter(|r| r.verified && (200..300).contains(&r.status))
            .filter(|r| seen.insert(r.webhook_id.clone()))
            .cloned()
            .collect()
    }

    /// How many times each webhook id was accepted (verified, 2xx). More than
    /// one means a record was delivered twice.
    pub fn acceptances(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for r in self.lock().requests.iter() {
            if r.verified && (200..300).contains(&r.status) {
                *counts.entry(r.webhook_id.clone()).or_insert(0) += 1;
            }
        }
        counts
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A TCP listener whose connections are handed on once their TLS handshake
/// is done; handshakes run apart, so that one stalled client holds up no
/// other. Dropping it stops accepting.
struct TlsListener {
    handshaken: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    fn new(listener: TcpListener, tls: ServerTls) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (done, handshaken) = tokio::sync::mpsc::channel(16);
        let accepting = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                let (tls, done) = (tls.clone(), done.clone());
                tokio::spawn(async move {
                    match tls.accept(stream).await {
                        Ok(stream) => {
                            let _ = done.send((stream, peer)).await;
                        }
                        Err(e) => tracing::debug!("webhook receiver: TLS handshake failed: {e}"),
                    }
                });
            }
        });
        Ok(TlsListener {
            handshaken,
            local,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.handshaken.recv().await {
            Some(accepted) => accepted,
            // The accepting task ended: no connection will come again.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let webhook_id = header("webhook-id").unwrap_or_default();
    let timestamp = header("webhook-timestamp").unwrap_or_default();
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    let check = match (&inner.secret, header("webhook-signature")) {
        (None, _) => Err("the receiver has no secret to check signatures with".to_owned()),
        (Some(_), None) => Err("no webhook-signature header".to_owned()),
        (Some(secret), Some(signature)) if !webhook_id.is_empty() => secret
            .verify(
                &webhook_id,
                &timestamp,
                &signature,
                &body,
                chrono::Utc::now().timestamp(),
                DEFAULT_TOLERANCE,
            )
            .map_err(|e| e.to_string()),
        (Some(_), Some(_)) => Err("no webhook-id header".to_owned()),
    };
    let verified = check.is_ok();
    let status = match inner.respond_with {
        Some(forced) => forced,
        None if verified || inner.secret.is_none() => 204,
        None => 401,
    };
    inner.requests.push(ReceivedWebhook {
        webhook_id,
        timestamp,
        verified,
        problem: check.err(),
        status,
        body: body.to_vec(),
    });
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
