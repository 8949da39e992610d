//! A real Graphite carbon-cache (Debian's graphite-carbon) in the
//! foreground, its plaintext line receiver, pickle receiver and cache query
//! port on free loopback ports, its whisper files in a temp dir with a
//! retention of one point a second for an hour (`1s:1h`), so each second's
//! last value lands. Files are read back with the whisper module of
//! Debian's python3-whisper (the library behind `whisper-fetch`; called
//! directly because `whisper-fetch --drop=nulls` renumbers the timestamps
//! of the points it keeps, and its text output rounds to 6 decimals).
//!
//! Carbon creates a metric's file lazily, a moment after its first point
//! (the writer thread), so reads poll with a deadline.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::{poll, tool};
use crate::registry::{free_port, wait_for_port, Daemon, TempDir};

const FETCH: &str = r#"
import json, sys, time, whisper
path = sys.argv[1]
(start, end, step), values = whisper.fetch(path, int(time.time()) - 3600)
print(json.dumps([[start + i * step, v] for i, v in enumerate(values) if v is not None]))
"#;

pub struct Carbon {
    dir: TempDir,
    line_port: u16,
    pickle_port: u16,
    query_port: u16,
    daemon: Option<Daemon>,
}

impl Carbon {
    /// Starts carbon-cache and waits until its line receiver accepts.
    pub fn start() -> Carbon {
        let mut carbon = Carbon {
            dir: TempDir::new("carbon"),
            line_port: free_port(),
            pickle_port: free_port(),
            query_port: free_port(),
            daemon: None,
        };
        carbon.resume();
        carbon
    }

    /// The plaintext line receiver.
    pub fn line_addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.line_port).into()
    }

    /// kit's URL for it: `graphite://127.0.0.1:PORT[/PREFIX]?interval=1s`.
    pub fn url(&self, prefix: Option<&str>) -> String {
        match prefix {
            Some(p) => format!("graphite://127.0.0.1:{}/{p}?interval=1s", self.line_port),
            None => format!("graphite://127.0.0.1:{}?interval=1s", self.line_port),
        }
    }

    fn whisper_dir(&self) -> PathBuf {
        self.dir.path().join("storage/whisper")
    }

    /// Kills carbon-cache (SIGKILL): the back end is down. Points it had
    /// not written yet are lost, as in a crash.
    pub fn stop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            d.kill();
        }
    }

    /// Starts it (again) on the same ports and files.
    pub fn resume(&mut self) {
        let dir = self.dir.path().display().to_string();
        let conf = format!(
            "[cache]\n\
             STORAGE_DIR = {dir}/storage/\n\
             LOCAL_DATA_DIR = {dir}/storage/whisper/\n\
             WHISPER_DIR = {dir}/storage/whisper/\n\
             CONF_DIR = {dir}/\n\
             LOG_DIR = {dir}/log/\n\
             PID_DIR = {dir}/\n\
             USER =\n\
             DATABASE = whisper\n\
             ENABLE_LOGROTATION = False\n\
             ENABLE_TAGS = False\n\
             MAX_CACHE_SIZE = inf\n\
             MAX_UPDATES_PER_SECOND = inf\n\
             MAX_CREATES_PER_MINUTE = inf\n\
             MIN_TIMESTAMP_RESOLUTION = 1\n\
             LINE_RECEIVER_INTERFACE = 127.0.0.1\n\
             LINE_RECEIVER_PORT = {}\n\
             ENABLE_UDP_LISTENER = False\n\
             PICKLE_RECEIVER_INTERFACE = 127.0.0.1\n\
             PICKLE_RECEIVER_PORT = {}\n\
             CACHE_QUERY_INTERFACE = 127.0.0.1\n\
             CACHE_QUERY_PORT = {}\n\
             USE_FLOW_CONTROL = True\n\
             LOG_UPDATES = False\n\
             LOG_CREATES = True\n\
             LOG_LISTENER_CONN_SUCCESS = False\n\
             CACHE_WRITE_STRATEGY = sorted\n\
             WHISPER_AUTOFLUSH = True\n\
             WHISPER_FALLOCATE_CREATE = False\n\
             CARBON_METRIC_INTERVAL = 0\n",
            self.line_port, self.pickle_port, self.query_port
        );
        std::fs::write(self.dir.path().join("carbon.conf"), conf).expect("write carbon.conf");
        std::fs::write(
            self.dir.path().join("storage-schemas.conf"),
            "[everything]\npattern = .*\nretentions = 1s:1h\n",
        )
        .expect("write storage-schemas.conf");
        // An empty aggregation file: the default (average) without the
        // "not found" warning.
        std::fs::write(self.dir.path().join("storage-aggregation.conf"), "")
            .expect("write storage-aggregation.conf");
        let mut cmd = Command::new(tool("carbon-cache"));
        cmd.arg(format!("--config={dir}/carbon.conf"))
            .arg(format!("--pidfile={dir}/carbon-cache.pid"))
            .args(["--nodaemon", "start"]);
        let daemon = Daemon::spawn("carbon-cache", cmd);
        assert!(
            wait_for_port(self.line_addr(), Duration::from_secs(15)),
            "carbon-cache did not listen on {}:\n{}",
            self.line_addr(),
            daemon.output()
        );
        self.daemon = Some(daemon);
    }

    /// Sends plaintext lines (`PATH VALUE TIMESTAMP`), as any Graphite
    /// client would.
    pub fn send_lines(&self, lines: &str) {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(self.line_addr()).expect("connect to carbon");
        s.write_all(lines.as_bytes()).expect("write to carbon");
    }

    /// The whisper file of a metric path (`a.b.c` -> `a/b/c.wsp`).
    pub fn file(&self, metric_path: &str) -> PathBuf {
        let mut path = self.whisper_dir();
        for part in metric_path.split('.') {
            path.push(part);
        }
        path.set_extension("wsp");
        path
    }

    /// The points of `metric_path` from the last hour, oldest first, nulls
    /// left out: (unix seconds, value). Empty when carbon has not created
    /// the file (yet).
    pub fn fetch(&self, metric_path: &str) -> Vec<(u64, f64)> {
        let file = self.file(metric_path);
        if !file.exists() {
            return Vec::new();
        }
        let out = Command::new("/usr/bin/python3")
            .args(["-c", FETCH])
            .arg(&file)
            .output()
            .expect("python3 runs (python3-whisper: scripts/install-test-deps)");
        assert!(
            out.status.success(),
            "reading {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let points: Vec<(u64, f64)> = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("whisper fetch output ({e}): {:?}", out.stdout));
        points
    }

    /// The most recent value of `metric_path`.
    pub fn latest(&self, metric_path: &str) -> Option<f64> {
        self.fetch(metric_path).last().map(|p| p.1)
    }

    /// Polls `metric_path` until its points satisfy `check`, at most
    /// `limit`; the points. Panics with the metrics carbon has otherwise.
    pub fn wait_for(
        &self,
        metric_path: &str,
        limit: Duration,
        check: impl Fn(&[(u64, f64)]) -> bool,
    ) -> Vec<(u64, f64)> {
        poll(
            limit,
            &format!("graphite metric {metric_path}"),
            || {
                let points = self.fetch(metric_path);
                (!points.is_empty() && check(&points)).then_some(points)
            },
            || {
                format!(
                    "points: {:?}\nmetrics carbon has: {:?}\ncarbon printed:\n{}",
                    self.fetch(metric_path),
                    self.metrics(),
                    self.output()
                )
            },
        )
    }

    /// Every metric path carbon has a file for, sorted.
    pub fn metrics(&self) -> Vec<String> {
        fn walk(dir: &std::path::Path, prefix: &str, out: &mut Vec<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, &format!("{prefix}{name}."), out);
                } else if let Some(stem) = name.strip_suffix(".wsp") {
                    out.push(format!("{prefix}{stem}"));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.whisper_dir(), "", &mut out);
        out.sort();
        out
    }

    /// What carbon-cache printed.
    pub fn output(&self) -> String {
        self.daemon
            .as_ref()
            .map(|d| d.output())
            .unwrap_or_else(|| "(stopped)".into())
    }
}
