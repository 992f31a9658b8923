//! Client-side pacing: a GCRA limiter shared by token and API requests.

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Keeps requests under `N` per rolling minute (the server's limit) while
/// letting short bursts go at once.
///
/// GCRA with burst `B` (a tenth of `N`, at least 1) and emission interval
/// `60 s / (N - B)`: any 60 s span then holds at most `B + (N - B) = N`
/// requests. The interval is stretched by 1% so that network jitter between
/// here and the server's clock cannot push a span over `N`.
#[derive(Debug)]
pub struct Pacer {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    interval: Duration,
    /// How far ahead of its schedule a request may go: `(B - 1) * interval`.
    tolerance: Duration,
    /// Theoretical arrival time of the next request.
    tat: Instant,
    /// Nobody sends before this (set by a 429's `Retry-After`).
    paused_until: Instant,
}

impl Pacer {
    /// A pacer for `per_minute` requests per rolling minute; 0 means unlimited.
    pub fn per_minute(per_minute: u32) -> Pacer {
        let now = Instant::now();
        let (interval, tolerance) = Self::spacing(per_minute);
        Pacer {
            state: Mutex::new(State {
                interval,
                tolerance,
                tat: now,
                paused_until: now,
            }),
        }
    }

    /// Emission interval and tolerance for `per_minute` (0: unlimited).
    fn spacing(per_minute: u32) -> (Duration, Duration) {
        if per_minute == 0 {
            return (Duration::ZERO, Duration::ZERO);
        }
        let burst = (per_minute / 10).max(1);
        let steady = (per_minute - burst).max(1);
        let interval = Duration::from_secs(60).mul_f64(1.01) / steady;
        (interval, interval * (burst - 1))
    }

    /// Paces for `per_minute` from now on; requests already booked keep their slots.
    pub fn set_per_minute(&self, per_minute: u32) {
        let (interval, tolerance) = Self::spacing(per_minute);
        let mut s = self.state.lock().expect("pacer lock");
        s.interval = interval;
        s.tolerance = tolerance;
    }

    /// Reserves the next slot and returns when it may be used. Slots are
    /// handed out first come, first served.
    pub async fn acquire(&self) {
        let at = self.reserve(Instant::now());
        tokio::time::sleep_until(at).await;
    }

    /// Books one request arriving at `now`; returns when it may be sent.
    fn reserve(&self, now: Instant) -> Instant {
        let mut s = self.state.lock().expect("pacer lock");
        let tat = s.tat.max(now);
        let at = tat
            .checked_sub(s.tolerance)
            .unwrap_or(now)
            .max(now)
            .max(s.paused_until);
        // A pause pushes the whole schedule back, not only this request.
        s.tat = tat.max(at) + s.interval;
        at
    }

    /// Holds every request until `until` (the server said `Retry-After`).
    pub fn pause_until(&self, until: Instant) {
        let mut s = self.state.lock().expect("pacer lock");
        s.paused_until = s.paused_until.max(until);
    }

    /// What is spent of the budget, as of now: for the next process that
    /// paces requests under the same limit (another worker holding the org).
    pub fn spent(&self) -> Spent {
        self.spent_at(Instant::now())
    }

    fn spent_at(&self, now: Instant) -> Spent {
        let s = self.state.lock().expect("pacer lock");
        Spent {
            next_due_in: s.tat.saturating_duration_since(now),
            paused_for: s.paused_until.saturating_duration_since(now),
        }
    }

    /// Continues from what another pacer under the same limit had `spent`.
    /// After a `takeover` (the other holder stopped without handing its
    /// budget over), what it spent since its last [`Pacer::spent`] is not
    /// known, so no burst is allowed: requests start at the steady rate. With
    /// the lease's `ttl / 3` between checkpoints and `ttl` before a takeover,
    /// that keeps every rolling minute across the handover within the limit
    /// (see docs/scale.md).
    pub fn resume(&self, spent: Spent, takeover: bool) {
        self.resume_at(Instant::now(), spent, takeover);
    }

    fn resume_at(&self, now: Instant, spent: Spent, takeover: bool) {
        let mut s = self.state.lock().expect("pacer lock");
        let mut tat = now + spent.next_due_in;
        if takeover {
            tat = tat.max(now + s.tolerance);
        }
        // Never earlier than this pacer's own bookings.
        s.tat = s.tat.max(tat);
        s.paused_until = s.paused_until.max(now + spent.paused_for);
    }
}

/// A pacer's state relative to the moment it was read: the theoretical
/// arrival time of its next request (GCRA) and how long every request is
/// still held by a 429's `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Spent {
    /// Until the next request is on schedule (zero: a burst is free).
    pub next_due_in: Duration,
    /// Until requests may be sent at all.
    pub paused_for: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reserves `n` slots for requests that all arrive at `start`.
    fn schedule(p: &Pacer, start: Instant, n: usize) -> Vec<Instant> {
        (0..n).map(|_| p.reserve(start)).collect()
    }

    #[test]
    fn a_burst_goes_at_once_then_the_steady_rate() {
        let p = Pacer::per_minute(300);
        let t0 = Instant::now();
        let slots = schedule(&p, t0, 40);
        // Burst of 30 immediately.
        assert!(slots[..30].iter().all(|s| *s == t0));
        // Then one every 60/270 s (stretched by 1%).
        let step = slots[31] - slots[30];
        assert!(
            step >= Duration::from_millis(222) && step < Duration::from_millis(226),
            "{step:?}"
        );
    }

    #[test]
    fn no_rolling_minute_ever_holds_more_than_the_limit() {
        for limit in [1, 7, 300, 6000] {
            let p = Pacer::per_minute(limit);
            let t0 = Instant::now();
            let slots = schedule(&p, t0, limit as usize * 3 + 5);
            for (i, s) in slots.iter().enumerate() {
                let in_minute = slots[i..]
                    .iter()
                    .take_while(|t| **t - *s <= Duration::from_secs(60))
                    .count();
                assert!(
                    in_minute <= limit as usize,
                    "limit {limit}: {in_minute} at {i}"
                );
            }
        }
    }

    /// Whether no rolling minute of `slots` (sorted) holds more than `limit`.
    fn within_limit(slots: &[Instant], limit: usize) -> Result<(), String> {
        for (i, s) in slots.iter().enumerate() {
            let in_minute = slots[i..]
                .iter()
                .take_while(|t| **t - *s < Duration::from_secs(60))
                .count();
            if in_minute > limit {
                return Err(format!("{in_minute} requests in the minute from slot {i}"));
            }
        }
        Ok(())
    }

    /// Holder A books as fast as it may from `t0` and stops booking at
    /// `a_stops` (seconds after `t0`); what it had spent at `checkpoint` is
    /// continued by holder B from `b_starts` (`Some(takeover)`), or B starts
    /// afresh (`None`, as each worker's own pacer did before budgets were
    /// kept in the lease). B books until `t0 + 130 s`.
    fn handover(
        limit: u32,
        checkpoint: f64,
        a_stops: f64,
        b_starts: f64,
        takeover: Option<bool>,
    ) -> Vec<Instant> {
        let a = Pacer::per_minute(limit);
        let b = Pacer::per_minute(limit);
        let t0 = Instant::now();
        let at = |secs: f64| t0 + Duration::from_secs_f64(secs);
        let mut slots = Vec::new();
        let mut book = |p: &Pacer, from: Instant, until: Instant| {
            let mut now = from;
            loop {
                let slot = p.reserve(now);
                if slot >= until {
                    break;
                }
                slots.push(slot);
                now = slot;
            }
        };
        book(&a, t0, at(checkpoint));
        let spent = a.spent_at(at(checkpoint));
        book(&a, at(checkpoint), at(a_stops));
        if let Some(takeover) = takeover {
            b.resume_at(at(b_starts), spent, takeover);
        }
        book(&b, at(b_starts), at(130.0));
        slots.sort();
        slots
    }

    #[test]
    fn a_budget_handed_over_or_taken_over_keeps_every_minute_within_the_limit() {
        for limit in [30, 120, 300, 600, 6000] {
            let cases = [
                // Released at 20 s and acquired at once by another worker.
                ("release", 20.0, 20.0, 20.0, Some(false)),
                // A 30 s lease renewed at 10 s, its holder dead just before
                // the next renewal, taken over when it expires.
                ("30 s lease", 10.0, 19.99, 40.0, Some(true)),
                // The same with a 2 s lease.
                ("2 s lease", 10.0, 10.66, 12.0, Some(true)),
                // A 2 s lease whose holder spent its whole burst just after
                // acquiring it (the checkpoint), then died.
                ("burst after the checkpoint", 0.0, 0.66, 2.0, Some(true)),
            ];
            for (case, checkpoint, a_stops, b_starts, takeover) in cases {
                let slots = handover(limit, checkpoint, a_stops, b_starts, takeover);
                within_limit(&slots, limit as usize)
                    .unwrap_or_else(|e| panic!("limit {limit}, {case}: {e}"));
            }
        }
        // The check can fail: a second holder starting afresh, with a burst
        // of its own, goes over the limit in both short handovers; so does a
        // takeover that trusts the checkpoint's unspent burst.
        assert!(within_limit(&handover(600, 20.0, 20.0, 20.0, None), 600).is_err());
        assert!(within_limit(&handover(600, 10.0, 10.66, 12.0, None), 600).is_err());
        assert!(within_limit(&handover(600, 0.0, 0.66, 2.0, Some(false)), 600).is_err());
    }

    #[test]
    fn a_handed_over_budget_continues_the_same_schedule() {
        let (a, b, one) = (
            Pacer::per_minute(300),
            Pacer::per_minute(300),
            Pacer::per_minute(300),
        );
        let t0 = Instant::now();
        let booked_a = schedule(&a, t0, 40);
        b.resume_at(t0, a.spent_at(t0), false);
        // B's next slots are those A itself would have handed out next.
        let booked_one = schedule(&one, t0, 45);
        assert_eq!(booked_a[..], booked_one[..40]);
        assert_eq!(schedule(&b, t0, 5), booked_one[40..]);
    }

    #[test]
    fn a_pause_holds_everyone() {
        let p = Pacer::per_minute(0);
        let t0 = Instant::now();
        assert_eq!(p.reserve(t0), t0);
        p.pause_until(t0 + Duration::from_secs(2));
        assert_eq!(p.reserve(t0), t0 + Duration::from_secs(2));
        assert_eq!(
            p.reserve(t0 + Duration::from_secs(3)),
            t0 + Duration::from_secs(3)
        );
    }
}
