//! Where and how to talk to the API: the hosts (from a region or explicit
//! base URLs), the OAuth client, and the pacing, timeouts and retries.

use super::error::SettingsError;
use super::layers::{env, Layers};
use compliance_api::Region;
use compliance_client::{
    BaseUrl, ByteSize, CaBundle, Credentials, Endpoints, RetryPolicy, TransportConfig,
};
use secrecy::SecretString;
use std::path::PathBuf;

/// Bounds of `--max-response-size`: below 64 KiB not even a token fits
/// comfortably; above 4 GiB is no bound.
const MIN_RESPONSE_SIZE: ByteSize = ByteSize::bytes(64 << 10);
const MAX_RESPONSE_SIZE: ByteSize = ByteSize::bytes(4 << 30);

/// The flags shared by every command that talks to the API.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConnectionArgs {
    /// Settings file (TOML); flags and environment variables override it.
    /// Keys: region, api_base_url, login_base_url, client_id, client_secret,
    /// rate_limit_per_minute, page_size, severity, policy_ids, agent_ids, rules,
    /// concurrency, request_timeout, ca_cert, max_response_size, retry_max_attempts, retry_base_delay,
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
    /// Time allowed for one HTTP request, its whole answer read included (a
    /// server that trickles is cut there and the request retried), such as
    /// 30s [default: 30s]
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub request_timeout: Option<String>,
    /// Also trust the CA certificate(s) in FILE (PEM) for the API, login and
    /// webhook hosts: a private CA, or a TLS-inspecting proxy's. The system's
    /// trust store stays in use. HTTPS_PROXY and NO_PROXY are honoured.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Largest answer accepted from the API (or login host); a larger one is
    /// refused while it is read (exit 4), such as 64MiB, 512KiB or 1GiB
    /// [default: 64MiB]
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    pub max_response_size: Option<String>,
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

/// Everything needed to talk to the API, valid by construction.
#[derive(Debug, Clone)]
pub struct Connection {
    pub transport: TransportConfig,
    pub concurrency: usize,
}

impl Layers<'_> {
    /// The connection settings.
    pub fn connection(&self, args: &ConnectionArgs) -> Result<Connection, SettingsError> {
        let f = &self.file;
        let mut transport = TransportConfig::new(self.endpoints(args)?, self.credentials()?);
        if let Some(n) = self.number(
            (
                "--rate-limit-per-minute",
                args.rate_limit_per_minute.as_ref(),
            ),
            ("rate_limit_per_minute", f.rate_limit_per_minute),
            1..=1_000_000,
        )? {
            transport.rate_limit_per_minute = n as u32;
        }
        // None of the durations makes sense as zero: no time for a request,
        // retries that never wait, or a retry budget that turns retries off.
        if let Some(d) = self.positive_duration(
            ("--request-timeout", args.request_timeout.as_ref()),
            ("request_timeout", f.request_timeout.clone()),
        )? {
            transport.request_timeout = d;
        }
        transport.retry = self.retry(args)?;
        transport.ca = self.ca_cert(args)?;
        if let Some(size) = self.parse::<ByteSize>(
            ("--max-response-size", args.max_response_size.as_ref()),
            None,
            ("max_response_size", f.max_response_size.clone()),
        )? {
            if !(MIN_RESPONSE_SIZE..=MAX_RESPONSE_SIZE).contains(&size) {
                let input = match &args.max_response_size {
                    Some(_) => "--max-response-size".to_string(),
                    None => self.file_key("max_response_size"),
                };
                return Err(SettingsError::new(
                    input,
                    format!(
                        "{size} is not allowed; give a size from {MIN_RESPONSE_SIZE} to \
                         {MAX_RESPONSE_SIZE}, such as 64MiB"
                    ),
                ));
            }
            transport.max_response_size = size;
        }
        let concurrency = self
            .number(
                ("--concurrency", args.concurrency.as_ref()),
                ("concurrency", f.concurrency),
                1..=256,
            )?
            .unwrap_or(8) as usize;
        Ok(Connection {
            transport,
            concurrency,
        })
    }

    /// The private CA to trust (flag, else config file), read and checked
    /// now: a file that is missing, not PEM or holds no certificate is
    /// refused by name before anything is sent.
    fn ca_cert(&self, args: &ConnectionArgs) -> Result<Option<CaBundle>, SettingsError> {
        let (input, path) = match (&args.ca_cert, &self.file.ca_cert) {
            (Some(path), _) => ("--ca-cert".to_string(), path),
            (None, Some(path)) => (self.file_key("ca_cert"), path),
            (None, None) => return Ok(None),
        };
        CaBundle::load(path)
            .map(Some)
            .map_err(|e| SettingsError::new(input, e))
    }

    /// The API and login hosts: explicit base URLs where given, else the
    /// region's (us-east-1 by default).
    fn endpoints(&self, args: &ConnectionArgs) -> Result<Endpoints, SettingsError> {
        let f = &self.file;
        let region = self.parse_with(
            ("--region", args.region.as_ref()),
            Some(env::REGION),
            ("region", f.region.clone()),
            Region::parse,
        )?;
        let api = self.parse_with(
            ("--api-base-url", args.api_base_url.as_ref()),
            Some(env::API_BASE_URL),
            ("api_base_url", f.api_base_url.clone()),
            BaseUrl::parse,
        )?;
        let login = self.parse_with(
            ("--login-base-url", args.login_base_url.as_ref()),
            Some(env::LOGIN_BASE_URL),
            ("login_base_url", f.login_base_url.clone()),
            BaseUrl::parse,
        )?;
        let regional = Endpoints::for_region(&region.unwrap_or(compliance_api::REGIONS[0]));
        Ok(match (api, login) {
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
        })
    }

    /// The OAuth client: from the environment or the config file, never a flag.
    fn credentials(&self) -> Result<Credentials, SettingsError> {
        let f = &self.file;
        let required = |var: &str, key: &str, value: &Option<String>, what: &str| {
            self.pick(("", None), Some(var), (key, value.clone()))
                .map(|(v, _)| v)
                .ok_or_else(|| {
                    SettingsError::new(
                        var,
                        format!("not set; set it (or {key} in the config file) to the OAuth client {what}"),
                    )
                })
        };
        Ok(Credentials {
            client_id: required(env::CLIENT_ID, "client_id", &f.client_id, "id")?,
            client_secret: SecretString::from(required(
                env::CLIENT_SECRET,
                "client_secret",
                &f.client_secret,
                "secret",
            )?),
        })
    }

    /// How often and how long a request is retried.
    fn retry(&self, args: &ConnectionArgs) -> Result<RetryPolicy, SettingsError> {
        let f = &self.file;
        let mut retry = RetryPolicy::default();
        if let Some(n) = self.number(
            ("--retry-max-attempts", args.retry_max_attempts.as_ref()),
            ("retry_max_attempts", f.retry_max_attempts),
            1..=100,
        )? {
            retry.max_attempts = n as u32;
        }
        if let Some(d) = self.positive_duration(
            ("--retry-base-delay", args.retry_base_delay.as_ref()),
            ("retry_base_delay", f.retry_base_delay.clone()),
        )? {
            retry.base_delay = d;
        }
        if let Some(d) = self.positive_duration(
            ("--retry-max-delay", args.retry_max_delay.as_ref()),
            ("retry_max_delay", f.retry_max_delay.clone()),
        )? {
            retry.max_delay = d;
        }
        if let Some(d) = self.positive_duration(
            ("--retry-max-elapsed", args.retry_max_elapsed.as_ref()),
            ("retry_max_elapsed", f.retry_max_elapsed.clone()),
        )? {
            retry.max_elapsed = d;
        }
        Ok(retry)
    }
}

/// The login host beside an explicit API host: `api.x` becomes `login.x`;
/// any other host (a simulator, a gateway) serves both.
fn login_beside(api: &BaseUrl) -> BaseUrl {
    let text = api.to_string();
    let swapped = text.replacen("://api.", "://login.", 1);
    BaseUrl::parse(&swapped).unwrap_or_else(|_| api.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::layers::{env_of, CREDS};

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
    fn the_ca_flag_beats_the_config_key_and_each_file_is_read_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("ca.pem");
        let ca = compliance_http::TestCa::new("Example Corp Root CA");
        std::fs::write(&good, ca.cert_pem() + &ca.cert_pem()).unwrap();
        let config = dir.path().join("c.toml");
        std::fs::write(&config, "ca_cert = \"/nonexistent/corp.pem\"\n").unwrap();
        let env = env_of(&CREDS);
        let layers = Layers::load(Some(&config), &env).unwrap();
        // The file's key alone: refused, naming the key and the file.
        let err = layers.connection(&ConnectionArgs::default()).unwrap_err();
        assert!(err.input.ends_with("key ca_cert"), "{err}");
        assert!(err.message.contains("/nonexistent/corp.pem"), "{err}");
        // The flag wins over the key, and all its certificates are kept.
        let args = ConnectionArgs {
            ca_cert: Some(good.clone()),
            ..Default::default()
        };
        let c = layers.connection(&args).unwrap();
        let bundle = c.transport.ca.expect("the flag's CA");
        assert_eq!((bundle.source(), bundle.len()), (good.as_path(), 2));
        assert_eq!(c.transport.max_response_size, ByteSize::mib(64));
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
}
