//! A circuit breaker for a whole dependency (Hystrix's): when too many
//! calls fail over a rolling window, fail fast for a while, then let one
//! call through to see whether the dependency is back.

use std::time::{Duration, Instant};

use std::sync::{Mutex, MutexGuard};

/// When the breaker opens and for how long.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Breaker {
    /// The share of failed calls (0 to 1) that opens the breaker.
    pub error_rate: f64,
    /// Calls needed in the window before the rate counts.
    pub min_volume: u32,
    /// The rolling window.
    pub window: Duration,
    /// How long the breaker stays open before a probe.
    pub open_for: Duration,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            error_rate: 0.5,
            min_volume: 20,
            window: Duration::from_secs(10),
            open_for: Duration::from_secs(5),
        }
    }
}

impl Breaker {
    /// Opens at `error_rate` failures over 10 s (20 calls at least), for 5 s.
    pub fn new(error_rate: f64) -> Breaker {
        Breaker {
            error_rate,
            ..Breaker::default()
        }
    }

    /// The same breaker needing `calls` in the window.
    pub fn min_volume(mut self, calls: u32) -> Breaker {
        self.min_volume = calls;
        self
    }

    /// The same breaker over a `window`, open for `open_for`.
    pub fn timing(mut self, window: Duration, open_for: Duration) -> Breaker {
        self.window = window;
        self.open_for = open_for;
        self
    }
}

const BUCKETS: usize = 10;

#[derive(Debug)]
enum Phase {
    Closed,
    Open(Instant),
    HalfOpen { probing: bool },
}

/// A breaker's state.
#[derive(Debug)]
pub(crate) struct Circuit {
    policy: Breaker,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    /// (calls, failures) per bucket of window / BUCKETS.
    buckets: [(u32, u32); BUCKETS],
    bucket_at: Instant,
    current: usize,
}

/// A breaker transition, for logs and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trip {
    Opened,
    Closed,
}

impl Circuit {
    pub(crate) fn new(policy: Breaker) -> Circuit {
        Circuit {
            policy,
            inner: Mutex::new(Inner {
                phase: Phase::Closed,
                buckets: [(0, 0); BUCKETS],
                bucket_at: Instant::now(),
                current: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a call may go out now; `Err` says for how much longer the
    /// breaker stays open.
    pub(crate) fn allow(&self, now: Instant) -> Result<(), Duration> {
        let mut s = self.lock();
        match s.phase {
            Phase::Closed => Ok(()),
            Phase::Open(until) if now >= until => {
                s.phase = Phase::HalfOpen { probing: true };
                Ok(())
            }
            Phase::Open(until) => Err(until - now),
            Phase::HalfOpen { probing: true } => Err(Duration::ZERO),
            Phase::HalfOpen { probing: false } => {
                s.phase = Phase::HalfOpen { probing: true };
                Ok(())
            }
        }
    }

    /// Records a call's outcome.
    pub(crate) fn record(&self, ok: bool, now: Instant) -> Option<Trip> {
        let mut s = self.lock();
        let width = self.policy.window / BUCKETS as u32;
        while now.saturating_duration_since(s.bucket_at) >= width.max(Duration::from_millis(1)) {
            s.current = (s.current + 1) % BUCKETS;
            let i = s.current;
            s.buckets[i] = (0, 0);
            s.bucket_at += width.max(Duration::from_millis(1));
            if now.saturating_duration_since(s.bucket_at) > self.policy.window {
                s.buckets = [(0, 0); BUCKETS];
                s.bucket_at = now;
            }
        }
        let i = s.current;
        s.buckets[i].0 += 1;
        if !ok {
            s.buckets[i].1 += 1;
        }
        match s.phase {
            Phase::HalfOpen { .. } if ok => {
                s.phase = Phase::Closed;
                s.buckets = [(0, 0); BUCKETS];
                Some(Trip::Closed)
            }
            Phase::HalfOpen { .. } => {
                s.phase = Phase::Open(now + self.policy.open_for);
                Some(Trip::Opened)
            }
            Phase::Closed => {
                let (calls, failures) = s
                    .buckets
                    .iter()
                    .fold((0, 0), |(c, f), (bc, bf)| (c + bc, f + bf));
                let rate = f64::from(failures) / f64::from(calls.max(1));
                if calls >= self.policy.min_volume && rate >= self.policy.error_rate {
                    s.phase = Phase::Open(now + self.policy.open_for);
                    Some(Trip::Opened)
                } else {
                    None
                }
            }
            Phase::Open(_) => None,
        }
    }

    /// Whether calls are refused right now.
    #[cfg(test)]
    fn is_open(&self) -> bool {
        !matches!(self.lock().phase, Phase::Closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_on_the_error_rate_then_half_opens() {
        let c = Circuit::new(
            Breaker::new(0.5)
                .min_volume(10)
                .timing(Duration::from_secs(10), Duration::from_secs(2)),
        );
        let t0 = Instant::now();
        for _ in 0..9 {
            assert_eq!(c.record(false, t0), None, "below the volume");
        }
        assert_eq!(c.record(false, t0), Some(Trip::Opened));
        assert!(c.allow(t0).is_err());
        let t1 = t0 + Duration::from_secs(3);
        assert!(c.allow(t1).is_ok(), "one probe");
        assert!(c.allow(t1).is_err(), "only one");
        assert_eq!(c.record(true, t1), Some(Trip::Closed));
        assert!(c.allow(t1).is_ok());
        assert!(!c.is_open());
    }

    #[test]
    fn a_healthy_rate_stays_closed_and_old_failures_age_out() {
        let c = Circuit::new(Breaker::new(0.5).min_volume(4));
        let t0 = Instant::now();
        for i in 0..100 {
            assert_eq!(c.record(i % 3 != 2, t0), None);
        }
        let c = Circuit::new(Breaker::new(0.5).min_volume(4));
        for _ in 0..3 {
            c.record(false, t0);
        }
        // 20 s later the failures are out of the window.
        let later = t0 + Duration::from_secs(20);
        for _ in 0..3 {
            assert_eq!(c.record(true, later), None);
        }
        assert_eq!(c.record(false, later), None);
    }
}
