//! Per-stage latencies and a handler's own metrics, labelled with the
//! endpoint being served.

use std::future::Future;
use std::time::Instant;

use metrics::Label;

use crate::Context;

/// The latency of named stages inside handlers.
pub const STAGE_DURATION: &str = "kit_server_stage_duration_seconds";

/// The `service` and `endpoint` labels of the request being served (empty
/// values outside a request), for a handler's own metrics to sit beside
/// kit's:
///
/// ```
/// let mut labels = kit_runtime::metrics::endpoint_labels();
/// labels.push(metrics::Label::new("currency", "EUR"));
/// metrics::counter!("orders_placed_total", labels).increment(1);
/// ```
pub fn endpoint_labels() -> Vec<Label> {
    let endpoint = Context::try_current().and_then(|c| c.endpoint());
    vec![
        Label::new("service", endpoint.map_or("", |e| e.service)),
        Label::new("endpoint", endpoint.map_or("", |e| e.name)),
    ]
}

/// Times a named stage of a handler until dropped, into
/// `kit_server_stage_duration_seconds{service, endpoint, stage}`.
///
/// ```
/// # async fn load() {}
/// # async fn handler() {
/// let timer = kit_runtime::metrics::stage("db");
/// load().await;
/// drop(timer); // or let it go out of scope
/// # }
/// ```
pub fn stage(name: &'static str) -> StageTimer {
    StageTimer {
        name,
        labels: endpoint_labels(),
        start: Instant::now(),
    }
}

/// Times `fut` as stage `name` (see [`stage`]).
///
/// ```
/// # async fn load() -> u32 { 7 }
/// # async fn handler() {
/// let rows = kit_runtime::metrics::time_stage("db", load()).await;
/// # }
/// ```
pub async fn time_stage<F: Future>(name: &'static str, fut: F) -> F::Output {
    let _timer = stage(name);
    fut.await
}

/// A running stage timer; records when dropped.
#[must_use = "the stage is timed until the timer is dropped"]
pub struct StageTimer {
    name: &'static str,
    labels: Vec<Label>,
    start: Instant,
}

impl Drop for StageTimer {
    fn drop(&mut self) {
        let mut labels = std::mem::take(&mut self.labels);
        labels.push(Label::new("stage", self.name));
        metrics::histogram!(STAGE_DURATION, labels).record(self.start.elapsed().as_secs_f64());
    }
}

pub(crate) fn describe() {
    metrics::describe_histogram!(
        STAGE_DURATION,
        metrics::Unit::Seconds,
        "Time spent in a named stage of a handler."
    );
}
