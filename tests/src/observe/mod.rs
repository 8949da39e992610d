//! The real daemons kit's observability features talk to, each started on
//! free loopback ports with its own configuration in a temp dir, killed on
//! drop, and stoppable for outage tests: Etsy's statsd, Graphite's
//! carbon-cache, InfluxDB 1.x, rsyslog, and an OTLP/gRPC trace receiver
//! written with the opentelemetry-proto package. Also the kit binaries the
//! tests run as separate processes ([`KitProcess`]) and a two-hop service
//! ([`chain::Chain`]) for traces that cross processes.
//!
//! `scripts/install-test-deps` installs every daemon; a missing one is a
//! test failure that says so, never a skip.

pub mod carbon;
pub mod chain;
pub mod influx;
pub mod otlp;
pub mod rsyslog;
pub mod statsd;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::registry::{free_port, wait_for_port, Daemon};

pub use crate::{python, python_script};

/// A command found on `PATH` (or under `/usr/sbin`), or a failure naming
/// the install script.
pub fn tool(name: &str) -> PathBuf {
    let dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    dirs.into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{name}` is not installed: run scripts/install-test-deps"))
}

/// A loopback UDP port free at the time of asking.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port")
}

/// Calls `check` every 50 ms until it returns something, at most `limit`;
/// panics with `what` and the last state `describe` gives otherwise.
pub fn poll<T>(
    limit: Duration,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
    describe: impl FnOnce() -> String,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("{what}: not within {limit:?}\n{}", describe());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A blocking HTTP/1.0 exchange (no keep-alive, no chunking): the status
/// and body. For talking to daemons from a harness without a runtime.
pub fn http_exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let status_line = String::from_utf8_lossy(&response[..split]);
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {status_line}")))?;
    Ok((status, response[split + 4..].to_vec()))
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Environment variables a kit binary reads that the tests set themselves:
/// removed from what a spawned binary inherits, so the machine's
/// environment cannot change a test.
pub const KIT_ENV: &[&str] = &[
    "RUST_LOG",
    "KIT_HTTP_ADDR",
    "KIT_GRPC_ADDR",
    "KIT_LOG_FORMAT",
    "KIT_LOG_OUTPUT",
    "KIT_ACCESS_LOG",
    "KIT_EVENTS",
    "KIT_METRICS",
    "KIT_REGISTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_SDK_DISABLED",
    "CHAIN_UPSTREAM",
    "CHAIN_TRANSPORT",
];

/// A kit binary of this workspace running as its own process on a free
/// loopback port, its output captured; killed on drop.
pub struct KitProcess {
    pub bin: String,
    pub addr: SocketAddr,
    daemon: Daemon,
}

impl KitProcess {
    /// Builds the command for `bin` with `args` and `env` (and a clean
    /// environment otherwise, see [`KIT_ENV`]); `--http-addr` is added.
    pub fn command(bin: &str, addr: SocketAddr, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(crate::workspace_bin(bin));
        for var in KIT_ENV {
            cmd.env_remove(var);
        }
        cmd.args(["--http-addr", &addr.to_string()]).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Starts `bin` and waits until it accepts connections.
    pub fn start(bin: &str, args: &[&str], env: &[(&str, &str)]) -> KitProcess {
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let mut daemon = Daemon::spawn(bin, Self::command(bin, addr, args, env));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if wait_for_port(addr, Duration::from_millis(100)) {
                break;
            }
            assert!(
                daemon.running(),
                "{bin} {args:?} exited before listening:\n{}",
                daemon.output()
            );
            assert!(
                Instant::now() < deadline,
                "{bin} {args:?} did not listen on {addr}:\n{}",
                daemon.output()
            );
        }
        KitProcess {
            bin: bin.to_string(),
            addr,
            daemon,
        }
    }

    /// Runs `bin` expecting it to exit by itself within `limit`: its exit
    /// code and everything it printed.
    pub fn run_to_exit(
        bin: &str,
        args: &[&str],
        env: &[(&str, &str)],
        limit: Duration,
    ) -> (Option<i32>, String) {
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let mut daemon = Daemon::spawn(bin, Self::command(bin, addr, args, env));
        let code = daemon.wait(limit);
        // The reader threads may still hold the last lines for a moment.
        std::thread::sleep(Duration::from_millis(100));
        (code, daemon.output())
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Everything it printed so far (stdout and stderr, line by line).
    pub fn output(&self) -> String {
        self.daemon.output()
    }

    /// Its process id.
    pub fn pid(&self) -> i32 {
        self.daemon.pid()
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        self.daemon.running()
    }

    /// SIGTERM, then waits up to `limit` for it to exit; its exit code.
    pub fn terminate(&mut self, limit: Duration) -> Option<i32> {
        self.daemon.signal(libc::SIGTERM);
        self.daemon.wait(limit)
    }

    /// Its `/metrics` page (Prometheus text).
    pub fn metrics_text(&self) -> String {
        let (status, body) = http_exchange(self.addr, "GET", "/metrics", "text/plain", b"")
            .unwrap_or_else(|e| panic!("GET /metrics of {}: {e}", self.bin));
        assert_eq!(status, 200, "GET /metrics of {}", self.bin);
        String::from_utf8_lossy(&body).into_owned()
    }

    /// The sum of the samples of `name` on `/metrics` whose labels contain
    /// every `key="value"` of `labels`; `None` when there is no such sample.
    pub fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        prometheus_sum(&self.metrics_text(), name, labels)
    }
}

/// The sum of the samples of `name` in a Prometheus text page whose labels
/// contain every pair of `labels`.
pub fn prometheus_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let (label_text, value) = match rest.strip_prefix('{') {
            Some(r) => match r.split_once('}') {
                Some((l, v)) => (l, v),
                None => continue,
            },
            None if rest.starts_with(' ') => ("", rest),
            None => continue,
        };
        if !labels
            .iter()
            .all(|(k, v)| label_text.contains(&format!("{k}=\"{v}\"")))
        {
            continue;
        }
        if let Some(v) = value
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
        {
            *found.get_or_insert(0.0) += v;
        }
    }
    found
}

/// A `traceparent` for a caller span: version 00, sampled when `sampled`.
pub fn traceparent(trace_id: &str, span_id: &str, sampled: bool) -> String {
    format!(
        "00-{trace_id}-{span_id}-{}",
        if sampled { "01" } else { "00" }
    )
}

/// A fresh random-looking id of `hex_len` hex digits (not all zero).
pub fn random_hex(hex_len: usize) -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::new();
    while out.len() < hex_len {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        out.push_str(&format!("{:016x}", h.finish() | 1));
    }
    out.truncate(hex_len);
    out
}

/// An HTTP/1.1 client keeping its connections, for many calls in a row.
pub struct Caller {
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<bytes::Bytes>,
    >,
}

impl Default for Caller {
    fn default() -> Self {
        Caller::new()
    }
}

impl Caller {
    pub fn new() -> Caller {
        Caller {
            client: hyper_util::client::legacy::Client::builder(
                hyper_util::rt::TokioExecutor::new(),
            )
            .build_http(),
        }
    }

    /// POSTs `body` as JSON to `path` with `headers`.
    pub async fn post_json(
        &self,
        addr: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> crate::Raw {
        use http_body_util::BodyExt;
        let mut req = http::Request::post(format!("http://{addr}{path}"))
            .header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(http_body_util::Full::new(bytes::Bytes::from(
                body.to_string(),
            )))
            .expect("request");
        let resp = self
            .client
            .request(req)
            .await
            .unwrap_or_else(|e| panic!("POST {path} to {addr}: {e}"));
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .expect("response body")
            .to_bytes();
        crate::Raw {
            status,
            headers,
            body,
        }
    }
}

/// A protobuf message of one string field numbered 1 (`RelayRequest`,
/// `UppercaseResponse`, ...).
pub fn proto_string(value: &str) -> bytes::Bytes {
    let mut out = vec![0x0a];
    let mut len = value.len();
    while len >= 0x80 {
        out.push((len as u8 & 0x7f) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.extend_from_slice(value.as_bytes());
    out.into()
}

/// A unary gRPC call with raw message bytes and `metadata`, as a generic
/// gRPC tool makes it: the answer's bytes or status.
pub async fn grpc_unary(
    addr: SocketAddr,
    path: &str,
    message: bytes::Bytes,
    metadata: &[(&'static str, &str)],
) -> Result<bytes::Bytes, tonic::Status> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .expect("channel URL")
        .connect()
        .await
        .unwrap_or_else(|e| panic!("gRPC connect to {addr}: {e}"));
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.expect("gRPC channel ready");
    let mut request = tonic::Request::new(message);
    for (k, v) in metadata {
        request
            .metadata_mut()
            .insert(*k, v.parse().expect("metadata value"));
    }
    let path: http::uri::PathAndQuery = path.parse().expect("gRPC path");
    client
        .unary(request, path, crate::RawCodec)
        .await
        .map(|r| r.into_inner())
}
