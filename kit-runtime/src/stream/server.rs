//! What every response stream a server sends goes through, whatever the
//! transport: the request's [`Context`] around each poll of the handler's
//! stream, the deadline bounding the whole stream, the end at the first
//! error, and the stream metrics.

use std::collections::VecDeque;
use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant as StdInstant;

use futures_core::Stream;
use metrics::{Counter, Histogram, Label};
use tokio::time::{Instant, Sleep};

use crate::descriptor::EndpointDescriptor;
use crate::{Code, Context, Error};

/// Messages sent or received on streams, by direction.
pub(crate) const STREAM_MESSAGES: &str = "kit_server_stream_messages_total";
/// How long streams lasted, by the code they ended with.
pub(crate) const STREAM_DURATION: &str = "kit_server_stream_duration_seconds";

pub(crate) fn describe() {
    metrics::describe_counter!(
        STREAM_MESSAGES,
        "Messages on streaming endpoints, by direction (sent, received)."
    );
    metrics::describe_histogram!(
        STREAM_DURATION,
        metrics::Unit::Seconds,
        "How long a response stream lasted, by the code it ended with (CANCELLED: the caller went away)."
    );
}

/// Counts the messages a server receives on a request stream.
pub(crate) fn received_counter(endpoint: &EndpointDescriptor, transport: &'static str) -> Counter {
    metrics::counter!(STREAM_MESSAGES, labels(endpoint, transport, "received"))
}

fn labels(
    endpoint: &EndpointDescriptor,
    transport: &'static str,
    direction: &'static str,
) -> Vec<Label> {
    vec![
        Label::new("service", endpoint.service),
        Label::new("endpoint", endpoint.name),
        Label::new("transport", transport),
        Label::new("direction", direction),
    ]
}

/// How many ready items one poll of the handler's stream may take: the
/// request context is entered once and the message counter bumped once
/// per batch, not per item.
const BATCH: usize = 32;

pin_project_lite::pin_project! {
    /// A handler's response stream as served: polled inside the request's
    /// context, cut at the deadline with DEADLINE_EXCEEDED, ended after
    /// the first error, counted and timed. Dropping it (the caller went
    /// away) drops the handler's stream at once.
    ///
    /// Items the handler has ready are taken up to [`BATCH`] at a time;
    /// a slow reader still holds the handler back, by at most a batch.
    pub struct ServerStream<S, T> {
        #[pin]
        inner: Option<S>,
        ready: VecDeque<T>,
        // What follows the ready items when the stream is over: `None` for
        // a clean end, or the error that ended it.
        end: Option<Option<Error>>,
        ctx: Context,
        deadline: Option<Instant>,
        #[pin]
        sleep: Option<Sleep>,
        endpoint: &'static EndpointDescriptor,
        transport: &'static str,
        sent: Counter,
        started: StdInstant,
        ended: Option<Code>,
    }

    impl<S, T> PinnedDrop for ServerStream<S, T> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let code = this.ended.unwrap_or(Code::Cancelled);
            record_end(this.endpoint, this.transport, code, *this.started);
        }
    }
}

fn record_end(
    endpoint: &EndpointDescriptor,
    transport: &'static str,
    code: Code,
    started: StdInstant,
) {
    let labels = vec![
        Label::new("service", endpoint.service),
        Label::new("endpoint", endpoint.name),
        Label::new("transport", transport),
        Label::new("code", code.as_str()),
    ];
    let duration: Histogram = metrics::histogram!(STREAM_DURATION, labels);
    duration.record(started.elapsed().as_secs_f64());
}

impl<S, T> ServerStream<S, T> {
    /// Serves `inner` for the request whose context is `ctx`.
    pub(crate) fn new(
        inner: S,
        ctx: Context,
        endpoint: &'static EndpointDescriptor,
        transport: &'static str,
    ) -> ServerStream<S, T> {
        ServerStream {
            inner: Some(inner),
            ready: VecDeque::new(),
            end: None,
            deadline: ctx.deadline(),
            ctx,
            sleep: None,
            endpoint,
            transport,
            sent: metrics::counter!(STREAM_MESSAGES, labels(endpoint, transport, "sent")),
            started: StdInstant::now(),
            ended: None,
        }
    }
}

/// What one visit to the handler's stream found.
enum Visit {
    /// A batch of items, or fewer and then nothing ready yet.
    Taken,
    /// The stream ended: cleanly (`None`) or with an error.
    Ended(Option<Error>),
}

impl<S, T> Stream for ServerStream<S, T>
where
    S: Stream<Item = Result<T, Error>>,
{
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if let Some(item) = this.ready.pop_front() {
            return Poll::Ready(Some(Ok(item)));
        }
        if let Some(end) = this.end.take() {
            return Poll::Ready(end.map(Err));
        }
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            return Poll::Ready(None);
        };
        let expired = this.deadline.is_some_and(|d| d <= Instant::now());
        let visit = if expired {
            Visit::Ended(Some(Error::deadline_exceeded(
                "deadline exceeded while streaming the response",
            )))
        } else {
            let ready = &mut *this.ready;
            this.ctx.clone().sync_scoped(|| {
                let mut inner = inner;
                loop {
                    match inner.as_mut().poll_next(cx) {
                        Poll::Ready(Some(Ok(item))) => {
                            ready.push_back(item);
                            if ready.len() >= BATCH {
                                return Visit::Taken;
                            }
                        }
                        Poll::Ready(Some(Err(e))) => return Visit::Ended(Some(e)),
                        Poll::Ready(None) => return Visit::Ended(None),
                        Poll::Pending => return Visit::Taken,
                    }
                }
            })
        };
        this.sent.increment(this.ready.len() as u64);
        match visit {
            Visit::Ended(end) => {
                // Drop the handler's stream now, not when the transport
                // lets go of this one.
                this.inner.set(None);
                *this.ended = Some(end.as_ref().map_or(Code::Ok, Error::code));
                *this.end = Some(end);
            }
            Visit::Taken if this.ready.is_empty() => {
                // Nothing ready: wake up at the deadline, if there is one.
                if this.sleep.is_none() {
                    if let Some(deadline) = *this.deadline {
                        this.sleep.set(Some(tokio::time::sleep_until(deadline)));
                    }
                }
                let fired = match this.sleep.as_mut().as_pin_mut() {
                    Some(sleep) => sleep.poll(cx).is_ready(),
                    None => false,
                };
                if !fired {
                    return Poll::Pending;
                }
                this.inner.set(None);
                *this.ended = Some(Code::DeadlineExceeded);
                *this.end = Some(Some(Error::deadline_exceeded(
                    "deadline exceeded while streaming the response",
                )));
            }
            Visit::Taken => {}
        }
        if let Some(item) = this.ready.pop_front() {
            return Poll::Ready(Some(Ok(item)));
        }
        match this.end.take() {
            Some(end) => Poll::Ready(end.map(Err)),
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use futures_util::StreamExt;

    use super::*;
    use crate::descriptor::EndpointDescriptor;

    fn endpoint() -> &'static EndpointDescriptor {
        static E: EndpointDescriptor = crate::codegen::endpoint(
            "s",
            "e",
            "",
            None,
            None,
            None,
            0,
            false,
            crate::codegen::NO_LIMITS,
            &[],
            "String",
        );
        &E
    }

    #[tokio::test]
    async fn the_first_error_ends_the_stream() {
        let items = futures_util::stream::iter(vec![Ok(1), Err(Error::not_found("x")), Ok(2)]);
        let s = ServerStream::new(items, Context::root(), endpoint(), "http");
        let got: Vec<_> = s.collect().await;
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].as_ref().unwrap_err().code(), Code::NotFound);
    }

    #[tokio::test]
    async fn the_deadline_bounds_the_whole_stream() {
        let slow = futures_util::stream::unfold(0u32, |n| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Some((Ok::<_, Error>(n), n + 1))
        });
        let ctx = Context::root().with_timeout(Duration::from_millis(110));
        let got: Vec<_> = ServerStream::new(slow, ctx, endpoint(), "http")
            .collect()
            .await;
        let last = got.last().unwrap().as_ref().unwrap_err();
        assert_eq!(last.code(), Code::DeadlineExceeded);
        assert!(
            (3..=6).contains(&(got.len() - 1)),
            "{} items",
            got.len() - 1
        );
    }

    #[tokio::test]
    async fn an_always_ready_stream_is_cut_at_the_deadline_too() {
        let endless = futures_util::stream::repeat_with(|| Ok::<_, Error>(1u8));
        let ctx = Context::root().with_timeout(Duration::from_millis(50));
        let mut s = Box::pin(ServerStream::new(endless, ctx, endpoint(), "http"));
        let started = std::time::Instant::now();
        let mut items = 0u64;
        let last = loop {
            match s.next().await {
                Some(Ok(_)) => items += 1,
                other => break other,
            }
        };
        let code = last.and_then(|r| r.err()).map(|e| e.code());
        assert_eq!(code, Some(Code::DeadlineExceeded), "after {items} items");
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(s.next().await.is_none());
    }

    #[tokio::test]
    async fn handlers_see_the_request_context() {
        let ctx = Context::root();
        let id = ctx.trace_id();
        let s = futures_util::stream::poll_fn(|_| {
            Poll::Ready(Some(Ok::<_, Error>(Context::current().trace_id())))
        })
        .take(2);
        let got: Vec<_> = ServerStream::new(s, ctx, endpoint(), "grpc")
            .collect()
            .await;
        assert!(got.iter().all(|r| *r.as_ref().unwrap() == id));
    }

    #[tokio::test]
    async fn dropping_it_drops_the_handler_stream() {
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = Flag(dropped.clone());
        let s = futures_util::stream::repeat_with(move || {
            let _ = &flag;
            Ok::<_, Error>(1)
        });
        let mut served = Box::pin(ServerStream::new(s, Context::root(), endpoint(), "http"));
        assert!(served.next().await.is_some());
        drop(served);
        assert!(dropped.load(Ordering::SeqCst));
    }
}
