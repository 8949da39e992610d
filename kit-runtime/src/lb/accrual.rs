//! Failure accrual, per instance: after enough consecutive failures (or
//! with a success rate under a floor over a window of requests) an
//! instance is ejected for a jittered, growing time, then probed with one
//! request before it takes traffic again (Finagle's defaults: 5 failures,
//! 5 s to 300 s).

use std::time::{Duration, Instant};

/// When to eject an instance and for how long.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Accrual {
    /// Consecutive failures that eject an instance (0: never).
    pub failures: u32,
    /// The first ejection's length, before jitter.
    pub min_ejection: Duration,
    /// The longest ejection.
    pub max_ejection: Duration,
    /// Also eject when the success rate over about the last `.1` requests
    /// (an exponentially weighted average) falls under `.0`.
    pub success_rate: Option<(f64, u32)>,
}

impl Default for Accrual {
    fn default() -> Self {
        Accrual {
            failures: 5,
            min_ejection: Duration::from_secs(5),
            max_ejection: Duration::from_secs(300),
            success_rate: None,
        }
    }
}

impl Accrual {
    /// Ejects after `failures` consecutive failures, for 5 s to 300 s.
    pub fn consecutive(failures: u32) -> Accrual {
        Accrual {
            failures,
            ..Accrual::default()
        }
    }

    /// Never ejects.
    pub fn off() -> Accrual {
        Accrual::consecutive(0)
    }

    /// The same policy, also ejecting an instance whose success rate over
    /// about the last `window` requests is under `floor` (Finagle's
    /// `successRate` policy), once it has seen `window` requests.
    ///
    /// ```
    /// let a = kit_runtime::lb::Accrual::default().with_success_rate(0.8, 100);
    /// assert_eq!(a.success_rate, Some((0.8, 100)));
    /// ```
    pub fn with_success_rate(mut self, floor: f64, window: u32) -> Accrual {
        self.success_rate = Some((floor.clamp(0.0, 1.0), window.max(1)));
        self
    }

    /// The same policy with ejections from `min` to `max`.
    pub fn ejection(mut self, min: Duration, max: Duration) -> Accrual {
        self.min_ejection = min;
        self.max_ejection = max.max(min);
        self
    }
}

/// Where an instance stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Takes traffic.
    Live,
    /// Out until the instant.
    Ejected(Instant),
    /// Back on probation: one request at a time decides.
    Probing { in_flight: bool },
}

/// The accrual state of one instance.
#[derive(Clone, Debug)]
pub(crate) struct Health {
    policy: Accrual,
    state: State,
    consecutive: u32,
    ejections: u32,
    /// Success rate (EWMA over the window) and requests seen.
    rate: f64,
    seen: u32,
}

/// What a state change was, for logs and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transition {
    Ejected(Duration),
    Restored,
}

impl Health {
    pub(crate) fn new(policy: Accrual) -> Health {
        Health {
            policy,
            state: State::Live,
            consecutive: 0,
            ejections: 0,
            rate: 1.0,
            seen: 0,
        }
    }

    fn observe(&mut self, ok: bool) {
        if let Some((_, window)) = self.policy.success_rate {
            let x = if ok { 1.0 } else { 0.0 };
            self.rate += (x - self.rate) / f64::from(window);
            self.seen = self.seen.saturating_add(1);
        }
    }

    fn rate_too_low(&self) -> bool {
        self.policy
            .success_rate
            .is_some_and(|(floor, window)| self.seen >= window && self.rate < floor)
    }

    pub(crate) fn state(&self) -> State {
        self.state
    }

    /// Whether a request may go to the instance now (a probe counts as the
    /// one request it lets through).
    pub(crate) fn available(&mut self, now: Instant) -> bool {
        match self.state {
            State::Live => true,
            State::Ejected(until) if now >= until => {
                self.state = State::Probing { in_flight: false };
                true
            }
            State::Ejected(_) => false,
            State::Probing { in_flight } => !in_flight,
        }
    }

    /// Whether [`Health::available`] would let a request through at `now`,
    /// without changing the state.
    pub(crate) fn could_take(&self, now: Instant) -> bool {
        match self.state {
            State::Live => true,
            State::Ejected(until) => now >= until,
            State::Probing { in_flight } => !in_flight,
        }
    }

    /// A request was sent.
    pub(crate) fn started(&mut self) {
        if let State::Probing { .. } = self.state {
            self.state = State::Probing { in_flight: true };
        }
    }

    /// A request succeeded.
    pub(crate) fn success(&mut self) -> Option<Transition> {
        self.consecutive = 0;
        self.observe(true);
        if let State::Probing { .. } = self.state {
            self.state = State::Live;
            self.ejections = 0;
            self.rate = 1.0;
            self.seen = 0;
            return Some(Transition::Restored);
        }
        None
    }

    /// A request failed (the instance did not answer, or answered
    /// UNAVAILABLE).
    pub(crate) fn failure(&mut self, now: Instant) -> Option<Transition> {
        self.consecutive += 1;
        self.observe(false);
        let probe_failed = matches!(self.state, State::Probing { .. });
        let enough = (self.policy.failures > 0 && self.consecutive >= self.policy.failures)
            || self.rate_too_low();
        if !(probe_failed || (enough && self.state == State::Live)) {
            return None;
        }
        let backoff = self
            .policy
            .min_ejection
            .saturating_mul(1u32 << self.ejections.min(16))
            .min(self.policy.max_ejection);
        // Jitter, so a fleet of clients does not probe in step: up to a
        // fifth more than the backoff, or under the maximum once there,
        // always within [min_ejection, max_ejection].
        let (lo, hi) = if backoff.mul_f64(1.2) <= self.policy.max_ejection {
            (backoff, backoff.mul_f64(1.2))
        } else {
            (
                backoff.mul_f64(0.8).max(self.policy.min_ejection),
                self.policy.max_ejection,
            )
        };
        let spread = u64::try_from(hi.saturating_sub(lo).as_nanos()).unwrap_or(u64::MAX);
        let out_for = lo + Duration::from_nanos(fastrand::u64(0..=spread));
        self.ejections += 1;
        self.state = State::Ejected(now + out_for);
        Some(Transition::Ejected(out_for))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_eject_then_one_probe_decides() {
        let policy = Accrual::default().ejection(Duration::from_secs(4), Duration::from_secs(16));
        let mut h = Health::new(policy);
        let t0 = Instant::now();
        for _ in 0..4 {
            assert_eq!(h.failure(t0), None);
        }
        h.success();
        for _ in 0..4 {
            assert_eq!(h.failure(t0), None);
        }
        let Some(Transition::Ejected(d)) = h.failure(t0) else {
            panic!("five in a row eject")
        };
        assert!(
            d >= Duration::from_secs(4) && d <= Duration::from_millis(4800),
            "{d:?}"
        );
        assert!(!h.available(t0));
        // After the ejection: one probe at a time.
        let later = t0 + Duration::from_secs(5);
        assert!(h.available(later));
        h.started();
        assert!(!h.available(later));
        // The probe fails: ejected again, for longer.
        let Some(Transition::Ejected(d)) = h.failure(later) else {
            panic!("a failed probe ejects")
        };
        assert!(
            d >= Duration::from_secs(8) && d <= Duration::from_millis(9600),
            "{d:?}"
        );
        let later = later + Duration::from_secs(10);
        assert!(h.available(later));
        h.started();
        assert_eq!(h.success(), Some(Transition::Restored));
        assert_eq!(h.state(), State::Live);
    }

    #[test]
    fn ejections_stay_within_bounds_and_are_jittered() {
        let policy = Accrual::default();
        let t0 = Instant::now();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..20 {
            let mut h = Health::new(policy);
            for round in 0..12 {
                let out = loop {
                    if let Some(Transition::Ejected(d)) = h.failure(t0) {
                        break d;
                    }
                };
                assert!(out >= Duration::from_secs(5), "round {round}: {out:?}");
                assert!(out <= Duration::from_secs(300), "round {round}: {out:?}");
                if round == 0 {
                    seen.insert(out.as_millis());
                }
                h.available(t0 + Duration::from_secs(301));
                h.started();
            }
        }
        assert!(seen.len() > 10, "first ejections all alike: {seen:?}");
    }

    #[test]
    fn a_low_success_rate_ejects_without_five_in_a_row() {
        let policy = Accrual::default().with_success_rate(0.8, 20);
        let mut h = Health::new(policy);
        let t0 = Instant::now();
        // Every other request fails: never 5 in a row, but 50% success.
        let mut ejected = None;
        for i in 0..100 {
            let t = if i % 2 == 0 {
                h.success()
            } else {
                h.failure(t0)
            };
            if let Some(Transition::Ejected(_)) = t {
                ejected = Some(i);
                break;
            }
        }
        let at = ejected.expect("ejected on the success rate");
        assert!(at >= 19, "before the window filled: {at}");
        // 90% success stays in.
        let mut h = Health::new(policy);
        for i in 0..1000 {
            let t = if i % 10 == 0 {
                h.failure(t0)
            } else {
                h.success()
            };
            assert_eq!(t, None, "at {i}");
        }
    }

    #[test]
    fn off_never_ejects() {
        let mut h = Health::new(Accrual::off());
        for _ in 0..100 {
            assert_eq!(h.failure(Instant::now()), None);
        }
        assert!(h.available(Instant::now()));
    }
}
