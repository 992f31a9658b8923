//! The extractor: plans windows, fetches them concurrently within the pacing
//! budget, and streams per-page batches in a deterministic order.

use crate::error::Error;
use crate::pacer::Pacer;
use crate::page::{ReceivedPage, Rejected};
use crate::stats::Stats;
use crate::transport::{Transport, TransportConfig};
use crate::window::Window;
use compliance_api::{
    codes, Filters, PageSize, Timestamp, Violation, ViolationQuery, MAX_RESULTS_PER_QUERY,
};
use futures::stream::{self, Stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

/// What to extract: an interval, filters and a page size, all already valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    /// The interval `[start, end)`; any length.
    pub window: Window,
    /// Severity, policy and agent filters, sent as they are.
    pub filters: Filters,
    /// Violations per page.
    pub page_size: PageSize,
}

/// The windows an extraction fetches, in output order. Computed once by
/// [`ViolationExtractor::plan`]; keep it to resume an interrupted run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The query the plan was made for.
    pub query: Query,
    /// Disjoint windows in time order; each is one API query.
    pub windows: Vec<Window>,
}

/// Where to start fetching a plan again: the window's index and, when part of
/// it was already passed on, the `next_cursor` of its last batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// Index into [`Plan::windows`].
    pub window: usize,
    /// The `next_cursor` of the window's last batch passed on; `None` starts the window afresh.
    pub cursor: Option<String>,
}

/// One page's worth of results, in output order.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Index of the plan's window this page belongs to.
    pub window: usize,
    /// The interval actually queried: the plan's window, or a piece of it when
    /// the window had to be split while it was fetched.
    pub interval: Window,
    /// Page number within the window, from 1.
    pub page: u32,
    /// The cursor of the next page. When `interval` is the plan's window,
    /// `Resume { window, cursor: next_cursor }` continues right after this batch.
    pub next_cursor: Option<String>,
    /// Whether this is the window's last batch.
    pub window_done: bool,
    /// Valid, unique violations in the API's order (`detectedAt`, then `id`).
    pub violations: Vec<Violation>,
    /// Records that are not usable violations; never dropped silently.
    pub rejects: Vec<Rejected>,
    /// Violations dropped because the previous page already held their id.
    pub duplicates_dropped: u32,
}

/// Tuning of an extractor beyond the transport; the defaults suit the
/// contract's limits.
#[derive(Debug, Clone)]
pub struct ExtractorConfig {
    /// Where to connect, as whom, and how to pace and retry.
    pub transport: TransportConfig,
    /// Windows fetched at the same time (at least 1).
    pub concurrency: usize,
    /// A window larger than this many pages is split so that pieces can run
    /// concurrently.
    pub pages_per_window: u32,
    /// Pages a window running ahead of the output may hold before it waits.
    pub buffered_pages: usize,
}

impl ExtractorConfig {
    /// Defaults: 8 windows at a time, 4 pages per window, 4 pages buffered per window (a planned window fits its buffer, so windows running ahead never stall).
    pub fn new(transport: TransportConfig) -> Self {
        ExtractorConfig {
            transport,
            concurrency: 8,
            pages_per_window: 4,
            buffered_pages: 4,
        }
    }
}

/// Streams the violations of an interval out of the API: the reusable core
/// of `genesys-compliance extract`.
///
/// ```no_run
/// # async fn run() -> Result<(), compliance_client::Error> {
/// use compliance_client::*;
/// let endpoints = Endpoints::for_region(&compliance_api::Region::parse("eu-west-1").unwrap());
/// let credentials = Credentials {
///     client_id: "my-client".into(),
///     client_secret: "my-secret".to_string().into(),
/// };
/// let extractor = ViolationExtractor::new(ExtractorConfig::new(TransportConfig::new(
///     endpoints,
///     credentials,
/// )))?;
/// let window = Window::new(
///     "2023-10-01T00:00:00Z".parse().unwrap(),
///     "2023-10-02T00:00:00Z".parse().unwrap(),
/// )
/// .unwrap();
/// let query = Query { window, filters: Default::default(), page_size: Default::default() };
/// let mut batches = extractor.extract(&query).await?;
/// while let Some(batch) = batches.next().await.transpose()? {
///     for v in batch.violations {
///         println!("{} {}", v.id, v.severity);
///     }
/// }
/// # Ok(()) }
/// ```
pub struct ViolationExtractor {
    transport: Arc<Transport>,
    config: ExtractorConfig,
}

impl ViolationExtractor {
    /// Builds the HTTP client; sends nothing yet.
    pub fn new(config: ExtractorConfig) -> Result<Self, Error> {
        let stats = Arc::new(Stats::default());
        let transport = Arc::new(Transport::new(config.transport.clone(), stats)?);
        Ok(ViolationExtractor { transport, config })
    }

    /// Live counters of everything this extractor did.
    pub fn stats(&self) -> Arc<Stats> {
        self.transport.stats.clone()
    }

    /// The pacer every request of this extractor waits for.
    pub fn pacer(&self) -> Arc<Pacer> {
        self.transport.pacer.clone()
    }

    /// Plans and fetches in one go.
    pub async fn extract(&self, query: &Query) -> Result<Batches, Error> {
        let plan = self.plan(query).await?;
        Ok(self.fetch(plan, Resume::default()))
    }

    /// Splits the query's interval into windows of at most 31 days, asks each
    /// for its `total` (one 1-violation page), and splits those holding more
    /// than `pages_per_window` pages into pieces fetched concurrently.
    pub async fn plan(&self, query: &Query) -> Result<Plan, Error> {
        let per_window = (query.page_size.get() as u64 * self.config.pages_per_window as u64)
            .clamp(1, MAX_RESULTS_PER_QUERY);
        let probe_size = PageSize::new(1).expect("1 is a page size");
        let windows: Vec<Vec<Window>> = stream::iter(query.window.by_max_span())
            .map(|w| async move {
                let page = self
                    .transport
                    .query(&ViolationQuery {
                        time_interval: w.interval(),
                        filters: query.filters.clone(),
                        size: probe_size,
                        cursor: None,
                    })
                    .await?;
                let pieces = page.total.map_or(1, |t| t.div_ceil(per_window).max(1));
                Ok::<_, Error>(w.split(pieces))
            })
            .buffered(self.config.concurrency.max(1))
            .try_collect()
            .await?;
        let windows: Vec<Window> = windows.into_iter().flatten().collect();
        Stats::add(&self.transport.stats.windows_planned, windows.len() as u64);
        Ok(Plan {
            query: query.clone(),
            windows,
        })
    }

    /// Fetches the plan's windows from `resume` on. Up to `concurrency`
    /// windows are fetched at once, but batches come out in window order and
    /// page order; a window running ahead holds at most `buffered_pages`
    /// pages before it waits. The stream ends after the first error.
    pub fn fetch(&self, plan: Plan, resume: Resume) -> Batches {
        let concurrency = self.config.concurrency.max(1);
        let (windows_tx, windows_rx) = mpsc::channel(concurrency);
        let permits = Arc::new(Semaphore::new(concurrency));
        let fetcher = WindowFetcher {
            transport: self.transport.clone(),
            filters: plan.query.filters.clone(),
            page_size: plan.query.page_size,
        };
        let buffered = self.config.buffered_pages.max(1);
        let expected = plan.windows.len().saturating_sub(resume.window);
        tokio::spawn(async move {
            for (index, window) in plan.windows.into_iter().enumerate().skip(resume.window) {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                let (tx, rx) = mpsc::channel(buffered);
                if windows_tx.send(rx).await.is_err() {
                    return; // nobody listens any more
                }
                let cursor = (index == resume.window)
                    .then(|| resume.cursor.clone())
                    .flatten();
                tokio::spawn(fetcher.clone().run(index, window, cursor, tx, permit));
            }
        });
        Batches {
            inner: Box::pin(ordered(windows_rx, expected)),
            without_evidence: WithoutEvidence::default(),
        }
    }
}

/// The batches of an extraction, in output order; also a [`Stream`].
/// Dropping it stops the fetching. When it ends (or is dropped) it logs one
/// warning for the violations passed on without evidence: their count and
/// the first few ids (each page's full list is logged at debug level).
pub struct Batches {
    inner: Pin<Box<dyn Stream<Item = Result<Batch, Error>> + Send>>,
    without_evidence: WithoutEvidence,
}

/// Violations passed on without evidence, for the one warning of a run.
#[derive(Debug, Default)]
struct WithoutEvidence {
    count: u64,
    examples: Vec<String>,
    reported: bool,
}

impl WithoutEvidence {
    /// Ids named in the warning; the count covers the rest.
    const EXAMPLES: usize = 3;

    fn note(&mut self, batch: &Batch) {
        for v in batch.violations.iter().filter(|v| !v.has_evidence_value()) {
            self.count += 1;
            if self.examples.len() < Self::EXAMPLES {
                self.examples.push(v.id.clone());
            }
        }
    }

    fn report(&mut self) {
        if self.reported || self.count == 0 {
            return;
        }
        self.reported = true;
        let more = self.count - self.examples.len() as u64;
        let examples = if more > 0 {
            format!("{} and {more} more", self.examples.join(", "))
        } else {
            self.examples.join(", ")
        };
        tracing::warn!(
            count = self.count,
            "{} violations without evidence, kept (ids: {examples}; all ids at debug level)",
            self.count
        );
    }
}

impl Drop for Batches {
    fn drop(&mut self) {
        self.without_evidence.report();
    }
}

impl Batches {
    /// Batches from another source's stream, with the same missing-evidence
    /// warning at the end.
    pub fn from_stream(stream: impl Stream<Item = Result<Batch, Error>> + Send + 'static) -> Self {
        Batches {
            inner: Box::pin(stream),
            without_evidence: WithoutEvidence::default(),
        }
    }

    /// The next batch; `None` when every window is done, or after an error.
    pub async fn next(&mut self) -> Option<Result<Batch, Error>> {
        StreamExt::next(self).await
    }
}

impl Stream for Batches {
    type Item = Result<Batch, Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.inner.as_mut().poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(batch))) => self.without_evidence.note(batch),
            Poll::Ready(_) => self.without_evidence.report(),
            Poll::Pending => {}
        }
        polled
    }
}

/// Drains the windows' channels one after the other, stopping after an error.
/// A window whose channel closes before its last batch, or fewer windows
/// than expected, is an error: nothing may go missing silently.
fn ordered(
    windows: mpsc::Receiver<mpsc::Receiver<Result<Batch, Error>>>,
    expected: usize,
) -> impl Stream<Item = Result<Batch, Error>> + Send + 'static {
    struct Drain {
        windows: mpsc::Receiver<mpsc::Receiver<Result<Batch, Error>>>,
        current: Option<mpsc::Receiver<Result<Batch, Error>>>,
        current_done: bool,
        finished: usize,
        expected: usize,
        stopped: bool,
    }
    let state = Drain {
        windows,
        current: None,
        current_done: false,
        finished: 0,
        expected,
        stopped: false,
    };
    stream::unfold(state, |mut d| async move {
        if d.stopped {
            return None;
        }
        loop {
            let Some(current) = d.current.as_mut() else {
                match d.windows.recv().await {
                    Some(next) => {
                        d.current = Some(next);
                        d.current_done = false;
                        continue;
                    }
                    None if d.finished == d.expected => return None,
                    None => {
                        d.stopped = true;
                        let e = Error::Internal(format!(
                            "only {} of {} windows were fetched",
                            d.finished, d.expected
                        ));
                        return Some((Err(e), d));
                    }
                }
            };
            match current.recv().await {
                Some(item) => {
                    d.stopped = item.is_err();
                    d.current_done = item.as_ref().is_ok_and(|b| b.window_done);
                    return Some((item, d));
                }
                None if d.current_done => {
                    d.current = None;
                    d.finished += 1;
                }
                None => {
                    d.stopped = true;
                    let e = Error::Internal(format!(
                        "window {} of {} ended before its last page",
                        d.finished + 1,
                        d.expected
                    ));
                    return Some((Err(e), d));
                }
            }
        }
    })
}

/// Fetches the pages of one window, in order.
#[derive(Clone)]
struct WindowFetcher {
    transport: Arc<Transport>,
    filters: Filters,
    page_size: PageSize,
}

impl WindowFetcher {
    async fn run(
        self,
        index: usize,
        window: Window,
        cursor: Option<String>,
        tx: mpsc::Sender<Result<Batch, Error>>,
        _permit: OwnedSemaphorePermit,
    ) {
        if let Err(e) = self.pages(index, window, cursor, &tx).await {
            let _ = tx.send(Err(e)).await;
        }
    }

    async fn pages(
        &self,
        index: usize,
        window: Window,
        mut cursor: Option<String>,
        tx: &mpsc::Sender<Result<Batch, Error>>,
    ) -> Result<(), Error> {
        let stats = &self.transport.stats;
        // Pieces still to fetch, the next one last. A window holding more than
        // one query may page through is replaced by pieces of what remains.
        let mut todo = vec![window];
        let mut page_no = 0;
        let mut previous_ids: HashSet<String> = HashSet::new();
        // After such a split, everything up to here was already passed on.
        let mut last_sent: Option<(Timestamp, String)> = None;
        let mut skip_through: Option<(Timestamp, String)> = None;
        while let Some(interval) = todo.pop() {
            loop {
                let query = ViolationQuery {
                    time_interval: interval.interval(),
                    filters: self.filters.clone(),
                    size: self.page_size,
                    cursor: cursor.clone(),
                };
                let first = cursor.is_none();
                let page = match self.transport.query(&query).await {
                    Ok(page) if first && page.total.is_some_and(|t| t > MAX_RESULTS_PER_QUERY) => {
                        None
                    }
                    Ok(page) => Some(page),
                    Err(Error::Rejected { code, .. })
                        if code == codes::PAGINATION_LIMIT_EXCEEDED =>
                    {
                        None
                    }
                    Err(e) => return Err(e),
                };
                let Some(page) = page else {
                    // Too much for one query: split what remains in two, restart.
                    let from = last_sent
                        .as_ref()
                        .map_or(interval.start, |k| k.0.max(interval.start));
                    let rest = Window::new(from, interval.end)
                        .map(|w| w.split(2))
                        .unwrap_or_default();
                    if rest.len() < 2 {
                        return Err(Error::Unsplittable {
                            start: interval.start.to_string(),
                            end: interval.end.to_string(),
                        });
                    }
                    tracing::info!(window = %interval, "window holds too much for one query; splitting");
                    Stats::add(&stats.window_splits, 1);
                    Stats::add(&stats.windows_planned, 1);
                    todo.extend(rest.into_iter().rev());
                    skip_through = last_sent.clone();
                    cursor = None;
                    break;
                };
                page_no += 1;
                cursor = page.next_page_cursor.clone();
                let mut batch = self.check(page, &mut previous_ids, skip_through.as_ref());
                if let Some(v) = batch.violations.last() {
                    last_sent = Some((v.detected_at, v.id.clone()));
                }
                batch.window = index;
                batch.interval = interval;
                batch.page = page_no;
                batch.window_done = cursor.is_none() && todo.is_empty();
                Stats::add(&stats.pages, 1);
                Stats::add(&stats.violations, batch.violations.len() as u64);
                Stats::add(&stats.duplicates_dropped, batch.duplicates_dropped as u64);
                Stats::add(&stats.rejects, batch.rejects.len() as u64);
                if batch.window_done {
                    Stats::add(&stats.windows_done, 1);
                }
                if tx.send(Ok(batch)).await.is_err() {
                    return Ok(()); // the consumer went away
                }
                if cursor.is_none() {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Sorts a page's records into violations, rejects and duplicates.
    fn check(
        &self,
        page: ReceivedPage,
        previous_ids: &mut HashSet<String>,
        skip_through: Option<&(Timestamp, String)>,
    ) -> Batch {
        let mut batch = Batch {
            window: 0,
            interval: Window {
                start: Timestamp::now(),
                end: Timestamp::now(),
            },
            page: 0,
            next_cursor: page.next_page_cursor,
            window_done: false,
            violations: Vec::with_capacity(page.records.len()),
            rejects: Vec::new(),
            duplicates_dropped: 0,
        };
        let mut ids = HashSet::with_capacity(page.records.len());
        let mut without_evidence = Vec::new();
        for record in page.records {
            let violation = match record {
                Ok(v) => v,
                Err(rejected) => {
                    // A broken record repeated across pages is one reject, when
                    // its id tells; without an id it cannot be told apart.
                    if let Some(id) = rejected.raw.get("id").and_then(|id| id.as_str()) {
                        if previous_ids.contains(id) || !ids.insert(id.to_string()) {
                            batch.duplicates_dropped += 1;
                            continue;
                        }
                    }
                    tracing::warn!(reason = %rejected.reason, "rejected a record that is not a usable violation");
                    batch.rejects.push(rejected);
                    continue;
                }
            };
            if ids.contains(&violation.id) {
                batch.duplicates_dropped += 1;
                continue;
            }
            ids.insert(violation.id.clone());
            // Before the duplicate check: the first page after a split re-reads
            // what was passed on just before it, and that is no server duplicate.
            if skip_through.is_some_and(|k| (violation.detected_at, &violation.id) <= (k.0, &k.1)) {
                continue; // passed on before the window was split
            }
            if previous_ids.contains(&violation.id) {
                batch.duplicates_dropped += 1;
                continue;
            }
            if !violation.has_evidence_value() {
                without_evidence.push(violation.id.clone());
            }
            batch.violations.push(violation);
        }
        if !without_evidence.is_empty() {
            // The full list at debug level; `Batches` warns once per run.
            Stats::add(
                &self.transport.stats.missing_evidence,
                without_evidence.len() as u64,
            );
            tracing::debug!(
                count = without_evidence.len(),
                ids = %without_evidence.join(","),
                "violations without evidence on this page; kept"
            );
        }
        // A short page may be empty: the next page's duplicates are then
        // those of the last page that held something.
        if !ids.is_empty() {
            *previous_ids = ids;
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(window: usize, done: bool) -> Result<Batch, Error> {
        let w = Window::new(
            "2023-10-01T00:00:00Z".parse().unwrap(),
            "2023-10-02T00:00:00Z".parse().unwrap(),
        )
        .unwrap();
        Ok(Batch {
            window,
            interval: w,
            page: 1,
            next_cursor: None,
            window_done: done,
            violations: vec![],
            rejects: vec![],
            duplicates_dropped: 0,
        })
    }

    /// Feeds `windows` (each a list of batches) to `ordered`, expecting `expected` windows.
    async fn drain(
        windows: Vec<Vec<Result<Batch, Error>>>,
        expected: usize,
    ) -> Vec<Result<Batch, Error>> {
        let (tx, rx) = mpsc::channel(8);
        for batches in windows {
            let (btx, brx) = mpsc::channel(8);
            for b in batches {
                btx.send(b).await.unwrap();
            }
            tx.send(brx).await.unwrap();
        }
        drop(tx);
        ordered(rx, expected).collect().await
    }

    #[tokio::test]
    async fn nothing_goes_missing_silently() {
        let all = drain(
            vec![vec![batch(0, false), batch(0, true)], vec![batch(1, true)]],
            2,
        )
        .await;
        assert!(all.iter().all(Result::is_ok) && all.len() == 3);

        // A window that stops before its last page.
        let cut = drain(vec![vec![batch(0, false)], vec![batch(1, true)]], 2).await;
        assert_eq!(cut.len(), 2);
        assert!(matches!(&cut[1], Err(Error::Internal(m)) if m.contains("before its last page")));

        // Fewer windows than planned.
        let short = drain(vec![vec![batch(0, true)]], 2).await;
        assert!(matches!(&short[1], Err(Error::Internal(m)) if m.contains("only 1 of 2")));
    }
}
