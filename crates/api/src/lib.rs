//! Wire types of the Agent Assist compliance-violations API
//! (`shared/spec/compliance-api.md`): the query, its filters, severities,
//! pages, violations with their evidence, error bodies, the OAuth token
//! response and the region table.
//!
//! Values that the contract constrains parse into types that can only hold
//! valid values ([`Timestamp`], [`PageSize`], [`CanonicalUuid`], [`Severity`]),
//! so that a query built from them is valid by construction.

#![deny(missing_docs)]

mod org;
mod region;
mod values;
mod violation;

pub use org::OrgName;
pub use region::{Region, RegionParseError, REGIONS};
pub use values::{CanonicalUuid, HumanDuration, PageSize, Severity, Timestamp, ValueError};
pub use violation::{Evidence, Violation};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Path of the violations query on the API host.
pub const QUERY_PATH: &str = "/api/v2/agentassist/compliance/violations/query";
/// Path of the OAuth token endpoint on the login host.
pub const TOKEN_PATH: &str = "/oauth/token";
/// Header that carries the correlation id on every response (and optionally requests).
pub const CORRELATION_HEADER: &str = "ININ-Correlation-Id";
/// The permission the OAuth client needs.
pub const REQUIRED_PERMISSION: &str = "agentassist:compliance:read";
/// The longest interval one query may span.
pub const MAX_SPAN_DAYS: i64 = 31;
/// How many violations one query can page through.
pub const MAX_RESULTS_PER_QUERY: u64 = 100_000;
/// The largest request body the server accepts, in bytes.
pub const MAX_BODY_BYTES: usize = 512_000;
/// At most this many ids in `policy_ids` or `agent_ids`.
pub const MAX_IDS_PER_FILTER: usize = 100;
/// How late a violation may be recorded after its `detectedAt`.
pub const LATE_ARRIVAL_MINUTES: i64 = 15;

/// `[start, end)` of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeInterval {
    /// First instant included.
    pub start: Timestamp,
    /// First instant no longer included; after `start`.
    pub end: Timestamp,
}

/// The query's filters; an absent list and `null` both mean "no filter".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filters {
    /// Only violations of these severities.
    #[serde(default)]
    pub severity: Option<Vec<Severity>>,
    /// Only violations of these policies (at most [`MAX_IDS_PER_FILTER`]).
    #[serde(default)]
    pub policy_ids: Option<Vec<CanonicalUuid>>,
    /// Only violations of these agents (at most [`MAX_IDS_PER_FILTER`]).
    #[serde(default)]
    pub agent_ids: Option<Vec<CanonicalUuid>>,
}

/// Body of `POST /api/v2/agentassist/compliance/violations/query`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViolationQuery {
    /// The interval of `detectedAt`, at most [`MAX_SPAN_DAYS`] long.
    pub time_interval: TimeInterval,
    /// Which violations; absent means all.
    #[serde(default)]
    pub filters: Filters,
    /// Violations per page.
    pub size: PageSize,
    /// The previous page's `nextPageCursor`; absent for the first page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// One page of results. `V` is [`Violation`] for typed use, or
/// [`serde_json::Value`] for a client that checks each violation on its own
/// (so that one malformed violation does not sink the page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<V = Violation> {
    /// This page's violations, ordered by `detectedAt`, then `id`.
    pub violations: Vec<V>,
    /// The page size the server applied.
    #[serde(rename = "pageSize")]
    pub page_size: u32,
    /// Null on the last page; older servers omit it, which means the same.
    #[serde(rename = "nextPageCursor", default)]
    pub next_page_cursor: Option<String>,
    /// How many violations the whole query matches, when the server says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

/// The error body of every non-2xx response of the API host. Every field may be absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Machine-readable code, one of [`codes`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The HTTP status, repeated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The correlation id, repeated from the header.
    #[serde(rename = "contextId", default, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    /// Which fields were wrong.
    #[serde(default)]
    pub details: Vec<ErrorDetail>,
    /// Nested errors, kept as sent.
    #[serde(default)]
    pub errors: Vec<Value>,
}

/// One entry of [`ApiError::details`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// What was wrong with the field, such as `invalid.value`.
    #[serde(rename = "errorCode", default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The field, as a path into the query body, such as `time_interval.start`.
    #[serde(rename = "fieldName", default, skip_serializing_if = "Option::is_none")]
    pub field_name: Option<String>,
    /// Fields this version does not know, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Error codes of the contract (section 5).
pub mod codes {
    /// 400: a request constraint was broken; `details` names the field.
    pub const BAD_REQUEST: &str = "bad.request";
    /// 400: the cursor is unknown, expired, or belongs to another query.
    pub const INVALID_CURSOR: &str = "invalid.cursor";
    /// 400: the query matches more than [`crate::MAX_RESULTS_PER_QUERY`]; split it.
    pub const PAGINATION_LIMIT_EXCEEDED: &str = "pagination.limit.exceeded";
    /// 401: the token is unknown or expired.
    pub const BAD_CREDENTIALS: &str = "bad.credentials";
    /// 403: the client lacks [`crate::REQUIRED_PERMISSION`].
    pub const MISSING_PERMISSIONS: &str = "missing.permissions";
    /// 413: the body is larger than [`crate::MAX_BODY_BYTES`].
    pub const REQUEST_TOO_LARGE: &str = "request.too.large";
    /// 429: over the rate limit; wait for `Retry-After`.
    pub const TOO_MANY_REQUESTS: &str = "too.many.requests.retry.after";
}

/// The 200 answer of the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The bearer token, opaque.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Lifetime in seconds.
    pub expires_in: u64,
}

/// The 400/401 answer of the token endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthError {
    /// The OAuth error code, such as `invalid_client`.
    pub error: String,
    /// Human-readable description (Genesys's name for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Human-readable description (the OAuth standard's name for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

#[cfg(test)]
mod tests {
    //! Every literal JSON example of compliance-api.md parses and re-serialises
    //! to the same JSON value.
    use super::*;
    use serde_json::json;

    fn round_trip<T: serde::de::DeserializeOwned + Serialize>(literal: &str) -> (T, Value) {
        let parsed: T = serde_json::from_str(literal).expect("contract example parses");
        let again = serde_json::to_value(&parsed).unwrap();
        (parsed, again)
    }

    #[test]
    fn query_example_round_trips() {
        let literal = r#"{
          "time_interval": {"start": "2023-10-01T00:00:00.000Z", "end": "2023-10-02T00:00:00.000Z"},
          "filters": {
            "severity": ["HIGH", "CRITICAL"],
            "policy_ids": ["3f1f0e2a-6c1b-4a57-9d7e-2b1a4c9e8f10"],
            "agent_ids": null
          },
          "size": 500,
          "cursor": null
        }"#;
        let (q, again) = round_trip::<ViolationQuery>(literal);
        assert_eq!(q.size.get(), 500);
        assert_eq!(
            q.filters.severity,
            Some(vec![Severity::High, Severity::Critical])
        );
        assert_eq!(again, serde_json::from_str::<Value>(literal).unwrap());
    }

    #[test]
    fn empty_filters_are_accepted() {
        let q: ViolationQuery = serde_json::from_value(json!({
            "time_interval": {"start": "2023-10-01T00:00:00Z", "end": "2023-10-02T00:00:00.123456789Z"},
            "filters": {}, "size": 1
        }))
        .unwrap();
        assert_eq!(q.filters, Filters::default());
        assert_eq!(q.cursor, None);
    }

    #[test]
    fn violation_example_round_trips() {
        let literal = r#"{
          "id": "b1c2d3e4-0000-4000-8000-000000000001",
          "conversationId": "uuid",
          "communicationId": "uuid",
          "agentId": "uuid",
          "queueId": "uuid",
          "policyId": "uuid",
          "ruleId": "rule-uuid-001",
          "ruleName": "Card number read back to customer",
          "severity": "HIGH",
          "detectedAt": "2023-10-01T13:04:05.120Z",
          "segmentReference": "conversation/<conversationId>/segment/4",
          "confidence": 0.92,
          "evidence": [
            {"type": "TRANSCRIPT", "participant": "AGENT", "value": "text", "startMs": 81200, "endMs": 86950}
          ]
        }"#;
        let (v, again) = round_trip::<Violation>(literal);
        assert_eq!(v.rule_id, "rule-uuid-001");
        assert_eq!(v.severity, Severity::High);
        assert_eq!(
            v.evidence.as_ref().unwrap()[0].value.as_deref(),
            Some("text")
        );
        assert_eq!(again, serde_json::from_str::<Value>(literal).unwrap());
    }

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let literal = json!({
            "id": "b1c2d3e4-0000-4000-8000-000000000001",
            "ruleId": "r", "severity": "LOW", "detectedAt": "2023-10-01T13:04:05.000Z",
            "sentiment": {"score": -0.4}, "channel": "voice",
            "evidence": [{"type": "HOLOGRAM", "value": "", "confidenceBand": "high"}]
        });
        let v: Violation = serde_json::from_value(literal.clone()).unwrap();
        assert_eq!(serde_json::to_value(&v).unwrap(), literal);
    }

    #[test]
    fn page_example_round_trips_and_absent_cursor_means_last_page() {
        let literal =
            r#"{"violations": [], "pageSize": 500, "nextPageCursor": "abc", "total": 1234}"#;
        let (p, again) = round_trip::<Page>(literal);
        assert_eq!(p.next_page_cursor.as_deref(), Some("abc"));
        assert_eq!(p.total, Some(1234));
        assert_eq!(again, serde_json::from_str::<Value>(literal).unwrap());

        let old: Page = serde_json::from_str(r#"{"violations": [], "pageSize": 5}"#).unwrap();
        assert_eq!(old.next_page_cursor, None);
        assert_eq!(old.total, None);
    }

    #[test]
    fn error_body_example_round_trips() {
        let literal = r#"{
          "message": "The request could not be understood by the server due to malformed syntax.",
          "code": "bad.request",
          "status": 400,
          "contextId": "<correlation id>",
          "details": [{"errorCode": "invalid.value", "fieldName": "size"}],
          "errors": []
        }"#;
        let (e, again) = round_trip::<ApiError>(literal);
        assert_eq!(e.details[0].field_name.as_deref(), Some("size"));
        assert_eq!(again, serde_json::from_str::<Value>(literal).unwrap());
        // Every field may be absent.
        let empty: ApiError = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, ApiError::default());
    }

    #[test]
    fn token_examples_round_trip() {
        let literal =
            r#"{"access_token": "<opaque>", "token_type": "bearer", "expires_in": 86399}"#;
        let (t, again) = round_trip::<TokenResponse>(literal);
        assert_eq!(t.expires_in, 86399);
        assert_eq!(again, serde_json::from_str::<Value>(literal).unwrap());

        let literal =
            r#"{"error": "invalid_client", "description": "...", "error_description": "..."}"#;
        let (e, again) = round_trip::<OAuthError>(literal);
        assert_eq!(e.error, "invalid_client");
        assert_eq!(again, serde_json::from_str::<Value>(literal).unwrap());
    }
}
