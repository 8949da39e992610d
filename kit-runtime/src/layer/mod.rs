//! The server stack: one tower [`Layer`](tower::Layer) per concern,
//! assembled by [`server_stack`] for every endpoint on every transport.
//!
//! Outermost first, each reading what it needs from the request itself:
//!
//! | layer | does | reads |
//! | --- | --- | --- |
//! | [`ContextLayer`] | builds the request [`Context`](crate::Context) (trace, deadline) and runs the rest with it as the task-local current one | `traceparent`, the protocol's timeout header, the endpoint's `timeout` |
//! | [`TraceLayer`] | the `request` span; when the request ends, its access log line, WARN line when slow or failed, exported span | the context's trace, the response's code |
//! | [`MetricsLayer`] | RED metrics | the response's code |
//! | [`DeadlineLayer`] | refuses a request whose deadline already passed (or whose timeout header is malformed) without running it; answers DEADLINE_EXCEEDED and drops the rest at the deadline | the context's deadline |
//! | [`AuthLayer`] | on endpoints with `auth`: authenticates the caller and checks `requires` (401 with `WWW-Authenticate` / 403), then runs the rest with the principal in the context | credentials in the headers, the peer's certificate |
//! | [`AdmissionLayer`] | refuses requests beyond the endpoint's rate (429) or concurrency limits (503, a nack) | the endpoint's [`Gate`](admission::Gate) |
//! | [`CatchPanicLayer`] | a panic becomes INTERNAL, logged | - |
//! | user layers | `Server::layer`, `Endpoints::with_layer` | whatever they like |
//! | handler | decodes, calls the method, encodes | the request |
//!
//! Between the context and the deadline layer a request travels as a
//! [`Call`] (the HTTP request plus its context), so no layer has to find the
//! context in a task-local or an extensions map.

pub(crate) mod admission;
mod auth;
mod context;
mod deadline;
mod metrics;
mod panic;
mod trace;
mod user;

use std::convert::Infallible;

use axum::body::Body;
use http::{Request, Response};
use tower::{Service, ServiceBuilder};

pub(crate) use admission::{Admission, AdmissionLayer};
pub(crate) use auth::AuthLayer;
pub(crate) use context::{Call, ContextLayer};
pub(crate) use deadline::DeadlineLayer;
pub(crate) use metrics::MetricsLayer;
pub(crate) use panic::CatchPanicLayer;
pub(crate) use trace::TraceLayer;
pub(crate) use user::UserLayers;
pub use user::{BoxEndpoint, StackConfig};

use crate::descriptor::EndpointDescriptor;
use crate::transport::Protocol;

/// Wraps `handler` (the endpoint's handler, inside the user's layers when
/// `user_layers`) in kit's layers for protocol `P`.
pub(crate) fn server_stack<P, H>(
    endpoint: &'static EndpointDescriptor,
    config: StackConfig,
    admission: &Admission,
    user_layers: bool,
    handler: H,
) -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future: Send + 'static>
       + Clone
       + Send
       + Sync
       + 'static
where
    P: Protocol,
    H: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    H::Future: Send + 'static,
{
    ServiceBuilder::new()
        .layer(ContextLayer::<P>::new(
            endpoint,
            admission.default_timeout,
            user_layers,
        ))
        .layer(TraceLayer::new(
            endpoint,
            P::NAME,
            trace::RequestLog {
                span: config.trace,
                access: config.access_log,
                slow: config.slow_threshold,
            },
        ))
        .layer(MetricsLayer::new(endpoint, P::NAME, config.metrics))
        .layer(DeadlineLayer::<P>::new(config.deadline, Some(endpoint)))
        .layer(AuthLayer::<P>::new(endpoint, admission.authenticators()))
        .layer(AdmissionLayer::<P>::new(endpoint, admission.gate(endpoint)))
        .layer(CatchPanicLayer::<P>::new(endpoint, config.catch_panic))
        .service(handler)
}
