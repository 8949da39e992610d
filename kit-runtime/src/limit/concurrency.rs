//! A concurrency limit: fixed, or adaptive ([`Gradient`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::Gradient;

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
    /// times the request from now: the admission layer acquires once the
    /// request's body has arrived, so a client's upload speed is not the
    /// endpoint's latency.
    pub(crate) fn try_acquire(self: &Arc<Self>) -> Option<ConcurrencyPermit> {
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
    in_flight: usize,
}

impl Drop for ConcurrencyPermit {
    fn drop(&mut self) {
        self.limit.in_flight.fetch_sub(1, Ordering::Relaxed);
        if let (Kind::Adaptive(g), Some(started)) = (&self.limit.kind, self.started) {
            let now = Instant::now();
            if let Some(limit) = g.sample(now - started, self.in_flight, now) {
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
        let a = limit.try_acquire().unwrap();
        let _b = limit.try_acquire().unwrap();
        assert!(limit.try_acquire().is_none());
        assert_eq!(limit.in_flight(), 2);
        drop(a);
        assert!(limit.try_acquire().is_some());
    }
}
