//! `POST /api/v2/agentassist/compliance/violations/query`: the project's own
//! contract (`compliance-api.md`), served from the violations dataset.

use crate::access::Need;
use crate::dataset::SimViolation;
use crate::query::{self, Refusal};
use crate::respond::{api_error, json_body, CorrelationId};
use crate::server::Shared;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use compliance_api::Timestamp;
use rand::Rng;
use std::sync::Arc;

/// `POST /api/v2/agentassist/compliance/violations/query`.
pub(crate) async fn query_violations(
    State(shared): State<Arc<Shared>>,
    Extension(CorrelationId(correlation)): Extension<CorrelationId>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(refused) = shared.authorize(
        &headers,
        &correlation,
        Need::All(&[compliance_api::REQUIRED_PERMISSION]),
    ) {
        return refused.into_response();
    }
    let body = match json_body(&headers, body, &correlation).await {
        Ok(body) => body,
        Err(refused) => return refused.into_response(),
    };
    let refuse = |r: Refusal| {
        api_error(
            StatusCode::BAD_REQUEST,
            r.code,
            &r.message,
            &r.details,
            &correlation,
        )
    };
    let query = match query::parse(&body) {
        Ok(q) => q,
        Err(r) => return refuse(r),
    };
    shared.api_latency().await;
    let faults = shared.faults();
    let repeat_last = query.cursor.is_some() && shared.roll(faults.duplicates);
    // A short page holds 0 to size - 1 violations.
    let short = shared.roll(faults.short_pages).then(|| {
        shared
            .dice
            .lock()
            .expect("dice lock")
            .gen_range(0..query.size) as usize
    });
    let serving = query::Serving {
        repeat_last,
        short,
        cap: shared.max_results_per_query,
    };
    let dataset = shared.dataset.read().expect("dataset lock").clone();
    let page = match query::page(&dataset, &query, Timestamp::now(), serving) {
        Ok(page) => page,
        Err(r) => return refuse(r),
    };
    if repeat_last {
        shared.count_fault(|s| s.duplicates += 1);
    }
    if short.is_some() && page.next.is_some() {
        shared.count_fault(|s| s.short_pages += 1);
    }
    let next = page.next.as_ref().map(|c| c.encode());
    let legacy = shared.legacy_pages;
    let body = serde_json::to_vec(&PageBody {
        violations: page.violations,
        page_size: query.size,
        // An older server leaves the cursor out on the last page, and the total out.
        next_page_cursor: if legacy && next.is_none() {
            None
        } else {
            Some(next)
        },
        total: (!legacy).then_some(page.total),
    });
    match body {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal.server.error",
            &format!("The page could not be rendered: {e}"),
            &[],
            &correlation,
        ),
    }
}

/// The 200 body of the query endpoint, rendered straight from the dataset.
#[derive(serde::Serialize)]
struct PageBody<'a> {
    violations: Vec<&'a SimViolation>,
    #[serde(rename = "pageSize")]
    page_size: u32,
    /// Present and null on the last page (absent only in legacy mode).
    #[serde(rename = "nextPageCursor", skip_serializing_if = "Option::is_none")]
    next_page_cursor: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<u64>,
}
