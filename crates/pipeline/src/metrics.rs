//! The service's metrics, through the `metrics` facade, rendered in
//! Prometheus text format by `serve`. Names are part of the interface.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const PAGE_LATENCY: &str = compliance_client::PAGE_LATENCY_METRIC;
pub const EXTRACTION_DURATION: &str = "genesys_compliance_extraction_duration_seconds";
pub const VIOLATIONS: &str = "genesys_compliance_violations_total";
pub const PII_FINDINGS: &str = "genesys_compliance_pii_findings_total";
pub const RETRIES: &str = "genesys_compliance_retries_total";
pub const RATE_LIMITED: &str = "genesys_compliance_rate_limited_total";
pub const TOKEN_RENEWALS: &str = "genesys_compliance_token_renewals_total";
pub const ACCURACY_RATE: &str = "genesys_compliance_accuracy_rate";
pub const OUTBOX_DEPTH: &str = "genesys_compliance_outbox_depth";
pub const LAST_SUCCESS: &str = "genesys_compliance_last_success_timestamp_seconds";
pub const RUNS: &str = "genesys_compliance_runs_total";
pub const DUPLICATES_DROPPED: &str = "genesys_compliance_duplicates_dropped_total";
/// The `outcome` label values of [`RUNS`].
pub const RUN_SUCCEEDED: &str = "succeeded";
pub const RUN_FAILED: &str = "failed";
const RUN_OUTCOMES: [&str; 2] = [RUN_SUCCEEDED, RUN_FAILED];
pub const LATE_PII: &str = "genesys_compliance_late_pii_total";

/// Installs the process-wide Prometheus recorder and describes every metric.
/// Call once, at the start of `serve`.
pub fn install() -> Result<PrometheusHandle, String> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(PAGE_LATENCY.to_string()),
            &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full(EXTRACTION_DURATION.to_string()),
                &[0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0],
            )
        })
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    describe();
    register_zeroes();
    Ok(handle)
}

/// Every family is in the first scrape, so that `rate()`, `increase()` and
/// `absent()` work on a quiet service: counters at zero for each of their
/// known label values, gauges at zero (`last_success` 0: never), histograms
/// registered without an observation, which the exporter renders as empty
/// buckets with `_count 0` (no sample is invented).
fn register_zeroes() {
    use compliance_api::Severity;
    use compliance_verify::{PiiType, Status};
    for severity in Severity::ALL {
        for status in Status::ALL {
            metrics::counter!(VIOLATIONS, "severity" => severity.as_str(), "status" => status.as_str())
                .increment(0);
        }
    }
    for kind in PiiType::ALL {
        metrics::counter!(PII_FINDINGS, "type" => kind.as_str()).increment(0);
    }
    for cause in compliance_client::RetryCause::ALL {
        metrics::counter!(RETRIES, "cause" => cause.as_str()).increment(0);
    }
    for outcome in RUN_OUTCOMES {
        metrics::counter!(RUNS, "outcome" => outcome).increment(0);
    }
    metrics::counter!(RATE_LIMITED).increment(0);
    metrics::counter!(TOKEN_RENEWALS).increment(0);
    metrics::counter!(DUPLICATES_DROPPED).increment(0);
    metrics::counter!(LATE_PII).increment(0);
    metrics::gauge!(OUTBOX_DEPTH).set(0.0);
    metrics::gauge!(ACCURACY_RATE).set(0.0);
    metrics::gauge!(LAST_SUCCESS).set(0.0);
    // Registered, not observed: the registry keeps the handle.
    let _ = metrics::histogram!(PAGE_LATENCY);
    let _ = metrics::histogram!(EXTRACTION_DURATION);
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_histogram!(
        PAGE_LATENCY,
        Unit::Seconds,
        "Latency of one page request, retries included."
    );
    describe_histogram!(
        EXTRACTION_DURATION,
        Unit::Seconds,
        "Duration of one extraction run."
    );
    describe_counter!(
        VIOLATIONS,
        "Unique violations output, by severity and verdict status."
    );
    describe_counter!(PII_FINDINGS, "PII findings in evidence, by type.");
    describe_counter!(RETRIES, "Requests retried, by cause.");
    describe_counter!(RATE_LIMITED, "429 answers received.");
    describe_counter!(TOKEN_RENEWALS, "OAuth tokens obtained.");
    describe_gauge!(
        ACCURACY_RATE,
        "Validated share of the violations of the last run."
    );
    describe_gauge!(OUTBOX_DEPTH, "Audit webhooks queued and not yet delivered.");
    describe_gauge!(
        LAST_SUCCESS,
        Unit::Seconds,
        "Unix time of the last successful run."
    );
    describe_counter!(RUNS, "Extraction runs, by outcome.");
    describe_counter!(
        DUPLICATES_DROPPED,
        "Violations re-read through the look-back and dropped."
    );
    describe_counter!(
        LATE_PII,
        "Card numbers the detectors missed, redacted by the last pass over the output."
    );
}

/// Counts one output record: its severity and verdict, and its PII findings.
pub fn record_output(record: &compliance_verify::OutputRecord) {
    let status = record.verdict.status.as_str();
    metrics::counter!(VIOLATIONS, "severity" => record.violation.severity.as_str(), "status" => status)
        .increment(1);
    for finding in &record.verdict.pii {
        metrics::counter!(PII_FINDINGS, "type" => finding.kind.as_str()).increment(1);
    }
}

/// Sets the outbox gauge from the store (a failed read leaves it as it was).
pub fn set_outbox_depth(store: &dyn compliance_store::StateStore) {
    match store.outbox_depth() {
        Ok(n) => metrics::gauge!(OUTBOX_DEPTH).set(n as f64),
        Err(e) => tracing::warn!(error = %e, "cannot read the outbox depth"),
    }
}
