//! Connections: each is served by hyper directly, so that a reset fault can
//! close one with RST and no response.

use crate::server::Shared;
use crate::Faults;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::Response;
use axum::Router;
use compliance_http::ServerTls;
use futures::StreamExt;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tower::ServiceExt;

/// Marks a response that must not be sent: the connection is reset instead.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reset;

/// Accepts connections and serves each with hyper, so that a reset fault can
/// drop a connection without writing a response. Aborting this task drops the
/// `JoinSet` and with it every connection.
pub(crate) async fn accept_loop(listener: TcpListener, app: Router, tls: Option<ServerTls>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, app.clone(), tls.clone()));
                }
                Err(e) => {
                    tracing::warn!("simulator: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Serves one connection, over TLS when `tls` is given; a handshake the
/// client breaks off (it does not trust the certificate) ends it quietly.
async fn serve_connection(mut stream: TcpStream, app: Router, tls: Option<ServerTls>) {
    let Some(tls) = tls else {
        if serve_io(&mut stream, app).await {
            // SO_LINGER 0: closing sends RST, as a crashed proxy would.
            let _ = stream.set_zero_linger();
        }
        return;
    };
    match tls.accept(stream).await {
        Ok(mut stream) => {
            if serve_io(&mut stream, app).await {
                let _ = stream.get_ref().0.set_zero_linger();
            }
        }
        Err(e) => tracing::debug!("simulator: TLS handshake failed: {e}"),
    }
}

/// Serves HTTP/1.1 on `stream` until it closes; true when a reset fault
/// asks for the connection to be reset.
async fn serve_io<S>(stream: &mut S, app: Router) -> bool
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let reset = Arc::new(Notify::new());
    let signal = reset.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let app = app.clone();
        let signal = signal.clone();
        async move {
            let response = app.oneshot(req.map(Body::new)).await?;
            if response.extensions().get::<Reset>().is_some() {
                signal.notify_one();
                std::future::pending::<()>().await;
            }
            Ok::<_, Infallible>(response)
        }
    });
    let io = hyper_util::rt::TokioIo::new(stream);
    let connection = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    tokio::select! {
        _ = connection => false,
        _ = reset.notified() => true,
    }
}

/// A violations page as the oversized or trickle fault sends it, when the
/// dice say so; else as it is.
pub(crate) async fn misshapen(shared: &Shared, faults: &Faults, response: Response) -> Response {
    let oversized = shared.roll(faults.oversized);
    let trickle = !oversized && shared.roll(faults.trickle);
    if !oversized && !trickle {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(page) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = if oversized {
        shared.count_fault(|s| s.oversized += 1);
        // Leading whitespace keeps it valid JSON: only its size is wrong.
        const CHUNK: usize = 64 << 10;
        let chunks = (faults.oversized_bytes as usize).div_ceil(CHUNK);
        let padding = Bytes::from(vec![b' '; CHUNK]);
        let stream = futures::stream::repeat(padding)
            .take(chunks)
            .chain(futures::stream::once(async move { page }));
        Body::from_stream(stream.map(Ok::<_, Infallible>))
    } else {
        shared.count_fault(|s| s.trickled += 1);
        let interval = faults.trickle_interval;
        let stream = futures::stream::iter(0..page.len()).then(move |i| {
            let byte = page.slice(i..i + 1);
            async move {
                tokio::time::sleep(interval).await;
                Ok::<_, Infallible>(byte)
            }
        });
        Body::from_stream(stream)
    };
    Response::from_parts(parts, body)
}
