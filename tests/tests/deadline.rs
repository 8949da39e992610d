//! Deadlines: enforced by the server, sent by the client, propagated
//! across two services with the trace context.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kit::{Code, Server};
use kit_tests::probe::{Chain, ContextView, Front, Probe, ProbeClient};
use kit_tests::{post_json, raw, start};

#[tokio::test]
async fn the_server_cuts_handlers_off_at_their_timeout() {
    let probe = Arc::new(Probe::default());
    let server = start(Server::default().add_shared_service(probe.clone())).await;
    let started = Instant::now();
    let r = post_json(server.addr, "/slow", r#"{"millis": 5000}"#).await;
    let elapsed = started.elapsed();
    assert_eq!(r.status, 504);
    assert_eq!(r.error_status(), "DEADLINE_EXCEEDED");
    assert!(elapsed < Duration::from_millis(1000), "took {elapsed:?}");
    // The handler's future was dropped, not left running.
    assert!(probe.slow_dropped.load(Ordering::SeqCst));
    assert!(!probe.slow_finished.load(Ordering::SeqCst));
}

#[tokio::test]
async fn the_callers_deadline_header_is_honoured() {
    let server = start(Server::default().add_service(Probe::default())).await;
    let started = Instant::now();
    let r = kit_tests::raw(
        server.addr,
        "POST",
        "/sleep",
        &[
            ("content-type", "application/json"),
            ("kit-timeout-ms", "100"),
        ],
        r#"{"millis": 3000}"#,
    )
    .await;
    assert_eq!(r.status, 504);
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn the_smaller_of_caller_deadline_and_endpoint_timeout_wins() {
    let server = start(Server::default().add_service(Probe::default())).await;
    // The caller allows 10 s, the endpoint 200 ms.
    let started = Instant::now();
    let r = raw(
        server.addr,
        "POST",
        "/slow",
        &[
            ("content-type", "application/json"),
            ("kit-timeout-ms", "10000"),
        ],
        r#"{"millis": 3000}"#,
    )
    .await;
    assert_eq!(r.status, 504);
    assert!(started.elapsed() < Duration::from_millis(1000));
}

#[tokio::test]
async fn the_client_applies_the_endpoint_timeout() {
    let server = start(Server::default().add_service(Probe::default())).await;
    let client = ProbeClient::connect(server.url()).await.unwrap();
    let err = client.slow(3000).await.unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);
    // A builder timeout applies to endpoints without one.
    let client = ProbeClient::builder()
        .base_url(server.url())
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client.sleep(3000).await.unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);
    assert!(started.elapsed() < Duration::from_millis(1000));
}

#[tokio::test]
async fn trace_and_deadline_propagate_across_two_services() {
    let back = start(Server::default().add_service(Probe::default())).await;
    let probe = ProbeClient::connect(back.url()).await.unwrap();
    let front = start(Server::default().add_service(Front { probe })).await;

    let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let r = raw(front.addr, "GET", "/chain", &[("traceparent", parent)], "").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let chain: Chain = serde_json::from_slice(&r.body).unwrap();

    // Both hops belong to the caller's trace.
    assert_eq!(chain.front.trace_id, "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(chain.back.trace_id, chain.front.trace_id);
    assert_eq!(chain.front.parent_span.as_deref(), Some("b7ad6b7169203331"));
    assert!(chain.back.parent_span.is_some());
    assert_ne!(chain.back.parent_span, chain.front.parent_span);

    // `context` has no timeout of its own: its deadline came from the front's
    // 1500 ms, and is no later than the front's.
    let front_left = chain.front.remaining_ms.expect("front has a deadline");
    let back_left = chain.back.remaining_ms.expect("deadline propagated");
    assert!(front_left <= 1500);
    assert!(
        back_left <= front_left,
        "back {back_left} ms > front {front_left} ms"
    );
}

#[tokio::test]
async fn without_a_caller_each_request_starts_a_new_trace() {
    let server = start(Server::default().add_service(Probe::default())).await;
    let client = ProbeClient::connect(server.url()).await.unwrap();
    let a: ContextView = client.context().await.unwrap();
    let b: ContextView = client.context().await.unwrap();
    assert_ne!(a.trace_id, b.trace_id);
    // No caller deadline: the server's default request timeout (30 s).
    let left = a.remaining_ms.unwrap();
    assert!((25_000..=30_000).contains(&left), "{left}");
}
