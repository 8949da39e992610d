//! A concurrency limit: fixed, or adaptive ([`Gradient`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::Gradient;

/// When a request's body finished arriving, shared by the body (which
/// sets it) and the request's concurrency permit (which reads it).
#[derive(Clone, Debug, Default)]
pub(crate) struct BodyClock(Arc<ClockState>);

#[derive(Default)]
struct ClockState {
    ended: std::sync::OnceLock<Instant>,
    failed: std::sync::atomic::AtomicBool,
    /// An admission decision waiting for the body to arrive.
    deferred: std::sync::Mutex<Option<Deferred>>,
    /// What the deferred admission holds (permits) until released.
    held: std::sync::Mutex<Option<Box<dyn Send>>>,
    refused: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for ClockState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClockState")
            .field("ended", &self.ended)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

/// Admits a request once its body has arrived: `Some(permits)` to hold
/// while it runs, `None` to refuse it.
pub(crate) type Deferred = Box<dyn FnOnce() -> Option<Box<dyn Send>> + Send>;

impl BodyClock {
    /// Marks the body ended now (once).
    pub(crate) fn end(&self) {
        let _ = self.0.ended.set(Instant::now());
    }

    /// Marks the body failed (too slow, over the memory budget, broken
    /// off): the request says nothing about the endpoint's latency, and an
    /// adaptive limit ignores it.
    pub(crate) fn fail(&self) {
        self.end();
        self.0.failed.store(true, Ordering::Relaxed);
    }

    /// Decides the request's admission when its body has arrived (see
    /// [`BodyClock::admit`]), so a request is not counted against a
    /// concurrency limit while its client is still uploading.
    pub(crate) fn defer(&self, admit: Deferred) {
        if let Ok(mut slot) = self.0.deferred.lock() {
            *slot = Some(admit);
        }
    }

    /// Runs the deferred admission, if any (once, when the body has
    /// arrived); false when it refused the request.
    pub(crate) fn admit(&self) -> bool {
        let deferred = self.0.deferred.lock().ok().and_then(|mut d| d.take());
        let Some(admit) = deferred else {
            return true;
        };
        match admit() {
            Some(permits) => {
                if let Ok(mut held) = self.0.held.lock() {
                    *held = Some(permits);
                }
                true
            }
            None => {
                self.0.refused.store(true, Ordering::Relaxed);
                false
            }
        }
    }

    /// Drops what the deferred admission holds (the request is answered),
    /// and any admission still waiting.
    pub(crate) fn release(&self) {
        let held = self.0.held.lock().ok().and_then(|mut h| h.take());
        drop(held);
        let deferred = self.0.deferred.lock().ok().and_then(|mut d| d.take());
        drop(deferred);
    }

    /// Whether the deferred admission refused the request.
    pub(crate) fn was_refused(&self) -> bool {
        self.0.refused.load(Ordering::Relaxed)
    }

    /// When the body ended, if it did.
    pub(crate) fn ended(&self) -> Option<Instant> {
        self.0.ended.get().copied()
    }

    fn failed(&self) -> bool {
        self.0.failed.load(Ordering::Relaxed)
    }
}

/// How many requests run at once, and how many may.
#[derive(Debug)]
pub(crate) struct ConcurrencyLimit {
    in_flight: AtomicUsize,
    kind: Kind,
    gauge: metrics::Gauge,
}

#[derive(Debug)]
enum Kind {
    Fixed(usize),
    Adaptive(Gradient),
}

impl ConcurrencyLimit {
    /// At most `n` at once.
    pub(crate) fn fixed(n: usize, gauge: metrics::Gauge) -> ConcurrencyLimit {
        gauge.set(n as f64);
        ConcurrencyLimit {
            in_flight: AtomicUsize::new(0),
            kind: Kind::Fixed(n.max(1)),
            gauge,
        }
    }

    /// A limit that follows latency.
    pub(crate) fn adaptive(gradient: Gradient, gauge: metrics::Gauge) -> ConcurrencyLimit {
        gauge.set(gradient.limit() as f64);
        ConcurrencyLimit {
            in_flight: AtomicUsize::new(0),
            kind: Kind::Adaptive(gradient),
            gauge,
        }
    }

    /// The limit now.
    pub(crate) fn limit(&self) -> usize {
        match &self.kind {
            Kind::Fixed(n) => *n,
            Kind::Adaptive(g) => g.limit(),
        }
    }

    /// Requests holding a permit now.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// A permit, or `None` when the limit is reached. An adaptive limit
    /// times the request from now, or from when `body` says the request
    /// body finished arriving if that is later: a client's upload speed is
    /// not the endpoint's latency.
    pub(crate) fn try_acquire(
        self: &Arc<Self>,
        body: Option<&BodyClock>,
    ) -> Option<ConcurrencyPermit> {
        let before = self.in_flight.fetch_add(1, Ordering::Relaxed);
        if before >= self.limit() {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(ConcurrencyPermit {
            limit: self.clone(),
            started: match self.kind {
                Kind::Adaptive(_) => Some(Instant::now()),
                Kind::Fixed(_) => None,
            },
            body: body.cloned(),
            in_flight: before + 1,
        })
    }
}

/// A request admitted under a [`ConcurrencyLimit`], until dropped; an
/// adaptive limit learns from how long it was held.
#[derive(Debug)]
pub(crate) struct ConcurrencyPermit {
    limit: Arc<ConcurrencyLimit>,
    started: Option<Instant>,
    body: Option<BodyClock>,
    in_flight: usize,
}

impl Drop for ConcurrencyPermit {
    fn drop(&mut self) {
        self.limit.in_flight.fetch_sub(1, Ordering::Relaxed);
        if self.body.as_ref().is_some_and(BodyClock::failed) {
            return;
        }
        if let (Kind::Adaptive(g), Some(started)) = (&self.limit.kind, self.started) {
            let now = Instant::now();
            let from = match self.body.as_ref().and_then(BodyClock::ended) {
                Some(ended) => ended.max(started),
                None => started,
            };
            if let Some(limit) = g.sample(now.saturating_duration_since(from), self.in_flight, now)
            {
                self.limit.gauge.set(limit as f64);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_limit_admits_up_to_n() {
        let limit = Arc::new(ConcurrencyLimit::fixed(2, metrics::Gauge::noop()));
        let a = limit.try_acquire(None).unwrap();
        let _b = limit.try_acquire(None).unwrap();
        assert!(limit.try_acquire(None).is_none());
        assert_eq!(limit.in_flight(), 2);
        drop(a);
        assert!(limit.try_acquire(None).is_some());
    }
}
