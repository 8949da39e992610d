//! InfluxDB 1.x: the line protocol POSTed to `/write?db=DB`, a measurement
//! per metric with its labels as tags.

use std::fmt::Write as _;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::{unix_seconds, MetricsTarget, Point, PushFuture, Sink, Stats, Totals, Value};
use crate::Error;

pub(super) struct Influx {
    url: http::Uri,
    client: Client<HttpConnector, Full<Bytes>>,
    totals: Totals,
}

impl Influx {
    pub(super) fn new(target: &MetricsTarget) -> Result<Influx, Error> {
        let db = target.path.clone().unwrap_or_default();
        let db: String = form_urlencoded::byte_serialize(db.as_bytes()).collect();
        let url = format!("http://{}/write?db={db}&precision=s", target.addr)
            .parse()
            .map_err(|e| Error::invalid_argument(format!("--metrics {target}: {e}")))?;
        Ok(Influx {
            url,
            client: Client::builder(TokioExecutor::new()).build_http(),
            totals: Totals::default(),
        })
    }

    /// The body of one push and its number of points.
    fn body(&mut self, points: &mut [Point], ts: u64) -> (String, usize) {
        let mut out = String::new();
        let mut n = 0;
        for p in points.iter_mut() {
            let mut series = escape(&p.name, false);
            for (k, v) in &p.labels {
                let _ = write!(series, ",{}={}", escape(k, true), escape(v, true));
            }
            let fields = match &mut p.value {
                Value::Counter(total) => format!("value={total}i"),
                Value::Gauge(v) if v.is_finite() => format!("value={v}"),
                Value::Gauge(_) => continue,
                Value::Histogram(samples) => {
                    let (count, sum) = self.totals.add((p.name.clone(), p.labels.clone()), samples);
                    let mut f = format!("count={count}i,sum={sum}");
                    if let Some(s) = Stats::of(samples) {
                        let _ = write!(
                            f,
                            ",mean={},p50={},p90={},p99={},max={}",
                            s.mean, s.p50, s.p90, s.p99, s.max
                        );
                    }
                    f
                }
            };
            let _ = writeln!(out, "{series} {fields} {ts}");
            n += 1;
        }
        (out, n)
    }
}

/// Escapes a measurement name (commas, spaces) or a tag key or value
/// (also `=`).
fn escape(s: &str, tag: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == ',' || c == ' ' || (tag && c == '=') {
            out.push('\\');
        }
        out.push(c);
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

impl Sink for Influx {
    fn push(&mut self, points: &mut [Point]) -> PushFuture<'_> {
        let (body, n) = self.body(points, unix_seconds());
        Box::pin(async move {
            if n == 0 {
                return Ok(());
            }
            let request = http::Request::post(self.url.clone())
                .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| (n, e.to_string()))?;
            let response =
                tokio::time::timeout(Duration::from_secs(5), self.client.request(request))
                    .await
                    .map_err(|_| (n, "timed out".to_string()))?
                    .map_err(|e| (n, e.to_string()))?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err((n, format!("InfluxDB answered {}", response.status())))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_become_lines_with_tags() {
        let mut i = Influx::new(&"influx://127.0.0.1:8086/kit".parse().unwrap()).unwrap();
        let mut points = [
            Point {
                name: "reqs_total".into(),
                labels: vec![
                    ("endpoint".into(), "a b".into()),
                    ("code".into(), "OK".into()),
                ],
                value: Value::Counter(3),
            },
            Point {
                name: "lat_seconds".into(),
                labels: vec![],
                value: Value::Histogram(vec![2.0]),
            },
        ];
        let (body, n) = i.body(&mut points, 7);
        assert_eq!(n, 2);
        assert_eq!(
            body,
            "reqs_total,endpoint=a\\ b,code=OK value=3i 7\nlat_seconds count=1i,sum=2,mean=2,p50=2,p90=2,p99=2,max=2 7\n"
        );
    }
}
