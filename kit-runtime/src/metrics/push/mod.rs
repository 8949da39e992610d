//! Pushing metrics to statsd, Graphite and InfluxDB beside Prometheus's
//! `/metrics`: the same `metrics` facade feeds every backend (each gets
//! its own [`PushRecorder`] in the process's fan-out recorder), and one
//! background thread pushes each backend at its interval. A backend that
//! is down loses its points (counted in `kit_metrics_push_dropped_total`),
//! never blocks a request.
//!
//! Names follow each backend's convention, the same way for every metric:
//!
//! | backend | a counter | a histogram |
//! | --- | --- | --- |
//! | statsd | `[PREFIX.]NAME.V1.V2...:INCREMENT\|c` (label values in order) | each sample `...:MS\|ms` (seconds as milliseconds), at most 1000 per push with `\|@RATE` |
//! | Graphite | `[PREFIX.]NAME.V1.V2... TOTAL TS` | `.count`, `.sum` (totals), `.mean`, `.p50`, `.p90`, `.p99`, `.max` (over the interval) |
//! | InfluxDB | measurement `NAME`, tags = labels, field `value=TOTALi` | fields `count`, `sum`, `mean`, `p50`, `p90`, `p99`, `max` |
//!
//! Gauges are sent as their value. In dotted names, label values are
//! written in the order the metric's labels were given (for kit's request
//! metrics: service, endpoint, transport, code), and characters other
//! than letters, digits, `_` and `-` become `_`.

mod graphite;
mod influx;
mod statsd;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_util::registry::{AtomicStorage, Registry};

use crate::Error;

/// Points a backend lost (down, refusing, too slow), by backend.
pub const PUSH_DROPPED: &str = "kit_metrics_push_dropped_total";

/// A metrics backend and how often it is pushed to.
///
/// ```
/// use kit_runtime::metrics::push::MetricsTarget;
/// let t: MetricsTarget = "graphite://127.0.0.1:2003/prod.web?interval=5s".parse().unwrap();
/// assert_eq!(t.to_string(), "graphite://127.0.0.1:2003/prod.web?interval=5s");
/// assert!("influx://127.0.0.1:8086".parse::<MetricsTarget>().is_err()); // no database
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsTarget {
    /// Which protocol.
    pub backend: Backend,
    /// `HOST:PORT`.
    pub addr: String,
    /// statsd and Graphite: the prefix of every name; InfluxDB: the database.
    pub path: Option<String>,
    /// Time between pushes (default 10 s).
    pub interval: Duration,
}

/// The protocols kit pushes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// statsd over UDP.
    Statsd,
    /// Graphite's plaintext protocol over TCP.
    Graphite,
    /// InfluxDB 1.x line protocol over HTTP (`/write`).
    Influx,
}

impl Backend {
    fn scheme(self) -> &'static str {
        match self {
            Backend::Statsd => "statsd",
            Backend::Graphite => "graphite",
            Backend::Influx => "influx",
        }
    }
}

impl FromStr for MetricsTarget {
    type Err = String;
    fn from_str(text: &str) -> Result<MetricsTarget, String> {
        let bad = |why: &str| {
            format!(
                "`{text}`: {why}; write statsd://HOST:PORT[/PREFIX], graphite://HOST:PORT[/PREFIX] \
                 or influx://HOST:PORT/DATABASE, optionally with ?interval=10s"
            )
        };
        let (scheme, rest) = text
            .trim()
            .split_once("://")
            .ok_or_else(|| bad("not a URL"))?;
        let backend = match scheme {
            "statsd" => Backend::Statsd,
            "graphite" => Backend::Graphite,
            "influx" | "influxdb" => Backend::Influx,
            _ => return Err(bad("unknown backend")),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (addr, path) = match rest.split_once('/') {
            Some((a, p)) => (a, Some(p.trim_matches('/')).filter(|p| !p.is_empty())),
            None => (rest, None),
        };
        match addr.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {}
            _ => return Err(bad("no HOST:PORT")),
        }
        if backend == Backend::Influx && path.is_none() {
            return Err(bad("InfluxDB needs a database"));
        }
        let mut interval = Duration::from_secs(10);
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("interval", v)) => {
                    interval = humantime::parse_duration(v)
                        .ok()
                        .filter(|d| !d.is_zero())
                        .ok_or_else(|| bad("interval must be a duration above zero, e.g. 10s"))?;
                }
                _ => return Err(bad(&format!("unknown parameter `{pair}`"))),
            }
        }
        Ok(MetricsTarget {
            backend,
            addr: addr.to_string(),
            path: path.map(str::to_string),
            interval,
        })
    }
}

impl fmt::Display for MetricsTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.backend.scheme(), self.addr)?;
        if let Some(p) = &self.path {
            write!(f, "/{p}")?;
        }
        write!(f, "?interval={}", humantime::format_duration(self.interval))
    }
}

/// Keeps what one backend is pushed: counters and gauges as atomics,
/// histogram samples until the next push takes them.
pub(crate) struct PushRecorder {
    registry: Registry<Key, AtomicStorage>,
}

impl PushRecorder {
    pub(crate) fn new() -> PushRecorder {
        PushRecorder {
            registry: Registry::atomic(),
        }
    }

    /// What was recorded: counter totals, gauge values, and the histogram
    /// samples since the last snapshot.
    pub(crate) fn snapshot(&self) -> Vec<Point> {
        let mut points = Vec::new();
        self.registry.visit_counters(|key, c| {
            points.push(Point::new(
                key,
                Value::Counter(c.load(std::sync::atomic::Ordering::Relaxed)),
            ));
        });
        self.registry.visit_gauges(|key, g| {
            let v = f64::from_bits(g.load(std::sync::atomic::Ordering::Relaxed));
            points.push(Point::new(key, Value::Gauge(v)));
        });
        self.registry.visit_histograms(|key, h| {
            let mut samples = Vec::new();
            h.clear_with(|chunk| samples.extend_from_slice(chunk));
            points.push(Point::new(key, Value::Histogram(samples)));
        });
        points
    }
}

impl Recorder for PushRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.registry
            .get_or_create_counter(key, |c| Counter::from_arc(c.clone()))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.registry
            .get_or_create_gauge(key, |g| Gauge::from_arc(g.clone()))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.registry
            .get_or_create_histogram(key, |h| Histogram::from_arc(h.clone()))
    }
}

/// One metric's state at a push.
#[derive(Clone, Debug)]
pub(crate) struct Point {
    pub(crate) name: String,
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) value: Value,
}

#[derive(Clone, Debug)]
pub(crate) enum Value {
    Counter(u64),
    Gauge(f64),
    Histogram(Vec<f64>),
}

impl Point {
    fn new(key: &Key, value: Value) -> Point {
        Point {
            name: key.name().to_string(),
            labels: key
                .labels()
                .map(|l| (l.key().to_string(), l.value().to_string()))
                .collect(),
            value,
        }
    }

    /// `[prefix.]name.value1.value2`, for statsd and Graphite.
    pub(crate) fn dotted(&self, prefix: Option<&str>) -> String {
        let mut out = String::with_capacity(64);
        if let Some(p) = prefix {
            out.push_str(p);
            out.push('.');
        }
        push_clean(&mut out, &self.name);
        for (_, v) in &self.labels {
            out.push('.');
            push_clean(&mut out, v);
        }
        out
    }
}

fn push_clean(out: &mut String, s: &str) {
    if s.is_empty() {
        out.push('_');
    }
    out.extend(s.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            c
        } else {
            '_'
        }
    }));
}

/// Count, sum and quantiles of one interval's samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Stats {
    pub(crate) count: usize,
    pub(crate) sum: f64,
    pub(crate) mean: f64,
    pub(crate) p50: f64,
    pub(crate) p90: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
}

impl Stats {
    pub(crate) fn of(samples: &mut [f64]) -> Option<Stats> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_by(f64::total_cmp);
        let n = samples.len();
        let at = |q: f64| samples[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
        let sum: f64 = samples.iter().sum();
        Some(Stats {
            count: n,
            sum,
            mean: sum / n as f64,
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: samples[n - 1],
        })
    }
}

/// A series: metric name and labels.
pub(crate) type Series = (String, Vec<(String, String)>);

/// What a push returns: `Err((points lost, why))`.
pub(crate) type PushFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), (usize, String)>> + Send + 'a>>;

/// Running totals of histograms (count and sum since start), for the
/// backends that send totals.
#[derive(Default)]
pub(crate) struct Totals(HashMap<Series, (u64, f64)>);

impl Totals {
    pub(crate) fn add(&mut self, series: Series, samples: &[f64]) -> (u64, f64) {
        let t = self.0.entry(series).or_default();
        t.0 += samples.len() as u64;
        t.1 += samples.iter().sum::<f64>();
        *t
    }
}

pub(crate) fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One backend's sender.
trait Sink: Send {
    /// Pushes `points`; returns how many points were lost.
    fn push(&mut self, points: &mut [Point]) -> PushFuture<'_>;
}

/// Starts pushing `recorder`'s metrics to `target`, on the push thread.
pub(crate) fn start(targets: Vec<(MetricsTarget, Arc<PushRecorder>)>) -> Result<(), Error> {
    if targets.is_empty() {
        return Ok(());
    }
    let mut sinks: Vec<(MetricsTarget, Arc<PushRecorder>, Box<dyn Sink>)> = Vec::new();
    for (target, recorder) in targets {
        let sink: Box<dyn Sink> = match target.backend {
            Backend::Statsd => Box::new(statsd::Statsd::new(&target)?),
            Backend::Graphite => Box::new(graphite::Graphite::new(&target)),
            Backend::Influx => Box::new(influx::Influx::new(&target)?),
        };
        sinks.push((target, recorder, sink));
    }
    std::thread::Builder::new()
        .name("kit-metrics-push".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start the metrics push thread; metrics are not pushed");
                    return;
                }
            };
            runtime.block_on(async move {
                let mut tasks = Vec::new();
                for (target, recorder, sink) in sinks {
                    tasks.push(tokio::spawn(run(target, recorder, sink)));
                }
                for t in tasks {
                    let _ = t.await;
                }
            });
        })
        .map_err(|e| Error::unavailable(format!("cannot start the metrics push thread: {e}")))?;
    Ok(())
}

async fn run(target: MetricsTarget, recorder: Arc<PushRecorder>, mut sink: Box<dyn Sink>) {
    let dropped = metrics::counter!(PUSH_DROPPED, "backend" => target.backend.scheme());
    let mut ticker = tokio::time::interval(target.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first push is at once, so a backend unreachable at start is
    // reported at start.
    let mut failing = false;
    loop {
        ticker.tick().await;
        super::runtime::refresh();
        let mut points = recorder.snapshot();
        match sink.push(&mut points).await {
            Ok(()) => {
                if failing {
                    tracing::info!(backend = %target, "metrics backend answers again");
                    failing = false;
                }
            }
            Err((lost, why)) => {
                dropped.increment(lost as u64);
                if !failing {
                    tracing::warn!(backend = %target, error = %why, points = lost, "cannot push metrics; dropping them until the backend answers");
                    failing = true;
                }
            }
        }
    }
}

pub(crate) fn describe() {
    metrics::describe_counter!(
        PUSH_DROPPED,
        "Metric points a push backend lost (down, refusing, too slow)."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_with_their_defaults() {
        let t: MetricsTarget = "statsd://127.0.0.1:8125".parse().unwrap();
        assert_eq!(t.backend, Backend::Statsd);
        assert_eq!(t.interval, Duration::from_secs(10));
        assert_eq!(t.path, None);
        let t: MetricsTarget = "influx://db.local:8086/kit?interval=1s".parse().unwrap();
        assert_eq!(
            (t.path.as_deref(), t.interval),
            (Some("kit"), Duration::from_secs(1))
        );
        for bad in [
            "statsd://",
            "statsd://host",
            "foo://x:1",
            "graphite://h:1?interval=0s",
            "graphite://h:1?every=1s",
            "127.0.0.1:8125",
        ] {
            assert!(bad.parse::<MetricsTarget>().is_err(), "{bad}");
        }
    }

    #[test]
    fn dotted_names_keep_label_order_and_clean_values() {
        let p = Point {
            name: "kit_server_requests_total".into(),
            labels: vec![
                ("service".into(), "strings".into()),
                ("endpoint".into(), "upper.case".into()),
                ("code".into(), "OK".into()),
            ],
            value: Value::Counter(1),
        };
        assert_eq!(
            p.dotted(Some("prod")),
            "prod.kit_server_requests_total.strings.upper_case.OK"
        );
    }

    #[test]
    fn stats_of_samples() {
        let mut s: Vec<f64> = (1..=100).map(f64::from).collect();
        let st = Stats::of(&mut s).unwrap();
        assert_eq!(
            (st.count, st.p50, st.p90, st.p99, st.max),
            (100, 50.0, 90.0, 99.0, 100.0)
        );
        assert_eq!(st.mean, 50.5);
        assert!(Stats::of(&mut []).is_none());
    }

    #[test]
    fn the_recorder_keeps_totals_and_hands_samples_over_once() {
        let r = PushRecorder::new();
        let key = Key::from_name("c");
        let meta = metrics::Metadata::new("t", metrics::Level::INFO, None);
        r.register_counter(&key, &meta).increment(3);
        r.register_histogram(&Key::from_name("h"), &meta)
            .record(0.5);
        let first = r.snapshot();
        assert!(first.iter().any(|p| matches!(p.value, Value::Counter(3))));
        assert!(first
            .iter()
            .any(|p| matches!(&p.value, Value::Histogram(v) if v == &[0.5])));
        let second = r.snapshot();
        assert!(second
            .iter()
            .any(|p| matches!(&p.value, Value::Histogram(v) if v.is_empty())));
    }
}
