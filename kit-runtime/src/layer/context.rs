//! The request context: trace and deadline of the call being served.

use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use http::Request;
use tokio::task::futures::TaskLocalFuture;
use tokio::time::Instant;
use tower::{Layer, Service};

use crate::deadline::effective_deadline;
use crate::descriptor::EndpointDescriptor;
use crate::tls::PeerIdentity;
use crate::trace::TraceContext;
use crate::transport::Protocol;
use crate::Context;

/// A request on its way through the server stack, with its context.
pub(crate) struct Call<B> {
    pub(crate) ctx: Context,
    pub(crate) request: Request<B>,
    /// Why the request must be refused before it runs (a malformed
    /// timeout header), answered by the deadline layer.
    pub(crate) refuse: Option<crate::Error>,
}

/// Builds each request's [`Context`] from its `traceparent` header (a child
/// span of the caller's, or a new trace), the caller's remaining time
/// (protocol `P`'s header) and the endpoint's own `timeout`, and runs the
/// inner service with it as the task-local current context, so handlers
/// and the clients they call see it (in the inner services' `call` as well
/// as in their futures).
pub(crate) struct ContextLayer<P> {
    endpoint: &'static EndpointDescriptor,
    default_timeout: Option<std::time::Duration>,
    scope_calls: bool,
    _protocol: PhantomData<fn() -> P>,
}

impl<P> ContextLayer<P> {
    /// `scope_calls`: also set the context around the inner services'
    /// `call`s, which only users' layers need (kit's own read the [`Call`]).
    /// `default_timeout`: the deadline of endpoints without a `timeout`.
    pub(crate) fn new(
        endpoint: &'static EndpointDescriptor,
        default_timeout: Option<std::time::Duration>,
        scope_calls: bool,
    ) -> Self {
        ContextLayer {
            endpoint,
            default_timeout,
            scope_calls,
            _protocol: PhantomData,
        }
    }
}

impl<S, P> Layer<S> for ContextLayer<P> {
    type Service = WithContext<S, P>;
    fn layer(&self, inner: S) -> Self::Service {
        WithContext {
            inner,
            endpoint: self.endpoint,
            timeout: self.endpoint.timeout.or(self.default_timeout),
            scope_calls: self.scope_calls,
            _protocol: PhantomData,
        }
    }
}

/// The service made by [`ContextLayer`].
pub(crate) struct WithContext<S, P> {
    inner: S,
    endpoint: &'static EndpointDescriptor,
    /// The endpoint's own timeout, or the server's default.
    timeout: Option<std::time::Duration>,
    scope_calls: bool,
    _protocol: PhantomData<fn() -> P>,
}

impl<S: Clone, P> Clone for WithContext<S, P> {
    fn clone(&self) -> Self {
        WithContext {
            inner: self.inner.clone(),
            endpoint: self.endpoint,
            timeout: self.timeout,
            scope_calls: self.scope_calls,
            _protocol: PhantomData,
        }
    }
}

impl<S, P, B> Service<Request<B>> for WithContext<S, P>
where
    S: Service<Call<B>>,
    P: Protocol,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = TaskLocalFuture<Context, S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let headers = request.headers();
        let mut trace = TraceContext::from_headers(headers);
        if let Some(exporter) = crate::trace::export::exporter() {
            let parent = trace.parent_span_id().map(|_| trace.sampled());
            trace = trace.with_sampled(exporter.sample(trace.trace_id().0, parent));
        }
        let (caller, refuse) = match P::caller_timeout(headers) {
            Ok(caller) => (caller, None),
            Err(e) => (None, Some(e)),
        };
        let deadline = effective_deadline(Instant::now, self.timeout, caller);
        // Set by the connection when the peer presented a verified
        // client certificate.
        let peer = request.extensions().get::<Arc<PeerIdentity>>().cloned();
        let ctx = Context::new(trace, deadline)
            .serving(self.endpoint)
            .with_peer_identity(peer);
        // The inner layers' `call`s run now, their futures later: both see
        // the context.
        let call = Call {
            ctx: ctx.clone(),
            request,
            refuse,
        };
        let fut = if self.scope_calls {
            ctx.clone().sync_scoped(|| self.inner.call(call))
        } else {
            self.inner.call(call)
        };
        ctx.scoped(fut)
    }
}
