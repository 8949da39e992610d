//! A real ZooKeeper (Debian's zookeeper package) standalone on a loopback
//! port, data in a temp dir, started through its own zkServer.sh.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use super::{free_port, wait_for_port, Daemon, TempDir};

pub struct ZooKeeper {
    dir: TempDir,
    port: u16,
    daemon: Option<Daemon>,
}

const ZK_SERVER: &str = "/usr/share/zookeeper/bin/zkServer.sh";

impl ZooKeeper {
    pub fn start() -> ZooKeeper {
        let dir = TempDir::new("zk");
        let port = free_port();
        std::fs::create_dir_all(dir.path().join("data")).expect("zk data dir");
        let cfg = format!(
            "tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={port}\n\
             clientPortAddress=127.0.0.1\nadmin.enableServer=false\n\
             minSessionTimeout=1000\nmaxSessionTimeout=20000\n4lw.commands.whitelist=ruok,srvr\n",
            dir.path().join("data").display()
        );
        std::fs::write(dir.path().join("zoo.cfg"), cfg).expect("zoo.cfg");
        let mut zk = ZooKeeper {
            dir,
            port,
            daemon: None,
        };
        zk.resume();
        zk
    }

    /// `127.0.0.1:PORT`.
    pub fn hosts(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// kit's URL for the services under `path` (no leading slash).
    pub fn url(&self, path: &str) -> String {
        format!("zk://127.0.0.1:{}/{path}", self.port)
    }

    /// Kills ZooKeeper: an outage.
    pub fn stop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            d.kill();
        }
    }

    /// Starts it again on the same port and data.
    pub fn resume(&mut self) {
        let mut cmd = Command::new(ZK_SERVER);
        cmd.arg("start-foreground")
            .arg(self.dir.path().join("zoo.cfg"))
            .env("ZOO_LOG_DIR", self.dir.path())
            .env(
                "JVMFLAGS",
                "-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1",
            );
        let daemon = Daemon::spawn("zookeeper", cmd);
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        assert!(
            wait_for_port(addr, Duration::from_secs(30)),
            "ZooKeeper did not listen on {addr}:\n{}",
            daemon.output()
        );
        self.daemon = Some(daemon);
        // `ruok` answers `imok` once it serves.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while four_letter(addr, "ruok").as_deref() != Some("imok") {
            assert!(
                std::time::Instant::now() < deadline,
                "ZooKeeper never said imok"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn four_letter(addr: SocketAddr, word: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}
