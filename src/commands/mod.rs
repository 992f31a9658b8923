//! One module per subcommand: its arguments and what it runs.

pub mod audit;
pub mod demo;
pub mod docs;
pub mod extract;
pub mod report;
pub mod serve;
pub mod simulate;
pub mod verify;
pub mod workers;

use crate::exit::{Exit, Failure};

/// What a command returns: its exit code, or a failure carrying one.
pub type Outcome = Result<Exit, Failure>;

/// What `extract` and `serve` both build from their settings: the source,
/// the verifier, the state store, and what to extract and audit.
pub struct Pipeline {
    pub source: Box<dyn compliance_sources::Source>,
    pub verifier: compliance_verify::Verifier,
    pub store: std::sync::Arc<dyn compliance_store::StateStore>,
    pub filters: compliance_api::Filters,
    pub page_size: compliance_api::PageSize,
    pub audit: crate::settings::AuditSettings,
}

/// A state store opened, and where it is (the file, or the URL without its
/// password), for messages.
pub type NamedStore = (std::sync::Arc<dyn compliance_store::StateStore>, String);

/// The state store that `--state` names for a command that only reads one
/// (`audit verify`, `report`): without the flag, `genesys-compliance.db` if
/// that file exists, else none.
pub fn existing_store(state: Option<&std::path::Path>) -> Result<Option<NamedStore>, Failure> {
    let default = std::path::Path::new(crate::settings::DEFAULT_STATE);
    let Some(path) = state.or(Some(default).filter(|p| p.is_file())) else {
        return Ok(None);
    };
    let location =
        compliance_store::StateLocation::parse(path).map_err(crate::exit::store_failure)?;
    let store = location
        .open_existing()
        .map_err(crate::exit::store_failure)?;
    Ok(Some((store, location.to_string())))
}

impl Pipeline {
    /// Reads every layer of settings the two commands share; a bad one exits 2.
    pub fn from_settings(
        layers: &crate::settings::Layers<'_>,
        connection: &crate::settings::ConnectionArgs,
        filters: &crate::settings::FilterArgs,
        audit: &crate::settings::AuditArgs,
        keep_pii: bool,
    ) -> Result<Pipeline, Failure> {
        Self::with_store(layers, connection, filters, audit, keep_pii, |audit| {
            audit.state.open().map_err(crate::exit::store_failure)
        })
    }

    /// As [`Pipeline::from_settings`], with the store opened by `open` once
    /// every setting is valid.
    pub fn with_store(
        layers: &crate::settings::Layers<'_>,
        connection: &crate::settings::ConnectionArgs,
        filters: &crate::settings::FilterArgs,
        audit: &crate::settings::AuditArgs,
        keep_pii: bool,
        open: impl FnOnce(
            &crate::settings::AuditSettings,
        ) -> Result<std::sync::Arc<dyn compliance_store::StateStore>, Failure>,
    ) -> Result<Pipeline, Failure> {
        let connection = layers.connection(connection).map_err(Failure::invalid)?;
        let selection = layers.selection(filters).map_err(Failure::invalid)?;
        let mut audit = layers.audit(audit).map_err(Failure::invalid)?;
        // One trust store for every host: the webhook's as the API's.
        if let Some(webhook) = audit.webhook.as_mut() {
            webhook.ca = connection.transport.ca.clone();
        }
        let store = open(&audit)?;
        let matrix = crate::settings::rule_matrix(selection.rules);
        let mut config = compliance_client::ExtractorConfig::new(connection.transport);
        config.concurrency = connection.concurrency;
        let source = open_source(selection.source, config, &matrix, &selection.filters)?;
        let verifier = compliance_verify::Verifier::new(matrix, layers.keep_pii(keep_pii));
        Ok(Pipeline {
            source,
            verifier,
            store,
            filters: selection.filters,
            page_size: selection.page_size,
            audit,
        })
    }
}

/// Opens the chosen source; settings it cannot use exit 2 (nothing sent).
pub fn open_source(
    kind: compliance_sources::SourceKind,
    config: compliance_client::ExtractorConfig,
    rules: &compliance_verify::RuleMatrix,
    filters: &compliance_api::Filters,
) -> Result<Box<dyn compliance_sources::Source>, Failure> {
    compliance_sources::open(kind, config, rules, filters).map_err(|e| match e {
        compliance_sources::OpenError::Setup(e) => Failure::invalid(anyhow::Error::new(e)),
        compliance_sources::OpenError::Client(e) => crate::exit::client_failure(e),
    })
}

/// Connects the stream sink (`--sink`) once every setting is valid: a
/// server that stays unreachable exits 4, a missing stream or refused
/// credentials 2, before anything is sent to the API.
pub fn connect_sink(
    sink: &crate::settings::SinkSettings,
) -> Result<compliance_pipeline::nats::NatsStream, Failure> {
    compliance_pipeline::nats::NatsStream::connect(&sink.target, sink.options)
        .map_err(crate::exit::stream_failure)
}
