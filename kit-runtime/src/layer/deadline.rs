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
use crate::transport::Protocol;
use crate::Error;

/// Answers DEADLINE_EXCEEDED (in protocol `P`'s error format) and drops the
/// inner future when the request's deadline passes. The timer is armed
/// only if the inner future does not finish on its first poll, so fast
/// handlers never touch the timer wheel.
pub(crate) struct DeadlineLayer<P> {
    enabled: bool,
    _protocol: PhantomData<fn() -> P>,
}

impl<P> DeadlineLayer<P> {
    pub(crate) fn new(enabled: bool) -> Self {
        DeadlineLayer {
            enabled,
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
            _protocol: PhantomData,
        }
    }
}

/// The service made by [`DeadlineLayer`].
pub(crate) struct Deadline<S, P> {
    inner: S,
    enabled: bool,
    _protocol: PhantomData<fn() -> P>,
}

impl<S: Clone, P> Clone for Deadline<S, P> {
    fn clone(&self) -> Self {
        Deadline {
            inner: self.inner.clone(),
            enabled: self.enabled,
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
        DeadlineFuture {
            inner: self.inner.call(call.request),
            deadline,
            sleep: None,
            _protocol: PhantomData,
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Deadline`].
    pub(crate) struct DeadlineFuture<F, P> {
        #[pin]
        inner: F,
        deadline: Option<Instant>,
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
        if let Poll::Ready(output) = this.inner.poll(cx) {
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
        }
    }

    #[tokio::test]
    async fn answers_at_the_deadline_and_drops_the_handler() {
        let slow = tower::service_fn(|_req: Request<Body>| async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok::<_, Infallible>(Response::new(Body::empty()))
        });
        let mut svc = DeadlineLayer::<Http>::new(true).layer(slow);
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
        let mut svc = DeadlineLayer::<Http>::new(true).layer(fast);
        let response = svc.call(call(Some(Duration::ZERO))).await.unwrap();
        // Finished on its first poll: the handler's answer wins.
        assert_eq!(response.status(), http::StatusCode::OK);
        let response = svc.call(call(None)).await.unwrap();
        assert_eq!(response.status(), http::StatusCode::OK);
    }
}
