//! Fleets of string services for the discovery and balancing tests:
//! in-process instances (optionally slow, optionally registered) and
//! stringsvc processes that register themselves from `--register`.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use stringsvc::StringServiceClient;

use crate::registry::Daemon;
use crate::{start, workspace_bin, Running};

/// An in-process string service on 127.0.0.1:0, registered with
/// `registrar` when given, answering `delay` late when given.
pub async fn instance(
    registrar: Option<Box<dyn kit::sd::Registrar>>,
    delay: Option<Duration>,
) -> Running {
    let mut server = kit::Server::new(kit::Config::default()).add_service(stringsvc::StringService);
    if let Some(r) = registrar {
        server = server.register(r);
    }
    if let Some(delay) = delay {
        server = server.layer(tower::filter::AsyncFilterLayer::new(
            move |req: http::Request<axum::body::Body>| async move {
                tokio::time::sleep(delay).await;
                Ok::<_, tower::BoxError>(req)
            },
        ));
    }
    start(server).await
}

/// A stringsvc process; `args` come after `--http-addr 127.0.0.1:0`.
pub struct Process {
    pub daemon: Daemon,
    pub url: String,
}

impl Process {
    /// Starts stringsvc and waits until it listens (and, when `--register`
    /// is among `args`, until it says it registered).
    pub fn start(args: &[&str]) -> Process {
        let mut cmd = Command::new(workspace_bin("stringsvc"));
        cmd.args(["--http-addr", "127.0.0.1:0"]).args(args);
        Process::spawn(cmd, args.contains(&"--register"))
    }

    /// Runs `cmd`, a stringsvc command line, and waits as [`Process::start`].
    pub fn spawn(cmd: Command, registers: bool) -> Process {
        let mut daemon = Daemon::spawn("stringsvc", cmd);
        let line = daemon.wait_for_line("listening for HTTP and gRPC on ", Duration::from_secs(20));
        let url = line
            .rsplit("listening for HTTP and gRPC on ")
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .expect("an address in the banner")
            .to_string();
        if registers {
            daemon.wait_for_line("registered", Duration::from_secs(20));
        }
        Process { daemon, url }
    }
}

/// Runs `stringcli ARGS` to completion; its exit code, stdout and stderr.
pub fn stringcli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(workspace_bin("stringcli"))
        .args(args)
        .output()
        .expect("stringcli runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `instance URL served N` lines of stringcli's report.
pub fn served(report: &str) -> Vec<(String, u64)> {
    report
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("instance ")?;
            let (url, rest) = rest.split_once(" served ")?;
            let n = rest.split_whitespace().next()?.parse().ok()?;
            Some((url.to_string(), n))
        })
        .collect()
}

/// The base URLs the client balances over now, in any state.
pub fn urls(client: &StringServiceClient) -> BTreeSet<String> {
    client.instance_stats().into_iter().map(|i| i.url).collect()
}

/// The URLs of instances in state `live`.
pub fn live(client: &StringServiceClient) -> BTreeSet<String> {
    client
        .instance_stats()
        .into_iter()
        .filter(|i| i.state == "live")
        .map(|i| i.url)
        .collect()
}

/// Calls served per URL, from the client's own accounting.
pub fn served_by(client: &StringServiceClient, url: &str) -> u64 {
    client
        .instance_stats()
        .into_iter()
        .find(|i| i.url == url)
        .map(|i| i.served)
        .unwrap_or(0)
}

/// `n` uppercase calls, all of which must succeed.
pub async fn calls(client: &StringServiceClient, n: usize) {
    for i in 0..n {
        let out = client
            .uppercase(format!("call {i}"))
            .await
            .unwrap_or_else(|e| panic!("call {i} failed: {e}"));
        assert_eq!(out, format!("CALL {i}"));
    }
}

/// A set of URLs from a list.
pub fn set<I: IntoIterator<Item = S>, S: Into<String>>(urls: I) -> BTreeSet<String> {
    urls.into_iter().map(Into::into).collect()
}

/// The log lines this test process writes through `tracing`, captured
/// from the first call on (one subscriber per process).
#[derive(Clone)]
pub struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    pub fn capture() -> Logs {
        static LOGS: std::sync::OnceLock<Logs> = std::sync::OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = Logs(Default::default());
            let writer = logs.clone();
            let _ = tracing_subscriber::fmt()
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .with_max_level(tracing::Level::INFO)
                .try_init();
            logs
        })
        .clone()
    }

    pub fn text(&self) -> String {
        self.0
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The lines containing `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.contains(needle))
            .map(String::from)
            .collect()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        // Also to stderr, for a failing test's output.
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Each call's latency and outcome, as one load worker saw them.
type Seen = Vec<(Duration, Result<(), String>)>;

/// Calls in a loop from `concurrency` tasks until finished.
pub struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    workers: Vec<tokio::task::JoinHandle<Seen>>,
}

/// What a [`Load`] saw.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub ok: usize,
    pub failed: usize,
    /// Latencies of every call, sorted.
    pub latencies: Vec<Duration>,
    /// The first few errors.
    pub errors: Vec<String>,
}

impl LoadReport {
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() as f64 * q) as usize).min(self.latencies.len() - 1);
        self.latencies[i]
    }
}

impl Load {
    /// `uppercase` calls (idempotent, retried), or `count` calls (not).
    pub fn start(client: &StringServiceClient, concurrency: usize, idempotent: bool) -> Load {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let workers = (0..concurrency)
            .map(|_| {
                let (client, stop) = (client.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let t = std::time::Instant::now();
                        let r = if idempotent {
                            client.uppercase("load").await.map(drop)
                        } else {
                            client.count("load").await.map(drop)
                        };
                        seen.push((t.elapsed(), r.map_err(|e| e.to_string())));
                    }
                    seen
                })
            })
            .collect();
        Load { stop, workers }
    }

    pub async fn finish(self) -> LoadReport {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut report = LoadReport::default();
        for w in self.workers {
            for (latency, result) in w.await.expect("load worker") {
                report.latencies.push(latency);
                match result {
                    Ok(()) => report.ok += 1,
                    Err(e) => {
                        report.failed += 1;
                        if report.errors.len() < 5 {
                            report.errors.push(e);
                        }
                    }
                }
            }
        }
        report.latencies.sort();
        report
    }
}

/// Calls for `time` with 8 in flight; asserts none failed and that every
/// URL in `expected` served at least a tenth of them.
pub async fn assert_spread(
    client: &StringServiceClient,
    expected: &BTreeSet<String>,
    time: Duration,
) {
    let before: Vec<u64> = expected.iter().map(|u| served_by(client, u)).collect();
    let load = Load::start(client, 8, true);
    tokio::time::sleep(time).await;
    let report = load.finish().await;
    assert_eq!(report.failed, 0, "calls failed: {:?}", report.errors);
    let total = report.ok as u64;
    for (url, before) in expected.iter().zip(before) {
        let n = served_by(client, url) - before;
        assert!(
            n * 10 >= total,
            "{url} served {n} of {total} calls: {:#?}",
            client.instance_stats()
        );
    }
}
