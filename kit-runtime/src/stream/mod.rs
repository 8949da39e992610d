//! Streams of messages: what a streaming endpoint returns or takes, and
//! what a generated client's streaming method hands back.
//!
//! An endpoint streams its response when it returns
//! `impl Stream<Item = Result<T, E>>` (or `impl Stream<Item = T>`, or a
//! [`Streaming<T>`]); it takes a stream of requests when an argument is a
//! [`Streaming<T>`] (gRPC only). Over gRPC these are server-, client- and
//! bidirectional-streaming methods; over HTTP a response stream is
//! Server-Sent Events or newline-delimited JSON, chosen by `Accept`.
//!
//! ```
//! use kit::Stream;
//!
//! #[derive(Clone, Copy, Default)]
//! pub struct Letters;
//!
//! #[kit::service]
//! impl Letters {
//!     /// Each character of `s`, uppercased.
//!     #[endpoint(http = "GET /letters/{s}", grpc)]
//!     pub async fn letters(&self, s: String) -> impl Stream<Item = Result<String, kit::Error>> {
//!         kit::stream::iter(s.chars().map(|c| Ok(c.to_uppercase().to_string())).collect::<Vec<_>>())
//!     }
//! }
//! ```

pub(crate) mod server;

use std::fmt;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

pub use futures_core::Stream;
use futures_util::StreamExt;

use crate::Error;

/// A stream of `Result<T, kit::Error>`: the requests of a client- or
/// bidirectional-streaming endpoint, the answer of a generated client's
/// streaming method, or what a handler may return.
///
/// It is a [`Stream`]; [`Streaming::message`] reads the next item the way
/// tonic's `Streaming` does.
pub struct Streaming<T> {
    inner: Pin<Box<dyn Stream<Item = Result<T, Error>> + Send + 'static>>,
}

impl<T> Streaming<T> {
    /// Wraps any stream of results.
    pub fn new(stream: impl Stream<Item = Result<T, Error>> + Send + 'static) -> Streaming<T> {
        Streaming {
            inner: Box::pin(stream),
        }
    }

    /// A stream of the items of `items`, all `Ok`.
    pub fn iter<I>(items: I) -> Streaming<T>
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
        T: Send + 'static,
    {
        Streaming::new(futures_util::stream::iter(items.into_iter().map(Ok)))
    }

    /// A stream that fails at once with `error`.
    pub fn error(error: Error) -> Streaming<T>
    where
        T: Send + 'static,
    {
        Streaming::new(futures_util::stream::once(async move { Err(error) }))
    }

    /// The same stream with each item turned into `f(item)`.
    pub fn map_ok<U>(self, mut f: impl FnMut(T) -> U + Send + 'static) -> Streaming<U>
    where
        T: 'static,
    {
        Streaming::new(self.inner.map(move |item| item.map(&mut f)))
    }

    /// The next item: `Ok(None)` at the end of the stream.
    pub async fn message(&mut self) -> Result<Option<T>, Error> {
        self.inner.next().await.transpose()
    }
}

impl<T> Stream for Streaming<T> {
    type Item = Result<T, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// `iter.collect::<Streaming<T>>()`: the items, all `Ok`.
impl<T: Send + 'static> FromIterator<T> for Streaming<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Streaming<T> {
        Streaming::iter(items.into_iter().collect::<Vec<T>>())
    }
}

impl<T> fmt::Debug for Streaming<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Streaming").finish_non_exhaustive()
    }
}

/// A stream of the items of an iterator (`futures::stream::iter`).
pub fn iter<I: IntoIterator>(items: I) -> futures_util::stream::Iter<I::IntoIter> {
    futures_util::stream::iter(items)
}

/// Which way an endpoint streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    /// One request, one response.
    Unary,
    /// One request, a stream of responses.
    Server,
    /// A stream of requests, one response.
    Client,
    /// Streams both ways.
    Bidi,
}

impl StreamKind {
    /// Whether the response is a stream.
    pub fn streams_responses(self) -> bool {
        matches!(self, StreamKind::Server | StreamKind::Bidi)
    }

    /// Whether the request is a stream.
    pub fn streams_requests(self) -> bool {
        matches!(self, StreamKind::Client | StreamKind::Bidi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn message_reads_items_then_none() {
        let mut s = Streaming::iter(vec![1, 2]);
        assert_eq!(s.message().await.unwrap(), Some(1));
        assert_eq!(s.message().await.unwrap(), Some(2));
        assert_eq!(s.message().await.unwrap(), None);
        let mut e = Streaming::<u8>::error(Error::not_found("x"));
        assert_eq!(e.message().await.unwrap_err().code(), crate::Code::NotFound);
    }
}
