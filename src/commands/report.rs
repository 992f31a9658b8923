//! `report`: the HTML compliance report of output records and their audit
//! trail, one self-contained file to open offline.

use super::Outcome;
use crate::exit::{Exit, Failure};
use crate::settings::DEFAULT_AUDIT_DIR;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use compliance_api::OrgName;
use compliance_report::{build, source, Pseudonyms, Report, ReportError, Request, Verdict, Window};
use compliance_store::StateStore;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where `--pseudonymize-agents` takes its key from.
pub const PSEUDONYM_KEY_ENV: &str = "COMPLIANCE_PSEUDONYM_KEY";

const LONG_HELP: &str = "\
The report is one HTML file with its CSS and SVG charts inline and no script: it loads nothing
from anywhere, so it opens on an air-gapped laptop and prints to PDF from the browser. It shows
violations over time by severity, by rule with the regulations, the top agents and queues, false
positives with their reasons, PII findings by type, the accuracy rate per extraction, and the
audit trail: the same check as `audit verify` (chain, extraction files, head against the state
store's anchor), every extraction record with its payload hash, and each webhook's delivery.

No PII appears in it: every text taken from violations is redacted again, even when the output
was written with --keep-pii. --pseudonymize-agents replaces agent ids by HMAC-SHA256 pseudonyms
keyed with COMPLIANCE_PSEUDONYM_KEY (16 bytes or more; the same key gives the same pseudonyms in
every report), or with a random key for this report only when it is not set.

Exit codes: 0 report written (a broken audit trail is shown in it and said on standard error);
1 internal error; 2 invalid input (an unreadable --in, a line that is not an output record, a bad
--from/--to, an unreadable --audit-dir or --state).

Examples:
  genesys-compliance report --in violations.jsonl --audit-dir audit --out report.html
  genesys-compliance report --in /var/lib/genesys-compliance/out --audit-dir /var/lib/genesys-compliance/out/audit \\
      --state /var/lib/genesys-compliance/genesys-compliance.db --from 2023-10-01T00:00:00Z \\
      --to 2023-11-01T00:00:00Z --title 'October 2023' --out october.html";

#[derive(Debug, clap::Args)]
#[command(after_long_help = LONG_HELP, after_help = "See --help for what the report shows, exit codes and examples.")]
pub struct Args {
    /// Output records: FILE[,FILE...], a directory of *.jsonl (serve's --out-dir), or `-` for standard input
    #[arg(long = "in", value_name = "FILE|DIR|-")]
    pub input: String,
    /// The audit directory that holds audit.jsonl
    #[arg(long, value_name = "DIR", default_value = DEFAULT_AUDIT_DIR)]
    pub audit_dir: PathBuf,
    /// State store that anchors the trail and holds the webhook outbox: a file or a postgres:// URL [default: genesys-compliance.db, if it exists]
    #[arg(long, value_name = "FILE|URL")]
    pub state: Option<PathBuf>,
    /// The HTML file to write; `-` writes to standard output
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Only violations detected at or after this instant (RFC 3339, UTC)
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Only violations detected before this instant (RFC 3339, UTC)
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// The report's title
    #[arg(long, value_name = "TEXT", default_value = "Compliance report")]
    pub title: String,
    /// Replace agent ids by stable keyed pseudonyms (see --help)
    #[arg(long)]
    pub pseudonymize_agents: bool,
}

pub async fn run(args: Args) -> Outcome {
    // File reading and CPU work: off the async workers.
    tokio::task::spawn_blocking(move || report(&args))
        .await
        .map_err(|e| Failure::new(Exit::Internal, e))?
}

fn report(args: &Args) -> Outcome {
    let window = Window::parse(args.from.as_deref(), args.to.as_deref(), ("--from", "--to"))
        .map_err(report_failure)?;
    let pseudonyms = if args.pseudonymize_agents {
        Some(pseudonyms(std::env::var_os(PSEUDONYM_KEY_ENV))?)
    } else {
        None
    };
    let inputs = source::resolve(&args.input).map_err(report_failure)?;
    let store = super::existing_store(args.state.as_deref())?;
    let request = Request {
        inputs,
        audit_dir: args.audit_dir.clone(),
        store: store.as_ref().map(|(s, shown)| (s.as_ref(), shown.clone())),
        window,
        title: args.title.clone(),
        pseudonyms,
    };
    let report = write(&request, &args.out)?;
    note_written(&report, &args.out);
    Ok(Exit::Done)
}

/// The pseudonyms `--pseudonymize-agents` asks for: keyed with
/// COMPLIANCE_PSEUDONYM_KEY when it is set, else with a random key.
fn pseudonyms(key: Option<std::ffi::OsString>) -> Result<Pseudonyms, Failure> {
    match key {
        None => Ok(Pseudonyms::random()),
        Some(key) => Pseudonyms::keyed(key.as_encoded_bytes(), PSEUDONYM_KEY_ENV)
            .map_err(|e| Failure::invalid(anyhow::anyhow!(e))),
    }
}

/// Builds the report of `request` and writes it to `out` (`-`: standard
/// output) whole or not at all.
pub fn write(request: &Request<'_>, out: &Path) -> Result<Report, Failure> {
    let report = build(request).map_err(report_failure)?;
    if out == Path::new("-") {
        use std::io::Write;
        std::io::stdout()
            .lock()
            .write_all(report.html.as_bytes())
            .map_err(|e| Failure::new(Exit::Internal, e))?;
        return Ok(report);
    }
    let partial = PathBuf::from(format!("{}.partial", out.display()));
    std::fs::write(&partial, &report.html)
        .and_then(|()| std::fs::rename(&partial, out))
        .map_err(|e| {
            Failure::invalid(anyhow::anyhow!(
                "--out {}: cannot write it: {e}; give a file in a directory you can write",
                out.display()
            ))
        })?;
    Ok(report)
}

/// Says where the report went and what the trail check found.
pub fn note_written(report: &Report, out: &Path) {
    let t = &report.aggregates.tally;
    crate::report::note(&format!(
        "report:     {} ({} violations, {} bytes), audit trail {}",
        out.display(),
        t.violations,
        report.html.len(),
        match &report.trail.verdict {
            Verdict::Intact { .. } => "intact".to_string(),
            Verdict::Broken(tampering) => format!("BROKEN: {tampering}"),
        }
    ));
}

fn report_failure(e: ReportError) -> Failure {
    match e {
        ReportError::Store(_) => Failure::new(Exit::Internal, e),
        // The library says what happened; the flag that named the directory is ours.
        ReportError::Audit(e) => Failure::invalid(anyhow::Error::new(e).context("--audit-dir")),
        _ => Failure::invalid(e),
    }
}

/// What `serve` reports on at `GET /report`: its output directory, its
/// audit directory and its state store.
#[derive(Clone)]
pub struct Served {
    pub out_dir: Option<PathBuf>,
    pub audit_dir: PathBuf,
    pub store: std::sync::Arc<dyn StateStore>,
    pub state_name: String,
    /// The report's heading.
    pub title: String,
}

type Params = axum::extract::Query<HashMap<String, String>>;

/// `GET /report` and `GET /report?from=T&to=T`: the report of `served`, made
/// on each request; a bad `from` or `to` is a 400 naming the parameter.
pub fn router(served: Served) -> axum::Router {
    axum::Router::new()
        .route("/report", axum::routing::get(serve_report))
        .with_state(served)
}

/// The same for each org of a worker, at `GET /report/ORG`; `/report` says
/// which orgs there are.
pub fn org_router(orgs: Vec<(OrgName, Served)>) -> axum::Router {
    let names = orgs
        .iter()
        .map(|(name, _)| name.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let orgs: Arc<HashMap<String, Served>> = Arc::new(
        orgs.into_iter()
            .map(|(name, served)| (name.to_string(), served))
            .collect(),
    );
    let which = move || {
        let names = names.clone();
        async move {
            text(
                StatusCode::NOT_FOUND,
                format!("this worker serves several orgs: GET /report/ORG, ORG one of: {names}"),
            )
        }
    };
    let one = async |State(orgs): State<Arc<HashMap<String, Served>>>,
                     axum::extract::Path(org): axum::extract::Path<String>,
                     query: Params| {
        match orgs.get(&org) {
            Some(served) => report_of(served.clone(), query).await,
            None => {
                let mut names: Vec<&str> = orgs.keys().map(String::as_str).collect();
                names.sort_unstable();
                text(
                    StatusCode::NOT_FOUND,
                    format!("no org {org:?} here; one of: {}", names.join(", ")),
                )
            }
        }
    };
    axum::Router::new()
        .route("/report", get(which))
        .route("/report/{org}", get(one))
        .with_state(orgs)
}

async fn serve_report(State(served): State<Served>, query: Params) -> Response {
    report_of(served, query).await
}

/// A plain-text answer.
fn text(status: StatusCode, message: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message + "\n",
    )
        .into_response()
}

async fn report_of(served: Served, axum::extract::Query(query): Params) -> Response {
    let window = match Window::parse(
        query.get("from").map(String::as_str),
        query.get("to").map(String::as_str),
        ("from", "to"),
    ) {
        Ok(window) => window,
        Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let Some(out_dir) = served.out_dir.clone() else {
        return text(
            StatusCode::NOT_FOUND,
            "this service writes to standard output (--out-dir -): there are no files to report on"
                .into(),
        );
    };
    let built = tokio::task::spawn_blocking(move || {
        // No file yet (before the first run) is an empty report, not an error.
        let inputs = source::resolve(&out_dir.display().to_string())?;
        build(&Request {
            inputs,
            audit_dir: served.audit_dir.clone(),
            store: Some((&*served.store, served.state_name.clone())),
            window,
            title: served.title.clone(),
            pseudonyms: None,
        })
    })
    .await;
    match built {
        Ok(Ok(report)) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            report.html,
        )
            .into_response(),
        Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
