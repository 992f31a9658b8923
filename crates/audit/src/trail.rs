//! The whole check of an audit directory, as `audit verify` runs it and the
//! HTML report shows it: the chain, its head against every anchor given (the
//! head a webhook carried, the state store's anchor), and what could not be
//! ruled out.

use crate::chain::{verify_dir, verify_dir_against, AfterAnchor, ChainError, ChainReport};
use crate::log::anchor_key;
use compliance_store::{Anchor, StateStore};
use std::path::Path;

/// The anchors to check an audit directory against; with none, only the
/// chain itself is checked.
#[derive(Default)]
pub struct TrailAnchors<'a> {
    /// The head the newest webhook received carried (`--expect-head`); it may
    /// lag behind the log, so later records are allowed (and noted).
    pub expect_head: Option<Anchor>,
    /// The state store that wrote the log, with its name for messages.
    pub store: Option<(&'a dyn StateStore, String)>,
    /// The key the store anchors the chain under, when it is not the
    /// directory's path (an org's chain: `org:<name>`).
    pub key: Option<String>,
}

/// What [`check_trail`] established about an intact trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailCheck {
    /// The chain's report (records, head); from the strongest anchor checked.
    pub report: ChainReport,
    /// Each anchor the head matched, with where it came from.
    pub anchored: Vec<(String, Anchor)>,
    /// What a reader should know (records past a lagging anchor, an append in
    /// flight, a store without an anchor for this directory).
    pub notes: Vec<String>,
}

impl TrailCheck {
    /// Whether some anchor ruled out the removal of the newest records.
    pub fn is_anchored(&self) -> bool {
        !self.anchored.is_empty()
    }
}

/// Checks the audit directory `dir` against `anchors`: `Ok` when intact,
/// [`ChainError::Tampered`] naming the first bad record otherwise.
pub fn check_trail(dir: &Path, anchors: &TrailAnchors<'_>) -> Result<TrailCheck, ChainError> {
    let mut anchored: Vec<(String, Anchor)> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut report = None;
    if let Some(anchor) = &anchors.expect_head {
        let r = verify_dir_against(dir, anchor, &AfterAnchor::Any)?;
        if let Some(head) = r.head.as_ref().filter(|h| h.seq > anchor.seq) {
            notes.push(format!(
                "records seq {} to {} come after the head given by --expect-head; \
                 only the state store anchors them",
                anchor.seq + 1,
                head.seq
            ));
        }
        anchored.push(("--expect-head".into(), anchor.clone()));
        report = Some(r);
    }
    if let Some((store, name)) = &anchors.store {
        match verify_against_store(*store, dir, anchors.key.as_deref())? {
            Some((anchor, r)) => {
                if let Some(seq) = r.in_flight {
                    notes.push(format!(
                        "record seq {seq} is the append in flight that the state store recorded \
                         (an extraction interrupted or still running); the next extraction completes it"
                    ));
                }
                anchored.push((format!("state store {name}"), anchor));
                report = Some(r);
            }
            None => notes.push(format!(
                "the state store {name} holds no anchor for this directory"
            )),
        }
    }
    let report = match report {
        Some(report) => report,
        // Without any anchor, check the chain alone.
        None => verify_dir(dir, None)?,
    };
    Ok(TrailCheck {
        report,
        anchored,
        notes,
    })
}

/// Verifies `dir` against the head the store anchored, allowing only the
/// append in flight after it; `None` when the store has no anchor for it.
fn verify_against_store(
    store: &dyn StateStore,
    dir: &Path,
    key: Option<&str>,
) -> Result<Option<(Anchor, ChainReport)>, ChainError> {
    // A directory that does not resolve has no anchor; verify_dir names it.
    let key = match key {
        Some(key) => key.to_owned(),
        None => match anchor_key(dir) {
            Ok(key) => key,
            Err(_) => return Ok(None),
        },
    };
    let read = |store: &dyn StateStore| -> Result<_, ChainError> {
        let anchor = store.anchor(&key)?;
        let pending = store.pending_append(&key)?;
        Ok((anchor, pending.map(|p| p.anchor)))
    };
    let mut seen = read(store)?;
    let mut tries = 0;
    loop {
        let (Some(anchor), pending) = &seen else {
            return Ok(None);
        };
        let after = pending
            .clone()
            .map_or(AfterAnchor::Nothing, AfterAnchor::InFlight);
        let result = verify_dir_against(dir, anchor, &after);
        tries += 1;
        // A writer running meanwhile moves the anchor between our reads of
        // the store and of the log: then verify again against its newer view.
        if result.is_err() && tries < 3 {
            let now = read(store)?;
            if now != seen {
                seen = now;
                continue;
            }
        }
        return result.map(|r| Some((anchor.clone(), r)));
    }
}
