//! Users' own tower layers in the server stack, and which of kit's layers run.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use axum::body::Body;
use futures_util::future::{FutureExt, Map};
use http::{Request, Response};
use tower::util::BoxCloneSyncService;
use tower::{BoxError, Layer, Service, ServiceExt};

use crate::transport::Protocol;
use crate::Error;

/// The service a user's layer wraps: an endpoint as an HTTP service (gRPC
/// requests are HTTP/2 requests too), boxed so one layer fits every
/// endpoint. It runs inside kit's context, trace, metrics and deadline
/// layers, so `kit::Context::current()` works in it, its time counts in the
/// endpoint's metrics and the deadline bounds it.
///
/// An error from a user's layer is answered in the endpoint's protocol:
/// `tower::timeout::error::Elapsed` as DEADLINE_EXCEEDED,
/// `tower::load_shed::error::Overloaded` as UNAVAILABLE (retryable
/// elsewhere), a [`kit::Error`](crate::Error) as itself, anything else as
/// INTERNAL.
pub type BoxEndpoint = BoxCloneSyncService<Request<Body>, Response<Body>, BoxError>;

/// Which of kit's server layers run (all of them by default). Turning one
/// off is for measuring what it costs, not for production.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[doc(hidden)]
pub struct StackConfig {
    /// The `request` span.
    pub trace: bool,
    /// RED metrics.
    pub metrics: bool,
    /// Enforcing the deadline.
    pub deadline: bool,
    /// Catching panics.
    pub catch_panic: bool,
    /// The access log (also `--access-log`).
    pub access_log: bool,
    /// The WARN line for slow requests (the threshold is `--slow-threshold`;
    /// `None`: off).
    pub slow_threshold: Option<std::time::Duration>,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            trace: true,
            metrics: true,
            deadline: true,
            catch_panic: true,
            access_log: true,
            slow_threshold: Some(std::time::Duration::from_secs(1)),
        }
    }
}

type Wrap = Arc<dyn Fn(BoxEndpoint) -> BoxEndpoint + Send + Sync>;

/// Layers added by the user, outermost first.
#[derive(Clone, Default)]
pub(crate) struct UserLayers {
    layers: Vec<Wrap>,
}

impl UserLayers {
    /// Adds `layer` inside the ones already added.
    pub(crate) fn push<L>(&mut self, layer: L)
    where
        L: Layer<BoxEndpoint> + Send + Sync + 'static,
        L::Service:
            Service<Request<Body>, Response = Response<Body>> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request<Body>>>::Error: Into<BoxError>,
        <L::Service as Service<Request<Body>>>::Future: Send + 'static,
    {
        self.layers.push(Arc::new(move |inner| {
            BoxCloneSyncService::new(layer.layer(inner).map_err(Into::into))
        }));
    }

    /// Removes the innermost layer (what [`UserLayers::push`] added last).
    pub(crate) fn pop(&mut self) {
        self.layers.pop();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// `handler` inside every layer, its errors answered in protocol `P`.
    pub(crate) fn wrap<P, H>(&self, handler: H) -> Answered<P>
    where
        P: Protocol,
        H: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        H::Future: Send + 'static,
    {
        let mut service = BoxCloneSyncService::new(handler.map_err(BoxError::from));
        for wrap in self.layers.iter().rev() {
            service = wrap(service);
        }
        Answered {
            inner: service,
            not_ready: None,
            _protocol: PhantomData,
        }
    }
}

/// A boxed endpoint whose errors become error responses of protocol `P`.
pub(crate) struct Answered<P> {
    inner: BoxEndpoint,
    /// Why the inner service could not become ready, answered by `call`.
    not_ready: Option<Error>,
    _protocol: PhantomData<fn() -> P>,
}

impl<P> Clone for Answered<P> {
    fn clone(&self) -> Self {
        Answered {
            inner: self.inner.clone(),
            not_ready: None,
            _protocol: PhantomData,
        }
    }
}

type BoxFuture = <BoxEndpoint as Service<Request<Body>>>::Future;
type Answer = fn(Result<Response<Body>, BoxError>) -> Result<Response<Body>, Infallible>;

impl<P: Protocol> Service<Request<Body>> for Answered<P> {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = futures_util::future::Either<
        Map<BoxFuture, Answer>,
        std::future::Ready<Result<Response<Body>, Infallible>>,
    >;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        // A layer that is not ready (a concurrency limit, say) makes the
        // request wait here; one that fails answers the request instead.
        match self.inner.poll_ready(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => {
                self.not_ready = Some(layer_error(e));
                Poll::Ready(Ok(()))
            }
        }
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        if let Some(err) = self.not_ready.take() {
            return futures_util::future::Either::Right(std::future::ready(Ok(P::error_response(
                &err,
            ))));
        }
        let answer: Answer =
            |result| Ok(result.unwrap_or_else(|e| P::error_response(&layer_error(e))));
        futures_util::future::Either::Left(self.inner.call(request).map(answer))
    }
}

/// The error model's reading of an error from a user's layer.
pub(crate) fn layer_error(e: BoxError) -> Error {
    if let Some(err) = e.downcast_ref::<Error>() {
        return err.clone();
    }
    if e.is::<tower::timeout::error::Elapsed>() {
        return Error::deadline_exceeded(format!("timed out in a server layer: {e}"));
    }
    if e.is::<tower::load_shed::error::Overloaded>() {
        return Error::unavailable(format!("overloaded: {e}"));
    }
    Error::internal(format!("a server layer failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_errors_map_to_codes() {
        use crate::Code;
        let elapsed: BoxError = Box::new(tower::timeout::error::Elapsed::new());
        assert_eq!(layer_error(elapsed).code(), Code::DeadlineExceeded);
        let shed: BoxError = Box::new(tower::load_shed::error::Overloaded::new());
        assert_eq!(layer_error(shed).code(), Code::Unavailable);
        let own: BoxError = Box::new(Error::permission_denied("no"));
        assert_eq!(layer_error(own).code(), Code::PermissionDenied);
        let other: BoxError = "boom".into();
        assert_eq!(layer_error(other).code(), Code::Internal);
    }
}
