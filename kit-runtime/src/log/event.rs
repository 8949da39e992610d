//! Business events: log-structured data a handler records with
//! [`kit::event!`](crate::event), one JSON object per line, sent to their
//! own destination (`--events`) and never mixed with diagnostic logs.

use std::fmt;
use std::io::Write;
use std::time::SystemTime;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context as LayerContext, Layer};

/// The `tracing` target of business events.
pub const EVENT_TARGET: &str = "kit::event";

/// Records a business event: a name and fields, written as one JSON object
/// (with `timestamp`, and `service`, `endpoint`, `trace_id`, `span_id` when
/// inside a request) to the process's events destination (`--events`,
/// stdout by default), apart from diagnostic logs. Field values are
/// numbers, booleans, strings, or anything `Debug` (`?value`) or `Display`
/// (`%value`).
///
/// ```
/// let order_id = 42u64;
/// let amount = 9.5;
/// kit_runtime::event!("order_placed", order_id, amount, currency = "EUR");
/// ```
#[macro_export]
macro_rules! event {
    ($name:literal $(,)?) => {
        $crate::__tracing::event!(target: "kit::event", $crate::__tracing::Level::INFO, event = $name)
    };
    ($name:literal, $($fields:tt)+) => {
        $crate::__tracing::event!(target: "kit::event", $crate::__tracing::Level::INFO, event = $name, $($fields)+)
    };
}

/// Writes events as JSON lines.
pub(super) struct EventLayer {
    writer: BoxMakeWriter,
}

impl EventLayer {
    pub(super) fn new(writer: BoxMakeWriter) -> EventLayer {
        EventLayer { writer }
    }
}

impl<S: Subscriber> Layer<S> for EventLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: LayerContext<'_, S>) {
        let mut object = Map::new();
        object.insert(
            "timestamp".into(),
            humantime::format_rfc3339_micros(SystemTime::now())
                .to_string()
                .into(),
        );
        if let Some(ctx) = crate::Context::try_current() {
            if let Some(endpoint) = ctx.endpoint() {
                object.insert("service".into(), endpoint.service.into());
                object.insert("endpoint".into(), endpoint.name.into());
            }
            object.insert("trace_id".into(), ctx.trace_id().to_string().into());
            object.insert(
                "span_id".into(),
                format!("{:016x}", ctx.trace().span_id()).into(),
            );
        }
        event.record(&mut Fields(&mut object));
        let Ok(mut line) = serde_json::to_vec(&object) else {
            return;
        };
        line.push(b'\n');
        let _ = self
            .writer
            .make_writer_for(event.metadata())
            .write_all(&line);
    }
}

struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}
