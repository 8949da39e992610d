//! RED metrics per endpoint and transport.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use http::Response;
use tower::{Layer, Service};

use crate::descriptor::EndpointDescriptor;
use crate::metrics::EndpointMetrics;
use crate::transport::ResponseCode;
use crate::Code;

/// Records every request through the inner service: in flight while it
/// runs, then its duration and canonical code (CANCELLED when the caller
/// went away and the request was dropped).
#[derive(Clone)]
pub(crate) struct MetricsLayer {
    metrics: Option<Arc<EndpointMetrics>>,
}

impl MetricsLayer {
    pub(crate) fn new(
        endpoint: &EndpointDescriptor,
        transport: &'static str,
        enabled: bool,
    ) -> MetricsLayer {
        MetricsLayer {
            metrics: enabled.then(|| Arc::new(EndpointMetrics::server(endpoint, transport))),
        }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = RecordMetrics<S>;
    fn layer(&self, inner: S) -> RecordMetrics<S> {
        RecordMetrics {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service made by [`MetricsLayer`].
#[derive(Clone)]
pub(crate) struct RecordMetrics<S> {
    inner: S,
    metrics: Option<Arc<EndpointMetrics>>,
}

impl<S, R, B> Service<R> for RecordMetrics<S>
where
    S: Service<R, Response = Response<B>, Error = Infallible>,
{
    type Response = Response<B>;
    type Error = Infallible;
    type Future = MetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let guard = self.metrics.as_ref().map(|metrics| {
            metrics.start();
            FinishGuard {
                metrics: metrics.clone(),
                start: Instant::now(),
                code: Code::Cancelled,
            }
        });
        MetricsFuture {
            inner: self.inner.call(request),
            guard,
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`RecordMetrics`].
    pub(crate) struct MetricsFuture<F> {
        #[pin]
        inner: F,
        guard: Option<FinishGuard>,
    }
}

impl<F, B> Future for MetricsFuture<F>
where
    F: Future<Output = Result<Response<B>, Infallible>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = std::task::ready!(this.inner.poll(cx));
        if let (Some(mut guard), Ok(response)) = (this.guard.take(), &output) {
            guard.code = ResponseCode::of(response);
        }
        Poll::Ready(output)
    }
}

/// Records the request when dropped: finished, or cancelled mid-way.
struct FinishGuard {
    metrics: Arc<EndpointMetrics>,
    start: Instant,
    code: Code,
}

impl Drop for FinishGuard {
    fn drop(&mut self) {
        self.metrics.finish(self.code, self.start.elapsed());
    }
}
