//! Consul discovery and registration, tested against a FAKE: no Consul
//! server installs on this machine, so these tests run kit's Consul
//! backend against `kit_tests::registry::consul_fake`, an in-process
//! stand-in that implements exactly the four documented endpoints kit
//! uses. What they show is that kit speaks the documented API; they do
//! not show that a real agent agrees.

use std::time::{Duration, Instant};

use kit::sd::Registrar;
use kit_tests::fleet::{self, instance, set, urls, Logs};
use kit_tests::registry::consul_fake::ConsulFake;
use kit_tests::registry::{median_max, within};
use stringsvc::StringServiceClient;

fn client(consul: &ConsulFake) -> StringServiceClient {
    StringServiceClient::builder()
        .discover(kit::sd::from_url(&consul.url("strings")).expect("url"))
        .build()
        .expect("client")
}

fn registrar(consul: &ConsulFake) -> Option<Box<dyn Registrar>> {
    kit::sd::from_url(&consul.url("strings"))
        .and_then(|s| s.registrar())
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fake_consul_registration_discovery_and_blocking_queries() {
    let consul = ConsulFake::start().await;
    let a = instance(registrar(&consul), None).await;
    let b = instance(registrar(&consul), None).await;
    let client = client(&consul);
    let all = set([a.url(), b.url()]);
    within(Duration::from_secs(10), || urls(&client) == all)
        .await
        .unwrap_or_else(|| panic!("the client saw {:?}", urls(&client)));
    fleet::assert_spread(&client, &all, Duration::from_millis(500)).await;

    // Registered by another Consul client: used; deregistered: gone.
    let c = instance(None, None).await;
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let t0 = Instant::now();
        consul.add("strings", "other-client-c", "127.0.0.1", c.addr.port());
        within(Duration::from_secs(5), || urls(&client).contains(&c.url()))
            .await
            .expect("the blocking query returned the new instance");
        added.push(t0.elapsed());
        let t0 = Instant::now();
        consul.remove("other-client-c");
        within(Duration::from_secs(5), || !urls(&client).contains(&c.url()))
            .await
            .expect("the blocking query returned the removal");
        removed.push(t0.elapsed());
    }
    let (add_median, add_max) = median_max(&mut added);
    let (rm_median, rm_max) = median_max(&mut removed);
    eprintln!(
        "Consul (FAKE agent) propagation over 10 changes: add median {add_median:.1} ms, max \
         {add_max:.1} ms; remove median {rm_median:.1} ms, max {rm_max:.1} ms"
    );
    assert!(add_max < 1000.0 && rm_max < 1000.0);

    // The agent restarts empty: the TTL heartbeat finds its check unknown
    // and registers again.
    consul.forget_all();
    within(Duration::from_secs(10), || consul.ids("strings").len() == 2)
        .await
        .expect("both servers registered again");

    // Only documented endpoints were used.
    for r in consul.requests() {
        assert!(
            r.starts_with("GET /v1/health/service/strings")
                || r == "PUT /v1/agent/service/register"
                || r.starts_with("PUT /v1/agent/check/pass/service:")
                || r.starts_with("PUT /v1/agent/service/deregister/"),
            "kit called {r}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fake_consul_deregistration_comes_first_on_shutdown() {
    let consul = ConsulFake::start().await;
    let mut a = instance(registrar(&consul), None).await;
    let b = instance(registrar(&consul), None).await;
    let client = client(&consul);
    within(Duration::from_secs(10), || {
        urls(&client) == set([a.url(), b.url()])
    })
    .await
    .expect("two instances");
    a.shutdown();
    // Deregistered at once, while a still serves (1.5 s grace).
    let gone = within(Duration::from_secs(2), || !urls(&client).contains(&a.url()))
        .await
        .expect("deregistered before draining");
    assert!(gone < Duration::from_millis(1000), "{gone:?}");
    assert!(consul
        .requests()
        .iter()
        .any(|r| r.starts_with("PUT /v1/agent/service/deregister/")));
    fleet::calls(&client, 20).await;
    let _ = (&mut a.task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fake_consul_garbage_entries_are_skipped() {
    let logs = Logs::capture();
    let consul = ConsulFake::start().await;
    let a = instance(None, None).await;
    consul.add("strings", "good", "127.0.0.1", a.addr.port());
    consul.add_raw("strings", serde_json::json!({"Service": "not an object"}));
    consul.add_raw("strings", serde_json::json!({"Service": {"ID": "no-port"}}));
    consul.add_raw(
        "strings",
        serde_json::json!({"Service": {"ID": "bad-host", "Address": "no such host!", "Port": 80}}),
    );
    consul.add_raw(
        "strings",
        serde_json::json!({"Service": {"ID": "no-address", "Port": 80}}),
    );
    let client = client(&consul);
    within(Duration::from_secs(10), || urls(&client) == set([a.url()]))
        .await
        .unwrap_or_else(|| panic!("the client saw {:?}", urls(&client)));
    fleet::calls(&client, 10).await;
    assert!(
        logs.lines_with("skipping a Consul entry").len() >= 4,
        "{}",
        logs.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fake_consul_instances_whose_checks_fail_leave_the_set() {
    // A registration with a 1 s TTL that nobody passes turns critical;
    // kit asks for `passing` instances only, so it leaves the set. (kit's
    // own registrations pass a 10 s TTL every 3 s.)
    let consul = ConsulFake::start().await;
    let a = instance(None, None).await;
    let lazy = instance(None, None).await;
    consul.add("strings", "a", "127.0.0.1", a.addr.port());
    let body = serde_json::json!({
        "ID": "lazy", "Name": "strings", "Address": "127.0.0.1", "Port": lazy.addr.port(),
        "Check": {"TTL": "1s", "Status": "passing"},
    });
    let response = kit_tests::raw(
        consul.addr,
        "PUT",
        "/v1/agent/service/register",
        &[],
        body.to_string(),
    )
    .await;
    assert!(response.status.is_success());
    let client = client(&consul);
    within(Duration::from_secs(5), || {
        urls(&client) == set([a.url(), lazy.url()])
    })
    .await
    .expect("both passing");
    let t = within(Duration::from_secs(5), || urls(&client) == set([a.url()]))
        .await
        .expect("the critical instance left");
    assert!(
        t >= Duration::from_millis(500),
        "left before its TTL ran out: {t:?}"
    );
}
