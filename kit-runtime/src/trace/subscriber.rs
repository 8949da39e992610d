//! The process-wide log subscriber.

/// Output format of the process-wide log subscriber.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pretty" => Ok(LogFormat::Pretty),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "unknown log format `{other}` (expected json or pretty)"
            )),
        }
    }
}

/// Installs the process-wide `tracing` subscriber: `RUST_LOG` filters
/// (default `info`, zookeeper-client's own lines at `warn`), output in `format` to stderr, coloured only when
/// stderr is a terminal. A second call, or a subscriber installed by the
/// application, is left alone. Servers call it at start-up; a client
/// binary calls it to see the client's log lines (instances ejected,
/// registry unreachable).
///
/// ```
/// kit::trace::init_subscriber(kit::trace::LogFormat::Pretty);
/// ```
pub fn init_subscriber(format: LogFormat) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    // zookeeper-client logs every session at info; its news reaches the
    // user through kit's own lines.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,zookeeper_client=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _already_set = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
