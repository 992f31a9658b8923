//! Who is calling and what they may do. Every API endpoint checks, in this
//! order: the bearer token (401 `bad.credentials`), the client's rate limit
//! (429, which a refused request still counts against, as Genesys does), and
//! the permissions the endpoint needs (403 `missing.permissions`, naming them).

use crate::respond::{api_error, too_many_requests, Refused};
use crate::server::Shared;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use compliance_api::codes;
use std::time::Instant;

/// The permissions an endpoint needs, as the SDK docs word it ("Requires ALL
/// permissions" / "Requires ANY permissions" / "Requires NO permissions").
#[derive(Debug, Clone, Copy)]
pub(crate) enum Need {
    All(&'static [&'static str]),
    Any(&'static [&'static str]),
    Nothing,
}

impl Need {
    /// The permissions `holds` lacks for this need; empty when satisfied.
    fn missing(self, holds: impl Fn(&str) -> bool) -> Vec<&'static str> {
        match self {
            Need::All(all) => all.iter().copied().filter(|p| !holds(p)).collect(),
            Need::Any(any) if any.iter().any(|p| holds(p)) => Vec::new(),
            Need::Any(any) => any.to_vec(),
            Need::Nothing => Vec::new(),
        }
    }
}

impl Shared {
    /// The index of the calling client once its token, rate limit and
    /// permissions pass; otherwise the response to send.
    pub(crate) fn authorize(
        &self,
        headers: &HeaderMap,
        correlation: &str,
        need: Need,
    ) -> Result<usize, Refused> {
        let unauthorized = || {
            api_error(
                StatusCode::UNAUTHORIZED,
                codes::BAD_CREDENTIALS,
                "Invalid login credentials: the token is missing, expired or revoked.",
                &[],
                correlation,
            )
        };
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or_else(|| Refused::from(unauthorized()))?;
        let client = {
            let tokens = self.tokens.lock().expect("tokens lock");
            match tokens.get(token.trim()) {
                Some(issued) if issued.expires > Instant::now() => issued.client,
                _ => return Err(unauthorized().into()),
            }
        };
        if let Some(refused) = self.over_limit(client, correlation) {
            return Err(refused.into());
        }
        let missing = need.missing(|p| self.clients[client].holds(p));
        if !missing.is_empty() {
            return Err(api_error(
                StatusCode::FORBIDDEN,
                codes::MISSING_PERMISSIONS,
                &format!(
                    "Unable to perform the requested action. You are missing the following permission(s): [{}]",
                    missing.join(", ")
                ),
                &[],
                correlation,
            )
            .into());
        }
        Ok(client)
    }

    /// Counts a request against `client`'s budget; the 429 to send if it is spent.
    pub(crate) fn over_limit(&self, client: usize, correlation: &str) -> Option<Response> {
        let wait = self
            .limiter
            .admit(&self.clients[client].id, Instant::now())
            .err()?;
        self.stats.lock().expect("stats lock").rate_limited += 1;
        Some(too_many_requests(
            crate::limiter::retry_after_secs(wait),
            correlation,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_needs_every_permission_any_needs_one_and_nothing_needs_none() {
        let holds = |p: &str| p == "a:b:view";
        assert_eq!(
            Need::All(&["a:b:view", "c:d:view"]).missing(holds),
            ["c:d:view"]
        );
        assert!(Need::Any(&["x:y:view", "a:b:view"])
            .missing(holds)
            .is_empty());
        assert_eq!(
            Need::Any(&["x:y:view", "z:z:view"]).missing(holds),
            ["x:y:view", "z:z:view"]
        );
        assert!(Need::Nothing.missing(|_| false).is_empty());
    }
}
