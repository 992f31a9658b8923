//! The libraries' errors say what happened; this is where they become
//! advice that names this program's flags and commands, the one place that
//! knows both. Each message is the library's, with what to do after it.

use compliance_audit::{AuditError, DeliveryError, EndpointError};
use compliance_pipeline::nats::NatsError;
use compliance_pipeline::{OutputError, RunError};
use compliance_store::StoreError;
use compliance_verify::RulesError;
use std::error::Error;
use std::path::Path;

/// `error` as the user reads it: its own message, with the advice this
/// program gives for it.
pub fn message(error: &(dyn Error + 'static)) -> String {
    advised(error).unwrap_or_else(|| error.to_string())
}

/// `error` and its causes as `{:#}` prints them (joined by `: `), each with
/// its advice.
pub fn chain(error: &anyhow::Error) -> String {
    let messages: Vec<String> = error.chain().map(message).collect();
    messages.join(": ")
}

/// The message of `error` with advice, when it is an error that has some.
fn advised(error: &(dyn Error + 'static)) -> Option<String> {
    if let Some(e) = error.downcast_ref::<RunError>() {
        return run(e);
    }
    if let Some(e) = error.downcast_ref::<AuditError>() {
        return audit(e);
    }
    if let Some(e) = error.downcast_ref::<DeliveryError>() {
        return delivery(e);
    }
    if let Some(e) = error.downcast_ref::<StoreError>() {
        return store(e);
    }
    if let Some(e) = error.downcast_ref::<RulesError>() {
        return rules(e);
    }
    if let Some(e) = error.downcast_ref::<NatsError>() {
        return stream(e);
    }
    error.downcast_ref::<EndpointError>().map(webhook_url)
}

fn stream(e: &NatsError) -> Option<String> {
    let advice = match e {
        NatsError::NoStream { .. } => {
            "or give --create-stream (settings key create_stream = true) to have this program \
             create it with a 24h duplicate window"
        }
        NatsError::Refused { .. } => {
            "check the USER:PASSWORD@ or TOKEN@ of --sink (or of the config file's sink)"
        }
        _ => return None,
    };
    Some(format!("{e}; {advice}"))
}

fn run(e: &RunError) -> Option<String> {
    match e {
        RunError::Audit(e) => audit(e),
        RunError::Delivery(e) => delivery(e),
        RunError::Store(e) => store(e),
        RunError::Checkpoint(_) => Some(format!(
            "{e}; remove the state file or give another --state"
        )),
        RunError::Output(OutputError::Stream(e)) => stream(e),
        RunError::Client(_) | RunError::Output(_) | RunError::Interrupted => None,
    }
}

fn audit(e: &AuditError) -> Option<String> {
    match e {
        AuditError::Store(e) => store(e),
        AuditError::Tampered { dir, .. } => Some(format!(
            "{e}; run `genesys-compliance audit verify {}` and preserve the directory for \
             investigation, or start a new --audit-dir",
            dir.display()
        )),
        AuditError::NotAnchored { dir, state, .. } => Some(format!(
            "{e}: run `{}`, preserve the directory for investigation and give this extraction \
             a new --audit-dir; if the records were written with another --state file, use \
             that one",
            verify_command(dir, state.as_deref())
        )),
        AuditError::ChangedUnderfoot { .. } => {
            Some(format!("{e}; give each process its own --audit-dir"))
        }
        _ => None,
    }
}

fn delivery(e: &DeliveryError) -> Option<String> {
    match e {
        DeliveryError::Store(e) => store(e),
        DeliveryError::Client(_) => None,
    }
}

fn store(e: &StoreError) -> Option<String> {
    let advice = match e {
        StoreError::Locked { .. } => "wait for it to finish or give this run its own --state file",
        StoreError::Missing { .. } => {
            "give an existing file with --state, or run an extraction first to create it"
        }
        StoreError::TooNew { .. } => "use a newer genesys-compliance or another --state file",
        _ => return None,
    };
    Some(format!("{e}; {advice}"))
}

fn rules(e: &RulesError) -> Option<String> {
    match e {
        RulesError::Read { .. } => Some(format!(
            "{e}; pass a readable TOML file with --rules, or omit it for the default rules"
        )),
        RulesError::Invalid { .. } => None,
    }
}

fn webhook_url(e: &EndpointError) -> String {
    format!(
        "--webhook-url `{}` {}; {}",
        e.url(),
        e.problem(),
        EndpointError::ALLOWED
    )
}

/// The `audit verify` command line for `dir` against `state`.
fn verify_command(dir: &Path, state: Option<&Path>) -> String {
    let state = state.map_or("FILE".into(), |path| {
        shell_word(&path.to_string_lossy()).into_owned()
    });
    format!(
        "genesys-compliance audit verify {} --state {state}",
        shell_word(&dir.to_string_lossy())
    )
}

/// The command that enables `endpoint` again after `410 Gone` in the state
/// store at `state` (its absolute path, since the message may be read from
/// another directory; `--state FILE` when the store has no file). The
/// pipeline quotes it in its messages about a disabled endpoint.
pub fn enable_webhook_command(endpoint: &str, state: Option<&Path>) -> String {
    let state = match state {
        Some(path) => {
            let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
            shell_word(&path.to_string_lossy()).into_owned()
        }
        None => "FILE".into(),
    };
    format!(
        "genesys-compliance audit enable-webhook {} --state {state}",
        shell_word(endpoint)
    )
}

/// `text` as one word of a POSIX shell command line: as it is when that is
/// safe, else in single quotes, so that the commands messages suggest can be
/// pasted as they are.
fn shell_word(text: &str) -> std::borrow::Cow<'_, str> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./:@%+=,-".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.into()
    } else {
        format!("'{}'", text.replace('\'', r"'\''")).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("http://127.0.0.1:8/h"), "http://127.0.0.1:8/h");
        assert_eq!(shell_word("https://x/h?a=1&b=2"), "'https://x/h?a=1&b=2'");
        assert_eq!(shell_word("/tmp/it's here"), r"'/tmp/it'\''s here'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn store_errors_name_the_state_flag_after_what_happened() {
        let path = PathBuf::from("/srv/state.db");
        let locked = StoreError::Locked { path: path.clone() };
        assert_eq!(
            message(&locked),
            "state store /srv/state.db: the database is locked by another process; \
             wait for it to finish or give this run its own --state file"
        );
        // Wrapped by the pipeline and the audit log, the advice is the same.
        let wrapped = RunError::Audit(AuditError::Store(StoreError::Missing { path }));
        assert_eq!(
            message(&wrapped),
            "state store /srv/state.db does not exist; give an existing file with --state, \
             or run an extraction first to create it"
        );
    }

    #[test]
    fn an_unanchored_log_gets_the_verify_command_and_the_flags_to_change() {
        let e = AuditError::NotAnchored {
            dir: PathBuf::from("out/audit"),
            state: Some(PathBuf::from("/srv/my state.db")),
            anchored: 5,
            head: 6,
            tampering: Box::new(compliance_audit::Tampering {
                kind: compliance_audit::TamperKind::Inserted,
                seq: Some(6),
                extraction_id: None,
                line: Some(6),
                detail: "forged".into(),
            }),
        };
        let text = message(&e);
        assert!(text.starts_with(&e.to_string()), "{text}");
        assert!(
            text.ends_with(
                ": run `genesys-compliance audit verify out/audit --state '/srv/my state.db'`, \
                 preserve the directory for investigation and give this extraction a new \
                 --audit-dir; if the records were written with another --state file, use that one"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_refused_webhook_url_is_named_by_its_flag() {
        let e = compliance_audit::WebhookEndpoint::parse("http://audit.example.com/h").unwrap_err();
        assert_eq!(
            message(&e),
            "--webhook-url `http://audit.example.com/h` is plain http to a host that is not \
             loopback; give an https:// URL, or http:// to 127.0.0.1, [::1] or localhost"
        );
    }

    #[test]
    fn the_enable_command_quotes_what_the_shell_would_split() {
        assert_eq!(
            enable_webhook_command("https://x/h?a=1", None),
            "genesys-compliance audit enable-webhook 'https://x/h?a=1' --state FILE"
        );
    }
}
