//! `audit verify DIR`: checks an audit directory's hash chain, its head
//! against an anchor kept outside the log, and its extraction files.
//!
//! Exit codes follow `cmp`/`diff`: 0 intact, 1 not intact (the first bad
//! record is named on standard error), 2 invalid input (no such directory, a
//! malformed `--expect-head`, a missing `--state` file).

use super::Outcome;
use crate::exit::{Exit, Failure};
use compliance_audit::{anchor_key, parse_anchor, verify_dir, Anchor, ChainError};
use compliance_store::{SqliteStore, StateStore};
use std::path::{Path, PathBuf};

/// The state store `--state` names by default, in the working directory.
const DEFAULT_STATE: &str = "genesys-compliance.db";

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
    /// State store that anchors the chain's head [default: genesys-compliance.db, if it exists].
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Expected head, as the newest webhook's `chain` carries it: SEQ:HASH.
    #[arg(long, value_name = "SEQ:HASH", value_parser = parse_anchor)]
    expect_head: Option<Anchor>,
}

pub async fn run(args: Args) -> Outcome {
    match args.command {
        AuditCommand::Verify(args) => verify(args),
    }
}

fn verify(args: VerifyArgs) -> Outcome {
    let mut anchors: Vec<(String, Anchor)> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    if let Some(anchor) = args.expect_head.clone() {
        anchors.push(("--expect-head".into(), anchor));
    }
    let state = match &args.state {
        Some(path) => Some(path.clone()),
        None => Some(PathBuf::from(DEFAULT_STATE)).filter(|p| p.is_file()),
    };
    if let Some(path) = &state {
        match stored_anchor(path, &args.dir)? {
            Some(anchor) => anchors.push((format!("state store {}", path.display()), anchor)),
            None => notes.push(format!(
                "the state store {} holds no anchor for this directory",
                path.display()
            )),
        }
    }

    let mut report = None;
    for anchor in anchors.iter().map(|(_, a)| Some(a)).chain(
        // Without any anchor, check the chain alone.
        anchors.is_empty().then_some(None),
    ) {
        report = Some(verify_dir(&args.dir, anchor).map_err(|e| match e {
            ChainError::Unreadable { .. } => Failure::invalid(e),
            // 1: not intact (see the module documentation).
            ChainError::Tampered { .. } => Failure::new(Exit::Internal, e),
        })?);
    }
    let report = report.expect("verified at least once");

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
    for (source, anchor) in &anchors {
        println!("anchor: seq {} from {source}: matches", anchor.seq);
    }
    for note in notes {
        println!("note: {note}");
    }
    if anchors.is_empty() {
        println!(
            "warning: no anchor was given, so the removal of the newest records cannot be ruled \
             out; give --state FILE or --expect-head SEQ:HASH"
        );
    }
    Ok(Exit::Done)
}

/// The anchor that the state store at `path` holds for `dir`.
fn stored_anchor(path: &Path, dir: &Path) -> Result<Option<Anchor>, Failure> {
    let store = SqliteStore::open_existing(path).map_err(Failure::invalid)?;
    // A directory that does not resolve has no anchor; verify_dir names it.
    let Ok(key) = anchor_key(dir) else {
        return Ok(None);
    };
    store.anchor(&key).map_err(Failure::invalid)
}
