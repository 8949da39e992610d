//! Metrics pushed to a real Graphite carbon-cache over the plaintext
//! protocol: `--metrics graphite://HOST:PORT[/PREFIX]?interval=1s`.
//! Counters are cumulative, gauges their value, histograms
//! `NAME.LABELS.count` and `.sum` (cumulative) and `.mean`, `.p50`, `.p90`,
//! `.p99`, `.max` over the interval. What is asserted is what carbon wrote
//! to its whisper files.

use std::time::Duration;

use kit_tests::observe::carbon::Carbon;
use kit_tests::observe::statsd::Statsd;
use kit_tests::observe::{Caller, KitProcess};

const OK: &str = "kit_server_requests_total.strings.uppercase.http.OK";
const DURATION: &str = "kit_server_request_duration_seconds.strings.uppercase.http";

async fn uppercase(caller: &Caller, svc: &KitProcess, n: usize) {
    for _ in 0..n {
        let r = caller
            .post_json(svc.addr, "/uppercase", &[], r#"{"s":"hi"}"#)
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
}

fn latest_is(points: &[(u64, f64)], want: f64) -> bool {
    points.last().is_some_and(|p| p.1 == want)
}

#[tokio::test]
async fn carbon_stores_totals_histograms_and_process_gauges() {
    let carbon = Carbon::start();
    let svc = KitProcess::start("stringsvc", &["--metrics", &carbon.url(None)], &[]);
    let caller = Caller::new();
    uppercase(&caller, &svc, 30).await;
    let bad = caller
        .post_json(svc.addr, "/uppercase", &[], r#"{"s":""}"#)
        .await;
    assert_eq!(bad.status, 400);

    carbon.wait_for(OK, Duration::from_secs(10), |p| latest_is(p, 30.0));
    carbon.wait_for(
        "kit_server_requests_total.strings.uppercase.http.INVALID_ARGUMENT",
        Duration::from_secs(10),
        |p| latest_is(p, 1.0),
    );
    carbon.wait_for(&format!("{DURATION}.count"), Duration::from_secs(10), |p| {
        latest_is(p, 31.0)
    });
    let sum = carbon
        .latest(&format!("{DURATION}.sum"))
        .unwrap_or_else(|| panic!("no .sum; carbon has {:?}", carbon.metrics()));
    assert!(sum > 0.0 && sum < 31.0, "sum of 31 quick requests: {sum} s");
    for stat in ["mean", "p50", "p90", "p99", "max"] {
        let points = carbon.wait_for(
            &format!("{DURATION}.{stat}"),
            Duration::from_secs(5),
            |_| true,
        );
        assert!(
            points.iter().any(|p| p.1 > 0.0 && p.1 < 2.0),
            "{stat} in seconds: {points:?}"
        );
    }
    let rss = carbon.wait_for(
        "process_resident_memory_bytes",
        Duration::from_secs(5),
        |_| true,
    );
    assert!(
        rss.last().is_some_and(|p| p.1 > 1e6),
        "process_resident_memory_bytes: {rss:?}"
    );
    // Totals stay totals in later pushes.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(carbon.latest(OK), Some(30.0));
    for name in carbon.metrics() {
        assert!(
            name.split('.').all(|part| !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')),
            "{name}"
        );
    }
}

/// Histogram statistics are in seconds, as the metric's name says.
#[tokio::test]
async fn carbon_histograms_are_in_seconds() {
    let carbon = Carbon::start();
    let svc = KitProcess::start("slowsvc", &["--metrics", &carbon.url(Some("slow"))], &[]);
    let caller = Caller::new();
    for _ in 0..3 {
        let r = caller
            .post_json(svc.addr, "/sleep", &[], r#"{"millis":120}"#)
            .await;
        assert_eq!(r.status, 200);
    }
    let base = "slow.kit_server_request_duration_seconds.probe.sleep.http";
    carbon.wait_for(&format!("{base}.count"), Duration::from_secs(10), |p| {
        latest_is(p, 3.0)
    });
    let max = carbon.wait_for(&format!("{base}.max"), Duration::from_secs(5), |_| true);
    assert!(
        max.iter().any(|p| p.1 >= 0.12 && p.1 < 2.0),
        "max of 120 ms sleeps, in seconds: {max:?}"
    );
    let sum = carbon.latest(&format!("{base}.sum")).expect(".sum");
    assert!(
        (0.36..6.0).contains(&sum),
        "sum of three 120 ms sleeps: {sum}"
    );
}

/// Carbon down when the server starts: requests succeed, and once carbon
/// is up the cumulative counter covers every request, those made while it
/// was down included.
#[tokio::test]
async fn a_carbon_down_at_start_gets_the_totals_once_up() {
    let mut carbon = Carbon::start();
    carbon.stop();
    let mut svc = KitProcess::start("stringsvc", &["--metrics", &carbon.url(None)], &[]);
    let caller = Caller::new();
    uppercase(&caller, &svc, 10).await;
    std::thread::sleep(Duration::from_millis(1500));
    carbon.resume();
    uppercase(&caller, &svc, 5).await;
    carbon.wait_for(OK, Duration::from_secs(15), |p| latest_is(p, 15.0));
    assert!(svc.running(), "the server died:\n{}", svc.output());
}

/// `KIT_METRICS` lists several backends, space-separated; each gets every
/// metric under its own prefix.
#[tokio::test]
async fn kit_metrics_pushes_to_several_backends() {
    let carbon = Carbon::start();
    let statsd = Statsd::start(250);
    let urls = format!(
        "{} {}",
        carbon.url(Some("team.web")),
        statsd.url(Some("edge"))
    );
    let svc = KitProcess::start("stringsvc", &[], &[("KIT_METRICS", &urls)]);
    let caller = Caller::new();
    uppercase(&caller, &svc, 4).await;
    carbon.wait_for(&format!("team.web.{OK}"), Duration::from_secs(10), |p| {
        latest_is(p, 4.0)
    });
    statsd.wait_for(Duration::from_secs(10), "4 requests", |s| {
        s.counter(&format!("edge.{OK}")) == Some(4.0)
    });
}
