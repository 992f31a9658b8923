//! What to extract besides the interval: severity, policy and agent filters,
//! the page size, and the rules file that judges what comes back.

use super::error::SettingsError;
use super::layers::Layers;
use super::rules::{load_rules, Rules};
use compliance_api::{CanonicalUuid, Filters, PageSize, Severity};
use compliance_sources::SourceKind;
use std::path::PathBuf;
use std::str::FromStr;

/// The flags that choose what to extract (shared with `serve`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FilterArgs {
    /// Where violations come from: agentassist (the violations API), speech-analytics
    /// (Speech & Text Analytics categories and topics) or evaluations (failed fatal and
    /// critical quality-evaluation questions) [default: agentassist]
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,
    /// Only these severities, comma-separated: LOW, MEDIUM, HIGH, CRITICAL
    #[arg(long, value_name = "LIST")]
    pub severity: Option<String>,
    /// Only this policy (a UUID); repeat for more, at most 100
    #[arg(long = "policy-id", value_name = "UUID")]
    pub policy_ids: Vec<String>,
    /// Only this agent (a UUID); repeat for more, at most 100
    #[arg(long = "agent-id", value_name = "UUID")]
    pub agent_ids: Vec<String>,
    /// Violations per page, 1 to 1000 [default: 500]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub page_size: Option<String>,
    /// Rules file (TOML) mapping rule ids to regulations; read and checked now
    #[arg(long, value_name = "FILE.toml")]
    pub rules: Option<PathBuf>,
}

/// What to extract, besides the interval.
#[derive(Debug, Clone)]
pub struct Selection {
    pub source: SourceKind,
    pub filters: Filters,
    pub page_size: PageSize,
    /// The rules file, read and parsed.
    pub rules: Option<Rules>,
}

impl Layers<'_> {
    /// The filters, page size and rules file.
    pub fn selection(&self, args: &FilterArgs) -> Result<Selection, SettingsError> {
        let f = &self.file;
        let severity = match (&args.severity, &f.severity) {
            (Some(list), _) => Some(parse_list::<Severity>("--severity", list.split(','))?),
            (None, Some(list)) => Some(parse_list::<Severity>(
                &self.file_key("severity"),
                list.iter().map(String::as_str),
            )?),
            (None, None) => None,
        };
        let ids = |flag: &str, given: &[String], key: &str, file: &Option<Vec<String>>| {
            let (input, values): (String, Vec<&str>) = if !given.is_empty() {
                (flag.to_string(), given.iter().map(String::as_str).collect())
            } else if let Some(list) = file {
                (
                    self.file_key(key),
                    list.iter().map(String::as_str).collect(),
                )
            } else {
                return Ok(None);
            };
            if values.len() > compliance_api::MAX_IDS_PER_FILTER {
                return Err(SettingsError::new(
                    input,
                    format!(
                        "{} ids given; allowed: at most {}",
                        values.len(),
                        compliance_api::MAX_IDS_PER_FILTER
                    ),
                ));
            }
            parse_list::<CanonicalUuid>(&input, values.into_iter()).map(Some)
        };
        let filters = Filters {
            severity,
            policy_ids: ids("--policy-id", &args.policy_ids, "policy_ids", &f.policy_ids)?,
            agent_ids: ids("--agent-id", &args.agent_ids, "agent_ids", &f.agent_ids)?,
        };
        let page_size = self
            .parse::<PageSize>(
                ("--page-size", args.page_size.as_ref()),
                None,
                ("page_size", f.page_size.map(|n| n.to_string())),
            )?
            .unwrap_or_default();
        let rules = match (&args.rules, &f.rules) {
            (Some(p), _) => Some(load_rules("--rules", p)?),
            (None, Some(p)) => Some(load_rules(&self.file_key("rules"), p)?),
            (None, None) => None,
        };
        let source = self
            .parse::<SourceKind>(
                ("--source", args.source.as_ref()),
                None,
                ("source", f.source.clone()),
            )?
            .unwrap_or_default();
        Ok(Selection {
            source,
            filters,
            page_size,
            rules,
        })
    }
}

/// Parses every item of a non-empty list (duplicates removed, order kept).
fn parse_list<'s, T: FromStr + PartialEq>(
    input: &str,
    items: impl Iterator<Item = &'s str>,
) -> Result<Vec<T>, SettingsError>
where
    T::Err: ToString,
{
    let mut out = Vec::new();
    for item in items {
        let v: T = item
            .trim()
            .parse()
            .map_err(|e| SettingsError::new(input, e))?;
        if !out.contains(&v) {
            out.push(v);
        }
    }
    if out.is_empty() {
        return Err(SettingsError::new(
            input,
            "the list is empty; give at least one value",
        ));
    }
    Ok(out)
}
