//! `kit ls`, `kit describe` and `kit call` against real kit servers (the
//! example, the probe service) and a Python grpcio server with reflection:
//! what they print, over both transports, and how bad input fails (one
//! line, non-zero exit, no panic).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use kit_tests::cli::{kit, not_kit_server};
use kit_tests::observe::{python, python_script, KitProcess};
use kit_tests::registry::{free_port, TempDir};
use serde_json::{json, Value};

fn closed_port() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

#[test]
fn ls_lists_every_instance_and_shows_the_unreachable_one() {
    let strings = KitProcess::start("stringsvc", &[], &[]);
    let probe = KitProcess::start("slowsvc", &[], &[]);
    let gone = closed_port();
    let run = kit(&[
        "ls",
        "--json",
        &strings.url(),
        &probe.addr.to_string(),
        &gone,
    ]);
    assert_eq!(
        run.code, 1,
        "an unreachable instance fails the listing: {run:?}"
    );
    let rows = run.json();
    let rows = rows.as_array().expect("a list");
    assert_eq!(rows.len(), 3, "{rows:?}");
    let s = &rows[0];
    assert_eq!(s["url"], strings.url());
    assert_eq!(s["error"], Value::Null);
    assert_eq!(s["health_http"], "SERVING");
    assert_eq!(s["health_grpc"], "SERVING");
    assert!(s["uptime_seconds"].as_u64().is_some(), "{s}");
    assert_eq!(
        s["services"],
        json!([{"name": "strings", "version": "0.1.0", "transports": "http+grpc", "endpoints": 3}])
    );
    assert_eq!(rows[1]["services"][0]["name"], "probe");
    assert_eq!(rows[1]["services"][0]["endpoints"], 15);
    assert_eq!(rows[2]["health_http"], "unreachable");
    let error = rows[2]["error"].as_str().unwrap_or_default();
    assert_eq!(error, format!("{gone}: unreachable (connection refused)"));
    assert_eq!(run.stderr.trim(), error);

    // The table: one line per instance and service, the unreachable one too.
    let run = kit(&["ls", &strings.url(), &gone]);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("INSTANCE"), "{}", run.stdout);
    assert!(
        lines[1].contains("strings")
            && lines[1].contains("0.1.0")
            && lines[1].contains("http+grpc")
    );
    assert!(lines[2].contains("unreachable"), "{}", run.stdout);
}

#[test]
fn describe_prints_endpoints_the_json_and_the_proto() {
    let probe = KitProcess::start("slowsvc", &[], &[]);
    let run = kit(&["describe", &probe.url()]);
    assert_eq!(run.code, 0, "{run:?}");
    let line = |name: &str| {
        run.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(name) && l.contains('/'))
            .unwrap_or_else(|| panic!("no line for {name}:\n{}", run.stdout))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        line("probe.get_item "),
        "probe.get_item GET /items/{id} GetItem - 0 no - (id: u32 (path), verbose: Option<bool> (query)) -> Item"
    );
    assert!(line("probe.slow ").starts_with("probe.slow POST /slow Slow 200ms 0 no -"));
    assert!(line("probe.flaky ").starts_with("probe.flaky POST /flaky Flaky - 3 yes"));
    assert!(
        run.stdout.contains("probe.get_item: Reads an item."),
        "{}",
        run.stdout
    );

    let raw = kit(&["describe", "--json", &probe.url()]).json();
    assert_eq!(raw[0]["name"], "probe");
    assert_eq!(raw[0]["endpoints"][0]["limits"]["concurrency"], "adaptive");

    // --proto, from reflection: the same text kit emits (after its header).
    let run = kit(&["describe", "--proto", &probe.url()]);
    assert_eq!(run.code, 0, "{run:?}");
    let emitted = Command::new(kit_tests::workspace_bin("slowsvc"))
        .arg("--emit-proto")
        .output()
        .expect("slowsvc --emit-proto");
    let from_package = |text: &str| {
        text[text.find("package ").unwrap_or(0)..]
            .trim()
            .to_string()
    };
    assert_eq!(
        from_package(&run.stdout),
        from_package(&String::from_utf8_lossy(&emitted.stdout))
    );

    // --openapi: the document the server serves, the one --emit-openapi prints.
    let run = kit(&["describe", "--openapi", &probe.url()]);
    assert_eq!(run.code, 0, "{run:?}");
    let emitted = Command::new(kit_tests::workspace_bin("slowsvc"))
        .arg("--emit-openapi")
        .output()
        .expect("slowsvc --emit-openapi");
    let emitted: Value = serde_json::from_slice(&emitted.stdout).expect("--emit-openapi JSON");
    assert_eq!(run.json(), emitted);
    assert_eq!(
        run.json()["paths"]["/items/{id}"]["get"]["operationId"],
        "probe.get_item"
    );
    let run = kit(&["describe", "--openapi", &not_kit_server()]);
    assert!(
        run.one_line_failure()
            .contains("no OpenAPI document (GET /openapi.json answered 404 Not Found)"),
        "{run:?}"
    );
}

#[test]
fn call_over_http_and_grpc_gives_the_same_json() {
    let strings = KitProcess::start("stringsvc", &[], &[]);
    let probe = KitProcess::start("slowsvc", &[], &[]);
    let both = |target: &str, method: &str, args: Value| -> Value {
        let args = args.to_string();
        let http = kit(&["call", target, method, &args]);
        let grpc = kit(&["call", "--transport", "grpc", target, method, &args]);
        assert_eq!((http.code, grpc.code), (0, 0), "{http:?}\n{grpc:?}");
        assert_eq!(http.stdout, grpc.stdout, "{method} {args}");
        if http.stdout.trim().is_empty() {
            return Value::Null;
        }
        http.json()
    };
    assert_eq!(
        both(&strings.url(), "strings.uppercase", json!({"s": "hi"})),
        "HI"
    );
    assert_eq!(
        both(&strings.url(), "strings.count", json!({"s": "hello"})),
        5
    );
    // Path and query (GET), repeated query values, a whole #[body], body fields, DELETE.
    let item = both(
        &probe.url(),
        "probe.get_item",
        json!({"id": 7, "verbose": true}),
    );
    assert_eq!(item["name"], "item number 7");
    assert_eq!(
        both(
            &probe.url(),
            "probe.search",
            json!({"q": "x y", "limit": 2})
        ),
        json!(["x y-0", "x y-1"])
    );
    let put = json!({"id": 3, "item": {"id": 3, "name": "three", "tags": ["a", "b"]}});
    assert_eq!(
        both(&probe.url(), "probe.put_item", put)["tags"],
        json!(["a", "b"])
    );
    let renamed = both(
        &probe.url(),
        "probe.rename",
        json!({"id": 3, "name": "n", "tags": ["q"]}),
    );
    assert_eq!(
        (renamed["name"].clone(), renamed["tags"].clone()),
        (json!("n"), json!(["q"]))
    );
    assert_eq!(
        both(&probe.url(), "probe.delete_item", json!({"id": 3})),
        Value::Null
    );
    // A gRPC method by its full name, without /kit/describe.
    let run = kit(&[
        "call",
        &strings.url(),
        "strings.v1.StringService/Uppercase",
        r#"{"s":"ab"}"#,
    ]);
    assert_eq!(
        (run.code, run.json()),
        (0, json!({"value": "AB"})),
        "{run:?}"
    );

    // Errors: the canonical code and message, exit 1, on both transports.
    for transport in ["http", "grpc"] {
        let run = kit(&[
            "call",
            "--transport",
            transport,
            &strings.url(),
            "strings.uppercase",
            r#"{"s":""}"#,
        ]);
        assert_eq!(
            run.one_line_failure(),
            "INVALID_ARGUMENT: empty string",
            "{transport}"
        );
        let run = kit(&[
            "call",
            "--transport",
            transport,
            &probe.url(),
            "probe.fail",
            r#"{"code":5,"message":"no such thing"}"#,
        ]);
        assert_eq!(
            run.one_line_failure(),
            "NOT_FOUND: no such thing",
            "{transport}"
        );
    }
}

#[test]
fn call_trace_prints_the_trace_id_the_server_saw() {
    let probe = KitProcess::start("slowsvc", &[], &[]);
    for transport in ["http", "grpc"] {
        let run = kit(&[
            "call",
            "--trace",
            "--transport",
            transport,
            &probe.url(),
            "probe.context",
        ]);
        assert_eq!(run.code, 0, "{run:?}");
        let seen = run.json();
        // trace TRACE_ID span SPAN_ID: TRANSPORT ...: OK in 1.2 ms
        let words: Vec<&str> = run.stderr.split_whitespace().collect();
        assert_eq!(words[0], "trace", "{}", run.stderr);
        assert_eq!(seen["trace_id"], words[1], "{transport}: {}", run.stderr);
        assert_eq!(seen["parent_span"], words[3].trim_end_matches(':'));
        assert_eq!(words[4], format!("{transport}"));
        assert!(
            run.stderr.contains(": OK in ") && run.stderr.trim_end().ends_with(" ms"),
            "{}",
            run.stderr
        );
        // The deadline went along: kit-timeout-ms or grpc-timeout, 5 s by default.
        let remaining = seen["remaining_ms"].as_u64().unwrap_or(0);
        assert!(remaining > 3000 && remaining <= 5000, "{seen}");
    }
}

/// The grpcio server of the interop tests (tests/python/server.py: the
/// example's service, answering `HI!py`), with grpcio's reflection added.
fn grpcio_server_with_reflection(dir: &TempDir) -> (std::process::Child, String) {
    let proto = Command::new(kit_tests::workspace_bin("stringsvc"))
        .arg("--emit-proto")
        .output()
        .expect("stringsvc --emit-proto");
    let root = dir.path().join("proto");
    std::fs::create_dir_all(root.join("strings")).expect("proto dir");
    std::fs::write(root.join("strings/v1.proto"), &proto.stdout).expect("proto");
    let script = dir.path().join("reflecting_server.py");
    std::fs::write(
        &script,
        r#"import sys
from concurrent import futures
import grpc
from grpc_reflection.v1alpha import reflection
sys.path.insert(0, sys.argv[3])
from client import compile_stubs

pb, pb_grpc = compile_stubs(sys.argv[1], sys.argv[2])

class StringService(pb_grpc.StringServiceServicer):
    def Uppercase(self, request, context):
        if not request.s:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "empty string")
        return pb.UppercaseResponse(value=request.s.upper() + "!py")

    def Count(self, request, context):
        return pb.CountResponse(value=len(request.s) * 100)

server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
pb_grpc.add_StringServiceServicer_to_server(StringService(), server)
reflection.enable_server_reflection(
    (pb.DESCRIPTOR.services_by_name["StringService"].full_name, reflection.SERVICE_NAME), server)
port = server.add_insecure_port("127.0.0.1:0")
server.start()
print(port, flush=True)
server.wait_for_termination()
"#,
    )
    .expect("script");
    let scripts = python_script("client.py");
    let scripts = scripts.parent().expect("tests/python");
    let mut child = Command::new(python())
        .arg(&script)
        .arg(&root)
        .arg("strings/v1.proto")
        .arg(scripts)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python runs");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the port");
    (child, format!("http://127.0.0.1:{}", line.trim()))
}

#[test]
fn call_and_describe_a_grpcio_server_through_reflection() {
    let dir = TempDir::new("cli-grpcio");
    let (mut child, url) = grpcio_server_with_reflection(&dir);
    let by_slash = kit(&[
        "call",
        &url,
        "strings.v1.StringService/Uppercase",
        r#"{"s":"hi"}"#,
    ]);
    let by_dot = kit(&[
        "call",
        "--transport",
        "grpc",
        &url,
        "strings.v1.StringService.Count",
        r#"{"s":"abc"}"#,
    ]);
    let failed = kit(&[
        "call",
        &url,
        "strings.v1.StringService/Uppercase",
        r#"{"s":""}"#,
    ]);
    let unknown = kit(&["call", &url, "strings.v1.StringService/Lowercase", "{}"]);
    let misfit = kit(&[
        "call",
        &url,
        "strings.v1.StringService/Uppercase",
        r#"{"s":[1]}"#,
    ]);
    let proto = kit(&["describe", "--proto", &url]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        (by_slash.code, by_slash.json()),
        (0, json!({"value": "HI!py"})),
        "{by_slash:?}"
    );
    // uint64 is a JSON number, as kit's HTTP/JSON writes it.
    assert_eq!(
        (by_dot.code, by_dot.json()),
        (0, json!({"value": 300})),
        "{by_dot:?}"
    );
    assert_eq!(failed.one_line_failure(), "INVALID_ARGUMENT: empty string");
    assert_eq!(
        unknown.one_line_failure(),
        format!("error: {url}: unknown method `strings.v1.StringService/Lowercase` (strings.v1.StringService has strings.v1.StringService/Uppercase, strings.v1.StringService/Count, strings.v1.StringService/Letters)")
    );
    assert!(
        misfit
            .one_line_failure()
            .starts_with("error: the JSON does not fit strings.v1.UppercaseRequest"),
        "{misfit:?}"
    );
    assert!(proto.stdout.contains("service StringService {\n  rpc Uppercase(.strings.v1.UppercaseRequest) returns (.strings.v1.UppercaseResponse);"), "{proto:?}");
}

#[test]
fn bad_input_is_one_line_and_a_non_zero_exit() {
    let strings = KitProcess::start("stringsvc", &[], &[]);
    let url = strings.url();
    let gone = closed_port();
    let web = not_kit_server();
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["call", &gone, "strings.uppercase", "{}"], format!("error: {gone}: unreachable (connection refused)")),
        (vec!["call", "--transport", "grpc", &gone, "strings.uppercase", "{}"], format!("error: {gone}: unreachable (connection refused)")),
        (vec!["describe", &gone], format!("error: {gone}: unreachable (connection refused)")),
        (vec!["call", &web, "strings.uppercase", "{}"], format!("error: {web}: not a kit service (GET /kit/describe answered 404 Not Found)")),
        (vec!["describe", &web], format!("error: {web}: not a kit service (GET /kit/describe answered 404 Not Found)")),
        (vec!["ls", &web], format!("{web}: not a kit service (GET /kit/describe answered 404 Not Found)")),
        (vec!["call", &url, "strings.lowercase", "{}"], format!("error: {url}: unknown method `strings.lowercase` (this server has strings.uppercase, strings.count, strings.letters)")),
        (vec!["call", &url, "uppercase", "{}"], format!("error: {url}: `uppercase` is not SERVICE.ENDPOINT (this server has strings.uppercase, strings.count, strings.letters)")),
        (vec!["call", &url, "strings.uppercase", r#"{"s":"#], "error: the arguments are not JSON: EOF while parsing a value at line 1 column 5".into()),
        (vec!["call", &url, "strings.uppercase", r#"{"t":"x"}"#], "error: strings.uppercase has no argument `t` (its arguments: s)".into()),
        (vec!["call", &url, "strings.uppercase", "[1]"], "error: the arguments of strings.uppercase are a JSON object keyed by argument name (its arguments: s)".into()),
        (vec!["call", "--transport", "grpc", &url, "strings.uppercase", r#"{"s":7}"#], "error: the JSON does not fit strings.v1.UppercaseRequest: invalid type: integer `7`, expected a string".into()),
        (vec!["call", &url, "strings.uppercase", r#"{"s":7}"#], "INVALID_ARGUMENT: invalid JSON body: field `s`: invalid type: integer `7`, expected a string at line 1 column 1".into()),
        (vec!["call", "gopher://x/y", "a.b"], "error: discovery URL `gopher://x/y`: unknown scheme `gopher`: use http, dns+srv, dns, etcd, zk or consul".into()),
    ];
    for (args, expected) in cases {
        let run = kit(&args);
        assert_eq!(run.one_line_failure(), expected, "kit {args:?}");
    }
}

/// A server-streaming endpoint prints one JSON line per item on both
/// transports; an error that ends the stream is the usual one line and a
/// non-zero exit, after the items that came before it.
#[test]
fn call_prints_a_stream_as_lines_on_both_transports() {
    let strings = KitProcess::start("stringsvc", &[], &[]);
    for transport in ["http", "grpc"] {
        let run = kit(&[
            "call",
            "--transport",
            transport,
            &strings.url(),
            "strings.letters",
            r#"{"s":"abc"}"#,
        ]);
        assert_eq!(run.code, 0, "{run:?}");
        assert_eq!(run.stdout, "\"A\"\n\"B\"\n\"C\"\n", "{transport}");
    }
    let streams = KitProcess::start("streamsvc", &[], &[]);
    for transport in ["http", "grpc"] {
        let run = kit(&[
            "call",
            "--transport",
            transport,
            &streams.url(),
            "streams.fail_after",
            r#"{"after":2}"#,
        ]);
        assert_eq!(run.code, 1, "{run:?}");
        assert_eq!(run.stdout, "0\n1\n", "{transport}");
        assert_eq!(
            run.one_line_failure(),
            "NOT_FOUND: nothing after 2",
            "{transport}"
        );
    }
    // A request stream cannot be given on a command line.
    let run = kit(&["call", &streams.url(), "streams.sum", "{}"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.one_line_failure()
            .contains("takes a stream of requests"),
        "{run:?}"
    );
}
