//! Server configuration from command-line flags and `KIT_*` environment
//! variables (flags win).

use std::net::SocketAddr;
use std::time::Duration;

use crate::trace::LogFormat;
use crate::transport::http::DEFAULT_BODY_LIMIT;

/// How a kit server runs. Every field has a flag and an environment variable:
///
/// | flag | env | default |
/// | --- | --- | --- |
/// | `--http-addr ADDR` | `KIT_HTTP_ADDR` | `127.0.0.1:8080` |
/// | `--grpc-addr ADDR` | `KIT_GRPC_ADDR` | none (gRPC shares the HTTP port) |
/// | `--log-format json\|pretty` | `KIT_LOG_FORMAT` | `pretty` |
/// | `--grace-period DURATION` | `KIT_GRACE_PERIOD` | `10s` |
/// | `--body-limit BYTES` | `KIT_BODY_LIMIT` | `4194304` (4 MiB) |
///
/// ```
/// use kit_runtime::config::{Config, Parsed};
/// let args = ["svc", "--http-addr", "0.0.0.0:9000"].map(String::from);
/// let Parsed::Run(cfg) = Config::parse(args, |_| None).unwrap() else { panic!() };
/// assert_eq!(cfg.http_addr.port(), 9000);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Where HTTP is served (and gRPC too, told apart by content type).
    pub http_addr: SocketAddr,
    /// An extra address serving only gRPC.
    pub grpc_addr: Option<SocketAddr>,
    /// Log output format.
    pub log_format: LogFormat,
    /// How long shutdown waits for in-flight requests.
    pub grace_period: Duration,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            grpc_addr: None,
            log_format: LogFormat::Pretty,
            grace_period: Duration::from_secs(10),
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }
}

/// What the command line asked for.
#[derive(Clone, Debug, PartialEq)]
pub enum Parsed {
    /// Run with this configuration.
    Run(Config),
    /// Print [`USAGE`] and exit.
    Help,
    /// Print the `.proto` of the services and exit.
    EmitProto,
}

/// The usage text printed by `--help`.
pub const USAGE: &str = "\
Options (each also read from the environment variable in brackets):
  --http-addr ADDR          listen address for HTTP and gRPC [KIT_HTTP_ADDR] (default 127.0.0.1:8080)
  --grpc-addr ADDR          an extra listen address for gRPC only [KIT_GRPC_ADDR]
  --log-format json|pretty  log output format [KIT_LOG_FORMAT] (default pretty); filter with RUST_LOG
  --grace-period DURATION   time to drain in-flight requests on SIGINT/SIGTERM [KIT_GRACE_PERIOD] (default 10s)
  --body-limit BYTES        largest accepted request body [KIT_BODY_LIMIT] (default 4194304)
  --emit-proto              print the generated .proto of the services and exit
  -h, --help                print this help
";

impl Config {
    /// Reads `std::env::args()` and the process environment.
    pub fn from_env() -> Result<Parsed, String> {
        Config::parse(std::env::args(), |k| std::env::var(k).ok())
    }

    /// Parses `args` (the first is the program name) over the environment
    /// given by `env`.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Parsed, String> {
        let mut cfg = Config::default();
        for (key, flag) in KEYS {
            if let Some(value) = env(key) {
                cfg.set(flag, &value).map_err(|e| format!("{key}: {e}"))?;
            }
        }
        let mut args = args.into_iter().skip(1);
        while let Some(arg) = args.next() {
            if arg == "-h" || arg == "--help" {
                return Ok(Parsed::Help);
            }
            if arg == "--emit-proto" {
                return Ok(Parsed::EmitProto);
            }
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) => (f.to_string(), Some(v.to_string())),
                None => (arg.clone(), None),
            };
            if !KEYS.iter().any(|(_, f)| *f == flag) {
                return Err(format!("unknown argument `{arg}`\n\n{USAGE}"));
            }
            let value = match inline {
                Some(v) => v,
                None => args.next().ok_or_else(|| format!("{flag} needs a value"))?,
            };
            cfg.set(&flag, &value).map_err(|e| format!("{flag}: {e}"))?;
        }
        Ok(Parsed::Run(cfg))
    }

    fn set(&mut self, flag: &str, value: &str) -> Result<(), String> {
        match flag {
            "--http-addr" => {
                self.http_addr = value
                    .parse()
                    .map_err(|e| format!("invalid address `{value}`: {e}"))?;
            }
            "--grpc-addr" => {
                self.grpc_addr = Some(
                    value
                        .parse()
                        .map_err(|e| format!("invalid address `{value}`: {e}"))?,
                );
            }
            "--log-format" => self.log_format = value.parse()?,
            "--grace-period" => {
                self.grace_period = humantime::parse_duration(value)
                    .map_err(|e| format!("invalid duration `{value}`: {e}"))?;
            }
            "--body-limit" => {
                self.body_limit = value
                    .parse()
                    .map_err(|e| format!("invalid byte count `{value}`: {e}"))?;
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
        Ok(())
    }
}

const KEYS: [(&str, &str); 5] = [
    ("KIT_HTTP_ADDR", "--http-addr"),
    ("KIT_GRPC_ADDR", "--grpc-addr"),
    ("KIT_LOG_FORMAT", "--log-format"),
    ("KIT_GRACE_PERIOD", "--grace-period"),
    ("KIT_BODY_LIMIT", "--body-limit"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Parsed, String> {
        let args = std::iter::once("prog")
            .chain(args.iter().copied())
            .map(String::from);
        Config::parse(args, |k| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn defaults() {
        assert_eq!(parse(&[], &[]), Ok(Parsed::Run(Config::default())));
    }

    #[test]
    fn flags_override_env() {
        let Ok(Parsed::Run(cfg)) = parse(
            &["--http-addr=127.0.0.1:1", "--grace-period", "2s"],
            &[
                ("KIT_HTTP_ADDR", "127.0.0.1:2"),
                ("KIT_LOG_FORMAT", "json"),
                ("KIT_BODY_LIMIT", "10"),
            ],
        ) else {
            panic!("should parse")
        };
        assert_eq!(cfg.http_addr.port(), 1);
        assert_eq!(cfg.log_format, LogFormat::Json);
        assert_eq!(cfg.grace_period, Duration::from_secs(2));
        assert_eq!(cfg.body_limit, 10);
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(parse(&["--nope"], &[])
            .unwrap_err()
            .contains("unknown argument `--nope`"));
        assert!(parse(&["--http-addr"], &[])
            .unwrap_err()
            .contains("needs a value"));
        assert!(parse(&["--log-format", "xml"], &[])
            .unwrap_err()
            .contains("unknown log format"));
        assert!(parse(&[], &[("KIT_HTTP_ADDR", "nope")])
            .unwrap_err()
            .starts_with("KIT_HTTP_ADDR"));
        assert_eq!(parse(&["-h"], &[]), Ok(Parsed::Help));
        assert_eq!(parse(&["--emit-proto"], &[]), Ok(Parsed::EmitProto));
        let Ok(Parsed::Run(cfg)) = parse(&[], &[("KIT_GRPC_ADDR", "127.0.0.1:9")]) else {
            panic!()
        };
        assert_eq!(cfg.grpc_addr.map(|a| a.port()), Some(9));
    }
}
