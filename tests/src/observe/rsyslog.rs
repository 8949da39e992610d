//! A real rsyslog (Debian's rsyslogd 8.x) in the foreground as an ordinary
//! process: `rsyslogd -n -f CONF -i PIDFILE` with a generated configuration
//! that loads only imudp, imtcp and imuxsock (on a socket in the temp dir,
//! never `/dev/log`: `SysSock.Use="off"`; its messages go through the
//! regular RFC 5424/3164 parsers, as over the network), keeps its work files in the temp
//! dir, and writes every message it receives twice: as RFC 5424 lines
//! (`RSYSLOG_SyslogProtocol23Format`) and as JSON lines of the fields its
//! parsers found, with the raw message as it arrived.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{free_udp_port, poll, tool};
use crate::registry::{free_port, wait_for_port, Daemon, TempDir};

/// The APP-NAME of the messages the harness sends to see rsyslog ready;
/// left out of what it returns.
const PROBE_APP: &str = "kit-harness-probe";

/// One message as rsyslog parsed it (its property names, values as it
/// prints them).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct SyslogMessage {
    /// `1` for RFC 5424, `0` for the legacy (RFC 3164) format.
    pub version: String,
    pub pri: String,
    pub facility: String,
    pub severity: String,
    /// TIMESTAMP, RFC 3339.
    pub timestamp: String,
    pub hostname: String,
    pub app_name: String,
    pub procid: String,
    pub msgid: String,
    /// STRUCTURED-DATA (`-` when none).
    pub structured_data: String,
    pub msg: String,
    /// `imudp`, `imtcp` or `imuxsock`.
    pub input: String,
    /// The message as it arrived.
    pub raw: String,
}

impl SyslogMessage {
    pub fn severity(&self) -> u8 {
        self.severity.parse().unwrap_or(255)
    }
}

pub struct Rsyslog {
    dir: TempDir,
    udp_port: u16,
    tcp_port: u16,
    daemon: Option<Daemon>,
}

impl Rsyslog {
    /// Starts rsyslogd and waits until a message sent over UDP comes out.
    pub fn start() -> Rsyslog {
        let mut rsyslog = Rsyslog {
            dir: TempDir::new("rsyslog"),
            udp_port: free_udp_port(),
            tcp_port: free_port(),
            daemon: None,
        };
        rsyslog.resume();
        rsyslog
    }

    pub fn udp_addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.udp_port).into()
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.tcp_port).into()
    }

    /// The Unix datagram socket imuxsock listens on.
    pub fn socket_path(&self) -> PathBuf {
        self.dir.path().join("log.sock")
    }

    /// kit's `--log-output` for it over UDP: `syslog+udp://127.0.0.1:PORT`.
    pub fn udp_url(&self) -> String {
        format!("syslog+udp://127.0.0.1:{}", self.udp_port)
    }

    /// Over TCP: `syslog+tcp://127.0.0.1:PORT`.
    pub fn tcp_url(&self) -> String {
        format!("syslog+tcp://127.0.0.1:{}", self.tcp_port)
    }

    /// Over the Unix socket: `syslog+unix:PATH`.
    pub fn unix_url(&self) -> String {
        format!("syslog+unix:{}", self.socket_path().display())
    }

    fn lines_file(&self) -> PathBuf {
        self.dir.path().join("messages.log")
    }

    fn json_file(&self) -> PathBuf {
        self.dir.path().join("messages.jsonl")
    }

    /// Kills rsyslogd (SIGKILL).
    pub fn stop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            d.kill();
        }
    }

    /// Starts it (again) on the same ports and files.
    pub fn resume(&mut self) {
        let dir = self.dir.path().display().to_string();
        let work = self.dir.path().join("work");
        std::fs::create_dir_all(&work).expect("rsyslog work dir");
        let _ = std::fs::remove_file(self.socket_path());
        let json_fields = [
            ("protocol-version", "version"),
            ("pri", "pri"),
            ("syslogfacility", "facility"),
            ("syslogseverity", "severity"),
            ("timereported", "timestamp"),
            ("hostname", "hostname"),
            ("app-name", "app_name"),
            ("procid", "procid"),
            ("msgid", "msgid"),
            ("structured-data", "structured_data"),
            ("msg", "msg"),
            ("inputname", "input"),
            ("rawmsg", "raw"),
        ]
        .iter()
        .map(|(prop, out)| {
            let date = if *prop == "timereported" {
                " dateFormat=\"rfc3339\""
            } else {
                ""
            };
            format!("  property(name=\"{prop}\" outname=\"{out}\" format=\"jsonf\"{date})\n")
        })
        .collect::<Vec<_>>()
        .join("  constant(value=\",\")\n");
        let conf = format!(
            r#"global(workDirectory="{dir}/work" maxMessageSize="64k")
module(load="imudp")
module(load="imtcp")
module(load="imuxsock" SysSock.Use="off")
input(type="imudp" address="127.0.0.1" port="{udp}")
input(type="imtcp" address="127.0.0.1" port="{tcp}")
input(type="imuxsock" Socket="{socket}" UseSpecialParser="off" ParseHostname="on")
template(name="kitjson" type="list") {{
  constant(value="{{")
{json_fields}  constant(value="}}\n")
}}
action(type="omfile" file="{lines}" template="RSYSLOG_SyslogProtocol23Format")
action(type="omfile" file="{json}" template="kitjson")
"#,
            udp = self.udp_port,
            tcp = self.tcp_port,
            socket = self.socket_path().display(),
            lines = self.lines_file().display(),
            json = self.json_file().display(),
        );
        let config = self.dir.path().join("rsyslog.conf");
        std::fs::write(&config, conf).expect("write rsyslog.conf");
        let mut cmd = Command::new(tool("rsyslogd"));
        cmd.arg("-n")
            .arg("-f")
            .arg(&config)
            .arg("-i")
            .arg(self.dir.path().join("rsyslogd.pid"));
        let mut daemon = Daemon::spawn("rsyslogd", cmd);
        assert!(
            wait_for_port(self.tcp_addr(), Duration::from_secs(10)),
            "rsyslogd did not listen on {}:\n{}",
            self.tcp_addr(),
            daemon.output()
        );
        // UDP has no handshake: send probes until one comes out the end.
        let probe = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut n = 0;
        loop {
            n += 1;
            let msg = format!("<14>1 - localhost {PROBE_APP} - - - probe {n}");
            let _ = probe.send_to(msg.as_bytes(), self.udp_addr());
            std::thread::sleep(Duration::from_millis(50));
            let seen = std::fs::read_to_string(self.json_file()).unwrap_or_default();
            if seen.contains(PROBE_APP) {
                break;
            }
            assert!(daemon.running(), "rsyslogd exited:\n{}", daemon.output());
            assert!(
                Instant::now() < deadline,
                "rsyslogd wrote none of the probes sent to {}:\n{}",
                self.udp_addr(),
                daemon.output()
            );
        }
        self.daemon = Some(daemon);
    }

    /// Every message received so far as an RFC 5424 line (harness probes
    /// left out).
    pub fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.lines_file())
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.contains(PROBE_APP))
            .map(String::from)
            .collect()
    }

    /// Every message received so far, as rsyslog parsed it (probes left
    /// out).
    pub fn messages(&self) -> Vec<SyslogMessage> {
        std::fs::read_to_string(self.json_file())
            .unwrap_or_default()
            .lines()
            .map(|l| {
                serde_json::from_str::<SyslogMessage>(l)
                    .unwrap_or_else(|e| panic!("rsyslog JSON line ({e}): {l}"))
            })
            .filter(|m| m.app_name != PROBE_APP)
            .collect()
    }

    /// Waits until the messages received satisfy `check`, at most `limit`;
    /// the messages. Panics with what arrived otherwise.
    pub fn wait_for(
        &self,
        limit: Duration,
        what: &str,
        check: impl Fn(&[SyslogMessage]) -> bool,
    ) -> Vec<SyslogMessage> {
        poll(
            limit,
            what,
            || {
                let messages = self.messages();
                check(&messages).then_some(messages)
            },
            || {
                format!(
                    "rsyslog received:\n{}\nrsyslogd printed:\n{}",
                    self.lines().join("\n"),
                    self.output()
                )
            },
        )
    }

    /// What rsyslogd printed.
    pub fn output(&self) -> String {
        self.daemon
            .as_ref()
            .map(|d| d.output())
            .unwrap_or_else(|| "(stopped)".into())
    }
}
