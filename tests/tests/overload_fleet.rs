//! Admission control across a fleet: an instance that sheds load nacks
//! (503 / UNAVAILABLE with `kit-nack: 1`, not processed), and kit's client
//! sends the call to another instance, even for an endpoint that is not
//! idempotent and has no retries, so callers see no failure.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use kit::config::Concurrency;
use kit::{Config, Server, Transport};
use kit_tests::probe::{Probe, ProbeClient};
use kit_tests::start;

/// Three probe servers; the first runs one request at a time (`sleep` at
/// most once at a time) and is kept busy by a long call.
async fn fleet() -> (Vec<kit_tests::Running>, Vec<Arc<Probe>>) {
    let mut servers = Vec::new();
    let mut probes = Vec::new();
    for i in 0..3 {
        let probe = Arc::new(Probe::default());
        let config = Config {
            concurrency: if i == 0 {
                Concurrency::Fixed(1)
            } else {
                Concurrency::Off
            },
            ..Config::default()
        };
        servers.push(start(Server::new(config).add_shared_service(probe.clone())).await);
        probes.push(probe);
    }
    (servers, probes)
}

async fn no_failures_when_one_instance_sheds(transport: Transport) {
    let (servers, probes) = fleet().await;
    // Keep instance 0 at its limit: every other call to it is nacked.
    let busy = ProbeClient::builder()
        .base_url(servers[0].url())
        .transport(transport)
        .build()
        .unwrap();
    let hog = tokio::spawn(async move {
        loop {
            let _ = busy.sleep(300u64).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;

    let client = ProbeClient::builder()
        .base_url(servers[0].url())
        .base_url(servers[1].url())
        .base_url(servers[2].url())
        .transport(transport)
        .balance(kit::lb::RoundRobin)
        .build()
        .unwrap();
    let calls = 600;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut failed = Vec::new();
            for _ in 0..calls / 8 {
                // `sleep` is not idempotent and has no retries.
                if let Err(e) = client.sleep(1u64).await {
                    failed.push(e.to_string());
                }
            }
            failed
        }));
    }
    let mut failed = Vec::new();
    for t in tasks {
        failed.extend(t.await.unwrap());
    }
    hog.abort();
    let served: u64 = probes
        .iter()
        .map(|p| p.completed_sleeps.load(Ordering::SeqCst))
        .sum();
    let stats = client.instance_stats();
    let to_busy = stats
        .iter()
        .find(|s| s.url.trim_end_matches('/') == servers[0].url())
        .map_or(0, |s| s.served);
    println!(
        "{transport:?}: {calls} calls, {} failed; attempts sent to the shedding instance: {to_busy}; completed: {served} (the shedding instance's long calls included)",
        failed.len()
    );
    assert!(failed.is_empty(), "client-visible failures: {failed:?}");
    assert!(
        to_busy >= 50,
        "round robin sent only {to_busy} attempts to the shedding instance: nothing was nacked"
    );
    assert!(served >= calls as u64, "{served}");
    // The nacks were counted by the shedding server, as not processed.
    let metrics = reqwest_metrics(&servers[0].url()).await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("kit_server_rejected_total")
                && l.contains("reason=\"concurrency\"")
                && l.contains("endpoint=\"sleep\"")),
        "{metrics}"
    );
}

async fn reqwest_metrics(base: &str) -> String {
    let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let response = kit_tests::raw(addr, "GET", "/metrics", &[], "").await;
    String::from_utf8_lossy(&response.body).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nacked_http_call_goes_to_another_instance() {
    no_failures_when_one_instance_sheds(Transport::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nacked_grpc_call_goes_to_another_instance() {
    no_failures_when_one_instance_sheds(Transport::Grpc).await;
}
