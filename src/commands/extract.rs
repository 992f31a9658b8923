//! `extract`: one extraction of one time interval.

use super::{Outcome, Pipeline};
use crate::exit::{Exit, Failure};
use crate::report::{note, print_summary, Progress};
use crate::settings::{
    AuditArgs, ConnectionArgs, FilterArgs, Layers, SinkArgs, SinkSettings, DEFAULT_AUDIT_DIR,
};
use compliance_api::Timestamp;
use compliance_client::{Query, Window};
use compliance_pipeline::{AuditTarget, ExtractJob, OutputTarget};
use std::path::PathBuf;

const LONG_HELP: &str = "\
Settings come from flags, then environment variables, then --config FILE.toml, then
defaults. Credentials come only from GENESYSCLOUD_OAUTHCLIENT_ID and
GENESYSCLOUD_OAUTHCLIENT_SECRET (or the config file), never from a flag.

Output: one JSON object per line, {\"violation\": {...}, \"verdict\": {...}}, one line per
unique violation, PII in evidence redacted unless --keep-pii, written to OUT.partial and
renamed to OUT when the extraction is complete. Records that are not usable violations go,
with the reason, to the rejects file beside the output (OUT.rejects.jsonl).

Stream output: --sink nats://HOST[:PORT]/SUBJECT (settings key sink) publishes each line to
NATS JetStream instead, with the violation's id as its Nats-Msg-Id header; a page is
checkpointed only once the stream has acknowledged all of it, and a line sent again after a
crash is dropped by the stream within its duplicate window, so consumers see each violation
once. The stream must exist (the error says how to create one), or --create-stream creates
it (24h duplicate window). Rejects then go to genesys-compliance-rejects.jsonl in the working
directory. A server that stays unreachable, or stops acknowledging, exits 4.

Progress is checkpointed in the state store after every page: if a run is killed or fails,
run the same command again and it continues where it stopped, so that the output ends with
every violation exactly once. Each extraction's audit record is appended to the
hash-chained audit.jsonl of --audit-dir (default `audit`; check it with
`genesys-compliance audit verify audit`) and, with --webhook-url, queued for delivery;
undelivered records are sent first by the next run.

Sources (--source, settings key source): agentassist (default) reads the agentassist
violations API; speech-analytics derives violations from Speech & Text Analytics categories
and topics (transcript phrases as evidence); evaluations from failed fatal (CRITICAL) and
critical (HIGH) questions of quality evaluations. The real sources take their rules, with
a severity for speech-analytics, from the rules file (deploy/rules.<source>.example.toml)
and need their own permissions (docs/sources.md); a 403 names the missing one.

Exit codes: 0 done; 1 internal error; 2 invalid input (nothing was sent);
3 credentials or permission refused; 4 server unavailable after every retry;
5 done and audited, but the webhook is still queued (a later run delivers it; after
410 Gone, once `genesys-compliance audit enable-webhook` has enabled the endpoint again).

Examples:
  # One day from eu-west-1, credentials from the environment:
  export GENESYSCLOUD_OAUTHCLIENT_ID=... GENESYSCLOUD_OAUTHCLIENT_SECRET=...
  genesys-compliance extract --region eu-west-1 \\
      --start 2023-10-01T00:00:00Z --end 2023-10-02T00:00:00Z --out violations.jsonl

  # Only HIGH and CRITICAL of one policy, to standard output:
  genesys-compliance extract --start 2023-10-01T00:00:00Z --end 2023-11-01T00:00:00Z \\
      --severity HIGH,CRITICAL --policy-id 3f1f0e2a-6c1b-4a57-9d7e-2b1a4c9e8f10 --out -

  # Against a local simulator (`genesys-compliance simulate --listen 127.0.0.1:8080`):
  GENESYSCLOUD_OAUTHCLIENT_ID=demo-client GENESYSCLOUD_OAUTHCLIENT_SECRET=demo-secret \\
  genesys-compliance extract --api-base-url http://127.0.0.1:8080 \\
      --start 2023-10-01T00:00:00Z --end 2023-10-02T00:00:00Z --out violations.jsonl

  # Violations derived from Speech & Text Analytics (rules name category ids):
  genesys-compliance extract --region eu-west-1 --source speech-analytics \\
      --rules rules.speech-analytics.toml \\
      --start 2023-10-01T00:00:00Z --end 2023-10-02T00:00:00Z --out violations.jsonl

  # To a JetStream stream, created if missing (credentials, if any, in the config file's sink):
  genesys-compliance extract --region eu-west-1 --start 2023-10-01T00:00:00Z \\
      --end 2023-10-02T00:00:00Z --sink nats://127.0.0.1:4222/compliance.violations --create-stream

  # With an audit trail and a signed webhook to the GRC system:
  export COMPLIANCE_WEBHOOK_SECRET=whsec_...
  genesys-compliance extract --region usw2 --start 2023-10-01T00:00:00Z \\
      --end 2023-10-02T00:00:00Z --out violations.jsonl --rules rules.toml \\
      --audit-dir audit --webhook-url https://grc.example.com/hooks/genesys";

#[derive(Debug, clap::Args)]
#[command(after_long_help = LONG_HELP, after_help = "See --help for examples and exit codes.")]
pub struct Args {
    /// Start of the interval (included): RFC 3339 in UTC with Z, such as 2023-10-01T00:00:00Z
    #[arg(long, value_name = "TIMESTAMP")]
    pub start: Timestamp,
    /// End of the interval (excluded), after --start. Longer than 31 days or more than the
    /// API pages through is fine: the program splits it.
    #[arg(long, value_name = "TIMESTAMP")]
    pub end: Timestamp,
    /// Output file (JSONL); `-` writes to standard output. Required unless
    /// --sink (or the config file's sink) names a stream
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub sink: SinkArgs,
    /// Leave PII in evidence values as received (findings are still reported)
    #[arg(long)]
    pub keep_pii: bool,
    #[command(flatten)]
    pub filters: FilterArgs,
    #[command(flatten)]
    pub audit: AuditArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

pub async fn run(args: Args) -> Outcome {
    let env = |name: &str| std::env::var(name).ok();
    let layers = Layers::load(args.connection.config.as_deref(), &env).map_err(Failure::invalid)?;
    let keep_pii = layers.keep_pii(args.keep_pii);
    let sink = output_choice(&args, &layers)?;
    let pipeline = Pipeline::from_settings(
        &layers,
        &args.connection,
        &args.filters,
        &args.audit,
        args.keep_pii,
    )?;
    let window = Window::new(args.start, args.end).ok_or_else(|| {
        Failure::invalid(anyhow::anyhow!(
            "--end: {} is not after --start {}; give an end later than the start",
            args.end,
            args.start
        ))
    })?;
    let output = match &sink {
        Choice::Out(out) => OutputTarget::parse(&out.to_string_lossy()),
        Choice::Sink(sink) => OutputTarget::Stream(super::connect_sink(sink)?),
    };
    if let Some(parent) = output.partial_path().as_deref().and_then(|p| p.parent()) {
        if !parent.as_os_str().is_empty() && !parent.is_dir() {
            return Err(Failure::invalid(anyhow::anyhow!(
                "--out: the directory {} does not exist; create it or give another path (or `-` for standard output)",
                parent.display()
            )));
        }
    }
    let job = ExtractJob {
        source: pipeline.source.kind(),
        query: Query {
            window,
            filters: pipeline.filters,
            page_size: pipeline.page_size,
        },
        output: output.clone(),
        store: Some(pipeline.store.clone()),
        // Every extraction gets its audit record (interface.md), by default
        // beside the state store's default, in the working directory.
        audit: Some(AuditTarget {
            dir: pipeline
                .audit
                .audit_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_AUDIT_DIR)),
            store: pipeline.store,
            webhook: pipeline.audit.webhook,
        }),
    };
    let source = pipeline.source;
    let progress = Progress::start(source.stats());
    let outcome = job
        .run(source.as_ref(), &pipeline.verifier, std::future::pending())
        .await;
    progress.finish().await;
    let report = match outcome {
        Ok(report) => report,
        Err(e) => {
            crate::report::print_transport(&source.stats().snapshot());
            if let Some(partial) = output.partial_path().filter(|p| p.exists()) {
                note(&format!(
                    "note: what was extracted so far is kept in {} and checkpointed; \
                     run the same command again to continue",
                    partial.display()
                ));
            }
            if let OutputTarget::Stream(stream) = &output {
                note(&format!(
                    "note: what the stream {} acknowledged is checkpointed; run the same \
                     command again to continue (lines sent twice are dropped by the stream)",
                    stream.stream_name()
                ));
            }
            return Err(crate::exit::run_failure(e));
        }
    };
    print_summary(&report, &output, keep_pii);
    if report.resumed {
        note("resumed:    continued an interrupted run of the same extraction");
    }
    if let Some(appended) = &report.appended {
        note(&format!(
            "audit:      record {} (extraction {}), chain head {}",
            appended.seq, report.extraction_id, appended.hash
        ));
    }
    match &report.delivery {
        Some(d) if !d.is_complete() => {
            let next = match &d.disabled {
                // Retrying cannot help: someone has to enable the endpoint
                // again (the reason names the command).
                Some(x) => format!(
                    ": the endpoint {}; the run after that delivers them first",
                    x.reason
                ),
                None => "; a later run delivers them first".into(),
            };
            note(&format!(
                "webhook:    {} delivered, {} still queued{next}",
                d.delivered.len(),
                d.still_queued
            ));
            Ok(Exit::Undelivered)
        }
        Some(d) => {
            note(&format!("webhook:    {} delivered", d.delivered.len()));
            Ok(Exit::Done)
        }
        None => Ok(Exit::Done),
    }
}

/// Where `extract` writes: `--out`, or the stream `--sink` names.
enum Choice {
    Out(PathBuf),
    Sink(SinkSettings),
}

/// `--out` or `--sink` (flags over the config file's `sink`); both flags,
/// or neither with no `sink` in the config file, exit 2.
fn output_choice(args: &Args, layers: &Layers<'_>) -> Result<Choice, Failure> {
    let sink = layers.sink(&args.sink).map_err(Failure::invalid)?;
    match (&args.out, sink) {
        (Some(_), Some(sink)) if sink.from_flag => Err(Failure::invalid(anyhow::anyhow!(
            "--out and --sink both say where the output goes; give one of them"
        ))),
        (Some(out), _) => Ok(Choice::Out(out.clone())),
        (None, Some(sink)) => Ok(Choice::Sink(sink)),
        (None, None) => Err(Failure::invalid(anyhow::anyhow!(
            "--out: required: an output file (JSONL), `-` for standard output, or --sink \
             nats://HOST[:PORT]/SUBJECT for a JetStream stream"
        ))),
    }
}
