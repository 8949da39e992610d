//! Metrics pushed to a real InfluxDB 1.x over its HTTP write API:
//! `--metrics influx://HOST:PORT/DATABASE?interval=1s`. Measurement = the
//! metric's name, tags = its labels; counters `value` (integer,
//! cumulative), gauges `value` (float), histograms `count`, `sum`, `mean`,
//! `p50`, `p90`, `p99`, `max`. Read back with InfluxQL.

use std::time::Duration;

use kit_tests::observe::influx::Influx;
use kit_tests::observe::{Caller, KitProcess};
use serde_json::Value;

const LAST_OK: &str = "SELECT last(value) FROM kit_server_requests_total \
                       WHERE endpoint='uppercase' AND code='OK'";

async fn uppercase(caller: &Caller, svc: &KitProcess, s: &str, n: usize) {
    let body = serde_json::json!({ "s": s }).to_string();
    for _ in 0..n {
        let r = caller.post_json(svc.addr, "/uppercase", &[], &body).await;
        let want = if s.is_empty() { 400 } else { 200 };
        assert_eq!(r.status, want, "{}", String::from_utf8_lossy(&r.body));
    }
}

/// The second column of the first row.
fn value(rows: &[Vec<Value>]) -> Value {
    rows.first()
        .and_then(|r| r.get(1))
        .cloned()
        .unwrap_or(Value::Null)
}

/// `SHOW FIELD KEYS FROM m`: (field, type) pairs.
fn field_keys(influx: &Influx, m: &str) -> Vec<(String, String)> {
    influx
        .rows("kit", &format!("SHOW FIELD KEYS FROM {m}"))
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap_or("").to_string(),
                r[1].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn influx_gets_measurements_tagged_with_the_labels() {
    let influx = Influx::start();
    influx.create_db("kit");
    let svc = KitProcess::start("stringsvc", &["--metrics", &influx.url("kit")], &[]);
    let caller = Caller::new();
    uppercase(&caller, &svc, "hi", 12).await;
    uppercase(&caller, &svc, "", 3).await;

    influx.wait_for("kit", LAST_OK, Duration::from_secs(10), |rows| {
        value(rows) == 12
    });
    influx.wait_for(
        "kit",
        "SELECT last(value) FROM kit_server_requests_total \
         WHERE service='strings' AND endpoint='uppercase' AND transport='http' \
         AND code='INVALID_ARGUMENT'",
        Duration::from_secs(10),
        |rows| value(rows) == 3,
    );
    let tags: Vec<String> = influx
        .rows("kit", "SHOW TAG KEYS FROM kit_server_requests_total")
        .iter()
        .filter_map(|r| r[0].as_str().map(String::from))
        .collect();
    assert_eq!(tags, ["code", "endpoint", "service", "transport"]);
    assert_eq!(
        field_keys(&influx, "kit_server_requests_total"),
        [("value".to_string(), "integer".to_string())]
    );

    influx.wait_for(
        "kit",
        "SELECT last(count) FROM kit_server_request_duration_seconds \
         WHERE endpoint='uppercase' AND transport='http'",
        Duration::from_secs(10),
        |rows| value(rows) == 15,
    );
    let mut fields: Vec<String> = field_keys(&influx, "kit_server_request_duration_seconds")
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    fields.sort();
    assert_eq!(fields, ["count", "max", "mean", "p50", "p90", "p99", "sum"]);
    let max = influx.rows(
        "kit",
        "SELECT max(max) FROM kit_server_request_duration_seconds WHERE endpoint='uppercase'",
    );
    let max = value(&max).as_f64().expect("a max");
    assert!(max > 0.0 && max < 2.0, "max in seconds: {max}");

    let rss = influx.wait_for(
        "kit",
        "SELECT last(value) FROM process_resident_memory_bytes",
        Duration::from_secs(5),
        |_| true,
    );
    assert!(
        value(&rss).as_f64().is_some_and(|v| v > 1e6),
        "process_resident_memory_bytes: {rss:?}"
    );
    assert_eq!(
        field_keys(&influx, "process_resident_memory_bytes"),
        [("value".to_string(), "float".to_string())]
    );
    assert_eq!(
        value(&influx.rows(
            "kit",
            "SELECT last(value) FROM kit_server_requests_in_flight WHERE endpoint='uppercase'"
        )),
        0.0
    );
}

/// InfluxDB down when the server starts: requests succeed; once it is
/// back, the cumulative counter covers every request.
#[tokio::test]
async fn an_influx_down_at_start_gets_the_totals_once_up() {
    let mut influx = Influx::start();
    influx.create_db("kit");
    influx.stop();
    let mut svc = KitProcess::start("stringsvc", &["--metrics", &influx.url("kit")], &[]);
    let caller = Caller::new();
    uppercase(&caller, &svc, "down", 10).await;
    std::thread::sleep(Duration::from_millis(1500));
    influx.resume();
    uppercase(&caller, &svc, "up", 5).await;
    influx.wait_for("kit", LAST_OK, Duration::from_secs(15), |rows| {
        value(rows) == 15
    });
    assert!(svc.running(), "the server died:\n{}", svc.output());
}
