//! An adaptive concurrency limit: a gradient on latency, after Netflix's
//! concurrency-limits `Gradient2Limit`.
//!
//! Every window (100 ms and at least 20 samples) it compares the window's
//! average latency with the endpoint's usual latency: the lowest window
//! average of the last 100 windows (10 s or more), where a window in which
//! the limit was reached counts as at most 0.2% above the usual, so a
//! lasting queue raises the usual latency only slowly (about double after
//! 35 s) while a lasting change of latency under a limit that does not
//! bind is learnt within 100 windows. While requests
//! take no longer than `tolerance` times the usual, the limit grows by a
//! headroom of √limit; when they take longer it shrinks by the ratio (at
//! most halving per window), smoothed. Windows in which the endpoint did
//! not use half its limit leave the limit alone, so an idle endpoint does
//! not grow an unbounded limit. (Gradient2 uses a slow moving average as
//! the usual latency, which drifts up under a lasting overload.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The settings of a [`Gradient`] limit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GradientConfig {
    pub(crate) initial: usize,
    pub(crate) min: usize,
    pub(crate) max: usize,
    /// How much slower than usual requests may get before the limit shrinks.
    pub(crate) tolerance: f64,
    /// How much of each new estimate the limit takes (0..1).
    pub(crate) smoothing: f64,
    pub(crate) window: Duration,
    pub(crate) min_samples: u32,
    /// Windows the usual latency is the lowest of.
    pub(crate) history: usize,
}

impl Default for GradientConfig {
    fn default() -> Self {
        GradientConfig {
            initial: 100,
            min: 4,
            max: 1000,
            tolerance: 1.5,
            smoothing: 0.2,
            window: Duration::from_millis(100),
            min_samples: 20,
            history: 100,
        }
    }
}

/// A concurrency limit that follows latency.
#[derive(Debug)]
pub(crate) struct Gradient {
    config: GradientConfig,
    limit: AtomicUsize,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    estimate: f64,
    history: std::collections::VecDeque<f64>,
    window_start: Instant,
    sum: f64,
    samples: u32,
    max_in_flight: usize,
}

impl Gradient {
    pub(crate) fn new(config: GradientConfig) -> Gradient {
        Gradient {
            config,
            limit: AtomicUsize::new(config.initial),
            state: Mutex::new(State {
                estimate: config.initial as f64,
                history: std::collections::VecDeque::with_capacity(config.history),
                window_start: Instant::now(),
                sum: 0.0,
                samples: 0,
                max_in_flight: 0,
            }),
        }
    }

    /// The limit now.
    pub(crate) fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// Records a request that took `rtt` while `in_flight` requests (itself
    /// included) were admitted; returns the new limit when it changed.
    pub(crate) fn sample(&self, rtt: Duration, in_flight: usize, now: Instant) -> Option<usize> {
        // Never wait for the lock: a sample lost under contention is fine.
        let Ok(mut s) = self.state.try_lock() else {
            return None;
        };
        s.sum += rtt.as_secs_f64();
        s.samples += 1;
        s.max_in_flight = s.max_in_flight.max(in_flight);
        if now.saturating_duration_since(s.window_start) < self.config.window
            || s.samples < self.config.min_samples
        {
            return None;
        }
        let short = s.sum / f64::from(s.samples);
        let max_in_flight = s.max_in_flight;
        s.window_start = now;
        s.sum = 0.0;
        s.samples = 0;
        s.max_in_flight = 0;
        let c = &self.config;
        let usual = s.history.iter().copied().fold(f64::INFINITY, f64::min);
        // A window the limit held back (a queue may be what it measured)
        // may raise the usual latency only slowly: 0.2% per window, about
        // double after 35 s of lasting overload.
        let binding = max_in_flight >= self.limit();
        let learnt = if binding && usual.is_finite() {
            short.min(usual * 1.002)
        } else {
            short
        };
        if s.history.len() == c.history {
            s.history.pop_front();
        }
        s.history.push_back(learnt);
        let usual = s.history.iter().copied().fold(f64::INFINITY, f64::min);
        if (max_in_flight as f64) < s.estimate / 2.0 {
            return None;
        }
        let gradient = (c.tolerance * usual / short.max(1e-9)).clamp(0.5, 1.0);
        // Held back with no sign of a queue: grow fast (as TCP's slow
        // start), so a busy endpoint is not refused while the limit learns.
        let headroom = if binding && gradient >= 1.0 {
            s.estimate
        } else {
            s.estimate.sqrt()
        };
        let next = s.estimate * gradient + headroom;
        let estimate = (s.estimate * (1.0 - c.smoothing) + next * c.smoothing)
            .clamp(c.min as f64, c.max as f64);
        s.estimate = estimate;
        let limit = estimate as usize;
        let old = self.limit.swap(limit, Ordering::Relaxed);
        (old != limit).then_some(limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `windows` windows of samples from `rtt(limit)` with the endpoint
    /// using all of its limit; returns the limit after.
    fn drive(
        g: &Gradient,
        windows: u32,
        start: Instant,
        rtt: impl Fn(usize) -> Duration,
    ) -> Instant {
        let mut now = start;
        for _ in 0..windows {
            now += Duration::from_millis(101);
            let limit = g.limit();
            for _ in 0..20 {
                g.sample(rtt(limit), limit, now);
            }
        }
        now
    }

    #[test]
    fn grows_while_latency_holds_and_shrinks_when_it_queues() {
        let g = Gradient::new(GradientConfig::default());
        let start = Instant::now();
        // 10 ms whatever the concurrency: no queue, the limit grows.
        let now = drive(&g, 200, start, |_| Duration::from_millis(10));
        let grown = g.limit();
        assert!(grown > 100, "{grown}");
        // Now 8 workers of 10 ms: beyond 8 in flight requests queue.
        drive(&g, 300, now, |limit| {
            Duration::from_millis(10 * (limit as u64).div_ceil(8).max(1))
        });
        let shrunk = g.limit();
        assert!((4..=24).contains(&shrunk), "{shrunk}");
    }

    #[test]
    fn an_endpoint_that_does_not_use_its_limit_keeps_it() {
        let g = Gradient::new(GradientConfig::default());
        let mut now = Instant::now();
        for _ in 0..100 {
            now += Duration::from_millis(101);
            for _ in 0..20 {
                g.sample(Duration::from_millis(10), 1, now);
            }
        }
        assert_eq!(g.limit(), GradientConfig::default().initial);
    }

    #[test]
    fn never_leaves_min_and_max() {
        let g = Gradient::new(GradientConfig {
            max: 50,
            ..GradientConfig::default()
        });
        let start = Instant::now();
        let now = drive(&g, 500, start, |_| Duration::from_millis(1));
        assert_eq!(g.limit(), 50);
        // One worker: every request beyond the first queues.
        drive(&g, 300, now, |limit| Duration::from_millis(limit as u64));
        assert_eq!(g.limit(), 4);
    }
}
