//! How a kit server runs: listen addresses, logs, shutdown, limits. Every
//! setting has a flag and a `KIT_*` environment variable (flags win), read
//! by [`Cli`](crate::Cli); in code, build a [`Config`] and pass it to
//! [`Server::new`](crate::Server::new).

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use crate::trace::LogFormat;
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
/// | `--register URL` (repeatable) | `KIT_REGISTER` (space-separated) | none |
/// | `--advertise-addr HOST:PORT` | `KIT_ADVERTISE_ADDR` | the bound address |
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
    /// Largest accepted request body (and gRPC message), in bytes.
    #[arg(
        long,
        env = "KIT_BODY_LIMIT",
        value_name = "BYTES",
        default_value_t = DEFAULT_BODY_LIMIT,
        help = "Largest accepted request body or gRPC message"
    )]
    pub body_limit: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            grpc_addr: None,
            log_format: LogFormat::Pretty,
            grace_period: Duration::from_secs(10),
            register: Vec::new(),
            advertise_addr: None,
            body_limit: DEFAULT_BODY_LIMIT,
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
