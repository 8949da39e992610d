//! A real etcd (Debian's etcd-server) on loopback ports, one member, its
//! data in a temp dir that survives `stop`/`start` like a real outage.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use super::{free_port, wait_for_port, Daemon, TempDir};

pub struct Etcd {
    dir: TempDir,
    client_port: u16,
    peer_port: u16,
    daemon: Option<Daemon>,
}

impl Etcd {
    /// Starts etcd and waits until it answers.
    pub fn start() -> Etcd {
        let mut etcd = Etcd {
            dir: TempDir::new("etcd"),
            client_port: free_port(),
            peer_port: free_port(),
            daemon: None,
        };
        etcd.resume();
        etcd
    }

    /// The client endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// kit's URL for service `name` here: `etcd://127.0.0.1:PORT/name`.
    pub fn url(&self, name: &str) -> String {
        format!("etcd://127.0.0.1:{}/{name}", self.client_port)
    }

    /// Kills etcd (SIGKILL): a registry outage.
    pub fn stop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            d.kill();
        }
    }

    /// Starts it again on the same ports and data.
    pub fn resume(&mut self) {
        let client = format!("http://127.0.0.1:{}", self.client_port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let mut cmd = Command::new("etcd");
        cmd.arg("--name")
            .arg("kit")
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("kit={peer}")])
            .args(["--log-level", "warn"]);
        let daemon = Daemon::spawn("etcd", cmd);
        let addr: SocketAddr = ([127, 0, 0, 1], self.client_port).into();
        assert!(
            wait_for_port(addr, Duration::from_secs(15)),
            "etcd did not listen on {addr}:\n{}",
            daemon.output()
        );
        self.daemon = Some(daemon);
        // Wait for a leader: a write must go through.
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let out = Command::new("etcdctl")
                .args(["--endpoints", &client, "put", "/kit-harness/ready", "1"])
                .env("ETCDCTL_API", "3")
                .output()
                .expect("etcdctl runs");
            if out.status.success() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "etcd never became writable: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `etcdctl put KEY VALUE`, as another tool would write.
    pub fn put(&self, key: &str, value: &str) {
        self.etcdctl(&["put", key, value]);
    }

    /// `etcdctl del KEY`.
    pub fn delete(&self, key: &str) {
        self.etcdctl(&["del", key]);
    }

    /// `etcdctl get --prefix PREFIX --keys-only`: the keys.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        self.etcdctl(&["get", "--prefix", prefix, "--keys-only"])
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    }

    fn etcdctl(&self, args: &[&str]) -> String {
        let out = Command::new("etcdctl")
            .args(["--endpoints", &self.endpoint()])
            .args(args)
            .env("ETCDCTL_API", "3")
            .output()
            .expect("etcdctl runs");
        assert!(
            out.status.success(),
            "etcdctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
