//! Liveness and readiness, shared by `/health` and `grpc.health.v1.Health`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;

/// The health of a server: live while the process runs, ready while it
/// accepts work (not before the application says so, not while draining).
///
/// ```
/// let health = kit_runtime::server::Health::new();
/// assert!(health.is_ready());
/// health.set_ready(false);
/// assert!(!health.is_ready());
/// ```
#[derive(Clone, Debug)]
pub struct Health {
    inner: Arc<HealthState>,
}

struct HealthState {
    ready: AtomicBool,
    draining: AtomicBool,
    grpc: std::sync::OnceLock<tonic_health::server::HealthReporter>,
    grpc_names: std::sync::OnceLock<Vec<String>>,
}

impl std::fmt::Debug for HealthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthState")
            .field("ready", &self.ready)
            .field("draining", &self.draining)
            .finish_non_exhaustive()
    }
}

impl Default for Health {
    fn default() -> Self {
        Health::new()
    }
}

impl Health {
    /// Ready and not draining.
    pub fn new() -> Health {
        Health {
            inner: Arc::new(HealthState {
                ready: AtomicBool::new(true),
                draining: AtomicBool::new(false),
                grpc: std::sync::OnceLock::new(),
                grpc_names: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Marks the server ready or not (e.g. while warming caches).
    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::Release);
        self.publish();
    }

    /// Marks the server draining: not ready from now on.
    pub(crate) fn set_draining(&self) {
        self.inner.draining.store(true, Ordering::Release);
        self.publish();
    }

    /// The `grpc.health.v1.Health` service, reporting the same state as
    /// `/health` for the server as a whole (`""`) and for each of `services`.
    pub(crate) fn grpc_service(
        &self,
        services: Vec<String>,
    ) -> tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>
    {
        let (reporter, server) = tonic_health::server::health_reporter();
        let mut names = services;
        names.push(String::new());
        let _ = self.inner.grpc_names.set(names);
        let _ = self.inner.grpc.set(reporter);
        self.publish();
        server
    }

    /// Pushes the current state to the gRPC health service, if there is one.
    pub(crate) fn publish(&self) {
        let (Some(reporter), Some(names)) = (self.inner.grpc.get(), self.inner.grpc_names.get())
        else {
            return;
        };
        let status = if self.is_ready() {
            tonic_health::ServingStatus::Serving
        } else {
            tonic_health::ServingStatus::NotServing
        };
        let reporter = reporter.clone();
        let names = names.clone();
        let update = async move {
            for name in names {
                reporter.set_service_status(name, status).await;
            }
        };
        // Outside a runtime there is nothing to serve the update to yet;
        // `Listening::run_until` publishes again once serving.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(update);
        }
    }

    /// Whether the server should receive traffic.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Acquire) && !self.inner.draining.load(Ordering::Acquire)
    }

    /// `/health` and `/health/ready` (200 SERVING or 503 NOT_SERVING) and
    /// `/health/live` (200 while the process answers).
    pub(crate) fn router(&self) -> Router {
        let ready = self.clone();
        let ready2 = self.clone();
        Router::new()
            .route("/health", get(move || readiness(ready.clone())))
            .route("/health/ready", get(move || readiness(ready2.clone())))
            .route("/health/live", get(|| async { status(true) }))
    }
}

async fn readiness(health: Health) -> impl IntoResponse {
    status(health.is_ready())
}

fn status(serving: bool) -> impl IntoResponse {
    let (code, text) = if serving {
        (StatusCode::OK, "SERVING")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "NOT_SERVING")
    };
    (code, Json(serde_json::json!({ "status": text })))
}
