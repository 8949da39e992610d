//! A real NATS server (Debian's nats-server) on a free loopback port, for
//! the NATS transport's tests; killed on drop. A missing nats-server fails
//! the test (run scripts/install-test-deps).

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use crate::registry::{free_port, wait_for_port, Daemon};

pub struct Nats {
    port: u16,
    _daemon: Daemon,
}

impl Nats {
    /// Starts nats-server and waits until it accepts connections.
    pub fn start() -> Nats {
        let port = free_port();
        let mut cmd = Command::new("nats-server");
        cmd.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
        let daemon = Daemon::spawn("nats-server", cmd);
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        assert!(
            wait_for_port(addr, Duration::from_secs(15)),
            "nats-server did not listen on {addr}:\n{}",
            daemon.output()
        );
        Nats {
            port,
            _daemon: daemon,
        }
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// A plain async-nats connection, as a non-kit client would use.
    pub async fn connect(&self) -> async_nats::Client {
        async_nats::connect(self.url())
            .await
            .expect("connect to nats-server")
    }
}
