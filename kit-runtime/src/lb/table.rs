//! The instances a client knows, their load and health, and the tower
//! service that sends each attempt to one of them.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use http::{Request, Response};
use serde::Serialize;
use tower::{BoxError, Service, ServiceExt};

use super::accrual::{Accrual, Health, State, Transition};
use super::ewma::PeakEwma;
use super::Policy;
use crate::client::{Body, BoxChannel};
use crate::metrics::GaugeShare;
use crate::sd::{Change, Instance};
use crate::Error;

/// What an attempt tells the balancer, in its request's extensions: the
/// instances to avoid (those that failed earlier attempts of the call) and
/// where to write the one it was sent to.
#[derive(Clone, Debug, Default)]
pub(crate) struct Avoid {
    pub(crate) ids: Vec<String>,
    pub(crate) served_by: ServedBy,
}

/// The id of the instance an attempt went to, filled in by the balancer.
#[derive(Clone, Debug, Default)]
pub(crate) struct ServedBy(Arc<Mutex<Option<String>>>);

impl ServedBy {
    fn set(&self, id: &str) {
        *lock(&self.0) = Some(id.to_string());
    }

    /// The instance, if the attempt reached the balancer.
    pub(crate) fn take(&self) -> Option<String> {
        lock(&self.0).take()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One instance as the balancer tracks it.
struct Endpoint {
    instance: Instance,
    channel: BoxChannel,
    in_flight: AtomicUsize,
    latency: Mutex<PeakEwma>,
    health: Mutex<Health>,
    served: AtomicU64,
    failures: AtomicU64,
    /// Lower is preferred; higher priorities are backups (SRV records'
    /// `priority`; 0 for sources that have none).
    priority: u16,
}

impl Endpoint {
    /// Peak-EWMA latency x (outstanding + 1).
    fn cost(&self, now: Instant) -> f64 {
        lock(&self.latency).get(now) * (self.in_flight.load(Ordering::Relaxed) + 1) as f64
    }
}

/// What a client knows of one instance, for tools and tests.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InstanceStats {
    /// The instance's id in its source.
    pub id: String,
    /// Its base URL.
    pub url: String,
    /// `live`, `ejected` or `probing`.
    pub state: &'static str,
    /// Attempts sent to it.
    pub served: u64,
    /// Attempts that failed (no answer, or UNAVAILABLE).
    pub failures: u64,
    /// Requests outstanding now.
    pub in_flight: usize,
    /// Its peak-EWMA latency estimate, in milliseconds.
    pub latency_ms: f64,
}

/// Opens the channel to one instance, when it joins the set.
pub(crate) type Connect = Box<dyn Fn(&Instance) -> Result<BoxChannel, Error> + Send + Sync>;

/// The instances of one service, as one client sees them.
pub(crate) struct Balancer {
    service: &'static str,
    source: String,
    policy: Policy,
    accrual: Accrual,
    endpoints: RwLock<Vec<Arc<Endpoint>>>,
    next: AtomicUsize,
    stale: AtomicBool,
    /// Whether the set changes (a registry, DNS), so changes are news
    /// worth a log line; a fixed list of URLs is not.
    dynamic: bool,
    /// Dropped with the balancer, which ends the task following the source.
    watching: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    /// This client's shares of `kit_client_instances` (live, ejected,
    /// probing) and `kit_client_discovery_stale`.
    gauges: [GaugeShare; 3],
    stale_gauge: GaugeShare,
    /// Instances the source removed but that were kept, being the last:
    /// they go as soon as another instance arrives.
    kept: Mutex<Vec<String>>,
    populated: tokio::sync::watch::Sender<bool>,
    connect: Connect,
}

impl Balancer {
    pub(crate) fn new(
        service: &'static str,
        source: String,
        policy: Policy,
        accrual: Accrual,
        connect: Connect,
    ) -> Balancer {
        let dynamic = !(source.starts_with("http://") || source.starts_with("https://"));
        Balancer {
            service,
            source,
            policy,
            accrual,
            endpoints: RwLock::new(Vec::new()),
            next: AtomicUsize::new(0),
            stale: AtomicBool::new(false),
            dynamic,
            watching: Mutex::new(None),
            gauges: ["live", "ejected", "probing"].map(|state| {
                GaugeShare::new(
                    crate::metrics::CLIENT_INSTANCES,
                    vec![
                        metrics::Label::new("service", service),
                        metrics::Label::new("state", state),
                    ],
                )
            }),
            stale_gauge: GaugeShare::new(
                crate::metrics::CLIENT_DISCOVERY_STALE,
                vec![metrics::Label::new("service", service)],
            ),
            kept: Mutex::new(Vec::new()),
            populated: tokio::sync::watch::channel(false).0,
            connect,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<Endpoint>>> {
        self.endpoints
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Arc<Endpoint>>> {
        self.endpoints
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies a change from discovery.
    pub(crate) fn apply(&self, change: Change) {
        match change {
            Change::Insert(instance) => {
                let channel = match (self.connect)(&instance) {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(service = self.service, instance = %instance.id, url = %instance.url, error = %e, "skipping an instance that cannot be used");
                        return;
                    }
                };
                let endpoint = Arc::new(Endpoint {
                    channel,
                    in_flight: AtomicUsize::new(0),
                    latency: Mutex::new(PeakEwma::new(
                        Duration::from_millis(1),
                        Duration::from_secs(10),
                    )),
                    health: Mutex::new(Health::new(self.accrual)),
                    served: AtomicU64::new(0),
                    failures: AtomicU64::new(0),
                    priority: instance
                        .metadata
                        .get("priority")
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(0),
                    instance,
                });
                let mut all = self.write();
                let mut kept = lock(&self.kept);
                kept.retain(|id| *id != endpoint.instance.id);
                match all
                    .iter()
                    .position(|e| e.instance.id == endpoint.instance.id)
                {
                    Some(i) if all[i].instance == endpoint.instance => {}
                    Some(i) => all[i] = endpoint,
                    None => {
                        if self.dynamic {
                            tracing::info!(service = self.service, instance = %endpoint.instance.id, url = %endpoint.instance.url, source = %self.source, "instance discovered");
                        }
                        all.push(endpoint)
                    }
                }
                // What was kept only for want of another goes now.
                for id in kept.drain(..) {
                    if let Some(i) = all.iter().position(|e| e.instance.id == id) {
                        all.remove(i);
                        if self.dynamic {
                            tracing::info!(service = self.service, instance = %id, source = %self.source, "instance gone");
                        }
                    }
                }
                drop(kept);
                drop(all);
                self.fresh();
            }
            Change::Remove(id) => {
                let mut all = self.write();
                if all.len() == 1 && all[0].instance.id == id {
                    drop(all);
                    lock(&self.kept).push(id.clone());
                    self.mark_stale(&format!(
                        "{id} left and it is the last known instance; keeping it"
                    ));
                    return;
                }
                if let Some(i) = all.iter().position(|e| e.instance.id == id) {
                    all.remove(i);
                    if self.dynamic {
                        tracing::info!(service = self.service, instance = %id, source = %self.source, "instance gone");
                    }
                }
                drop(all);
                self.fresh();
            }
            Change::Failed(why) => self.mark_stale(&why),
            Change::Synced => {
                if !self.read().is_empty() {
                    self.fresh();
                }
            }
        }
        self.publish_gauges();
    }

    fn fresh(&self) {
        if self.stale.swap(false, Ordering::Relaxed) {
            tracing::info!(service = self.service, source = %self.source, "discovery is back");
        }
        self.stale_gauge.set(0.0);
        self.populated.send_replace(true);
    }

    fn mark_stale(&self, why: &str) {
        if !self.stale.swap(true, Ordering::Relaxed) {
            let known = self.read().len();
            if known == 0 {
                tracing::warn!(service = self.service, source = %self.source, why, "discovery failed and no instances are known yet");
            } else {
                tracing::warn!(service = self.service, source = %self.source, why, instances = known, "discovery failed: calls continue on the last known instances");
            }
        }
        self.stale_gauge.set(1.0);
    }

    /// Waits until discovery has found instances once (at most `limit`).
    pub(crate) async fn populated(&self, limit: Duration) -> Result<(), Error> {
        let mut rx = self.populated.subscribe();
        let found = tokio::time::timeout(limit, async { rx.wait_for(|p| *p).await.is_ok() })
            .await
            .unwrap_or(false);
        match found {
            true => Ok(()),
            false => Err(Error::unavailable(format!(
                "{}: no instances found yet through {}",
                self.service, self.source
            ))),
        }
    }

    /// The instance for the next attempt: one that accrual lets through,
    /// not in `avoid` (unless nothing else is left), chosen by the policy.
    fn pick(&self, avoid: &[String]) -> Result<Arc<Endpoint>, Error> {
        // A recorder installed since the gauges were last set gets them.
        for g in self.gauges.iter().chain([&self.stale_gauge]) {
            g.refresh();
        }
        let now = Instant::now();
        let all = self.read();
        if all.is_empty() {
            return Err(Error::unavailable(format!(
                "{}: no instances (source: {})",
                self.service, self.source
            )));
        }
        let available: Vec<&Arc<Endpoint>> = all
            .iter()
            .filter(|e| lock(&e.health).available(now))
            .collect();
        if available.is_empty() {
            return Err(Error::unavailable(format!(
                "{}: all {} instances are ejected after consecutive failures (failure accrual); they will be probed again",
                self.service,
                all.len()
            )));
        }
        let fresh: Vec<&Arc<Endpoint>> = available
            .iter()
            .copied()
            .filter(|e| !avoid.contains(&e.instance.id))
            .collect();
        let candidates = if fresh.is_empty() { available } else { fresh };
        // Backups (a higher priority) only when no better one can serve.
        let best = candidates.iter().map(|e| e.priority).min().unwrap_or(0);
        let candidates: Vec<&Arc<Endpoint>> = if candidates.iter().all(|e| e.priority == best) {
            candidates
        } else {
            candidates
                .into_iter()
                .filter(|e| e.priority == best)
                .collect()
        };
        let chosen = match self.policy {
            Policy::RoundRobin => {
                let i = self.next.fetch_add(1, Ordering::Relaxed) % candidates.len();
                candidates[i]
            }
            Policy::P2cPeakEwma => match candidates.len() {
                1 => candidates[0],
                n => {
                    let a = fastrand::usize(..n);
                    let mut b = fastrand::usize(..n - 1);
                    if b >= a {
                        b += 1;
                    }
                    if candidates[a].cost(now) <= candidates[b].cost(now) {
                        candidates[a]
                    } else {
                        candidates[b]
                    }
                }
            },
        };
        lock(&chosen.health).started();
        Ok(Arc::clone(chosen))
    }

    /// Records the outcome of an attempt that went to instance `id`: a
    /// failure is no answer or UNAVAILABLE.
    pub(crate) fn record(&self, id: &str, ok: bool) {
        let Some(endpoint) = self.read().iter().find(|e| e.instance.id == id).cloned() else {
            return;
        };
        let transition = {
            let mut health = lock(&endpoint.health);
            if ok {
                health.success()
            } else {
                endpoint.failures.fetch_add(1, Ordering::Relaxed);
                health.failure(Instant::now())
            }
        };
        match transition {
            Some(Transition::Ejected(out_for)) => {
                tracing::warn!(service = self.service, instance = %id, url = %endpoint.instance.url, ?out_for, "instance ejected by failure accrual");
                metrics::counter!(crate::metrics::CLIENT_EJECTIONS, "service" => self.service)
                    .increment(1);
                self.publish_gauges();
            }
            Some(Transition::Restored) => {
                tracing::info!(service = self.service, instance = %id, "instance restored after a successful probe");
                self.publish_gauges();
            }
            None => {}
        }
    }

    fn publish_gauges(&self) {
        let mut counts = [0usize; 3];
        for e in self.read().iter() {
            counts[match lock(&e.health).state() {
                State::Live => 0,
                State::Ejected(_) => 1,
                State::Probing { .. } => 2,
            }] += 1;
        }
        for (gauge, n) in self.gauges.iter().zip(counts) {
            gauge.set(n as f64);
        }
    }

    /// Keeps `stop` until the balancer is dropped (the client is gone).
    pub(crate) fn stop_watching_on_drop(&self, stop: tokio::sync::oneshot::Sender<()>) {
        *lock(&self.watching) = Some(stop);
    }

    /// Whether an instance other than `ids` could take a request now.
    pub(crate) fn has_other_than(&self, ids: &[String]) -> bool {
        let now = Instant::now();
        self.read()
            .iter()
            .any(|e| !ids.contains(&e.instance.id) && lock(&e.health).could_take(now))
    }

    /// What the client knows of each instance.
    pub(crate) fn stats(&self) -> Vec<InstanceStats> {
        self.read()
            .iter()
            .map(|e| InstanceStats {
                id: e.instance.id.clone(),
                url: e.instance.url.clone(),
                state: match lock(&e.health).state() {
                    State::Live => "live",
                    State::Ejected(_) => "ejected",
                    State::Probing { .. } => "probing",
                },
                served: e.served.load(Ordering::Relaxed),
                failures: e.failures.load(Ordering::Relaxed),
                in_flight: e.in_flight.load(Ordering::Relaxed),
                latency_ms: lock(&e.latency).get(Instant::now()) * 1000.0,
            })
            .collect()
    }
}

/// The balancer as a tower service: each request goes to the instance
/// [`Balancer::pick`] chooses; its latency and load are recorded.
#[derive(Clone)]
pub(crate) struct BalanceService(pub(crate) Arc<Balancer>);

impl Service<Request<Body>> for BalanceService {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Response<Body>, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), BoxError>> {
        // Readiness is the chosen instance's, awaited in `call`.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let attempt = request
            .extensions()
            .get::<Avoid>()
            .cloned()
            .unwrap_or_default();
        let endpoint = match self.0.pick(&attempt.ids) {
            Ok(e) => e,
            Err(err) => return Box::pin(std::future::ready(Err(BoxError::from(NoInstance(err))))),
        };
        attempt.served_by.set(&endpoint.instance.id);
        endpoint.served.fetch_add(1, Ordering::Relaxed);
        endpoint.in_flight.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        Box::pin(async move {
            let done = Done(&endpoint);
            let result = endpoint.channel.clone().oneshot(request).await;
            let now = Instant::now();
            lock(&endpoint.latency).observe(now - started, now);
            drop(done);
            result
        })
    }
}

/// Takes a request off its instance's count however the attempt ends.
struct Done<'a>(&'a Arc<Endpoint>);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// No instance could take the attempt: nothing was sent.
#[derive(Debug)]
pub(crate) struct NoInstance(pub(crate) Error);

impl std::fmt::Display for NoInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.message())
    }
}

impl std::error::Error for NoInstance {}

#[cfg(test)]
mod tests {
    use super::*;

    fn balancer(policy: Policy, accrual: Accrual) -> Balancer {
        Balancer::new(
            "t",
            "test".into(),
            policy,
            accrual,
            Box::new(|_| {
                Ok(tower::util::BoxCloneSyncService::new(tower::service_fn(
                    |_req: Request<Body>| async { Ok::<_, BoxError>(Response::new(Body::empty())) },
                )))
            }),
        )
    }

    #[tokio::test]
    async fn retries_avoid_the_instances_that_failed() {
        let b = balancer(Policy::RoundRobin, Accrual::off());
        for url in ["http://a:1", "http://b:1", "http://c:1"] {
            b.apply(Change::Insert(Instance::at(url)));
        }
        for _ in 0..20 {
            let picked = b.pick(&["a:1".to_string(), "b:1".to_string()]).unwrap();
            assert_eq!(picked.instance.id, "c:1");
        }
        // Everything avoided: any instance rather than none.
        let all = ["a:1", "b:1", "c:1"].map(String::from);
        assert!(b.pick(&all).is_ok());
    }

    #[tokio::test]
    async fn p2c_prefers_the_fast_and_the_idle() {
        let b = balancer(Policy::P2cPeakEwma, Accrual::off());
        b.apply(Change::Insert(Instance::at("http://slow:1")));
        b.apply(Change::Insert(Instance::at("http://fast:1")));
        let slow = b
            .read()
            .iter()
            .find(|e| e.instance.id == "slow:1")
            .cloned()
            .unwrap();
        lock(&slow.latency).observe(Duration::from_millis(50), Instant::now());
        let picks = (0..200)
            .filter(|_| b.pick(&[]).unwrap().instance.id == "fast:1")
            .count();
        assert_eq!(picks, 200, "two instances: P2C always compares both");
    }

    #[tokio::test]
    async fn backups_serve_only_when_the_primaries_cannot() {
        let b = balancer(Policy::P2cPeakEwma, Accrual::consecutive(1));
        let at = |url: &str, p: &str| Change::Insert(Instance::at(url).with("priority", p));
        b.apply(at("http://a:1", "0"));
        b.apply(at("http://b:1", "0"));
        b.apply(at("http://backup:1", "10"));
        for _ in 0..50 {
            assert_ne!(b.pick(&[]).unwrap().instance.id, "backup:1");
        }
        // A retry that avoids both primaries goes to the backup.
        let both = ["a:1", "b:1"].map(String::from);
        assert_eq!(b.pick(&both).unwrap().instance.id, "backup:1");
        // Both primaries ejected: the backup serves.
        b.record("a:1", false);
        b.record("b:1", false);
        for _ in 0..20 {
            assert_eq!(b.pick(&[]).unwrap().instance.id, "backup:1");
        }
    }

    #[tokio::test]
    async fn failures_eject_and_the_last_instance_is_never_dropped() {
        let b = balancer(Policy::RoundRobin, Accrual::consecutive(2));
        b.apply(Change::Insert(Instance::at("http://a:1")));
        b.apply(Change::Insert(Instance::at("http://b:1")));
        b.record("a:1", false);
        b.record("a:1", false);
        for _ in 0..10 {
            assert_eq!(b.pick(&[]).unwrap().instance.id, "b:1");
        }
        b.record("b:1", false);
        b.record("b:1", false);
        let err = b.pick(&[]).err().expect("all ejected");
        assert!(err.message().contains("ejected"), "{err}");
        // Discovery blinks: removals that would empty the set are refused.
        b.apply(Change::Remove("a:1".into()));
        b.apply(Change::Remove("b:1".into()));
        assert_eq!(b.stats().len(), 1);
        assert!(b.stale.load(Ordering::Relaxed));
        b.apply(Change::Failed("etcd is down".into()));
        assert_eq!(b.stats().len(), 1);
        // Another instance arrives: the one kept only for want of it goes.
        b.apply(Change::Insert(Instance::at("http://c:1")));
        let ids: Vec<String> = b.stats().into_iter().map(|s| s.id).collect();
        assert_eq!(ids, ["c:1"]);
        assert!(!b.stale.load(Ordering::Relaxed));
    }
}
