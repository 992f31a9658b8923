//! The organisation's live rate limit (spec §7.3): `GET
//! /api/v2/organizations/limits/namespaces/{namespace}` needs no permission
//! and answers the limits in force. Which namespace holds
//! `token.rate.per.minute` is not documented, so every given namespace is
//! read; a failure keeps the configured limit.

use compliance_client::{Access, ApiClient};
use serde::Deserialize;

/// The limit that paces requests per OAuth client token.
pub(crate) const RATE_KEYS: [&str; 2] = [
    "client.credentials.token.rate.per.minute",
    "token.rate.per.minute",
];

/// `Limit` entries of a namespace; the listing's shape is not documented
/// beyond `Limit{key, namespace, value}`, so both a bare list and an
/// `entities`/`limits` wrapper are read.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Limits {
    Listing {
        #[serde(alias = "entities")]
        limits: Vec<Limit>,
    },
    Bare(Vec<Limit>),
}

#[derive(Debug, Deserialize)]
struct Limit {
    key: String,
    #[serde(default)]
    value: Option<f64>,
}

/// Reads the live per-token limit from `namespaces` and, when found and lower
/// than the configured pacing, paces at it (a configured 0 means pacing is
/// off, and stays off). Returns the limit read.
pub(crate) async fn adopt_live_limit(
    client: &ApiClient,
    namespaces: &[&str],
    source: &'static str,
    configured: u32,
) -> Option<u32> {
    let access = Access {
        permission: "(none)",
        source,
    };
    for ns in namespaces {
        let path = format!("/api/v2/organizations/limits/namespaces/{ns}");
        let limits: Limits = match client.get(&path, &[], access).await {
            Ok(l) => l,
            Err(e) => {
                tracing::info!(
                    namespace = ns,
                    "live limits not readable ({e}); pacing at the configured {configured}/min"
                );
                continue;
            }
        };
        let list = match limits {
            Limits::Listing { limits } | Limits::Bare(limits) => limits,
        };
        let found = list
            .iter()
            .filter(|l| RATE_KEYS.contains(&l.key.as_str()))
            .filter_map(|l| l.value)
            .filter(|v| *v >= 1.0)
            .map(|v| v as u32)
            .min();
        if let Some(live) = found {
            if configured != 0 && live < configured {
                client.set_rate_limit(live);
            }
            tracing::info!(namespace = ns, live, "live rate limit read");
            return Some(live);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_listings_parse() {
        let l: Limits = serde_json::from_str(
            r#"{"limits": [{"key": "token.rate.per.minute", "namespace": "platform.api", "value": 300}]}"#,
        )
        .unwrap();
        assert!(matches!(l, Limits::Listing { limits } if limits[0].value == Some(300.0)));
        let l: Limits =
            serde_json::from_str(r#"[{"key": "request.bytes.max", "value": 512000}]"#).unwrap();
        assert!(matches!(l, Limits::Bare(limits) if limits[0].key == "request.bytes.max"));
    }
}
