//! `POST /oauth/token` (contract section 2): client credentials for a bearer token.

use crate::respond::{content_type_is, oauth_error, CorrelationId, FORM};
use crate::server::{Issued, Shared};
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

/// `POST /oauth/token`: client credentials from the Basic header or the form.
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    Extension(CorrelationId(correlation)): Extension<CorrelationId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !content_type_is(&headers, FORM) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "Send the token request as a form: Content-Type: application/x-www-form-urlencoded.",
        );
    }
    let form: Vec<(String, String)> = match serde_urlencoded::from_bytes(&body) {
        Ok(form) => form,
        Err(_) => return oauth_error(StatusCode::BAD_REQUEST, "The body must be form-urlencoded."),
    };
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let credentials = match headers.get(header::AUTHORIZATION) {
        Some(value) => match basic_credentials(value) {
            Some(pair) => Some(pair),
            None => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "The Authorization header must be Basic base64(client_id:client_secret).",
                )
            }
        },
        None => field("client_id")
            .zip(field("client_secret"))
            .map(|(id, secret)| (id.to_string(), secret.to_string())),
    };
    let Some((id, secret)) = credentials else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "Client credentials are missing: send a Basic Authorization header or client_id and client_secret.",
        );
    };
    // The token endpoint counts against the client's rate limit too.
    let known = shared.clients.iter().position(|c| c.id == id);
    if let Some(client) = known {
        if let Some(refused) = shared.over_limit(client, &correlation) {
            return refused;
        }
    }
    if field("grant_type") != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "grant_type must be client_credentials.",
        );
    }
    let Some(client) = known.filter(|&c| shared.clients[c].secret == secret) else {
        return oauth_error(StatusCode::UNAUTHORIZED, "Client authentication failed.");
    };
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let access_token = URL_SAFE_NO_PAD.encode(bytes);
    {
        let mut tokens = shared.tokens.lock().expect("tokens lock");
        let now = Instant::now();
        // Forget expired tokens now and then, so a long run does not grow without bound.
        if tokens.len() % 1024 == 1023 {
            tokens.retain(|_, issued| issued.expires > now);
        }
        let expires = now + shared.token_lifetime;
        tokens.insert(access_token.clone(), Issued { client, expires });
    }
    shared.stats.lock().expect("stats lock").tokens_issued += 1;
    let body = json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": shared.token_lifetime.as_secs(),
    });
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}

fn basic_credentials(value: &HeaderValue) -> Option<(String, String)> {
    let value = value.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}
