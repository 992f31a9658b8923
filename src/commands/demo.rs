//! `demo`: the whole job against the built-in simulator, with no credentials
//! and no network: extraction, verification, redaction, audit log, and a
//! signed webhook to a built-in receiver that checks the signature.

use super::Outcome;
use crate::exit::{Exit, Failure};
use crate::report;
use crate::settings::{DEFAULT_AUDIT_DIR, DEFAULT_STATE};
use compliance_api::{PageSize, Timestamp};
use compliance_audit::{verify_dir, Anchor, WebhookEndpoint, WebhookSecret};
use compliance_client::{
    BaseUrl, Credentials, Endpoints, ExtractorConfig, Query, TransportConfig, Window,
};
use compliance_pipeline::{AuditTarget, ExtractJob, OutputTarget, Webhook};
use compliance_receiver::WebhookReceiver;
use compliance_simulator::{Faults, SimConfig, Simulator};
use compliance_sources::SourceKind;
use compliance_store::{SqliteStore, StateStore};
use compliance_verify::{RuleMatrix, Verifier};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "With --source speech-analytics or evaluations the simulator serves the \
    real Genesys Cloud endpoints (docs/simulator.md) and the rules are \
    deploy/rules.<source>.example.toml.\n\n\
    Examples:\n  \
    genesys-compliance demo\n  \
    genesys-compliance demo --violations 50000 --faults --dir ./demo-run\n  \
    genesys-compliance demo --source speech-analytics --conversations 10000\n  \
    genesys-compliance demo --source evaluations --faults"
)]
pub struct Args {
    /// Where violations come from: agentassist, speech-analytics or evaluations.
    #[arg(long, default_value = "agentassist", value_parser = clap::value_parser!(SourceKind))]
    pub source: SourceKind,
    /// How many conversations the simulated organisation holds (one day), for
    /// --source speech-analytics and evaluations.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=200_000), allow_negative_numbers = true)]
    pub conversations: u64,
    /// How many violations the simulated organisation holds (over one day).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..=2_000_000), allow_negative_numbers = true)]
    pub violations: u64,
    /// Seed of the simulated data: the same seed gives the same violations.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Where the output, rejects, audit log and state go (default: a new directory under the system's temp dir).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Let the simulator misbehave (429 bursts, 5xx, resets, slow and duplicated pages) to show the retries at work.
    #[arg(long)]
    pub faults: bool,
    /// Keep PII in the output instead of redacting it (findings are reported either way).
    #[arg(long)]
    pub keep_pii: bool,
}

pub async fn run(args: Args) -> Outcome {
    let dir = match args.dir {
        Some(dir) => dir,
        None => {
            std::env::temp_dir().join(format!("genesys-compliance-demo-{}", std::process::id()))
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| {
        Failure::invalid(anyhow::anyhow!(
            "--dir {}: cannot create it: {e}",
            dir.display()
        ))
    })?;

    let start: Timestamp = "2023-10-01T00:00:00Z".parse().expect("a timestamp");
    let end: Timestamp = "2023-10-02T00:00:00Z".parse().expect("a timestamp");
    let faults = if args.faults {
        Faults {
            rate_limit_bursts: 0.03,
            server_errors: 0.05,
            resets: 0.02,
            slow: 0.02,
            slow_delay: Duration::from_millis(300),
            duplicates: 0.2,
            transcript_url_expiries: 0.02,
            ..Faults::default()
        }
    } else {
        Faults::default()
    };
    let sim_config = SimConfig {
        seed: args.seed,
        violations: args.violations as usize,
        conversations: args.conversations as usize,
        start,
        end,
        faults,
        // Demo data is large; keep the contract's paging but not its per-minute budget.
        rate_limit_per_minute: 0,
        ..SimConfig::default()
    };
    let simulator = Simulator::start(sim_config, "127.0.0.1:0".parse().expect("an address"))
        .await
        .map_err(|e| {
            Failure::new(
                Exit::Internal,
                anyhow::anyhow!("cannot start the simulator: {e}"),
            )
        })?;
    let secret = demo_secret();
    let receiver = WebhookReceiver::start(Some(secret.clone()))
        .await
        .map_err(|e| {
            Failure::new(
                Exit::Internal,
                anyhow::anyhow!("cannot start the webhook receiver: {e}"),
            )
        })?;
    let holds = match args.source {
        SourceKind::Agentassist => format!("{} violations", args.violations),
        _ => format!("{} conversations", args.conversations),
    };
    report::note(&format!(
        "demo: source {}, simulator at {} ({holds}), webhook receiver at {}, files in {}",
        args.source,
        simulator.base_url(),
        receiver.url(),
        dir.display()
    ));

    let base = BaseUrl::parse(&simulator.base_url()).map_err(Failure::invalid)?;
    let mut transport = TransportConfig::new(
        Endpoints {
            api: base.clone(),
            login: base,
        },
        Credentials {
            client_id: compliance_simulator::DEMO_CLIENT_ID.into(),
            client_secret: compliance_simulator::DEMO_CLIENT_SECRET.to_string().into(),
        },
    );
    transport.rate_limit_per_minute = 0;
    transport.retry.base_delay = Duration::from_millis(20);
    let rules = RuleMatrix::from_toml(demo_rules(args.source))
        .expect("the demo's rules file is well formed");
    let source = super::open_source(
        args.source,
        ExtractorConfig::new(transport),
        &rules,
        &Default::default(),
    )?;
    // Evaluations are submitted days after the calls, and rescored later:
    // their search covers the quarter after the simulated day.
    let query_end = match args.source {
        SourceKind::Evaluations => "2023-12-30T00:00:00Z".parse().expect("a timestamp"),
        _ => end,
    };
    let query = Query {
        window: Window::new(start, query_end).expect("start before end"),
        filters: Default::default(),
        page_size: PageSize::new(500).expect("a page size"),
    };
    let progress = report::Progress::start(source.stats());

    let store: Arc<dyn StateStore> = Arc::new(
        SqliteStore::open(dir.join(DEFAULT_STATE)).map_err(|e| Failure::new(Exit::Internal, e))?,
    );
    let audit_dir = dir.join(DEFAULT_AUDIT_DIR);
    let audit = AuditTarget {
        dir: audit_dir.clone(),
        store: store.clone(),
        webhook: Some(Webhook {
            endpoint: WebhookEndpoint::parse(&receiver.url())
                .map_err(|e| Failure::new(Exit::Internal, e))?,
            secret: Some(secret),
            retry: None,
            ca: None,
            enable_command: Some(crate::advice::enable_webhook_command),
        }),
    };
    let verifier = Verifier::new(rules, args.keep_pii);
    let output = OutputTarget::File(dir.join("violations.jsonl"));
    let job = ExtractJob {
        source: args.source,
        query,
        output: output.clone(),
        store: Some(store.clone()),
        audit: Some(audit),
    };
    let outcome = job
        .run(source.as_ref(), &verifier, std::future::pending())
        .await;
    progress.finish().await;
    let run = outcome.map_err(crate::exit::run_failure)?;

    report::print_summary(&run, &output, args.keep_pii);
    let appended = run.appended.as_ref().expect("the demo always audits");
    let chain = verify_dir(
        &audit_dir,
        Some(&Anchor {
            seq: appended.seq,
            hash: appended.hash.clone(),
        }),
    );
    // Every request the receiver got, and those whose signature checked out.
    let received = receiver.requests();
    let verified = receiver.messages().len();
    report::note(&format!(
        "audit:      record {} appended to {} (chain {}), webhook {} delivered, {} of {} received with a valid signature",
        appended.seq,
        audit_dir.join("audit.jsonl").display(),
        if chain.is_ok() { "intact" } else { "BROKEN" },
        appended.webhook_id.as_deref().unwrap_or("-"),
        verified,
        received.len(),
    ));
    simulator.shutdown().await;
    let report_file = dir.join("report.html");
    let request = compliance_report::Request {
        inputs: vec![compliance_report::source::Input::File(
            dir.join("violations.jsonl"),
        )],
        audit_dir: audit_dir.clone(),
        store: Some((&*store, dir.join(DEFAULT_STATE).display().to_string())),
        window: Default::default(),
        title: format!("Compliance report: demo of {} violations", args.violations),
        pseudonyms: None,
    };
    let written = super::report::write(&request, &report_file)?;
    super::report::note_written(&written, &report_file);
    if chain.is_err() || verified != 1 {
        return Err(Failure::new(
            Exit::Internal,
            anyhow::anyhow!(
                "the demo's audit trail did not check out: {chain:?}, {verified} verified webhooks"
            ),
        ));
    }
    Ok(Exit::Done)
}

/// The rule matrix for the simulator's organisation and a source (also the
/// documented examples).
fn demo_rules(source: SourceKind) -> &'static str {
    match source {
        SourceKind::Agentassist => include_str!("../../deploy/rules.example.toml"),
        SourceKind::SpeechAnalytics => {
            include_str!("../../deploy/rules.speech-analytics.example.toml")
        }
        SourceKind::Evaluations => include_str!("../../deploy/rules.evaluations.example.toml"),
    }
}

/// A fresh signing key for this demo run only.
fn demo_secret() -> WebhookSecret {
    use base64::Engine;
    let key: Vec<u8> = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()]
        .iter()
        .flat_map(|u| u.as_bytes().to_vec())
        .collect();
    let text = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    );
    WebhookSecret::parse(&text).expect("a well-formed secret")
}
