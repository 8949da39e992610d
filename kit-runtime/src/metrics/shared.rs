//! Metric handles that stay right when kit installs its Prometheus
//! recorder after a client was made (a client built, or even used, before
//! `Server::serve`), and gauges that several clients of one service add to
//! instead of overwriting each other.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use metrics::Label;

use super::{generation, EndpointMetrics};
use crate::descriptor::EndpointDescriptor;

/// A client endpoint's handles, made again when the recorder changed.
pub(crate) struct ClientMetrics {
    endpoint: &'static EndpointDescriptor,
    transport: &'static str,
    cell: RwLock<Option<(u64, Arc<EndpointMetrics>)>>,
}

impl ClientMetrics {
    pub(crate) fn new(endpoint: &'static EndpointDescriptor, transport: &'static str) -> Self {
        ClientMetrics {
            endpoint,
            transport,
            cell: RwLock::new(None),
        }
    }

    /// The handles for the recorder installed now.
    pub(crate) fn get(&self) -> Arc<EndpointMetrics> {
        let now = generation();
        if let Ok(cell) = self.cell.read() {
            if let Some((made, m)) = cell.as_ref() {
                if *made == now {
                    return m.clone();
                }
            }
        }
        let fresh = Arc::new(EndpointMetrics::client(self.endpoint, self.transport));
        if let Ok(mut cell) = self.cell.write() {
            *cell = Some((now, fresh.clone()));
        }
        fresh
    }
}

/// One client's share of a gauge every client of a service adds to: it
/// adds its value, changes it by difference, takes it back when dropped,
/// and adds it again to a recorder installed later.
pub(crate) struct GaugeShare {
    name: &'static str,
    labels: Vec<Label>,
    /// The recorder generation the value was added under.
    made: AtomicU64,
    value: Mutex<f64>,
}

impl GaugeShare {
    pub(crate) fn new(name: &'static str, labels: Vec<Label>) -> GaugeShare {
        GaugeShare {
            name,
            labels,
            made: AtomicU64::new(u64::MAX),
            value: Mutex::new(0.0),
        }
    }

    /// Sets this client's share to `value`.
    pub(crate) fn set(&self, value: f64) {
        let mut held = self.value.lock().unwrap_or_else(|p| p.into_inner());
        let now = generation();
        let known = self.made.swap(now, Ordering::Relaxed) == now;
        let delta = if known { value - *held } else { value };
        // The first time under a recorder, even 0: the series exists.
        if delta != 0.0 || !known {
            metrics::gauge!(self.name, self.labels.clone()).increment(delta);
        }
        *held = value;
    }

    /// Adds the share to a recorder installed since it was last set.
    pub(crate) fn refresh(&self) {
        if self.made.load(Ordering::Relaxed) != generation() {
            let value = *self.value.lock().unwrap_or_else(|p| p.into_inner());
            self.set(value);
        }
    }
}

impl Drop for GaugeShare {
    fn drop(&mut self) {
        let value = *self.value.get_mut().unwrap_or_else(|p| p.into_inner());
        if value != 0.0 && *self.made.get_mut() == generation() {
            metrics::gauge!(self.name, self.labels.clone()).decrement(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    type Row = (
        metrics_util::CompositeKey,
        Option<metrics::Unit>,
        Option<metrics::SharedString>,
        DebugValue,
    );

    fn gauge_value(snapshot: Vec<Row>) -> f64 {
        snapshot
            .into_iter()
            .find_map(|(k, _, _, v)| match (k.key().name(), v) {
                ("test_gauge", DebugValue::Gauge(g)) => Some(g.into_inner()),
                _ => None,
            })
            .unwrap_or(0.0)
    }

    #[test]
    fn shares_add_up_and_leave_with_their_client() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            let labels = vec![Label::new("service", "s")];
            let a = GaugeShare::new("test_gauge", labels.clone());
            let b = GaugeShare::new("test_gauge", labels);
            a.set(3.0);
            b.set(1.0);
            a.set(2.0);
            drop(a);
            // (A snapshot resets the debugging recorder: one, at the end.)
            assert_eq!(gauge_value(snapshotter.snapshot().into_vec()), 1.0);
        });
    }
}
