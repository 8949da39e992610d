//! The access log's fast path: one line per request formatted straight
//! into a thread-local buffer (the same text the `tracing` formatter would
//! write for the `kit::access` event, a third of the time) and appended to
//! the log output's batched writer. `RUST_LOG` still decides whether the
//! line is written; without kit's subscriber (a library user's own), the
//! line is an ordinary `tracing` event.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::SystemTime;

use super::batch::Batched;
use super::ACCESS_TARGET;
use crate::trace::TraceId;

/// Where access lines go, and how they look.
pub(super) struct AccessSink {
    out: Batched,
    json: bool,
    ansi: bool,
}

impl AccessSink {
    pub(super) fn new(out: Batched, json: bool, ansi: bool) -> AccessSink {
        AccessSink { out, json, ansi }
    }
}

static SINK: OnceLock<AccessSink> = OnceLock::new();

pub(super) fn install(sink: AccessSink) {
    let _ = SINK.set(sink);
}

/// One request, as the access log tells it.
pub(crate) struct AccessLine<'a> {
    pub(crate) method: &'a str,
    pub(crate) route: &'a str,
    pub(crate) code: &'static str,
    pub(crate) status: u16,
    pub(crate) duration_ms: f64,
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) trace_id: TraceId,
    pub(crate) service: &'static str,
    pub(crate) endpoint: &'static str,
    pub(crate) transport: &'static str,
}

thread_local! {
    static LINE: RefCell<String> = RefCell::new(String::with_capacity(384));
}

/// Writes `line` when kit's subscriber is installed (and `RUST_LOG` lets
/// `kit::access` through); returns `false` when the caller must log it as
/// a `tracing` event instead.
pub(crate) fn write_access(line: &AccessLine<'_>) -> bool {
    let Some(sink) = SINK.get() else {
        return false;
    };
    if !tracing::enabled!(target: ACCESS_TARGET, tracing::Level::INFO) {
        return true;
    }
    LINE.with(|buf| {
        let Ok(mut buf) = buf.try_borrow_mut() else {
            return false;
        };
        buf.clear();
        let now = humantime::format_rfc3339_micros(SystemTime::now());
        if sink.json {
            let _ = write!(buf, "{{\"timestamp\":\"{now}\",\"level\":\"INFO\",\"message\":\"request\",\"method\":");
            json_str(&mut buf, line.method);
            buf.push_str(",\"route\":");
            json_str(&mut buf, line.route);
            let _ = write!(
                buf,
                ",\"code\":\"{}\",\"status\":{},\"duration_ms\":{},\"peer\":\"{}\",\"trace_id\":\"{}\",\"service\":",
                line.code,
                line.status,
                line.duration_ms,
                Peer(line.peer),
                line.trace_id
            );
            json_str(&mut buf, line.service);
            buf.push_str(",\"endpoint\":");
            json_str(&mut buf, line.endpoint);
            let _ = writeln!(
                buf,
                ",\"transport\":\"{}\",\"target\":\"{ACCESS_TARGET}\"}}",
                line.transport
            );
        } else {
            let (level, target) = if sink.ansi {
                ("\x1b[32m INFO\x1b[0m", "\x1b[2mkit::access\x1b[0m\x1b[2m:\x1b[0m")
            } else {
                (" INFO", "kit::access:")
            };
            let _ = writeln!(
                buf,
                "{now} {level} {target} request method={} route={} code={} status={} duration_ms={} peer={} trace_id={} service={} endpoint={} transport={}",
                line.method,
                line.route,
                line.code,
                line.status,
                line.duration_ms,
                Peer(line.peer),
                line.trace_id,
                line.service,
                line.endpoint,
                line.transport
            );
        }
        sink.out.append(buf.as_bytes());
        true
    })
}

fn json_str(buf: &mut String, s: &str) {
    buf.push('"');
    for c in s.chars() {
        match c {
            '"' => buf.push_str("\\\""),
            '\\' => buf.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(buf, "\\u{:04x}", c as u32);
            }
            c => buf.push(c),
        }
    }
    buf.push('"');
}

/// The peer, or `-`.
pub(crate) struct Peer(pub(crate) Option<SocketAddr>);

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(p) => p.fmt(f),
            None => f.write_str("-"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        let mut s = String::new();
        json_str(&mut s, "a\"b\\c\n");
        assert_eq!(s, r#""a\"b\\c\u000a""#);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v, "a\"b\\c\n");
    }
}
