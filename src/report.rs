//! What the user sees while and after a run: a progress bar on a terminal,
//! plain log lines otherwise, and the final summary on standard error
//! (standard output may be the output itself).
//!
//! With `--log-format json` every line on standard error is JSON: log events
//! come from `tracing`, and the summary, notes and the final error are written
//! here in the same shape (`timestamp`, `level`, `fields.message`, `target`).

use compliance_client::{RetryCause, Stats, StatsSnapshot};
use compliance_pipeline::{JobReport, OutputTarget};
use serde_json::{json, Map, Value};
use std::io::{IsTerminal, Write};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How log lines and reports are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

/// The format of standard error, set once at start-up.
static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Sets the format of everything written to standard error (the first call wins).
pub fn set_format(format: LogFormat) {
    let _ = FORMAT.set(format);
}

fn json_format() -> bool {
    FORMAT.get() == Some(&LogFormat::Json)
}

/// Whether colour codes may be written to standard error: only to a terminal,
/// and not when NO_COLOR is set to anything (https://no-color.org).
pub fn stderr_ansi() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Standard error for `tracing`'s log lines, each through the last pass
/// (`docs/late-pii.md`): a card number that reached a log message is
/// redacted there too. The formatter writes each event in one call.
#[derive(Debug, Clone, Copy)]
pub struct SweptStderr {
    pub json: bool,
}

impl tracing_subscriber::fmt::MakeWriter<'_> for SweptStderr {
    type Writer = SweptStderr;
    fn make_writer(&self) -> SweptStderr {
        *self
    }
}

impl Write for SweptStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut out = Vec::with_capacity(buf.len());
        compliance_pipeline::sweep_log_line(buf, self.json, &mut out);
        std::io::stderr().lock().write_all(&out)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Writes one JSON event to standard error, in the shape of the `tracing` JSON
/// log lines: `message` and `fields` go under `fields`.
fn json_event(level: &str, message: &str, fields: Map<String, Value>) {
    let mut all = Map::new();
    all.insert("message".into(), message.into());
    all.extend(fields);
    let event = json!({
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "level": level,
        "fields": all,
        "target": "genesys_compliance",
    });
    // One write per line, so that lines of concurrent log events do not interleave.
    let _ = writeln!(std::io::stderr().lock(), "{event}");
}

/// One line of a run's report on standard error: `text` as it is, or with
/// `--log-format json`, an INFO event whose message is `text`.
pub fn note(text: &str) {
    if json_format() {
        json_event("INFO", text, Map::new());
    } else {
        eprintln!("{text}");
    }
}

/// The final error: `error: MESSAGE`, or with `--log-format json`, an ERROR
/// event with the message, the exit code and the correlation id when there is one.
pub fn error(message: &str, exit_code: u8, correlation_id: Option<&str>) {
    if json_format() {
        let mut fields = Map::new();
        fields.insert("exit_code".into(), exit_code.into());
        if let Some(cid) = correlation_id {
            fields.insert("correlation_id".into(), cid.into());
        }
        json_event("ERROR", message, fields);
    } else {
        eprintln!("error: {message}");
    }
}

/// Shows the extractor's progress until [`Progress::finish`].
pub struct Progress {
    task: tokio::task::JoinHandle<()>,
    stop: Arc<tokio::sync::Notify>,
}

impl Progress {
    /// A bar when standard error is a terminal, a log line every 5 s otherwise
    /// (and always with `--log-format json`, whose lines must all be JSON).
    pub fn start(stats: Arc<Stats>) -> Progress {
        let stop = Arc::new(tokio::sync::Notify::new());
        let task = if std::io::stderr().is_terminal() && !json_format() {
            tokio::spawn(bar(stats, stop.clone()))
        } else {
            tokio::spawn(log_lines(stats, stop.clone()))
        };
        Progress { task, stop }
    }

    /// Stops the display and waits for it to clear its line.
    pub async fn finish(self) {
        self.stop.notify_one();
        let _ = self.task.await;
    }
}

fn progress_line(s: &StatsSnapshot, elapsed: Duration) -> String {
    let rate = s.violations as f64 / elapsed.as_secs_f64().max(1e-3);
    format!(
        "windows {}/{}, pages {}, violations {}, retries {}, {:.0} violations/s",
        s.windows_done,
        s.windows_planned,
        s.pages,
        s.violations,
        s.retries_total(),
        rate
    )
}

async fn bar(stats: Arc<Stats>, stop: Arc<tokio::sync::Notify>) {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
            .expect("a valid template"),
    );
    let started = Instant::now();
    loop {
        bar.set_message(progress_line(&stats.snapshot(), started.elapsed()));
        bar.tick();
        tokio::select! {
            _ = stop.notified() => break,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
    bar.finish_and_clear();
}

async fn log_lines(stats: Arc<Stats>, stop: Arc<tokio::sync::Notify>) {
    let started = Instant::now();
    loop {
        tokio::select! {
            _ = stop.notified() => break,
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
        tracing::info!("{}", progress_line(&stats.snapshot(), started.elapsed()));
    }
}

/// The client's side of the summary as JSON fields.
fn transport_fields(s: &StatsSnapshot) -> Map<String, Value> {
    let ms = |d: Duration| (d.as_secs_f64() * 1000.0).round();
    let causes: Map<String, Value> = RetryCause::ALL
        .iter()
        .map(|c| (c.as_str().to_string(), s.retries_of(*c).into()))
        .collect();
    object(json!({
        "pages": s.pages,
        "windows": s.windows_planned,
        "requests": s.requests,
        "requests_per_violation": requests_per_violation(s),
        "transcript_downloads": s.downloads,
        "retries": s.retries_total(),
        "retries_by_cause": causes,
        "rate_limited_received": s.rate_limited_received,
        "token_renewals": s.token_renewals,
        "latency_p50_ms": ms(s.latency_p50),
        "latency_p95_ms": ms(s.latency_p95),
        "latency_p99_ms": ms(s.latency_p99),
    }))
}

/// API requests per violation passed on (0 when none): what a source's
/// fan-out costs against the rate limit.
fn requests_per_violation(s: &StatsSnapshot) -> f64 {
    if s.violations == 0 {
        0.0
    } else {
        (s.requests as f64 / s.violations as f64 * 1000.0).round() / 1000.0
    }
}

/// The client's side of the summary: pages, retries, pacing, latency.
pub fn print_transport(s: &StatsSnapshot) {
    if json_format() {
        json_event("INFO", "transport", transport_fields(s));
        return;
    }
    let causes: Vec<String> = RetryCause::ALL
        .iter()
        .map(|c| format!("{} {}", c.as_str(), s.retries_of(*c)))
        .collect();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    eprintln!(
        "transport:  {} pages in {} windows, {} requests ({:.3} per violation{}), retries {} ({}), 429s received {}, token renewals {}\n\
         latency:    page p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms",
        s.pages,
        s.windows_planned,
        s.requests,
        requests_per_violation(s),
        if s.downloads > 0 {
            format!(", and {} transcript downloads", s.downloads)
        } else {
            String::new()
        },
        s.retries_total(),
        causes.join(", "),
        s.rate_limited_received,
        s.token_renewals,
        ms(s.latency_p50),
        ms(s.latency_p95),
        ms(s.latency_p99),
    );
}

/// The whole summary of one run: a few lines, or with `--log-format json`
/// one event with every figure as a field.
pub fn print_summary(run: &JobReport, output: &OutputTarget, keep_pii: bool) {
    if json_format() {
        json_event("INFO", "summary", summary_fields(run, output, keep_pii));
        return;
    }
    let t = &run.progress.tally;
    let secs = run.elapsed.as_secs_f64();
    eprintln!(
        "extracted:  {} unique violations in {:.2} s ({:.0}/s) to {}\n\
         duplicates: {} dropped; missing evidence: {}; rejects: {}{}",
        t.violations,
        secs,
        t.violations as f64 / secs.max(1e-3),
        output,
        run.progress.duplicates_dropped,
        t.missing_evidence,
        run.progress.rejects,
        run.rejects_file
            .as_ref()
            .map(|p| format!(" (in {})", p.display()))
            .unwrap_or_default(),
    );
    let reasons: Vec<String> = t
        .by_reason
        .iter()
        .map(|(r, n)| format!("{} {n}", r.as_str()))
        .collect();
    let severities: Vec<String> = t
        .by_severity
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    let pii: Vec<String> = t
        .pii_by_type
        .iter()
        .map(|(k, n)| format!("{} {n}", k.as_str()))
        .collect();
    eprintln!(
        "verdicts:   {} validated, {} false positives ({}); accuracy rate {:.3}\n\
         severity:   {}\n\
         pii:        {} findings ({}), {}; late_pii {}",
        t.validated,
        t.false_positives,
        if reasons.is_empty() {
            "none".to_string()
        } else {
            reasons.join(", ")
        },
        t.accuracy_rate(),
        severities.join(", "),
        t.pii_exposures,
        if pii.is_empty() {
            "none".to_string()
        } else {
            pii.join(", ")
        },
        if keep_pii {
            "kept (--keep-pii)"
        } else {
            "all redacted"
        },
        t.late_pii,
    );
    print_transport(&run.client);
}

fn summary_fields(run: &JobReport, output: &OutputTarget, keep_pii: bool) -> Map<String, Value> {
    let t = &run.progress.tally;
    let mut fields = object(json!({
        "violations": t.violations,
        "elapsed_s": run.elapsed.as_secs_f64(),
        "output": output.to_string(),
        "duplicates_dropped": run.progress.duplicates_dropped,
        "missing_evidence": t.missing_evidence,
        "rejects": run.progress.rejects,
        "rejects_file": run.rejects_file.as_ref().map(|p| p.display().to_string()),
        "validated": t.validated,
        "false_positives": t.false_positives,
        "false_positives_by_reason": t.by_reason.iter()
            .map(|(r, n)| (r.as_str().to_string(), Value::from(*n)))
            .collect::<Map<_, _>>(),
        "accuracy_rate": t.accuracy_rate(),
        "by_severity": t.by_severity.iter()
            .map(|(s, n)| (s.to_string(), Value::from(*n)))
            .collect::<Map<_, _>>(),
        "pii_findings": t.pii_exposures,
        "pii_by_type": t.pii_by_type.iter()
            .map(|(k, n)| (k.as_str().to_string(), Value::from(*n)))
            .collect::<Map<_, _>>(),
        "pii_kept": keep_pii,
        "late_pii": t.late_pii,
        "late_pii_issued_range": t.late_pii_issued_range,
    }));
    fields.extend(transport_fields(&run.client));
    fields
}

/// The map of a `json!({...})` object.
fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(map) => map,
        other => unreachable!("not a JSON object: {other}"),
    }
}
