//! Interop with the reference gRPC implementation: Python grpcio clients
//! with stubs compiled by grpcio-tools from the .proto kit emits call kit
//! servers, and kit's generated client calls a grpcio server.
//! `scripts/test` installs the Python side (a venv with grpcio,
//! grpcio-tools, grpcio-health-checking, grpcio-reflection).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use kit::{Code, Transport};
use kit_tests::workspace_bin;
use serde_json::Value;

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn python() -> PathBuf {
    let path = std::env::var_os("KIT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/kit-venv/bin/python"));
    assert!(
        path.exists(),
        "{} is missing: run scripts/test, which creates the venv with grpcio",
        path.display()
    );
    path
}

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python")
}

/// Writes `bin --emit-proto` to a fresh directory; returns (root, file).
fn emitted_proto(bin: &str, file: &str) -> (PathBuf, String) {
    let out = Command::new(workspace_bin(bin))
        .arg("--emit-proto")
        .output()
        .unwrap();
    assert!(out.status.success());
    let root = std::env::temp_dir().join(format!("kit-proto-{bin}-{}", std::process::id()));
    let path = root.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &out.stdout).unwrap();
    (root, file.to_string())
}

fn free_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// Starts a kit binary and waits until it accepts connections.
fn serve(bin: &str) -> (Kill, String) {
    let addr = free_addr();
    let child = Kill(
        Command::new(workspace_bin(bin))
            .args(["--http-addr", &addr])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    for _ in 0..200 {
        if std::net::TcpStream::connect(&addr).is_ok() {
            return (child, addr);
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("{bin} did not start");
}

fn run_client(args: &[&str]) -> Value {
    let out = Command::new(python())
        .arg(scripts().join("client.py"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python client failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn grpcio_client_calls_the_example() {
    let (root, file) = emitted_proto("stringsvc", "strings/v1.proto");
    let (_svc, addr) = serve("stringsvc");
    let v = run_client(&["strings", root.to_str().unwrap(), &file, &addr]);
    assert_eq!(v["uppercase"]["ok"], "HELLO");
    assert_eq!(v["count"]["ok"], 5);
    assert_eq!(v["empty"]["code"], "INVALID_ARGUMENT");
    assert_eq!(v["empty"]["message"], "empty string");
    assert_eq!(v["health"], "SERVING");
    assert_eq!(v["health_service"], "SERVING");
}

#[test]
fn grpcio_client_calls_every_probe_shape_and_sees_status_codes() {
    let (root, file) = emitted_proto("slowsvc", "kit/probe/v1.proto");
    let (_svc, addr) = serve("slowsvc");
    let v = run_client(&["probe", root.to_str().unwrap(), &file, &addr]);
    assert_eq!(v["get_item"]["ok"], "item number 7");
    assert_eq!(v["put_item"]["ok"], serde_json::json!(["a", "b"]));
    assert_eq!(v["search"]["ok"], serde_json::json!(["x-0", "x-1", "x-2"]));
    assert_eq!(v["search_default"]["ok"], 2);
    assert_eq!(v["delete_locked"]["code"], "FAILED_PRECONDITION");
    assert_eq!(v["not_found"]["code"], "NOT_FOUND");
    assert_eq!(
        v["slow"]["code"], "DEADLINE_EXCEEDED",
        "server-side timeout"
    );
    assert_eq!(
        v["client_deadline"]["code"], "DEADLINE_EXCEEDED",
        "caller's deadline"
    );
    assert_eq!(v["panic"]["code"], "INTERNAL");
}

#[test]
fn reflection_lets_a_generic_client_list_and_call_methods() {
    let (_svc, addr) = serve("stringsvc");
    let v = run_client(&[
        "reflect",
        &addr,
        "strings.v1.StringService",
        "Uppercase",
        "s",
        "reflected",
    ]);
    let services: Vec<&str> = v["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        services.contains(&"strings.v1.StringService"),
        "{services:?}"
    );
    // The health service is listed as well, as generic tools expect.
    assert!(services.contains(&"grpc.health.v1.Health"), "{services:?}");
    assert_eq!(v["methods"], serde_json::json!(["Uppercase", "Count"]));
    assert_eq!(v["response"], "REFLECTED");
}

#[tokio::test]
async fn kit_client_calls_a_grpcio_server() {
    let (root, file) = emitted_proto("stringsvc", "strings/v1.proto");
    let mut child = Command::new(python())
        .arg(scripts().join("server.py"))
        .args([root.to_str().unwrap(), &file])
        .current_dir(scripts())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _server = Kill(child);
    let port = BufReader::new(stdout).lines().next().unwrap().unwrap();
    let client = stringsvc::StringServiceClient::builder()
        .base_url(format!("http://127.0.0.1:{}", port.trim()))
        .transport(Transport::Grpc)
        .build()
        .unwrap();
    assert_eq!(client.uppercase("hi").await.unwrap(), "HI!py");
    assert_eq!(client.count("abc").await.unwrap(), 300);
    let err = client.uppercase(String::new()).await.unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::InvalidArgument, "empty string")
    );
}
