//! The rules file: read and checked once, then the rule matrix that
//! verification applies (the design document's default without one).

use super::error::SettingsError;
use compliance_verify::RuleMatrix;
use std::path::{Path, PathBuf};

/// A rules file that was read and parsed; verification applies it.
#[derive(Debug, Clone)]
pub struct Rules {
    pub path: PathBuf,
    pub matrix: RuleMatrix,
}

impl Rules {
    /// The matrix, saying in the log which file it came from.
    pub fn into_matrix(self) -> RuleMatrix {
        tracing::info!(rules = %self.path.display(), mapped = self.matrix.len(), "rule matrix loaded");
        self.matrix
    }
}

/// The rule matrix of the selection: the rules file's, or the design
/// document's default when none is given.
pub fn rule_matrix(rules: Option<Rules>) -> RuleMatrix {
    rules.map_or_else(
        || {
            tracing::info!("no rules file: using the design document's default rule matrix");
            RuleMatrix::design_default()
        },
        Rules::into_matrix,
    )
}

/// Reads the rules file once, refusing an unreadable or malformed one.
pub(super) fn load_rules(input: &str, path: &Path) -> Result<Rules, SettingsError> {
    let matrix = RuleMatrix::from_path(path)
        .map_err(|e| SettingsError::new(input, crate::advice::message(&e)))?;
    Ok(Rules {
        path: path.to_path_buf(),
        matrix,
    })
}
