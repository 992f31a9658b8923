//! Where violations come from. A [`Source`] turns an interval into batches of
//! [`compliance_api::Violation`]s with checkpointable progress ([`Plan`] and
//! [`Resume`]), every request paced and retried by the one transport of
//! `compliance-client`:
//!
//! - `agentassist`: the agentassist violations API ([`ViolationExtractor`]), unchanged;
//! - `speech-analytics`: violations derived from Genesys Cloud Speech & Text
//!   Analytics categories and topics, with transcript phrases as evidence
//!   ([`SpeechAnalytics`]);
//! - `evaluations`: failed fatal and critical questions of quality evaluations
//!   ([`Evaluations`]).
//!
//! The real APIs have no violation ids and no severities: ids are derived
//! ([`ids`]), severities come from the rules file ([`SourceRules`]).

#![deny(missing_docs)]

pub mod evaluations;
pub mod ids;
mod jobs;
mod limits;
mod rules;
pub mod speech;
mod walk;

pub use evaluations::Evaluations;
pub use rules::{SourceRule, SourceRules};
pub use speech::SpeechAnalytics;

use compliance_api::Filters;
use compliance_client::{
    ApiClient, Batches, Error, ExtractorConfig, Pacer, Plan, Query, Resume, Stats,
    ViolationExtractor,
};
use compliance_verify::RuleMatrix;
use futures::future::BoxFuture;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// The seam: anything that turns an interval into batches of violations.
///
/// `plan` fixes the windows once (keep the plan to resume); `fetch` streams the
/// plan's batches from `resume` on, in a deterministic order, where each
/// batch's `next_cursor` (with its window) resumes right after it.
pub trait Source: Send + Sync {
    /// Which source this is.
    fn kind(&self) -> SourceKind;
    /// Splits the query's interval into the windows this source fetches.
    fn plan<'a>(&'a self, query: &'a Query) -> BoxFuture<'a, Result<Plan, Error>>;
    /// Fetches the plan's windows from `resume` on.
    fn fetch(&self, plan: Plan, resume: Resume) -> Batches;
    /// Live counters of every request this source made.
    fn stats(&self) -> Arc<Stats>;
    /// The pacer of every request this source makes: the org's rate budget
    /// as this process spends it (handed between workers with the lease).
    fn pacer(&self) -> Arc<Pacer>;
}

impl Source for ViolationExtractor {
    fn kind(&self) -> SourceKind {
        SourceKind::Agentassist
    }
    fn plan<'a>(&'a self, query: &'a Query) -> BoxFuture<'a, Result<Plan, Error>> {
        Box::pin(ViolationExtractor::plan(self, query))
    }
    fn fetch(&self, plan: Plan, resume: Resume) -> Batches {
        ViolationExtractor::fetch(self, plan, resume)
    }
    fn stats(&self) -> Arc<Stats> {
        ViolationExtractor::stats(self)
    }
    fn pacer(&self) -> Arc<Pacer> {
        ViolationExtractor::pacer(self)
    }
}

/// Opens the source `kind` with the transport of `config`, the rules file's
/// entries for it and the query's filters. Sends nothing; a setting the
/// source cannot use is a [`SetupError`] (exit 2).
pub fn open(
    kind: SourceKind,
    config: ExtractorConfig,
    rules: &RuleMatrix,
    filters: &Filters,
) -> Result<Box<dyn Source>, OpenError> {
    let rate = config.transport.rate_limit_per_minute;
    Ok(match kind {
        SourceKind::Agentassist => Box::new(ViolationExtractor::new(config)?),
        SourceKind::SpeechAnalytics => {
            let rules = SourceRules::from_matrix(rules, kind)?;
            let client = ApiClient::new(config.transport)?;
            let tuning = speech::SpeechConfig {
                rate_limit_per_minute: rate,
                ..Default::default()
            };
            Box::new(SpeechAnalytics::new(client, &rules, filters, tuning)?)
        }
        SourceKind::Evaluations => {
            let rules = SourceRules::from_matrix(rules, kind)?;
            let client = ApiClient::new(config.transport)?;
            let tuning = evaluations::EvaluationsConfig {
                rate_limit_per_minute: rate,
                ..Default::default()
            };
            Box::new(Evaluations::new(client, &rules, filters, tuning)?)
        }
    })
}

/// Why a source could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The settings or rules do not suit the source (exit 2).
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] Error),
}

/// The sources there are, by the name `--source` and the rules file use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SourceKind {
    /// The agentassist violations API (the contract of compliance-api.md).
    #[default]
    Agentassist,
    /// Speech & Text Analytics categories and topics.
    SpeechAnalytics,
    /// Quality evaluations with failed fatal or critical questions.
    Evaluations,
}

impl SourceKind {
    /// Every source, in the order `--help` lists them.
    pub const ALL: [SourceKind; 3] = [
        SourceKind::Agentassist,
        SourceKind::SpeechAnalytics,
        SourceKind::Evaluations,
    ];

    /// The name on the command line, in settings and in the rules file.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Agentassist => "agentassist",
            SourceKind::SpeechAnalytics => "speech-analytics",
            SourceKind::Evaluations => "evaluations",
        }
    }

    /// The Genesys Cloud permissions the source's OAuth client needs (spec §6).
    pub fn permissions(self) -> &'static [&'static str] {
        match self {
            SourceKind::Agentassist => &[compliance_api::REQUIRED_PERMISSION],
            SourceKind::SpeechAnalytics => speech::PERMISSIONS,
            SourceKind::Evaluations => evaluations::PERMISSIONS,
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown source name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown source `{0}`; allowed: agentassist, speech-analytics, evaluations")]
pub struct UnknownSource(pub String);

impl FromStr for SourceKind {
    type Err = UnknownSource;
    fn from_str(s: &str) -> Result<Self, UnknownSource> {
        SourceKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| UnknownSource(s.to_string()))
    }
}

/// Why a source cannot run with these settings: found before anything is
/// sent (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// A rules-file entry this source cannot use.
    #[error("the rules file's rule {rule:?} (source {source_name}): {problem}")]
    Rule {
        /// The rule id as written.
        rule: String,
        /// The source it names.
        source_name: String,
        /// What is wrong and what is allowed.
        problem: String,
    },
    /// The rules file gives the source nothing to look for.
    #[error(
        "the rules file has no rule with source = \"{0}\"; add the category or topic ids to \
         look for, each as [rules.\"<uuid>\"] with regulations, severity and source = \"{0}\""
    )]
    NoRules(&'static str),
    /// A filter this source cannot apply.
    #[error("{setting} cannot be used with --source {source_name}: {why}")]
    Unsupported {
        /// The setting, such as `--policy-id`.
        setting: &'static str,
        /// The source.
        source_name: &'static str,
        /// Why not.
        why: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_names_parse_and_unknown_ones_say_what_is_allowed() {
        for k in SourceKind::ALL {
            assert_eq!(k.name().parse::<SourceKind>().unwrap(), k);
        }
        assert_eq!(SourceKind::default(), SourceKind::Agentassist);
        let e = "speech".parse::<SourceKind>().unwrap_err().to_string();
        assert!(
            e.contains("`speech`") && e.contains("speech-analytics"),
            "{e}"
        );
    }

    #[test]
    fn each_source_names_its_real_permissions() {
        assert_eq!(
            SourceKind::Agentassist.permissions(),
            ["agentassist:compliance:read"]
        );
        let sta = SourceKind::SpeechAnalytics.permissions();
        for p in [
            "analytics:speechAndTextAnalyticsAggregates:view",
            "analytics:conversationDetail:view",
            "speechAndTextAnalytics:category:view",
            "speechAndTextAnalytics:topic:view",
            "speechAndTextAnalytics:data:view",
            "recording:recording:view",
        ] {
            assert!(sta.contains(&p), "{p}");
        }
        let qm = SourceKind::Evaluations.permissions();
        for p in [
            "quality:evaluation:searchAny",
            "quality:evaluation:view",
            "quality:evaluationForm:view",
        ] {
            assert!(qm.contains(&p), "{p}");
        }
    }
}
