//! Splitting an interval into windows the API accepts.

use chrono::Duration as Span;
use compliance_api::{TimeInterval, Timestamp, MAX_SPAN_DAYS};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `[start, end)`, never empty. Windows of one plan are disjoint and in time
/// order, so emitting them in order keeps the output order deterministic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// First instant included.
    pub start: Timestamp,
    /// First instant excluded.
    pub end: Timestamp,
}

impl Window {
    /// The window of an interval, or `None` when it is empty.
    pub fn new(start: Timestamp, end: Timestamp) -> Option<Window> {
        (start < end).then_some(Window { start, end })
    }

    /// The interval as the query's `time_interval`.
    pub fn interval(&self) -> TimeInterval {
        TimeInterval {
            start: self.start,
            end: self.end,
        }
    }

    /// Consecutive windows of at most 31 days covering this one.
    pub fn by_max_span(&self) -> Vec<Window> {
        let most = Span::days(MAX_SPAN_DAYS);
        let mut out = Vec::new();
        let mut at = self.start.as_datetime();
        let end = self.end.as_datetime();
        while at < end {
            let next = (at + most).min(end);
            out.push(Window {
                start: Timestamp::from_datetime(at),
                end: Timestamp::from_datetime(next),
            });
            at = next;
        }
        out
    }

    /// `n` consecutive windows of (nearly) equal length covering this one;
    /// fewer when the window is too short to give each piece a nanosecond.
    pub fn split(&self, n: u64) -> Vec<Window> {
        let start = self.start.as_datetime();
        let length = (self.end.as_datetime() - start)
            .num_nanoseconds()
            .unwrap_or(i64::MAX) as u128;
        let n = (n.max(1) as u128).min(length.max(1));
        let cut = |i: u128| {
            let offset = (length * i / n) as i64;
            Timestamp::from_datetime(start + Span::nanoseconds(offset))
        };
        (0..n)
            .map(|i| Window {
                start: if i == 0 { self.start } else { cut(i) },
                end: if i + 1 == n { self.end } else { cut(i + 1) },
            })
            .collect()
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {})", self.start, self.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn assert_tiles(whole: Window, parts: &[Window]) {
        assert_eq!(parts.first().unwrap().start, whole.start);
        assert_eq!(parts.last().unwrap().end, whole.end);
        for pair in parts.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
        assert!(parts.iter().all(|w| w.start < w.end));
    }

    #[test]
    fn long_intervals_become_31_day_windows() {
        let w = Window::new(ts("2023-01-01T00:00:00Z"), ts("2023-12-31T12:00:00.5Z")).unwrap();
        let parts = w.by_max_span();
        assert_eq!(parts.len(), 12);
        assert_tiles(w, &parts);
        for p in &parts {
            assert!(p.end.as_datetime() - p.start.as_datetime() <= Span::days(31));
        }
        let day = Window::new(ts("2023-10-01T00:00:00Z"), ts("2023-10-02T00:00:00Z")).unwrap();
        assert_eq!(day.by_max_span(), vec![day]);
    }

    #[test]
    fn splits_tile_the_window_and_stop_at_nanoseconds() {
        let w = Window::new(ts("2023-10-01T00:00:00Z"), ts("2023-10-02T00:00:00Z")).unwrap();
        let parts = w.split(7);
        assert_eq!(parts.len(), 7);
        assert_tiles(w, &parts);

        let tiny = Window::new(
            ts("2023-10-01T00:00:00Z"),
            ts("2023-10-01T00:00:00.000000003Z"),
        )
        .unwrap();
        let parts = tiny.split(10);
        assert_eq!(parts.len(), 3);
        assert_tiles(tiny, &parts);
        assert!(Window::new(w.end, w.start).is_none());
    }
}
