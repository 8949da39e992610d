//! Load balancing and failure handling over real instances: P2C over
//! peak-EWMA against round robin with one slow instance, failure accrual
//! ejecting and probing a dead instance, requeues of requests that were
//! never sent, the client-wide circuit breaker, and discovery URLs that
//! are wrong.

use std::time::Duration;

use kit::lb::{Accrual, Breaker, P2c, Policy, RoundRobin};
use kit::Code;
use kit_tests::fleet::{self, instance, set, Load, Logs};
use kit_tests::registry::within;
use stringsvc::StringServiceClient;

fn fixed_client(urls: &[String], policy: impl Into<Policy>) -> StringServiceClient {
    StringServiceClient::builder()
        .discover(kit::sd::fixed(urls.iter().cloned()))
        .balance(policy)
        .build()
        .expect("client")
}

/// Share of calls the slow instance served and the client's p99.
async fn run_against_slow(policy: Policy, urls: &[String], slow: &str) -> (f64, Duration, u64) {
    let client = fixed_client(urls, policy);
    fleet::calls(&client, 30).await;
    let load = Load::start(&client, 8, true);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let report = load.finish().await;
    assert_eq!(report.failed, 0, "{:?}", report.errors);
    let total: u64 = client.instance_stats().iter().map(|i| i.served).sum();
    let share = fleet::served_by(&client, slow) as f64 / total as f64;
    (share, report.quantile(0.99), total)
}

/// One of three instances answers 50 ms late. P2C over peak-EWMA sends it
/// well under its fair third and keeps p99 near the healthy instances';
/// round robin gives it a third and its latency.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p2c_keeps_a_slow_instance_under_its_share_round_robin_does_not() {
    let a = instance(None, None).await;
    let b = instance(None, None).await;
    let slow = instance(None, Some(Duration::from_millis(50))).await;
    let urls = [a.url(), b.url(), slow.url()];
    let (p2c_share, p2c_p99, p2c_total) =
        run_against_slow(P2c::peak_ewma(), &urls, &slow.url()).await;
    let (rr_share, rr_p99, rr_total) =
        run_against_slow(RoundRobin.into(), &urls, &slow.url()).await;
    eprintln!(
        "slow instance (+50 ms), 8 in flight for 3 s: P2C peak-EWMA gave it {:.2}% of {p2c_total} \
         calls, p99 {p2c_p99:?}; round robin {:.2}% of {rr_total}, p99 {rr_p99:?}",
        p2c_share * 100.0,
        rr_share * 100.0
    );
    assert!(
        p2c_share < 0.05,
        "P2C sent the slow instance {:.1}%",
        p2c_share * 100.0
    );
    assert!(
        rr_share > 0.25,
        "round robin sent it {:.1}%",
        rr_share * 100.0
    );
    assert!(rr_p99 >= Duration::from_millis(50), "{rr_p99:?}");
    assert!(p2c_p99 < rr_p99, "P2C p99 {p2c_p99:?} vs RR {rr_p99:?}");
}

/// A dead address among live ones: requests to it are never sent
/// (connection refused), so even a non-idempotent call moves to another
/// instance; five failures eject it; once it listens again, one probe
/// brings it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_instance_is_ejected_then_probed_back() {
    let logs = Logs::capture();
    let a = instance(None, None).await;
    let dead_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let dead = format!("http://127.0.0.1:{dead_port}");
    let client = StringServiceClient::builder()
        .discover(kit::sd::fixed([a.url(), dead.clone()]))
        .balance(RoundRobin)
        .failure_accrual(
            Accrual::consecutive(5).ejection(Duration::from_millis(300), Duration::from_secs(1)),
        )
        .build()
        .expect("client");
    for i in 0..40 {
        // `count` is not idempotent and has no retries: only requeues of
        // requests that were never sent save it.
        assert_eq!(
            client.count(format!("call {i}")).await.expect("count"),
            6 + i.to_string().len() as u64 - 1
        );
    }
    let stats = client.instance_stats();
    let dead_stats = stats.iter().find(|s| s.url == dead).expect("dead listed");
    assert!(dead_stats.failures >= 5, "{stats:#?}");
    assert!(
        !logs.lines_with("instance ejected").is_empty(),
        "{}",
        logs.text()
    );
    // The state is in /metrics (the instances in this process installed
    // the Prometheus recorder the client records into).
    let metrics = kit_tests::raw(a.addr, "GET", "/metrics", &[], "").await;
    let text = String::from_utf8_lossy(&metrics.body);
    for line in [
        "kit_client_instances{service=\"strings\",state=\"ejected\"} 1",
        "kit_client_instances{service=\"strings\",state=\"live\"} 1",
        "kit_client_ejections_total{service=\"strings\"} 1",
    ] {
        assert!(text.contains(line), "{line} not in\n{text}");
    }
    // It comes to life on the same port: probed, restored.
    let server = kit::Server::new(kit::Config::default())
        .add_service(stringsvc::StringService)
        .http_addr(([127, 0, 0, 1], dead_port).into())
        .bind()
        .await
        .expect("the dead port is free again");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let _revived = kit_tests::Running::new(
        server.local_addr(),
        tx,
        tokio::spawn(server.run_until(async move {
            let _ = rx.await;
        })),
    );
    let back = within(Duration::from_secs(10), || {
        futures_lite_call(&client);
        fleet::live(&client).contains(&dead)
    })
    .await;
    assert!(back.is_some(), "{:#?}", client.instance_stats());
    assert!(!logs.lines_with("instance restored").is_empty());
}

/// Fires one call without waiting, so probes happen while polling.
fn futures_lite_call(client: &StringServiceClient) {
    let c = client.clone();
    tokio::spawn(async move {
        let _ = c.uppercase("probe").await;
    });
}

/// Every instance dead: the breaker opens on the error rate and fails
/// calls fast with UNAVAILABLE saying why; when an instance answers again
/// a half-open probe closes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_circuit_breaker_fails_fast_and_closes_again() {
    let logs = Logs::capture();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let client = StringServiceClient::builder()
        .discover(kit::sd::fixed([url.clone()]))
        .failure_accrual(Accrual::off())
        .circuit_breaker(
            Breaker::new(0.5)
                .min_volume(10)
                .timing(Duration::from_secs(10), Duration::from_millis(500)),
        )
        .build()
        .expect("client");
    let mut fast = None;
    for _ in 0..50 {
        let e = client.count("x").await.expect_err("nothing listens");
        assert_eq!(e.code(), Code::Unavailable, "{e}");
        if e.message().contains("circuit breaker open") {
            fast = Some(e);
            break;
        }
    }
    let e = fast.expect("the breaker opened");
    assert!(e.message().contains("strings.count"), "{e}");
    assert!(!logs.lines_with("circuit breaker opened").is_empty());

    let server = kit::Server::new(kit::Config::default())
        .add_service(stringsvc::StringService)
        .http_addr(([127, 0, 0, 1], port).into())
        .bind()
        .await
        .expect("the port is free again");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let _up = kit_tests::Running::new(
        server.local_addr(),
        tx,
        tokio::spawn(server.run_until(async move {
            let _ = rx.await;
        })),
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(client.uppercase("ok").await.expect("half-open probe"), "OK");
    fleet::calls(&client, 10).await;
    assert!(!logs.lines_with("circuit breaker closed").is_empty());
}

/// Retries of an idempotent call leave the instance that failed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retries_go_to_another_instance() {
    let a = instance(None, None).await;
    let b = instance(None, None).await;
    let dead = "http://127.0.0.1:9".to_string();
    // Round robin would send every third attempt to the dead one; with
    // accrual off it stays in rotation, and every call must still succeed
    // on its first retry, elsewhere.
    let client = StringServiceClient::builder()
        .discover(kit::sd::fixed([dead.clone(), a.url(), b.url()]))
        .balance(RoundRobin)
        .failure_accrual(Accrual::off())
        .build()
        .expect("client");
    fleet::calls(&client, 60).await;
    let stats = client.instance_stats();
    let served: u64 = stats.iter().map(|s| s.served).sum();
    let dead_failures = stats.iter().find(|s| s.url == dead).map(|s| s.failures);
    assert!(dead_failures >= Some(15), "{stats:#?}");
    assert_eq!(served, 60 + dead_failures.unwrap_or(0), "{stats:#?}");
    assert_eq!(
        fleet::urls(&client),
        set([dead, a.url(), b.url()]),
        "accrual off: nothing ejected"
    );
}

#[test]
fn wrong_discovery_urls_are_one_clear_line() {
    let (code, _, err) =
        fleet::stringcli(&["--discover", "gopher://127.0.0.1/strings", "uppercase", "x"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown scheme `gopher`"), "{err}");
    let (code, _, err) =
        fleet::stringcli(&["--discover", "etcd://127.0.0.1:2379", "uppercase", "x"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no service name"), "{err}");
    let (code, _, err) = fleet::stringcli(&[
        "--discover",
        "dns://127.0.0.1:53/strings.test",
        "uppercase",
        "x",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("HOSTNAME:PORT"), "{err}");

    let svc = |args: &[&str]| {
        let out = std::process::Command::new(kit_tests::workspace_bin("stringsvc"))
            .args(["--http-addr", "127.0.0.1:0"])
            .args(args)
            .output()
            .expect("stringsvc runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = svc(&["--register", "gopher://127.0.0.1/strings"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("unknown scheme `gopher`"), "{err}");
    let (code, err) = svc(&["--register", "dns+srv:///_strings._tcp.example"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("not a registry"), "{err}");
    let (code, err) = svc(&["--advertise-addr", "http://10.0.0.1:80"]);
    assert_ne!(code, Some(0));
    assert!(
        err.contains("--advertise-addr `http://10.0.0.1:80`"),
        "{err}"
    );
    // An empty KIT_REGISTER-style value registers nowhere (and serves):
    // checked by the server starting and answering /health/live.
    // A registry that is not there: the server does not start half-announced.
    let (code, err) = svc(&["--register", "etcd://127.0.0.1:9/strings"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("etcd://127.0.0.1:9/strings"), "{err}");
}

/// The same over gRPC: calls spread, retries and requeues leave a dead
/// instance, accrual ejects it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_grpc_too() {
    let a = instance(None, None).await;
    let b = instance(None, None).await;
    let dead = "http://127.0.0.1:9".to_string();
    let client = StringServiceClient::builder()
        .transport(kit::Transport::Grpc)
        .discover(kit::sd::fixed([dead.clone(), a.url(), b.url()]))
        .build()
        .expect("client");
    for i in 0..40 {
        assert_eq!(client.count(format!("{i:03}")).await.expect("count"), 3);
    }
    fleet::assert_spread(
        &client,
        &set([a.url(), b.url()]),
        Duration::from_millis(500),
    )
    .await;
    let stats = client.instance_stats();
    let dead_stats = stats.iter().find(|s| s.url == dead).expect("listed");
    assert_eq!(dead_stats.state, "ejected", "{stats:#?}");
}

/// Every instance ejected: calls fail at once with UNAVAILABLE saying so,
/// even for an endpoint with retries (nothing to retry on).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn all_ejected_fails_fast_without_retrying() {
    let client = StringServiceClient::builder()
        .discover(kit::sd::fixed(["http://127.0.0.1:9"]))
        .failure_accrual(
            Accrual::consecutive(1).ejection(Duration::from_secs(60), Duration::from_secs(60)),
        )
        // A retry would sleep at least half a second: visible below.
        .backoff(kit::retry::Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(1),
        })
        .build()
        .expect("client");
    let _ = client.count("x").await; // the failure that ejects it
    for _ in 0..5 {
        let started = std::time::Instant::now();
        let e = client.uppercase("x").await.expect_err("ejected");
        assert_eq!(e.code(), Code::Unavailable);
        assert!(e.message().contains("ejected"), "{e}");
        assert!(
            started.elapsed() < Duration::from_millis(400),
            "retried: {:?}",
            started.elapsed()
        );
    }
}

/// A client built and used before this process served anything: its
/// metrics reach the Prometheus recorder a kit server installs later,
/// and two clients of one service add up in kit_client_instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_metrics_survive_a_recorder_installed_later() {
    let remote = kit_tests::fleet::Process::start(&[]);
    let early = fixed_client(std::slice::from_ref(&remote.url), P2c::peak_ewma());
    fleet::calls(&early, 3).await;
    // Now a server in this process installs kit's recorder.
    let local = instance(None, None).await;
    let late = fixed_client(&[remote.url.clone(), local.url()], P2c::peak_ewma());
    fleet::calls(&early, 3).await;
    fleet::calls(&late, 3).await;
    let metrics = kit_tests::raw(local.addr, "GET", "/metrics", &[], "").await;
    let text = String::from_utf8_lossy(&metrics.body);
    for line in [
        "kit_client_requests_total{service=\"strings\",endpoint=\"uppercase\",transport=\"http\",code=\"OK\"} 6",
        // early knows 1 instance, late 2: 3 live in all.
        "kit_client_instances{service=\"strings\",state=\"live\"} 3",
        "kit_client_discovery_stale{service=\"strings\"} 0",
    ] {
        assert!(text.contains(line), "{line} not in\n{text}");
    }
    drop(early);
    let metrics = kit_tests::raw(local.addr, "GET", "/metrics", &[], "").await;
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.contains("kit_client_instances{service=\"strings\",state=\"live\"} 2"),
        "a dropped client takes its share back:\n{text}"
    );
}
