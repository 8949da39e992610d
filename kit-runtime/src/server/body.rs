//! Request bodies under two bounds no single endpoint can set: the time a
//! client may take to send one, and the bytes all bodies in progress may
//! hold in the process at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::layer::admission::BodyGate;

/// The process-wide budget of request body bytes being received.
#[derive(Clone, Debug)]
pub(crate) struct BodyBudget {
    inner: Arc<Budget>,
}

#[derive(Debug)]
struct Budget {
    limit: usize,
    used: AtomicUsize,
    /// The most charged at once since memory was last given back.
    high_water: AtomicUsize,
    gauge: metrics::Gauge,
}

/// Bodies of this many bytes at once, then released, make the process
/// give freed memory back to the system.
const GIVE_BACK_AFTER: usize = 32 * 1024 * 1024;

impl BodyBudget {
    /// A budget of `limit` bytes.
    pub(crate) fn new(limit: usize) -> BodyBudget {
        BodyBudget {
            inner: Arc::new(Budget {
                limit,
                used: AtomicUsize::new(0),
                high_water: AtomicUsize::new(0),
                gauge: metrics::gauge!(crate::metrics::SERVER_BODY_BYTES),
            }),
        }
    }

    /// Bytes currently charged.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.inner.used.load(Ordering::Relaxed)
    }

    /// Charges `n` bytes, or refuses when that would pass the limit.
    fn charge(&self, n: usize) -> bool {
        let mut used = self.inner.used.load(Ordering::Relaxed);
        loop {
            let Some(next) = used.checked_add(n).filter(|&v| v <= self.inner.limit) else {
                return false;
            };
            match self.inner.used.compare_exchange_weak(
                used,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.inner.gauge.increment(n as f64);
                    self.inner.high_water.fetch_max(next, Ordering::Relaxed);
                    return true;
                }
                Err(now) => used = now,
            }
        }
    }

    fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let now = self.inner.used.fetch_sub(n, Ordering::Relaxed) - n;
        self.inner.gauge.decrement(n as f64);
        let high = self.inner.high_water.load(Ordering::Relaxed);
        if high >= GIVE_BACK_AFTER
            && now <= high / 8
            && self
                .inner
                .high_water
                .compare_exchange(high, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            give_back_memory();
        }
    }
}

/// Returns the memory that bodies held to the system. glibc's allocator
/// keeps what was freed in its arenas (an HTTP/2 connection's bodies
/// arrive as 16 KiB frames, below its mmap threshold): without this the
/// process stays at its peak after a burst of bodies, e.g. 146 MiB after
/// 100 half-sent 4 MiB bodies on one HTTP/2 connection against 18 MiB
/// before. Runs a moment later (the buffers of the request that released
/// the budget last are freed after it) on a blocking thread.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn give_back_memory() {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let _ = tokio::task::spawn_blocking(|| {
            // SAFETY: malloc_trim only releases free memory of glibc's heaps.
            unsafe { libc::malloc_trim(0) };
        })
        .await;
    });
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn give_back_memory() {}

/// A connection's request bodies, so that shutdown does not wait on bodies
/// that stopped arriving: how many are still arriving, and a count of the
/// data frames received, which moves while any of them makes progress.
#[derive(Debug, Default)]
pub(crate) struct Arrivals {
    waiting: AtomicUsize,
    frames: AtomicU64,
}

impl Arrivals {
    /// Bodies still arriving.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Data frames received so far, all bodies together.
    pub(crate) fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }
}

pin_project_lite::pin_project! {
    /// A request body that fails with DEADLINE_EXCEEDED if it has not
    /// arrived within its time, and with RESOURCE_EXHAUSTED if its bytes
    /// would pass the process's [`BodyBudget`]. What it charged is
    /// released when it is dropped (read to the end and collected, or
    /// abandoned). The timer is armed only when the body first waits.
    pub(crate) struct GuardedBody<B> {
        #[pin]
        inner: B,
        budget: BodyBudget,
        charged: usize,
        timeout: Duration,
        started: Instant,
        #[pin]
        sleep: Option<Sleep>,
        failed: bool,
        gate: Option<BodyGate>,
        arrivals: Option<Arc<Arrivals>>,
    }

    impl<B> PinnedDrop for GuardedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            this.budget.release(*this.charged);
            stop_waiting(this.arrivals);
        }
    }
}

impl<B> GuardedBody<B> {
    /// Guards `inner`, which started arriving now.
    pub(crate) fn new(inner: B, budget: BodyBudget, timeout: Duration) -> GuardedBody<B> {
        GuardedBody {
            inner,
            budget,
            charged: 0,
            timeout,
            started: Instant::now(),
            sleep: None,
            failed: false,
            gate: None,
            arrivals: None,
        }
    }

    /// Also counts itself among `arrivals` until it has arrived (or
    /// failed, or is dropped).
    pub(crate) fn with_arrivals(mut self, arrivals: Arc<Arrivals>) -> GuardedBody<B> {
        arrivals.waiting.fetch_add(1, Ordering::Relaxed);
        self.arrivals = Some(arrivals);
        self
    }

    /// Also passes `gate` (admission control) when the body has arrived;
    /// a body that fails never does.
    pub(crate) fn with_gate(mut self, gate: BodyGate) -> GuardedBody<B> {
        self.gate = Some(gate);
        self
    }
}

/// Takes a body that is over out of its connection's [`Arrivals`] (once).
fn stop_waiting(arrivals: &mut Option<Arc<Arrivals>>) {
    if let Some(arrivals) = arrivals.take() {
        arrivals.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why a guarded body stopped: a `tonic::Status`, so tonic finds the code
/// in the error's source chain, and the HTTP request reader maps it too.
fn refused(code: tonic::Code, message: String) -> BodyRefused {
    BodyRefused(tonic::Status::new(code, message))
}

/// The error a [`GuardedBody`] ends with.
#[derive(Debug)]
pub(crate) struct BodyRefused(pub(crate) tonic::Status);

impl std::fmt::Display for BodyRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.message())
    }
}

impl std::error::Error for BodyRefused {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl<B> Body for GuardedBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let mut this = self.project();
        if *this.failed {
            return Poll::Ready(None);
        }
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let n = data.len();
                    if !this.budget.charge(n) {
                        *this.failed = true;
                        stop_waiting(this.arrivals);
                        crate::metrics::server_rejected("body_memory");
                        return Poll::Ready(Some(Err(Box::new(refused(
                            tonic::Code::ResourceExhausted,
                            "the server is receiving too many request bodies at once; retry later"
                                .into(),
                        )))));
                    }
                    *this.charged += n;
                    if let Some(arrivals) = this.arrivals {
                        arrivals.frames.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                stop_waiting(this.arrivals);
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(None) => {
                stop_waiting(this.arrivals);
                // Admission control decides now that the body is here.
                if let Some(gate) = this.gate.as_ref() {
                    if !gate.admit() {
                        *this.failed = true;
                        return Poll::Ready(Some(Err(Box::new(refused(
                            tonic::Code::Unavailable,
                            "overloaded, request not processed; retry on another instance".into(),
                        )))));
                    }
                }
                Poll::Ready(None)
            }
            Poll::Pending => {
                if this.sleep.is_none() {
                    let deadline = *this.started + *this.timeout;
                    this.sleep.set(Some(tokio::time::sleep_until(deadline)));
                }
                if let Some(sleep) = this.sleep.as_pin_mut() {
                    if sleep.poll(cx).is_ready() {
                        *this.failed = true;
                        stop_waiting(this.arrivals);
                        crate::metrics::server_rejected("body_timeout");
                        return Poll::Ready(Some(Err(Box::new(refused(
                            tonic::Code::DeadlineExceeded,
                            format!(
                                "the request body did not arrive within {}",
                                humantime::format_duration(*this.timeout)
                            ),
                        )))));
                    }
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    #[tokio::test]
    async fn bodies_share_the_budget_and_release_it() {
        let budget = BodyBudget::new(10);
        let a = GuardedBody::new(
            http_body_util::Full::new(Bytes::from_static(b"123456")),
            budget.clone(),
            Duration::from_secs(1),
        );
        let a = a.collect().await.unwrap().to_bytes();
        assert_eq!(&a[..], b"123456");
        assert_eq!(budget.used(), 0, "released once collected");

        let mut held = Box::pin(GuardedBody::new(
            http_body_util::Full::new(Bytes::from_static(b"123456")),
            budget.clone(),
            Duration::from_secs(1),
        ));
        held.frame().await.unwrap().unwrap();
        assert_eq!(budget.used(), 6);
        let b = GuardedBody::new(
            http_body_util::Full::new(Bytes::from_static(b"123456")),
            budget.clone(),
            Duration::from_secs(1),
        );
        let err = b.collect().await.unwrap_err();
        let refused = err.downcast_ref::<BodyRefused>().unwrap();
        assert_eq!(refused.0.code(), tonic::Code::ResourceExhausted);
        drop(held);
        assert_eq!(budget.used(), 0);
    }

    #[tokio::test]
    async fn a_body_that_stalls_fails_at_its_timeout() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(1);
        tx.send(Ok(Frame::data(Bytes::from_static(b"part"))))
            .await
            .unwrap();
        let stream = tokio_stream_from(rx);
        let body = GuardedBody::new(
            StreamBody::new(stream),
            BodyBudget::new(100),
            Duration::from_millis(50),
        );
        let started = std::time::Instant::now();
        let err = body.collect().await.unwrap_err();
        let refused = err.downcast_ref::<BodyRefused>().unwrap();
        assert_eq!(refused.0.code(), tonic::Code::DeadlineExceeded);
        assert!(started.elapsed() < Duration::from_secs(1));
        drop(tx);
    }

    #[tokio::test]
    async fn a_body_that_fails_stops_waiting() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(1);
        tx.send(Ok(Frame::data(Bytes::from_static(b"part"))))
            .await
            .unwrap();
        let arrivals = Arc::new(Arrivals::default());
        let body = GuardedBody::new(
            StreamBody::new(tokio_stream_from(rx)),
            BodyBudget::new(100),
            Duration::from_millis(50),
        )
        .with_arrivals(arrivals.clone());
        assert_eq!(arrivals.waiting(), 1);
        let mut body = Box::pin(body);
        body.frame().await.unwrap().unwrap();
        assert_eq!(arrivals.frames(), 1);
        assert!(body.frame().await.unwrap().is_err(), "timed out");
        assert_eq!(arrivals.waiting(), 0);
        drop(body);
        assert_eq!(arrivals.waiting(), 0, "counted out once");
        drop(tx);
    }

    fn tokio_stream_from<T>(
        mut rx: tokio::sync::mpsc::Receiver<T>,
    ) -> impl futures_util::Stream<Item = T> {
        futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }
}
