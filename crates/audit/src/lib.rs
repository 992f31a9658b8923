//! The audit side of `genesys-compliance`: each extraction's [`AuditRecord`],
//! written to a hash-chained, durable audit directory ([`AuditLog`]),
//! checked by [`verify_dir`], and delivered as a Standard Webhooks signed
//! webhook through a durable outbox in the state store ([`Deliverer`]). A
//! receiver to deliver to in demos and tests is `compliance-receiver`.
//!
//! # Use
//!
//! ```no_run
//! # async fn run(record: compliance_audit::AuditRecord) -> Result<(), Box<dyn std::error::Error>> {
//! use compliance_audit::{AuditLog, Deliverer, WebhookEndpoint, WebhookSecret};
//! use compliance_store::{SqliteStore, StateStore};
//! use std::sync::Arc;
//!
//! let store: Arc<dyn StateStore> = Arc::new(SqliteStore::open("genesys-compliance.db")?);
//! let endpoint = WebhookEndpoint::parse("https://audit.example.com/hooks")?;
//! // Opening reconciles what a crashed run left (an append not yet queued).
//! let mut log = AuditLog::open("audit", store.clone(), Some(endpoint.clone()))?;
//! let appended = log.append(&record)?; // on disk and queued when this returns
//! let deliverer = Deliverer::new(store, endpoint, WebhookSecret::from_env()?)?;
//! let report = deliverer.deliver_pending().await?; // earlier runs' records first
//! if !report.is_complete() { /* exit 5: it stays queued for the next run */ }
//! # let _ = appended; Ok(()) }
//! ```
//!
//! The store is synchronous and each call is brief; calling it from async
//! code (as [`Deliverer`] does) is fine.

mod canonical;
mod chain;
mod delivery;
mod log;
mod record;
mod signing;
mod trail;

pub use canonical::canonical_json;
pub use chain::{
    entry_hash, extraction_file_name, verify_dir, verify_dir_against, AfterAnchor, ChainEntry,
    ChainError, ChainReport, TamperKind, Tampering, GENESIS_HASH, LOG_FILE,
};
pub use compliance_retry::RetryPolicy;
pub use compliance_store::Anchor;
pub use delivery::{
    webhook_body, webhook_id_for, Deliverer, DeliveryError, DeliveryReport, EnableCommand,
    EndpointError, WebhookEndpoint, DEFAULT_RETRY, DEFAULT_TIMEOUT, EVENT_TYPE,
};
pub use log::{anchor_key, Appended, AuditError, AuditLog, Recovery};
pub use record::{accuracy_rate, payload_hash, AuditRecord};
pub use signing::{SecretError, SignatureError, WebhookSecret, DEFAULT_TOLERANCE, SECRET_ENV};
pub use trail::{check_trail, TrailAnchors, TrailCheck};

/// Parses `SEQ:HASH` (as `audit verify --expect-head` takes it, and as every
/// webhook's `chain` carries it) into an [`Anchor`].
pub fn parse_anchor(text: &str) -> Result<Anchor, String> {
    let refuse = || {
        format!(
            "--expect-head `{text}` is not SEQ:HASH; give the head's sequence number (1 or more) \
             and its 64 lowercase hex digit hash, such as 12:{}",
            "ab".repeat(32)
        )
    };
    let (seq, hash) = text.split_once(':').ok_or_else(refuse)?;
    let seq: u64 = seq.trim().parse().map_err(|_| refuse())?;
    let hash = hash.trim();
    if seq == 0
        || hash.len() != 64
        || !hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(refuse());
    }
    Ok(Anchor {
        seq,
        hash: hash.to_owned(),
    })
}
