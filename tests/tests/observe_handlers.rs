//! What a handler records itself (business events, stage timers, its own
//! counters) and the lines kit writes about requests (access log, WARN for
//! failed and slow ones), read back from the files the server's log and
//! event outputs write.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kit::log::{LogFormat, LogOutput};
use kit_tests::{raw, start};
use serde_json::Value;

/// A shop: places orders, fails on purpose, and is slow on purpose.
pub struct Shop;

#[kit::service(name = "shop")]
impl Shop {
    /// Places an order: a timed "db" stage, a counter, a business event.
    #[endpoint(http = "POST /orders", grpc)]
    pub async fn place(&self, amount: f64) -> u64 {
        kit::metrics::time_stage("db", tokio::time::sleep(Duration::from_millis(5))).await;
        metrics::counter!("orders_placed_total", kit::metrics::endpoint_labels()).increment(1);
        let order_id = 7u64;
        kit::event!("order_placed", order_id, amount, currency = "EUR");
        tracing::info!(order_id, "order stored");
        order_id
    }

    /// Always fails with INTERNAL.
    #[endpoint(http = "POST /boom")]
    pub async fn boom(&self) -> Result<u8, kit::Error> {
        Err(kit::Error::internal("the oven exploded"))
    }

    /// Takes 60 ms, over the server's 30 ms `--slow-threshold`.
    #[endpoint(http = "POST /lazy")]
    pub async fn lazy(&self) -> u8 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        1
    }

    /// Takes 60 ms, over its 20 ms threshold.
    #[endpoint(http = "POST /slow", slow = "20ms")]
    pub async fn slow(&self) -> u8 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        1
    }
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Waits until `path` has `n` lines matching `pred` (files are written by
/// a background thread).
fn wait_for(path: &Path, n: usize, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found: Vec<Value> = lines(path).into_iter().filter(|v| pred(v)).collect();
        if found.len() >= n || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_record_events_stages_and_their_own_metrics() {
    let dir = tempdir();
    let logs = dir.join("kit.log");
    let events = dir.join("events.jsonl");
    let mut config = kit::Config::default();
    config.observe.log_output = LogOutput::File(logs.clone());
    config.observe.events = Some(LogOutput::File(events.clone()));
    config.observe.slow_threshold = Duration::from_millis(30);
    assert!(kit::log::init(&config.observe.log_config(LogFormat::Json)).unwrap());
    let server = start(kit::Server::new(config).add_service(Shop)).await;

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{trace_id}-00f067aa0ba902b7-01");
    let headers = [
        ("content-type", "application/json"),
        ("traceparent", traceparent.as_str()),
    ];
    for _ in 0..3 {
        let r = raw(
            server.addr,
            "POST",
            "/orders",
            &headers,
            r#"{"amount":9.5}"#,
        )
        .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    let r = raw(server.addr, "POST", "/boom", &headers, "{}").await;
    assert_eq!(r.status, 500);
    let r = raw(server.addr, "POST", "/slow", &headers, "{}").await;
    assert_eq!(r.status, 200);
    let r = raw(server.addr, "POST", "/lazy", &headers, "{}").await;
    assert_eq!(r.status, 200);

    // Events: their own file, one JSON object each, with the request's identity.
    let placed = wait_for(&events, 3, |v| v["event"] == "order_placed");
    assert_eq!(placed.len(), 3, "{placed:?}");
    for e in &placed {
        assert_eq!(e["order_id"], 7);
        assert_eq!(e["amount"], 9.5);
        assert_eq!(e["currency"], "EUR");
        assert_eq!(e["service"], "shop");
        assert_eq!(e["endpoint"], "place");
        assert_eq!(e["trace_id"], trace_id);
        assert!(e["timestamp"].as_str().unwrap().ends_with('Z'));
    }
    assert_eq!(
        lines(&events).len(),
        3,
        "only events go to the events output"
    );

    // Diagnostic logs: the access log (one line per request, six), the
    // handler's own line with its request's fields, WARN for the failure
    // and the slow requests; no event.
    let access = wait_for(&logs, 6, |v| {
        v["target"] == "kit::access" && v["message"] == "request"
    });
    assert_eq!(access.len(), 6, "{access:?}");
    let first = &access[0];
    assert_eq!(first["level"], "INFO");
    assert_eq!(first["method"], "POST");
    assert_eq!(first["route"], "/orders");
    assert_eq!(first["code"], "OK");
    assert_eq!(first["status"], 200);
    assert_eq!(first["service"], "shop");
    assert_eq!(first["transport"], "http");
    assert_eq!(first["trace_id"], trace_id);
    assert!(first["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(first["duration_ms"].as_f64().unwrap() >= 5.0);
    let failed = wait_for(&logs, 1, |v| v["message"] == "request failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["level"], "WARN");
    assert_eq!(failed[0]["code"], "INTERNAL");
    assert_eq!(failed[0]["trace_id"], trace_id);
    // The endpoint's `slow` wins over the server's threshold; without it,
    // the server's applies.
    let slow = wait_for(&logs, 2, |v| v["message"] == "slow request");
    assert_eq!(slow.len(), 2, "{:?}", lines(&logs));
    assert_eq!(slow[0]["endpoint"], "slow");
    assert_eq!(slow[0]["threshold_ms"], 20);
    assert_eq!(slow[1]["endpoint"], "lazy");
    assert_eq!(slow[1]["threshold_ms"], 30);
    let stored = wait_for(&logs, 3, |v| v["message"] == "order stored");
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0]["trace_id"], trace_id);
    assert_eq!(stored[0]["service"], "shop");
    assert_eq!(stored[0]["endpoint"], "place");
    assert_eq!(stored[0]["span_id"].as_str().unwrap().len(), 16);
    assert_eq!(stored[0]["order_id"], 7);
    assert!(
        lines(&logs).iter().all(|v| v["event"] != "order_placed"),
        "an event leaked into the diagnostic log"
    );

    // The handler's own metrics, with the endpoint's labels, beside kit's.
    let metrics = raw(server.addr, "GET", "/metrics", &[], "").await;
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.contains(r#"orders_placed_total{service="shop",endpoint="place"} 3"#),
        "{text}"
    );
    let stage_count = text
        .lines()
        .find(|l| {
            l.starts_with("kit_server_stage_duration_seconds_count") && l.contains(r#"stage="db""#)
        })
        .unwrap_or_else(|| panic!("no stage histogram:\n{text}"));
    assert!(
        stage_count.contains(r#"service="shop""#) && stage_count.contains(r#"endpoint="place""#)
    );
    assert!(stage_count.ends_with(" 3"), "{stage_count}");
    for name in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "tokio_workers",
        "tokio_alive_tasks",
    ] {
        let value: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing"))
            .parse()
            .unwrap();
        assert!(value > 0.0, "{name} = {value}");
    }
}

#[tokio::test]
async fn access_log_off_leaves_the_warnings() {
    let dir = tempdir();
    let logs = dir.join("kit.log");
    let mut config = kit::Config::default();
    config.observe.log_output = LogOutput::File(logs.clone());
    config.observe.access_log = false;
    config.observe.events = None;
    kit::log::init(&config.observe.log_config(LogFormat::Json)).unwrap();
    let server = start(kit::Server::new(config).add_service(Shop)).await;
    let json = [("content-type", "application/json")];
    raw(server.addr, "POST", "/orders", &json, r#"{"amount":1}"#).await;
    raw(server.addr, "POST", "/boom", &json, "{}").await;
    let failed = wait_for(&logs, 1, |v| v["message"] == "request failed");
    assert_eq!(failed.len(), 1);
    assert!(
        lines(&logs).iter().all(|v| v["message"] != "request"),
        "access lines with --access-log off"
    );
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kit-observe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
