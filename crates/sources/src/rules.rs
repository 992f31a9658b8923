//! The rules a real source looks for, read from the rules file: entries with
//! `source = "<name>"`, whose ids are the Genesys ids (STA category or topic,
//! evaluation question) and whose severity the API does not carry.

use crate::{SetupError, SourceKind};
use compliance_api::{CanonicalUuid, Severity};
use compliance_verify::RuleMatrix;

/// One rule of a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRule {
    /// The category, topic or question id.
    pub id: CanonicalUuid,
    /// The severity its violations carry, when the file gives one.
    pub severity: Option<Severity>,
}

/// The rules of one source, in id order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceRules {
    rules: Vec<SourceRule>,
}

impl SourceRules {
    /// The entries of `matrix` that belong to `kind`. Refused, naming the
    /// rule: a `source` no program knows, an id that is not a UUID, and (for
    /// `speech-analytics`, whose API has no severity) a missing severity.
    pub fn from_matrix(matrix: &RuleMatrix, kind: SourceKind) -> Result<SourceRules, SetupError> {
        let mut rules = Vec::new();
        for (id, entry) in matrix.entries() {
            let Some(source) = entry.source.as_deref() else {
                continue;
            };
            let named: SourceKind = source.parse().map_err(|e| SetupError::Rule {
                rule: id.to_string(),
                source_name: source.to_string(),
                problem: format!("{e}"),
            })?;
            if named != kind {
                continue;
            }
            let problem = |problem: String| SetupError::Rule {
                rule: id.to_string(),
                source_name: source.to_string(),
                problem,
            };
            let uuid: CanonicalUuid = id.parse().map_err(|_| {
                problem(format!(
                    "the id is not a UUID; a {source} rule is named by its Genesys Cloud {} id \
                     (8-4-4-4-12 hexadecimal)",
                    match kind {
                        SourceKind::Evaluations => "question",
                        _ => "category or topic",
                    }
                ))
            })?;
            if kind == SourceKind::SpeechAnalytics && entry.severity.is_none() {
                return Err(problem(
                    "no severity; Speech & Text Analytics has none of its own, so add \
                     severity = \"LOW\"|\"MEDIUM\"|\"HIGH\"|\"CRITICAL\""
                        .into(),
                ));
            }
            rules.push(SourceRule {
                id: uuid,
                severity: entry.severity,
            });
        }
        if kind == SourceKind::SpeechAnalytics && rules.is_empty() {
            return Err(SetupError::NoRules(kind.name()));
        }
        Ok(SourceRules { rules })
    }

    /// The rules, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &SourceRule> {
        self.rules.iter()
    }

    /// The rule with this id.
    pub fn get(&self, id: &str) -> Option<&SourceRule> {
        self.rules.iter().find(|r| r.id.to_string() == id)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(text: &str) -> RuleMatrix {
        RuleMatrix::from_toml(text).unwrap()
    }

    const CATEGORY: &str = "9b1f4c1e-2d3a-4b5c-8d9e-0f1a2b3c4d5e";

    #[test]
    fn picks_the_entries_of_its_source() {
        let m = matrix(&format!(
            "[rules.\"{CATEGORY}\"]\nregulations = [\"fdcpa_807\"]\nseverity = \"HIGH\"\n\
             source = \"speech-analytics\"\n\n[rules.\"rule-uuid-001\"]\nregulations = [\"gdpr_art5\"]\n"
        ));
        let sta = SourceRules::from_matrix(&m, SourceKind::SpeechAnalytics).unwrap();
        let all: Vec<_> = sta.iter().collect();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].id.to_string(), CATEGORY);
        assert_eq!(all[0].severity, Some(Severity::High));
        assert!(SourceRules::from_matrix(&m, SourceKind::Evaluations)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn refuses_what_the_source_cannot_use_naming_the_rule() {
        for (text, says) in [
            (
                "[rules.\"not-a-uuid\"]\nregulations = []\nseverity = \"HIGH\"\nsource = \"speech-analytics\"\n"
                    .to_string(),
                "not a UUID",
            ),
            (
                format!("[rules.\"{CATEGORY}\"]\nregulations = []\nsource = \"speech-analytics\"\n"),
                "no severity",
            ),
            (
                format!("[rules.\"{CATEGORY}\"]\nregulations = []\nsource = \"speech\"\n"),
                "unknown source `speech`",
            ),
            ("".to_string(), "no rule with source = \"speech-analytics\""),
        ] {
            let e = SourceRules::from_matrix(&matrix(&text), SourceKind::SpeechAnalytics)
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{e}");
            if !text.is_empty() {
                assert!(e.contains("the rules file's rule \""), "{e}");
            }
        }
        // Evaluations derive severity from the question (fatal, critical).
        let m = matrix(&format!(
            "[rules.\"{CATEGORY}\"]\nregulations = []\nsource = \"evaluations\"\n"
        ));
        assert!(SourceRules::from_matrix(&m, SourceKind::Evaluations).is_ok());
    }
}
