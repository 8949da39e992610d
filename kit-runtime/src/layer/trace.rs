//! What a request leaves behind besides metrics: the `request` span its
//! log lines carry, an exported OpenTelemetry span, an access log line,
//! and a WARN line when it was slow or failed.

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant, SystemTime};

use http::{Method, Response};
use tower::{Layer, Service};
use tracing::instrument::Instrumented;
use tracing::{Instrument, Span};

use super::Call;
use crate::descriptor::EndpointDescriptor;
use crate::log::{write_access, AccessLine, Peer, ACCESS_TARGET};
use crate::server::LocalAddr;
use crate::trace::export::{exporter, SpanKind, SpanRecord, Value};
use crate::trace::TraceContext;
use crate::transport::ResponseCode;
use crate::Code;

/// Settings of [`TraceLayer`], the same for every endpoint but `slow`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestLog {
    /// The `request` span (off only to measure what it costs).
    pub(crate) span: bool,
    /// One INFO line per request.
    pub(crate) access: bool,
    /// Requests slower than this are logged at WARN.
    pub(crate) slow: Option<Duration>,
}

/// Runs each request in a DEBUG `request` span (service, endpoint,
/// transport, trace_id, span_id; like tower-http's TraceLayer, DEBUG
/// because an enabled span costs every request: log lines get the same
/// fields from the task-local context instead) and, when it ends, writes its access log
/// line, its WARN line when slow or failed, and its exported span.
#[derive(Clone)]
pub(crate) struct TraceLayer {
    shared: Arc<Shared>,
}

struct Shared {
    endpoint: &'static EndpointDescriptor,
    transport: &'static str,
    log: RequestLog,
    /// `/uppercase` or `/strings.StringService/Uppercase`.
    route: &'static str,
    /// The exported span's name: `POST /uppercase`, `strings.StringService/Uppercase`.
    span_name: Cow<'static, str>,
    grpc: bool,
}

impl TraceLayer {
    pub(crate) fn new(
        endpoint: &'static EndpointDescriptor,
        transport: &'static str,
        log: RequestLog,
    ) -> TraceLayer {
        let grpc = transport == "grpc";
        let (route, span_name) = match (grpc, endpoint.grpc, endpoint.http) {
            (true, Some(m), _) => (m.path, Cow::Borrowed(m.path.trim_start_matches('/'))),
            (false, _, Some(r)) => (
                r.path,
                Cow::Owned(format!("{} {}", r.method.as_str(), r.path)),
            ),
            _ => ("", Cow::Borrowed(endpoint.name)),
        };
        TraceLayer {
            shared: Arc::new(Shared {
                endpoint,
                transport,
                log,
                route,
                span_name,
                grpc,
            }),
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

impl<S, B, RB> Service<Call<B>> for Trace<S>
where
    S: Service<Call<B>, Response = Response<RB>, Error = Infallible>,
{
    type Response = Response<RB>;
    type Error = Infallible;
    type Future = TraceFuture<Instrumented<S::Future>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: Call<B>) -> Self::Future {
        let shared = &self.layer.shared;
        let trace = *call.ctx.trace();
        let span = if shared.log.span {
            tracing::debug_span!(
                "request",
                service = shared.endpoint.service,
                endpoint = shared.endpoint.name,
                transport = shared.transport,
                trace_id = %trace.trace_id(),
                span_id = %SpanId(trace.span_id()),
            )
        } else {
            Span::none()
        };
        let export = trace.sampled() && exporter().is_some();
        // Every request is watched: failures are logged whatever the settings.
        let watch = {
            let request = &call.request;
            Watch {
                shared: shared.clone(),
                start: Instant::now(),
                wall: export.then(SystemTime::now),
                method: request.method().clone(),
                peer: request
                    .extensions()
                    .get::<axum::extract::ConnectInfo<SocketAddr>>()
                    .map(|c| c.0),
                local: request.extensions().get::<LocalAddr>().map(|l| l.0),
                trace,
                code: Code::Cancelled,
                status: 499,
            }
        };
        TraceFuture {
            inner: self.inner.call(call).instrument(span),
            watch: Some(watch),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Trace`].
    pub(crate) struct TraceFuture<F> {
        #[pin]
        inner: F,
        watch: Option<Watch>,
    }
}

impl<F, RB> Future for TraceFuture<F>
where
    F: Future<Output = Result<Response<RB>, Infallible>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = std::task::ready!(this.inner.poll(cx));
        if let (Some(mut watch), Ok(response)) = (this.watch.take(), &output) {
            watch.code = ResponseCode::of(response);
            watch.status = response.status().as_u16();
        }
        Poll::Ready(output)
    }
}

/// A request being watched; reported when dropped (answered or cancelled).
struct Watch {
    shared: Arc<Shared>,
    start: Instant,
    /// Set when the span is exported.
    wall: Option<SystemTime>,
    method: Method,
    peer: Option<SocketAddr>,
    local: Option<SocketAddr>,
    trace: TraceContext,
    code: Code,
    status: u16,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let elapsed = self.start.elapsed();
        let s = &*self.shared;
        let duration_ms = (elapsed.as_secs_f64() * 1e6).round() / 1e3;
        let peer = Peer(self.peer);
        if s.log.access {
            let line = AccessLine {
                method: self.method.as_str(),
                route: s.route,
                code: self.code.as_str(),
                status: self.status,
                duration_ms,
                peer: self.peer,
                trace_id: self.trace.trace_id(),
                service: s.endpoint.service,
                endpoint: s.endpoint.name,
                transport: s.transport,
            };
            if !write_access(&line) {
                tracing::info!(
                    target: ACCESS_TARGET,
                    method = %self.method,
                    route = s.route,
                    code = self.code.as_str(),
                    status = self.status,
                    duration_ms,
                    peer = %peer,
                    trace_id = %self.trace.trace_id(),
                    service = s.endpoint.service,
                    endpoint = s.endpoint.name,
                    transport = s.transport,
                    "request"
                );
            }
        }
        if matches!(self.code, Code::Internal | Code::Unknown) {
            tracing::warn!(
                target: ACCESS_TARGET,
                method = %self.method,
                route = s.route,
                code = self.code.as_str(),
                duration_ms,
                peer = %peer,
                trace_id = %self.trace.trace_id(),
                service = s.endpoint.service,
                endpoint = s.endpoint.name,
                transport = s.transport,
                "request failed"
            );
        } else if let Some(slow) = s.endpoint.slow.or(s.log.slow) {
            if elapsed > slow {
                tracing::warn!(
                    target: ACCESS_TARGET,
                    method = %self.method,
                    route = s.route,
                    code = self.code.as_str(),
                    duration_ms,
                    threshold_ms = slow.as_millis() as u64,
                    peer = %peer,
                    trace_id = %self.trace.trace_id(),
                    service = s.endpoint.service,
                    endpoint = s.endpoint.name,
                    transport = s.transport,
                    "slow request"
                );
            }
        }
        if let (Some(start), Some(exporter)) = (self.wall, exporter()) {
            exporter.record(self.span(start, elapsed));
        }
    }
}

impl Watch {
    /// The OpenTelemetry span, with the attributes of the RPC and HTTP
    /// semantic conventions.
    fn span(&self, start: SystemTime, elapsed: Duration) -> SpanRecord {
        let s = &*self.shared;
        let mut attributes: Vec<(&'static str, Value)> = Vec::with_capacity(12);
        if s.grpc {
            attributes.push(("rpc.system", "grpc".into()));
            if let Some(m) = s.endpoint.grpc {
                let full: &'static str = m.path.trim_start_matches('/');
                if let Some((service, _)) = full.split_once('/') {
                    attributes.push(("rpc.service", service.into()));
                }
                attributes.push(("rpc.method", m.name.into()));
            }
            attributes.push(("rpc.grpc.status_code", (self.code as i64).into()));
        } else {
            attributes.push(("http.request.method", method_value(&self.method)));
            attributes.push(("http.route", s.route.into()));
            attributes.push(("http.response.status_code", i64::from(self.status).into()));
            attributes.push(("url.scheme", "http".into()));
        }
        if let Some(local) = self.local {
            attributes.push(("server.address", Value::Ip(local.ip())));
            attributes.push(("server.port", i64::from(local.port()).into()));
        }
        if let Some(peer) = self.peer {
            attributes.push(("network.peer.address", Value::Ip(peer.ip())));
            attributes.push(("network.peer.port", i64::from(peer.port()).into()));
        }
        attributes.push(("kit.service", s.endpoint.service.into()));
        attributes.push(("kit.endpoint", s.endpoint.name.into()));
        attributes.push(("kit.code", self.code.as_str().into()));
        // A server span fails on a server fault (5xx; the gRPC codes the
        // semantic conventions name), not on the caller's.
        let failed = if s.grpc {
            matches!(
                self.code,
                Code::Unknown
                    | Code::DeadlineExceeded
                    | Code::Unimplemented
                    | Code::Internal
                    | Code::Unavailable
                    | Code::DataLoss
            )
        } else {
            self.status >= 500
        };
        if failed {
            attributes.push(("error.type", self.code.as_str().into()));
        }
        SpanRecord {
            trace_id: self.trace.trace_id().0,
            span_id: self.trace.span_id(),
            parent_span_id: self.trace.parent_span_id(),
            name: s.span_name.clone(),
            kind: SpanKind::Server,
            start,
            end: start + elapsed,
            attributes,
            error: failed.then(|| self.code.as_str().to_string()),
        }
    }
}

/// The method as a static string when it is a standard one (no allocation).
fn method_value(method: &Method) -> Value {
    let known = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
    ];
    match known.iter().find(|m| *m == method) {
        Some(m) => Value::Str(Cow::Borrowed(static_method(m))),
        None => Value::Str(Cow::Owned(method.to_string())),
    }
}

fn static_method(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        _ => "OPTIONS",
    }
}

/// A span id as 16 hex digits.
struct SpanId(u64);

impl std::fmt::Display for SpanId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}
