//! The deadline of each request, enforced.

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use axum::body::Body;
use http::{Request, Response};
use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

use super::Call;
use crate::descriptor::EndpointDescriptor;
use crate::metrics::endpoint_rejected;
use crate::transport::Protocol;
use crate::Error;

/// Answers DEADLINE_EXCEEDED (in protocol `P`'s error format) and drops the
/// inner future when the request's deadline passes; a request whose
/// deadline has passed when it arrives (`grpc-timeout: 0n`,
/// `kit-timeout-ms: 0`, or a wait in a queue) is refused without calling
/// the inner service at all, as is one whose timeout header is malformed
/// (INVALID_ARGUMENT). The timer is armed only if the inner future does
/// not finish on its first poll, so fast handlers never touch the timer
/// wheel.
pub(crate) struct DeadlineLayer<P> {
    enabled: bool,
    endpoint: Option<&'static EndpointDescriptor>,
    _protocol: PhantomData<fn() -> P>,
}

impl<P> DeadlineLayer<P> {
    /// `endpoint`: where refusals of expired deadlines are counted.
    pub(crate) fn new(enabled: bool, endpoint: Option<&'static EndpointDescriptor>) -> Self {
        DeadlineLayer {
            enabled,
            endpoint,
            _protocol: PhantomData,
        }
    }
}

impl<S, P> Layer<S> for DeadlineLayer<P> {
    type Service = Deadline<S, P>;
    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            enabled: self.enabled,
            endpoint: self.endpoint,
            _protocol: PhantomData,
        }
    }
}

/// The service made by [`DeadlineLayer`].
pub(crate) struct Deadline<S, P> {
    inner: S,
    enabled: bool,
    endpoint: Option<&'static EndpointDescriptor>,
    _protocol: PhantomData<fn() -> P>,
}

impl<S: Clone, P> Clone for Deadline<S, P> {
    fn clone(&self) -> Self {
        Deadline {
            inner: self.inner.clone(),
            enabled: self.enabled,
            endpoint: self.endpoint,
            _protocol: PhantomData,
        }
    }
}

impl<S, P, B> Service<Call<B>> for Deadline<S, P>
where
    S: Service<Request<B>, Response = Response<Body>, Error = Infallible>,
    P: Protocol,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = DeadlineFuture<S::Future, P>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: Call<B>) -> Self::Future {
        let deadline = if self.enabled {
            call.ctx.deadline()
        } else {
            None
        };
        let refuse = match call.refuse {
            Some(e) => Some(e),
            None if deadline.is_some_and(|d| d <= Instant::now()) => {
                if let Some(endpoint) = self.endpoint {
                    endpoint_rejected(endpoint, "deadline");
                }
                Some(Error::deadline_exceeded(
                    "the deadline had passed before the request ran",
                ))
            }
            None => None,
        };
        if let Some(e) = refuse {
            return DeadlineFuture {
                inner: None,
                refused: Some(P::error_response(&e)),
                deadline: None,
                polled: false,
                endpoint: self.endpoint,
                sleep: None,
                _protocol: PhantomData,
            };
        }
        DeadlineFuture {
            inner: Some(self.inner.call(call.request)),
            refused: None,
            deadline,
            polled: false,
            endpoint: self.endpoint,
            sleep: None,
            _protocol: PhantomData,
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Deadline`].
    pub(crate) struct DeadlineFuture<F, P> {
        #[pin]
        inner: Option<F>,
        refused: Option<Response<Body>>,
        deadline: Option<Instant>,
        // Polled once: a request that waited for a thread past its
        // deadline is refused then, before the handler runs.
        polled: bool,
        endpoint: Option<&'static EndpointDescriptor>,
        #[pin]
        sleep: Option<Sleep>,
        _protocol: PhantomData<fn() -> P>,
    }
}

impl<F, P> Future for DeadlineFuture<F, P>
where
    F: Future<Output = Result<Response<Body>, Infallible>>,
    P: Protocol,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if !*this.polled {
            *this.polled = true;
            if this.inner.is_some() && this.deadline.is_some_and(|d| d <= Instant::now()) {
                if let Some(endpoint) = *this.endpoint {
                    endpoint_rejected(endpoint, "deadline");
                }
                this.inner.set(None);
                return Poll::Ready(Ok(P::error_response(&Error::deadline_exceeded(
                    "the deadline passed while the request waited to run",
                ))));
            }
        }
        let Some(inner) = this.inner.as_pin_mut() else {
            let response = this.refused.take();
            return Poll::Ready(Ok(response.unwrap_or_else(|| Response::new(Body::empty()))));
        };
        if let Poll::Ready(output) = inner.poll(cx) {
            return Poll::Ready(output);
        }
        if this.sleep.is_none() {
            let Some(deadline) = *this.deadline else {
                return Poll::Pending;
            };
            this.sleep.set(Some(tokio::time::sleep_until(deadline)));
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
    use std::time::Duration;

    use super::*;
    use crate::transport::http::Http;
    use crate::Context;

    fn call(deadline: Option<Duration>) -> Call<Body> {
        let mut ctx = Context::root();
        if let Some(d) = deadline {
            ctx = ctx.with_timeout(d);
        }
        Call {
            ctx,
            request: Request::new(Body::empty()),
            refuse: None,
        }
    }

    #[tokio::test]
    async fn answers_at_the_deadline_and_drops_the_handler() {
        let slow = tower::service_fn(|_req: Request<Body>| async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok::<_, Infallible>(Response::new(Body::empty()))
        });
        let mut svc = DeadlineLayer::<Http>::new(true, None).layer(slow);
        let started = std::time::Instant::now();
        let response = svc
            .call(call(Some(Duration::from_millis(50))))
            .await
            .unwrap();
        assert_eq!(response.status(), http::StatusCode::GATEWAY_TIMEOUT);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn fast_handlers_and_no_deadline_pass_through() {
        let fast = tower::service_fn(|_req: Request<Body>| async {
            Ok::<_, Infallible>(Response::new(Body::empty()))
        });
        let mut svc = DeadlineLayer::<Http>::new(true, None).layer(fast);
        let response = svc.call(call(None)).await.unwrap();
        assert_eq!(response.status(), http::StatusCode::OK);
    }

    #[tokio::test]
    async fn an_expired_deadline_never_runs_the_handler() {
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = ran.clone();
        let handler = tower::service_fn(move |_req: Request<Body>| {
            seen.store(true, std::sync::atomic::Ordering::SeqCst);
            async { Ok::<_, Infallible>(Response::new(Body::empty())) }
        });
        let mut svc = DeadlineLayer::<Http>::new(true, None).layer(handler);
        let response = svc.call(call(Some(Duration::ZERO))).await.unwrap();
        assert_eq!(response.status(), http::StatusCode::GATEWAY_TIMEOUT);
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
        let mut refused = call(None);
        refused.refuse = Some(Error::invalid_argument("bad header"));
        let response = svc.call(refused).await.unwrap();
        assert_eq!(response.status(), http::StatusCode::BAD_REQUEST);
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_request_that_waited_past_its_deadline_is_refused_at_its_first_poll() {
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = ran.clone();
        let handler = tower::service_fn(move |_req: Request<Body>| {
            let seen = seen.clone();
            async move {
                seen.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok::<_, Infallible>(Response::new(Body::empty()))
            }
        });
        let mut svc = DeadlineLayer::<Http>::new(true, None).layer(handler);
        let waiting = svc.call(call(Some(Duration::from_millis(30))));
        // Waits for a thread (a busy runtime, a queue) past its deadline.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let response = waiting.await.unwrap();
        assert_eq!(response.status(), http::StatusCode::GATEWAY_TIMEOUT);
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    }
}
