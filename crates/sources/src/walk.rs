//! How a derived source walks its plan: per window, discover the items
//! (conversations, evaluations) that hold violations, sort them by id, and
//! pass them on in chunks, one batch per chunk. A batch's `next_cursor` is
//! its last item's id, so a resumed run discovers the window again (analytics
//! jobs expire; discovery is cheap next to the per-item requests) and goes on
//! after that id: what was passed on is not passed on again.

use crate::limits;
use compliance_api::Violation;
use compliance_client::{ApiClient, Batch, Batches, Error, Plan, Query, Resume, Window};
use futures::future::BoxFuture;
use futures::stream;
use std::collections::VecDeque;
use std::sync::Arc;

/// A window's items by id, each with what discovery learnt about it.
pub(crate) type Found<T> = Vec<(String, T)>;

/// What a derived source does per window.
pub(crate) trait Discover: Send + Sync + 'static {
    /// What discovery learnt about one item.
    type Found: Send + 'static;
    /// The window's items, by id (duplicates merged by the source).
    fn discover(&self, window: Window) -> BoxFuture<'_, Result<Found<Self::Found>, Error>>;
    /// The violations of a chunk of items, in the chunk's order.
    fn violations<'a>(
        &'a self,
        chunk: &'a [(String, Self::Found)],
    ) -> BoxFuture<'a, Result<Vec<Violation>, Error>>;
    /// Items per batch.
    fn per_batch(&self) -> usize;
    /// The client every request goes through (its counters count the batches too).
    fn client(&self) -> &ApiClient;
    /// The longest window one discovery may cover.
    fn max_window(&self) -> chrono::Duration;
    /// The source's name, and the limits namespaces to read its live rate limit from.
    fn names(&self) -> (&'static str, &'static [&'static str]);
    /// The configured rate limit (0: pacing off).
    fn configured_rate(&self) -> u32;
}

/// A derived source's plan: the live rate limit adopted (once per plan), then
/// the interval cut into windows the source's API accepts.
pub(crate) async fn plan<D: Discover>(source: &D, query: &Query) -> Result<Plan, Error> {
    let (name, namespaces) = source.names();
    limits::adopt_live_limit(source.client(), namespaces, name, source.configured_rate()).await;
    let windows = split(query.window, source.max_window());
    source
        .client()
        .stats()
        .windows_planned(windows.len() as u64);
    Ok(Plan {
        query: query.clone(),
        windows,
    })
}

/// The [`crate::Source`] of a derived source: `$source` holds an
/// `inner: Arc<impl Discover>`, whose plan, walk, client and counters it is.
macro_rules! derived_source {
    ($source:ty, $kind:expr) => {
        impl $crate::Source for $source {
            fn kind(&self) -> $crate::SourceKind {
                $kind
            }
            fn plan<'a>(
                &'a self,
                query: &'a compliance_client::Query,
            ) -> futures::future::BoxFuture<
                'a,
                Result<compliance_client::Plan, compliance_client::Error>,
            > {
                Box::pin($crate::walk::plan(&*self.inner, query))
            }
            fn fetch(
                &self,
                plan: compliance_client::Plan,
                resume: compliance_client::Resume,
            ) -> compliance_client::Batches {
                $crate::walk::walk(self.inner.clone(), plan, resume)
            }
            fn stats(&self) -> std::sync::Arc<compliance_client::Stats> {
                $crate::walk::Discover::client(&*self.inner).stats()
            }
            fn pacer(&self) -> std::sync::Arc<compliance_client::Pacer> {
                $crate::walk::Discover::client(&*self.inner).pacer()
            }
        }
    };
}
pub(crate) use derived_source;

/// The plan's batches from `resume` on.
pub(crate) fn walk<D: Discover>(source: Arc<D>, plan: Plan, resume: Resume) -> Batches {
    let walk = Walk {
        source,
        windows: plan.windows,
        window: resume.window,
        after: resume.cursor,
        pending: None,
        page: 0,
        stopped: false,
    };
    Batches::from_stream(stream::unfold(walk, |mut w| async move {
        if w.stopped {
            return None;
        }
        let item = w.next_batch().await?;
        w.stopped = item.is_err();
        Some((item, w))
    }))
}

struct Walk<D: Discover> {
    source: Arc<D>,
    windows: Vec<Window>,
    window: usize,
    /// Items up to and including this id were passed on before a restart.
    after: Option<String>,
    /// The current window's items still to do, in id order.
    pending: Option<VecDeque<(String, D::Found)>>,
    page: u32,
    stopped: bool,
}

impl<D: Discover> Walk<D> {
    async fn next_batch(&mut self) -> Option<Result<Batch, Error>> {
        let interval = *self.windows.get(self.window)?;
        if self.pending.is_none() {
            let mut found = match self.source.discover(interval).await {
                Ok(found) => found,
                Err(e) => return Some(Err(e)),
            };
            found.sort_by(|a, b| a.0.cmp(&b.0));
            let after = self.after.take();
            found.retain(|(id, _)| after.as_ref().is_none_or(|a| id > a));
            self.pending = Some(found.into());
        }
        let pending = self.pending.as_mut().expect("discovered");
        let take = self.source.per_batch().max(1).min(pending.len());
        let chunk: Vec<(String, D::Found)> = pending.drain(..take).collect();
        let window_done = pending.is_empty();
        self.page += 1;
        let violations = match self.source.violations(&chunk).await {
            Ok(v) => v,
            Err(e) => return Some(Err(e)),
        };
        let batch = Batch {
            window: self.window,
            interval,
            page: self.page,
            next_cursor: (!window_done)
                .then(|| chunk.last().map(|(id, _)| id.clone()))
                .flatten(),
            window_done,
            violations,
            rejects: Vec::new(),
            duplicates_dropped: 0,
        };
        if window_done {
            self.window += 1;
            self.pending = None;
            self.page = 0;
        }
        self.source.client().stats().batch_passed(&batch);
        Some(Ok(batch))
    }
}

/// Consecutive windows of at most `most` covering `window`.
pub(crate) fn split(window: Window, most: chrono::Duration) -> Vec<Window> {
    let length = window.end.as_datetime() - window.start.as_datetime();
    let pieces = (length.num_milliseconds() as f64 / most.num_milliseconds() as f64).ceil();
    window.split((pieces as u64).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_never_exceed_the_limit() {
        let w = Window::new(
            "2023-01-01T00:00:00Z".parse().unwrap(),
            "2023-12-31T00:00:00Z".parse().unwrap(),
        )
        .unwrap();
        let parts = split(w, chrono::Duration::days(90));
        assert_eq!(parts.len(), 5);
        assert_eq!(parts[0].start, w.start);
        assert_eq!(parts.last().unwrap().end, w.end);
        for p in &parts {
            assert!(p.end.as_datetime() - p.start.as_datetime() <= chrono::Duration::days(90));
        }
        assert_eq!(split(w, chrono::Duration::days(400)), vec![w]);
    }
}
