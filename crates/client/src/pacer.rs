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
