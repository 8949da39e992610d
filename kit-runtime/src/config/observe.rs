//! The observability settings of a server: logs, access log, events, slow
//! requests, metrics backends and trace export.

use std::time::Duration;

use super::parse_duration;
use crate::log::{LogConfig, LogFormat, LogOutput, Rotation};
use crate::metrics::push::MetricsTarget;
use crate::trace::{ExportConfig, Sampler};
use crate::Error;

/// Where a server's logs, events, metrics and spans go. Flattened into
/// [`Config`](super::Config), so each field is a flag and a variable:
///
/// | flag | env | default |
/// | --- | --- | --- |
/// | `--log-output DEST` | `KIT_LOG_OUTPUT` | `stderr` (see [`LogOutput`]) |
/// | `--log-file-rotation never\|daily\|hourly\|minutely` | `KIT_LOG_FILE_ROTATION` | `never` |
/// | `--log-file-keep N` | `KIT_LOG_FILE_KEEP` | `7` rotated files |
/// | `--access-log on\|off` | `KIT_ACCESS_LOG` | `on` |
/// | `--events DEST\|off` | `KIT_EVENTS` | `stdout` |
/// | `--slow-threshold DURATION` | `KIT_SLOW_THRESHOLD` | `1s` (endpoints without `slow`; `0s`: none) |
/// | `--metrics URL` (repeatable) | `KIT_METRICS` (space-separated) | none (Prometheus `/metrics` is always served) |
/// | `--otlp-endpoint URL` | `OTEL_EXPORTER_OTLP_ENDPOINT` (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` wins) | none: no trace export |
/// | `--otel-service-name NAME` | `OTEL_SERVICE_NAME` | the first service's name |
/// | `--traces-sampler NAME` | `OTEL_TRACES_SAMPLER` | `parentbased_always_on` |
/// | `--traces-sampler-arg RATIO` | `OTEL_TRACES_SAMPLER_ARG` | `1.0` |
#[derive(Clone, Debug, PartialEq, clap::Args)]
pub struct Observe {
    /// Where diagnostic logs and the access log go.
    #[arg(
        long,
        env = "KIT_LOG_OUTPUT",
        value_name = "DEST",
        default_value = "stderr",
        help = "Log destination: stderr, stdout, file:PATH, syslog+udp://HOST:PORT, syslog+tcp://HOST:PORT, syslog+unix:PATH"
    )]
    pub log_output: LogOutput,
    /// How a `file:` log output is rotated.
    #[arg(
        long,
        env = "KIT_LOG_FILE_ROTATION",
        value_enum,
        default_value = "never",
        help = "Rotation of a file: log output (files PATH.DATE)"
    )]
    pub log_file_rotation: Rotation,
    /// Rotated log files kept.
    #[arg(
        long,
        env = "KIT_LOG_FILE_KEEP",
        value_name = "N",
        default_value_t = 7,
        help = "Rotated log files kept"
    )]
    pub log_file_keep: usize,
    /// One INFO line per request.
    #[arg(
        long,
        env = "KIT_ACCESS_LOG",
        value_name = "on|off",
        default_value = "on",
        action = clap::ArgAction::Set,
        value_parser = parse_switch,
        help = "One INFO line per request (target kit::access)"
    )]
    pub access_log: bool,
    /// Where business events (`kit::event!`) go; `None`: dropped.
    #[arg(
        long,
        env = "KIT_EVENTS",
        value_name = "DEST|off",
        default_value = "stdout",
        value_parser = parse_events,
        help = "Destination of business events (kit::event!), as JSON lines; off drops them"
    )]
    pub events: EventsOutput,
    /// Requests slower than this are logged at WARN (zero: none).
    #[arg(
        long,
        env = "KIT_SLOW_THRESHOLD",
        value_name = "DURATION",
        default_value = "1s",
        value_parser = parse_duration,
        help = "Log requests slower than this at WARN, for endpoints without `slow` (0s: never)"
    )]
    pub slow_threshold: Duration,
    /// Metrics backends pushed to, beside Prometheus's `/metrics`.
    #[arg(
        long = "metrics",
        env = "KIT_METRICS",
        value_name = "URL",
        value_delimiter = ' ',
        help = "Push metrics to statsd://HOST:PORT[/PREFIX], graphite://HOST:PORT[/PREFIX] or influx://HOST:PORT/DB (?interval=10s; repeatable)"
    )]
    pub metrics: Vec<MetricsTarget>,
    /// The OTLP/gRPC receiver spans are exported to.
    #[arg(
        long,
        env = "OTEL_EXPORTER_OTLP_ENDPOINT",
        value_name = "URL",
        help = "Export spans over OTLP/gRPC to this receiver (http://HOST:4317)"
    )]
    pub otlp_endpoint: Option<String>,
    /// The exported `service.name`.
    #[arg(
        long,
        env = "OTEL_SERVICE_NAME",
        value_name = "NAME",
        help = "service.name of exported spans [default: the first service's name]"
    )]
    pub otel_service_name: Option<String>,
    /// Which traces are exported.
    #[arg(
        long,
        env = "OTEL_TRACES_SAMPLER",
        value_name = "NAME",
        default_value = "parentbased_always_on",
        help = "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio"
    )]
    pub traces_sampler: Sampler,
    /// The ratio of the ratio samplers.
    #[arg(
        long,
        env = "OTEL_TRACES_SAMPLER_ARG",
        value_name = "RATIO",
        help = "Share of new traces sampled by the ratio samplers (0 to 1) [default: 1.0]"
    )]
    pub traces_sampler_arg: Option<f64>,
}

impl Default for Observe {
    fn default() -> Self {
        Observe {
            log_output: LogOutput::Stderr,
            log_file_rotation: Rotation::Never,
            log_file_keep: 7,
            access_log: true,
            events: Some(LogOutput::Stdout),
            slow_threshold: Duration::from_secs(1),
            metrics: Vec::new(),
            otlp_endpoint: None,
            otel_service_name: None,
            traces_sampler: Sampler::default(),
            traces_sampler_arg: None,
        }
    }
}

impl Observe {
    /// The log settings, with diagnostic logs in `format`.
    pub fn log_config(&self, format: LogFormat) -> LogConfig {
        LogConfig {
            format,
            output: self.log_output.clone(),
            rotation: self.log_file_rotation,
            keep: self.log_file_keep,
            events: self.events.clone(),
        }
    }

    /// The trace export settings: these fields, then what only the
    /// environment says (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, the
    /// protocol, `OTEL_RESOURCE_ATTRIBUTES`).
    pub fn export_config(&self) -> Result<ExportConfig, Error> {
        let env = ExportConfig::from_env()?;
        let traces_endpoint = std::env::var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .ok()
            .filter(|v| !v.trim().is_empty());
        let sampler = match self.traces_sampler_arg {
            Some(ratio) if !(0.0..=1.0).contains(&ratio) => {
                return Err(Error::invalid_argument(format!(
                    "--traces-sampler-arg / OTEL_TRACES_SAMPLER_ARG {ratio}: expected a ratio between 0 and 1"
                )))
            }
            Some(ratio) => self.traces_sampler.clone().with_ratio(ratio),
            None => self.traces_sampler.clone(),
        };
        Ok(ExportConfig {
            endpoint: ExportConfig::traces_url(
                env.protocol,
                traces_endpoint,
                self.otlp_endpoint.clone(),
            ),
            protocol: env.protocol,
            service_name: self.otel_service_name.clone(),
            resource: env.resource,
            sampler,
        })
    }
}

fn parse_switch(text: &str) -> Result<bool, String> {
    match text.trim() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        other => Err(format!("`{other}`: write on or off")),
    }
}

/// Where events go, `None` for `off` (an alias, so clap reads it as one
/// value rather than an optional flag).
pub type EventsOutput = Option<LogOutput>;

fn parse_events(text: &str) -> Result<EventsOutput, String> {
    match text.trim() {
        "off" | "none" => Ok(None),
        other => other.parse().map(Some),
    }
}
