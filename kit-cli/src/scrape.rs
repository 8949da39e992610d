//! Prometheus text from `/metrics`: parsing, kit's per-endpoint counters,
//! and what two scrapes say: rates, error ratios by code, quantiles from
//! the latency histogram's buckets (as Prometheus' `histogram_quantile`).

use std::collections::BTreeMap;

use serde::Serialize;

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Parses the sample lines of a Prometheus text page (comments and lines
/// that do not parse are skipped).
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices();
        let mut key = String::new();
        loop {
            let (_, c) = chars.next()?;
            match c {
                '}' => break,
                ',' | ' ' => continue,
                '=' => {
                    if chars.next()?.1 != '"' {
                        return None;
                    }
                    let mut value = String::new();
                    loop {
                        let (_, c) = chars.next()?;
                        match c {
                            '\\' => match chars.next()?.1 {
                                'n' => value.push('\n'),
                                other => value.push(other),
                            },
                            '"' => break,
                            other => value.push(other),
                        }
                    }
                    labels.insert(std::mem::take(&mut key), value);
                }
                other => key.push(other),
            }
        }
        let consumed = chars.next().map(|(i, _)| i).unwrap_or(inner.len());
        rest = &inner[consumed..];
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// What one scrape says of one endpoint, summed over its transports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counters {
    /// `kit_server_requests_total` by code.
    pub by_code: BTreeMap<String, f64>,
    /// Cumulative latency buckets: upper bound (seconds) and count.
    pub buckets: Vec<(f64, f64)>,
    /// `kit_server_requests_in_flight`.
    pub in_flight: f64,
}

/// `(service, endpoint)`.
pub type Key = (String, String);

/// kit's per-endpoint server metrics in a scrape.
pub fn endpoints(samples: &[Sample]) -> BTreeMap<Key, Counters> {
    let mut out: BTreeMap<Key, Counters> = BTreeMap::new();
    for s in samples {
        let (Some(service), Some(endpoint)) = (s.labels.get("service"), s.labels.get("endpoint"))
        else {
            continue;
        };
        let key = (service.clone(), endpoint.clone());
        match s.name.as_str() {
            "kit_server_requests_total" => {
                let code = s.labels.get("code").cloned().unwrap_or_default();
                *out.entry(key).or_default().by_code.entry(code).or_default() += s.value;
            }
            "kit_server_request_duration_seconds_bucket" => {
                let Some(le) = s.labels.get("le").and_then(|le| parse_le(le)) else {
                    continue;
                };
                let c = out.entry(key).or_default();
                match c.buckets.iter_mut().find(|(b, _)| *b == le) {
                    Some((_, n)) => *n += s.value,
                    None => c.buckets.push((le, s.value)),
                }
            }
            "kit_server_requests_in_flight" => out.entry(key).or_default().in_flight += s.value,
            _ => {}
        }
    }
    for c in out.values_mut() {
        c.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

fn parse_le(le: &str) -> Option<f64> {
    match le {
        "+Inf" => Some(f64::INFINITY),
        v => v.parse().ok(),
    }
}

/// The client side of a process, per service it calls: what
/// `kit_client_instances{service,state}` and `kit_client_breaker_open`
/// say.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ClientState {
    pub service: String,
    pub instances: BTreeMap<String, f64>,
    pub breakers_open: f64,
}

pub fn clients(samples: &[Sample]) -> Vec<ClientState> {
    let mut out: BTreeMap<String, ClientState> = BTreeMap::new();
    for s in samples {
        let Some(service) = s.labels.get("service") else {
            continue;
        };
        let entry = || ClientState {
            service: service.clone(),
            ..Default::default()
        };
        match s.name.as_str() {
            "kit_client_instances" => {
                let state = s.labels.get("state").cloned().unwrap_or_default();
                *out.entry(service.clone())
                    .or_insert_with(entry)
                    .instances
                    .entry(state)
                    .or_default() += s.value;
            }
            "kit_client_breaker_open" => {
                out.entry(service.clone())
                    .or_insert_with(entry)
                    .breakers_open += s.value
            }
            _ => {}
        }
    }
    out.into_values().collect()
}

/// Counters over an interval: `after - before` (a counter that went down
/// was reset by a restart: then all of `after` is new).
pub fn delta(before: Option<&Counters>, after: &Counters) -> Counters {
    let Some(before) = before else {
        return after.clone();
    };
    let reset = after
        .by_code
        .iter()
        .any(|(code, n)| *n < before.by_code.get(code).copied().unwrap_or(0.0));
    if reset {
        return after.clone();
    }
    Counters {
        by_code: after
            .by_code
            .iter()
            .map(|(code, n)| {
                (
                    code.clone(),
                    n - before.by_code.get(code).copied().unwrap_or(0.0),
                )
            })
            .collect(),
        buckets: after
            .buckets
            .iter()
            .map(|(le, n)| {
                let was = before
                    .buckets
                    .iter()
                    .find(|(b, _)| b == le)
                    .map(|(_, n)| *n)
                    .unwrap_or(0.0);
                (*le, (n - was).max(0.0))
            })
            .collect(),
        in_flight: after.in_flight,
    }
}

/// Adds `other`'s counts into `into` (for groups of instances).
pub fn merge(into: &mut Counters, other: &Counters) {
    for (code, n) in &other.by_code {
        *into.by_code.entry(code.clone()).or_default() += n;
    }
    for (le, n) in &other.buckets {
        match into.buckets.iter_mut().find(|(b, _)| b == le) {
            Some((_, m)) => *m += n,
            None => into.buckets.push((*le, *n)),
        }
    }
    into.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    into.in_flight += other.in_flight;
}

/// Rates and ratios of an interval's counters.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Requests answered in the interval.
    pub requests: f64,
    /// Requests per second.
    pub rate: f64,
    /// Share of requests answered with a code other than OK.
    pub error_ratio: f64,
    /// Share of requests per code other than OK.
    pub errors: BTreeMap<String, f64>,
    /// Median latency, milliseconds (`null` without requests).
    pub p50_ms: Option<f64>,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: Option<f64>,
    /// Requests running at the end of the interval.
    pub in_flight: f64,
}

impl Stats {
    pub fn of(delta: &Counters, seconds: f64) -> Stats {
        // fold from +0.0: an empty f64 sum is -0.0.
        let requests: f64 = delta.by_code.values().fold(0.0, |a, n| a + n);
        let failed: f64 = delta
            .by_code
            .iter()
            .filter(|(c, _)| c.as_str() != "OK")
            .fold(0.0, |a, (_, n)| a + n);
        let ratio = |n: f64| if requests > 0.0 { n / requests } else { 0.0 };
        Stats {
            requests,
            rate: if seconds > 0.0 {
                requests / seconds
            } else {
                0.0
            },
            error_ratio: ratio(failed),
            errors: delta
                .by_code
                .iter()
                .filter(|(c, n)| c.as_str() != "OK" && **n > 0.0)
                .map(|(c, n)| (c.clone(), ratio(*n)))
                .collect(),
            p50_ms: quantile(0.5, &delta.buckets).map(|s| s * 1000.0),
            p99_ms: quantile(0.99, &delta.buckets).map(|s| s * 1000.0),
            in_flight: delta.in_flight,
        }
    }
}

/// The `q` quantile of cumulative `buckets` (sorted by upper bound), by
/// linear interpolation inside the bucket it falls in, as Prometheus'
/// `histogram_quantile` does; in the `+Inf` bucket, the highest finite
/// bound. `None` without observations.
pub fn quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = 0.0;
    let mut below = 0.0;
    for &(upper, count) in buckets {
        if count >= rank {
            if upper.is_infinite() {
                return Some(lower);
            }
            if count - below <= 0.0 {
                return Some(upper);
            }
            return Some(lower + (upper - lower) * (rank - below) / (count - below));
        }
        lower = upper;
        below = count;
    }
    Some(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"# TYPE kit_server_requests_total counter
kit_server_requests_total{service="strings",endpoint="uppercase",transport="http",code="OK"} 90
kit_server_requests_total{service="strings",endpoint="uppercase",transport="grpc",code="OK"} 10
kit_server_requests_total{service="strings",endpoint="uppercase",transport="http",code="INVALID_ARGUMENT"} 20
kit_server_requests_in_flight{service="strings",endpoint="uppercase",transport="http"} 2
kit_server_request_duration_seconds_bucket{service="strings",endpoint="uppercase",transport="http",le="0.001"} 60
kit_server_request_duration_seconds_bucket{service="strings",endpoint="uppercase",transport="http",le="0.01"} 100
kit_server_request_duration_seconds_bucket{service="strings",endpoint="uppercase",transport="http",le="+Inf"} 110
kit_server_request_duration_seconds_bucket{service="strings",endpoint="uppercase",transport="grpc",le="0.001"} 0
kit_server_request_duration_seconds_bucket{service="strings",endpoint="uppercase",transport="grpc",le="0.01"} 10
kit_server_request_duration_seconds_bucket{service="strings",endpoint="uppercase",transport="grpc",le="+Inf"} 10
kit_client_instances{service="strings",state="live"} 3
kit_client_breaker_open{service="strings"} 1
process_start_time_seconds 1795875467.67
odd{a="x\"y"} 1
"#;

    #[test]
    fn parses_kit_metrics_and_sums_transports() {
        let samples = parse(PAGE);
        assert_eq!(samples.len(), 14);
        assert_eq!(samples[13].labels["a"], "x\"y");
        let e = endpoints(&samples);
        let c = &e[&("strings".to_string(), "uppercase".to_string())];
        assert_eq!(c.by_code["OK"], 100.0);
        assert_eq!(c.in_flight, 2.0);
        assert_eq!(
            c.buckets,
            vec![(0.001, 60.0), (0.01, 110.0), (f64::INFINITY, 120.0)]
        );
        let cl = clients(&samples);
        assert_eq!((cl[0].instances["live"], cl[0].breakers_open), (3.0, 1.0));
    }

    #[test]
    fn stats_of_an_interval() {
        let before = Counters {
            by_code: [("OK".to_string(), 10.0)].into(),
            buckets: vec![(0.001, 10.0), (0.01, 10.0), (f64::INFINITY, 10.0)],
            in_flight: 0.0,
        };
        let after = &endpoints(&parse(PAGE))[&("strings".into(), "uppercase".into())];
        let s = Stats::of(&delta(Some(&before), after), 2.0);
        assert_eq!((s.requests, s.rate), (110.0, 55.0));
        assert!((s.error_ratio - 20.0 / 110.0).abs() < 1e-9);
        // 50 of 110 in the first bucket, 50 more up to 10 ms: p50 at 55 -> 1 ms + 9 ms * 5/50.
        assert!((s.p50_ms.unwrap_or(0.0) - 1.9).abs() < 1e-9, "{s:?}");
        // p99 (108.9) falls in +Inf: the highest finite bound.
        assert_eq!(s.p99_ms, Some(10.0));
        // A restart: counters went down, all of `after` is new.
        let big = Counters {
            by_code: [("OK".to_string(), 1000.0)].into(),
            ..Default::default()
        };
        assert_eq!(delta(Some(&big), after), *after);
        assert_eq!(quantile(0.5, &[(1.0, 0.0), (f64::INFINITY, 0.0)]), None);
    }
}
