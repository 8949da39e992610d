//! Graphite's plaintext protocol over TCP: `path value timestamp` lines,
//! counters and histogram counts as totals.

use std::fmt::Write as _;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::{unix_seconds, MetricsTarget, Point, PushFuture, Sink, Stats, Totals, Value};

pub(super) struct Graphite {
    addr: String,
    prefix: Option<String>,
    stream: Option<TcpStream>,
    totals: Totals,
}

impl Graphite {
    pub(super) fn new(target: &MetricsTarget) -> Graphite {
        Graphite {
            addr: target.addr.clone(),
            prefix: target.path.clone(),
            stream: None,
            totals: Totals::default(),
        }
    }

    /// The text of one push and its number of lines.
    fn text(&mut self, points: &mut [Point], ts: u64) -> (String, usize) {
        let mut out = String::new();
        let mut n = 0;
        let mut line = |out: &mut String, path: &str, value: f64| {
            let _ = writeln!(out, "{path} {value} {ts}");
            n += 1;
        };
        for p in points.iter_mut() {
            let path = p.dotted(self.prefix.as_deref());
            match &mut p.value {
                Value::Counter(total) => line(&mut out, &path, *total as f64),
                Value::Gauge(v) => line(&mut out, &path, *v),
                Value::Histogram(samples) => {
                    let (count, sum) = self.totals.add((p.name.clone(), p.labels.clone()), samples);
                    line(&mut out, &format!("{path}.count"), count as f64);
                    line(&mut out, &format!("{path}.sum"), sum);
                    if let Some(s) = Stats::of(samples) {
                        for (suffix, v) in [
                            ("mean", s.mean),
                            ("p50", s.p50),
                            ("p90", s.p90),
                            ("p99", s.p99),
                            ("max", s.max),
                        ] {
                            line(&mut out, &format!("{path}.{suffix}"), v);
                        }
                    }
                }
            }
        }
        (out, n)
    }
}

impl Sink for Graphite {
    fn push(&mut self, points: &mut [Point]) -> PushFuture<'_> {
        let (text, n) = self.text(points, unix_seconds());
        Box::pin(async move {
            if n == 0 {
                return Ok(());
            }
            let sent = tokio::time::timeout(Duration::from_secs(5), async {
                if self.stream.is_none() {
                    self.stream = Some(TcpStream::connect(&self.addr).await?);
                }
                match &mut self.stream {
                    Some(stream) => stream.write_all(text.as_bytes()).await,
                    None => Err(std::io::ErrorKind::NotConnected.into()),
                }
            })
            .await
            .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()));
            sent.map_err(|e| {
                // Reconnect next time.
                self.stream = None;
                (n, e.to_string())
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_totals_and_interval_stats() {
        let mut g = Graphite::new(&"graphite://127.0.0.1:1/kit".parse().unwrap());
        let mut points = [
            Point {
                name: "reqs_total".into(),
                labels: vec![("code".into(), "OK".into())],
                value: Value::Counter(3),
            },
            Point {
                name: "lat_seconds".into(),
                labels: vec![],
                value: Value::Histogram(vec![0.5, 1.5]),
            },
        ];
        let (text, n) = g.text(&mut points, 100);
        assert_eq!(n, 8);
        assert!(text.starts_with("kit.reqs_total.OK 3 100\nkit.lat_seconds.count 2 100\nkit.lat_seconds.sum 2 100\nkit.lat_seconds.mean 1 100\n"), "{text}");
        let mut again = [Point {
            name: "lat_seconds".into(),
            labels: vec![],
            value: Value::Histogram(vec![]),
        }];
        let (text, n) = g.text(&mut again, 101);
        assert_eq!(
            (text.as_str(), n),
            (
                "kit.lat_seconds.count 2 101\nkit.lat_seconds.sum 2 101\n",
                2
            )
        );
    }
}
