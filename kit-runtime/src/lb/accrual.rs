//! Failure accrual, per instance: after enough consecutive failures an
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
}

impl Default for Accrual {
    fn default() -> Self {
        Accrual {
            failures: 5,
            min_ejection: Duration::from_secs(5),
            max_ejection: Duration::from_secs(300),
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
        }
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

    /// A request was sent.
    pub(crate) fn started(&mut self) {
        if let State::Probing { .. } = self.state {
            self.state = State::Probing { in_flight: true };
        }
    }

    /// A request succeeded.
    pub(crate) fn success(&mut self) -> Option<Transition> {
        self.consecutive = 0;
        if let State::Probing { .. } = self.state {
            self.state = State::Live;
            self.ejections = 0;
            return Some(Transition::Restored);
        }
        None
    }

    /// A request failed (the instance did not answer, or answered
    /// UNAVAILABLE).
    pub(crate) fn failure(&mut self, now: Instant) -> Option<Transition> {
        self.consecutive += 1;
        let probe_failed = matches!(self.state, State::Probing { .. });
        let enough = self.policy.failures > 0 && self.consecutive >= self.policy.failures;
        if !(probe_failed || (enough && self.state == State::Live)) {
            return None;
        }
        let backoff = self
            .policy
            .min_ejection
            .saturating_mul(1u32 << self.ejections.min(16))
            .min(self.policy.max_ejection);
        // Jitter: between half and all of the backoff, so a fleet of
        // clients does not probe in step.
        let half = backoff / 2;
        let jitter = Duration::from_nanos(fastrand::u64(
            0..=u64::try_from(half.as_nanos()).unwrap_or(u64::MAX),
        ));
        let out_for = half + jitter;
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
            d >= Duration::from_secs(2) && d <= Duration::from_secs(4),
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
            d >= Duration::from_secs(4) && d <= Duration::from_secs(8),
            "{d:?}"
        );
        let later = later + Duration::from_secs(9);
        assert!(h.available(later));
        h.started();
        assert_eq!(h.success(), Some(Transition::Restored));
        assert_eq!(h.state(), State::Live);
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
