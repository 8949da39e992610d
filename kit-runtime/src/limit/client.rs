//! The client's rate limit: a token bucket per client or per endpoint that
//! calls wait for (within their deadline) or fail fast on.

use std::time::Duration;

use tokio::time::Instant;

use super::{Rate, TokenBucket};
use crate::Error;

/// A client-side rate limit: at most [`Rate`] calls, either waiting for a
/// token (never past the call's deadline) or failing at once with
/// RESOURCE_EXHAUSTED. Set it with
/// [`ClientBuilder::rate_limit`](crate::ClientBuilder::rate_limit) or
/// [`ClientBuilder::endpoint_rate_limit`](crate::ClientBuilder::endpoint_rate_limit).
///
/// ```
/// use kit_runtime::limit::{ClientRateLimit, Rate};
/// let wait = ClientRateLimit::wait(Rate::per_second(100).burst(10));
/// let fail = ClientRateLimit::fail_fast("20/s".parse().unwrap());
/// # let _ = (wait, fail);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientRateLimit {
    rate: Rate,
    wait: bool,
}

impl ClientRateLimit {
    /// Calls beyond `rate` wait for their turn, within their deadline
    /// (calls without a deadline wait as long as it takes).
    pub fn wait(rate: Rate) -> ClientRateLimit {
        ClientRateLimit { rate, wait: true }
    }

    /// Calls beyond `rate` fail at once with RESOURCE_EXHAUSTED.
    pub fn fail_fast(rate: Rate) -> ClientRateLimit {
        ClientRateLimit { rate, wait: false }
    }
}

/// A [`ClientRateLimit`] in force.
#[derive(Debug)]
pub(crate) struct ClientLimiter {
    limit: ClientRateLimit,
    bucket: TokenBucket,
}

impl ClientLimiter {
    pub(crate) fn new(limit: ClientRateLimit) -> ClientLimiter {
        ClientLimiter {
            limit,
            bucket: TokenBucket::new(limit.rate),
        }
    }

    /// Waits for a token (or fails) for a call with `deadline`.
    pub(crate) async fn acquire(&self, what: &str, deadline: Option<Instant>) -> Result<(), Error> {
        let now = Instant::now();
        if !self.limit.wait {
            return self.bucket.try_take(now.into_std()).map_err(|wait| {
                Error::resource_exhausted(format!(
                    "{what}: client rate limit of {} reached; next call in {}",
                    self.limit.rate,
                    humantime::format_duration(round_up_ms(wait))
                ))
            });
        }
        let wait = self.bucket.reserve(now.into_std());
        if wait.is_zero() {
            return Ok(());
        }
        if deadline.is_some_and(|d| now + wait >= d) {
            self.bucket.give_back();
            return Err(Error::resource_exhausted(format!(
                "{what}: client rate limit of {} reached and the call's deadline comes before its turn",
                self.limit.rate
            )));
        }
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

fn round_up_ms(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiting_calls_are_spaced_by_the_rate() {
        let limiter = ClientLimiter::new(ClientRateLimit::wait(Rate::per_second(50).burst(1)));
        let started = Instant::now();
        for _ in 0..5 {
            limiter.acquire("t", None).await.unwrap();
        }
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(75), "{took:?}");
        // A deadline that comes before the turn fails at once.
        let err = limiter
            .acquire("t", Some(Instant::now() + Duration::from_millis(10)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), crate::Code::ResourceExhausted);
    }

    #[tokio::test]
    async fn fail_fast_refuses_beyond_the_burst() {
        let limiter = ClientLimiter::new(ClientRateLimit::fail_fast(Rate::per_second(1).burst(2)));
        limiter.acquire("t", None).await.unwrap();
        limiter.acquire("t", None).await.unwrap();
        let err = limiter.acquire("t", None).await.unwrap_err();
        assert_eq!(err.code(), crate::Code::ResourceExhausted);
        assert!(
            err.message().contains("client rate limit of 1/s burst 2"),
            "{err}"
        );
    }
}
