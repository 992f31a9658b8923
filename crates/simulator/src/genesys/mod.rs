//! The real Genesys Cloud endpoints the speech-analytics and evaluations
//! sources use (`shared/spec/genesys-real-apis.md`), served beside the
//! agentassist contract on the same address, over [`Org`]: transcript
//! aggregates (sync and as jobs), topics, categories, conversation details,
//! pre-signed transcript URLs, quality evaluations and forms, and the
//! organisation's limits. `docs/simulator.md` lists every route, its
//! permissions, its paging and what is the simulator's own choice where the
//! spec says UNCONFIRMED.

pub mod catalogue;
pub(crate) mod jobs;
mod limits;
pub mod org;
mod quality;
mod sta;
pub(crate) mod transcripts;

use crate::respond::{bad_request, Refused};
use crate::server::Shared;
use axum::routing::{get, post};
use axum::Router;
use std::collections::HashMap;
use std::sync::Arc;

pub use org::Org;

/// Permissions, as spec section 6 names them.
pub mod permissions {
    pub const STA_AGGREGATES: &str = "analytics:speechAndTextAnalyticsAggregates:view";
    pub const TOPIC_VIEW: &str = "speechAndTextAnalytics:topic:view";
    pub const CATEGORY_VIEW: &str = "speechAndTextAnalytics:category:view";
    pub const STA_DATA: &str = "speechAndTextAnalytics:data:view";
    pub const RECORDING_VIEW: &str = "recording:recording:view";
    pub const CONVERSATION_DETAIL: &str = "analytics:conversationDetail:view";
    pub const AGENT_CONVERSATION_DETAIL: &str = "analytics:agentConversationDetail:view";
    pub const EVALUATION_SEARCH: &str = "quality:evaluation:searchAny";
    pub const EVALUATION_VIEW: &str = "quality:evaluation:view";
    pub const EVALUATION_ASSIGN: &str = "quality:evaluation:assign";
    pub const EVALUATION_RELEASE: &str = "quality:evaluation:release";
    pub const FORM_VIEW: &str = "quality:evaluationForm:view";
}

/// Paths (axum route syntax).
pub mod paths {
    pub const AGGREGATES_QUERY: &str = "/api/v2/analytics/transcripts/aggregates/query";
    pub const AGGREGATES_JOBS: &str = "/api/v2/analytics/transcripts/aggregates/jobs";
    pub const AGGREGATES_JOB: &str = "/api/v2/analytics/transcripts/aggregates/jobs/{job_id}";
    pub const AGGREGATES_RESULTS: &str =
        "/api/v2/analytics/transcripts/aggregates/jobs/{job_id}/results";
    pub const TOPICS: &str = "/api/v2/speechandtextanalytics/topics";
    pub const TOPIC: &str = "/api/v2/speechandtextanalytics/topics/{topic_id}";
    pub const CATEGORIES: &str = "/api/v2/speechandtextanalytics/categories";
    pub const CONVERSATION_CATEGORIES: &str =
        "/api/v2/speechandtextanalytics/conversations/{conversation_id}/categories";
    pub const TRANSCRIPT_URL: &str = "/api/v2/speechandtextanalytics/conversations/{conversation_id}/communications/{communication_id}/transcripturl";
    pub const DETAILS: &str = "/api/v2/analytics/conversations/{conversation_id}/details";
    pub const EVALUATIONS_SEARCH: &str = "/api/v2/quality/evaluations/search";
    pub const EVALUATION: &str =
        "/api/v2/quality/conversations/{conversation_id}/evaluations/{evaluation_id}";
    pub const FORM: &str = "/api/v2/quality/forms/evaluations/{form_id}";
    pub const LIMITS: &str = "/api/v2/organizations/limits/namespaces/{namespace}";
    /// The pre-signed transcript store: another host in Genesys Cloud (S3),
    /// a path of its own here.
    pub const TRANSCRIPT_STORE: &str = "/transcript-store/{key}";
}

/// The real endpoints' routes.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    use paths::*;
    Router::new()
        .route(AGGREGATES_QUERY, post(jobs::query))
        .route(AGGREGATES_JOBS, post(jobs::submit))
        .route(AGGREGATES_JOB, get(jobs::status).delete(jobs::cancel))
        .route(AGGREGATES_RESULTS, get(jobs::results))
        .route(TOPICS, get(sta::topics))
        .route(TOPIC, get(sta::topic))
        .route(CATEGORIES, get(sta::categories))
        .route(CONVERSATION_CATEGORIES, get(sta::conversation_categories))
        .route(DETAILS, get(sta::details))
        .route(TRANSCRIPT_URL, get(transcripts::url))
        .route(TRANSCRIPT_STORE, get(transcripts::fetch))
        .route(EVALUATIONS_SEARCH, post(quality::search))
        .route(EVALUATION, get(quality::evaluation))
        .route(FORM, get(quality::form))
        .route(LIMITS, get(limits::namespace))
}

/// A request's query string as name → values (repeated names keep every value).
pub(crate) struct Params(HashMap<String, Vec<String>>);

impl Params {
    pub fn parse(raw: Option<&str>) -> Params {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(raw.unwrap_or_default()).unwrap_or_default();
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in pairs {
            // `ids=a,b` and `ids=a&ids=b` both list two.
            map.entry(k)
                .or_default()
                .extend(v.split(',').map(str::to_string));
        }
        Params(map)
    }

    pub fn one(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.first()).map(String::as_str)
    }

    pub fn all(&self, name: &str) -> &[String] {
        self.0.get(name).map(Vec::as_slice).unwrap_or_default()
    }

    /// An integer parameter from 1 to `max` (`default` when absent), or the 400 naming it.
    pub fn number(
        &self,
        name: &str,
        default: u32,
        max: u32,
        correlation: &str,
    ) -> Result<u32, Refused> {
        match self.one(name) {
            None => Ok(default),
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(bad_request(
                    name,
                    &format!("{name} is `{v}`; allowed: an integer from 1 to {max}."),
                    correlation,
                )),
            },
        }
    }
}

/// A listing in the page-number style (`pageNumber`, `pageSize`, `total`,
/// `pageCount`, `firstUri`/`nextUri`/`previousUri`/`lastUri`), for the
/// endpoints the SDK pages that way.
pub(crate) fn numbered_page(
    entities: Vec<serde_json::Value>,
    page_size: u32,
    page_number: u32,
    path: &str,
) -> serde_json::Value {
    let total = entities.len();
    let size = page_size as usize;
    let page_count = total.div_ceil(size).max(1);
    let from = (page_number as usize - 1).saturating_mul(size).min(total);
    let page: Vec<_> = entities.into_iter().skip(from).take(size).collect();
    let uri = |n: usize| format!("{path}?pageSize={page_size}&pageNumber={n}");
    let mut body = serde_json::json!({
        "entities": page,
        "pageSize": page_size,
        "pageNumber": page_number,
        "total": total,
        "pageCount": page_count,
        "firstUri": uri(1),
        "lastUri": uri(page_count),
        "selfUri": uri(page_number as usize),
    });
    if (page_number as usize) < page_count {
        body["nextUri"] = uri(page_number as usize + 1).into();
    }
    if page_number > 1 {
        body["previousUri"] = uri(page_number as usize - 1).into();
    }
    body
}

/// A UUID path parameter, or the 400 naming it.
pub(crate) fn uuid_param(
    name: &str,
    value: &str,
    correlation: &str,
) -> Result<uuid::Uuid, Refused> {
    value
        .parse::<uuid::Uuid>()
        .ok()
        .filter(|_| compliance_api::CanonicalUuid::is_canonical(value))
        .ok_or_else(|| {
            bad_request(
                name,
                &format!("{name} `{value}` is not a UUID; allowed: 8-4-4-4-12 hexadecimal."),
                correlation,
            )
        })
}
