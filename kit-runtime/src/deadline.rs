//! Deadlines across hops: the header that carries the caller's remaining
//! time, and the layer that enforces the smaller of it and the endpoint's
//! own timeout.

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Request, Response};
use tokio::time::Instant;
use tower::{Layer, Service};

use crate::transport::Protocol;
use crate::{Context, Error};

/// Header with the caller's remaining time in whole milliseconds, on HTTP.
/// (gRPC uses its standard `grpc-timeout` header, see [`parse_grpc_timeout`].)
pub const TIMEOUT_HEADER: &str = "kit-timeout-ms";

/// Reads [`TIMEOUT_HEADER`]; `None` when absent or not a number.
pub fn timeout_from_headers(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(TIMEOUT_HEADER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_millis)
}

/// Encodes a remaining time for [`TIMEOUT_HEADER`], rounding down so the
/// callee never believes it has more time than the caller.
pub fn timeout_header_value(remaining: Duration) -> HeaderValue {
    let millis = u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX);
    HeaderValue::from(millis)
}

/// Parses a gRPC `grpc-timeout` value: up to 8 digits and a unit of
/// `H`, `M`, `S`, `m`, `u` or `n`.
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Formats a `grpc-timeout` value with the finest unit that fits in 8 digits.
pub fn format_grpc_timeout(timeout: Duration) -> String {
    const MAX: u128 = 99_999_999;
    let nanos = timeout.as_nanos();
    let units: [(u128, char); 6] = [
        (1, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
        (3_600_000_000_000, 'H'),
    ];
    for (per, unit) in units {
        let n = nanos / per;
        if n <= MAX {
            return format!("{n}{unit}");
        }
    }
    format!("{MAX}H")
}

/// The deadline a server uses: the earlier of `now + own` (the endpoint's
/// `timeout`) and `now + caller` (what the caller has left).
pub fn effective_deadline(
    now: Instant,
    own: Option<Duration>,
    caller: Option<Duration>,
) -> Option<Instant> {
    match (own, caller) {
        (Some(a), Some(b)) => Some(now + a.min(b)),
        (Some(d), None) | (None, Some(d)) => Some(now + d),
        (None, None) => None,
    }
}

/// Answers `DEADLINE_EXCEEDED` and drops the inner future when the request's
/// deadline (from the current [`Context`], set by the trace layer) passes.
pub struct DeadlineLayer<P> {
    _protocol: PhantomData<fn() -> P>,
}

impl<P> DeadlineLayer<P> {
    /// A deadline layer for protocol `P`.
    pub fn new() -> Self {
        DeadlineLayer {
            _protocol: PhantomData,
        }
    }
}

impl<P> Default for DeadlineLayer<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P> Clone for DeadlineLayer<P> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<S, P> Layer<S> for DeadlineLayer<P> {
    type Service = Deadline<S, P>;
    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            _protocol: PhantomData,
        }
    }
}

/// The service made by [`DeadlineLayer`].
pub struct Deadline<S, P> {
    inner: S,
    _protocol: PhantomData<fn() -> P>,
}

impl<S: Clone, P> Clone for Deadline<S, P> {
    fn clone(&self) -> Self {
        Deadline {
            inner: self.inner.clone(),
            _protocol: PhantomData,
        }
    }
}

impl<S, P, B> Service<Request<B>> for Deadline<S, P>
where
    S: Service<Request<B>, Response = Response<P::Body>, Error = Infallible>,
    P: Protocol,
{
    type Response = Response<P::Body>;
    type Error = Infallible;
    type Future = DeadlineFuture<S::Future, P>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        DeadlineFuture {
            inner: self.inner.call(req),
            sleep: None,
            started: false,
            _protocol: PhantomData,
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Deadline`]: the inner future, raced against a timer
    /// armed at the first poll from the current [`Context`]'s deadline
    /// (polled inside the scope the trace layer sets).
    pub struct DeadlineFuture<F, P> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Option<tokio::time::Sleep>,
        started: bool,
        _protocol: PhantomData<fn() -> P>,
    }
}

impl<F, P> Future for DeadlineFuture<F, P>
where
    F: Future<Output = Result<Response<P::Body>, Infallible>>,
    P: Protocol,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if !*this.started {
            *this.started = true;
            if let Some(deadline) = Context::try_current().and_then(|c| c.deadline()) {
                this.sleep.set(Some(tokio::time::sleep_until(deadline)));
            }
        }
        if let Poll::Ready(output) = this.inner.poll(cx) {
            return Poll::Ready(output);
        }
        match this.sleep.as_pin_mut() {
            Some(sleep) => {
                std::task::ready!(sleep.poll(cx));
                Poll::Ready(Ok(P::error_response(&Error::deadline_exceeded(
                    "deadline exceeded before the handler finished",
                ))))
            }
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_round_trips() {
        for (text, d) in [
            ("1S", Duration::from_secs(1)),
            ("250m", Duration::from_millis(250)),
            ("7u", Duration::from_micros(7)),
            ("3n", Duration::from_nanos(3)),
            ("2M", Duration::from_secs(120)),
            ("1H", Duration::from_secs(3600)),
        ] {
            assert_eq!(parse_grpc_timeout(text), Some(d), "{text}");
        }
        for bad in ["", "S", "123456789S", "1s", "-1S", "1.5S"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad}");
        }
        for d in [
            Duration::from_millis(1500),
            Duration::from_secs(86_400 * 365),
            Duration::ZERO,
        ] {
            let back = parse_grpc_timeout(&format_grpc_timeout(d)).unwrap();
            assert!(
                back <= d && d - back < d / 1000 + Duration::from_nanos(1),
                "{d:?} -> {back:?}"
            );
        }
    }

    #[test]
    fn header_is_whole_millis_rounded_down() {
        let v = timeout_header_value(Duration::from_micros(1999));
        assert_eq!(v, "1");
        let mut h = HeaderMap::new();
        h.insert(TIMEOUT_HEADER, v);
        assert_eq!(timeout_from_headers(&h), Some(Duration::from_millis(1)));
        h.insert(TIMEOUT_HEADER, HeaderValue::from_static("soon"));
        assert_eq!(timeout_from_headers(&h), None);
    }

    #[test]
    fn effective_deadline_is_the_smaller() {
        let now = Instant::now();
        let s = Duration::from_secs;
        assert_eq!(
            effective_deadline(now, Some(s(2)), Some(s(1))),
            Some(now + s(1))
        );
        assert_eq!(
            effective_deadline(now, Some(s(2)), Some(s(5))),
            Some(now + s(2))
        );
        assert_eq!(effective_deadline(now, None, Some(s(5))), Some(now + s(5)));
        assert_eq!(effective_deadline(now, None, None), None);
    }
}
