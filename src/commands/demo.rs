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
    BaseUrl, Credentials, Endpoints, ExtractorConfig, Query, TransportConfig, ViolationExtractor,
    Window,
};
use compliance_pipeline::{AuditTarget, ExtractJob, OutputTarget, Webhook};
use compliance_receiver::WebhookReceiver;
use compliance_simulator::{Faults, SimConfig, Simulator};
use compliance_store::{SqliteStore, StateStore};
use compliance_verify::{RuleMatrix, Verifier};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    genesys-compliance demo\n  \
    genesys-compliance demo --violations 50000 --faults --dir ./demo-run")]
pub struct Args {
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
            ..Faults::default()
        }
    } else {
        Faults::default()
    };
    let sim_config = SimConfig {
        seed: args.seed,
        violations: args.violations as usize,
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
    report::note(&format!(
        "demo: simulator at {} ({} violations), webhook receiver at {}, files in {}",
        simulator.base_url(),
        args.violations,
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
    let extractor = ViolationExtractor::new(ExtractorConfig::new(transport))
        .map_err(crate::exit::client_failure)?;
    let query = Query {
        window: Window::new(start, end).expect("start before end"),
        filters: Default::default(),
        page_size: PageSize::new(500).expect("a page size"),
    };
    let progress = report::Progress::start(extractor.stats());

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
            enable_command: Some(crate::advice::enable_webhook_command),
        }),
    };
    let rules = RuleMatrix::from_toml(DEMO_RULES).expect("the demo's rules file is well formed");
    let verifier = Verifier::new(rules, args.keep_pii);
    let output = OutputTarget::File(dir.join("violations.jsonl"));
    let job = ExtractJob {
        query,
        output: output.clone(),
        store: Some(store.clone()),
        audit: Some(audit),
    };
    let outcome = job.run(&extractor, &verifier, std::future::pending()).await;
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

/// The rule matrix for the simulator's organisation (also a documented example).
const DEMO_RULES: &str = include_str!("../../deploy/rules.example.toml");

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
