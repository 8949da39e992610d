//! When and how often clients retry: the retry decision, exponential
//! backoff with jitter, and a retry budget (Finagle's defaults, built on
//! tower's `TpsBudget`).

use std::time::Duration;

use tower::retry::budget::{Budget, TpsBudget};

use crate::Code;

/// Whether a failed attempt may be retried.
///
/// Only `UNAVAILABLE` is retryable, and only when the endpoint is
/// idempotent or the request provably never reached the server (the
/// connection was refused, or HTTP/2 refused the stream before processing).
pub(crate) fn is_retryable(code: Code, maybe_processed: bool, idempotent: bool) -> bool {
    code == Code::Unavailable && (idempotent || !maybe_processed)
}

/// Exponential backoff with "equal jitter": attempt `n` (from 0) sleeps a
/// random time in `[d/2, d]` where `d = min(max, base * 2^n)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Backoff before the first retry, before jitter.
    pub base: Duration,
    /// Upper bound of any backoff.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_secs(1),
        }
    }
}

impl Backoff {
    /// The ceiling for attempt `n`, before jitter.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The jittered sleep before retry number `attempt + 1`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        let jitter = fastrand::u64(0..=u64::try_from(half.as_nanos()).unwrap_or(u64::MAX));
        half + Duration::from_nanos(jitter)
    }
}

/// Caps retries to a fraction of regular traffic so retries cannot turn a
/// partial outage into an overload. Finagle's default: retries may add 20%
/// to the request rate, plus a floor of 10 retries per second, measured
/// over a 10 s window.
pub struct RetryBudget {
    inner: TpsBudget,
}

impl std::fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryBudget").finish_non_exhaustive()
    }
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget::new(Duration::from_secs(10), 10, 0.2)
    }
}

impl RetryBudget {
    /// `min_per_sec` retries per second always allowed, plus `percent` of
    /// the requests deposited over `ttl`.
    pub fn new(ttl: Duration, min_per_sec: u32, percent: f32) -> RetryBudget {
        RetryBudget {
            inner: TpsBudget::new(ttl, min_per_sec, percent),
        }
    }

    /// Records a request (each adds `percent` of a retry to the budget).
    pub fn deposit(&self) {
        self.inner.deposit();
    }

    /// Takes one retry from the budget; `false` if it is spent.
    pub fn withdraw(&self) -> bool {
        self.inner.withdraw()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let b = Backoff::default();
        assert_eq!(b.ceiling(0), Duration::from_millis(20));
        assert_eq!(b.ceiling(1), Duration::from_millis(40));
        assert_eq!(b.ceiling(3), Duration::from_millis(160));
        assert_eq!(b.ceiling(10), Duration::from_secs(1));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(1));
        for attempt in 0..12 {
            for _ in 0..100 {
                let d = b.delay(attempt);
                assert!(
                    d >= b.ceiling(attempt) / 2 && d <= b.ceiling(attempt),
                    "{attempt}: {d:?}"
                );
            }
        }
    }

    #[test]
    fn budget_allows_the_floor_then_a_fraction() {
        // 0 retries/s floor, 50%: two requests buy one retry.
        let budget = RetryBudget::new(Duration::from_secs(10), 0, 0.5);
        assert!(!budget.withdraw());
        budget.deposit();
        budget.deposit();
        assert!(budget.withdraw());
        assert!(!budget.withdraw());

        // The Finagle default reserves 10 retries/s over the 10 s window:
        // a burst of 100 retries with no traffic, then nothing.
        let default = RetryBudget::default();
        let allowed = (0..1000).filter(|_| default.withdraw()).count();
        assert_eq!(allowed, 100);
    }

    #[test]
    fn unavailable_is_retried_when_safe() {
        assert!(is_retryable(Code::Unavailable, false, false)); // never sent
        assert!(!is_retryable(Code::Unavailable, true, false)); // maybe processed
        assert!(is_retryable(Code::Unavailable, true, true)); // idempotent
    }

    #[test]
    fn only_unavailable_is_retried() {
        for code in Code::ALL {
            assert_eq!(is_retryable(code, false, false), code == Code::Unavailable);
        }
    }
}
