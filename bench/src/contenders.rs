//! The hand-written contenders kit is measured against: the same routes,
//! bodies and answers as `stringsvc`, written the way a careful user of
//! axum and tonic would write them.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tower::{Layer, Service};

use crate::pb;

#[derive(Deserialize)]
pub struct Req {
    s: String,
}

fn error(status: StatusCode, code: &str, message: &str) -> (StatusCode, Json<serde_json::Value>) {
    let body = serde_json::json!({"error": {"code": status.as_u16(), "status": code, "message": message, "details": []}});
    (status, Json(body))
}

async fn uppercase(
    Json(req): Json<Req>,
) -> Result<Json<String>, (StatusCode, Json<serde_json::Value>)> {
    if req.s.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "empty string",
        ));
    }
    Ok(Json(req.s.to_uppercase()))
}

async fn count(Json(req): Json<Req>) -> Json<u64> {
    Json(req.s.len() as u64)
}

/// `GET /letters/{s}` as Server-Sent Events, each letter uppercased, with
/// axum's own `Sse` (the hand-written equivalent of kit's SSE stream).
async fn letters(
    axum::extract::Path(s): axum::extract::Path<String>,
) -> axum::response::sse::Sse<
    impl futures_util::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
> {
    let items: Vec<String> = s.chars().map(|c| c.to_uppercase().to_string()).collect();
    axum::response::sse::Sse::new(futures_util::stream::iter(items.into_iter().map(|l| {
        let json = serde_json::to_string(&l).unwrap_or_default();
        Ok(axum::response::sse::Event::default().data(json))
    })))
}

/// The floor: axum with no middleware at all.
pub fn axum_bare() -> Router {
    Router::new()
        .route("/uppercase", post(uppercase))
        .route("/count", post(count))
        .route("/letters/{s}", get(letters))
}

/// axum with what a careful user adds by hand: tower-http's TraceLayer,
/// a RED metrics middleware, a 2 s timeout, and /metrics.
pub fn axum_instrumented() -> Router {
    let handle = install_prometheus();
    Router::new()
        .route("/uppercase", post(uppercase))
        .route("/count", post(count))
        .route("/letters/{s}", get(letters))
        .layer(HandMetricsLayer { transport: "http" })
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            Duration::from_secs(2),
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .route("/metrics", get(move || std::future::ready(handle.render())))
}

fn install_prometheus() -> metrics_exporter_prometheus::PrometheusHandle {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let _ = metrics::set_global_recorder(recorder);
    handle
}

/// A hand-written RED metrics layer: request counter by path and status,
/// latency histogram, in-flight gauge, labels resolved per request.
#[derive(Clone, Copy)]
pub struct HandMetricsLayer {
    transport: &'static str,
}

impl<S> Layer<S> for HandMetricsLayer {
    type Service = HandMetrics<S>;
    fn layer(&self, inner: S) -> HandMetrics<S> {
        HandMetrics {
            inner,
            transport: self.transport,
        }
    }
}

#[derive(Clone)]
pub struct HandMetrics<S> {
    inner: S,
    transport: &'static str,
}

impl<S, B, RB> Service<http::Request<B>> for HandMetrics<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    RB: Send + 'static,
{
    type Response = http::Response<RB>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<RB>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let path = req.uri().path().to_string();
        let transport = self.transport;
        let start = Instant::now();
        let gauge =
            metrics::gauge!("requests_in_flight", "path" => path.clone(), "transport" => transport);
        gauge.increment(1.0);
        let fut = self.inner.call(req);
        Box::pin(async move {
            let result = fut.await;
            gauge.decrement(1.0);
            let status = match &result {
                Ok(r) => r.status().as_u16().to_string(),
                Err(_) => "error".to_string(),
            };
            metrics::counter!("requests_total", "path" => path.clone(), "transport" => transport, "status" => status).increment(1);
            metrics::histogram!("request_duration_seconds", "path" => path, "transport" => transport)
                .record(start.elapsed().as_secs_f64());
            result
        })
    }
}

/// The proto-first tonic implementation of the same service.
#[derive(Default)]
pub struct TonicStrings;

#[tonic::async_trait]
impl pb::string_service_server::StringService for TonicStrings {
    async fn uppercase(
        &self,
        request: tonic::Request<pb::UppercaseRequest>,
    ) -> Result<tonic::Response<pb::UppercaseResponse>, tonic::Status> {
        let s = request.into_inner().s;
        if s.is_empty() {
            return Err(tonic::Status::invalid_argument("empty string"));
        }
        Ok(tonic::Response::new(pb::UppercaseResponse {
            value: s.to_uppercase(),
        }))
    }

    async fn count(
        &self,
        request: tonic::Request<pb::CountRequest>,
    ) -> Result<tonic::Response<pb::CountResponse>, tonic::Status> {
        Ok(tonic::Response::new(pb::CountResponse {
            value: request.into_inner().s.len() as u64,
        }))
    }

    type LettersStream = Pin<
        Box<dyn futures_util::Stream<Item = Result<pb::LettersResponse, tonic::Status>> + Send>,
    >;

    async fn letters(
        &self,
        request: tonic::Request<pb::LettersRequest>,
    ) -> Result<tonic::Response<Self::LettersStream>, tonic::Status> {
        let s = request.into_inner().s;
        let items: Vec<_> = s
            .chars()
            .map(|c| {
                Ok(pb::LettersResponse {
                    value: c.to_uppercase().to_string(),
                })
            })
            .collect();
        Ok(tonic::Response::new(Box::pin(futures_util::stream::iter(
            items,
        ))))
    }
}

/// Serves the tonic contender; `instrumented` adds TraceLayer, the metrics
/// layer and a 2 s timeout, as a careful user would.
pub async fn serve_tonic(
    listener: tokio::net::TcpListener,
    instrumented: bool,
) -> Result<(), tonic::transport::Error> {
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let svc = pb::string_service_server::StringServiceServer::new(TonicStrings);
    if instrumented {
        let _handle = install_prometheus();
        tonic::transport::Server::builder()
            .timeout(Duration::from_secs(2))
            .layer(tower_http::trace::TraceLayer::new_for_grpc())
            .layer(HandMetricsLayer { transport: "grpc" })
            .add_service(svc)
            .serve_with_incoming(incoming)
            .await
    } else {
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(incoming)
            .await
    }
}
