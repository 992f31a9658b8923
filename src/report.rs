//! What the user sees while and after a run: a progress bar on a terminal,
//! plain log lines otherwise, and the final summary on standard error
//! (standard output may be the output itself).

use compliance_client::{RetryCause, Stats, StatsSnapshot};
use compliance_pipeline::job::JobReport;
use compliance_pipeline::output::OutputTarget;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Shows the extractor's progress until [`Progress::finish`].
pub struct Progress {
    task: tokio::task::JoinHandle<()>,
    stop: Arc<tokio::sync::Notify>,
}

impl Progress {
    /// A bar when standard error is a terminal, a log line every 5 s otherwise.
    pub fn start(stats: Arc<Stats>) -> Progress {
        let stop = Arc::new(tokio::sync::Notify::new());
        let task = if std::io::stderr().is_terminal() {
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

/// The client's side of the summary: pages, retries, pacing, latency.
pub fn print_transport(s: &StatsSnapshot) {
    let causes: Vec<String> = RetryCause::ALL
        .iter()
        .map(|c| format!("{} {}", c.as_str(), s.retries_of(*c)))
        .collect();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    eprintln!(
        "transport:  {} pages in {} windows, {} requests, retries {} ({}), 429s received {}, token renewals {}\n\
         latency:    page p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms",
        s.pages,
        s.windows_planned,
        s.requests,
        s.retries_total(),
        causes.join(", "),
        s.rate_limited_received,
        s.token_renewals,
        ms(s.latency_p50),
        ms(s.latency_p95),
        ms(s.latency_p99),
    );
}

/// The whole summary of one run.
pub fn print_summary(run: &JobReport, output: &OutputTarget, keep_pii: bool) {
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
         pii:        {} findings ({}), {}",
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
    );
    print_transport(&run.client);
}
