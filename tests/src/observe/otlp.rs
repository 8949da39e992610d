//! An OTLP/gRPC trace receiver: `tests/python/otlp_receiver.py`, grpcio
//! serving `opentelemetry.proto.collector.trace.v1.TraceService/Export`
//! with the servicer the opentelemetry-proto package generates, on a free
//! loopback port; every span it receives becomes one JSON line in a file
//! (see the script for the fields).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::{poll, python, python_script};
use crate::registry::{free_port, Daemon, TempDir};

pub struct OtlpReceiver {
    dir: TempDir,
    port: u16,
    /// OTLP/HTTP (`POST /v1/traces`) instead of gRPC.
    http: bool,
    daemon: Option<Daemon>,
}

impl OtlpReceiver {
    /// Starts the receiver and waits until it serves.
    pub fn start() -> OtlpReceiver {
        let mut receiver = OtlpReceiver {
            dir: TempDir::new("otlp"),
            port: free_port(),
            http: false,
            daemon: None,
        };
        receiver.resume();
        receiver
    }

    /// The same receiver speaking OTLP/HTTP with protobuf bodies.
    pub fn start_http() -> OtlpReceiver {
        let mut receiver = OtlpReceiver {
            dir: TempDir::new("otlp-http"),
            port: free_port(),
            http: true,
            daemon: None,
        };
        receiver.resume();
        receiver
    }

    /// `http://127.0.0.1:PORT`, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    fn spans_file(&self) -> PathBuf {
        self.dir.path().join("spans.jsonl")
    }

    /// Kills the receiver (SIGKILL): the collector is down.
    pub fn stop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            d.kill();
        }
    }

    /// Starts it (again) on the same port; the spans received so far stay.
    pub fn resume(&mut self) {
        let mut cmd = Command::new(python());
        cmd.arg(python_script("otlp_receiver.py"))
            .arg(self.port.to_string())
            .arg(self.spans_file());
        if self.http {
            cmd.arg("http");
        }
        let mut daemon = Daemon::spawn("otlp_receiver", cmd);
        daemon.wait_for_line("listening", Duration::from_secs(15));
        self.daemon = Some(daemon);
    }

    /// Every span received so far, in arrival order.
    pub fn spans(&self) -> Vec<Value> {
        std::fs::read_to_string(self.spans_file())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The spans of one trace (lowercase hex id).
    pub fn trace(&self, trace_id: &str) -> Vec<Value> {
        self.spans()
            .into_iter()
            .filter(|s| s["trace_id"] == trace_id)
            .collect()
    }

    /// Waits until at least `n` spans arrived, at most `limit`; all spans.
    pub fn wait_for_spans(&self, n: usize, limit: Duration) -> Vec<Value> {
        self.wait_for(limit, &format!("{n} spans"), |spans| spans.len() >= n)
    }

    /// Waits until at least `n` spans of `trace_id` arrived; those spans.
    pub fn wait_for_trace(&self, trace_id: &str, n: usize, limit: Duration) -> Vec<Value> {
        poll(
            limit,
            &format!("{n} spans of trace {trace_id}"),
            || {
                let spans = self.trace(trace_id);
                (spans.len() >= n).then_some(spans)
            },
            || self.describe(),
        )
    }

    /// Waits until the spans received satisfy `check`; the spans.
    pub fn wait_for(
        &self,
        limit: Duration,
        what: &str,
        check: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        poll(
            limit,
            what,
            || {
                let spans = self.spans();
                check(&spans).then_some(spans)
            },
            || self.describe(),
        )
    }

    fn describe(&self) -> String {
        let spans: Vec<String> = self
            .spans()
            .iter()
            .map(|s| {
                format!(
                    "{} {} {} parent={} kind={} service={}",
                    s["trace_id"].as_str().unwrap_or("?"),
                    s["span_id"].as_str().unwrap_or("?"),
                    s["name"],
                    s["parent_span_id"].as_str().unwrap_or("?"),
                    s["kind_name"],
                    s["service_name"]
                )
            })
            .collect();
        format!(
            "received {} spans:\n{}\nreceiver printed:\n{}",
            spans.len(),
            spans.join("\n"),
            self.output()
        )
    }

    /// What the receiver printed.
    pub fn output(&self) -> String {
        self.daemon
            .as_ref()
            .map(|d| d.output())
            .unwrap_or_else(|| "(stopped)".into())
    }
}
