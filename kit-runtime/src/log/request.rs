//! The request a log line was written in: service, endpoint, trace and
//! span ids added to every line written while a request is served, read
//! from the task-local [`Context`](crate::Context) when the line is
//! written, so a request costs nothing until it logs.

use std::fmt::{self, Write as _};

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::ACCESS_TARGET;

/// Wraps a line format: JSON lines get `service`, `endpoint`, `trace_id`
/// and `span_id` keys first, other lines end with them as `key=value`.
pub(super) struct WithRequest<F> {
    pub(super) inner: F,
    pub(super) json: bool,
}

impl<S, N, F> FormatEvent<S, N> for WithRequest<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // The access log names its request itself.
        let current = (event.metadata().target() != ACCESS_TARGET)
            .then(crate::Context::try_current)
            .flatten();
        let Some(current) = current else {
            return self.inner.format_event(ctx, writer, event);
        };
        let mut fields = String::with_capacity(128);
        let (service, endpoint) = current.endpoint().map_or(("", ""), |e| (e.service, e.name));
        let span_id = current.trace().span_id();
        if self.json {
            let _ = write!(
                fields,
                "\"service\":{},\"endpoint\":{},\"trace_id\":\"{}\",\"span_id\":\"{span_id:016x}\",",
                json_str(service),
                json_str(endpoint),
                current.trace_id()
            );
        } else {
            let _ = write!(
                fields,
                " service={service} endpoint={endpoint} trace_id={} span_id={span_id:016x}",
                current.trace_id()
            );
        }
        let mut line = String::with_capacity(256);
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        if self.json {
            match line.find('{') {
                Some(at) => line.insert_str(at + 1, &fields),
                None => line.push_str(&fields),
            }
        } else {
            let end = line.trim_end_matches('\n').len();
            line.insert_str(end, &fields);
        }
        writer.write_str(&line)
    }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}
