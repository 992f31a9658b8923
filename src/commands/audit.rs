//! `audit verify DIR`: checks an audit directory's hash chain, its head
//! against an anchor kept outside the log, and its extraction files.
//! `audit enable-webhook URL`: sends to an endpoint again after `410 Gone`.
//!
//! Exit codes of `verify` follow `cmp`/`diff`: 0 intact, 1 not intact (the
//! first bad record is named on standard error), 2 invalid input (no such
//! directory, a malformed `--expect-head`, a missing `--state` file).

use super::Outcome;
use crate::exit::{store_failure, Exit, Failure};
use crate::settings::DEFAULT_STATE;
use compliance_api::OrgName;
use compliance_audit::{
    check_trail, parse_anchor, Anchor, ChainError, TrailAnchors, WebhookEndpoint,
};
use compliance_store::StateLocation;
use std::path::PathBuf;

// `audit --help`'s examples are in cli.rs, beside the other commands'.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Check an audit directory: exit 0 if intact, 1 naming the first record
    /// that was modified, deleted, inserted, reordered or cut, 2 on bad input.
    Verify(VerifyArgs),
    /// Send webhooks to an endpoint again after it answered 410 Gone; the
    /// next run with that --webhook-url delivers what is queued for it.
    EnableWebhook(EnableWebhookArgs),
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "An endpoint that answers 410 Gone gets nothing more: its audit records stay queued \
in the state store, and each run says so. Once the receiver is back, this command enables the \
endpoint again; the next extract or serve run with the same --webhook-url and --state delivers the \
queued records first, oldest first, with their original webhook-id.

Example:
  genesys-compliance audit enable-webhook https://audit.example.com/hooks --state /var/lib/genesys-compliance/genesys-compliance.db"
)]
struct EnableWebhookArgs {
    /// The webhook URL, as given to --webhook-url.
    url: String,
    /// State store that holds the outbox: a file or a postgres:// URL
    /// [default: genesys-compliance.db].
    #[arg(long, value_name = "FILE|URL")]
    state: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Each line of DIR/audit.jsonl carries the SHA-256 of the previous one over \
canonical JSON, and each extraction_<id>.json must match its line. The newest record is checked \
against an anchor kept outside the log: the state store that wrote it (--state), or the head that \
the audit system received in the newest webhook's `chain` (--expect-head); without one, cutting \
off the newest records cannot be ruled out, and the report says so.

Examples:
  genesys-compliance audit verify /var/lib/genesys-compliance/audit --state /var/lib/genesys-compliance/genesys-compliance.db
  genesys-compliance audit verify audit --expect-head 12:3f0c...e9 (the 64-digit hash from the webhook)"
)]
struct VerifyArgs {
    /// The audit directory (the one that holds audit.jsonl).
    dir: PathBuf,
    /// State store that anchors the chain's head: a file or a postgres://
    /// URL [default: genesys-compliance.db, if it exists].
    #[arg(long, value_name = "FILE|URL")]
    state: Option<PathBuf>,
    /// Expected head, as the newest webhook's `chain` carries it: SEQ:HASH.
    #[arg(long, value_name = "SEQ:HASH", value_parser = parse_anchor)]
    expect_head: Option<Anchor>,
    /// The org whose audit directory DIR is, when `serve` runs the orgs of
    /// [[org]] tables: the state store anchors each org's chain under its
    /// name rather than under the directory's path.
    #[arg(long, value_name = "NAME")]
    org: Option<String>,
}

pub async fn run(args: Args) -> Outcome {
    match args.command {
        AuditCommand::Verify(args) => verify(args),
        AuditCommand::EnableWebhook(args) => enable_webhook(args),
    }
}

fn enable_webhook(args: EnableWebhookArgs) -> Outcome {
    let endpoint = WebhookEndpoint::parse(&args.url).map_err(Failure::invalid)?;
    let state = args.state.unwrap_or_else(|| PathBuf::from(DEFAULT_STATE));
    let state = StateLocation::parse(state).map_err(store_failure)?;
    let store = state.open_existing().map_err(store_failure)?;
    let url = endpoint.as_str();
    let store_failure = |e| Failure::new(Exit::Internal, e);
    match store.disabled_endpoint(url).map_err(store_failure)? {
        Some(disabled) => {
            store.enable_endpoint(url).map_err(store_failure)?;
            let since = chrono::DateTime::from_timestamp_millis(disabled.disabled_at_ms)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_else(|| "an unknown time".into());
            println!("webhook endpoint {url} enabled again (disabled since {since})");
        }
        None => println!("webhook endpoint {url} was not disabled; nothing changed"),
    }
    let queued = store.pending_webhooks(url).map_err(store_failure)?.len();
    match queued {
        0 => println!("no audit records are queued for it"),
        n => println!(
            "{n} queued audit record{} will be delivered by the next run with --webhook-url {url} --state {}",
            if n == 1 { "" } else { "s" },
            state
        ),
    }
    Ok(Exit::Done)
}

fn verify(args: VerifyArgs) -> Outcome {
    let org = match &args.org {
        Some(name) => Some(
            name.parse::<OrgName>()
                .map_err(|e| Failure::invalid(anyhow::anyhow!("--org: {e}")))?,
        ),
        None => None,
    };
    let store = super::existing_store(args.state.as_deref())?;
    let anchors = TrailAnchors {
        expect_head: args.expect_head.clone(),
        store: store.as_ref().map(|(s, shown)| (s.as_ref(), shown.clone())),
        key: org.as_ref().map(OrgName::unit),
    };
    let check = check_trail(&args.dir, &anchors).map_err(chain_failure)?;
    let report = &check.report;
    println!(
        "audit trail intact: {} record{} in {}",
        report.records,
        if report.records == 1 { "" } else { "s" },
        args.dir.display()
    );
    match &report.head {
        Some(head) => println!("head: seq {} hash {}", head.seq, head.hash),
        None => println!("head: none (empty log)"),
    }
    for (source, anchor) in &check.anchored {
        println!("anchor: seq {} from {source}: matches", anchor.seq);
    }
    for note in &check.notes {
        println!("note: {note}");
    }
    if !check.is_anchored() {
        println!(
            "warning: no anchor was given, so the removal of the newest records cannot be ruled \
             out; give --state FILE or --expect-head SEQ:HASH"
        );
    }
    Ok(Exit::Done)
}

/// Exit 2 for a directory or state store that cannot be read, 1 for a trail
/// that is not intact (see the module documentation).
fn chain_failure(e: ChainError) -> Failure {
    match e {
        ChainError::Unreadable { .. } | ChainError::Store(_) => Failure::invalid(e),
        ChainError::Tampered { .. } => Failure::new(Exit::Internal, e),
    }
}
