//! `GET /api/v2/organizations/limits/namespaces/{namespaceName}` (spec §7.3):
//! the effective limits of a namespace, `LimitsEntityListing{entities:
//! [Limit{key, namespace, value}]}`. It needs no permission, only a token.
//! The simulator's rate limit is reported under `platform.api` (which
//! namespace really carries it is UNCONFIRMED).

use crate::access::Need;
use crate::respond::{missing, CorrelationId, Refused};
use crate::server::Shared;
use axum::extract::{Extension, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;

/// Namespaces the simulator knows, from the SDK's `Limit` namespace list.
const NAMESPACES: [&str; 6] = [
    "platform.api",
    "analytics",
    "speech.and.text.analytics",
    "quality",
    "recording",
    "auth.api",
];

pub(crate) async fn namespace(
    State(shared): State<Arc<Shared>>,
    Extension(CorrelationId(correlation)): Extension<CorrelationId>,
    headers: HeaderMap,
    Path(namespace): Path<String>,
) -> Result<Response, Refused> {
    shared.authorize(&headers, &correlation, Need::Nothing)?;
    shared.api_latency().await;
    if !NAMESPACES.contains(&namespace.as_str()) {
        return Err(missing(
            &format!("Limits namespace {namespace}"),
            &correlation,
        ));
    }
    let limit = |key: &str, value: u64| json!({"key": key, "namespace": namespace, "value": value});
    let entities = match namespace.as_str() {
        "platform.api" => vec![
            limit("token.rate.per.minute", shared.rate_limit_per_minute.into()),
            limit(
                "client.credentials.token.rate.per.minute",
                shared.rate_limit_per_minute.into(),
            ),
            limit("org.app.user.rate.per.minute", 3_000),
            limit("request.bytes.max", compliance_api::MAX_BODY_BYTES as u64),
        ],
        _ => Vec::new(),
    };
    Ok(Json(json!({ "entities": entities })).into_response())
}
