//! Connections: each is served by hyper directly, so that a reset fault can
//! close one with RST and no response.

use axum::body::Body;
use axum::Router;
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
pub(crate) async fn accept_loop(listener: TcpListener, app: Router) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, app.clone()));
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

async fn serve_connection(mut stream: TcpStream, app: Router) {
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
    let reset_requested = {
        let io = hyper_util::rt::TokioIo::new(&mut stream);
        let connection = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
        tokio::select! {
            _ = connection => false,
            _ = reset.notified() => true,
        }
    };
    if reset_requested {
        // SO_LINGER 0: closing sends RST, as a crashed proxy would.
        let _ = stream.set_zero_linger();
    }
}
