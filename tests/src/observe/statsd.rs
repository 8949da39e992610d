//! A real statsd: Etsy's daemon (npm package `statsd`, run by node from
//! the prefix `scripts/install-test-deps` installs it in, `$KIT_NPM` or
//! `/var/tmp/kit-npm`), listening for UDP on a free loopback port.
//!
//! What it aggregated and flushed is read back through a backend, statsd's
//! plugin interface: a small one generated in the temp dir appends each
//! flush (the counters, gauges and timer statistics statsd computed for the
//! interval) as one JSON line to a file. `deleteIdleStats` is on, so a
//! flush holds only what arrived during its interval.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::{free_udp_port, poll, tool};
use crate::registry::{free_port, wait_for_port, Daemon, TempDir};

const FLUSH_BACKEND: &str = r#"// Appends each flush statsd makes, as one JSON line, to config.kitFlushFile.
var fs = require('fs');
exports.init = function (startupTime, config, events) {
  var path = config.kitFlushFile;
  events.on('flush', function (timestamp, metrics) {
    fs.appendFileSync(path, JSON.stringify({
      timestamp: timestamp,
      counters: metrics.counters,
      gauges: metrics.gauges,
      timer_data: metrics.timer_data
    }) + "\n");
  });
  return true;
};
"#;

/// What statsd computed for a timer, over every flush so far.
#[derive(Clone, Debug, PartialEq)]
pub struct TimerStats {
    /// Samples received.
    pub count: f64,
    /// Their sum (milliseconds).
    pub sum: f64,
    /// The smallest.
    pub lower: f64,
    /// The largest.
    pub upper: f64,
}

impl TimerStats {
    pub fn mean(&self) -> f64 {
        if self.count == 0.0 {
            0.0
        } else {
            self.sum / self.count
        }
    }
}

pub struct Statsd {
    dir: TempDir,
    port: u16,
    mgmt_port: u16,
    flush_interval_ms: u64,
    daemon: Option<Daemon>,
}

impl Statsd {
    /// Starts statsd flushing every `flush_interval_ms` and waits until it
    /// listens.
    pub fn start(flush_interval_ms: u64) -> Statsd {
        let mut statsd = Statsd {
            dir: TempDir::new("statsd"),
            port: free_udp_port(),
            mgmt_port: free_port(),
            flush_interval_ms,
            daemon: None,
        };
        statsd.resume();
        statsd
    }

    /// The npm prefix statsd is installed under.
    pub fn prefix() -> PathBuf {
        std::env::var_os("KIT_NPM")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/var/tmp/kit-npm"))
    }

    fn stats_js() -> PathBuf {
        let path = Self::prefix().join("node_modules/statsd/stats.js");
        assert!(
            path.is_file(),
            "{} is missing: run scripts/install-test-deps (npm install statsd)",
            path.display()
        );
        path
    }

    /// The UDP address it receives metrics at.
    pub fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// kit's URL for it: `statsd://127.0.0.1:PORT[/PREFIX]?interval=1s`.
    pub fn url(&self, prefix: Option<&str>) -> String {
        match prefix {
            Some(p) => format!("statsd://127.0.0.1:{}/{p}?interval=1s", self.port),
            None => format!("statsd://127.0.0.1:{}?interval=1s", self.port),
        }
    }

    fn flush_file(&self) -> PathBuf {
        self.dir.path().join("flushes.jsonl")
    }

    /// Kills statsd (SIGKILL): the back end is down.
    pub fn stop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            d.kill();
        }
    }

    /// Starts it (again) on the same port; the flushes seen so far stay.
    pub fn resume(&mut self) {
        let backend = self.dir.path().join("kit_flush_backend.js");
        std::fs::write(&backend, FLUSH_BACKEND).expect("write the statsd backend");
        let config = serde_json::json!({
            "address": "127.0.0.1",
            "port": self.port,
            "mgmt_address": "127.0.0.1",
            "mgmt_port": self.mgmt_port,
            "flushInterval": self.flush_interval_ms,
            "backends": [backend.to_string_lossy()],
            "kitFlushFile": self.flush_file().to_string_lossy(),
            "deleteIdleStats": true,
            "automaticConfigReload": false,
            "title": false,
        });
        let config_path = self.dir.path().join("config.json");
        std::fs::write(&config_path, config.to_string()).expect("write the statsd config");
        let mut cmd = Command::new(tool("node"));
        cmd.arg(Self::stats_js()).arg(&config_path);
        let mut daemon = Daemon::spawn("statsd", cmd);
        // The UDP server is up before the management port opens.
        let mgmt: SocketAddr = ([127, 0, 0, 1], self.mgmt_port).into();
        assert!(
            wait_for_port(mgmt, Duration::from_secs(10)),
            "statsd did not open its management port {mgmt}:\n{}",
            daemon.output()
        );
        daemon.wait_for_line("server is up", Duration::from_secs(5));
        self.daemon = Some(daemon);
    }

    /// Every flush so far, oldest first: `{"timestamp", "counters",
    /// "gauges", "timer_data"}` as statsd computed them.
    pub fn flushes(&self) -> Vec<Value> {
        std::fs::read_to_string(self.flush_file())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The counter's total over every flush (statsd's per-interval
    /// increments added up); `None` if it never arrived.
    pub fn counter(&self, name: &str) -> Option<f64> {
        let values: Vec<f64> = self
            .flushes()
            .iter()
            .filter_map(|f| f["counters"][name].as_f64())
            .collect();
        (!values.is_empty()).then(|| values.iter().sum())
    }

    /// The gauge's value at the last flush that had it.
    pub fn gauge(&self, name: &str) -> Option<f64> {
        self.flushes()
            .iter()
            .rev()
            .find_map(|f| f["gauges"][name].as_f64())
    }

    /// The timer's statistics over every flush.
    pub fn timer(&self, name: &str) -> Option<TimerStats> {
        let mut stats: Option<TimerStats> = None;
        for flush in self.flushes() {
            let t = &flush["timer_data"][name];
            let (Some(count), Some(sum), Some(lower), Some(upper)) = (
                t["count"].as_f64(),
                t["sum"].as_f64(),
                t["lower"].as_f64(),
                t["upper"].as_f64(),
            ) else {
                continue;
            };
            let s = stats.get_or_insert(TimerStats {
                count: 0.0,
                sum: 0.0,
                lower,
                upper,
            });
            s.count += count;
            s.sum += sum;
            s.lower = s.lower.min(lower);
            s.upper = s.upper.max(upper);
        }
        stats
    }

    /// The number of samples of the timer.
    pub fn timer_count(&self, name: &str) -> Option<f64> {
        self.timer(name).map(|t| t.count)
    }

    /// Lines statsd could not parse, over every flush.
    pub fn bad_lines(&self) -> f64 {
        self.counter("statsd.bad_lines_seen").unwrap_or(0.0)
    }

    /// Every counter, gauge and timer name flushed so far, statsd's own
    /// (`statsd.*`) left out.
    pub fn names(&self) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for flush in self.flushes() {
            for kind in ["counters", "gauges", "timer_data"] {
                if let Some(map) = flush[kind].as_object() {
                    names.extend(map.keys().filter(|k| !k.starts_with("statsd.")).cloned());
                }
            }
        }
        names
    }

    /// Waits until `check` holds, at most `limit`; panics with the names
    /// flushed so far otherwise.
    pub fn wait_for(&self, limit: Duration, what: &str, check: impl Fn(&Statsd) -> bool) {
        poll(
            limit,
            what,
            || check(self).then_some(()),
            || {
                format!(
                    "statsd flushed: {:?}\nstatsd printed:\n{}",
                    self.names(),
                    self.output()
                )
            },
        )
    }

    /// What statsd printed.
    pub fn output(&self) -> String {
        self.daemon
            .as_ref()
            .map(|d| d.output())
            .unwrap_or_else(|| "(stopped)".into())
    }
}
