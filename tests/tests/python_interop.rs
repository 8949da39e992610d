//! Interop with the reference gRPC implementation: Python grpcio clients
//! with stubs compiled by grpcio-tools from the .proto kit emits call kit
//! servers, and kit's generated client calls a grpcio server.
//! `scripts/test` installs the Python side (a venv with grpcio,
//! grpcio-tools, grpcio-health-checking, grpcio-reflection).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use kit::{Code, Transport};
use kit_tests::{python, workspace_bin};
use serde_json::Value;

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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
    assert_eq!(
        v["methods"],
        serde_json::json!(["Uppercase", "Count", "Letters"])
    );
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

/// Both protos in one directory, as a Python user would keep them.
fn emitted_protos() -> PathBuf {
    let (streams_root, _) = emitted_proto("streamsvc", "streams/v1.proto");
    let (strings_root, _) = emitted_proto("stringsvc", "strings/v1.proto");
    std::fs::create_dir_all(streams_root.join("strings")).unwrap();
    std::fs::copy(
        strings_root.join("strings/v1.proto"),
        streams_root.join("strings/v1.proto"),
    )
    .unwrap();
    streams_root
}

#[test]
fn grpcio_consumes_and_produces_kit_streams() {
    let root = emitted_protos();
    let (_streams, streams_addr) = serve("streamsvc");
    let (_strings, strings_addr) = serve("stringsvc");
    let out = Command::new(python())
        .arg(scripts().join("streaming.py"))
        .args([
            "client",
            root.to_str().unwrap(),
            "streams/v1.proto",
            "strings/v1.proto",
            &streams_addr,
            &strings_addr,
        ])
        .current_dir(scripts())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python client failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["letters"], serde_json::json!(["A", "B", "C"]));
    assert_eq!(v["count_to"], serde_json::json!([0, 1, 2, 3]));
    assert_eq!(v["fail_after"], serde_json::json!([0, 1]));
    assert_eq!(v["fail_after_error"]["code"], "NOT_FOUND");
    assert_eq!(v["fail_after_error"]["message"], "nothing after 2");
    assert_eq!(v["points"], serde_json::json!([[0, 0], [1, -1], [2, -2]]));
    assert_eq!(v["sum"], 5050);
    assert_eq!(v["shout"], serde_json::json!(["PY", "TO", "KIT"]));
    assert_eq!(v["ticks_error"]["code"], "DEADLINE_EXCEEDED");
    assert_eq!(v["flood_first"], 8);

    // The server's metrics count the messages and how each stream ended.
    let metrics = http_get(&streams_addr, "/metrics");
    let sample = |line_start: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(line_start))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no `{line_start}` in\n{metrics}"))
    };
    let labels = |endpoint: &str, extra: &str| {
        format!("{{service=\"streams\",endpoint=\"{endpoint}\",transport=\"grpc\",{extra}}}")
    };
    let sent = labels("count_to", "direction=\"sent\"");
    assert_eq!(
        sample(&format!("kit_server_stream_messages_total{sent}")),
        4.0
    );
    let received = labels("sum", "direction=\"received\"");
    assert_eq!(
        sample(&format!("kit_server_stream_messages_total{received}")),
        100.0
    );
    let ok = labels("count_to", "code=\"OK\"");
    assert_eq!(
        sample(&format!("kit_server_stream_duration_seconds_count{ok}")),
        1.0
    );
    let late = labels("ticks", "code=\"DEADLINE_EXCEEDED\"");
    assert_eq!(
        sample(&format!("kit_server_stream_duration_seconds_count{late}")),
        1.0
    );
    let failed = labels("fail_after", "code=\"NOT_FOUND\"");
    assert_eq!(
        sample(&format!("kit_server_stream_duration_seconds_count{failed}")),
        1.0
    );
    // The cancelled call's producer is gone, counted as CANCELLED.
    let cancelled = labels("flood", "code=\"CANCELLED\"");
    let mut tries = 0;
    while !http_get(&streams_addr, "/metrics").contains(&format!(
        "kit_server_stream_duration_seconds_count{cancelled} 1"
    )) {
        tries += 1;
        assert!(tries < 100, "the cancelled flood stream was not ended");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[tokio::test]
async fn kit_streaming_client_calls_a_grpcio_server() {
    let root = emitted_protos();
    let mut child = Command::new(python())
        .arg(scripts().join("streaming.py"))
        .args(["server", root.to_str().unwrap(), "streams/v1.proto"])
        .current_dir(scripts())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _server = Kill(child);
    let port = BufReader::new(stdout).lines().next().unwrap().unwrap();
    let client = kit_tests::streams::StreamServiceClient::builder()
        .base_url(format!("http://127.0.0.1:{}", port.trim()))
        .transport(Transport::Grpc)
        .build()
        .unwrap();
    use futures_util::StreamExt;
    let counted: Vec<u32> = client
        .count_to(3, None)
        .await
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(counted, vec![0, 10, 20]);
    let mut s = client.fail_after(1).await.unwrap();
    assert_eq!(s.message().await.unwrap(), Some(0));
    let err = s.message().await.unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::NotFound, "python has nothing more")
    );
    let total = client
        .sum(futures_util::stream::iter([1u64, 2, 3]))
        .await
        .unwrap();
    assert_eq!(total, 7);
    let shouted: Vec<String> = client
        .shout(futures_util::stream::iter([
            "a".to_string(),
            "b".to_string(),
        ]))
        .await
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(shouted, vec!["A!", "B!"]);
}

/// `curl -N`, as a browser's EventSource would, reads the example's
/// letters as three events.
#[test]
fn curl_reads_the_example_letters_as_server_sent_events() {
    let (_svc, addr) = serve("stringsvc");
    let out = Command::new("curl")
        .args(["-sN", "--max-time", "5", "-H", "accept: text/event-stream"])
        .arg(format!("http://{addr}/letters/abc"))
        .output()
        .expect("curl runs (scripts/install-test-deps installs it)");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "data: \"A\"\n\ndata: \"B\"\n\ndata: \"C\"\n\n"
    );
}

/// GET over a plain socket: the body.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nhost: x\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}
