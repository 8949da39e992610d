//! Spans leaving the process: one OpenTelemetry span per server request
//! and per client call, with the ids kit already propagates in
//! `traceparent`, encoded as OTLP protobuf straight from kit's records and
//! sent to an OTLP/gRPC receiver (an OpenTelemetry collector, Jaeger,
//! Tempo...) in batches.
//!
//! Configured by the standard variables, off when no endpoint is set:
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_ENDPOINT` | the receiver, `http://HOST:4317` (the first wins; over `http/protobuf` the second gets `/v1/traces`) | none: no export |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL` (or `_TRACES_PROTOCOL`) | `grpc` or `http/protobuf` | `grpc` |
//! | `OTEL_SERVICE_NAME` | the `service.name` resource attribute | the first service's name |
//! | `OTEL_RESOURCE_ATTRIBUTES` | more resource attributes, `k=v,k=v` | none |
//! | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | a [`Sampler`] and its ratio | `parentbased_always_on` |
//!
//! Export never slows or fails a request: spans go through a bounded queue
//! (16384) to one background task that takes them every 50 ms; when the queue is full or the receiver
//! is down, spans are dropped and counted in `kit_trace_spans_dropped_total`.

mod otlp;
mod sampler;
mod wire;

use std::borrow::Cow;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use metrics::Counter;
use tokio::sync::{mpsc, oneshot};

pub use sampler::Sampler;

use crate::Error;

/// Spans exported.
pub const SPANS_EXPORTED: &str = "kit_trace_spans_exported_total";
/// Spans dropped: queue full, or the receiver refused or could not be reached.
pub const SPANS_DROPPED: &str = "kit_trace_spans_dropped_total";

/// Spans waiting for the exporter at most (the task takes them every
/// 50 ms: room for 300k spans a second).
const QUEUE: usize = 16384;

/// How spans travel to the receiver (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/gRPC (`grpc`, port 4317 by convention).
    #[default]
    Grpc,
    /// OTLP/HTTP with protobuf bodies (`http/protobuf`, port 4318), POSTed
    /// to `/v1/traces`.
    HttpProtobuf,
}

impl Protocol {
    fn parse(text: &str) -> Result<Protocol, Error> {
        match text.trim() {
            "grpc" => Ok(Protocol::Grpc),
            "http/protobuf" => Ok(Protocol::HttpProtobuf),
            other => Err(Error::invalid_argument(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL={other}: kit exports over grpc or http/protobuf (http/json is not supported)"
            ))),
        }
    }
}

/// Where and what to export (read from the `OTEL_*` variables by
/// [`Config`](crate::Config)).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExportConfig {
    /// The receiver; `None`: no export. Over `http/protobuf` it is the
    /// full URL spans are POSTed to (see [`ExportConfig::traces_url`]).
    pub endpoint: Option<String>,
    /// How spans travel.
    pub protocol: Protocol,
    /// `service.name`; `None`: the caller's default.
    pub service_name: Option<String>,
    /// More resource attributes.
    pub resource: Vec<(String, String)>,
    /// Which traces are recorded.
    pub sampler: Sampler,
}

impl ExportConfig {
    /// The URL spans go to, as the specification says: the signal's own
    /// endpoint as it is; else the general endpoint, to which
    /// `http/protobuf` adds `/v1/traces` (gRPC uses it as it is).
    ///
    /// ```
    /// use kit_runtime::trace::{ExportConfig, Protocol};
    /// let url = ExportConfig::traces_url(Protocol::HttpProtobuf, None, Some("http://c:4318/".into()));
    /// assert_eq!(url.as_deref(), Some("http://c:4318/v1/traces"));
    /// ```
    pub fn traces_url(
        protocol: Protocol,
        traces_endpoint: Option<String>,
        endpoint: Option<String>,
    ) -> Option<String> {
        traces_endpoint.or_else(|| {
            endpoint.map(|e| match protocol {
                Protocol::Grpc => e,
                Protocol::HttpProtobuf => format!("{}/v1/traces", e.trim_end_matches('/')),
            })
        })
    }

    /// Reads the `OTEL_*` variables.
    pub fn from_env() -> Result<ExportConfig, Error> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let protocol = match var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or(var("OTEL_EXPORTER_OTLP_PROTOCOL"))
        {
            Some(p) => Protocol::parse(&p)?,
            None => Protocol::Grpc,
        };
        let endpoint = ExportConfig::traces_url(
            protocol,
            var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            var("OTEL_EXPORTER_OTLP_ENDPOINT"),
        );
        let mut sampler = match var("OTEL_TRACES_SAMPLER") {
            Some(name) => name
                .parse::<Sampler>()
                .map_err(|e| Error::invalid_argument(format!("OTEL_TRACES_SAMPLER: {e}")))?,
            None => Sampler::default(),
        };
        if let Some(arg) = var("OTEL_TRACES_SAMPLER_ARG") {
            let ratio: f64 = arg.trim().parse().map_err(|_| {
                Error::invalid_argument(format!(
                    "OTEL_TRACES_SAMPLER_ARG={arg}: expected a ratio between 0 and 1"
                ))
            })?;
            sampler = sampler.with_ratio(ratio);
        }
        let resource = var("OTEL_RESOURCE_ATTRIBUTES")
            .map(|attrs| {
                attrs
                    .split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        Ok(ExportConfig {
            endpoint,
            protocol,
            service_name: var("OTEL_SERVICE_NAME"),
            resource,
            sampler,
        })
    }
}

/// Whether a span served a request or made a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SpanKind {
    Server,
    Client,
}

/// An attribute value.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    Str(Cow<'static, str>),
    Int(i64),
    /// An address, formatted when the span is sent (off the request path).
    Ip(std::net::IpAddr),
}

impl From<&'static str> for Value {
    fn from(s: &'static str) -> Value {
        Value::Str(Cow::Borrowed(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(Cow::Owned(s))
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int(n)
    }
}

/// One finished span.
#[derive(Clone, Debug)]
pub(crate) struct SpanRecord {
    pub(crate) trace_id: u128,
    pub(crate) span_id: u64,
    pub(crate) parent_span_id: Option<u64>,
    pub(crate) name: Cow<'static, str>,
    pub(crate) kind: SpanKind,
    pub(crate) start: SystemTime,
    pub(crate) end: SystemTime,
    pub(crate) attributes: Vec<(&'static str, Value)>,
    /// The status message of a failed span (status ERROR); `None`: unset.
    pub(crate) error: Option<String>,
}

pub(crate) fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

enum Message {
    Span(Box<SpanRecord>),
    Flush(oneshot::Sender<()>),
}

/// The process's span exporter.
pub(crate) struct Exporter {
    tx: mpsc::Sender<Message>,
    sampler: Sampler,
    dropped: Counter,
}

static EXPORTER: OnceLock<Exporter> = OnceLock::new();

/// The exporter, when export is on.
pub(crate) fn exporter() -> Option<&'static Exporter> {
    EXPORTER.get()
}

impl Exporter {
    /// Queues a finished span; drops (and counts) it when the queue is full.
    pub(crate) fn record(&self, span: SpanRecord) {
        if self.tx.try_send(Message::Span(Box::new(span))).is_err() {
            self.dropped.increment(1);
        }
    }

    /// Whether to record a trace (see [`Sampler::sample`]).
    pub(crate) fn sample(&self, trace_id: u128, parent: Option<bool>) -> bool {
        self.sampler.sample(trace_id, parent)
    }
}

/// Starts exporting spans as `config` says, once per process, on the
/// current tokio runtime (a server does it at start; a client-only binary
/// calls it to export its calls). `default_name` is the `service.name`
/// when `OTEL_SERVICE_NAME` is unset. Returns whether export is on.
///
/// ```no_run
/// # async fn run() -> Result<(), kit_runtime::Error> {
/// let config = kit_runtime::trace::ExportConfig::from_env()?;
/// kit_runtime::trace::start_export(&config, "my-cli")?;
/// # Ok(()) }
/// ```
pub fn start_export(config: &ExportConfig, default_name: &str) -> Result<bool, Error> {
    let Some(endpoint) = &config.endpoint else {
        return Ok(false);
    };
    if EXPORTER.get().is_some() {
        return Ok(true);
    }
    let target = otlp::Target::new(
        endpoint,
        config.protocol,
        config.service_name.as_deref().unwrap_or(default_name),
        &config.resource,
    )?;
    let (tx, rx) = mpsc::channel(QUEUE);
    let exporter = Exporter {
        tx,
        sampler: config.sampler.clone(),
        dropped: metrics::counter!(SPANS_DROPPED),
    };
    if EXPORTER.set(exporter).is_ok() {
        tokio::spawn(otlp::run(target, rx));
        tracing::info!(endpoint = %endpoint, sampler = %config.sampler, "exporting spans over OTLP");
    }
    Ok(true)
}

/// Sends the spans queued so far, waiting up to `timeout` (a server does
/// it when it stops).
pub async fn flush_export(timeout: Duration) {
    let Some(exporter) = exporter() else { return };
    let (done, wait) = oneshot::channel();
    let sent = tokio::time::timeout(timeout, async {
        if exporter.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    })
    .await;
    if sent.is_err() {
        tracing::warn!("spans not all exported at shutdown: the receiver did not answer in time");
    }
}

pub(crate) fn describe() {
    metrics::describe_counter!(SPANS_EXPORTED, "Spans sent to the OTLP receiver.");
    metrics::describe_counter!(
        SPANS_DROPPED,
        "Spans dropped: export queue full, or the receiver refused or could not be reached."
    );
}
