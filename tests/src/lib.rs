//! Services and helpers shared by the integration tests in `tests/`.
//! Everything here runs over real sockets: servers bind 127.0.0.1:0.

pub mod attack;
pub mod auth;
pub mod cli;
pub mod fleet;
pub mod inventory;
pub mod limited;
pub mod nats;
pub mod observe;
pub mod probe;
pub mod registry;
pub mod shared;
pub mod streams;
pub mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server running in this process on an ephemeral port.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<Result<(), kit::Error>>,
}

impl Running {
    /// A server started elsewhere: `stop` ends it, `task` runs it.
    pub fn new(
        addr: SocketAddr,
        stop: oneshot::Sender<()>,
        task: JoinHandle<Result<(), kit::Error>>,
    ) -> Running {
        Running {
            addr,
            stop: Some(stop),
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends the shutdown signal; await `task` to see it finish.
    pub fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Binds `server` on 127.0.0.1:0 and serves it in a background task.
pub async fn start(server: kit::Server) -> Running {
    let listening = server
        .http_addr(([127, 0, 0, 1], 0).into())
        .bind()
        .await
        .expect("bind");
    let addr = listening.local_addr();
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(listening.run_until(async move {
        let _ = rx.await;
    }));
    Running {
        addr,
        stop: Some(tx),
        task,
    }
}

/// A plain HTTP response.
pub struct Raw {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Raw {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The `error.status` of an AIP-193 error body.
    pub fn error_status(&self) -> String {
        self.json()["error"]["status"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    pub fn error_message(&self) -> String {
        self.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

/// Sends one raw HTTP/1.1 request, as a non-kit client would.
pub async fn raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Raw {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("method"))
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = client
        .request(req.body(Full::new(body.into())).expect("request"))
        .await
        .expect("request sent");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    Raw {
        status,
        headers,
        body,
    }
}

/// POSTs JSON.
pub async fn post_json(addr: SocketAddr, path: &str, body: &str) -> Raw {
    raw(
        addr,
        "POST",
        path,
        &[("content-type", "application/json")],
        body.to_string(),
    )
    .await
}

/// The venv's python (`$KIT_PYTHON`, default `/var/tmp/kit-venv/bin/python`),
/// with grpcio, grpcio-tools, opentelemetry-proto and nats-py (scripts/install-test-deps
/// makes it).
pub fn python() -> PathBuf {
    let path = std::env::var_os("KIT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/kit-venv/bin/python"));
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-test-deps, which creates the venv",
        path.display()
    );
    path
}

/// The test scripts under `tests/python`.
pub fn python_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(name)
}

/// The path of a binary of this workspace, built on first use.
pub fn workspace_bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "stringsvc",
                "-p",
                "stringcli",
                "-p",
                "kit-tests",
                "--bins",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the workspace binaries failed");
    });
    // target/<profile>/deps/<test binary> -> target/<profile>/<name>
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let path = dir.join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// A tonic codec that sends and receives already-encoded messages: a gRPC
/// peer that speaks bytes, as a generic tool would.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = bytes::Bytes;
    type Decode = bytes::Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = bytes::Bytes;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: bytes::Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        bytes::BufMut::put(dst, item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = bytes::Bytes;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<bytes::Bytes>, tonic::Status> {
        use bytes::Buf;
        let len = src.remaining();
        Ok(Some(src.copy_to_bytes(len)))
    }
}
