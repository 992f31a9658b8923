//! The HTML compliance report: one self-contained page (inline CSS, inline
//! SVG charts, no script, nothing fetched from anywhere) that an auditor can
//! open offline, print to PDF and attach to an audit.
//!
//! Data flows one way: [`source`] reads output records, [`Aggregator`] counts
//! them in bounded memory, [`read_trail`] checks the audit directory with the
//! same code as `audit verify` ([`compliance_audit::check_trail`]), and
//! [`render`] turns the facts into HTML without touching a file.
//!
//! Nothing from the input reaches the page without going through the
//! redaction again ([`Redacted`]): output written with `--keep-pii` shows no
//! PII either.
//!
//! ```no_run
//! # fn main() -> Result<(), compliance_report::ReportError> {
//! use compliance_report::{build, source, Request, Window};
//! let request = Request {
//!     inputs: source::resolve("violations.jsonl")?,
//!     audit_dir: "audit".into(),
//!     store: None,
//!     window: Window::default(),
//!     title: "October".into(),
//!     pseudonyms: None,
//! };
//! let report = build(&request)?;
//! std::fs::write("report.html", &report.html).unwrap();
//! # Ok(()) }
//! ```

mod aggregate;
mod render;
mod safe;
pub mod source;
mod svg;
mod trail;
mod window;

pub use aggregate::{Aggregates, Aggregator, Counts, Latest, Ranking, RuleRow, MAX_KEYS, TOP};
pub use render::{num, render, Page};
pub use safe::{KeySource, Pseudonyms, Redacted, MIN_KEY_BYTES};
pub use trail::{read_trail, RecordFields, Row, Sums, Trail, Verdict, Webhook, MAX_ROWS};
pub use window::Window;

use compliance_api::Timestamp;
use compliance_store::StateStore;
use std::path::PathBuf;

/// Why a report could not be made. Every message names the input and says
/// what is allowed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("--in `{spec}`: {why}")]
    Inputs { spec: String, why: String },
    #[error(
        "cannot read {input}: {why}; give output records as extract, verify or serve wrote them"
    )]
    Unreadable { input: String, why: String },
    #[error("{input} line {line} is not an output record ({why}); give JSONL as extract, verify or serve wrote it")]
    Record {
        input: String,
        line: usize,
        why: String,
    },
    #[error("{name}: {why}")]
    Window { name: String, why: String },
    /// The audit directory could not be read; the caller names its input.
    #[error(transparent)]
    Audit(compliance_audit::ChainError),
    #[error(transparent)]
    Store(compliance_store::StoreError),
}

/// What to report on.
pub struct Request<'a> {
    pub inputs: Vec<source::Input>,
    pub audit_dir: PathBuf,
    /// The state store that anchors the trail and holds the webhook outbox,
    /// with its name for the page.
    pub store: Option<(&'a dyn StateStore, String)>,
    pub window: Window,
    pub title: String,
    pub pseudonyms: Option<Pseudonyms>,
}

/// A finished report: the page, and the facts it shows.
#[derive(Debug, Clone)]
pub struct Report {
    pub html: String,
    pub aggregates: Aggregates,
    pub trail: Trail,
}

/// Reads the inputs and the audit trail and renders the page.
pub fn build(request: &Request<'_>) -> Result<Report, ReportError> {
    // The trail first: a wrong --audit-dir is refused before a long read.
    let trail = read_trail(&request.audit_dir, request.store.clone(), &request.window)?;
    let mut aggregator = Aggregator::default();
    source::read_records(&request.inputs, |record| {
        if request.window.contains(record.violation.detected_at) {
            aggregator.add(&record);
        }
    })?;
    let aggregates = aggregator.finish(request.pseudonyms.as_ref());
    let page = Page {
        title: &request.title,
        generated_at: Timestamp::now(),
        window: request.window,
        inputs: request.inputs.iter().map(ToString::to_string).collect(),
        pseudonyms: request.pseudonyms.as_ref().map(Pseudonyms::describe),
        aggregates: &aggregates,
        trail: &trail,
    };
    let html = render(&page);
    Ok(Report {
        html,
        aggregates,
        trail,
    })
}
