//! The client's side of a trace: each call is a span of its own, a child
//! of the request being served (or a new trace outside one), whose id the
//! call sends in `traceparent`; exported when sampled.

use std::borrow::Cow;
use std::time::SystemTime;

use crate::descriptor::EndpointDescriptor;
use crate::trace::export::{exporter, SpanKind, SpanRecord, Value};
use crate::trace::TraceContext;
use crate::{Code, Context};

/// A call's span, from its start.
pub(super) struct CallSpan {
    trace: TraceContext,
    /// Set when the span is exported.
    start: Option<SystemTime>,
}

impl CallSpan {
    /// The context the call runs in (the current one with the call's span)
    /// and its span.
    pub(super) fn start() -> (Context, CallSpan) {
        let (ctx, trace) = match Context::try_current() {
            Some(ctx) => {
                let trace = ctx.trace().child();
                (ctx.with_trace(trace), trace)
            }
            None => {
                let mut trace = TraceContext::new_root();
                if let Some(e) = exporter() {
                    trace = trace.with_sampled(e.sample(trace.trace_id().0, None));
                }
                (Context::root().with_trace(trace), trace)
            }
        };
        let start = (trace.sampled() && exporter().is_some()).then(SystemTime::now);
        (ctx, CallSpan { trace, start })
    }

    /// Exports the span of a call that ended with `code`.
    pub(super) fn finish(self, desc: &EndpointDescriptor, grpc: bool, code: Code) {
        let (Some(start), Some(exporter)) = (self.start, exporter()) else {
            return;
        };
        let end = SystemTime::now();
        let mut attributes: Vec<(&'static str, Value)> = Vec::with_capacity(8);
        let name = match (grpc, desc.grpc, desc.http) {
            (true, Some(m), _) => {
                let full = m.path.trim_start_matches('/');
                attributes.push(("rpc.system", "grpc".into()));
                if let Some((service, _)) = full.split_once('/') {
                    attributes.push(("rpc.service", service.to_string().into()));
                }
                attributes.push(("rpc.method", m.name.into()));
                attributes.push(("rpc.grpc.status_code", (code as i64).into()));
                Cow::Borrowed(full)
            }
            (false, _, Some(r)) => {
                attributes.push(("http.request.method", r.method.as_str().into()));
                attributes.push(("url.template", r.path.into()));
                attributes.push((
                    "http.response.status_code",
                    i64::from(code.http_status().as_u16()).into(),
                ));
                Cow::Owned(format!("{} {}", r.method.as_str(), r.path))
            }
            _ => Cow::Borrowed(desc.name),
        };
        attributes.push(("kit.service", desc.service.into()));
        attributes.push(("kit.endpoint", desc.name.into()));
        attributes.push(("kit.code", code.as_str().into()));
        // A client span fails on any code but OK.
        let failed = code != Code::Ok;
        if failed {
            attributes.push(("error.type", code.as_str().into()));
        }
        exporter.record(SpanRecord {
            trace_id: self.trace.trace_id().0,
            span_id: self.trace.span_id(),
            parent_span_id: self.trace.parent_span_id(),
            name,
            kind: SpanKind::Client,
            start,
            end: end.max(start),
            attributes,
            error: failed.then(|| code.as_str().to_string()),
        });
    }
}
