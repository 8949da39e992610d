//! The per-request span.

use std::task::{Context as TaskContext, Poll};

use tower::{Layer, Service};
use tracing::instrument::Instrumented;
use tracing::{Instrument, Span};

use super::Call;
use crate::descriptor::EndpointDescriptor;

/// Runs each request in a `request` span (DEBUG level, like tower-http's
/// TraceLayer: `RUST_LOG=kit_runtime=debug` turns it on) with the service,
/// endpoint, transport and the trace id of the request's context.
#[derive(Clone)]
pub(crate) struct TraceLayer {
    endpoint: &'static EndpointDescriptor,
    transport: &'static str,
    enabled: bool,
}

impl TraceLayer {
    pub(crate) fn new(
        endpoint: &'static EndpointDescriptor,
        transport: &'static str,
        enabled: bool,
    ) -> TraceLayer {
        TraceLayer {
            endpoint,
            transport,
            enabled,
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
pub(crate) struct Trace<S> {
    inner: S,
    layer: TraceLayer,
}

impl<S, B> Service<Call<B>> for Trace<S>
where
    S: Service<Call<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Instrumented<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: Call<B>) -> Self::Future {
        let span = if self.layer.enabled {
            tracing::debug_span!(
                "request",
                service = self.layer.endpoint.service,
                endpoint = self.layer.endpoint.name,
                transport = self.layer.transport,
                trace_id = %call.ctx.trace_id(),
            )
        } else {
            Span::none()
        };
        self.inner.call(call).instrument(span)
    }
}
