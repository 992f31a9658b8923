//! Webhook signatures per the Standard Webhooks specification.
//!
//! The signed content is `<webhook-id>.<webhook-timestamp>.<body>`; the
//! signature is `v1,` + base64 of its HMAC-SHA256 keyed with the base64-decoded
//! part of the `whsec_` secret. A `webhook-signature` header may carry several
//! space-separated signatures (during key rotation); one match suffices.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Sha256;
use std::time::Duration;

/// The environment variable that holds the signing secret.
pub const SECRET_ENV: &str = "COMPLIANCE_WEBHOOK_SECRET";
/// How far a `webhook-timestamp` may be from the receiver's clock.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

const PREFIX: &str = "whsec_";

/// The webhook signing secret. Its bytes never appear in `Debug`, errors or logs.
pub struct WebhookSecret(SecretSlice<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret([REDACTED])")
    }
}

impl Clone for WebhookSecret {
    fn clone(&self) -> Self {
        WebhookSecret(self.0.expose_secret().to_vec().into())
    }
}

/// The secret is not `whsec_` + base64. The message never holds the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{SECRET_ENV} {problem}; it must be `whsec_` followed by the base64 (standard alphabet, with padding) of at least 16 random bytes, as `echo whsec_$(openssl rand -base64 32)` prints")]
pub struct SecretError {
    problem: &'static str,
}

/// Why a received webhook was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the webhook-id, webhook-timestamp or webhook-signature header is missing")]
    MissingHeader,
    #[error("webhook-timestamp is not unix seconds")]
    BadTimestamp,
    #[error("webhook-timestamp is {0} s away from now, outside the tolerance")]
    OutsideTolerance(i64),
    #[error("no v1 signature in webhook-signature matches")]
    NoMatch,
}

impl WebhookSecret {
    /// Parses `whsec_` + base64.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text.trim().strip_prefix(PREFIX).ok_or(SecretError {
            problem: "does not start with whsec_",
        })?;
        let key = STANDARD.decode(encoded).map_err(|_| SecretError {
            problem: "is not valid base64 after whsec_",
        })?;
        if key.len() < 16 {
            return Err(SecretError {
                problem: "holds fewer than 16 bytes after whsec_",
            });
        }
        Ok(WebhookSecret(key.into()))
    }

    /// A fresh random 32-byte secret (for `demo`, or to print one for a user).
    pub fn generate() -> Self {
        let mut key = vec![0u8; 32];
        rand::Rng::fill(&mut rand::thread_rng(), key.as_mut_slice());
        WebhookSecret(key.into())
    }

    /// The secret in its `whsec_` form, kept secret.
    pub fn to_whsec(&self) -> SecretString {
        format!("{PREFIX}{}", STANDARD.encode(self.0.expose_secret())).into()
    }

    /// Parses a secret held in a `secrecy` string.
    pub fn from_secret_string(text: &SecretString) -> Result<Self, SecretError> {
        Self::parse(text.expose_secret())
    }

    /// The secret of [`SECRET_ENV`], `None` when it is unset or empty.
    pub fn from_env() -> Result<Option<Self>, SecretError> {
        match std::env::var(SECRET_ENV) {
            Ok(text) if !text.trim().is_empty() => Self::parse(&text).map(Some),
            Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(SecretError {
                problem: "is not valid UTF-8",
            }),
        }
    }

    fn mac(&self, webhook_id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.expose_secret())
            .expect("HMAC takes keys of any length");
        mac.update(webhook_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `webhook-signature` header value: `v1,` + base64 HMAC-SHA256.
    pub fn sign(&self, webhook_id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self
            .mac(webhook_id, timestamp, body)
            .finalize()
            .into_bytes();
        format!("v1,{}", STANDARD.encode(tag))
    }

    /// Checks a received webhook's headers against its body: the timestamp
    /// within `tolerance` of `now` (unix seconds) and one `v1` signature
    /// matching, compared in constant time.
    pub fn verify(
        &self,
        webhook_id: &str,
        timestamp: &str,
        signature_header: &str,
        body: &[u8],
        now: i64,
        tolerance: Duration,
    ) -> Result<(), SignatureError> {
        let ts: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| SignatureError::BadTimestamp)?;
        let skew = now.saturating_sub(ts);
        if skew.unsigned_abs() > tolerance.as_secs() {
            return Err(SignatureError::OutsideTolerance(skew));
        }
        let expected = self.mac(webhook_id, ts, body);
        let matched = signature_header
            .split_whitespace()
            .filter_map(|sig| sig.strip_prefix("v1,"))
            .filter_map(|b64| STANDARD.decode(b64).ok())
            .any(|tag| expected.clone().verify_slice(&tag).is_ok());
        if matched {
            Ok(())
        } else {
            Err(SignatureError::NoMatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    const VECTORS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/standard-webhooks-vectors.jsonl"
    );

    #[derive(Deserialize)]
    struct Vector {
        secret: String,
        msg_id: String,
        timestamp: i64,
        payload: String,
        signature: String,
        valid: bool,
    }

    #[test]
    fn the_published_standard_webhooks_vectors_hold() {
        let text = std::fs::read_to_string(VECTORS).expect("the vectors file is beside the repo");
        let mut checked = (0, 0);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: Vector = serde_json::from_str(line).unwrap();
            let secret = WebhookSecret::parse(&v.secret).unwrap();
            let body = v.payload.as_bytes();
            let verdict = secret.verify(
                &v.msg_id,
                &v.timestamp.to_string(),
                &v.signature,
                body,
                v.timestamp,
                DEFAULT_TOLERANCE,
            );
            if v.valid {
                assert_eq!(secret.sign(&v.msg_id, v.timestamp, body), v.signature);
                assert_eq!(verdict, Ok(()));
                checked.0 += 1;
            } else {
                assert_ne!(secret.sign(&v.msg_id, v.timestamp, body), v.signature);
                assert_eq!(verdict, Err(SignatureError::NoMatch));
                checked.1 += 1;
            }
        }
        assert!(checked.0 >= 2 && checked.1 >= 1, "{checked:?}");
    }

    #[test]
    fn verification_refuses_stale_timestamps_and_altered_bodies() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = secret.sign("msg_1", 1_000_000, b"{}");
        let check = |ts: &str, body: &[u8], now| {
            secret.verify("msg_1", ts, &sig, body, now, DEFAULT_TOLERANCE)
        };
        assert_eq!(check("1000000", b"{}", 1_000_100), Ok(()));
        assert_eq!(
            check("1000000", b"{ }", 1_000_000),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            check("1000000", b"{}", 1_000_301),
            Err(SignatureError::OutsideTolerance(301))
        );
        assert_eq!(
            check("soon", b"{}", 1_000_000),
            Err(SignatureError::BadTimestamp)
        );
        // Several signatures: one match suffices.
        let rotated = format!("v1,AAAA {sig}");
        assert_eq!(
            secret.verify(
                "msg_1",
                "1000000",
                &rotated,
                b"{}",
                1_000_000,
                DEFAULT_TOLERANCE
            ),
            Ok(())
        );
    }

    #[test]
    fn generated_secrets_differ_and_round_trip_through_their_whsec_form() {
        let (a, b) = (WebhookSecret::generate(), WebhookSecret::generate());
        assert_ne!(a.sign("m", 1, b"x"), b.sign("m", 1, b"x"));
        let again = WebhookSecret::from_secret_string(&a.to_whsec()).unwrap();
        assert_eq!(again.sign("m", 1, b"x"), a.sign("m", 1, b"x"));
    }

    #[test]
    fn a_bad_secret_names_the_variable_and_the_form_but_not_the_secret() {
        for bad in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_not*base64!",
            "whsec_AAAA",
        ] {
            let err = WebhookSecret::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with(SECRET_ENV), "{err}");
            assert!(err.contains("whsec_"), "{err}");
            assert!(!err.contains(bad), "{err}");
        }
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert!(!format!("{secret:?}").contains("MfKQ"));
    }
}
