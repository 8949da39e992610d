//! The OTLP transports: batches of finished spans as an
//! `ExportTraceServiceRequest`, over gRPC to
//! `opentelemetry.proto.collector.trace.v1.TraceService/Export`, or POSTed
//! as protobuf to the receiver's `/v1/traces` (OTLP/HTTP).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;
use tonic::transport::{Channel, Endpoint};

use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;

use super::{wire, Message, Protocol, SPANS_DROPPED, SPANS_EXPORTED};
use crate::client::RawCodec;
use crate::Error;

/// The method spans are sent to.
const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Spans per request at most.
const BATCH: usize = 512;
/// How long a span waits for its batch at most.
const LINGER: Duration = Duration::from_secs(1);

/// The receiver and this process's resource.
pub(super) struct Target {
    transport: Transport,
    /// The encoded `Resource`.
    resource: Bytes,
}

/// How a batch travels.
enum Transport {
    Grpc(tonic::client::Grpc<Channel>),
    Http {
        client: Box<HttpClient<HttpConnector, Full<Bytes>>>,
        url: http::Uri,
    },
}

impl Target {
    pub(super) fn new(
        endpoint: &str,
        protocol: Protocol,
        service_name: &str,
        extra: &[(String, String)],
    ) -> Result<Target, Error> {
        if !endpoint.starts_with("http://") {
            return Err(Error::invalid_argument(format!(
                "OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}: write http://HOST:PORT (https is planned)"
            )));
        }
        let transport = match protocol {
            Protocol::Grpc => {
                let channel = Endpoint::from_shared(endpoint.to_string())
                    .map_err(|e| {
                        Error::invalid_argument(format!(
                            "OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}: not a URL ({e}); write e.g. http://127.0.0.1:4317"
                        ))
                    })?
                    .connect_timeout(Duration::from_secs(5))
                    .timeout(Duration::from_secs(10))
                    .connect_lazy();
                Transport::Grpc(tonic::client::Grpc::new(channel))
            }
            Protocol::HttpProtobuf => Transport::Http {
                client: Box::new(HttpClient::builder(TokioExecutor::new()).build_http()),
                url: endpoint.parse().map_err(|e| {
                    Error::invalid_argument(format!(
                        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT={endpoint}: not a URL ({e})"
                    ))
                })?,
            },
        };
        let mut attributes = vec![
            ("service.name".to_string(), service_name.to_string()),
            ("telemetry.sdk.name".to_string(), "kit".to_string()),
            ("telemetry.sdk.language".to_string(), "rust".to_string()),
            (
                "telemetry.sdk.version".to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
        ];
        attributes.extend(extra.iter().filter(|(k, _)| k != "service.name").cloned());
        Ok(Target {
            transport,
            resource: wire::resource(&attributes),
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
        transport: target.transport,
        resource: target.resource,
        exported: metrics::counter!(SPANS_EXPORTED),
        dropped: metrics::counter!(SPANS_DROPPED),
        failures: 0,
    };
    let mut batch = Batch::default();
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
                    wire::put_span(&mut batch.spans, &s);
                    batch.count += 1;
                    if batch.count >= BATCH {
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
        if batch.count > 0 && (due || closed || !waiting.is_empty()) {
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

/// Encoded spans waiting to be sent.
#[derive(Default)]
struct Batch {
    spans: BytesMut,
    count: usize,
}

/// The client end and its counters.
struct Sender {
    transport: Transport,
    resource: Bytes,
    exported: metrics::Counter,
    dropped: metrics::Counter,
    failures: u64,
}

impl Sender {
    async fn send(&mut self, batch: Batch) {
        let n = batch.count as u64;
        let request = wire::request(&self.resource, &batch.spans);
        let sent = match &mut self.transport {
            Transport::Grpc(client) => async {
                client
                    .ready()
                    .await
                    .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
                client
                    .unary(
                        tonic::Request::new(request),
                        http::uri::PathAndQuery::from_static(EXPORT),
                        RawCodec,
                    )
                    .await
                    .map(drop)
            }
            .await
            .map_err(|status| status.message().to_string()),
            Transport::Http { client, url } => {
                let post = http::Request::post(url.clone())
                    .header(http::header::CONTENT_TYPE, "application/x-protobuf")
                    .body(Full::new(request))
                    .map_err(|e| e.to_string());
                match post {
                    Ok(post) => {
                        match tokio::time::timeout(Duration::from_secs(10), client.request(post))
                            .await
                        {
                            Ok(Ok(r)) if r.status().is_success() => Ok(()),
                            Ok(Ok(r)) => Err(format!("the receiver answered {}", r.status())),
                            Ok(Err(e)) => Err(e.to_string()),
                            Err(_) => Err("timed out".to_string()),
                        }
                    }
                    Err(e) => Err(e),
                }
            }
        };
        match sent {
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
            Err(error) => {
                self.dropped.increment(n);
                self.failures += 1;
                // One line when the receiver goes away, then one per 100 batches.
                if self.failures % 100 == 1 {
                    tracing::warn!(error = %error, spans = n, "cannot export spans; dropping them");
                }
            }
        }
    }
}
