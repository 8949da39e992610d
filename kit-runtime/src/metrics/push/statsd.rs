//! statsd over UDP: counters as increments since the last push, gauges as
//! values, histogram samples as timers (seconds sent as milliseconds).

use std::collections::HashMap;
use std::fmt::Write as _;

use tokio::net::UdpSocket;

use super::{MetricsTarget, Point, PushFuture, Sink, Value};
use crate::Error;

/// Samples of one histogram sent per push at most; beyond it a sample is
/// sent with its rate (`|@0.1`) so statsd scales the count back.
const MAX_SAMPLES: usize = 1000;
/// Bytes per datagram at most (fits a 1500-byte MTU).
const DATAGRAM: usize = 1400;

pub(super) struct Statsd {
    addr: String,
    prefix: Option<String>,
    socket: Option<UdpSocket>,
    last: HashMap<super::Series, u64>,
}

impl Statsd {
    pub(super) fn new(target: &MetricsTarget) -> Result<Statsd, Error> {
        Ok(Statsd {
            addr: target.addr.clone(),
            prefix: target.path.clone(),
            socket: None,
            last: HashMap::new(),
        })
    }

    /// The lines of one push.
    fn lines(&mut self, points: &mut [Point]) -> Vec<String> {
        let mut lines = Vec::new();
        for p in points.iter_mut() {
            let name = p.dotted(self.prefix.as_deref());
            match &mut p.value {
                Value::Counter(total) => {
                    let last = self
                        .last
                        .entry((p.name.clone(), p.labels.clone()))
                        .or_insert(0);
                    let delta = total.saturating_sub(*last);
                    *last = *total;
                    if delta > 0 {
                        lines.push(format!("{name}:{delta}|c"));
                    }
                }
                Value::Gauge(v) => lines.push(format!("{name}:{v}|g")),
                Value::Histogram(samples) => {
                    if samples.is_empty() {
                        continue;
                    }
                    let scale = if p.name.ends_with("_seconds") {
                        1000.0
                    } else {
                        1.0
                    };
                    let step = samples.len().div_ceil(MAX_SAMPLES);
                    let rate = if step > 1 {
                        let kept = samples.len().div_ceil(step);
                        format!("|@{:.6}", kept as f64 / samples.len() as f64)
                    } else {
                        String::new()
                    };
                    for s in samples.iter().step_by(step) {
                        let mut line = String::with_capacity(name.len() + 24);
                        let _ = write!(line, "{name}:{}|ms{rate}", s * scale);
                        lines.push(line);
                    }
                }
            }
        }
        lines
    }
}

/// Packs lines into datagrams of up to [`DATAGRAM`] bytes.
fn datagrams(lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in lines {
        if !current.is_empty() && current.len() + 1 + line.len() > DATAGRAM {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(line);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

impl Sink for Statsd {
    fn push(&mut self, points: &mut [Point]) -> PushFuture<'_> {
        let lines = self.lines(points);
        Box::pin(async move {
            if lines.is_empty() {
                return Ok(());
            }
            if self.socket.is_none() {
                let socket = async {
                    let target = tokio::net::lookup_host(&self.addr)
                        .await?
                        .next()
                        .ok_or_else(|| std::io::Error::other("does not resolve"))?;
                    let local: std::net::SocketAddr = if target.is_ipv4() {
                        ([0, 0, 0, 0], 0).into()
                    } else {
                        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                    };
                    let socket = UdpSocket::bind(local).await?;
                    socket.connect(target).await?;
                    Ok::<_, std::io::Error>(socket)
                }
                .await
                .map_err(|e| (lines.len(), e.to_string()))?;
                self.socket = Some(socket);
            }
            let Some(socket) = &self.socket else {
                return Err((lines.len(), "no socket".into()));
            };
            let mut lost = 0;
            let mut error = String::new();
            for d in datagrams(&lines) {
                // A connected UDP socket reports an earlier datagram's
                // refusal (ICMP) on the next send, which is then not sent:
                // send it again once, so a statsd that came back gets it.
                let mut sent = socket.send(d.as_bytes()).await;
                if sent.is_err() {
                    sent = socket.send(d.as_bytes()).await;
                }
                if let Err(e) = sent {
                    lost += d.lines().count();
                    error = e.to_string();
                }
            }
            if lost > 0 {
                // A refused datagram (nobody listening) shows on a later send.
                return Err((lost, error));
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(name: &str, value: Value) -> Point {
        Point {
            name: name.into(),
            labels: vec![("service".into(), "s".into())],
            value,
        }
    }

    #[test]
    fn counters_send_increments_and_seconds_become_milliseconds() {
        let mut s = Statsd::new(&"statsd://127.0.0.1:1/app".parse().unwrap()).unwrap();
        let lines = s.lines(&mut [
            point("reqs_total", Value::Counter(5)),
            point("lat_seconds", Value::Histogram(vec![0.25])),
            point("inflight", Value::Gauge(2.0)),
        ]);
        assert_eq!(
            lines,
            [
                "app.reqs_total.s:5|c",
                "app.lat_seconds.s:250|ms",
                "app.inflight.s:2|g"
            ]
        );
        let lines = s.lines(&mut [point("reqs_total", Value::Counter(7))]);
        assert_eq!(lines, ["app.reqs_total.s:2|c"]);
        let lines = s.lines(&mut [point("reqs_total", Value::Counter(7))]);
        assert!(lines.is_empty());
    }

    #[test]
    fn many_samples_are_thinned_with_their_rate() {
        let mut s = Statsd::new(&"statsd://127.0.0.1:1".parse().unwrap()).unwrap();
        let lines = s.lines(&mut [point("h", Value::Histogram(vec![1.0; 4000]))]);
        assert_eq!(lines.len(), 1000);
        assert!(lines[0].ends_with("|ms|@0.250000"), "{}", lines[0]);
        let packed = datagrams(&lines);
        assert!(packed.iter().all(|d| d.len() <= DATAGRAM));
        assert_eq!(
            packed.iter().map(|d| d.lines().count()).sum::<usize>(),
            1000
        );
    }
}
