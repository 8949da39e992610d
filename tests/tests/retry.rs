//! Client retries against a real server that fails N times.

use std::time::{Duration, Instant};

use kit::retry::{Backoff, RetryBudget};
use kit::{Code, Server};
use kit_tests::probe::{Probe, ProbeClient};
use kit_tests::start;

fn fast_backoff() -> Backoff {
    Backoff {
        base: Duration::from_millis(1),
        max: Duration::from_millis(5),
    }
}

async fn setup() -> (kit_tests::Running, std::sync::Arc<Probe>, ProbeClient) {
    let probe = std::sync::Arc::new(Probe::default());
    let server = start(Server::default().add_shared_service(probe.clone())).await;
    let client = ProbeClient::builder()
        .base_url(server.url())
        .backoff(fast_backoff())
        .build()
        .unwrap();
    (server, probe, client)
}

#[tokio::test]
async fn idempotent_calls_are_retried_until_they_succeed() {
    let (_server, probe, client) = setup().await;
    // Fails twice, then succeeds on the third attempt: within retry = 3.
    assert_eq!(client.flaky("a", 2).await.unwrap(), 3);
    assert_eq!(probe.attempts("a"), 3);
}

#[tokio::test]
async fn retries_stop_at_the_configured_count() {
    let (_server, probe, client) = setup().await;
    let err = client.flaky("b", 10).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert_eq!(probe.attempts("b"), 4, "one call plus retry = 3");
}

#[tokio::test]
async fn non_idempotent_calls_that_reached_the_server_are_not_retried() {
    let (_server, probe, client) = setup().await;
    let err = client.flaky_unsafe("c", 1).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert_eq!(probe.attempts("c"), 1);
}

#[tokio::test]
async fn calls_that_never_reached_a_server_are_retried_even_if_not_idempotent() {
    let probe = std::sync::Arc::new(Probe::default());
    let server = start(Server::default().add_shared_service(probe.clone())).await;
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // Round-robin: the first attempt goes to the dead address (connection
    // refused), the retry to the live one.
    let client = ProbeClient::builder()
        .base_url(format!("http://{dead}"))
        .base_url(server.url())
        .backoff(fast_backoff())
        .build()
        .unwrap();
    assert_eq!(client.flaky_unsafe("d", 0).await.unwrap(), 1);
    assert_eq!(probe.attempts("d"), 1);
}

#[tokio::test]
async fn an_empty_budget_allows_no_retries() {
    let probe = std::sync::Arc::new(Probe::default());
    let server = start(Server::default().add_shared_service(probe.clone())).await;
    let client = ProbeClient::builder()
        .base_url(server.url())
        .backoff(fast_backoff())
        .retry_budget(RetryBudget::new(Duration::from_secs(1), 0, 0.0))
        .build()
        .unwrap();
    assert!(client.flaky("e", 1).await.is_err());
    assert_eq!(probe.attempts("e"), 1);
}

#[tokio::test]
async fn retrying_never_exceeds_the_deadline() {
    let probe = std::sync::Arc::new(Probe::default());
    let server = start(Server::default().add_shared_service(probe.clone())).await;
    let client = ProbeClient::builder()
        .base_url(server.url())
        .backoff(Backoff {
            base: Duration::from_millis(40),
            max: Duration::from_millis(80),
        })
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client.down("f").await.unwrap_err();
    let elapsed = started.elapsed();
    // `down` allows 50 retries but has a 300 ms timeout; 50 retries with
    // 20-80 ms backoffs would take over 2 s.
    assert!(elapsed < Duration::from_millis(1000), "took {elapsed:?}");
    assert!(
        matches!(err.code(), Code::Unavailable | Code::DeadlineExceeded),
        "{err}"
    );
    let attempts = probe.attempts("f");
    assert!((2..50).contains(&attempts), "{attempts} attempts");
}

#[tokio::test]
async fn builder_override_disables_retries() {
    let probe = std::sync::Arc::new(Probe::default());
    let server = start(Server::default().add_shared_service(probe.clone())).await;
    let client = ProbeClient::builder()
        .base_url(server.url())
        .retries(0)
        .build()
        .unwrap();
    assert!(client.flaky("g", 1).await.is_err());
    assert_eq!(probe.attempts("g"), 1);
}
