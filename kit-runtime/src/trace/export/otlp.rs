//! The OTLP/gRPC wire: batches of finished spans as an
//! `ExportTraceServiceRequest` to `opentelemetry.proto.collector.trace.v1.TraceService/Export`.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};
use tokio::sync::mpsc;
use tonic::transport::{Channel, Endpoint};

use super::{unix_nanos, Message, SpanKind, SpanRecord, Value, SPANS_DROPPED, SPANS_EXPORTED};
use crate::Error;

/// Spans per request at most.
const BATCH: usize = 512;
/// How long a span waits for its batch at most.
const LINGER: Duration = Duration::from_secs(1);

/// The receiver and this process's resource.
pub(super) struct Target {
    channel: Channel,
    resource: Resource,
}

impl Target {
    pub(super) fn new(
        endpoint: &str,
        service_name: &str,
        extra: &[(String, String)],
    ) -> Result<Target, Error> {
        if !endpoint.starts_with("http://") {
            return Err(Error::invalid_argument(format!(
                "OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}: write http://HOST:PORT (https is planned)"
            )));
        }
        let channel = Endpoint::from_shared(endpoint.to_string())
            .map_err(|e| {
                Error::invalid_argument(format!(
                    "OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}: not a URL ({e}); write e.g. http://127.0.0.1:4317"
                ))
            })?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .connect_lazy();
        let mut attributes = vec![
            key_value("service.name", service_name.to_string().into()),
            key_value("telemetry.sdk.name", "kit".into()),
            key_value("telemetry.sdk.language", "rust".into()),
            key_value("telemetry.sdk.version", env!("CARGO_PKG_VERSION").into()),
        ];
        for (k, v) in extra {
            if k != "service.name" {
                attributes.push(KeyValue {
                    key: k.clone(),
                    value: Some(string(v.clone())),
                    ..Default::default()
                });
            }
        }
        Ok(Target {
            channel,
            resource: Resource {
                attributes,
                ..Default::default()
            },
        })
    }
}

/// How often the export task takes what the queue holds: polling instead
/// of waking on every span, which would cost a task switch per request.
const POLL: Duration = Duration::from_millis(50);

/// The export task: every [`POLL`] takes the queued spans into batches of
/// up to [`BATCH`], sent when full or [`LINGER`] after their first span,
/// one at a time.
pub(super) async fn run(target: Target, mut rx: mpsc::Receiver<Message>) {
    let mut sender = Sender {
        client: TraceServiceClient::new(target.channel.clone()),
        resource: target.resource,
        exported: metrics::counter!(SPANS_EXPORTED),
        dropped: metrics::counter!(SPANS_DROPPED),
        failures: 0,
    };
    let mut batch: Vec<Span> = Vec::with_capacity(BATCH);
    let mut first_at: Option<tokio::time::Instant> = None;
    let mut waiting: Vec<tokio::sync::oneshot::Sender<()>> = Vec::new();
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let mut closed = false;
        loop {
            match rx.try_recv() {
                Ok(Message::Span(s)) => {
                    first_at.get_or_insert_with(tokio::time::Instant::now);
                    batch.push(to_proto(&s));
                    if batch.len() >= BATCH {
                        sender.send(std::mem::take(&mut batch)).await;
                        first_at = None;
                    }
                }
                Ok(Message::Flush(done)) => waiting.push(done),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        let due = first_at.is_some_and(|t| t.elapsed() >= LINGER);
        if !batch.is_empty() && (due || closed || !waiting.is_empty()) {
            sender.send(std::mem::take(&mut batch)).await;
            first_at = None;
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
        if closed {
            return;
        }
    }
}

/// The client end and its counters.
struct Sender {
    client: TraceServiceClient<Channel>,
    resource: Resource,
    exported: metrics::Counter,
    dropped: metrics::Counter,
    failures: u64,
}

impl Sender {
    async fn send(&mut self, spans: Vec<Span>) {
        let n = spans.len() as u64;
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(self.resource.clone()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "kit".into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        ..Default::default()
                    }),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        };
        match self.client.export(request).await {
            Ok(_) => {
                self.exported.increment(n);
                if self.failures > 0 {
                    tracing::info!(
                        failed_batches = self.failures,
                        "the OTLP receiver answers again"
                    );
                    self.failures = 0;
                }
            }
            Err(status) => {
                self.dropped.increment(n);
                self.failures += 1;
                // One line when the receiver goes away, then one per 100 batches.
                if self.failures % 100 == 1 {
                    tracing::warn!(error = %status.message(), code = ?status.code(), spans = n, "cannot export spans; dropping them");
                }
            }
        }
    }
}

fn to_proto(s: &SpanRecord) -> Span {
    let failed = s.error.is_some();
    Span {
        trace_id: s.trace_id.to_be_bytes().to_vec(),
        span_id: s.span_id.to_be_bytes().to_vec(),
        parent_span_id: s
            .parent_span_id
            .map(|p| p.to_be_bytes().to_vec())
            .unwrap_or_default(),
        // Sampled; the parent is remote for server spans.
        flags: 0x01
            | match (s.kind, s.parent_span_id) {
                (SpanKind::Server, Some(_)) => 0x300,
                (_, Some(_)) => 0x100,
                (_, None) => 0,
            },
        name: s.name.to_string(),
        kind: match s.kind {
            SpanKind::Server => span::SpanKind::Server,
            SpanKind::Client => span::SpanKind::Client,
        } as i32,
        start_time_unix_nano: unix_nanos(s.start),
        end_time_unix_nano: unix_nanos(s.end),
        attributes: s
            .attributes
            .iter()
            .map(|(k, v)| key_value(k, v.clone()))
            .collect(),
        status: Some(Status {
            message: s.error.clone().unwrap_or_default(),
            code: if failed {
                status::StatusCode::Error
            } else {
                status::StatusCode::Unset
            } as i32,
        }),
        ..Default::default()
    }
}

fn key_value(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(match value {
            Value::Str(s) => string(s.into_owned()),
            Value::Ip(ip) => string(ip.to_string()),
            Value::Int(n) => AnyValue {
                value: Some(any_value::Value::IntValue(n)),
            },
        }),
        ..Default::default()
    }
}

fn string(s: String) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s)),
    }
}
