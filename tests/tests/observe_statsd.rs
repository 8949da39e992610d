//! Metrics pushed to a real statsd (Etsy's daemon): `--metrics
//! statsd://HOST:PORT[/PREFIX]?interval=1s`. Names are
//! `[PREFIX.]NAME.SERVICE.ENDPOINT.TRANSPORT[.CODE]`; counters arrive as
//! per-push increments (`|c`), so statsd's total is the number of requests;
//! gauges as `|g`; every histogram sample as a timer in milliseconds
//! (`|ms`). What is asserted is what statsd aggregated and flushed.

use std::time::Duration;

use kit_tests::observe::statsd::Statsd;
use kit_tests::observe::{grpc_unary, proto_string, Caller, KitProcess};

const OK: &str = "kit_server_requests_total.strings.uppercase.http.OK";

async fn uppercase(caller: &Caller, svc: &KitProcess, s: &str, n: usize) {
    let body = serde_json::json!({ "s": s }).to_string();
    for _ in 0..n {
        let r = caller.post_json(svc.addr, "/uppercase", &[], &body).await;
        let want = if s.is_empty() { 400 } else { 200 };
        assert_eq!(r.status, want, "{}", String::from_utf8_lossy(&r.body));
    }
}

#[tokio::test]
async fn statsd_counts_every_request_and_times_it() {
    let statsd = Statsd::start(250);
    let svc = KitProcess::start("stringsvc", &["--metrics", &statsd.url(Some("kit"))], &[]);
    let caller = Caller::new();
    uppercase(&caller, &svc, "hi", 25).await;
    uppercase(&caller, &svc, "", 5).await;
    for _ in 0..7 {
        grpc_unary(
            svc.addr,
            "/strings.v1.StringService/Uppercase",
            proto_string("hi"),
            &[],
        )
        .await
        .expect("Uppercase over gRPC");
    }

    statsd.wait_for(Duration::from_secs(10), "the requests counted", |s| {
        s.counter(&format!("kit.{OK}")) == Some(25.0)
            && s.counter("kit.kit_server_requests_total.strings.uppercase.http.INVALID_ARGUMENT")
                == Some(5.0)
            && s.counter("kit.kit_server_requests_total.strings.uppercase.grpc.OK") == Some(7.0)
            && s.timer_count("kit.kit_server_request_duration_seconds.strings.uppercase.http")
                == Some(30.0)
            && s.timer_count("kit.kit_server_request_duration_seconds.strings.uppercase.grpc")
                == Some(7.0)
    });
    // Later pushes add nothing: increments, not totals.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(statsd.counter(&format!("kit.{OK}")), Some(25.0));
    assert_eq!(
        statsd.timer_count("kit.kit_server_request_duration_seconds.strings.uppercase.http"),
        Some(30.0)
    );
    assert_eq!(
        statsd.gauge("kit.kit_server_requests_in_flight.strings.uppercase.http"),
        Some(0.0),
        "flushed: {:?}",
        statsd.names()
    );
    let rss = statsd
        .gauge("kit.process_resident_memory_bytes")
        .unwrap_or_else(|| panic!("no memory gauge in {:?}", statsd.names()));
    assert!(rss > 1e6, "process_resident_memory_bytes {rss}");
    assert_eq!(statsd.bad_lines(), 0.0, "statsd could not parse some lines");
    for name in statsd.names() {
        assert!(
            name.starts_with("kit.")
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)),
            "{name}"
        );
    }
}

/// Histogram samples in seconds arrive as milliseconds.
#[tokio::test]
async fn statsd_timers_are_in_milliseconds() {
    let statsd = Statsd::start(250);
    let svc = KitProcess::start("slowsvc", &["--metrics", &statsd.url(None)], &[]);
    let caller = Caller::new();
    for _ in 0..3 {
        let r = caller
            .post_json(svc.addr, "/sleep", &[], r#"{"millis":120}"#)
            .await;
        assert_eq!(r.status, 200);
    }
    let name = "kit_server_request_duration_seconds.probe.sleep.http";
    statsd.wait_for(Duration::from_secs(10), "3 sleeps timed", |s| {
        s.timer_count(name) == Some(3.0)
    });
    let t = statsd.timer(name).expect("timer");
    assert!(
        t.lower >= 120.0 && t.upper < 2000.0,
        "120 ms sleeps timed {t:?} (milliseconds expected)"
    );
}

/// statsd down when the server starts: the server serves; once statsd is
/// up, what follows arrives.
#[tokio::test]
async fn a_statsd_down_at_start_blocks_nothing() {
    let mut statsd = Statsd::start(250);
    statsd.stop();
    let mut svc = KitProcess::start("stringsvc", &["--metrics", &statsd.url(None)], &[]);
    let caller = Caller::new();
    uppercase(&caller, &svc, "down", 10).await;
    // Pushes made while it was down are lost (UDP): let them go first.
    std::thread::sleep(Duration::from_millis(1500));
    statsd.resume();
    uppercase(&caller, &svc, "up", 5).await;
    statsd.wait_for(
        Duration::from_secs(10),
        "the requests after the restart",
        |s| s.counter(OK).is_some_and(|n| n >= 5.0),
    );
    let n = statsd.counter(OK).unwrap_or(0.0);
    assert!((5.0..=15.0).contains(&n), "counted {n} of 15 requests");
    assert!(svc.running(), "the server died:\n{}", svc.output());
}

/// A metrics URL kit cannot use stops the server at start, naming it.
#[test]
fn a_bad_metrics_url_is_a_start_up_error() {
    for bad in [
        "foo://x",
        "statsd://",
        "graphite://:2003",
        "influx://127.0.0.1:8086",
        "statsd://127.0.0.1:8125?interval=0s",
    ] {
        let (code, output) = KitProcess::run_to_exit(
            "stringsvc",
            &["--metrics", bad],
            &[],
            Duration::from_secs(10),
        );
        assert!(
            matches!(code, Some(c) if c != 0),
            "--metrics {bad}: exit {code:?}\n{output}"
        );
        assert!(
            output.contains(bad),
            "--metrics {bad}: the message names it:\n{output}"
        );
    }
    let (code, output) = KitProcess::run_to_exit(
        "stringsvc",
        &[],
        &[("KIT_METRICS", "statsd://127.0.0.1:8125 foo://x")],
        Duration::from_secs(10),
    );
    assert!(
        matches!(code, Some(c) if c != 0),
        "KIT_METRICS: exit {code:?}\n{output}"
    );
    assert!(output.contains("foo://x"), "{output}");
}
