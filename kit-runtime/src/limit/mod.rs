//! Limits: how many requests an endpoint runs at once (a fixed number, or
//! an adaptive limit that follows latency), how fast callers may call
//! ([`Rate`], per endpoint or per caller by a [`RateKey`]), on the server
//! and in clients.
//!
//! On the server they come from annotations and flags:
//!
//! ```
//! # #[derive(Default)] struct Strings;
//! #[kit::service(concurrency = 256)] // the whole service, shared
//! impl Strings {
//!     #[endpoint(http = "POST /uppercase", concurrency = 32, rate = "100/s", burst = 20)]
//!     async fn uppercase(&self, s: String) -> String { s.to_uppercase() }
//! }
//! ```
//!
//! Beyond a concurrency limit a request is refused at once, before it
//! runs, with 503 / UNAVAILABLE, `Retry-After` and the header
//! `kit-nack: 1` (Finagle's nack): kit's clients send it again to another
//! instance, even for endpoints that are not idempotent, because it was
//! not processed. Beyond a rate the answer is 429 / RESOURCE_EXHAUSTED with
//! `Retry-After`, not a nack: the caller should slow down.

mod adaptive;
mod client;
mod concurrency;
mod rate;

pub(crate) use adaptive::{Gradient, GradientConfig};
pub(crate) use client::ClientLimiter;
pub use client::ClientRateLimit;
pub(crate) use concurrency::{ConcurrencyLimit, ConcurrencyPermit};
pub use rate::Rate;
pub(crate) use rate::TokenBucket;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Who a request counts against, for per-caller rate limits: requests
/// with the same key share a bucket; `None` shares the endpoint's bucket
/// with every other request without a key.
///
/// ```
/// use kit_runtime::limit::{ByHeader, RateKey, RequestHead};
/// let key = ByHeader::new("x-api-key");
/// let request = http::Request::builder()
///     .header("x-api-key", "team-a")
///     .body(())
///     .unwrap();
/// assert_eq!(key.key(&RequestHead::of(&request)).as_deref(), Some("team-a"));
/// ```
///
/// A closure `Fn(&RequestHead) -> Option<String>` is a key too; set one
/// with [`Server::rate_limit_key`](crate::Server::rate_limit_key).
pub trait RateKey: Send + Sync + 'static {
    /// The caller's key.
    fn key(&self, request: &RequestHead<'_>) -> Option<String>;
}

impl<F> RateKey for F
where
    F: Fn(&RequestHead<'_>) -> Option<String> + Send + Sync + 'static,
{
    fn key(&self, request: &RequestHead<'_>) -> Option<String> {
        self(request)
    }
}

/// The head of a request, borrowed: what a [`RateKey`] reads.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct RequestHead<'a> {
    /// The method.
    pub method: &'a http::Method,
    /// The URI.
    pub uri: &'a http::Uri,
    /// The headers (gRPC metadata included).
    pub headers: &'a http::HeaderMap,
    /// The extensions layers put there.
    pub extensions: &'a http::Extensions,
}

impl<'a> RequestHead<'a> {
    /// The head of `request`.
    pub fn of<B>(request: &'a http::Request<B>) -> RequestHead<'a> {
        RequestHead {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
            extensions: request.extensions(),
        }
    }
}

/// Keys callers by the value of a request header (gRPC metadata is a header).
#[derive(Clone, Debug)]
pub struct ByHeader {
    name: http::HeaderName,
}

impl ByHeader {
    /// Keys by header `name`.
    ///
    /// # Panics
    ///
    /// If `name` is not a valid header name.
    pub fn new(name: &str) -> ByHeader {
        ByHeader {
            name: http::HeaderName::try_from(name).expect("a valid header name"),
        }
    }
}

impl RateKey for ByHeader {
    fn key(&self, request: &RequestHead<'_>) -> Option<String> {
        request
            .headers
            .get(&self.name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// Per-caller buckets of one rate, at most [`MAX_KEYS`] of them.
#[derive(Debug)]
pub(crate) struct KeyedBuckets {
    rate: Rate,
    shared: TokenBucket,
    keyed: Mutex<HashMap<String, TokenBucket>>,
}

/// Callers remembered per endpoint; beyond it, buckets unused for a
/// minute are forgotten, and if none is, new callers share one bucket.
pub(crate) const MAX_KEYS: usize = 10_000;

impl KeyedBuckets {
    pub(crate) fn new(rate: Rate) -> KeyedBuckets {
        KeyedBuckets {
            rate,
            shared: TokenBucket::new(rate),
            keyed: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token from `key`'s bucket (the shared one without a key).
    pub(crate) fn try_take(&self, key: Option<&str>, now: Instant) -> Result<(), Duration> {
        let Some(key) = key else {
            return self.shared.try_take(now);
        };
        let Ok(mut keyed) = self.keyed.lock() else {
            return Ok(());
        };
        if let Some(bucket) = keyed.get(key) {
            return bucket.try_take(now);
        }
        if keyed.len() >= MAX_KEYS {
            let minute = Duration::from_secs(60);
            keyed.retain(|_, b| {
                b.last_used()
                    .is_some_and(|t| now.duration_since(t) < minute)
            });
            if keyed.len() >= MAX_KEYS {
                return self.shared.try_take(now);
            }
        }
        let bucket = TokenBucket::new(self.rate);
        let taken = bucket.try_take(now);
        keyed.insert(key.to_owned(), bucket);
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_caller_has_a_bucket() {
        let buckets = KeyedBuckets::new(Rate::per_second(1));
        let now = Instant::now();
        assert!(buckets.try_take(Some("a"), now).is_ok());
        assert!(buckets.try_take(Some("a"), now).is_err());
        assert!(buckets.try_take(Some("b"), now).is_ok());
        assert!(buckets.try_take(None, now).is_ok());
        assert!(buckets.try_take(None, now).is_err());
    }
}
