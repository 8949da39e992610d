//! Liveness and readiness, shared by `/health` and (later) gRPC health.

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

#[derive(Debug)]
struct HealthState {
    ready: AtomicBool,
    draining: AtomicBool,
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
            }),
        }
    }

    /// Marks the server ready or not (e.g. while warming caches).
    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::Release);
    }

    /// Marks the server draining: not ready from now on.
    pub fn set_draining(&self) {
        self.inner.draining.store(true, Ordering::Release);
    }

    /// Whether the server should receive traffic.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Acquire) && !self.inner.draining.load(Ordering::Acquire)
    }

    /// `/health` and `/health/ready` (200 SERVING or 503 NOT_SERVING) and
    /// `/health/live` (200 while the process answers).
    pub fn router(&self) -> Router {
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
