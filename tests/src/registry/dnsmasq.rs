//! A real DNS server, dnsmasq, answering on a loopback UDP/TCP port with the
//! SRV and A records a test gives it. Changing the records restarts it on
//! the same port, as an operator reloading its configuration would.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{free_port, Daemon};

/// The records dnsmasq serves.
#[derive(Clone, Debug, Default)]
pub struct Records {
    /// `(service name, target host, port, priority)`: SRV records.
    pub srv: Vec<(String, String, u16, u16)>,
    /// `(host name, IPv4 or IPv6 address)`: A/AAAA records.
    pub hosts: Vec<(String, String)>,
}

impl Records {
    pub fn srv(self, name: &str, target: &str, port: u16) -> Records {
        self.srv_priority(name, target, port, 0)
    }

    /// An SRV record of `priority` (lower is preferred; weight 1).
    pub fn srv_priority(mut self, name: &str, target: &str, port: u16, priority: u16) -> Records {
        self.srv.push((name.into(), target.into(), port, priority));
        self
    }

    pub fn host(mut self, name: &str, addr: &str) -> Records {
        self.hosts.push((name.into(), addr.into()));
        self
    }
}

pub struct Dnsmasq {
    port: u16,
    daemon: Option<Daemon>,
}

impl Dnsmasq {
    pub fn start(records: &Records) -> Dnsmasq {
        let mut d = Dnsmasq {
            port: free_port(),
            daemon: None,
        };
        d.serve(records);
        d
    }

    /// The resolver address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// Replaces the records: stops dnsmasq and starts it with the new ones.
    pub fn serve(&mut self, records: &Records) {
        if let Some(mut old) = self.daemon.take() {
            old.kill();
        }
        // In /usr/sbin, which a non-root PATH may lack.
        let program = if std::path::Path::new("/usr/sbin/dnsmasq").exists() {
            "/usr/sbin/dnsmasq"
        } else {
            "dnsmasq"
        };
        let mut cmd = Command::new(program);
        cmd.args([
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            "--local-ttl=1",
            "--log-facility=-",
            "--pid-file=",
            "--user=",
        ])
        .arg(format!("--port={}", self.port));
        for (name, target, port, priority) in &records.srv {
            cmd.arg(format!("--srv-host={name},{target},{port},{priority},1"));
        }
        for (name, addr) in &records.hosts {
            cmd.arg(format!("--host-record={name},{addr}"));
        }
        let daemon = Daemon::spawn("dnsmasq", cmd);
        self.daemon = Some(daemon);
        // Answers once `dig` gets a reply (of any kind).
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.dig("kit-harness.invalid", "A").is_none() {
            assert!(
                Instant::now() < deadline,
                "dnsmasq never answered:\n{}",
                self.daemon.as_ref().map(Daemon::output).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops answering: a resolver outage.
    pub fn stop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            d.kill();
        }
    }

    /// `dig @127.0.0.1 -p PORT NAME TYPE +short`; `None` when no reply.
    pub fn dig(&self, name: &str, rtype: &str) -> Option<String> {
        let out = Command::new("dig")
            .arg("@127.0.0.1")
            .args(["-p", &self.port.to_string(), name, rtype])
            .args(["+short", "+tries=1", "+time=1"])
            .output()
            .expect("dig runs (dnsutils)");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}
