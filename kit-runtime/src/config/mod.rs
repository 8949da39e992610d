//! How a kit server runs: listen addresses, logs, shutdown, limits. Every
//! setting has a flag and a `KIT_*` environment variable (flags win), read
//! by [`Cli`](crate::Cli); in code, build a [`Config`] and pass it to
//! [`Server::new`](crate::Server::new).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

mod auth;
mod observe;

pub use auth::AuthConfig;
pub use observe::{EventsOutput, Observe};

use crate::log::LogFormat;
use crate::tls::ClientAuth;
use crate::transport::http::DEFAULT_BODY_LIMIT;

/// The settings of a kit server.
///
/// | flag | env | default |
/// | --- | --- | --- |
/// | `--http-addr ADDR` | `KIT_HTTP_ADDR` | `127.0.0.1:8080` |
/// | `--grpc-addr ADDR` | `KIT_GRPC_ADDR` | none (gRPC shares the HTTP port) |
/// | `--log-format json\|pretty` | `KIT_LOG_FORMAT` | `pretty` |
/// | `--grace-period DURATION` | `KIT_GRACE_PERIOD` | `10s` |
/// | `--body-limit BYTES` | `KIT_BODY_LIMIT` | `4194304` (4 MiB) |
/// | `--nats-url nats://HOST:PORT` | `KIT_NATS_URL` | none (not served over NATS) |
/// | `--nats-prefix PREFIX` | `KIT_NATS_PREFIX` | none (subjects `SERVICE.ENDPOINT`) |
/// | `--register URL` (repeatable) | `KIT_REGISTER` (space-separated) | none |
/// | `--advertise-addr HOST:PORT` | `KIT_ADVERTISE_ADDR` | the bound address |
/// | `--metadata KEY=VALUE` (repeatable) | `KIT_METADATA` (space-separated) | none |
/// | `--request-timeout DURATION` | `KIT_REQUEST_TIMEOUT` | `30s` (endpoints without `timeout`; `0s`: none) |
/// | `--concurrency adaptive\|off\|N` | `KIT_CONCURRENCY` | `adaptive` (endpoints without `concurrency`) |
/// | `--header-timeout DURATION` | `KIT_HEADER_TIMEOUT` | `10s` |
/// | `--body-timeout DURATION` | `KIT_BODY_TIMEOUT` | `30s` |
/// | `--idle-timeout DURATION` | `KIT_IDLE_TIMEOUT` | `60s` |
/// | `--max-connections N` | `KIT_MAX_CONNECTIONS` | 10,000, or 7/8 of the open-file limit if lower |
/// | `--h2-max-streams N` | `KIT_H2_MAX_STREAMS` | `100` |
/// | `--h2-keepalive DURATION` | `KIT_H2_KEEPALIVE` | `20s` (ping interval and ack timeout) |
/// | `--body-memory BYTES` | `KIT_BODY_MEMORY` | `134217728` (128 MiB) |
/// | `--shutdown-linger DURATION` | `KIT_SHUTDOWN_LINGER` | `1s` |
/// | `--tls-cert FILE` | `KIT_TLS_CERT` | none (plain HTTP); with `--tls-key`, TLS on every listener |
/// | `--tls-key FILE` | `KIT_TLS_KEY` | none |
/// | `--tls-client-ca FILE` | `KIT_TLS_CLIENT_CA` | none (no client certificates asked) |
/// | `--tls-client-auth required\|optional` | `KIT_TLS_CLIENT_AUTH` | `required` (with `--tls-client-ca`) |
///
/// the authenticators of [`AuthConfig`] (`--jwt-*`, `--basic-auth-file`,
/// `--api-keys-file`, `--metrics-auth`), and the logs, metrics and traces settings of [`Observe`] (`--log-output`,
/// `--access-log`, `--events`, `--slow-threshold`, `--metrics`, the `OTEL_*`
/// variables).
///
/// An address may name a host (`localhost:8080`); it is resolved once, at
/// start. In code:
///
/// ```
/// use std::time::Duration;
/// let config = kit_runtime::Config {
///     grace_period: Duration::from_secs(2),
///     ..Default::default()
/// };
/// assert_eq!(config.http_addr.port(), 8080);
/// ```
///
/// `Config` is a `clap::Args`, so a binary with flags of its own puts kit's
/// next to them:
///
/// ```
/// use clap::Parser;
///
/// /// A service with a flag of its own.
/// #[derive(Parser)]
/// struct Args {
///     /// Where the data lives.
///     #[arg(long, default_value = "/var/lib/app")]
///     data_dir: String,
///     #[command(flatten)]
///     kit: kit_runtime::Config,
/// }
///
/// let args = Args::parse_from(["app", "--data-dir", "/tmp", "--http-addr", "127.0.0.1:9000"]);
/// assert_eq!(args.data_dir, "/tmp");
/// assert_eq!(args.kit.http_addr.port(), 9000);
/// // then: kit_runtime::Server::new(args.kit).add_service(..).serve().await
/// ```
#[derive(Clone, Debug, PartialEq, clap::Args)]
pub struct Config {
    /// Where HTTP is served (and gRPC too, told apart by content type).
    #[arg(
        long,
        env = "KIT_HTTP_ADDR",
        value_name = "ADDR",
        default_value = "127.0.0.1:8080",
        value_parser = parse_addr,
        help = "Listen address for HTTP and gRPC"
    )]
    pub http_addr: SocketAddr,
    /// An extra address serving only gRPC.
    #[arg(
        long,
        env = "KIT_GRPC_ADDR",
        value_name = "ADDR",
        value_parser = parse_addr,
        help = "An extra listen address for gRPC only"
    )]
    pub grpc_addr: Option<SocketAddr>,
    /// Log output format (filter with `RUST_LOG`).
    #[arg(
        long,
        env = "KIT_LOG_FORMAT",
        value_enum,
        default_value = "pretty",
        help = "Log output format; filter with RUST_LOG"
    )]
    pub log_format: LogFormat,
    /// How long shutdown waits for in-flight requests.
    #[arg(
        long,
        env = "KIT_GRACE_PERIOD",
        value_name = "DURATION",
        default_value = "10s",
        value_parser = parse_duration,
        help = "Time to drain in-flight requests on SIGINT/SIGTERM"
    )]
    pub grace_period: Duration,
    /// A NATS server to also serve the HTTP endpoints through, by
    /// request/reply on `[PREFIX.]SERVICE.ENDPOINT` (see the README).
    #[arg(
        long,
        env = "KIT_NATS_URL",
        value_name = "nats://HOST:PORT",
        help = "Also serve the HTTP endpoints over NATS request/reply, subjects SERVICE.ENDPOINT, queue group SERVICE"
    )]
    pub nats_url: Option<String>,
    /// A prefix of the NATS subjects (`prod` gives `prod.SERVICE.ENDPOINT`).
    #[arg(
        long,
        env = "KIT_NATS_PREFIX",
        value_name = "PREFIX",
        help = "Prefix of the NATS subjects: PREFIX.SERVICE.ENDPOINT"
    )]
    pub nats_prefix: Option<String>,
    /// Registries to announce the server in while it serves (`etcd://`,
    /// `zk://`, `consul://` URLs; see `kit::sd`).
    #[arg(
        long = "register",
        env = "KIT_REGISTER",
        value_name = "URL",
        value_delimiter = ' ',
        help = "Register in this registry while serving (etcd://, zk://, consul:// URL; repeatable)"
    )]
    pub register: Vec<String>,
    /// The address others reach the server at, when it is not the one it
    /// binds (NAT, containers, `0.0.0.0`).
    #[arg(
        long,
        env = "KIT_ADVERTISE_ADDR",
        value_name = "HOST:PORT",
        help = "The address to register instead of the bound one"
    )]
    pub advertise_addr: Option<String>,
    /// Labels of this server (`zone=eu-1`, `version=1.3`): shown in
    /// `/kit/describe` and carried by its registrations, where a `version`
    /// label stands for the crate's version.
    #[arg(
        long = "metadata",
        env = "KIT_METADATA",
        value_name = "KEY=VALUE",
        value_delimiter = ' ',
        value_parser = parse_label,
        help = "A label of this server, in /kit/describe and its registrations (repeatable; version=X stands for the crate's version)"
    )]
    pub metadata: Vec<(String, String)>,
    /// Largest accepted request body (and gRPC message), in bytes.
    #[arg(
        long,
        env = "KIT_BODY_LIMIT",
        value_name = "BYTES",
        default_value_t = DEFAULT_BODY_LIMIT,
        help = "Largest accepted request body or gRPC message"
    )]
    pub body_limit: usize,
    /// The deadline of endpoints that set no `timeout` (zero: none).
    #[arg(
        long,
        env = "KIT_REQUEST_TIMEOUT",
        value_name = "DURATION",
        default_value = "30s",
        value_parser = parse_duration,
        help = "Deadline of endpoints without a `timeout` annotation (0s: none)"
    )]
    pub request_timeout: Duration,
    /// The concurrency limit of endpoints that set no `concurrency`.
    #[arg(
        long,
        env = "KIT_CONCURRENCY",
        value_name = "adaptive|off|N",
        default_value = "adaptive",
        value_parser = parse_concurrency,
        help = "Concurrency limit of endpoints without a `concurrency` annotation: adaptive (gradient on latency), off, or a number"
    )]
    pub concurrency: Concurrency,
    /// How long a client may take to send a request's headers.
    #[arg(
        long,
        env = "KIT_HEADER_TIMEOUT",
        value_name = "DURATION",
        default_value = "10s",
        value_parser = parse_duration,
        help = "Close HTTP/1 connections that take longer to send a request's headers"
    )]
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body.
    #[arg(
        long,
        env = "KIT_BODY_TIMEOUT",
        value_name = "DURATION",
        default_value = "30s",
        value_parser = parse_duration,
        help = "Fail requests whose body takes longer to arrive (408 / DEADLINE_EXCEEDED)"
    )]
    pub body_timeout: Duration,
    /// How long a connection with no request in flight stays open.
    #[arg(
        long,
        env = "KIT_IDLE_TIMEOUT",
        value_name = "DURATION",
        default_value = "60s",
        value_parser = parse_duration,
        help = "Close connections idle this long"
    )]
    pub idle_timeout: Duration,
    /// The most connections served at once; `None`: 10,000 or 7/8 of the
    /// open-file limit, whichever is lower.
    #[arg(
        long,
        env = "KIT_MAX_CONNECTIONS",
        value_name = "N",
        help = "Most open connections; beyond it the oldest idle one is closed, or the new one refused [default: 10000 or 7/8 of the open-file limit]"
    )]
    pub max_connections: Option<usize>,
    /// HTTP/2 streams one connection may have open at once.
    #[arg(
        long,
        env = "KIT_H2_MAX_STREAMS",
        value_name = "N",
        default_value_t = 100,
        help = "Concurrent HTTP/2 streams per connection"
    )]
    pub h2_max_streams: u32,
    /// HTTP/2 keep-alive: ping interval, and how long to wait for the ack.
    #[arg(
        long,
        env = "KIT_H2_KEEPALIVE",
        value_name = "DURATION",
        default_value = "20s",
        value_parser = parse_duration,
        help = "HTTP/2 ping interval and ack timeout (0s: no pings)"
    )]
    pub h2_keepalive: Duration,
    /// Bytes of request bodies the whole process buffers at once.
    #[arg(
        long,
        env = "KIT_BODY_MEMORY",
        value_name = "BYTES",
        default_value_t = 128 * 1024 * 1024,
        help = "Request body bytes buffered at once across all requests; beyond it 503 / RESOURCE_EXHAUSTED"
    )]
    pub body_memory: usize,
    /// On shutdown, how long a connection with nothing in flight may take
    /// to close before it is dropped.
    #[arg(
        long,
        env = "KIT_SHUTDOWN_LINGER",
        value_name = "DURATION",
        default_value = "1s",
        value_parser = parse_duration,
        help = "On shutdown, drop connections with nothing in flight that have not closed after this long"
    )]
    pub shutdown_linger: Duration,
    /// The server's certificate chain, PEM, end-entity certificate first:
    /// with [`tls_key`](Config::tls_key), every listener speaks TLS only
    /// (HTTP/1.1, HTTP/2 and gRPC, by ALPN). Reloaded when the file changes.
    #[arg(
        long,
        env = "KIT_TLS_CERT",
        value_name = "FILE",
        help = "Serve TLS with this PEM certificate chain (with --tls-key); reloaded when it changes"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The private key of [`tls_cert`](Config::tls_cert), PEM (PKCS#8,
    /// PKCS#1 or SEC1).
    #[arg(
        long,
        env = "KIT_TLS_KEY",
        value_name = "FILE",
        help = "The PEM private key of --tls-cert; reloaded when it changes"
    )]
    pub tls_key: Option<PathBuf>,
    /// CA certificates (PEM) that client certificates must chain to
    /// (mTLS); the verified identity is in
    /// [`Context::peer_identity`](crate::Context::peer_identity).
    #[arg(
        long,
        env = "KIT_TLS_CLIENT_CA",
        value_name = "FILE",
        help = "Verify client certificates against this PEM CA bundle (mTLS); required unless --tls-client-auth optional"
    )]
    pub tls_client_ca: Option<PathBuf>,
    /// Whether [`tls_client_ca`](Config::tls_client_ca) makes client
    /// certificates required (the default) or optional.
    #[arg(
        long,
        env = "KIT_TLS_CLIENT_AUTH",
        value_enum,
        default_value = "required",
        help = "With --tls-client-ca: refuse clients without a certificate (required), or serve them without an identity (optional)"
    )]
    pub tls_client_auth: ClientAuth,
    /// Logs, events, metrics backends, trace export.
    #[command(flatten)]
    pub observe: Observe,
    /// Authenticators: JWT, HTTP basic, API keys; who may read `/metrics`.
    #[command(flatten)]
    pub auth: AuthConfig,
}

/// An endpoint's concurrency limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concurrency {
    /// Adapts to latency (a gradient limit, as Netflix's concurrency-limits'
    /// Gradient2): shrinks when requests take longer than usual.
    Adaptive,
    /// No limit.
    Off,
    /// At most this many requests at once.
    Fixed(usize),
}

impl std::fmt::Display for Concurrency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Concurrency::Adaptive => f.write_str("adaptive"),
            Concurrency::Off => f.write_str("off"),
            Concurrency::Fixed(n) => write!(f, "{n}"),
        }
    }
}

fn parse_concurrency(text: &str) -> Result<Concurrency, String> {
    match text.trim() {
        "adaptive" => Ok(Concurrency::Adaptive),
        "off" | "none" => Ok(Concurrency::Off),
        n => match n.parse::<usize>() {
            Ok(0) | Err(_) => Err(format!(
                "`{text}`: write adaptive, off, or a number of requests above 0"
            )),
            Ok(n) => Ok(Concurrency::Fixed(n)),
        },
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            grpc_addr: None,
            nats_url: None,
            nats_prefix: None,
            log_format: LogFormat::Pretty,
            grace_period: Duration::from_secs(10),
            register: Vec::new(),
            advertise_addr: None,
            metadata: Vec::new(),
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: Duration::from_secs(30),
            concurrency: Concurrency::Adaptive,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: None,
            h2_max_streams: 100,
            h2_keepalive: Duration::from_secs(20),
            body_memory: 128 * 1024 * 1024,
            shutdown_linger: Duration::from_secs(1),
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            tls_client_auth: ClientAuth::Required,
            observe: Observe::default(),
            auth: AuthConfig::default(),
        }
    }
}

/// An address: `IP:PORT`, `[IPv6]:PORT` or `HOST:PORT` (resolved now).
fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    if !text.contains(':') {
        return Err(format!("`{text}` has no port; write HOST:PORT"));
    }
    text.to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{text}`: {e}"))?
        .next()
        .ok_or_else(|| format!("`{text}` resolves to no address"))
}

/// `KEY=VALUE`, the key non-empty.
fn parse_label(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("`{text}`: write KEY=VALUE, e.g. zone=eu-1")),
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e}; write e.g. 500ms, 10s or 1m"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_may_be_hostnames() {
        assert_eq!(parse_addr("127.0.0.1:9").unwrap().port(), 9);
        assert_eq!(parse_addr("[::1]:9").unwrap().port(), 9);
        assert!(parse_addr("localhost:8081").unwrap().ip().is_loopback());
        assert!(parse_addr("localhost").unwrap_err().contains("no port"));
        assert!(parse_duration("soon").unwrap_err().contains("write e.g."));
    }
}
