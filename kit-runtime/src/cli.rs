//! The command line of a kit binary: the server's flags and `KIT_*`
//! variables ([`Config`]), `--help`, `--version`, `--emit-proto` and
//! `--emit-openapi`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches};

use crate::config::Config;
use crate::{Error, Server};

/// What a kit binary's command line asked for. [`crate::serve`] uses it;
/// a binary serving several services writes:
///
/// ```no_run
/// # fn services(s: kit_runtime::Server) -> kit_runtime::Server { s }
/// # async fn run() -> Result<(), kit_runtime::Error> {
/// kit_runtime::Cli::parse()
///     .run(|server| services(server)) // e.g. server.add_service(A).add_service(B)
///     .await
/// # }
/// ```
///
/// `--help` and `--version` (the version of the crate that defines the
/// first service linked in) print and exit, and a bad flag prints clap's
/// usage error and exits with status 2, like any Rust CLI. A binary with
/// flags of its own can `#[command(flatten)]` [`Config`] into its parser
/// instead.
#[derive(Clone, Debug, PartialEq, clap::Parser)]
pub struct Cli {
    /// The server's settings.
    #[command(flatten)]
    pub config: Config,
    /// `--emit-proto`: print the `.proto` of the services and exit;
    /// `--emit-proto DIR`: write one file per package under `DIR`.
    #[arg(
        long,
        value_name = "DIR",
        num_args = 0..=1,
        help = "Print the generated .proto of the services and exit; with DIR, write one file per package under DIR"
    )]
    pub emit_proto: Option<Option<PathBuf>>,
    /// `--emit-openapi`: print the OpenAPI 3.1 document of the services'
    /// HTTP endpoints (what `/openapi.json` serves) and exit.
    #[arg(
        long,
        conflicts_with = "emit_proto",
        help = "Print the OpenAPI 3.1 document of the HTTP endpoints (what /openapi.json serves) and exit"
    )]
    pub emit_openapi: bool,
}

impl Cli {
    /// Parses `std::env::args()` and the environment; prints help, the
    /// version or a usage error and exits when that is what they ask for.
    pub fn parse() -> Cli {
        let matches = command().get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }

    /// Parses `args` (the first is the program name) and the environment.
    pub fn try_parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = command().try_get_matches_from(args)?;
        Cli::from_arg_matches(&matches)
    }

    /// Builds the server with this configuration and `services`, then
    /// serves it until SIGINT or SIGTERM, or writes its `.proto` files if
    /// `--emit-proto` was given, or prints its OpenAPI document if
    /// `--emit-openapi` was.
    pub async fn run(self, services: impl FnOnce(Server) -> Server) -> Result<(), Error> {
        let server = services(Server::new(self.config));
        if self.emit_openapi {
            print!("{}", crate::openapi::to_pretty_json(&server.openapi()));
            return Ok(());
        }
        match self.emit_proto {
            None => server.serve().await,
            Some(dir) => emit_proto(&server, dir),
        }
    }
}

fn command() -> clap::Command {
    // The about text is the binary's, not this type's rustdoc.
    let command = <Cli as CommandFactory>::command().long_about(None);
    match crate::descriptor::registered_services().next() {
        Some(service) => command.version(service.version).about(format!(
            "Serves the {} service over HTTP/JSON and gRPC (kit).",
            service.name
        )),
        None => command.about("A kit server."),
    }
}

fn emit_proto(server: &Server, dir: Option<PathBuf>) -> Result<(), Error> {
    let protos = server.protos()?;
    let Some(dir) = dir else {
        if protos.len() > 1 {
            let names: Vec<_> = protos.iter().map(|(name, _)| name.as_str()).collect();
            return Err(Error::invalid_argument(format!(
                "the services make {} .proto files ({}); write them with --emit-proto DIR",
                protos.len(),
                names.join(", ")
            )));
        }
        for (_, proto) in protos {
            print!("{proto}");
        }
        return Ok(());
    };
    for (name, proto) in protos {
        let path = dir.join(&name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                Error::unavailable(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        std::fs::write(&path, proto)
            .map_err(|e| Error::unavailable(format!("cannot write {}: {e}", path.display())))?;
        println!("{}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::LogFormat;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("svc").chain(args.iter().copied()))
    }

    #[test]
    fn flags_and_defaults() {
        let cli = parse(&["--http-addr", "127.0.0.1:1", "--grace-period=2s"]).unwrap();
        assert_eq!(cli.config.http_addr.port(), 1);
        assert_eq!(cli.config.grace_period, std::time::Duration::from_secs(2));
        assert_eq!(cli.config.log_format, LogFormat::Pretty);
        assert!(cli.config.observe.access_log);
        let cli = parse(&[
            "--access-log",
            "off",
            "--events",
            "off",
            "--metrics",
            "statsd://127.0.0.1:8125?interval=1s",
            "--metrics",
            "influx://127.0.0.1:8086/kit",
            "--log-output",
            "syslog+udp://127.0.0.1:514",
        ])
        .unwrap();
        assert!(!cli.config.observe.access_log);
        assert_eq!(cli.config.observe.events, None);
        assert_eq!(cli.config.observe.metrics.len(), 2);
        let cli = parse(&["--metadata", "zone=eu-1", "--metadata", "version=1.3"]).unwrap();
        assert_eq!(
            cli.config.metadata,
            [
                ("zone".into(), "eu-1".into()),
                ("version".into(), "1.3".into())
            ]
        );
        let err = parse(&["--metadata", "zone"]).unwrap_err().to_string();
        assert!(err.contains("KEY=VALUE"), "{err}");
        let err = parse(&["--metrics", "foo://x"]).unwrap_err().to_string();
        assert!(err.contains("unknown backend"), "{err}");
        assert_eq!(cli.emit_proto, None);
        assert_eq!(parse(&["--emit-proto"]).unwrap().emit_proto, Some(None));
        assert!(!cli.emit_openapi);
        assert!(parse(&["--emit-openapi"]).unwrap().emit_openapi);
        assert!(parse(&["--emit-openapi", "--emit-proto"]).is_err());
        assert_eq!(
            parse(&["--emit-proto", "out"]).unwrap().emit_proto,
            Some(Some(PathBuf::from("out")))
        );
    }

    #[test]
    fn tls_flags() {
        let cli = parse(&[]).unwrap();
        assert_eq!(cli.config.tls_cert, None);
        assert_eq!(cli.config.tls_client_auth, crate::tls::ClientAuth::Required);
        let cli = parse(&[
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--tls-client-ca",
            "ca.pem",
            "--tls-client-auth",
            "optional",
        ])
        .unwrap();
        assert_eq!(cli.config.tls_cert, Some(PathBuf::from("c.pem")));
        assert_eq!(cli.config.tls_key, Some(PathBuf::from("k.pem")));
        assert_eq!(cli.config.tls_client_ca, Some(PathBuf::from("ca.pem")));
        assert_eq!(cli.config.tls_client_auth, crate::tls::ClientAuth::Optional);
        assert!(parse(&["--tls-client-auth", "maybe"]).is_err());
        // Both or neither, checked when the server starts (flags or code).
        let half = crate::config::Config {
            tls_cert: Some("c.pem".into()),
            ..Default::default()
        };
        let err = crate::tls::server::ServerTls::from_config(&half).unwrap_err();
        assert!(
            err.message().contains("--tls-cert needs --tls-key"),
            "{err}"
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let err = parse(&["--nope"]).unwrap_err().to_string();
        assert!(err.contains("unexpected argument '--nope'"), "{err}");
        let err = parse(&["--log-format", "xml"]).unwrap_err().to_string();
        assert!(err.contains("invalid value 'xml'"), "{err}");
        let err = parse(&["--http-addr"]).unwrap_err().to_string();
        assert!(err.contains("a value is required"), "{err}");
        let help = parse(&["--help"]).unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
        assert!(help.to_string().contains("Usage:"));
    }
}
