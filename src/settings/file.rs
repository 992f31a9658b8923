//! The config file (`--config FILE.toml`): the keys it may hold, and
//! refusals that name the file, the line and the key, never a secret's value.

use super::error::SettingsError;
use serde::Deserialize;
use std::path::PathBuf;

/// The keys a config file may hold; any other key is refused by name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileSettings {
    pub(super) region: Option<String>,
    pub(super) api_base_url: Option<String>,
    pub(super) login_base_url: Option<String>,
    pub(super) client_id: Option<String>,
    pub(super) client_secret: Option<String>,
    pub(super) rate_limit_per_minute: Option<u64>,
    pub(super) page_size: Option<u64>,
    pub(super) source: Option<String>,
    pub(super) severity: Option<Vec<String>>,
    pub(super) policy_ids: Option<Vec<String>>,
    pub(super) agent_ids: Option<Vec<String>>,
    pub(super) rules: Option<PathBuf>,
    pub(super) concurrency: Option<u64>,
    pub(super) request_timeout: Option<String>,
    pub(super) ca_cert: Option<PathBuf>,
    pub(super) max_response_size: Option<String>,
    pub(super) retry_max_attempts: Option<u64>,
    pub(super) retry_base_delay: Option<String>,
    pub(super) retry_max_delay: Option<String>,
    pub(super) retry_max_elapsed: Option<String>,
    // Audit and state (extract and serve).
    pub(super) state: Option<PathBuf>,
    pub(super) audit_dir: Option<PathBuf>,
    pub(super) webhook_url: Option<String>,
    pub(super) keep_pii: Option<bool>,
    // The stream sink (extract and serve).
    pub(super) sink: Option<String>,
    pub(super) create_stream: Option<bool>,
    // serve's schedule.
    pub(super) since: Option<String>,
    pub(super) every: Option<String>,
    pub(super) lookback: Option<String>,
    pub(super) lag: Option<String>,
    pub(super) out_dir: Option<PathBuf>,
    pub(super) listen: Option<String>,
    pub(super) rotate: Option<String>,
    // serve's workers: one `[[org]]` table per org (see `orgs.rs`).
    pub(super) org: Option<Vec<toml::Table>>,
    pub(super) lease: Option<String>,
}

/// Parses the text of config file `name`, refusing unknown keys by name.
pub(super) fn parse(name: &str, text: &str) -> Result<FileSettings, SettingsError> {
    toml::from_str(text).map_err(|e| file_error(name, text, &e))
}

/// Config-file keys whose value is never shown, even when it is malformed.
const SECRET_KEYS: [&str; 2] = ["client_secret", "sink"];

/// A config file that does not parse into [`FileSettings`]: names the file,
/// the line and the key when toml locates the error, and what is allowed.
/// Never shows the value of a secret.
fn file_error(name: &str, text: &str, e: &toml::de::Error) -> SettingsError {
    let line = e
        .span()
        .map(|span| text[..span.start.min(text.len())].matches('\n').count());
    // The key is on the error's line, or above it inside a multi-line array
    // (but never above a table header).
    let key = line.and_then(|n| {
        let lines: Vec<&str> = text.lines().take(n + 1).collect();
        lines
            .into_iter()
            .rev()
            .take_while(|l| !l.trim_start().starts_with('['))
            .find_map(key_of_line)
    });
    let mut input = format!("config file {name}");
    if let Some(n) = line {
        input.push_str(&format!(", line {}", n + 1));
    }
    if let Some(key) = &key {
        input.push_str(&format!(", key {key}"));
    }
    // toml has no words for some errors (a lone carriage return).
    let message = match e.message().trim() {
        "" => {
            "a character TOML does not allow there (such as a carriage return without a line feed)"
        }
        message => message,
    };
    let example = key.as_deref().unwrap_or("key");
    let allowed = [
        (
            "expected u64",
            format!("a whole number without quotes, such as {example} = 100"),
        ),
        (
            "expected a string",
            format!("a quoted string, such as {example} = \"...\""),
        ),
        (
            "expected path string",
            format!("a quoted path, such as {example} = \"...\""),
        ),
        (
            "expected a boolean",
            format!("true or false, such as {example} = true"),
        ),
        (
            "expected a sequence",
            format!("a list, such as {example} = [\"...\"]"),
        ),
    ]
    .into_iter()
    .find(|(expected, _)| message.ends_with(expected))
    .map(|(_, allowed)| allowed);
    let message = match (&key, allowed) {
        (Some(k), allowed) if SECRET_KEYS.contains(&k.as_str()) => format!(
            "the value is malformed (not shown: it is a secret); allowed: {}",
            allowed.unwrap_or_else(|| format!("a quoted string, such as {k} = \"...\""))
        ),
        (_, Some(allowed)) => format!("{message}; allowed: {allowed}"),
        (_, None) => message.to_string(),
    };
    SettingsError::new(input, message)
}

/// The key that a line such as `page_size = 100` or `"client_id" = "x"` sets.
fn key_of_line(line: &str) -> Option<String> {
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches(|c| c == '"' || c == '\'');
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    plain.then(|| key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing: toml gives no message for a lone carriage return.
    #[test]
    fn every_refusal_says_why() {
        let err = parse("p.toml", "region = \"usw2\"\n\r# note\n")
            .err()
            .unwrap();
        assert!(err.to_string().contains("line 2"), "{err}");
        assert!(err.message.contains("carriage return"), "{err}");
    }

    #[test]
    fn config_type_errors_name_line_and_key_and_never_show_a_secret() {
        let err = parse("p.toml", "region = \"usw2\"\npage_size = \"100\"\n")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("line 2, key page_size") && err.contains("whole number"),
            "{err}"
        );
        let err = parse("p.toml", "client_secret = 98765432\n")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("key client_secret"), "{err}");
        assert!(!err.contains("98765432"), "{err}");
    }
}

/// Fuzz target `config_file`: any text gets an answer, never a panic; a
/// refusal names the file and says why, and never shows the value of a
/// `client_secret` line, however the text around it is mangled.
#[cfg(test)]
mod fuzz {
    const TOKENS: &[&str] = &[
        "client_secret",
        " = ",
        "\"",
        "'",
        "\n",
        "\r",
        "[",
        "]",
        "{",
        "}",
        ",",
        "=",
        "#",
        "500",
        "true",
        "\"\"\"",
        "page_size",
        "severity",
        "region",
        ".",
        "\\",
        "1979-05-27T07:32:00Z",
    ];

    #[test]
    fn fuzz_config_file() {
        compliance_fuzz::fuzz_text("config_file", TOKENS, |text| {
            if let Err(e) = super::parse("fuzz.toml", text) {
                let shown = e.to_string();
                assert!(shown.contains("config file fuzz.toml"), "{shown}");
                assert!(
                    !e.message.trim().is_empty(),
                    "no reason given for {text:?}: {shown}"
                );
                // The value of a client_secret line, when it is nowhere else.
                let secret = text
                    .lines()
                    .filter(|l| l.trim_start().starts_with("client_secret"))
                    .filter_map(|l| l.split_once('=').map(|(_, v)| v.trim()))
                    .map(|v| v.trim_matches(|c| c == '"' || c == '\''))
                    .find(|v| v.len() >= 6 && text.matches(v).count() == 1);
                if let Some(secret) = secret {
                    // The message's own words may hold it by chance ("the
                    // value is", the advice's `client_secret = "..."`): only
                    // more than the same input with another secret shows
                    // counts.
                    let other = text.replace(secret, &"X".repeat(secret.chars().count()));
                    let words = super::parse("fuzz.toml", &other)
                        .err()
                        .map_or(0, |e| e.to_string().matches(secret).count());
                    assert!(
                        shown.matches(secret).count() <= words,
                        "the secret {secret:?} is shown: {shown}"
                    );
                }
            }
        });
    }
}
