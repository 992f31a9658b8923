//! Layered settings: flags over environment over config file over defaults,
//! parsed once into domain types. Shared by `extract` and `serve`.
//!
//! Every refusal names the input it came from (`--page-size`,
//! `GENESYSCLOUD_REGION`, `config file x.toml, key page_size`) and what is allowed.

use compliance_api::{CanonicalUuid, Filters, HumanDuration, PageSize, Region, Severity};
use compliance_client::{BaseUrl, Credentials, Endpoints, RetryPolicy, TransportConfig};
use compliance_verify::RuleMatrix;
use secrecy::SecretString;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// Environment variables of the interface.
pub mod env {
    pub const CLIENT_ID: &str = "GENESYSCLOUD_OAUTHCLIENT_ID";
    pub const CLIENT_SECRET: &str = "GENESYSCLOUD_OAUTHCLIENT_SECRET";
    pub const REGION: &str = "GENESYSCLOUD_REGION";
    pub const API_BASE_URL: &str = "GENESYSCLOUD_API_BASE_URL";
    pub const LOGIN_BASE_URL: &str = "GENESYSCLOUD_LOGIN_BASE_URL";
    pub const WEBHOOK_SECRET: &str = "COMPLIANCE_WEBHOOK_SECRET";
}

/// An input that was refused: which one, and what is allowed.
#[derive(Debug, thiserror::Error)]
#[error("{input}: {message}")]
pub struct SettingsError {
    pub input: String,
    pub message: String,
}

impl SettingsError {
    fn new(input: impl Into<String>, message: impl ToString) -> Self {
        SettingsError {
            input: input.into(),
            message: message.to_string(),
        }
    }
}

/// The flags shared by every command that talks to the API.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConnectionArgs {
    /// Settings file (TOML); flags and environment variables override it.
    /// Keys: region, api_base_url, login_base_url, client_id, client_secret,
    /// rate_limit_per_minute, page_size, severity, policy_ids, agent_ids, rules,
    /// concurrency, request_timeout, retry_max_attempts, retry_base_delay,
    /// retry_max_delay, retry_max_elapsed, state, audit_dir, webhook_url,
    /// keep_pii; for serve also since, every, lookback, lag, out_dir, listen, rotate.
    /// See deploy/config.example.toml.
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// Region: AWS-style name (eu-west-1), short prefix (usw2) or domain
    /// (mypurecloud.ie) [env: GENESYSCLOUD_REGION] [default: us-east-1]
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// API base URL, overriding the region; http:// only for loopback
    /// [env: GENESYSCLOUD_API_BASE_URL]
    #[arg(long, value_name = "URL")]
    pub api_base_url: Option<String>,
    /// Login (OAuth) base URL, overriding the region; http:// only for loopback
    /// [env: GENESYSCLOUD_LOGIN_BASE_URL] [default: the API base URL with `api.`
    /// replaced by `login.`, else the API base URL itself]
    #[arg(long, value_name = "URL")]
    pub login_base_url: Option<String>,
    /// Requests per rolling minute the server allows this client, token requests
    /// included; the program stays below it [default: 300]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub rate_limit_per_minute: Option<String>,
    /// Windows fetched at the same time [default: 8]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub concurrency: Option<String>,
    /// Time allowed for one HTTP request, such as 30s [default: 30s]
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub request_timeout: Option<String>,
    /// Attempts per request before giving up (exit 4), the first included [default: 8]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub retry_max_attempts: Option<String>,
    /// First backoff between attempts; later ones double, with jitter [default: 500ms]
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub retry_base_delay: Option<String>,
    /// Longest backoff between attempts (a server's Retry-After may be longer) [default: 30s]
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub retry_max_delay: Option<String>,
    /// Total time one request may spend retrying [default: 5m]
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub retry_max_elapsed: Option<String>,
}

/// The flags that choose what to extract (shared with `serve`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FilterArgs {
    /// Only these severities, comma-separated: LOW, MEDIUM, HIGH, CRITICAL
    #[arg(long, value_name = "LIST")]
    pub severity: Option<String>,
    /// Only this policy (a UUID); repeat for more, at most 100
    #[arg(long = "policy-id", value_name = "UUID")]
    pub policy_ids: Vec<String>,
    /// Only this agent (a UUID); repeat for more, at most 100
    #[arg(long = "agent-id", value_name = "UUID")]
    pub agent_ids: Vec<String>,
    /// Violations per page, 1 to 1000 [default: 500]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub page_size: Option<String>,
    /// Rules file (TOML) mapping rule ids to regulations; read and checked now
    #[arg(long, value_name = "FILE.toml")]
    pub rules: Option<PathBuf>,
}

/// The keys a config file may hold; any other key is refused by name.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    region: Option<String>,
    api_base_url: Option<String>,
    login_base_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    rate_limit_per_minute: Option<u64>,
    page_size: Option<u64>,
    severity: Option<Vec<String>>,
    policy_ids: Option<Vec<String>>,
    agent_ids: Option<Vec<String>>,
    rules: Option<PathBuf>,
    concurrency: Option<u64>,
    request_timeout: Option<String>,
    retry_max_attempts: Option<u64>,
    retry_base_delay: Option<String>,
    retry_max_delay: Option<String>,
    retry_max_elapsed: Option<String>,
    // Audit and state (extract and serve).
    state: Option<PathBuf>,
    audit_dir: Option<PathBuf>,
    webhook_url: Option<String>,
    keep_pii: Option<bool>,
    // serve's schedule.
    since: Option<String>,
    every: Option<String>,
    lookback: Option<String>,
    lag: Option<String>,
    out_dir: Option<PathBuf>,
    listen: Option<String>,
    rotate: Option<String>,
}

/// Everything needed to talk to the API, valid by construction.
#[derive(Debug, Clone)]
pub struct Connection {
    pub transport: TransportConfig,
    pub concurrency: usize,
}

/// What to extract, besides the interval.
#[derive(Debug, Clone)]
pub struct Selection {
    pub filters: Filters,
    pub page_size: PageSize,
    /// The rules file, read and parsed.
    pub rules: Option<Rules>,
}

/// Reads settings from the layers. `env` looks up an environment variable
/// (injected so that tests need not touch the process environment).
pub struct Layers<'a> {
    file: FileSettings,
    file_name: Option<String>,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Layers<'a> {
    /// Loads the config file, if one is given, refusing unknown keys.
    pub fn load(
        config: Option<&Path>,
        env: &'a dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingsError> {
        let (file, file_name) = match config {
            None => (FileSettings::default(), None),
            Some(path) => {
                let name = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|e| {
                    SettingsError::new("--config", format!("cannot read `{name}`: {e}"))
                })?;
                let file = toml::from_str(&text).map_err(|e| file_error(&name, &text, &e))?;
                (file, Some(name))
            }
        };
        Ok(Layers {
            file,
            file_name,
            env,
        })
    }

    fn file_key(&self, key: &str) -> String {
        format!(
            "config file {}, key {key}",
            self.file_name.as_deref().unwrap_or("?")
        )
    }

    /// Flag, else environment variable, else config file: the value and its name.
    fn pick(
        &self,
        flag: (&str, Option<&String>),
        env: Option<&str>,
        file: (&str, Option<String>),
    ) -> Option<(String, String)> {
        if let Some(v) = flag.1 {
            return Some((v.clone(), flag.0.to_string()));
        }
        if let Some(name) = env {
            if let Some(v) = (self.env)(name).filter(|v| !v.is_empty()) {
                return Some((v, name.to_string()));
            }
        }
        file.1.map(|v| (v, self.file_key(file.0)))
    }

    /// Parses the picked value, naming its input on failure.
    fn parse<T: FromStr>(
        &self,
        flag: (&str, Option<&String>),
        env: Option<&str>,
        file: (&str, Option<String>),
    ) -> Result<Option<T>, SettingsError>
    where
        T::Err: ToString,
    {
        match self.pick(flag, env, file) {
            None => Ok(None),
            Some((v, input)) => v
                .parse()
                .map(Some)
                .map_err(|e| SettingsError::new(input, e)),
        }
    }

    /// A duration that must be longer than zero, naming its input when it is not.
    fn positive_duration(
        &self,
        flag: (&str, Option<&String>),
        file: (&str, Option<String>),
    ) -> Result<Option<Duration>, SettingsError> {
        let Some((v, input)) = self.pick(flag, None, file) else {
            return Ok(None);
        };
        let d = v
            .parse::<HumanDuration>()
            .map_err(|e| SettingsError::new(&input, e))?;
        positive(&input, d.get()).map(Some)
    }

    /// The connection settings.
    pub fn connection(&self, args: &ConnectionArgs) -> Result<Connection, SettingsError> {
        let f = &self.file;
        let region = self
            .pick(
                ("--region", args.region.as_ref()),
                Some(env::REGION),
                ("region", f.region.clone()),
            )
            .map(|(v, input)| Region::parse(&v).map_err(|e| SettingsError::new(input, e)))
            .transpose()?;
        let base =
            |flag: &str, value: Option<&String>, var: &str, key: &str, file: &Option<String>| {
                self.pick((flag, value), Some(var), (key, file.clone()))
                    .map(|(v, input)| BaseUrl::parse(&v).map_err(|e| SettingsError::new(input, e)))
                    .transpose()
            };
        let api = base(
            "--api-base-url",
            args.api_base_url.as_ref(),
            env::API_BASE_URL,
            "api_base_url",
            &f.api_base_url,
        )?;
        let login = base(
            "--login-base-url",
            args.login_base_url.as_ref(),
            env::LOGIN_BASE_URL,
            "login_base_url",
            &f.login_base_url,
        )?;
        let regional = Endpoints::for_region(&region.unwrap_or(compliance_api::REGIONS[0]));
        let endpoints = match (api, login) {
            (Some(api), Some(login)) => Endpoints { api, login },
            (Some(api), None) => Endpoints {
                login: login_beside(&api),
                api,
            },
            (None, Some(login)) => Endpoints {
                api: regional.api,
                login,
            },
            (None, None) => regional,
        };

        let client_id = self
            .pick(
                ("", None),
                Some(env::CLIENT_ID),
                ("client_id", f.client_id.clone()),
            )
            .map(|(v, _)| v)
            .ok_or_else(|| {
                SettingsError::new(
                    env::CLIENT_ID,
                    "not set; set it (or client_id in the config file) to the OAuth client id",
                )
            })?;
        let client_secret = self
            .pick(
                ("", None),
                Some(env::CLIENT_SECRET),
                ("client_secret", f.client_secret.clone()),
            )
            .map(|(v, _)| SecretString::from(v))
            .ok_or_else(|| {
                SettingsError::new(
                    env::CLIENT_SECRET,
                    "not set; set it (or client_secret in the config file) to the OAuth client secret",
                )
            })?;

        let number = |flag: &str,
                      value: Option<&String>,
                      key: &str,
                      file: Option<u64>,
                      min: u64,
                      max: u64| {
            let picked = self.pick((flag, value), None, (key, file.map(|n| n.to_string())));
            match picked {
                None => Ok(None),
                Some((v, input)) => match v.trim().parse::<u64>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                    _ => Err(SettingsError::new(
                        input,
                        format!("`{v}` is not allowed; give a whole number from {min} to {max}"),
                    )),
                },
            }
        };
        // None of these makes sense as zero: no time for a request, retries
        // that never wait, or a retry budget that turns retries off.
        let duration = |flag: &str, value: Option<&String>, key: &str, file: &Option<String>| {
            self.positive_duration((flag, value), (key, file.clone()))
        };
        let mut transport = TransportConfig::new(
            endpoints,
            Credentials {
                client_id,
                client_secret,
            },
        );
        if let Some(n) = number(
            "--rate-limit-per-minute",
            args.rate_limit_per_minute.as_ref(),
            "rate_limit_per_minute",
            f.rate_limit_per_minute,
            1,
            1_000_000,
        )? {
            transport.rate_limit_per_minute = n as u32;
        }
        if let Some(d) = duration(
            "--request-timeout",
            args.request_timeout.as_ref(),
            "request_timeout",
            &f.request_timeout,
        )? {
            transport.request_timeout = d;
        }
        let mut retry = RetryPolicy::default();
        if let Some(n) = number(
            "--retry-max-attempts",
            args.retry_max_attempts.as_ref(),
            "retry_max_attempts",
            f.retry_max_attempts,
            1,
            100,
        )? {
            retry.max_attempts = n as u32;
        }
        if let Some(d) = duration(
            "--retry-base-delay",
            args.retry_base_delay.as_ref(),
            "retry_base_delay",
            &f.retry_base_delay,
        )? {
            retry.base_delay = d;
        }
        if let Some(d) = duration(
            "--retry-max-delay",
            args.retry_max_delay.as_ref(),
            "retry_max_delay",
            &f.retry_max_delay,
        )? {
            retry.max_delay = d;
        }
        if let Some(d) = duration(
            "--retry-max-elapsed",
            args.retry_max_elapsed.as_ref(),
            "retry_max_elapsed",
            &f.retry_max_elapsed,
        )? {
            retry.max_elapsed = d;
        }
        transport.retry = retry;
        let concurrency = number(
            "--concurrency",
            args.concurrency.as_ref(),
            "concurrency",
            f.concurrency,
            1,
            256,
        )?
        .unwrap_or(8) as usize;
        Ok(Connection {
            transport,
            concurrency,
        })
    }

    /// The filters, page size and rules file.
    pub fn selection(&self, args: &FilterArgs) -> Result<Selection, SettingsError> {
        let f = &self.file;
        let severity = match (&args.severity, &f.severity) {
            (Some(list), _) => Some(parse_list::<Severity>("--severity", list.split(','))?),
            (None, Some(list)) => Some(parse_list::<Severity>(
                &self.file_key("severity"),
                list.iter().map(String::as_str),
            )?),
            (None, None) => None,
        };
        let ids = |flag: &str, given: &[String], key: &str, file: &Option<Vec<String>>| {
            let (input, values): (String, Vec<&str>) = if !given.is_empty() {
                (flag.to_string(), given.iter().map(String::as_str).collect())
            } else if let Some(list) = file {
                (
                    self.file_key(key),
                    list.iter().map(String::as_str).collect(),
                )
            } else {
                return Ok(None);
            };
            if values.len() > compliance_api::MAX_IDS_PER_FILTER {
                return Err(SettingsError::new(
                    input,
                    format!(
                        "{} ids given; allowed: at most {}",
                        values.len(),
                        compliance_api::MAX_IDS_PER_FILTER
                    ),
                ));
            }
            parse_list::<CanonicalUuid>(&input, values.into_iter()).map(Some)
        };
        let filters = Filters {
            severity,
            policy_ids: ids("--policy-id", &args.policy_ids, "policy_ids", &f.policy_ids)?,
            agent_ids: ids("--agent-id", &args.agent_ids, "agent_ids", &f.agent_ids)?,
        };
        let page_size = self
            .parse::<PageSize>(
                ("--page-size", args.page_size.as_ref()),
                None,
                ("page_size", f.page_size.map(|n| n.to_string())),
            )?
            .unwrap_or_default();
        let rules = match (&args.rules, &f.rules) {
            (Some(p), _) => Some(load_rules("--rules", p)?),
            (None, Some(p)) => Some(load_rules(&self.file_key("rules"), p)?),
            (None, None) => None,
        };
        Ok(Selection {
            filters,
            page_size,
            rules,
        })
    }
}

/// Config-file keys whose value is never shown, even when it is malformed.
const SECRET_KEYS: [&str; 1] = ["client_secret"];

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
    let message = e.message().trim();
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

/// The login host beside an explicit API host: `api.x` becomes `login.x`;
/// any other host (a simulator, a gateway) serves both.
fn login_beside(api: &BaseUrl) -> BaseUrl {
    let text = api.to_string();
    let swapped = text.replacen("://api.", "://login.", 1);
    BaseUrl::parse(&swapped).unwrap_or_else(|_| api.clone())
}

fn positive(input: &str, d: Duration) -> Result<Duration, SettingsError> {
    if d.is_zero() {
        let hint = if input.contains("retry") {
            " (to turn retries off, give --retry-max-attempts 1)"
        } else {
            ""
        };
        Err(SettingsError::new(
            input,
            format!("must be longer than zero, such as 30s{hint}"),
        ))
    } else {
        Ok(d)
    }
}

/// Parses every item of a non-empty list (duplicates removed, order kept).
fn parse_list<'s, T: FromStr + PartialEq>(
    input: &str,
    items: impl Iterator<Item = &'s str>,
) -> Result<Vec<T>, SettingsError>
where
    T::Err: ToString,
{
    let mut out = Vec::new();
    for item in items {
        let v: T = item
            .trim()
            .parse()
            .map_err(|e| SettingsError::new(input, e))?;
        if !out.contains(&v) {
            out.push(v);
        }
    }
    if out.is_empty() {
        return Err(SettingsError::new(
            input,
            "the list is empty; give at least one value",
        ));
    }
    Ok(out)
}

/// A rules file that was read and parsed; verification applies it.
#[derive(Debug, Clone)]
pub struct Rules {
    pub path: PathBuf,
    pub matrix: RuleMatrix,
}

impl Rules {
    /// The matrix, saying in the log which file it came from.
    pub fn into_matrix(self) -> RuleMatrix {
        tracing::info!(rules = %self.path.display(), mapped = self.matrix.len(), "rule matrix loaded");
        self.matrix
    }
}

/// The rule matrix of the selection: the rules file's, or the design
/// document's default when none is given.
pub fn rule_matrix(rules: Option<Rules>) -> RuleMatrix {
    rules.map_or_else(
        || {
            tracing::info!("no rules file: using the design document's default rule matrix");
            RuleMatrix::design_default()
        },
        Rules::into_matrix,
    )
}

/// Reads the rules file once, refusing an unreadable or malformed one.
fn load_rules(input: &str, path: &Path) -> Result<Rules, SettingsError> {
    let matrix = RuleMatrix::from_path(path).map_err(|e| SettingsError::new(input, e))?;
    Ok(Rules {
        path: path.to_path_buf(),
        matrix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const CREDS: [(&str, &str); 2] = [(env::CLIENT_ID, "id"), (env::CLIENT_SECRET, "secret")];

    #[test]
    fn flags_beat_environment_beat_file_beat_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "region = \"usw2\"\npage_size = 100\nrate_limit_per_minute = 600\nclient_id = \"file-id\"\nclient_secret = \"file-secret\"\n",
        )
        .unwrap();
        let env = env_of(&[(env::REGION, "eu-west-1"), (env::CLIENT_ID, "env-id")]);
        let layers = Layers::load(Some(&file), &env).unwrap();

        let c = layers.connection(&ConnectionArgs::default()).unwrap();
        assert_eq!(
            c.transport.endpoints.api.to_string(),
            "https://api.mypurecloud.ie"
        );
        assert_eq!(c.transport.credentials.client_id, "env-id");
        assert_eq!(c.transport.rate_limit_per_minute, 600);
        assert_eq!(c.concurrency, 8);

        let args = ConnectionArgs {
            region: Some("cac1".into()),
            ..Default::default()
        };
        let c = layers.connection(&args).unwrap();
        assert_eq!(
            c.transport.endpoints.login.to_string(),
            "https://login.cac1.pure.cloud"
        );

        let s = layers.selection(&FilterArgs::default()).unwrap();
        assert_eq!(s.page_size.get(), 100);
        let s = layers
            .selection(&FilterArgs {
                page_size: Some("7".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(s.page_size.get(), 7);

        let creds = env_of(&CREDS);
        let bare = Layers::load(None, &creds).unwrap();
        let c = bare.connection(&ConnectionArgs::default()).unwrap();
        assert_eq!(
            c.transport.endpoints.api.to_string(),
            "https://api.mypurecloud.com"
        );
        assert_eq!(c.transport.rate_limit_per_minute, 300);
        assert_eq!(
            bare.selection(&FilterArgs::default())
                .unwrap()
                .page_size
                .get(),
            500
        );
    }

    #[test]
    fn an_explicit_api_url_brings_its_login_host() {
        let env = env_of(&CREDS);
        let layers = Layers::load(None, &env).unwrap();
        let with = |api: &str| ConnectionArgs {
            api_base_url: Some(api.into()),
            ..Default::default()
        };
        let c = layers
            .connection(&with("https://api.gw.example.com"))
            .unwrap();
        assert_eq!(
            c.transport.endpoints.login.to_string(),
            "https://login.gw.example.com"
        );
        let c = layers.connection(&with("http://127.0.0.1:9")).unwrap();
        assert_eq!(
            c.transport.endpoints.login.to_string(),
            "http://127.0.0.1:9"
        );
    }

    #[test]
    fn config_type_errors_name_line_and_key_and_never_show_a_secret() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        let env = env_of(&CREDS);
        std::fs::write(&file, "region = \"usw2\"\npage_size = \"100\"\n").unwrap();
        let err = Layers::load(Some(&file), &env).err().unwrap().to_string();
        assert!(
            err.contains("line 2, key page_size") && err.contains("whole number"),
            "{err}"
        );
        std::fs::write(&file, "client_secret = 98765432\n").unwrap();
        let err = Layers::load(Some(&file), &env).err().unwrap().to_string();
        assert!(err.contains("key client_secret"), "{err}");
        assert!(!err.contains("98765432"), "{err}");
    }

    #[test]
    fn zero_durations_are_refused_by_name() {
        let env = env_of(&CREDS);
        let layers = Layers::load(None, &env).unwrap();
        let args = ConnectionArgs {
            retry_max_elapsed: Some("0s".into()),
            ..Default::default()
        };
        let err = layers.connection(&args).unwrap_err();
        assert_eq!(err.input, "--retry-max-elapsed");
        assert!(err.message.contains("--retry-max-attempts 1"), "{err}");
    }

    #[test]
    fn refusals_name_their_input() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "region = \"usw2\"\npage_sise = 100\n").unwrap();
        let env = env_of(&CREDS);
        let err = Layers::load(Some(&file), &env).err().unwrap().to_string();
        assert!(err.contains("page_sise") && err.contains("c.toml"), "{err}");

        let env = env_of(&[(env::API_BASE_URL, "http://example.com")]);
        let err = Layers::load(None, &env)
            .unwrap()
            .connection(&ConnectionArgs::default())
            .unwrap_err();
        assert_eq!(err.input, env::API_BASE_URL);
        assert!(err.message.contains("loopback"));

        let env = env_of(&[(env::CLIENT_ID, "x")]);
        let err = Layers::load(None, &env)
            .unwrap()
            .connection(&ConnectionArgs::default())
            .unwrap_err();
        assert_eq!(err.input, env::CLIENT_SECRET);
    }
}

/// The state store `--state` names by default, in the working directory.
pub const DEFAULT_STATE: &str = "genesys-compliance.db";
/// The audit directory `--audit-dir` names by default: in the working
/// directory for `extract`, in the output directory for `serve`.
pub const DEFAULT_AUDIT_DIR: &str = "audit";

/// Where the state, the audit trail and the webhook go (extract and serve).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AuditArgs {
    /// State store (SQLite): checkpoints, webhook outbox, audit chain anchor
    /// [default: genesys-compliance.db in the working directory]
    #[arg(long, value_name = "FILE")]
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
    pub state: PathBuf,
    pub audit_dir: Option<PathBuf>,
    pub webhook: Option<compliance_pipeline::run::Webhook>,
}

/// `serve`'s schedule and where it writes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ScheduleArgs {
    /// Where the first run starts when the state store holds no watermark yet:
    /// RFC 3339 in UTC with Z, such as 2023-10-01T00:00:00Z (required only then)
    #[arg(long, value_name = "TIMESTAMP")]
    pub since: Option<String>,
    /// Time between the starts of two runs, such as 30s, 5m, 1h30m [default: 5m]
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub every: Option<String>,
    /// How far before the watermark each run re-reads, for violations recorded
    /// late (the API allows 15 minutes) [default: 15m]
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub lookback: Option<String>,
    /// How far behind now a run ends. Non-zero holds the newest violations
    /// back: each run stops that far short of now, so they are output a run
    /// later, and those of the last LAG before a stop only after the next
    /// start. Late arrivals are --lookback's job, not this one's [default: 0s]
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub lag: Option<String>,
    /// Directory of the hourly output files violations-YYYYMMDDTHH.jsonl;
    /// `-` writes to standard output instead
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Address of /healthz and /metrics [default: 127.0.0.1:9464]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// How often output files rotate: `hour` (violations-YYYYMMDDTHH.jsonl)
    /// or `day` (violations-YYYYMMDD.jsonl) [default: hour]
    #[arg(long, value_name = "PERIOD")]
    pub rotate: Option<String>,
}

/// `serve`'s schedule, valid by construction.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub since: Option<compliance_api::Timestamp>,
    pub every: Duration,
    pub lookback: Duration,
    pub lag: Duration,
    /// `None`: standard output (`--out-dir -`).
    pub out_dir: Option<PathBuf>,
    pub listen: std::net::SocketAddr,
    pub rotate: compliance_pipeline::output::Rotation,
}

impl Layers<'_> {
    /// The state store, audit directory and webhook.
    pub fn audit(&self, args: &AuditArgs) -> Result<AuditSettings, SettingsError> {
        let f = &self.file;
        let state = args
            .state
            .clone()
            .or_else(|| f.state.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE));
        let audit_dir = args.audit_dir.clone().or_else(|| f.audit_dir.clone());
        let url = self.pick(
            ("--webhook-url", args.webhook_url.as_ref()),
            None,
            ("webhook_url", f.webhook_url.clone()),
        );
        let webhook = match url {
            None => None,
            Some((url, input)) => {
                let endpoint = compliance_audit::WebhookEndpoint::parse(&url)
                    .map_err(|e| SettingsError::new(input, e))?;
                let secret = match (self.env)(env::WEBHOOK_SECRET).filter(|v| !v.is_empty()) {
                    None => {
                        tracing::warn!(
                            "{} is not set: webhooks are sent unsigned",
                            env::WEBHOOK_SECRET
                        );
                        None
                    }
                    Some(text) => Some(
                        compliance_audit::WebhookSecret::parse(&text)
                            .map_err(|e| SettingsError::new(env::WEBHOOK_SECRET, e))?,
                    ),
                };
                Some(compliance_pipeline::run::Webhook {
                    endpoint,
                    secret,
                    retry: None,
                })
            }
        };
        Ok(AuditSettings {
            state,
            audit_dir,
            webhook,
        })
    }

    /// Whether `keep_pii` is set in the config file (the flag wins when given).
    pub fn keep_pii(&self, flag: bool) -> bool {
        flag || self.file.keep_pii.unwrap_or(false)
    }

    /// `serve`'s schedule.
    pub fn schedule(&self, args: &ScheduleArgs) -> Result<Schedule, SettingsError> {
        let f = &self.file;
        let duration = |flag: &str,
                        given: Option<&String>,
                        key: &str,
                        file: &Option<String>,
                        default: &str| {
            let d = self
                .parse::<HumanDuration>((flag, given), None, (key, file.clone()))?
                .unwrap_or_else(|| default.parse().expect("a default duration"));
            Ok::<_, SettingsError>(d.get())
        };
        let every = self
            .positive_duration(("--every", args.every.as_ref()), ("every", f.every.clone()))?
            .unwrap_or(Duration::from_secs(300));
        let lookback = duration(
            "--lookback",
            args.lookback.as_ref(),
            "lookback",
            &f.lookback,
            "15m",
        )?;
        // interface.md: a run covers [watermark - lookback, now).
        let lag = duration("--lag", args.lag.as_ref(), "lag", &f.lag, "0s")?;
        let since = self.parse::<compliance_api::Timestamp>(
            ("--since", args.since.as_ref()),
            None,
            ("since", f.since.clone()),
        )?;
        let out_dir = args
            .out_dir
            .clone()
            .or_else(|| f.out_dir.clone())
            .ok_or_else(|| {
                SettingsError::new(
                    "--out-dir",
                    "required: the directory for the hourly violations-YYYYMMDDTHH.jsonl files, or - for standard output",
                )
            })?;
        let out_dir = (out_dir.as_os_str() != "-").then_some(out_dir);
        let listen = self
            .pick(
                ("--listen", args.listen.as_ref()),
                None,
                ("listen", f.listen.clone()),
            )
            .map(|(v, input)| {
                v.parse::<std::net::SocketAddr>().map_err(|_| {
                    SettingsError::new(
                        input,
                        format!("`{v}` is not an IP:PORT address, such as 127.0.0.1:9464"),
                    )
                })
            })
            .transpose()?
            .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 9464)));
        let rotate = self
            .parse::<compliance_pipeline::output::Rotation>(
                ("--rotate", args.rotate.as_ref()),
                None,
                ("rotate", f.rotate.clone()),
            )?
            .unwrap_or_default();
        Ok(Schedule {
            rotate,
            since,
            every,
            lookback,
            lag,
            out_dir,
            listen,
        })
    }
}

#[cfg(test)]
mod example_config_tests {
    use super::*;

    #[test]
    fn the_documented_example_config_is_accepted() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/config.example.toml"
        ));
        let env = |_: &str| None;
        let layers = Layers::load(Some(path), &env).unwrap();
        let schedule = layers.schedule(&ScheduleArgs::default()).unwrap();
        assert_eq!(schedule.every, Duration::from_secs(300));
        assert_eq!(schedule.lookback, Duration::from_secs(900));
        assert_eq!(schedule.lag, Duration::ZERO);
        assert_eq!(schedule.listen.port(), 9464);
        assert_eq!(schedule.rotate, compliance_pipeline::output::Rotation::Hour);
        let audit = layers.audit(&AuditArgs::default()).unwrap();
        assert!(audit.webhook.is_some() && audit.audit_dir.is_some());
        assert!(!layers.keep_pii(false));
    }

    /// interface.md: a run covers `[watermark - lookback, now)`; `--listen`
    /// and `--state` default to what its synopsis shows.
    #[test]
    fn serve_defaults_are_the_interface_s() {
        let env = |_: &str| None;
        let layers = Layers::load(None, &env).unwrap();
        let args = ScheduleArgs {
            out_dir: Some("out".into()),
            ..ScheduleArgs::default()
        };
        let schedule = layers.schedule(&args).unwrap();
        assert_eq!(schedule.lag, Duration::ZERO, "runs end at now");
        assert_eq!(schedule.listen.to_string(), "127.0.0.1:9464");
        assert_eq!(schedule.out_dir, Some(PathBuf::from("out")));
        let audit = layers.audit(&AuditArgs::default()).unwrap();
        assert_eq!(audit.state, PathBuf::from("genesys-compliance.db"));
    }

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
