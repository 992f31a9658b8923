//! `genesys-compliance simulate`: the simulated compliance API on one address.

use super::serve::Signals;
use super::Outcome;
use crate::exit::{Exit, Failure};
use anyhow::Context;
use compliance_api::{HumanDuration, Timestamp};
use compliance_simulator::{Faults, ServerTls, SimClient, SimConfig, Simulator};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "The first line on standard output is `listening on http://IP:PORT` \
    (`https://localhost:PORT` with --tls-cert); the \
    token endpoint (/oauth/token) and the API (/api/v2/...) both live there: the agentassist query \
    and the real Genesys Cloud endpoints of the speech-analytics and evaluations sources (transcript \
    aggregates and jobs, topics, categories, conversation details, transcript URLs, quality \
    evaluations and forms, limits; docs/simulator.md lists them with their permissions). Stop it \
    with SIGINT or SIGTERM (exit 0). Requests are logged at debug level (--log debug).\n\n\
    A violation is served only once the clock has reached its detectedAt (plus its delay, for \
    the --late-arrivals share), so a --start/--end window around now is a live organisation \
    whose violations keep arriving, some of them late, as `serve` meets them.\n\n\
    Examples:\n  \
    genesys-compliance simulate --listen 127.0.0.1:0\n  \
    genesys-compliance simulate --seed 7 --violations 200000 \\\n      \
        --start 2023-10-01T00:00:00Z --end 2023-10-08T00:00:00Z\n  \
    genesys-compliance simulate --fault-5xx 0.05 --fault-429 0.02 --fault-reset 0.01 \\\n      \
        --fault-duplicates 0.1 --latency 40ms --rate-limit 120\n  \
    genesys-compliance simulate --start \"$(date -u +%FT%TZ)\" --end \"$(date -u -d +1hour +%FT%TZ)\" \\\n      \
        --violations 72000 --late-arrivals 0.3 --late-max 20s\n  \
    genesys-compliance simulate --token-lifetime 5m --extra-client etl:pw --no-permission-client reader:s3cret\n  \
    genesys-compliance simulate --conversations 10000 --job-polls 4 --fault-job-failed 0.1 \\\n      \
        --fault-transcript-url-expired 0.05 --client-lacking norec:pw:recording:recording:view\n  \
    genesys-compliance simulate --violations 1000000 --dump-jsonl raw.jsonl\n  \
    genesys-compliance simulate --tls-cert server.pem --tls-key server.key   \
    (then give extract --ca-cert with the CA that signed it)"
)]
pub struct Args {
    // Boxed: these many flags would otherwise bloat every `Command` value.
    #[command(flatten)]
    flags: Box<Flags>,
}

#[derive(Debug, clap::Args)]
struct Flags {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "IP:PORT")]
    listen: SocketAddr,
    /// Serve HTTPS with this certificate chain (PEM: the server's
    /// certificate, issued for `localhost`, then any intermediates); needs
    /// --tls-key. To try a private CA, or a TLS-inspecting gateway's.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Seed of the dataset: the same seed gives the same data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// How many violations the dataset holds.
    #[arg(
        long,
        default_value_t = 5_000,
        value_name = "N",
        allow_negative_numbers = true
    )]
    violations: usize,
    /// Start of the window the violations are detected in (RFC 3339, UTC, Z).
    #[arg(long, default_value = "2023-10-01T00:00:00Z", value_name = "TIMESTAMP")]
    start: Timestamp,
    /// End (exclusive) of that window.
    #[arg(long, default_value = "2023-10-02T00:00:00Z", value_name = "TIMESTAMP")]
    end: Timestamp,
    /// OAuth client id accepted, with the permission.
    #[arg(long, default_value = compliance_simulator::DEMO_CLIENT_ID, value_name = "ID")]
    client_id: String,
    /// Its secret.
    #[arg(long, default_value = compliance_simulator::DEMO_CLIENT_SECRET, value_name = "SECRET")]
    client_secret: String,
    /// A further client with the permission; repeatable.
    #[arg(long, value_name = "ID:SECRET", value_parser = parse_permitted_client)]
    extra_client: Vec<SimClient>,
    /// A further client that gets tokens but holds no permission (403 everywhere); repeatable.
    #[arg(long, value_name = "ID:SECRET", value_parser = parse_client)]
    no_permission_client: Vec<SimClient>,
    /// A further client holding every permission but those listed (403 naming them); repeatable.
    #[arg(long, value_name = "ID:SECRET:PERMISSION[,PERMISSION...]", value_parser = parse_lacking_client)]
    client_lacking: Vec<SimClient>,
    /// How many conversations the real Genesys Cloud endpoints (speech analytics, evaluations) serve.
    #[arg(long, default_value_t = 1_000, value_name = "N")]
    conversations: usize,
    /// Status polls an aggregate job answers QUEUED, then PENDING, before it is done.
    #[arg(long, default_value_t = 2, value_name = "N")]
    job_polls: u32,
    /// How long a pre-signed transcript URL works, such as 10m.
    #[arg(
        long,
        default_value = "10m",
        value_name = "DURATION",
        allow_hyphen_values = true
    )]
    transcript_url_lifetime: HumanDuration,
    /// Probability that an aggregate job ends FAILED.
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = parse_probability, allow_negative_numbers = true)]
    fault_job_failed: f64,
    /// Probability that an aggregate job turns EXPIRED after its first page of results.
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = parse_probability, allow_negative_numbers = true)]
    fault_job_expired: f64,
    /// Probability that a transcript URL is issued already expired (the store answers 403).
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = parse_probability, allow_negative_numbers = true)]
    fault_transcript_url_expired: f64,
    /// Lifetime of issued tokens (`expires_in`), such as 300s, 5m or 24h.
    #[arg(long, default_value = "86399s", value_name = "DURATION", value_parser = parse_lifetime, allow_hyphen_values = true)]
    token_lifetime: HumanDuration,
    /// Requests per client per rolling minute, token endpoint and API together; 0 = unlimited.
    #[arg(
        long,
        default_value_t = 300,
        value_name = "N",
        allow_negative_numbers = true
    )]
    rate_limit: u32,
    /// Added to every query response, such as 40ms.
    #[arg(
        long,
        default_value = "0s",
        value_name = "DURATION",
        allow_hyphen_values = true
    )]
    latency: HumanDuration,
    /// Probability that a request gets 429 (Retry-After: 1) regardless of the limit.
    #[arg(long = "fault-429", default_value_t = 0.0, value_name = "P", value_parser = parse_probability, allow_negative_numbers = true)]
    fault_429: f64,
    /// Probability of a 500/502/503/504 with an HTML or empty body.
    #[arg(long = "fault-5xx", default_value_t = 0.0, value_name = "P", value_parser = parse_probability, allow_negative_numbers = true)]
    fault_5xx: f64,
    /// Probability that the connection is reset with no response.
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = parse_probability, allow_negative_numbers = true)]
    fault_reset: f64,
    /// Probability that a response is delayed by --slow-delay.
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = parse_probability, allow_negative_numbers = true)]
    fault_slow: f64,
    /// Delay of a slow response.
    #[arg(
        long,
        default_value = "5s",
        value_name = "DURATION",
        allow_hyphen_values = true
    )]
    slow_delay: HumanDuration,
    /// Probability that a violations page is padded with 256 MiB of
    /// whitespace, sent without a Content-Length (a client must refuse it).
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = parse_probability, allow_negative_numbers = true)]
    fault_oversized: f64,
    /// Probability that a violations page is sent one byte every 500 ms (a
    /// client's request timeout must cut it).
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = parse_probability, allow_negative_numbers = true)]
    fault_trickle: f64,
    /// Probability that a page begins with the last violation of the previous page.
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = parse_probability, allow_negative_numbers = true)]
    fault_duplicates: f64,
    /// Probability that a page holds fewer violations than the size (maybe none) while more follow.
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = parse_probability, allow_negative_numbers = true)]
    fault_short_pages: f64,
    /// Fraction of violations served without one of id, ruleId, severity, detectedAt (records a client must reject).
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = parse_probability, allow_negative_numbers = true)]
    fault_malformed: f64,
    /// Fraction of violations that become visible only after their detectedAt.
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = parse_probability, allow_negative_numbers = true)]
    late_arrivals: f64,
    /// Late violations become visible up to this long after detectedAt.
    #[arg(
        long,
        default_value = "15m",
        value_name = "DURATION",
        allow_hyphen_values = true
    )]
    late_max: HumanDuration,
    /// Answer like an older server: no `total`, no `nextPageCursor` on the last page.
    #[arg(long)]
    legacy_pages: bool,
    /// Write the dataset as one Violation JSON per line to FILE (`-` for standard output) and exit.
    #[arg(long, value_name = "FILE")]
    dump_jsonl: Option<PathBuf>,
}

fn parse_probability(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "`{s}` is not a probability; allowed: a number from 0 to 1, such as 0.05"
        )),
    }
}

fn parse_client(s: &str) -> Result<SimClient, String> {
    match s.split_once(':') {
        Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
            Ok(SimClient::without_permission(id, secret))
        }
        _ => Err("expected ID:SECRET, such as reader:s3cret".to_string()),
    }
}

fn parse_lacking_client(s: &str) -> Result<SimClient, String> {
    let usage = "expected ID:SECRET:PERMISSION[,PERMISSION...], such as reader:s3cret:recording:recording:view";
    let (id, rest) = s.split_once(':').ok_or(usage)?;
    let (secret, permissions) = rest.split_once(':').ok_or(usage)?;
    // A permission has three colon-separated parts: domain:entity:action.
    let permissions: Vec<&str> = permissions.split(',').map(str::trim).collect();
    if id.is_empty() || secret.is_empty() || permissions.iter().any(|p| p.split(':').count() != 3) {
        return Err(usage.to_string());
    }
    Ok(SimClient::lacking(id, secret, permissions))
}

fn parse_permitted_client(s: &str) -> Result<SimClient, String> {
    parse_client(s).map(|c| SimClient {
        permitted: true,
        ..c
    })
}

fn parse_lifetime(s: &str) -> Result<HumanDuration, String> {
    let d: HumanDuration = s.parse().map_err(|e: compliance_api::ValueError| e.0)?;
    if d.get().as_secs() == 0 {
        return Err(format!("`{s}` is too short; a token lives at least 1s"));
    }
    Ok(d)
}

impl Flags {
    fn config(&self) -> Result<SimConfig, Failure> {
        if self.end <= self.start {
            return Err(Failure::invalid(anyhow::anyhow!(
                "--end {} is not after --start {}; the dataset's window needs end > start",
                self.end,
                self.start
            )));
        }
        let mut clients = vec![SimClient::new(&self.client_id, &self.client_secret)];
        clients.extend(self.extra_client.iter().cloned());
        clients.extend(self.no_permission_client.iter().cloned());
        clients.extend(self.client_lacking.iter().cloned());
        Ok(SimConfig {
            seed: self.seed,
            violations: self.violations,
            start: self.start,
            end: self.end,
            clients,
            token_lifetime: self.token_lifetime.get(),
            rate_limit_per_minute: self.rate_limit,
            latency: self.latency.get(),
            faults: Faults {
                rate_limit_bursts: self.fault_429,
                server_errors: self.fault_5xx,
                resets: self.fault_reset,
                slow: self.fault_slow,
                slow_delay: self.slow_delay.get(),
                duplicates: self.fault_duplicates,
                short_pages: self.fault_short_pages,
                late_arrivals: self.late_arrivals,
                late_max: self.late_max.get(),
                malformed: self.fault_malformed,
                job_failures: self.fault_job_failed,
                job_expiries: self.fault_job_expired,
                transcript_url_expiries: self.fault_transcript_url_expired,
                oversized: self.fault_oversized,
                trickle: self.fault_trickle,
                ..Faults::default()
            },
            legacy_pages: self.legacy_pages,
            max_results_per_query: compliance_api::MAX_RESULTS_PER_QUERY,
            conversations: self.conversations,
            job_polls: self.job_polls,
            transcript_url_lifetime: self.transcript_url_lifetime.get(),
        })
    }
}

pub async fn run(args: Args) -> Outcome {
    let args = args.flags;
    let config = args.config()?;
    if let Some(path) = &args.dump_jsonl {
        if args.fault_malformed > 0.0 {
            return Err(Failure::invalid(anyhow::anyhow!(
                "--fault-malformed breaks served pages only, not --dump-jsonl; leave one of them out"
            )));
        }
        return dump(&config, path);
    }
    let tls = server_tls(&args)?;
    let sim = Simulator::start_with_tls(config, args.listen, tls)
        .await
        .with_context(|| format!("cannot listen on --listen {}", args.listen))
        .map_err(Failure::invalid)?;
    // Registered before the listening line: a caller that signals as soon as
    // it reads the line must get a clean stop (exit 0), not a kill.
    let mut signals = Signals::new()
        .context("cannot listen for stop signals")
        .map_err(internal)?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", sim.base_url())
            .and_then(|()| out.flush())
            .context("cannot write to standard output")
            .map_err(internal)?;
    }
    tracing::info!(
        "simulating the compliance API at {} (client {}); stop with Ctrl-C or SIGTERM",
        sim.base_url(),
        args.client_id
    );
    signals.next().await;
    let stats = sim.stats();
    sim.shutdown().await;
    tracing::info!(
        token_requests = stats.token_requests,
        query_requests = stats.query_requests,
        rate_limited = stats.rate_limited,
        "simulator stopped"
    );
    Ok(Exit::Done)
}

/// The certificate and key of --tls-cert and --tls-key, read and checked
/// before anything listens: a file that cannot be read or used is exit 2
/// naming it and its flag.
fn server_tls(args: &Flags) -> Result<Option<ServerTls>, Failure> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Ok(None);
    };
    let read = |path: &PathBuf, flag: &str| {
        std::fs::read(path).map_err(|e| {
            Failure::invalid(anyhow::anyhow!(
                "cannot read {flag} `{}`: {e}; give a PEM file",
                path.display()
            ))
        })
    };
    let (chain, pem_key) = (read(cert, "--tls-cert")?, read(key, "--tls-key")?);
    ServerTls::from_pem(&chain, &pem_key)
        .map(Some)
        .map_err(|e| {
            Failure::invalid(anyhow::anyhow!(
                "--tls-cert `{}` and --tls-key `{}`: {e}; give the server's certificate chain and \
             its private key, both PEM",
                cert.display(),
                key.display()
            ))
        })
}

fn internal(e: anyhow::Error) -> Failure {
    Failure::new(Exit::Internal, e)
}

fn dump(config: &SimConfig, path: &std::path::Path) -> Outcome {
    // Streamed: a million violations never sit in memory at once.
    let violations = compliance_simulator::Generator::new(
        config.seed,
        config.violations,
        config.start,
        config.end,
        (config.faults.late_arrivals, config.faults.late_max),
    );
    let write = |out: &mut dyn Write| -> std::io::Result<()> {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
        for v in violations {
            serde_json::to_writer(&mut out, &v)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    };
    if path.as_os_str() == "-" {
        write(&mut std::io::stdout().lock())
            .context("cannot write to standard output")
            .map_err(internal)?;
    } else {
        let mut file = std::fs::File::create(path)
            .with_context(|| format!("cannot create --dump-jsonl {}", path.display()))
            .map_err(Failure::invalid)?;
        write(&mut file)
            .with_context(|| format!("cannot write {}", path.display()))
            .map_err(internal)?;
    }
    tracing::info!(violations = config.violations, path = %path.display(), "dataset written");
    Ok(Exit::Done)
}
