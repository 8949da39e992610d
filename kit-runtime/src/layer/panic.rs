//! Panics in handlers: caught, logged, answered as INTERNAL; the
//! connection and the process keep serving.

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use axum::body::Body;
use http::Response;
use tower::{Layer, Service};

use crate::descriptor::EndpointDescriptor;
use crate::transport::Protocol;
use crate::Error;

/// Turns a panic in the inner service (its `call` or its future) into an
/// INTERNAL answer in protocol `P`'s format and an error log line naming the
/// endpoint and the panic message (which the caller does not see).
pub(crate) struct CatchPanicLayer<P> {
    endpoint: &'static EndpointDescriptor,
    enabled: bool,
    _protocol: PhantomData<fn() -> P>,
}

impl<P> CatchPanicLayer<P> {
    pub(crate) fn new(endpoint: &'static EndpointDescriptor, enabled: bool) -> Self {
        CatchPanicLayer {
            endpoint,
            enabled,
            _protocol: PhantomData,
        }
    }
}

impl<S, P> Layer<S> for CatchPanicLayer<P> {
    type Service = CatchPanic<S, P>;
    fn layer(&self, inner: S) -> Self::Service {
        CatchPanic {
            inner,
            endpoint: self.endpoint,
            enabled: self.enabled,
            _protocol: PhantomData,
        }
    }
}

/// The service made by [`CatchPanicLayer`].
pub(crate) struct CatchPanic<S, P> {
    inner: S,
    endpoint: &'static EndpointDescriptor,
    enabled: bool,
    _protocol: PhantomData<fn() -> P>,
}

impl<S: Clone, P> Clone for CatchPanic<S, P> {
    fn clone(&self) -> Self {
        CatchPanic {
            inner: self.inner.clone(),
            endpoint: self.endpoint,
            enabled: self.enabled,
            _protocol: PhantomData,
        }
    }
}

impl<S, P, R> Service<R> for CatchPanic<S, P>
where
    S: Service<R, Response = Response<Body>, Error = Infallible>,
    P: Protocol,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = CatchPanicFuture<S::Future, P>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let endpoint = self.endpoint;
        if !self.enabled {
            return CatchPanicFuture {
                inner: Some(self.inner.call(request)),
                endpoint,
                catch: false,
                _protocol: PhantomData,
            };
        }
        match catch_unwind(AssertUnwindSafe(|| self.inner.call(request))) {
            Ok(inner) => CatchPanicFuture {
                inner: Some(inner),
                endpoint,
                catch: true,
                _protocol: PhantomData,
            },
            Err(panic) => {
                log_panic(endpoint, &*panic);
                CatchPanicFuture {
                    inner: None,
                    endpoint,
                    catch: true,
                    _protocol: PhantomData,
                }
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`CatchPanic`]; `inner` is `None` when `call` panicked.
    pub(crate) struct CatchPanicFuture<F, P> {
        #[pin]
        inner: Option<F>,
        endpoint: &'static EndpointDescriptor,
        catch: bool,
        _protocol: PhantomData<fn() -> P>,
    }
}

impl<F, P> Future for CatchPanicFuture<F, P>
where
    F: Future<Output = Result<Response<Body>, Infallible>>,
    P: Protocol,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            return Poll::Ready(Ok(panicked::<P>()));
        };
        if !*this.catch {
            return inner.poll(cx);
        }
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(poll) => poll,
            Err(panic) => {
                log_panic(this.endpoint, &*panic);
                Poll::Ready(Ok(panicked::<P>()))
            }
        }
    }
}

fn panicked<P: Protocol>() -> Response<Body> {
    P::error_response(&Error::internal("the handler panicked"))
}

fn log_panic(endpoint: &EndpointDescriptor, panic: &(dyn Any + Send)) {
    tracing::error!(
        service = endpoint.service,
        endpoint = endpoint.name,
        panic = %panic_message(panic),
        "handler panicked"
    );
}

/// The text of a panic payload, if it has one.
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)")
}
