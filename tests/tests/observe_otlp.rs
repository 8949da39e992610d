//! Trace export over OTLP/gRPC across two processes: `chainsvc` (service
//! name `chain-a`) relays to `stringsvc` (`strings-b`), both exporting to a
//! receiver built on opentelemetry-proto's generated servicer
//! (`tests/python/otlp_receiver.py`). Configured the OpenTelemetry way:
//! `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`
//! and `OTEL_TRACES_SAMPLER_ARG`.

use std::time::{Duration, Instant};

use kit_tests::observe::otlp::OtlpReceiver;
use kit_tests::observe::{grpc_unary, proto_string, random_hex, traceparent, Caller, KitProcess};
use serde_json::Value;

const SERVER: i64 = 2;
const CLIENT: i64 = 3;
const STATUS_ERROR: i64 = 2;

/// stringsvc and chainsvc in front of it, both exporting to `receiver`;
/// chain calls strings over `transport`. `env` goes to both.
fn start_pair(
    receiver: &OtlpReceiver,
    transport: &str,
    env: &[(&str, &str)],
) -> (KitProcess, KitProcess) {
    let endpoint = receiver.endpoint();
    let mut strings_env = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_SERVICE_NAME", "strings-b"),
    ];
    strings_env.extend_from_slice(env);
    let strings = KitProcess::start("stringsvc", &[], &strings_env);
    let upstream = strings.url();
    let mut chain_env = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_SERVICE_NAME", "chain-a"),
        ("CHAIN_UPSTREAM", upstream.as_str()),
        ("CHAIN_TRANSPORT", transport),
    ];
    chain_env.extend_from_slice(env);
    let chain = KitProcess::start("chainsvc", &[], &chain_env);
    (strings, chain)
}

/// The one span of `spans` from `service` of `kind`.
fn one<'a>(spans: &'a [Value], service: &str, kind: i64) -> &'a Value {
    let found: Vec<&Value> = spans
        .iter()
        .filter(|s| s["service_name"] == service && s["kind"] == kind)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one span of {service} with kind {kind} expected, in:\n{}",
        dump(spans)
    );
    found[0]
}

fn dump(spans: &[Value]) -> String {
    spans
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn nanos(span: &Value, field: &str) -> u64 {
    span[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} of {span}"))
}

/// `inner` lies within `outer` in time (one machine, one clock).
fn assert_within(inner: &Value, outer: &Value) {
    assert!(
        nanos(inner, "start_time_unix_nano") >= nanos(outer, "start_time_unix_nano")
            && nanos(inner, "end_time_unix_nano") <= nanos(outer, "end_time_unix_nano"),
        "{} is not within {}",
        inner["name"],
        outer["name"]
    );
}

/// Waits for exactly `n` spans of `trace`: `n` arrive, and no more within
/// a further export interval.
fn exactly(receiver: &OtlpReceiver, trace: &str, n: usize) -> Vec<Value> {
    receiver.wait_for_trace(trace, n, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(1500));
    let spans = receiver.trace(trace);
    assert_eq!(spans.len(), n, "spans of {trace}:\n{}", dump(&spans));
    spans
}

#[tokio::test]
async fn a_relay_over_http_is_three_spans_in_the_callers_trace() {
    let receiver = OtlpReceiver::start();
    let (strings, chain) = start_pair(&receiver, "http", &[]);
    let (trace, caller_span) = (random_hex(32), random_hex(16));
    let r = Caller::new()
        .post_json(
            chain.addr,
            "/relay",
            &[("traceparent", &traceparent(&trace, &caller_span, true))],
            r#"{"s":"hi"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(&r.body[..], br#""HI""#);

    let spans = exactly(&receiver, &trace, 3);
    let server = one(&spans, "chain-a", SERVER);
    let client = one(&spans, "chain-a", CLIENT);
    let upstream = one(&spans, "strings-b", SERVER);

    // chain-a's server span: a child of the caller's.
    assert_eq!(server["parent_span_id"], caller_span);
    assert_eq!(server["name"], "POST /relay");
    let a = &server["attributes"];
    assert_eq!(a["http.request.method"], "POST", "{server}");
    assert_eq!(a["http.route"], "/relay", "{server}");
    assert_eq!(a["http.response.status_code"], 200, "{server}");
    assert_eq!(a["server.address"], "127.0.0.1", "{server}");
    assert_eq!(a["server.port"], chain.addr.port(), "{server}");
    assert_eq!(server["resource"]["service.name"], "chain-a");

    // Its call to strings: a child of the server span.
    assert_eq!(client["parent_span_id"], server["span_id"]);
    assert_eq!(client["name"], "POST /uppercase");
    assert_eq!(
        client["attributes"]["http.request.method"], "POST",
        "{client}"
    );
    assert_eq!(client["resource"]["service.name"], "chain-a");

    // strings-b's server span: a child of the client span, in the other
    // process.
    assert_eq!(upstream["parent_span_id"], client["span_id"]);
    assert_eq!(upstream["name"], "POST /uppercase");
    let a = &upstream["attributes"];
    assert_eq!(a["http.route"], "/uppercase", "{upstream}");
    assert_eq!(a["http.response.status_code"], 200, "{upstream}");
    assert_eq!(a["server.port"], strings.addr.port(), "{upstream}");
    assert_eq!(upstream["resource"]["service.name"], "strings-b");

    for s in &spans {
        assert_ne!(s["status"]["code"], STATUS_ERROR, "{s}");
        assert!(s["attributes"].get("error.type").is_none(), "{s}");
        assert!(nanos(s, "end_time_unix_nano") >= nanos(s, "start_time_unix_nano"));
    }
    assert_within(client, server);
    assert_within(upstream, client);
}

#[tokio::test]
async fn a_relay_over_grpc_names_the_rpcs() {
    let receiver = OtlpReceiver::start();
    let (_strings, chain) = start_pair(&receiver, "grpc", &[]);
    let (trace, caller_span) = (random_hex(32), random_hex(16));
    let tp = traceparent(&trace, &caller_span, true);
    let answer = grpc_unary(
        chain.addr,
        "/chain.v1.Chain/Relay",
        proto_string("hi"),
        &[("traceparent", &tp)],
    )
    .await
    .expect("Relay over gRPC");
    assert_eq!(answer, proto_string("HI"));

    let spans = exactly(&receiver, &trace, 3);
    let server = one(&spans, "chain-a", SERVER);
    let client = one(&spans, "chain-a", CLIENT);
    let upstream = one(&spans, "strings-b", SERVER);
    assert_eq!(server["parent_span_id"], caller_span);
    assert_eq!(client["parent_span_id"], server["span_id"]);
    assert_eq!(upstream["parent_span_id"], client["span_id"]);

    assert_eq!(server["name"], "chain.v1.Chain/Relay");
    let a = &server["attributes"];
    assert_eq!(a["rpc.system"], "grpc", "{server}");
    assert_eq!(a["rpc.service"], "chain.v1.Chain", "{server}");
    assert_eq!(a["rpc.method"], "Relay", "{server}");
    assert_eq!(a["rpc.grpc.status_code"], 0, "{server}");

    for span in [client, upstream] {
        assert_eq!(span["name"], "strings.v1.StringService/Uppercase", "{span}");
        let a = &span["attributes"];
        assert_eq!(a["rpc.system"], "grpc", "{span}");
        assert_eq!(a["rpc.service"], "strings.v1.StringService", "{span}");
        assert_eq!(a["rpc.method"], "Uppercase", "{span}");
        assert_eq!(a["rpc.grpc.status_code"], 0, "{span}");
    }
    for s in &spans {
        assert_ne!(s["status"]["code"], STATUS_ERROR, "{s}");
    }
}

/// An INTERNAL answer marks the server span failed, on both transports.
#[tokio::test]
async fn an_internal_error_marks_the_server_span() {
    let receiver = OtlpReceiver::start();
    let (_strings, chain) = start_pair(&receiver, "http", &[]);

    let (trace, caller_span) = (random_hex(32), random_hex(16));
    let r = Caller::new()
        .post_json(
            chain.addr,
            "/fail",
            &[("traceparent", &traceparent(&trace, &caller_span, true))],
            r#"{"s":"x"}"#,
        )
        .await;
    assert_eq!(r.status, 500);
    let spans = exactly(&receiver, &trace, 1);
    let server = one(&spans, "chain-a", SERVER);
    assert_eq!(server["name"], "POST /fail");
    assert_eq!(server["status"]["code"], STATUS_ERROR, "{server}");
    assert_eq!(server["attributes"]["error.type"], "INTERNAL", "{server}");
    assert_eq!(server["attributes"]["http.response.status_code"], 500);

    let (trace, caller_span) = (random_hex(32), random_hex(16));
    let tp = traceparent(&trace, &caller_span, true);
    let status = grpc_unary(
        chain.addr,
        "/chain.v1.Chain/Fail",
        proto_string("x"),
        &[("traceparent", &tp)],
    )
    .await
    .expect_err("Fail fails");
    assert_eq!(status.code(), tonic::Code::Internal);
    let spans = exactly(&receiver, &trace, 1);
    let server = one(&spans, "chain-a", SERVER);
    assert_eq!(server["name"], "chain.v1.Chain/Fail");
    assert_eq!(server["status"]["code"], STATUS_ERROR, "{server}");
    assert_eq!(server["attributes"]["error.type"], "INTERNAL", "{server}");
    assert_eq!(server["attributes"]["rpc.grpc.status_code"], 13);
}

/// strings refuses an empty string (INVALID_ARGUMENT). The client span
/// fails, with the canonical code name as `error.type` (not the HTTP
/// status); the server spans record the code but stay unset, as the
/// OpenTelemetry semantic conventions say of a caller's error (4xx, or a
/// gRPC code other than UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED,
/// INTERNAL, UNAVAILABLE, DATA_LOSS).
#[tokio::test]
async fn invalid_argument_fails_the_client_span_with_the_code_name() {
    let receiver = OtlpReceiver::start();
    let (_strings, chain) = start_pair(&receiver, "http", &[]);
    let (trace, caller_span) = (random_hex(32), random_hex(16));
    let r = Caller::new()
        .post_json(
            chain.addr,
            "/relay",
            &[("traceparent", &traceparent(&trace, &caller_span, true))],
            r#"{"s":""}"#,
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_status(), "INVALID_ARGUMENT");

    let spans = exactly(&receiver, &trace, 3);
    let client = one(&spans, "chain-a", CLIENT);
    assert_eq!(client["status"]["code"], STATUS_ERROR, "{client}");
    assert_eq!(client["attributes"]["error.type"], "INVALID_ARGUMENT");
    assert_eq!(client["attributes"]["http.response.status_code"], 400);
    for server in [
        one(&spans, "chain-a", SERVER),
        one(&spans, "strings-b", SERVER),
    ] {
        assert_eq!(server["attributes"]["http.response.status_code"], 400);
        assert_eq!(server["attributes"]["kit.code"], "INVALID_ARGUMENT");
        assert_ne!(server["status"]["code"], STATUS_ERROR, "{server}");
        assert!(server["attributes"].get("error.type").is_none(), "{server}");
    }

    // The same over gRPC: the client span carries the gRPC status code.
    let (_strings, chain) = start_pair(&receiver, "grpc", &[]);
    let trace = random_hex(32);
    let r = Caller::new()
        .post_json(
            chain.addr,
            "/relay",
            &[("traceparent", &traceparent(&trace, &random_hex(16), true))],
            r#"{"s":""}"#,
        )
        .await;
    assert_eq!(r.error_status(), "INVALID_ARGUMENT");
    let spans = exactly(&receiver, &trace, 3);
    let client = one(&spans, "chain-a", CLIENT);
    assert_eq!(client["status"]["code"], STATUS_ERROR, "{client}");
    assert_eq!(client["attributes"]["error.type"], "INVALID_ARGUMENT");
    assert_eq!(client["attributes"]["rpc.grpc.status_code"], 3);
    let upstream = one(&spans, "strings-b", SERVER);
    assert_eq!(upstream["attributes"]["rpc.grpc.status_code"], 3);
    assert_ne!(upstream["status"]["code"], STATUS_ERROR, "{upstream}");
}

/// `parentbased_traceidratio` with ratio 0: traces that start here are
/// never sampled, a caller's sampled flag is followed either way.
#[tokio::test]
async fn the_parent_based_ratio_sampler_follows_the_caller() {
    let receiver = OtlpReceiver::start();
    let (_strings, chain) = start_pair(
        &receiver,
        "http",
        &[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0"),
        ],
    );
    let caller = Caller::new();
    for _ in 0..20 {
        let r = caller
            .post_json(chain.addr, "/relay", &[], r#"{"s":"x"}"#)
            .await;
        assert_eq!(r.status, 200);
    }
    // A caller that did not sample: neither do we.
    let unsampled = random_hex(32);
    let r = caller
        .post_json(
            chain.addr,
            "/relay",
            &[(
                "traceparent",
                &traceparent(&unsampled, &random_hex(16), false),
            )],
            r#"{"s":"x"}"#,
        )
        .await;
    assert_eq!(r.status, 200);
    // A caller that sampled: the whole trace is exported, across both
    // processes.
    let sampled = random_hex(32);
    let r = caller
        .post_json(
            chain.addr,
            "/relay",
            &[("traceparent", &traceparent(&sampled, &random_hex(16), true))],
            r#"{"s":"x"}"#,
        )
        .await;
    assert_eq!(r.status, 200);
    let spans = exactly(&receiver, &sampled, 3);
    one(&spans, "chain-a", SERVER);
    one(&spans, "chain-a", CLIENT);
    one(&spans, "strings-b", SERVER);
    // The 21 other requests, sent before it, exported nothing.
    let all = receiver.spans();
    assert_eq!(all.len(), 3, "only the sampled trace:\n{}", dump(&all));
}

#[tokio::test]
async fn always_off_exports_nothing_and_always_on_everything() {
    let receiver = OtlpReceiver::start();
    let endpoint = receiver.endpoint();
    let off = KitProcess::start(
        "stringsvc",
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_SERVICE_NAME", "off"),
            ("OTEL_TRACES_SAMPLER", "always_off"),
        ],
    );
    let on = KitProcess::start(
        "stringsvc",
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_SERVICE_NAME", "on"),
            ("OTEL_TRACES_SAMPLER", "always_on"),
        ],
    );
    let caller = Caller::new();
    let unsampled_parent = traceparent(&random_hex(32), &random_hex(16), false);
    let sampled_parent = traceparent(&random_hex(32), &random_hex(16), true);
    for svc in [&off, &on] {
        for headers in [vec![], vec![("traceparent", sampled_parent.as_str())]] {
            let r = caller
                .post_json(svc.addr, "/uppercase", &headers, r#"{"s":"x"}"#)
                .await;
            assert_eq!(r.status, 200);
        }
    }
    // always_on ignores the caller's flag: sampled even under an
    // unsampled parent.
    let r = caller
        .post_json(
            on.addr,
            "/uppercase",
            &[("traceparent", &unsampled_parent)],
            r#"{"s":"x"}"#,
        )
        .await;
    assert_eq!(r.status, 200);
    receiver.wait_for_spans(3, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(1500));
    let spans = receiver.spans();
    assert!(
        spans.iter().all(|s| s["service_name"] == "on"),
        "always_off exported:\n{}",
        dump(&spans)
    );
    assert_eq!(spans.len(), 3, "{}", dump(&spans));
}

/// With the receiver down, calls go on as if nothing happened; once it is
/// back, export resumes.
#[tokio::test]
async fn a_receiver_that_is_down_fails_no_call() {
    let mut receiver = OtlpReceiver::start();
    receiver.stop();
    let (_strings, chain) = start_pair(&receiver, "http", &[]);
    let caller = std::sync::Arc::new(Caller::new());
    let addr = chain.addr;
    let started = Instant::now();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let caller = caller.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(500);
                for _ in 0..500 {
                    let t = Instant::now();
                    let r = caller
                        .post_json(addr, "/relay", &[], r#"{"s":"down"}"#)
                        .await;
                    assert_eq!(
                        r.status,
                        200,
                        "a call failed with the receiver down: {}",
                        String::from_utf8_lossy(&r.body)
                    );
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.expect("worker"));
    }
    let total = started.elapsed();
    latencies.sort();
    let p50 = latencies[latencies.len() / 2];
    let p99 = latencies[latencies.len() * 99 / 100];
    println!(
        "receiver down: 2000 calls in {total:?}, p50 {p50:?}, p99 {p99:?}, max {:?}",
        latencies.last()
    );
    assert_eq!(latencies.len(), 2000);
    assert!(total < Duration::from_secs(60), "2000 calls took {total:?}");
    assert!(
        p99 < Duration::from_millis(500),
        "p99 {p99:?} with the receiver down"
    );

    // Back up: a new trace is exported (spans queued during the outage
    // may be dropped, and are counted then).
    receiver.resume();
    let trace = random_hex(32);
    let mut exported = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && !exported {
        let r = caller
            .post_json(
                addr,
                "/relay",
                &[("traceparent", &traceparent(&trace, &random_hex(16), true))],
                r#"{"s":"up"}"#,
            )
            .await;
        assert_eq!(r.status, 200);
        tokio::time::sleep(Duration::from_millis(500)).await;
        exported = receiver.trace(&trace).len() >= 3;
    }
    assert!(
        exported,
        "no span of {trace} arrived within 20 s of the receiver coming back; received {} spans",
        receiver.spans().len()
    );
    let dropped = chain
        .metric("kit_trace_spans_dropped_total", &[])
        .unwrap_or(0.0);
    let outage_spans = receiver
        .spans()
        .iter()
        .filter(|s| s["trace_id"] != trace.as_str())
        .count();
    println!("after the outage: {dropped} spans counted dropped, {outage_spans} exported late");
    assert!(
        dropped > 0.0 || outage_spans > 0,
        "the outage's spans were neither counted dropped nor exported late"
    );
}

/// Every span a process records is either exported or counted in
/// `kit_trace_spans_dropped_total`: with the receiver down for a while,
/// the two counters on `/metrics` add up to the spans made, and the
/// receiver holds exactly the exported ones.
#[tokio::test]
async fn every_span_is_exported_or_counted_dropped() {
    let mut receiver = OtlpReceiver::start();
    receiver.stop();
    let (strings, chain) = start_pair(&receiver, "http", &[]);
    let caller = Caller::new();
    const CALLS: usize = 300;
    for _ in 0..CALLS {
        let r = caller
            .post_json(chain.addr, "/relay", &[], r#"{"s":"count me"}"#)
            .await;
        assert_eq!(r.status, 200);
    }
    // Let the failed exports happen, then bring the receiver back.
    std::thread::sleep(Duration::from_millis(2500));
    receiver.resume();
    for (svc, name, made) in [
        (&chain, "chain-a", 2 * CALLS),
        (&strings, "strings-b", CALLS),
    ] {
        let counted = |svc: &KitProcess| {
            let text = svc.metrics_text();
            let get = |metric| kit_tests::observe::prometheus_sum(&text, metric, &[]);
            (
                get("kit_trace_spans_exported_total"),
                get("kit_trace_spans_dropped_total"),
            )
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let (exported, dropped) = loop {
            let (e, d) = counted(svc);
            let total = e.unwrap_or(0.0) + d.unwrap_or(0.0);
            if total >= made as f64 || Instant::now() > deadline {
                break (e, d);
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let (Some(exported), Some(dropped)) = (exported, dropped) else {
            panic!(
                "{name}: kit_trace_spans_exported_total {exported:?}, \
                 kit_trace_spans_dropped_total {dropped:?} on /metrics"
            );
        };
        assert_eq!(
            exported + dropped,
            made as f64,
            "{name}: {exported} exported + {dropped} dropped of {made} spans"
        );
        std::thread::sleep(Duration::from_millis(1500));
        let received = receiver
            .spans()
            .iter()
            .filter(|s| s["service_name"] == name)
            .count();
        assert_eq!(received as f64, exported, "{name}: received vs exported");
    }
}

/// OTLP/HTTP: `OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf` POSTs the same
/// spans to `{endpoint}/v1/traces`, so the chain is one trace again.
#[tokio::test]
async fn http_protobuf_export_posts_the_same_trace_to_v1_traces() {
    let receiver = OtlpReceiver::start_http();
    let env = [("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")];
    let (_strings, chain) = start_pair(&receiver, "grpc", &env);
    let (trace, caller_span) = (random_hex(32), random_hex(16));
    let r = Caller::new()
        .post_json(
            chain.addr,
            "/relay",
            &[("traceparent", &traceparent(&trace, &caller_span, true))],
            r#"{"s":"hey"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let spans = exactly(&receiver, &trace, 3);
    let server = one(&spans, "chain-a", SERVER);
    let client = one(&spans, "chain-a", CLIENT);
    let upstream = one(&spans, "strings-b", SERVER);
    assert_eq!(server["parent_span_id"], caller_span);
    assert_eq!(client["parent_span_id"], server["span_id"]);
    assert_eq!(upstream["parent_span_id"], client["span_id"]);
    assert_eq!(client["attributes"]["rpc.system"], "grpc", "{client}");
    assert_eq!(
        upstream["attributes"]["rpc.grpc.status_code"], 0,
        "{upstream}"
    );
}
