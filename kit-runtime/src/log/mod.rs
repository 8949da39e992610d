//! Where a kit process's lines go. Three streams, each with its own
//! destination ([`LogOutput`]):
//!
//! - diagnostic logs: `tracing` events filtered by `RUST_LOG` (default
//!   `info`), pretty or JSON (`--log-format`), to `--log-output` (stderr by
//!   default). A line written while a request is served carries its
//!   service, endpoint, trace_id and span_id (read from the task-local
//!   [`Context`](crate::Context) when the line is written; the `request`
//!   span itself is DEBUG, like tower-http's TraceLayer).
//! - the access log: one INFO line per request, target `kit::access`
//!   (method, route, code, status, duration_ms, peer, trace_id, service,
//!   endpoint, transport), with the diagnostic logs; `--access-log off`
//!   turns it off, `RUST_LOG=kit::access=off` too. Slow requests (over
//!   the endpoint's `slow` threshold) and INTERNAL/UNKNOWN failures are
//!   logged at WARN with their trace id whether or not it is on.
//! - business events: [`kit::event!`](crate::event), JSON lines to
//!   `--events` (stdout by default, `off` to drop them).

mod access;
mod batch;
mod event;
mod output;
mod request;
mod syslog;

use std::sync::Mutex;

use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

pub use event::EVENT_TARGET;
pub use output::{LogOutput, Rotation};
pub use syslog::SyslogTransport;

use crate::Error;

/// The `tracing` target of access log lines.
pub const ACCESS_TARGET: &str = "kit::access";

/// Log lines dropped because their destination could not keep up or could
/// not be reached, by output.
pub const LOG_LINES_DROPPED: &str = "kit_log_lines_dropped_total";

/// Output format of diagnostic logs.
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

/// Where and how a process logs (the `--log-*` and `--events` flags of
/// [`Config`](crate::Config)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// Format of diagnostic logs.
    pub format: LogFormat,
    /// Destination of diagnostic logs and the access log.
    pub output: LogOutput,
    /// Rotation of a `file:` output.
    pub rotation: Rotation,
    /// Rotated files kept (0: all).
    pub keep: usize,
    /// Destination of business events; `None`: dropped.
    pub events: Option<LogOutput>,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Pretty,
            output: LogOutput::Stderr,
            rotation: Rotation::Never,
            keep: 7,
            events: Some(LogOutput::Stdout),
        }
    }
}

/// The batched outputs opened (for their drop counts and [`flush`]).
static OPENED: Mutex<Vec<batch::Batched>> = Mutex::new(Vec::new());

/// Installs the process-wide `tracing` subscriber as `config` says:
/// `RUST_LOG` filters diagnostic logs (default `info`, zookeeper-client's
/// own lines at `warn`); events go to their own output. A second call, or
/// a subscriber installed by the application, is left alone (returns
/// `false`). Servers call it at start-up.
///
/// ```
/// use kit_runtime::log::{init, LogConfig, LogFormat};
/// init(&LogConfig { format: LogFormat::Json, ..LogConfig::default() }).unwrap();
/// ```
pub fn init(config: &LogConfig) -> Result<bool, Error> {
    if tracing::dispatcher::has_been_set() {
        return Ok(false);
    }
    // zookeeper-client logs every session at info; its news reaches the
    // user through kit's own lines.
    let env = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,zookeeper_client=warn"));
    let logs = config.output.open(config.rotation, config.keep)?;
    let not_events = filter_fn(|meta| meta.target() != EVENT_TARGET);
    let builder = tracing_subscriber::fmt::layer()
        .with_ansi(logs.terminal)
        .with_writer(logs.writer);
    let format = tracing_subscriber::fmt::format().with_ansi(logs.terminal);
    let logs_layer: Box<dyn Layer<Registry> + Send + Sync> = match config.format {
        LogFormat::Pretty => builder
            .event_format(request::WithRequest {
                inner: format,
                json: false,
            })
            .with_filter(env.and(not_events))
            .boxed(),
        LogFormat::Json => builder
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(request::WithRequest {
                inner: format.json().flatten_event(true),
                json: true,
            })
            .with_filter(env.and(not_events))
            .boxed(),
    };
    let access = logs
        .batched
        .clone()
        .map(|out| access::AccessSink::new(out, config.format == LogFormat::Json, logs.terminal));
    let mut kept: Vec<batch::Batched> = logs.batched.into_iter().collect();
    let events_layer = match &config.events {
        Some(output) => {
            let events = output.open(config.rotation, config.keep)?;
            kept.extend(events.batched);
            Some(
                event::EventLayer::new(events.writer)
                    .with_filter(filter_fn(|meta| meta.target() == EVENT_TARGET)),
            )
        }
        None => None,
    };
    let installed = tracing_subscriber::registry()
        .with(logs_layer)
        .with(events_layer)
        .try_init()
        .is_ok();
    if installed {
        OPENED
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(kept);
        if let Some(access) = access {
            access::install(access);
        }
    }
    Ok(installed)
}

/// Installs a subscriber writing diagnostic logs in `format` to stderr and
/// events to stdout (see [`init`]). A client binary calls it to see the
/// client's log lines (instances ejected, registry unreachable).
///
/// ```
/// kit::trace::init_subscriber(kit::trace::LogFormat::Pretty);
/// ```
pub fn init_subscriber(format: LogFormat) {
    let _ = init(&LogConfig {
        format,
        ..LogConfig::default()
    });
}

/// Lines dropped so far by the outputs' writer threads.
pub(crate) fn lines_dropped() -> u64 {
    OPENED
        .lock()
        .map(|o| o.iter().map(batch::Batched::dropped).sum())
        .unwrap_or(0)
}

/// Waits (up to `timeout` each) until the lines written so far reached
/// their outputs. A server does it when it stops.
pub fn flush(timeout: std::time::Duration) {
    let opened: Vec<batch::Batched> = OPENED.lock().map(|o| o.clone()).unwrap_or_default();
    for out in opened {
        out.flush(timeout);
    }
}

pub(crate) use access::{write_access, AccessLine, Peer};
