//! RFC 5424 syslog over UDP, TCP (octet counting, RFC 6587) or a local
//! datagram socket. Lines are framed on the caller's thread and sent by
//! one sender thread through a bounded queue: a slow or absent receiver
//! loses lines (counted in `kit_log_lines_dropped_total`), never blocks.

use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant, SystemTime};

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

use super::LOG_LINES_DROPPED;
use crate::Error;

/// How syslog lines travel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyslogTransport {
    /// One datagram per line to `HOST:PORT`.
    Udp(String),
    /// Octet-counted frames over one connection to `HOST:PORT`, reconnected
    /// when it breaks.
    Tcp(String),
    /// One datagram per line to a local socket (`/dev/log`).
    Unix(PathBuf),
}

/// Lines waiting for the sender at most.
const QUEUE: usize = 8192;
/// Facility `user` (1), as RFC 5424 numbers it.
const FACILITY: u8 = 1;

/// The writer factory the subscriber formats lines into.
pub(super) struct Syslog {
    tx: SyncSender<Vec<u8>>,
    header_tail: String,
    dropped: metrics::Counter,
}

impl Syslog {
    /// Starts the sender thread for `transport`.
    pub(super) fn start(transport: SyslogTransport) -> Result<Syslog, Error> {
        let (tx, rx) = sync_channel(QUEUE);
        let mut sender = Sender::new(transport.clone())?;
        std::thread::Builder::new()
            .name("kit-syslog".into())
            .spawn(move || sender.run(rx))
            .map_err(|e| Error::unavailable(format!("cannot start the syslog thread: {e}")))?;
        let app = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "kit".into());
        Ok(Syslog {
            tx,
            header_tail: format!(
                "{} {} {}",
                hostname(),
                printable(&app, 48),
                std::process::id()
            ),
            dropped: metrics::counter!(LOG_LINES_DROPPED, "output" => "syslog"),
        })
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogLine<'a>;

    fn make_writer(&'a self) -> SyslogLine<'a> {
        self.line(Level::INFO, "")
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> SyslogLine<'a> {
        self.line(*meta.level(), meta.target())
    }
}

impl Syslog {
    fn line(&self, level: Level, target: &str) -> SyslogLine<'_> {
        let severity = match level {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            _ => 7,
        };
        let msgid = match target {
            "kit::access" => "access",
            "kit::event" => "event",
            _ => "log",
        };
        let mut buf = Vec::with_capacity(256);
        let _ = write!(
            buf,
            "<{}>1 {} {} {msgid} - ",
            FACILITY * 8 + severity,
            humantime::format_rfc3339_micros(SystemTime::now()),
            self.header_tail
        );
        SyslogLine {
            syslog: self,
            header: buf.len(),
            buf,
        }
    }
}

/// One line being formatted; sent when dropped.
pub(super) struct SyslogLine<'a> {
    syslog: &'a Syslog,
    header: usize,
    buf: Vec<u8>,
}

impl Write for SyslogLine<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogLine<'_> {
    fn drop(&mut self) {
        while self.buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            self.buf.pop();
        }
        if self.buf.len() == self.header {
            return;
        }
        let line = std::mem::take(&mut self.buf);
        match self.syslog.tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.syslog.dropped.increment(1)
            }
        }
    }
}

/// The sender thread's end.
struct Sender {
    transport: SyslogTransport,
    udp: Option<(UdpSocket, std::net::SocketAddr)>,
    unix: Option<UnixDatagram>,
    tcp: Option<TcpStream>,
    retry_at: Instant,
    dropped: metrics::Counter,
}

impl Sender {
    fn new(transport: SyslogTransport) -> Result<Sender, Error> {
        let mut sender = Sender {
            transport: transport.clone(),
            udp: None,
            unix: None,
            tcp: None,
            retry_at: Instant::now(),
            dropped: metrics::counter!(LOG_LINES_DROPPED, "output" => "syslog"),
        };
        match &transport {
            SyslogTransport::Udp(addr) => {
                let target = resolve(addr)?;
                let local: std::net::SocketAddr = if target.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                };
                let socket = UdpSocket::bind(local).map_err(|e| {
                    Error::unavailable(format!("cannot open a UDP socket for syslog: {e}"))
                })?;
                sender.udp = Some((socket, target));
            }
            SyslogTransport::Unix(_) => {
                sender.unix = Some(UnixDatagram::unbound().map_err(|e| {
                    Error::unavailable(format!("cannot open a unix socket for syslog: {e}"))
                })?);
            }
            SyslogTransport::Tcp(addr) => {
                resolve(addr)?;
            }
        }
        Ok(sender)
    }

    fn run(&mut self, rx: Receiver<Vec<u8>>) {
        while let Ok(line) = rx.recv() {
            if self.send(&line).is_err() {
                self.dropped.increment(1);
            }
        }
    }

    fn send(&mut self, line: &[u8]) -> io::Result<()> {
        match &self.transport {
            SyslogTransport::Udp(_) => {
                let (socket, target) = self.udp.as_ref().ok_or(io::ErrorKind::NotConnected)?;
                socket.send_to(line, target).map(drop)
            }
            SyslogTransport::Unix(path) => {
                let socket = self.unix.as_ref().ok_or(io::ErrorKind::NotConnected)?;
                socket.send_to(line, path).map(drop)
            }
            SyslogTransport::Tcp(addr) => {
                if self.tcp.is_none() {
                    if Instant::now() < self.retry_at {
                        return Err(io::ErrorKind::NotConnected.into());
                    }
                    let connected = resolve(addr)
                        .map_err(|e| io::Error::other(e.to_string()))
                        .and_then(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)));
                    match connected {
                        Ok(stream) => {
                            let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
                            self.tcp = Some(stream);
                        }
                        Err(e) => {
                            self.retry_at = Instant::now() + Duration::from_secs(1);
                            return Err(e);
                        }
                    }
                }
                let stream = self.tcp.as_mut().ok_or(io::ErrorKind::NotConnected)?;
                let mut frame = Vec::with_capacity(line.len() + 8);
                let _ = write!(frame, "{} ", line.len());
                frame.extend_from_slice(line);
                let sent = stream.write_all(&frame);
                if sent.is_err() {
                    self.tcp = None;
                }
                sent
            }
        }
    }
}

fn resolve(addr: &str) -> Result<std::net::SocketAddr, Error> {
    addr.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            Error::invalid_argument(format!("syslog receiver `{addr}` does not resolve"))
        })
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `len` bytes into the buffer.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let name = if rc == 0 {
        let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        String::new()
    };
    printable(&name, 255)
}

/// RFC 5424 header fields: printable US-ASCII, no spaces, `-` when empty.
fn printable(s: &str, max: usize) -> String {
    let cleaned: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if cleaned.is_empty() {
        "-".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_rfc5424_datagrams() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        receiver
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let addr = receiver.local_addr().unwrap().to_string();
        let syslog = Syslog::start(SyslogTransport::Udp(addr)).unwrap();
        {
            let mut line = syslog.line(Level::WARN, "kit::access");
            line.write_all(b"slow request trace_id=abc\n").unwrap();
        }
        let mut buf = [0u8; 2048];
        let n = receiver.recv(&mut buf).unwrap();
        let got = String::from_utf8_lossy(&buf[..n]);
        // <PRI>VERSION TIMESTAMP HOST APP PROCID MSGID SD MSG
        let fields: Vec<&str> = got.splitn(8, ' ').collect();
        assert_eq!(fields[0], "<12>1", "{got}");
        assert!(fields[1].ends_with('Z') && fields[1].contains('T'), "{got}");
        assert_eq!(fields[4], std::process::id().to_string());
        assert_eq!(fields[5], "access");
        assert_eq!(fields[6], "-");
        assert_eq!(fields[7], "slow request trace_id=abc");
    }
}
