//! Counters of one extraction, shared by every task, readable at any time.

use crate::retry::RetryCause;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// The histogram of page latencies in the `metrics` facade, in seconds.
pub const PAGE_LATENCY_METRIC: &str = "genesys_compliance_page_latency_seconds";

/// Live counters; [`Stats::snapshot`] reads them.
#[derive(Debug, Default)]
pub struct Stats {
    pub(crate) windows_planned: AtomicU64,
    pub(crate) windows_done: AtomicU64,
    pub(crate) pages: AtomicU64,
    pub(crate) violations: AtomicU64,
    pub(crate) duplicates_dropped: AtomicU64,
    pub(crate) missing_evidence: AtomicU64,
    pub(crate) rejects: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) downloads: AtomicU64,
    pub(crate) rate_limited_received: AtomicU64,
    pub(crate) token_renewals: AtomicU64,
    pub(crate) window_splits: AtomicU64,
    retries: [AtomicU64; RetryCause::ALL.len()],
    latency: Histogram,
}

impl Stats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }
    pub(crate) fn retried(&self, cause: RetryCause) {
        let i = RetryCause::ALL
            .iter()
            .position(|c| *c == cause)
            .expect("listed");
        self.retries[i].fetch_add(1, Relaxed);
    }
    pub(crate) fn page_latency(&self, d: Duration) {
        self.latency.record(d);
        // Also to the process's metrics recorder (`serve`'s /metrics), if one is installed.
        metrics::histogram!(PAGE_LATENCY_METRIC).record(d.as_secs_f64());
    }

    /// Counts a batch a source passes on, as the extractor counts its pages.
    pub fn batch_passed(&self, batch: &crate::Batch) {
        Stats::add(&self.pages, 1);
        Stats::add(&self.violations, batch.violations.len() as u64);
        Stats::add(&self.duplicates_dropped, batch.duplicates_dropped as u64);
        Stats::add(&self.rejects, batch.rejects.len() as u64);
        let without = batch.violations.iter().filter(|v| !v.has_evidence_value());
        Stats::add(&self.missing_evidence, without.count() as u64);
        if batch.window_done {
            Stats::add(&self.windows_done, 1);
        }
    }

    /// Counts the windows a source planned.
    pub fn windows_planned(&self, n: u64) {
        Stats::add(&self.windows_planned, n);
    }

    /// The counters as they are now.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            windows_planned: self.windows_planned.load(Relaxed),
            windows_done: self.windows_done.load(Relaxed),
            pages: self.pages.load(Relaxed),
            violations: self.violations.load(Relaxed),
            duplicates_dropped: self.duplicates_dropped.load(Relaxed),
            missing_evidence: self.missing_evidence.load(Relaxed),
            rejects: self.rejects.load(Relaxed),
            requests: self.requests.load(Relaxed),
            downloads: self.downloads.load(Relaxed),
            rate_limited_received: self.rate_limited_received.load(Relaxed),
            token_renewals: self.token_renewals.load(Relaxed),
            window_splits: self.window_splits.load(Relaxed),
            retries: RetryCause::ALL
                .iter()
                .zip(&self.retries)
                .map(|(c, n)| (*c, n.load(Relaxed)))
                .collect(),
            latency_p50: self.latency.quantile(0.50),
            latency_p95: self.latency.quantile(0.95),
            latency_p99: self.latency.quantile(0.99),
        }
    }
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsSnapshot {
    /// Windows (queries) the interval was split into, including later splits.
    pub windows_planned: u64,
    /// Windows whose last page was passed on.
    pub windows_done: u64,
    /// Pages received and accepted.
    pub pages: u64,
    /// Unique violations passed on.
    pub violations: u64,
    /// Violations dropped because the previous page already held their id.
    pub duplicates_dropped: u64,
    /// Violations passed on without `evidence`.
    pub missing_evidence: u64,
    /// Records that are not usable violations (see [`crate::Rejected`]).
    pub rejects: u64,
    /// HTTP requests sent, token requests included.
    pub requests: u64,
    /// Pre-signed URLs fetched (transcripts): not API requests, not paced.
    pub downloads: u64,
    /// 429 answers received.
    pub rate_limited_received: u64,
    /// Tokens obtained (the first one included).
    pub token_renewals: u64,
    /// Windows split again because they held more than one query may page through.
    pub window_splits: u64,
    /// Retries by cause, in [`RetryCause::ALL`] order.
    pub retries: Vec<(RetryCause, u64)>,
    /// Median page latency (request sent to body read, retries excluded).
    pub latency_p50: Duration,
    /// 95th percentile of page latency.
    pub latency_p95: Duration,
    /// 99th percentile of page latency.
    pub latency_p99: Duration,
}

impl StatsSnapshot {
    /// All retries, whatever the cause.
    pub fn retries_total(&self) -> u64 {
        self.retries.iter().map(|(_, n)| n).sum()
    }
    /// Retries of one cause.
    pub fn retries_of(&self, cause: RetryCause) -> u64 {
        self.retries
            .iter()
            .find(|(c, _)| *c == cause)
            .map_or(0, |(_, n)| *n)
    }
}

/// A fixed-size log-linear latency histogram in microseconds: exact below
/// 64 µs, then 32 buckets per power of two (at most ~3% error), up to ~18 h.
#[derive(Debug)]
struct Histogram {
    buckets: Vec<AtomicU64>,
}

const SUB: u32 = 32;
const LINEAR: u64 = 64;

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: (0..LINEAR as usize + 40 * SUB as usize)
                .map(|_| AtomicU64::new(0))
                .collect(),
        }
    }
}

impl Histogram {
    fn index(micros: u64) -> usize {
        if micros < LINEAR {
            return micros as usize;
        }
        let power = 63 - micros.leading_zeros(); // >= 6
        let sub = (micros >> (power - 5)) & (SUB as u64 - 1);
        (LINEAR + (power as u64 - 6) * SUB as u64 + sub) as usize
    }
    /// The largest value that falls in bucket `i`.
    fn upper(i: usize) -> u64 {
        let i = i as u64;
        if i < LINEAR {
            return i;
        }
        let power = (i - LINEAR) / SUB as u64 + 6;
        let sub = (i - LINEAR) % SUB as u64;
        ((SUB as u64 + sub + 1) << (power - 5)) - 1
    }
    fn record(&self, d: Duration) {
        let i = Self::index(d.as_micros() as u64).min(self.buckets.len() - 1);
        self.buckets[i].fetch_add(1, Relaxed);
    }
    fn quantile(&self, q: f64) -> Duration {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return Duration::ZERO;
        }
        let rank = ((q * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Duration::from_micros(Self::upper(i));
            }
        }
        Duration::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_their_values() {
        for v in [
            0u64, 1, 63, 64, 65, 100, 1_000, 40_000, 1_234_567, 60_000_000,
        ] {
            let i = Histogram::index(v);
            assert!(Histogram::upper(i) >= v, "{v}");
            assert!(Histogram::upper(i) as f64 <= v as f64 * 1.04 + 1.0, "{v}");
            if i > 0 {
                assert!(Histogram::upper(i - 1) < v, "{v}");
            }
        }
    }

    #[test]
    fn quantiles_are_within_three_percent() {
        let h = Histogram::default();
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms));
        }
        let p50 = h.quantile(0.5).as_secs_f64() * 1000.0;
        let p99 = h.quantile(0.99).as_secs_f64() * 1000.0;
        assert!((50.0..=51.6).contains(&p50), "{p50}");
        assert!((99.0..=102.1).contains(&p99), "{p99}");
    }
}
