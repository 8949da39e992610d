//! The `kit` fleet tool (kit-cli) as the tests run it: built once, run as
//! a process with a deadline, its exit code and output kept.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The path of the `kit` binary, built on first use.
pub fn kit_bin() -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "kit-cli"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building kit-cli failed");
    });
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let path = dir.join("kit");
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// How a `kit` run ended.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "kit printed no JSON ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Asserts a failure told in exactly one line on stderr, and no panic.
    pub fn one_line_failure(&self) -> &str {
        assert_ne!(self.code, 0, "expected a failure: {self:?}");
        assert!(!self.stderr.contains("panicked"), "{self:?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr: {self:?}");
        lines[0]
    }
}

/// Runs `kit ARGS`, killed after `limit`.
pub fn kit_within(args: &[&str], limit: Duration) -> Run {
    let mut child = Command::new(kit_bin())
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kit runs");
    // Read both pipes while kit runs: an output larger than a pipe's
    // buffer must not block it until the limit.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let status = child.wait().expect("kit's status");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Runs `kit ARGS` (at most 30 s).
pub fn kit(args: &[&str]) -> Run {
    kit_within(args, Duration::from_secs(30))
}

/// A loopback HTTP server that is not a kit server: it answers every
/// request `404 Not Found` with a plain-text body. Runs until the process ends.
pub fn not_kit_server() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 9\r\nconnection: close\r\n\r\nnot here\n",
                );
            });
        }
    });
    format!("http://{addr}")
}

/// Requests sent at a steady rate (each on its own task, so a slow answer
/// does not slow the rate) until stopped.
pub struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Load {
    /// POSTs `body` as JSON to `path` of `addr`, `per_second` times a second.
    pub fn start(
        addr: std::net::SocketAddr,
        path: &'static str,
        body: &'static str,
        per_second: f64,
    ) -> Load {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (stop2, sent2) = (stop.clone(), sent.clone());
        let task = tokio::spawn(async move {
            let client: hyper_util::client::legacy::Client<_, http_body_util::Full<bytes::Bytes>> =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build_http();
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_second));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            while !stop2.load(Ordering::Relaxed) {
                tick.tick().await;
                sent2.fetch_add(1, Ordering::Relaxed);
                let request = http::Request::post(format!("http://{addr}{path}"))
                    .header("content-type", "application/json")
                    .body(http_body_util::Full::new(bytes::Bytes::from_static(
                        body.as_bytes(),
                    )));
                let Ok(request) = request else { continue };
                let client = client.clone();
                // Answers (and a server going away at the end) are not this load's business.
                tokio::spawn(async move {
                    if let Ok(resp) = client.request(request).await {
                        let _ = http_body_util::BodyExt::collect(resp.into_body()).await;
                    }
                });
            }
        });
        Load { stop, sent, task }
    }

    /// Stops sending; how many requests were sent.
    pub async fn stop(self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.task.await;
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }
}
