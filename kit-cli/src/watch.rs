//! Watching a fleet: who is in it (and what `/kit/describe` says of each),
//! repeated scrapes of every instance's `/metrics`, and per instance ×
//! endpoint the rates, error ratios and latency quantiles over a window,
//! with outliers among the instances of one endpoint marked.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::http::Http;
use crate::scrape::{self, ClientState, Counters, Key, Stats};
use crate::target::{Fleet, Target};
use crate::Failure;

/// One scrape of one instance.
struct Reading {
    at: Instant,
    endpoints: BTreeMap<Key, Counters>,
    clients: Vec<ClientState>,
}

/// An instance being watched.
pub struct Member {
    pub target: Target,
    /// `instance`, `url`, `service`, `version`, and the discovery
    /// source's metadata (which wins on a clash: it is what the deployer
    /// wrote).
    pub labels: BTreeMap<String, String>,
    /// Why the last look at it failed, if it did.
    pub error: Option<String>,
    history: VecDeque<Reading>,
}

impl Member {
    /// Whether it answered, but not as a kit server: that stays its error.
    fn not_kit(&self) -> bool {
        self.error
            .as_deref()
            .is_some_and(|e| e.contains("not a kit service"))
    }
}

/// A fleet and its recent readings.
pub struct Watch {
    http: Http,
    pub members: Vec<Member>,
}

/// Per instance × endpoint, over a window.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub instance: String,
    pub url: String,
    pub service: String,
    pub endpoint: String,
    pub version: String,
    #[serde(flatten)]
    pub stats: Stats,
    /// Seconds between the two readings compared.
    pub window_seconds: f64,
    /// `p99` and/or `errors` when this instance stands apart from the
    /// other instances of the same endpoint.
    pub outliers: Vec<String>,
}

/// An instance's own line in a snapshot.
#[derive(Clone, Debug, Serialize)]
pub struct MemberView {
    pub instance: String,
    pub url: String,
    pub labels: BTreeMap<String, String>,
    pub error: Option<String>,
    /// What this process's kit clients see of the services they call
    /// (`kit_client_instances`, `kit_client_breaker_open`).
    pub clients: Vec<ClientState>,
}

/// Everything `top --once --json` prints.
#[derive(Clone, Debug, Serialize)]
pub struct Snapshot {
    pub instances: Vec<MemberView>,
    pub endpoints: Vec<Row>,
}

impl Watch {
    /// Resolves the fleet and reads each instance's `/kit/describe`; an
    /// instance that does not answer stays in with its error.
    pub async fn start(fleet: &Fleet, timeout: Duration) -> Result<Watch, Failure> {
        let targets = fleet.resolve().await?;
        let http = Http::new(timeout);
        let described = futures_util::future::join_all(
            targets
                .iter()
                .map(|t| crate::describe::fetch(&http, &t.url)),
        )
        .await;
        let members = targets
            .into_iter()
            .zip(described)
            .map(|(target, described)| {
                let mut labels = BTreeMap::new();
                labels.insert("instance".to_string(), target.id.clone());
                labels.insert("url".to_string(), target.url.clone());
                let mut error = None;
                match described {
                    Ok((services, _)) => {
                        if let Some(s) = services.first() {
                            labels.insert("service".into(), s.name.clone());
                            labels.insert("version".into(), s.version.clone());
                            // The server's own labels, then the registry's.
                            for (k, v) in &s.metadata {
                                labels.insert(k.clone(), v.clone());
                            }
                        }
                    }
                    Err(e) => error = Some(e.to_string()),
                }
                for (k, v) in &target.metadata {
                    labels.insert(k.clone(), v.clone());
                }
                Member {
                    target,
                    labels,
                    error,
                    history: VecDeque::new(),
                }
            })
            .collect();
        Ok(Watch { http, members })
    }

    /// Scrapes every instance once, at the same time.
    pub async fn scrape(&mut self) {
        let http = &self.http;
        let readings = futures_util::future::join_all(
            self.members
                .iter()
                .map(|m| async move { http.get(&m.target.url, "/metrics").await }),
        )
        .await;
        for (member, reading) in self.members.iter_mut().zip(readings) {
            match reading {
                Ok(reply) if reply.status.is_success() => {
                    let samples = scrape::parse(&reply.text());
                    member.history.push_back(Reading {
                        at: Instant::now(),
                        endpoints: scrape::endpoints(&samples),
                        clients: scrape::clients(&samples),
                    });
                    if !member.not_kit() {
                        member.error = None;
                    }
                }
                Ok(reply) if !member.not_kit() => {
                    member.error = Some(format!(
                        "{}: GET /metrics answered {}",
                        member.target.url, reply.status
                    ))
                }
                Ok(_) => {}
                Err(e) if !member.not_kit() => member.error = Some(e.to_string()),
                Err(_) => {}
            }
        }
    }

    /// Drops readings older than `window`, keeping the newest one older
    /// than it (the start of the window).
    pub fn trim(&mut self, window: Duration) {
        for m in &mut self.members {
            while m.history.len() > 2 && m.history[1].at.elapsed() >= window {
                m.history.pop_front();
            }
        }
    }

    /// Per instance × endpoint over the readings kept (from the oldest
    /// to the newest), with outliers marked.
    pub fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        for m in &self.members {
            let (Some(first), Some(last)) = (m.history.front(), m.history.back()) else {
                continue;
            };
            let seconds = last.at.duration_since(first.at).as_secs_f64();
            for (key, after) in &last.endpoints {
                let before = (m.history.len() > 1)
                    .then(|| first.endpoints.get(key))
                    .flatten();
                let d = if m.history.len() > 1 {
                    scrape::delta(before, after)
                } else {
                    Counters {
                        in_flight: after.in_flight,
                        ..Default::default()
                    }
                };
                rows.push(Row {
                    instance: m.target.id.clone(),
                    url: m.target.url.clone(),
                    service: key.0.clone(),
                    endpoint: key.1.clone(),
                    version: m.labels.get("version").cloned().unwrap_or_default(),
                    stats: Stats::of(&d, seconds),
                    window_seconds: seconds,
                    outliers: Vec::new(),
                });
            }
        }
        mark_outliers(&mut rows);
        rows
    }

    /// What every instance's readings add up to per endpoint, for the
    /// instances whose `label` is `value`: counters merged over the
    /// instances, and the longest span of their readings.
    pub fn group(&self, label: &str, value: &str) -> (BTreeMap<Key, Counters>, f64, usize) {
        let mut out: BTreeMap<Key, Counters> = BTreeMap::new();
        let mut seconds: f64 = 0.0;
        let mut n = 0;
        for m in self
            .members
            .iter()
            .filter(|m| m.labels.get(label).map(String::as_str) == Some(value))
        {
            n += 1;
            let (Some(first), Some(last)) = (m.history.front(), m.history.back()) else {
                continue;
            };
            if m.history.len() < 2 {
                continue;
            }
            seconds = seconds.max(last.at.duration_since(first.at).as_secs_f64());
            for (key, after) in &last.endpoints {
                let d = scrape::delta(first.endpoints.get(key), after);
                scrape::merge(out.entry(key.clone()).or_default(), &d);
            }
        }
        (out, seconds, n)
    }

    /// The values `label` takes across the fleet, sorted.
    pub fn values(&self, label: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .members
            .iter()
            .filter_map(|m| m.labels.get(label).cloned())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            instances: self
                .members
                .iter()
                .map(|m| MemberView {
                    instance: m.target.id.clone(),
                    url: m.target.url.clone(),
                    labels: m.labels.clone(),
                    error: m.error.clone(),
                    clients: m
                        .history
                        .back()
                        .map(|r| r.clients.clone())
                        .unwrap_or_default(),
                })
                .collect(),
            endpoints: self.rows(),
        }
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if mid * 2 == v.len() {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    })
}

/// An instance stands apart from its peers (the other instances serving
/// the same endpoint, with traffic) when its p99 is more than twice
/// theirs (median) and at least 5 ms above, or its error ratio is at
/// least 5% and more than twice theirs plus 2 points.
pub fn mark_outliers(rows: &mut [Row]) {
    let mut by_endpoint: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        if r.stats.requests > 0.0 {
            by_endpoint
                .entry((r.service.clone(), r.endpoint.clone()))
                .or_default()
                .push(i);
        }
    }
    for members in by_endpoint.values() {
        if members.len() < 2 {
            continue;
        }
        for &i in members {
            let peers: Vec<usize> = members.iter().copied().filter(|&j| j != i).collect();
            let p99s = peers.iter().filter_map(|&j| rows[j].stats.p99_ms).collect();
            let errors = peers.iter().map(|&j| rows[j].stats.error_ratio).collect();
            let mut marks = Vec::new();
            if let (Some(mine), Some(theirs)) = (rows[i].stats.p99_ms, median(p99s)) {
                if mine > 2.0 * theirs && mine - theirs >= 5.0 {
                    marks.push("p99".to_string());
                }
            }
            if let Some(theirs) = median(errors) {
                let mine = rows[i].stats.error_ratio;
                if mine >= 0.05 && mine > 2.0 * theirs + 0.02 {
                    marks.push("errors".to_string());
                }
            }
            rows[i].outliers = marks;
        }
    }
}
