//! Peak-EWMA latency: Finagle's and linkerd's load measure. A slow
//! response raises the estimate at once (peak); fast ones lower it
//! gradually (exponentially weighted over a decay time).

use std::time::{Duration, Instant};

/// The latency estimate of one instance.
#[derive(Clone, Debug)]
pub(crate) struct PeakEwma {
    estimate: f64,
    at: Instant,
    decay: f64,
}

impl PeakEwma {
    /// A new estimate starting at `initial`, decaying over `decay`.
    pub(crate) fn new(initial: Duration, decay: Duration) -> PeakEwma {
        PeakEwma {
            estimate: initial.as_secs_f64(),
            at: Instant::now(),
            decay: decay.as_secs_f64().max(f64::EPSILON),
        }
    }

    /// Records a response that took `rtt`, observed at `now`.
    pub(crate) fn observe(&mut self, rtt: Duration, now: Instant) {
        let rtt = rtt.as_secs_f64();
        if rtt > self.estimate {
            self.estimate = rtt;
        } else {
            let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
            let w = (-elapsed / self.decay).exp();
            self.estimate = self.estimate * w + rtt * (1.0 - w);
        }
        self.at = now;
    }

    /// The estimate in seconds at `now`: it decays towards zero while
    /// nothing is observed (as Finagle's and tower's do), so an instance
    /// left aside after a slow spell is tried again in time.
    pub(crate) fn get(&self, now: Instant) -> f64 {
        let idle = now.saturating_duration_since(self.at).as_secs_f64();
        self.estimate * (-idle / self.decay).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_at_once_and_decays_slowly() {
        let start = Instant::now();
        let mut e = PeakEwma::new(Duration::from_millis(1), Duration::from_secs(10));
        e.observe(Duration::from_millis(50), start);
        assert!((e.get(start) - 0.050).abs() < 1e-9);
        // One fast answer 1 s later barely moves it (10 s decay).
        let t1 = start + Duration::from_secs(1);
        e.observe(Duration::from_millis(1), t1);
        assert!(e.get(t1) > 0.040 && e.get(t1) < 0.050, "{}", e.get(t1));
        // After a long quiet spell a fast answer dominates.
        let t2 = start + Duration::from_secs(100);
        e.observe(Duration::from_millis(1), t2);
        assert!(e.get(t2) < 0.002, "{}", e.get(t2));
    }

    #[test]
    fn an_idle_estimate_decays_towards_zero() {
        let start = Instant::now();
        let mut e = PeakEwma::new(Duration::from_millis(1), Duration::from_secs(10));
        e.observe(Duration::from_millis(50), start);
        let later = e.get(start + Duration::from_secs(10));
        assert!(
            (later - 0.050 / std::f64::consts::E).abs() < 1e-6,
            "{later}"
        );
        assert!(e.get(start + Duration::from_secs(60)) < 0.001);
    }
}
