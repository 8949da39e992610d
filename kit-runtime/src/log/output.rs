//! Where lines go: stderr, stdout, a file (rotated or not), or syslog.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use tracing_appender::rolling::{RollingFileAppender, Rotation as AppenderRotation};
use tracing_subscriber::fmt::writer::BoxMakeWriter;

use super::batch::Batched;
use super::syslog::{Syslog, SyslogTransport};
use crate::Error;

/// A destination for log lines or events.
///
/// | written | meaning |
/// | --- | --- |
/// | `stderr`, `stdout` | the process's streams |
/// | `file:PATH` | a file, appended to; rotated by `--log-file-rotation` |
/// | `syslog+udp://HOST:PORT`, `syslog+tcp://HOST:PORT` | RFC 5424 syslog (TCP frames are octet-counted, RFC 6587) |
/// | `syslog+unix:PATH`, `syslog` | RFC 5424 to a local datagram socket (`syslog` is `/dev/log`) |
///
/// ```
/// use kit_runtime::log::LogOutput;
/// let out: LogOutput = "syslog+udp://127.0.0.1:514".parse().unwrap();
/// assert_eq!(out.to_string(), "syslog+udp://127.0.0.1:514");
/// assert!("file:".parse::<LogOutput>().is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LogOutput {
    /// Standard error.
    #[default]
    Stderr,
    /// Standard output.
    Stdout,
    /// A file.
    File(PathBuf),
    /// A syslog receiver.
    Syslog(SyslogTransport),
}

impl FromStr for LogOutput {
    type Err = String;
    fn from_str(s: &str) -> Result<LogOutput, String> {
        let s = s.trim();
        let bad = |why: &str| {
            format!(
                "`{s}`: {why}; write stderr, stdout, file:PATH, syslog+udp://HOST:PORT, \
                 syslog+tcp://HOST:PORT, syslog+unix:PATH or syslog"
            )
        };
        Ok(match s {
            "stderr" => LogOutput::Stderr,
            "stdout" => LogOutput::Stdout,
            "syslog" => LogOutput::Syslog(SyslogTransport::Unix("/dev/log".into())),
            _ => {
                if let Some(path) = s.strip_prefix("file:") {
                    if path.is_empty() || path.ends_with('/') {
                        return Err(bad("a file needs a path"));
                    }
                    LogOutput::File(path.into())
                } else if let Some(path) = s.strip_prefix("syslog+unix:") {
                    if path.is_empty() {
                        return Err(bad("a socket needs a path"));
                    }
                    LogOutput::Syslog(SyslogTransport::Unix(path.into()))
                } else if let Some(addr) = s.strip_prefix("syslog+udp://") {
                    LogOutput::Syslog(SyslogTransport::Udp(host_port(addr).map_err(|e| bad(&e))?))
                } else if let Some(addr) = s.strip_prefix("syslog+tcp://") {
                    LogOutput::Syslog(SyslogTransport::Tcp(host_port(addr).map_err(|e| bad(&e))?))
                } else {
                    return Err(bad("unknown destination"));
                }
            }
        })
    }
}

fn host_port(addr: &str) -> Result<String, String> {
    let addr = addr.trim_end_matches('/');
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(addr.into()),
        _ => Err("syslog needs HOST:PORT".into()),
    }
}

impl fmt::Display for LogOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogOutput::Stderr => f.write_str("stderr"),
            LogOutput::Stdout => f.write_str("stdout"),
            LogOutput::File(p) => write!(f, "file:{}", p.display()),
            LogOutput::Syslog(SyslogTransport::Udp(a)) => write!(f, "syslog+udp://{a}"),
            LogOutput::Syslog(SyslogTransport::Tcp(a)) => write!(f, "syslog+tcp://{a}"),
            LogOutput::Syslog(SyslogTransport::Unix(p)) => write!(f, "syslog+unix:{}", p.display()),
        }
    }
}

/// How a `file:` output is rotated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Rotation {
    /// One file, the path given.
    #[default]
    Never,
    /// A file a day, `PATH.YYYY-MM-DD`.
    Daily,
    /// A file an hour, `PATH.YYYY-MM-DD-HH`.
    Hourly,
    /// A file a minute (for tests), `PATH.YYYY-MM-DD-HH-MM`.
    Minutely,
}

/// An opened output: the writer the subscriber formats into, whether it
/// may be coloured, and its batched writer (all but syslog).
pub(super) struct Opened {
    pub(super) writer: BoxMakeWriter,
    pub(super) terminal: bool,
    pub(super) batched: Option<Batched>,
}

impl Opened {
    fn batched(
        name: &str,
        out: Box<dyn std::io::Write + Send>,
        terminal: bool,
    ) -> Result<Opened, Error> {
        let batched = Batched::start(name, out)
            .map_err(|e| Error::unavailable(format!("cannot start the {name} log thread: {e}")))?;
        Ok(Opened {
            writer: BoxMakeWriter::new(batched.clone()),
            terminal,
            batched: Some(batched),
        })
    }
}

impl LogOutput {
    /// Opens the output. Lines are written by a background thread, many
    /// per system call (beyond 4 MiB waiting they are dropped, never
    /// blocking a request); syslog by its own sender thread.
    pub(super) fn open(&self, rotation: Rotation, keep: usize) -> Result<Opened, Error> {
        use std::io::IsTerminal;
        Ok(match self {
            LogOutput::Stderr => Opened::batched(
                "stderr",
                Box::new(std::io::stderr()),
                std::io::stderr().is_terminal(),
            )?,
            LogOutput::Stdout => Opened::batched(
                "stdout",
                Box::new(std::io::stdout()),
                std::io::stdout().is_terminal(),
            )?,
            LogOutput::File(path) => {
                let cannot = |e: &dyn fmt::Display| {
                    Error::invalid_argument(format!("cannot log to {}: {e}", path.display()))
                };
                let name = path
                    .file_name()
                    .ok_or_else(|| cannot(&"no file name"))?
                    .to_string_lossy()
                    .into_owned();
                let dir = match path.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                std::fs::create_dir_all(&dir).map_err(|e| cannot(&e))?;
                let mut builder = RollingFileAppender::builder()
                    .rotation(match rotation {
                        Rotation::Never => AppenderRotation::NEVER,
                        Rotation::Daily => AppenderRotation::DAILY,
                        Rotation::Hourly => AppenderRotation::HOURLY,
                        Rotation::Minutely => AppenderRotation::MINUTELY,
                    })
                    .filename_prefix(name);
                if rotation != Rotation::Never && keep > 0 {
                    builder = builder.max_log_files(keep);
                }
                let appender = builder.build(&dir).map_err(|e| cannot(&e))?;
                Opened::batched("file", Box::new(appender), false)?
            }
            LogOutput::Syslog(transport) => Opened {
                writer: BoxMakeWriter::new(Syslog::start(transport.clone())?),
                terminal: false,
                batched: None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_parse_and_print_alike() {
        for s in [
            "stderr",
            "stdout",
            "file:/var/log/app.log",
            "syslog+udp://127.0.0.1:514",
            "syslog+tcp://logs.internal:601",
            "syslog+unix:/run/systemd/journal/syslog",
        ] {
            assert_eq!(s.parse::<LogOutput>().unwrap().to_string(), s);
        }
        assert_eq!(
            "syslog".parse::<LogOutput>().unwrap().to_string(),
            "syslog+unix:/dev/log"
        );
        for bad in [
            "",
            "file:",
            "syslog+udp://nohost",
            "syslog+tcp://:1",
            "kafka://x",
        ] {
            let e = bad.parse::<LogOutput>().unwrap_err();
            assert!(e.contains("write stderr"), "{bad}: {e}");
        }
    }
}
