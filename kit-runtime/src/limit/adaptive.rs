//! An adaptive concurrency limit: a gradient on latency, after Netflix's
//! concurrency-limits `Gradient2Limit` and Envoy's adaptive concurrency.
//!
//! The limit starts at 20. The endpoint's usual latency is learnt from requests admitted while at
//! most two others ran (a moving average of them): those waited in no
//! queue, whatever the load. Every window (100 ms and at least 20 samples,
//! or four limits' worth of requests, for a busy endpoint) the window's
//! average latency is compared with it: while requests take
//! no longer than `tolerance` (1.1) times the usual, the limit grows (by
//! √limit, smoothed; until it first shrinks, it doubles while it holds
//! requests back, as TCP's slow start); when they take longer it shrinks at once by the ratio (at
//! most halving per window) plus one request of slack, so it settles where
//! the queue is near empty. Windows in which the endpoint did not use half its limit
//! leave the limit alone, so an idle endpoint does not grow an unbounded
//! limit. A lasting overload keeps admitting few enough requests now and
//! then to relearn the usual latency, so it neither drifts up with the
//! queue (as Gradient2's long average does) nor stays wrong when the
//! endpoint's latency really changed.

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
    /// Requests in flight (the sample included) at most, for a sample to
    /// tell the usual latency.
    pub(crate) quiet: usize,
    /// Weight of one quiet sample in the usual latency.
    pub(crate) usual_weight: f64,
}

impl Default for GradientConfig {
    fn default() -> Self {
        GradientConfig {
            initial: 20,
            min: 4,
            max: 1000,
            tolerance: 1.1,
            smoothing: 0.2,
            window: Duration::from_millis(100),
            min_samples: 20,
            quiet: 2,
            usual_weight: 0.1,
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
    usual: Option<f64>,
    window_start: Instant,
    sum: f64,
    samples: u32,
    max_in_flight: usize,
    /// Until the limit first shrinks, it doubles while it holds requests
    /// back without a sign of a queue (TCP's slow start).
    slow_start: bool,
}

impl Gradient {
    pub(crate) fn new(config: GradientConfig) -> Gradient {
        Gradient {
            config,
            limit: AtomicUsize::new(config.initial),
            state: Mutex::new(State {
                estimate: config.initial as f64,
                usual: None,
                window_start: Instant::now(),
                sum: 0.0,
                samples: 0,
                max_in_flight: 0,
                slow_start: true,
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
        let c = &self.config;
        let secs = rtt.as_secs_f64();
        if in_flight <= c.quiet {
            s.usual = Some(match s.usual {
                Some(u) => u * (1.0 - c.usual_weight) + secs * c.usual_weight,
                None => secs,
            });
        }
        s.sum += secs;
        s.samples += 1;
        s.max_in_flight = s.max_in_flight.max(in_flight);
        // A window is 100 ms, or sooner for a busy endpoint: four limits' worth.
        let long_enough = now.saturating_duration_since(s.window_start) >= self.config.window
            || f64::from(s.samples) >= 4.0 * s.estimate;
        if !long_enough || s.samples < self.config.min_samples {
            return None;
        }
        let short = s.sum / f64::from(s.samples);
        let max_in_flight = s.max_in_flight;
        s.window_start = now;
        s.sum = 0.0;
        s.samples = 0;
        s.max_in_flight = 0;
        let binding = max_in_flight >= self.limit();
        let usual = s.usual?;
        if (max_in_flight as f64) < s.estimate / 2.0 {
            return None;
        }
        let gradient = (c.tolerance * usual / short.max(1e-9)).clamp(0.5, 1.0);
        // Held back with no sign of a queue: grow fast (as TCP's slow
        // start), so a busy endpoint is not refused while the limit learns.
        let doubling = s.slow_start && binding && gradient >= 1.0;
        // Room to grow while latency holds; one request of slack once a
        // queue shows, so the limit settles where the queue is near empty.
        let headroom = if doubling {
            s.estimate
        } else if gradient >= 1.0 {
            s.estimate.sqrt()
        } else {
            1.0
        };
        let next = s.estimate * gradient + headroom;
        // Down at once (a queue is building now), doubling at once (held
        // back with no sign of a queue), otherwise up smoothed.
        if next < s.estimate {
            s.slow_start = false;
        }
        let estimate = if next < s.estimate || doubling {
            next
        } else {
            s.estimate * (1.0 - c.smoothing) + next * c.smoothing
        }
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

    /// Runs `windows` windows, each of one quiet request taking `quiet`
    /// and 20 taking `rtt(limit)` with the endpoint using all of its
    /// limit; returns the time after.
    fn drive(
        g: &Gradient,
        windows: u32,
        start: Instant,
        quiet: Duration,
        rtt: impl Fn(usize) -> Duration,
    ) -> Instant {
        let mut now = start;
        for _ in 0..windows {
            now += Duration::from_millis(101);
            let limit = g.limit();
            g.sample(quiet, 1, now);
            for _ in 0..20 {
                g.sample(rtt(limit), limit, now);
            }
        }
        now
    }

    #[test]
    fn grows_while_latency_holds_and_shrinks_when_it_queues() {
        let g = Gradient::new(GradientConfig::default());
        let ms = Duration::from_millis;
        // 10 ms whatever the concurrency: no queue, the limit grows.
        let now = drive(&g, 50, Instant::now(), ms(10), |_| ms(10));
        let grown = g.limit();
        assert!(grown > 300, "{grown}");
        // Now 8 workers of 10 ms: beyond 8 in flight requests queue.
        drive(&g, 100, now, ms(10), |limit| {
            ms(10 * (limit as u64).div_ceil(8).max(1))
        });
        let shrunk = g.limit();
        assert!((4..=16).contains(&shrunk), "{shrunk}");
    }

    #[test]
    fn without_quiet_requests_there_is_nothing_to_compare_with() {
        let g = Gradient::new(GradientConfig::default());
        let mut now = Instant::now();
        for _ in 0..100 {
            now += Duration::from_millis(101);
            for _ in 0..20 {
                g.sample(Duration::from_secs(1), 100, now);
            }
        }
        assert_eq!(g.limit(), GradientConfig::default().initial);
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
        let ms = Duration::from_millis;
        let now = drive(&g, 100, Instant::now(), ms(1), |_| ms(1));
        assert_eq!(g.limit(), 50);
        // One worker: every request beyond the first queues.
        drive(&g, 100, now, ms(1), |limit| ms(limit as u64));
        assert_eq!(g.limit(), 4);
    }
}
