//! The rule matrix: which regulations each rule maps to, read from a TOML
//! file (interface.md, "The rules file"). A rule of a real Genesys Cloud
//! source (an STA category or topic, an evaluation question) may also say
//! which source it belongs to and the severity its violations carry, since
//! those APIs have no severity of their own.

use compliance_api::Severity;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The tag that lets a rule's `LOW` violations count as validated.
pub const LOW_TOLERANCE: &str = "low_tolerance";

/// Regulations (and, for the real sources, severity and source) per rule id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleMatrix {
    rules: HashMap<String, Rule>,
}

/// One rule entry of the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    /// Regulations and tags, such as `gdpr_art5` or `low_tolerance`.
    pub regulations: Vec<String>,
    /// The severity a source without severities gives its violations.
    pub severity: Option<Severity>,
    /// The source whose rule this is (`speech-analytics`, `evaluations`, ...);
    /// `None` for the agentassist API's own rules.
    pub source: Option<String>,
}

/// Why a rules file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot read the rules file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the rules file {path} is not a valid rule matrix: {message}\n\
         allowed: only tables [rules.\"<rule id>\"], each with regulations = [\"<regulation>\", ...] \
         (strings; the tag \"low_tolerance\" lets LOW violations pass) and optionally \
         severity = \"LOW\"|\"MEDIUM\"|\"HIGH\"|\"CRITICAL\" and source = \"<source name>\""
    )]
    Invalid { path: PathBuf, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    rules: HashMap<String, RuleEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    regulations: Vec<String>,
    #[serde(default)]
    severity: Option<Severity>,
    #[serde(default)]
    source: Option<String>,
}

/// What is wrong with a TOML text. toml has no words for some errors (a
/// lone carriage return): then where it is, and what usually causes it.
fn toml_error(e: &toml::de::Error) -> String {
    match e.message().trim() {
        "" => {
            let full = e.to_string();
            let at = full.lines().next().unwrap_or("TOML parse error");
            format!("{at}: a character TOML does not allow there (such as a carriage return without a line feed)")
        }
        message => message.to_owned(),
    }
}

impl RuleMatrix {
    /// Reads a rules file. Unknown keys are refused (a typo such as
    /// `regulation =` would otherwise silently turn every violation of the
    /// rule into a false positive).
    pub fn from_path(path: &Path) -> Result<RuleMatrix, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Read {
            path: path.to_owned(),
            source,
        })?;
        RuleMatrix::from_toml(&text).map_err(|message| RulesError::Invalid {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses the TOML text of a rules file; the error says what is wrong.
    pub fn from_toml(text: &str) -> Result<RuleMatrix, String> {
        let file: File = toml::from_str(text).map_err(|e| toml_error(&e))?;
        let mut rules = HashMap::with_capacity(file.rules.len());
        for (id, entry) in file.rules {
            if let Some(bad) = entry.regulations.iter().find(|r| r.trim().is_empty()) {
                return Err(format!(
                    "rule {id:?} lists an empty regulation name {bad:?}"
                ));
            }
            if entry.source.as_deref().is_some_and(|s| s.trim().is_empty()) {
                return Err(format!("rule {id:?} names an empty source"));
            }
            rules.insert(
                id,
                Rule {
                    regulations: entry.regulations,
                    severity: entry.severity,
                    source: entry.source,
                },
            );
        }
        Ok(RuleMatrix { rules })
    }

    /// The rules used when no rules file is given: the design document's
    /// defaults (`rule-uuid-001` maps to GDPR article 5 and HIPAA 164,
    /// `rule-uuid-002` to PCI DSS requirement 6).
    pub fn design_default() -> RuleMatrix {
        let rules = [
            ("rule-uuid-001", vec!["gdpr_art5", "hipaa_164"]),
            ("rule-uuid-002", vec!["pci_dss_req6"]),
        ];
        RuleMatrix {
            rules: rules
                .into_iter()
                .map(|(id, regs)| {
                    let rule = Rule {
                        regulations: regs.into_iter().map(str::to_owned).collect(),
                        ..Rule::default()
                    };
                    (id.to_owned(), rule)
                })
                .collect(),
        }
    }

    /// The regulations (and tags) listed for a rule; empty when it has none.
    pub fn regulations(&self, rule_id: &str) -> &[String] {
        self.rules
            .get(rule_id)
            .map_or(&[], |r| r.regulations.as_slice())
    }

    /// Each rule id with its regulations, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.rules
            .iter()
            .map(|(id, r)| (id.as_str(), r.regulations.as_slice()))
    }

    /// Each rule id with its entry, ordered by id (so that what is built
    /// from it, and the errors about it, come out the same every run).
    pub fn entries(&self) -> Vec<(&str, &Rule)> {
        let mut all: Vec<_> = self.rules.iter().map(|(id, r)| (id.as_str(), r)).collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all
    }

    /// How many rules the matrix maps.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether the matrix maps no rule at all.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    /// Found by fuzzing: toml gives no message for a lone carriage return.
    #[test]
    fn every_refusal_says_where_and_why() {
        let message = RuleMatrix::from_toml("\r").unwrap_err();
        assert!(
            message.contains("line 1, column 1") && message.contains("carriage return"),
            "{message}"
        );
    }

    #[test]
    fn reads_the_interface_example() {
        let f = file(
            "[rules.\"rule-uuid-001\"]\nregulations = [\"gdpr_art5\", \"hipaa_164\"]\n\n\
             [rules.\"rule-uuid-002\"]\nregulations = [\"pci_dss_req6\", \"low_tolerance\"]\n",
        );
        let m = RuleMatrix::from_path(f.path()).unwrap();
        assert_eq!(m.regulations("rule-uuid-001"), ["gdpr_art5", "hipaa_164"]);
        assert_eq!(
            m.regulations("rule-uuid-002"),
            ["pci_dss_req6", "low_tolerance"]
        );
        assert!(m.regulations("other").is_empty());
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn a_rule_may_carry_its_source_and_severity() {
        let m = RuleMatrix::from_toml(
            "[rules.\"9b1f4c1e-2d3a-4b5c-8d9e-0f1a2b3c4d5e\"]\nregulations = [\"fdcpa_807\"]\n\
             severity = \"HIGH\"\nsource = \"speech-analytics\"\n\n\
             [rules.\"plain\"]\nregulations = [\"gdpr_art5\"]\n",
        )
        .unwrap();
        let entries = m.entries();
        assert_eq!(entries[1].0, "plain");
        assert_eq!(entries[1].1.severity, None);
        let (id, rule) = entries[0];
        assert_eq!(id, "9b1f4c1e-2d3a-4b5c-8d9e-0f1a2b3c4d5e");
        assert_eq!(rule.severity, Some(Severity::High));
        assert_eq!(rule.source.as_deref(), Some("speech-analytics"));
        assert_eq!(m.regulations(id), ["fdcpa_807"]);
        for bad in [
            "[rules.\"r\"]\nregulations = []\nseverity = \"SEVERE\"\n",
            "[rules.\"r\"]\nregulations = []\nsource = \" \"\n",
        ] {
            assert!(RuleMatrix::from_toml(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_empty_file_maps_nothing() {
        let f = file("");
        assert!(RuleMatrix::from_path(f.path()).unwrap().is_empty());
    }

    #[test]
    fn refuses_unknown_keys_naming_the_file_and_what_is_allowed() {
        for bad in [
            "[rules.\"r\"]\nregulation = [\"gdpr_art5\"]\n",
            "[rulez.\"r\"]\nregulations = []\n",
            "[rules.\"r\"]\nregulations = \"gdpr_art5\"\n",
            "[rules.\"r\"]\nregulations = [\"\"]\n",
            "[rules.\"r\"]\nregulations = []\nseverity = \"SEVERE\"\n",
            "[rules.\"r\"\nregulations = [\n",
        ] {
            let f = file(bad);
            let e = RuleMatrix::from_path(f.path()).unwrap_err().to_string();
            assert!(e.contains(&f.path().display().to_string()), "{e}");
            assert!(e.contains("allowed: only tables [rules."), "{e}");
        }
    }

    #[test]
    fn refuses_an_unreadable_file() {
        let e = RuleMatrix::from_path(Path::new("/nonexistent/rules.toml")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/rules.toml"), "{e}");
        assert!(e.to_string().contains("cannot read"), "{e}");
    }

    #[test]
    fn design_default() {
        let m = RuleMatrix::design_default();
        assert_eq!(m.regulations("rule-uuid-001"), ["gdpr_art5", "hipaa_164"]);
        assert_eq!(m.regulations("rule-uuid-002"), ["pci_dss_req6"]);
    }
}
