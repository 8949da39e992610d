//! `kit`, the fleet tool: lists, describes, calls and watches kit services
//! across their instances, from the conventions every kit server follows
//! (`/kit/describe`, `/health`, `/metrics`, gRPC health and reflection,
//! `traceparent`).

mod call;
mod compare;
mod dashboard;
mod describe;
mod gate;
mod grpc;
mod http;
mod ls;
mod new;
mod proto;
mod scrape;
mod secrets;
mod table;
mod target;
mod top;
mod top_tui;
mod watch;

use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// A failure that ends the command: one line on stderr, non-zero exit.
#[derive(Debug)]
pub struct Failure(String);

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure(message.into())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `2s`, `500ms`, `1m`: humantime durations.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration (write 2s, 500ms, 1m): {e}"))
}

#[derive(Parser, Debug)]
#[command(
    name = "kit",
    version,
    about = "The fleet tool for kit services: list, describe, call, top, compare and gate deploys.",
    after_help = "Exit codes: 0 done (gate: promote); 1 a failure told in one line on stderr, a call answered with an error code, an instance that could not be read (ls, top --once), or gate: roll back; 2 a usage error.\n\nPlanned, not built yet: per-instance load-balancer state (a client's EWMA and in-flight per instance are not exported as metrics: top shows kit_client_instances and kit_client_breaker_open only)."
)]
struct Cli {
    /// Deadline of each exchange with an instance.
    #[arg(long, global = true, default_value = "5s", value_parser = parse_duration)]
    timeout: Duration,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Instances with their services, version, uptime, health (HTTP and
    /// gRPC), transports and endpoint count; unreachable ones included.
    Ls {
        #[command(flatten)]
        fleet: target::Fleet,
        /// One JSON array instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// The endpoints of an instance's services: route, gRPC name, timeout,
    /// retry, idempotency, arguments and docs.
    Describe {
        /// `http://HOST:PORT`, `HOST:PORT` or a discovery URL (its first instance).
        target: String,
        /// Prints the .proto of its gRPC services (from server reflection).
        #[arg(long, conflicts_with_all = ["json", "openapi"])]
        proto: bool,
        /// Prints `/kit/describe` as it is.
        #[arg(long, conflicts_with = "openapi")]
        json: bool,
        /// Prints the OpenAPI 3.1 document of its HTTP endpoints (`/openapi.json`).
        #[arg(long)]
        openapi: bool,
    },
    /// Calls an endpoint of any kit service (HTTP/JSON or gRPC) or any gRPC
    /// server with reflection, without its types; prints the answer as JSON.
    Call(call::CallArgs),
    /// Every instance × endpoint: req/s, error ratio by code, p50/p99,
    /// in-flight, over a sliding window; outliers marked. A live terminal
    /// view, or one snapshot with --once (--json for scripts).
    Top(top::TopArgs),
    /// The same dimensions of every endpoint across groups of instances
    /// (`--by version`, or any label or registry metadata), with ratios.
    Compare(compare::CompareArgs),
    /// Watches a baseline and a canary group `--for` a while; exits 0 to
    /// promote, 1 to roll back, with a report.
    Gate(gate::GateArgs),
    /// Creates a service crate that builds and runs at once: a library
    /// with an annotated service, a binary serving it, a client example
    /// and an integration test.
    New(new::NewArgs),
    /// Reads a password on stdin and prints `USER:ARGON2-HASH`, a line of
    /// a server's `--basic-auth-file` (append grants: `scope:X role:Y`).
    HashPassword {
        /// The user name.
        user: String,
    },
    /// Reads an API key on stdin and prints `NAME sha256:HEX`, a line of a
    /// server's `--api-keys-file` (append grants: `scope:X role:Y`).
    HashApiKey {
        /// The key's name (the caller's subject).
        name: String,
    },
    /// The fleet view as a web page (table and per-endpoint rate and p99
    /// charts over the last minutes), served at --listen.
    Dashboard(dashboard::DashboardArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let timeout = cli.timeout;
    match cli.command {
        Command::Ls { fleet, json } => ls::run(&fleet, json, timeout).await,
        Command::Describe {
            target,
            proto,
            json,
            openapi,
        } => {
            let format = match (proto, json, openapi) {
                (true, _, _) => describe::Format::Proto,
                (_, true, _) => describe::Format::Json,
                (_, _, true) => describe::Format::OpenApi,
                _ => describe::Format::Table,
            };
            describe::run(&target, format, timeout).await
        }
        Command::Call(args) => call::run(args, timeout).await,
        Command::Top(args) => top::run(args, timeout).await,
        Command::Compare(args) => compare::run(args, timeout).await,
        Command::Gate(args) => gate::run(args, timeout).await,
        Command::New(args) => new::run(args),
        Command::Dashboard(args) => dashboard::run(args, timeout).await,
        Command::HashPassword { user } => secrets::hash_password(&user),
        Command::HashApiKey { name } => secrets::hash_api_key(&name),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
