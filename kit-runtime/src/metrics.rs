//! RED metrics with the same names and labels for every endpoint of every
//! service, recorded through the `metrics` facade and exported in the
//! Prometheus text format.
//!
//! | name | type | labels |
//! | --- | --- | --- |
//! | `kit_server_requests_total` | counter | service, endpoint, transport, code |
//! | `kit_server_request_duration_seconds` | histogram | service, endpoint, transport |
//! | `kit_server_requests_in_flight` | gauge | service, endpoint, transport |
//! | `kit_client_requests_total` | counter | service, endpoint, transport, code |
//! | `kit_client_request_duration_seconds` | histogram | service, endpoint, transport |
//! | `kit_client_retries_total` | counter | service, endpoint, transport |
//! | `kit_client_instances` | gauge | service, state |
//! | `kit_client_ejections_total` | counter | service |
//! | `kit_client_discovery_stale` | gauge | service |
//! | `kit_client_breaker_open` | gauge | service |
//! | `kit_server_rejected_total` | counter | service, endpoint, reason |
//! | `kit_server_connections` | gauge | - |
//! | `kit_server_connections_closed_total` | counter | reason |
//! | `kit_server_accept_errors_total` | counter | - |
//! | `kit_server_concurrency_limit` | gauge | service, endpoint |
//! | `kit_server_body_bytes` | gauge | - |
//! | `kit_server_stage_duration_seconds` | histogram | service, endpoint, stage ([`stage`]) |
//! | `kit_trace_spans_exported_total`, `kit_trace_spans_dropped_total` | counter | - |
//! | `kit_metrics_push_dropped_total` | counter | backend |
//! | `kit_log_lines_dropped_total` | counter | output |
//! | `process_*`, `tokio_*` | see [`runtime`] | - |
//!
//! Prometheus's `/metrics` is always served; `--metrics URL` pushes the
//! same metrics to statsd, Graphite or InfluxDB as well ([`push`]).

mod protection;
pub mod push;
pub mod runtime;
mod shared;
mod stage;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Label};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::descriptor::EndpointDescriptor;
use crate::Code;

pub(crate) use protection::{
    concurrency_limit_gauge, connection_closed, endpoint_rejected, server_rejected,
};
pub use protection::{
    SERVER_ACCEPT_ERRORS, SERVER_BODY_BYTES, SERVER_CONCURRENCY_LIMIT, SERVER_CONNECTIONS,
    SERVER_CONNECTIONS_CLOSED, SERVER_REJECTED, SERVER_TLS_HANDSHAKE_ERRORS,
};
pub(crate) use shared::{ClientMetrics, GaugeShare};
pub use stage::{endpoint_labels, stage, time_stage, StageTimer, STAGE_DURATION};

/// Server requests by outcome.
pub const SERVER_REQUESTS: &str = "kit_server_requests_total";
/// Server latency.
pub const SERVER_DURATION: &str = "kit_server_request_duration_seconds";
/// Server requests being handled.
pub const SERVER_IN_FLIGHT: &str = "kit_server_requests_in_flight";
/// Client calls by outcome (after retries).
pub const CLIENT_REQUESTS: &str = "kit_client_requests_total";
/// Client call latency (including retries).
pub const CLIENT_DURATION: &str = "kit_client_request_duration_seconds";
/// Client retries.
pub const CLIENT_RETRIES: &str = "kit_client_retries_total";
/// A client's instances of a service, by state (`live`, `ejected`, `probing`).
pub const CLIENT_INSTANCES: &str = "kit_client_instances";
/// Instances a client ejected after consecutive failures.
pub const CLIENT_EJECTIONS: &str = "kit_client_ejections_total";
/// Clients of a service whose discovery source is failing, so that they
/// call the last instances they knew (1 for a process with one client).
pub const CLIENT_DISCOVERY_STALE: &str = "kit_client_discovery_stale";
/// Clients of a service whose circuit breaker is open.
pub const CLIENT_BREAKER_OPEN: &str = "kit_client_breaker_open";

/// Latency buckets, in seconds: 0.5 ms to 10 s.
pub(crate) const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Bumped when kit installs its recorder: handles made before it point at
/// no recorder and are made again (see `shared`).
static GENERATION: AtomicU64 = AtomicU64::new(0);

pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

/// Installs kit's recorder as the global `metrics` recorder, once per
/// process (a [`Server`](crate::Server) does it when it builds its
/// router): Prometheus, and a push recorder per target in `push` (only
/// the first call's targets count). Returns the handle that renders the
/// text format, or `None` if the application installed another recorder
/// first (then kit's metrics go there and `/metrics` is not served by kit).
pub(crate) fn install(push: &[push::MetricsTarget]) -> Option<&'static PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(LATENCY_BUCKETS)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            let pushed: Vec<_> = push
                .iter()
                .map(|t| (t.clone(), std::sync::Arc::new(push::PushRecorder::new())))
                .collect();
            if pushed.is_empty() {
                metrics::set_global_recorder(recorder).ok()?;
            } else {
                let mut fanout =
                    metrics_util::layers::FanoutBuilder::default().add_recorder(recorder);
                for (_, r) in &pushed {
                    fanout = fanout.add_recorder(SharedRecorder(r.clone()));
                }
                metrics::set_global_recorder(fanout.build()).ok()?;
            }
            GENERATION.fetch_add(1, Ordering::Relaxed);
            describe();
            spawn_upkeep(handle.clone());
            if let Err(e) = push::start(pushed) {
                tracing::warn!(error = %e, "metrics are not pushed");
            }
            Some(handle)
        })
        .as_ref()
}

/// A push recorder shared with its push task.
struct SharedRecorder(std::sync::Arc<push::PushRecorder>);

impl metrics::Recorder for SharedRecorder {
    fn describe_counter(
        &self,
        k: metrics::KeyName,
        u: Option<metrics::Unit>,
        d: metrics::SharedString,
    ) {
        self.0.describe_counter(k, u, d)
    }
    fn describe_gauge(
        &self,
        k: metrics::KeyName,
        u: Option<metrics::Unit>,
        d: metrics::SharedString,
    ) {
        self.0.describe_gauge(k, u, d)
    }
    fn describe_histogram(
        &self,
        k: metrics::KeyName,
        u: Option<metrics::Unit>,
        d: metrics::SharedString,
    ) {
        self.0.describe_histogram(k, u, d)
    }
    fn register_counter(&self, k: &metrics::Key, m: &metrics::Metadata<'_>) -> Counter {
        self.0.register_counter(k, m)
    }
    fn register_gauge(&self, k: &metrics::Key, m: &metrics::Metadata<'_>) -> Gauge {
        self.0.register_gauge(k, m)
    }
    fn register_histogram(&self, k: &metrics::Key, m: &metrics::Metadata<'_>) -> Histogram {
        self.0.register_histogram(k, m)
    }
}

/// Histogram samples pile up in the recorder until drained: drain them
/// every few seconds whether or not anyone scrapes `/metrics`, so memory
/// stays flat under load. A thread, so it runs whatever runtime (if any)
/// the process uses.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("kit-metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_INTERVAL);
            handle.run_upkeep();
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the metrics upkeep thread: histogram samples will be drained only when /metrics is scraped");
    }
}

/// How often histogram samples are drained.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    protection::describe();
    push::describe();
    runtime::describe();
    stage::describe();
    crate::stream::server::describe();
    crate::trace::export::describe();
    describe_counter!(SERVER_REQUESTS, "Requests served, by canonical code.");
    describe_histogram!(SERVER_DURATION, Unit::Seconds, "Time to answer a request.");
    describe_gauge!(SERVER_IN_FLIGHT, "Requests being handled now.");
    describe_counter!(
        CLIENT_REQUESTS,
        "Client calls made, by final canonical code."
    );
    describe_histogram!(
        CLIENT_DURATION,
        Unit::Seconds,
        "Time a client call took, retries included."
    );
    describe_counter!(CLIENT_RETRIES, "Client retries.");
    describe_gauge!(
        CLIENT_INSTANCES,
        "A client's instances of a service, by state."
    );
    describe_counter!(
        CLIENT_EJECTIONS,
        "Instances ejected after consecutive failures."
    );
    describe_gauge!(
        CLIENT_DISCOVERY_STALE,
        "1 while discovery fails and the last known instances are used."
    );
    describe_gauge!(
        CLIENT_BREAKER_OPEN,
        "1 while the client's circuit breaker is open."
    );
}

/// The metric handles of one endpoint on one transport, resolved once so a
/// request pays no registry lookup.
pub(crate) struct EndpointMetrics {
    labels: [Label; 3],
    by_code: [OnceLock<Counter>; 17],
    requests_name: &'static str,
    duration: Histogram,
    in_flight: Option<Gauge>,
    retries: Option<Counter>,
}

impl EndpointMetrics {
    /// Server-side handles for `endpoint` on `transport`.
    pub(crate) fn server(
        endpoint: &EndpointDescriptor,
        transport: &'static str,
    ) -> EndpointMetrics {
        let labels = labels(endpoint, transport);
        EndpointMetrics {
            duration: metrics::histogram!(SERVER_DURATION, labels.to_vec()),
            in_flight: Some(metrics::gauge!(SERVER_IN_FLIGHT, labels.to_vec())),
            retries: None,
            requests_name: SERVER_REQUESTS,
            by_code: Default::default(),
            labels,
        }
    }

    /// Client-side handles for `endpoint` on `transport`.
    pub(crate) fn client(
        endpoint: &EndpointDescriptor,
        transport: &'static str,
    ) -> EndpointMetrics {
        let labels = labels(endpoint, transport);
        EndpointMetrics {
            duration: metrics::histogram!(CLIENT_DURATION, labels.to_vec()),
            in_flight: None,
            retries: Some(metrics::counter!(CLIENT_RETRIES, labels.to_vec())),
            requests_name: CLIENT_REQUESTS,
            by_code: Default::default(),
            labels,
        }
    }

    /// Marks a request started (server: in-flight gauge up).
    pub(crate) fn start(&self) {
        if let Some(g) = &self.in_flight {
            g.increment(1.0);
        }
    }

    /// Records a finished request: its code and duration (server: in-flight down).
    pub(crate) fn finish(&self, code: Code, elapsed: Duration) {
        if let Some(g) = &self.in_flight {
            g.decrement(1.0);
        }
        self.duration.record(elapsed.as_secs_f64());
        self.by_code[code as usize]
            .get_or_init(|| {
                let mut labels = self.labels.to_vec();
                labels.push(Label::new("code", code.as_str()));
                metrics::counter!(self.requests_name, labels)
            })
            .increment(1);
    }

    /// Records one client retry.
    pub(crate) fn retry(&self) {
        if let Some(c) = &self.retries {
            c.increment(1);
        }
    }
}

fn labels(endpoint: &EndpointDescriptor, transport: &'static str) -> [Label; 3] {
    [
        Label::new("service", endpoint.service),
        Label::new("endpoint", endpoint.name),
        Label::new("transport", transport),
    ]
}
