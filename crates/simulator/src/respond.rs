//! What every endpoint answers with: the API's error body (contract section
//! 5, also Genesys Cloud's), the OAuth error body, the 429 with `Retry-After`,
//! and the request headers every handler reads.

use axum::body::{Body, Bytes};
use axum::extract::Extension;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use compliance_api::{codes, MAX_BODY_BYTES};
use serde_json::{json, Value};

/// A response refusing the request, boxed so that `Result<_, Refused>`
/// stays small; handlers return `Result<Response, Refused>` and use `?`.
#[derive(Debug)]
pub(crate) struct Refused(Box<Response>);

impl From<Response> for Refused {
    fn from(r: Response) -> Self {
        Refused(Box::new(r))
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// The correlation id of the request being answered.
#[derive(Debug, Clone)]
pub(crate) struct CorrelationId(pub String);

/// The API's error body (section 5 of the contract).
pub(crate) fn api_error(
    status: StatusCode,
    code: &str,
    message: &str,
    details: &[(&str, String)],
    correlation: &str,
) -> Response {
    let details: Vec<Value> = details
        .iter()
        .map(|(code, field)| json!({"errorCode": code, "fieldName": field}))
        .collect();
    let body = json!({
        "message": message,
        "code": code,
        "status": status.as_u16(),
        "contextId": correlation,
        "details": details,
        "errors": [],
    });
    (status, axum::Json(body)).into_response()
}

pub(crate) fn too_many_requests(retry_after: u64, correlation: &str) -> Response {
    let mut response = api_error(
        StatusCode::TOO_MANY_REQUESTS,
        codes::TOO_MANY_REQUESTS,
        &format!("Rate limit exceeded the maximum. Retry the request in [{retry_after}] seconds"),
        &[],
        correlation,
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

pub(crate) async fn not_found(Extension(CorrelationId(id)): Extension<CorrelationId>) -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        "not.found",
        "No resource at this path; docs/simulator.md lists what the simulator serves.",
        &[],
        &id,
    )
}

pub(crate) async fn method_not_allowed(
    Extension(CorrelationId(id)): Extension<CorrelationId>,
) -> Response {
    api_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method.not.allowed",
        "This method is not served at this path; docs/simulator.md lists what is.",
        &[],
        &id,
    )
}

/// The token endpoint's error body (OAuth format, not the API's).
pub(crate) fn oauth_error(status: StatusCode, description: &str) -> Response {
    let body = json!({
        "error": "invalid_client",
        "description": description,
        "error_description": description,
    });
    (status, axum::Json(body)).into_response()
}

pub(crate) const FORM: &str = "application/x-www-form-urlencoded";
pub(crate) const JSON: &str = "application/json";

/// Whether the request's `Content-Type` is `media` (parameters such as
/// `charset` allowed, case ignored), as the contract has clients send.
pub(crate) fn content_type_is(headers: &HeaderMap, media: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(media))
}

pub(crate) fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A JSON request body: `Content-Type: application/json` (else 415, as
/// Genesys answers) and at most 512,000 bytes (else 413, checked before
/// anything is parsed).
pub(crate) async fn json_body(
    headers: &HeaderMap,
    body: Body,
    correlation: &str,
) -> Result<Bytes, Refused> {
    if !content_type_is(headers, JSON) {
        let sent = headers
            .get(header::CONTENT_TYPE)
            .map_or("none".into(), |v| {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            });
        return Err(api_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported.media.type",
            &format!("The media type '{sent}' is not supported; send Content-Type: {JSON}."),
            &[],
            correlation,
        )
        .into());
    }
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            api_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::REQUEST_TOO_LARGE,
                &format!("The request body exceeds {MAX_BODY_BYTES} bytes."),
                &[],
                correlation,
            )
            .into()
        })
}

/// 400 `bad.request` naming the one input at fault and what is allowed.
pub(crate) fn bad_request(field: &str, message: &str, correlation: &str) -> Refused {
    api_error(
        StatusCode::BAD_REQUEST,
        codes::BAD_REQUEST,
        message,
        &[("invalid.value", field.to_string())],
        correlation,
    )
    .into()
}

/// 404 `not.found` for a resource that does not exist (or is not yet visible).
pub(crate) fn missing(what: &str, correlation: &str) -> Refused {
    api_error(
        StatusCode::NOT_FOUND,
        "not.found",
        &format!("{what} was not found."),
        &[],
        correlation,
    )
    .into()
}
