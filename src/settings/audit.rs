//! Where the record of each extraction goes: the state store (checkpoints,
//! webhook outbox, audit chain anchor), the audit directory and the webhook.

use super::error::SettingsError;
use super::layers::{env, Layers};
use compliance_audit::{WebhookEndpoint, WebhookSecret};
use compliance_pipeline::Webhook;
use compliance_store::StateLocation;
use std::path::PathBuf;

/// The state store `--state` names by default, in the working directory.
pub const DEFAULT_STATE: &str = "genesys-compliance.db";
/// The audit directory `--audit-dir` names by default: in the working
/// directory for `extract`, in the output directory for `serve`.
pub const DEFAULT_AUDIT_DIR: &str = "audit";

/// Where the state, the audit trail and the webhook go (extract and serve).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AuditArgs {
    /// State store: checkpoints, webhook outbox, audit chain anchor; an
    /// SQLite file, or a postgres://USER@HOST:PORT/DB URL (put its password
    /// in the config file's `state`, not on the command line)
    /// [default: genesys-compliance.db in the working directory]
    #[arg(long, value_name = "FILE|URL")]
    pub state: Option<PathBuf>,
    /// Audit directory: one extraction_<id>.json per extraction and the
    /// hash-chained audit.jsonl; check it with `audit verify DIR`
    /// [default: `audit` in the working directory; for serve, OUT_DIR/audit]
    #[arg(long, value_name = "DIR")]
    pub audit_dir: Option<PathBuf>,
    /// Where each audit record is POSTed (https://, or http:// to loopback),
    /// signed per Standard Webhooks with COMPLIANCE_WEBHOOK_SECRET when it is
    /// set
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<String>,
}

/// The state store, audit directory and webhook, valid by construction.
#[derive(Debug)]
pub struct AuditSettings {
    pub state: StateLocation,
    pub audit_dir: Option<PathBuf>,
    pub webhook: Option<Webhook>,
}

impl Layers<'_> {
    /// The state store, audit directory and webhook.
    pub fn audit(&self, args: &AuditArgs) -> Result<AuditSettings, SettingsError> {
        let f = &self.file;
        let (input, state) = match (&args.state, &f.state) {
            (Some(flag), _) => ("--state", flag.clone()),
            (None, Some(key)) => ("state (config file)", key.clone()),
            (None, None) => ("--state", PathBuf::from(DEFAULT_STATE)),
        };
        let state = StateLocation::parse(state).map_err(|e| SettingsError::new(input, e))?;
        let audit_dir = args.audit_dir.clone().or_else(|| f.audit_dir.clone());
        Ok(AuditSettings {
            state,
            audit_dir,
            webhook: self.webhook(args)?,
        })
    }

    /// The webhook's endpoint, and the key to sign for it when
    /// COMPLIANCE_WEBHOOK_SECRET is set.
    fn webhook(&self, args: &AuditArgs) -> Result<Option<Webhook>, SettingsError> {
        let endpoint = self.parse_with(
            ("--webhook-url", args.webhook_url.as_ref()),
            None,
            ("webhook_url", self.file.webhook_url.clone()),
            |url| WebhookEndpoint::parse(url).map_err(|e| crate::advice::message(&e)),
        )?;
        let Some(endpoint) = endpoint else {
            return Ok(None);
        };
        let secret = match self.env_var(env::WEBHOOK_SECRET) {
            None => {
                tracing::warn!(
                    "{} is not set: webhooks are sent unsigned",
                    env::WEBHOOK_SECRET
                );
                None
            }
            Some(text) => Some(
                WebhookSecret::parse(&text)
                    .map_err(|e| SettingsError::new(env::WEBHOOK_SECRET, e))?,
            ),
        };
        Ok(Some(Webhook {
            endpoint,
            secret,
            retry: None,
            ca: None,
            enable_command: Some(crate::advice::enable_webhook_command),
        }))
    }

    /// Whether `keep_pii` is set in the config file (the flag wins when given).
    pub fn keep_pii(&self, flag: bool) -> bool {
        flag || self.file.keep_pii.unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_webhook_secret_is_refused_naming_the_variable_not_the_value() {
        let env =
            |name: &str| (name == env::WEBHOOK_SECRET).then(|| "not-a-secret-value".to_string());
        let layers = Layers::load(None, &env).unwrap();
        let args = AuditArgs {
            webhook_url: Some("https://grc.example.com/hook".into()),
            audit_dir: Some("audit".into()),
            ..AuditArgs::default()
        };
        let err = layers.audit(&args).unwrap_err().to_string();
        assert!(err.contains(env::WEBHOOK_SECRET), "{err}");
        assert!(!err.contains("not-a-secret-value"), "{err}");
    }
}
