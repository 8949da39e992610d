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

    /// The estimate in seconds.
    pub(crate) fn get(&self) -> f64 {
        self.estimate
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
        assert!((e.get() - 0.050).abs() < 1e-9);
        // One fast answer 1 s later barely moves it (10 s decay).
        e.observe(Duration::from_millis(1), start + Duration::from_secs(1));
        assert!(e.get() > 0.040 && e.get() < 0.050, "{}", e.get());
        // After a long quiet spell a fast answer dominates.
        e.observe(Duration::from_millis(1), start + Duration::from_secs(100));
        assert!(e.get() < 0.002, "{}", e.get());
    }
}
