//! Where a kit process's lines go: `--log-output` (stderr, stdout,
//! `file:PATH`, `syslog+udp://`, `syslog+tcp://`, `syslog+unix:`),
//! `--log-format json`, the access log (one INFO line per request, target
//! `kit::access`; `--access-log off`), and business events
//! (`kit::event!`, JSON lines to `--events`, never in the diagnostic log).
//! Syslog goes to a real rsyslog.

use std::path::Path;
use std::time::Duration;

use kit_tests::observe::rsyslog::{Rsyslog, SyslogMessage};
use kit_tests::observe::{
    grpc_unary, poll, proto_string, random_hex, traceparent, Caller, KitProcess,
};
use kit_tests::registry::TempDir;
use serde_json::Value;

/// A field of a JSON log line, flattened or under `fields`.
fn field<'a>(line: &'a Value, key: &str) -> &'a Value {
    match line.get(key) {
        Some(v) => v,
        None => &line["fields"][key],
    }
}

/// Every line of a JSON log file, each of which must be JSON.
fn json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}) in {}: {l}", path.display()))
        })
        .collect()
}

fn access_lines(lines: &[Value]) -> Vec<Value> {
    lines
        .iter()
        .filter(|l| l["target"] == "kit::access" && l["level"] == "INFO")
        .cloned()
        .collect()
}

/// Waits until `path` holds at least `n` access lines; all its lines.
fn wait_for_access_lines(path: &Path, n: usize) -> Vec<Value> {
    poll(
        Duration::from_secs(10),
        &format!("{n} access lines in {}", path.display()),
        || {
            let lines = json_lines(path);
            (access_lines(&lines).len() >= n).then_some(lines)
        },
        || std::fs::read_to_string(path).unwrap_or_default(),
    )
}

fn file_flag(path: &Path) -> String {
    format!("file:{}", path.display())
}

#[tokio::test]
async fn the_access_log_is_one_json_line_per_request() {
    let dir = TempDir::new("access-log");
    let log = dir.path().join("strings.log");
    let svc = KitProcess::start(
        "stringsvc",
        &["--log-format", "json", "--log-output", &file_flag(&log)],
        &[],
    );
    let caller = Caller::new();
    let mut traces = Vec::new();
    for _ in 0..5 {
        let trace = random_hex(32);
        let r = caller
            .post_json(
                svc.addr,
                "/uppercase",
                &[("traceparent", &traceparent(&trace, &random_hex(16), true))],
                r#"{"s":"hi"}"#,
            )
            .await;
        assert_eq!(r.status, 200);
        traces.push(trace);
    }
    let bad_trace = random_hex(32);
    let r = caller
        .post_json(
            svc.addr,
            "/uppercase",
            &[(
                "traceparent",
                &traceparent(&bad_trace, &random_hex(16), true),
            )],
            r#"{"s":""}"#,
        )
        .await;
    assert_eq!(r.status, 400);
    let grpc_trace = random_hex(32);
    let tp = traceparent(&grpc_trace, &random_hex(16), true);
    grpc_unary(
        svc.addr,
        "/strings.v1.StringService/Uppercase",
        proto_string("hi"),
        &[("traceparent", &tp)],
    )
    .await
    .expect("Uppercase over gRPC");

    wait_for_access_lines(&log, 7);
    // Let any late line land, then count exactly.
    std::thread::sleep(Duration::from_millis(500));
    let lines = json_lines(&log);
    let access = access_lines(&lines);
    assert_eq!(access.len(), 7, "one line per request:\n{access:#?}");
    assert!(
        lines.iter().any(|l| l["target"] != "kit::access"),
        "the diagnostic log goes to the same file"
    );

    let by_trace = |trace: &str| -> &Value {
        access
            .iter()
            .find(|l| field(l, "trace_id") == trace)
            .unwrap_or_else(|| panic!("no access line with trace {trace}:\n{access:#?}"))
    };
    for trace in &traces {
        let l = by_trace(trace);
        assert_eq!(field(l, "method"), "POST", "{l}");
        assert_eq!(field(l, "route"), "/uppercase", "{l}");
        assert_eq!(field(l, "code"), "OK", "{l}");
        assert_eq!(field(l, "status"), 200, "{l}");
        assert_eq!(field(l, "service"), "strings", "{l}");
        assert_eq!(field(l, "endpoint"), "uppercase", "{l}");
        assert_eq!(field(l, "transport"), "http", "{l}");
        let ms = field(l, "duration_ms").as_f64().unwrap_or(-1.0);
        assert!((0.0..2000.0).contains(&ms), "duration_ms {ms}: {l}");
        let peer = field(l, "peer").as_str().unwrap_or("");
        assert!(peer.starts_with("127.0.0.1:"), "peer {peer}: {l}");
    }
    let l = by_trace(&bad_trace);
    assert_eq!(field(l, "code"), "INVALID_ARGUMENT", "{l}");
    assert_eq!(field(l, "status"), 400, "{l}");
    let l = by_trace(&grpc_trace);
    assert_eq!(field(l, "transport"), "grpc", "{l}");
    assert_eq!(field(l, "code"), "OK", "{l}");
    assert_eq!(field(l, "endpoint"), "uppercase", "{l}");
}

/// Requests to a stringsvc started with `args` and `env`, logging JSON to
/// a file: the lines of that file.
async fn logged_with(args: &[&str], env: &[(&str, &str)]) -> Vec<Value> {
    let dir = TempDir::new("access-off");
    let log = dir.path().join("strings.log");
    let output = file_flag(&log);
    let mut all_args = vec!["--log-format", "json", "--log-output", &output];
    all_args.extend_from_slice(args);
    let svc = KitProcess::start("stringsvc", &all_args, env);
    let caller = Caller::new();
    for _ in 0..3 {
        let r = caller
            .post_json(svc.addr, "/uppercase", &[], r#"{"s":"hi"}"#)
            .await;
        assert_eq!(r.status, 200);
    }
    std::thread::sleep(Duration::from_millis(1000));
    let lines = json_lines(&log);
    assert!(!lines.is_empty(), "the diagnostic log goes there");
    lines
}

#[tokio::test]
async fn access_log_off_by_flag_writes_no_access_line() {
    let lines = logged_with(&["--access-log", "off"], &[]).await;
    assert_eq!(access_lines(&lines), Vec::<Value>::new());
    let lines = logged_with(&["--access-log", "on"], &[]).await;
    assert_eq!(access_lines(&lines).len(), 3);
}

#[tokio::test]
async fn access_log_off_by_env_writes_no_access_line() {
    let lines = logged_with(&[], &[("KIT_ACCESS_LOG", "off")]).await;
    assert_eq!(access_lines(&lines), Vec::<Value>::new());
}

/// The access lines of a syslog receiver: those whose MSG or SD carry
/// `trace`.
fn carrying<'a>(messages: &'a [SyslogMessage], trace: &str) -> Vec<&'a SyslogMessage> {
    messages
        .iter()
        .filter(|m| m.msg.contains(trace) || m.structured_data.contains(trace))
        .collect()
}

#[tokio::test]
async fn syslog_outputs_reach_rsyslog_as_rfc5424() {
    let rsyslog = Rsyslog::start();
    let outputs = [
        (rsyslog.udp_url(), "json", "imudp"),
        (rsyslog.tcp_url(), "pretty", "imtcp"),
        (rsyslog.unix_url(), "json", "imuxsock"),
    ];
    let caller = Caller::new();
    for (output, format, input) in &outputs {
        let svc = KitProcess::start(
            "stringsvc",
            &["--log-output", output, "--log-format", format],
            &[],
        );
        let traces: Vec<String> = (0..3).map(|_| random_hex(32)).collect();
        for trace in &traces {
            let r = caller
                .post_json(
                    svc.addr,
                    "/uppercase",
                    &[("traceparent", &traceparent(trace, &random_hex(16), true))],
                    r#"{"s":"hi"}"#,
                )
                .await;
            assert_eq!(r.status, 200);
        }
        let messages = rsyslog.wait_for(
            Duration::from_secs(10),
            &format!("the access lines over {output}"),
            |m| traces.iter().all(|t| !carrying(m, t).is_empty()),
        );
        for trace in &traces {
            let found = carrying(&messages, trace);
            assert_eq!(
                found.len(),
                1,
                "one line for {trace} over {output}: {found:#?}"
            );
            let m = found[0];
            assert_eq!(m.version, "1", "RFC 5424 over {output}: {m:#?}");
            assert!(
                m.raw.starts_with('<') && m.raw.contains(">1 "),
                "RFC 5424 header over {output}: {m:#?}"
            );
            assert_eq!(m.app_name, "stringsvc", "{m:#?}");
            assert_eq!(m.procid, svc.pid().to_string(), "PROCID: {m:#?}");
            assert_eq!(m.severity(), 6, "an INFO line: {m:#?}");
            assert_eq!(&m.input, input, "{m:#?}");
            let text = format!("{} {}", m.structured_data, m.msg);
            for needle in ["uppercase", "POST", "/uppercase", "strings"] {
                assert!(text.contains(needle), "{needle} over {output}: {m:#?}");
            }
            if *format == "json" {
                let start = m.msg.find('{').unwrap_or(0);
                let line: Value = serde_json::from_str(&m.msg[start..])
                    .unwrap_or_else(|e| panic!("a JSON MSG ({e}) over {output}: {m:#?}"));
                assert_eq!(line["target"], "kit::access", "{line}");
                assert_eq!(field(&line, "trace_id"), trace.as_str(), "{line}");
                assert_eq!(field(&line, "status"), 200, "{line}");
            }
        }
        // The server's own lines (its banner) came the same way.
        assert!(
            messages
                .iter()
                .any(|m| m.input == *input && m.msg.contains("listening")),
            "the diagnostic log over {output}"
        );
    }
}

/// chainsvc's `relay` records `kit::event!("relayed", chars = ..)`.
fn relayed_events(lines: &[Value]) -> Vec<Value> {
    lines
        .iter()
        .filter(|l| l["event"] == "relayed")
        .cloned()
        .collect()
}

#[tokio::test]
async fn events_are_json_lines_apart_from_the_logs() {
    let dir = TempDir::new("events");
    let events = dir.path().join("events.jsonl");
    let log = dir.path().join("chain.log");
    let strings = KitProcess::start("stringsvc", &[], &[]);
    let chain = KitProcess::start(
        "chainsvc",
        &[
            "--events",
            &file_flag(&events),
            "--log-output",
            &file_flag(&log),
            "--log-format",
            "json",
        ],
        &[("CHAIN_UPSTREAM", &strings.url())],
    );
    let caller = Caller::new();
    let trace = random_hex(32);
    let r = caller
        .post_json(
            chain.addr,
            "/relay",
            &[("traceparent", &traceparent(&trace, &random_hex(16), true))],
            r#"{"s":"héllo"}"#,
        )
        .await;
    assert_eq!(r.status, 200);
    let found = poll(
        Duration::from_secs(10),
        "the relayed event",
        || {
            let e = relayed_events(&json_lines(&events));
            (!e.is_empty()).then_some(e)
        },
        || std::fs::read_to_string(&events).unwrap_or_default(),
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    let e = &found[0];
    assert_eq!(e["service"], "chain", "{e}");
    assert_eq!(e["endpoint"], "relay", "{e}");
    assert_eq!(e["trace_id"], trace.as_str(), "{e}");
    assert_eq!(e["chars"], 5, "{e}");
    assert!(
        e["timestamp"].as_str().is_some_and(|t| t.len() >= 20),
        "{e}"
    );
    // Never in the diagnostic log, which has the request's access line.
    wait_for_access_lines(&log, 1);
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !logged.contains("relayed"),
        "an event in the log:\n{logged}"
    );
    // Nor on stdout, the default destination.
    assert!(!chain.output().contains("relayed"), "{}", chain.output());
}

#[tokio::test]
async fn events_default_to_stdout_and_off_drops_them() {
    let strings = KitProcess::start("stringsvc", &[], &[]);
    let upstream = strings.url();
    let default = KitProcess::start("chainsvc", &[], &[("CHAIN_UPSTREAM", &upstream)]);
    let off = KitProcess::start(
        "chainsvc",
        &["--events", "off"],
        &[("CHAIN_UPSTREAM", &upstream)],
    );
    let by_env = KitProcess::start(
        "chainsvc",
        &[],
        &[("CHAIN_UPSTREAM", &upstream), ("KIT_EVENTS", "off")],
    );
    let caller = Caller::new();
    for svc in [&default, &off, &by_env] {
        let r = caller
            .post_json(svc.addr, "/relay", &[], r#"{"s":"abc"}"#)
            .await;
        assert_eq!(r.status, 200);
    }
    let line = poll(
        Duration::from_secs(10),
        "the relayed event on stdout",
        || {
            default
                .output()
                .lines()
                .find(|l| l.contains("\"relayed\""))
                .map(String::from)
        },
        || default.output(),
    );
    let e: Value = serde_json::from_str(&line).unwrap_or_else(|err| panic!("{err}: {line}"));
    assert_eq!(e["event"], "relayed");
    assert_eq!(e["chars"], 3);
    std::thread::sleep(Duration::from_millis(500));
    for svc in [&off, &by_env] {
        assert!(
            !svc.output().contains("relayed"),
            "events off:\n{}",
            svc.output()
        );
    }
}
