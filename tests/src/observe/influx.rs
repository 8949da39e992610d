//! A real InfluxDB 1.x (Debian's `influxdb`, `influxd run -config`), its
//! HTTP API and its RPC port on free loopback ports, meta, data and WAL in
//! a temp dir; usage reporting, the `_internal` monitor database,
//! subscriptions, continuous queries and every other listener off.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{form_encode, http_exchange, poll, tool};
use crate::registry::{free_port, Daemon, TempDir};

pub struct Influx {
    dir: TempDir,
    http_port: u16,
    rpc_port: u16,
    daemon: Option<Daemon>,
}

impl Influx {
    /// Starts influxd and waits until `/ping` answers.
    pub fn start() -> Influx {
        let mut influx = Influx {
            dir: TempDir::new("influx"),
            http_port: free_port(),
            rpc_port: free_port(),
            daemon: None,
        };
        influx.resume();
        influx
    }

    /// The HTTP API's address.
    pub fn http_addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.http_port).into()
    }

    /// kit's URL for database `db` here:
    /// `influx://127.0.0.1:PORT/DB?interval=1s`.
    pub fn url(&self, db: &str) -> String {
        format!("influx://127.0.0.1:{}/{db}?interval=1s", self.http_port)
    }

    /// Kills influxd (SIGKILL): the back end is down.
    pub fn stop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            d.kill();
        }
    }

    /// Starts it (again) on the same ports and data.
    pub fn resume(&mut self) {
        let dir = self.dir.path().display().to_string();
        let conf = format!(
            r#"reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"

[meta]
  dir = "{dir}/meta"
  logging-enabled = false

[data]
  dir = "{dir}/data"
  wal-dir = "{dir}/wal"
  query-log-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[retention]
  enabled = false

[shard-precreation]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http}"
  log-enabled = false
  pprof-enabled = false
  unix-socket-enabled = false

[logging]
  level = "warn"
  suppress-logo = true
"#,
            rpc = self.rpc_port,
            http = self.http_port,
        );
        let config = self.dir.path().join("influxdb.conf");
        std::fs::write(&config, conf).expect("write influxdb.conf");
        let mut cmd = Command::new(tool("influxd"));
        cmd.arg("run").arg("-config").arg(&config);
        let mut daemon = Daemon::spawn("influxd", cmd);
        let addr = self.http_addr();
        let deadline = Instant::now() + Duration::from_secs(15);
        while !matches!(
            http_exchange(addr, "GET", "/ping", "text/plain", b""),
            Ok((204, _))
        ) {
            assert!(daemon.running(), "influxd exited:\n{}", daemon.output());
            assert!(
                Instant::now() < deadline,
                "influxd did not answer /ping on {addr}:\n{}",
                daemon.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.daemon = Some(daemon);
    }

    /// `CREATE DATABASE name`.
    pub fn create_db(&self, name: &str) {
        let v = self.query("", &format!("CREATE DATABASE \"{name}\""));
        assert!(
            v["results"][0].get("error").is_none(),
            "CREATE DATABASE {name}: {v}"
        );
    }

    /// Runs InfluxQL `q` against `db` (`""`: none) through `POST /query`;
    /// the JSON answer.
    pub fn query(&self, db: &str, q: &str) -> Value {
        let mut form = format!("q={}", form_encode(q));
        if !db.is_empty() {
            form.push_str(&format!("&db={}", form_encode(db)));
        }
        let (status, body) = http_exchange(
            self.http_addr(),
            "POST",
            "/query?epoch=ns",
            "application/x-www-form-urlencoded",
            form.as_bytes(),
        )
        .unwrap_or_else(|e| panic!("influx query {q}: {e}"));
        let v: Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!(
                "influx query {q}: {status}, not JSON ({e}): {}",
                String::from_utf8_lossy(&body)
            )
        });
        assert_eq!(status, 200, "influx query {q}: {v}");
        v
    }

    /// The rows of every series of the first statement's result; each row
    /// starts with the time (epoch ns).
    pub fn rows(&self, db: &str, q: &str) -> Vec<Vec<Value>> {
        let v = self.query(db, q);
        assert!(v["results"][0].get("error").is_none(), "{q}: {v}");
        v["results"][0]["series"]
            .as_array()
            .map(|series| {
                series
                    .iter()
                    .flat_map(|s| s["values"].as_array().cloned().unwrap_or_default())
                    .filter_map(|row| row.as_array().cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Writes line protocol into `db`, as any InfluxDB client would.
    pub fn write(&self, db: &str, lines: &str) {
        let (status, body) = http_exchange(
            self.http_addr(),
            "POST",
            &format!("/write?db={}", form_encode(db)),
            "text/plain",
            lines.as_bytes(),
        )
        .expect("influx write");
        assert_eq!(
            status,
            204,
            "influx write: {}",
            String::from_utf8_lossy(&body)
        );
    }

    /// Polls `q` until its rows satisfy `check`, at most `limit`; the rows.
    pub fn wait_for(
        &self,
        db: &str,
        q: &str,
        limit: Duration,
        check: impl Fn(&[Vec<Value>]) -> bool,
    ) -> Vec<Vec<Value>> {
        poll(
            limit,
            &format!("influx `{q}`"),
            || {
                let rows = self.rows(db, q);
                (!rows.is_empty() && check(&rows)).then_some(rows)
            },
            || {
                format!(
                    "rows: {:?}\nmeasurements: {}\ninfluxd printed:\n{}",
                    self.rows(db, q),
                    self.query(db, "SHOW MEASUREMENTS"),
                    self.output()
                )
            },
        )
    }

    /// What influxd printed.
    pub fn output(&self) -> String {
        self.daemon
            .as_ref()
            .map(|d| d.output())
            .unwrap_or_else(|| "(stopped)".into())
    }
}
