//! `serve`'s operator endpoints: `GET /healthz` and `GET /metrics`.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// How many of the latest runs `healthz` looks at: all of them failing makes it 503.
const WINDOW: usize = 3;

/// Outcomes of the latest runs, shared between the scheduler and the endpoints.
#[derive(Debug, Default)]
pub struct Health {
    recent: Mutex<VecDeque<bool>>,
}

impl Health {
    pub fn record(&self, succeeded: bool) {
        let mut recent = self.recent.lock().expect("health lock");
        if recent.len() == WINDOW {
            recent.pop_front();
        }
        recent.push_back(succeeded);
    }

    /// Healthy unless the last three runs all failed.
    pub fn is_healthy(&self) -> bool {
        let recent = self.recent.lock().expect("health lock");
        recent.len() < WINDOW || recent.iter().any(|ok| *ok)
    }
}

#[derive(Clone)]
struct Shared {
    health: Arc<Health>,
    metrics: PrometheusHandle,
}

/// Serves the endpoints, and the routes of `more` (such as the binary's
/// `/report`), on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    health: Arc<Health>,
    metrics: PrometheusHandle,
    more: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(render_metrics))
        .with_state(Shared { health, metrics })
        .merge(more);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn healthz(State(s): State<Shared>) -> impl IntoResponse {
    if s.health.is_healthy() {
        (StatusCode::OK, "ok\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the last three runs failed\n",
        )
    }
}

async fn render_metrics(State(s): State<Shared>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unhealthy_only_when_the_last_three_runs_failed() {
        let h = Health::default();
        assert!(h.is_healthy());
        h.record(false);
        h.record(false);
        assert!(h.is_healthy());
        h.record(false);
        assert!(!h.is_healthy());
        h.record(true);
        assert!(h.is_healthy());
        h.record(false);
        h.record(false);
        assert!(h.is_healthy());
        h.record(false);
        assert!(!h.is_healthy());
    }
}
