//! The outermost server layer: builds the request [`Context`] (trace and
//! deadline), opens the request span and runs the inner service inside both.

use std::convert::Infallible;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use http::{HeaderMap, Request, Response};
use tokio::task::futures::TaskLocalFuture;
use tokio::time::Instant;
use tower::{Layer, Service};
use tracing::instrument::Instrumented;
use tracing::Instrument;

use super::TraceContext;
use crate::deadline::effective_deadline;
use crate::descriptor::EndpointDescriptor;
use crate::Context;

/// Reads the caller's remaining time from request headers (each transport
/// has its own header).
pub type TimeoutReader = fn(&HeaderMap) -> Option<Duration>;

/// Builds the [`Context`] of each request from its `traceparent` and timeout
/// headers and the endpoint's own timeout, and runs the inner service in a
/// `request` span (DEBUG level) with the context as the task-local current
/// one.
#[derive(Clone)]
pub struct TraceLayer {
    endpoint: &'static EndpointDescriptor,
    transport: &'static str,
    read_timeout: TimeoutReader,
}

impl TraceLayer {
    /// A layer for `endpoint` served over `transport`.
    pub fn new(
        endpoint: &'static EndpointDescriptor,
        transport: &'static str,
        read_timeout: TimeoutReader,
    ) -> TraceLayer {
        TraceLayer {
            endpoint,
            transport,
            read_timeout,
        }
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = Trace<S>;
    fn layer(&self, inner: S) -> Trace<S> {
        Trace {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`TraceLayer`].
#[derive(Clone)]
pub struct Trace<S> {
    inner: S,
    layer: TraceLayer,
}

impl<S, B, RB> Service<Request<B>> for Trace<S>
where
    S: Service<Request<B>, Response = Response<RB>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<RB>;
    type Error = Infallible;
    type Future = Instrumented<TaskLocalFuture<Context, S::Future>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let trace = TraceContext::from_headers(req.headers());
        let caller = (self.layer.read_timeout)(req.headers());
        let deadline = effective_deadline(Instant::now(), self.layer.endpoint.timeout, caller);
        let ctx = Context::new(trace, deadline);
        // DEBUG, like tower-http's TraceLayer: `RUST_LOG=kit_runtime=debug`
        // (or `debug`) turns the per-request span on.
        let span = tracing::debug_span!(
            "request",
            service = self.layer.endpoint.service,
            endpoint = self.layer.endpoint.name,
            transport = self.layer.transport,
            trace_id = %trace.trace_id(),
        );
        let fut = self.inner.call(req);
        ctx.scoped(fut).instrument(span)
    }
}
