//! Discovery and registration through a real etcd (Debian's etcd-server)
//! the test starts: instances appear, changes arrive over the watch, a
//! killed instance leaves with its lease, a terminated one deregisters
//! before draining, an etcd outage leaves the client on its last set.

use std::time::{Duration, Instant};

use kit::sd::{Discover, Instance, Registrar};
use kit_tests::fleet::{self, instance, live, set, urls, Load, Logs, Process};
use kit_tests::registry::etcd::Etcd;
use kit_tests::registry::{median_max, within};
use stringsvc::StringServiceClient;

fn registrar(etcd: &Etcd) -> Option<Box<dyn Registrar>> {
    Some(Box::new(kit::sd::etcd([etcd.endpoint()], "strings")))
}

fn client(etcd: &Etcd) -> StringServiceClient {
    StringServiceClient::builder()
        .discover(kit::sd::etcd([etcd.endpoint()], "strings"))
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_appear_calls_spread_and_changes_arrive_within_a_second() {
    let etcd = Etcd::start();
    let a = instance(registrar(&etcd), None).await;
    let b = instance(registrar(&etcd), None).await;
    let c = instance(registrar(&etcd), None).await;
    let client = client(&etcd);
    let all = set([a.url(), b.url(), c.url()]);
    within(Duration::from_secs(10), || urls(&client) == all)
        .await
        .unwrap_or_else(|| panic!("the client saw {:?}, not {all:?}", urls(&client)));
    fleet::calls(&client, 10).await;
    fleet::assert_spread(&client, &all, Duration::from_millis(500)).await;

    // Changes made through kit's registrar: register an instance, then
    // deregister it, ten times; how long until the client sees each.
    let d = instance(None, None).await;
    let etcd_registrar = kit::sd::etcd([etcd.endpoint()], "strings");
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    // Each measured from the start of the registry write.
    for _ in 0..10 {
        let t0 = Instant::now();
        let registration = etcd_registrar
            .register(Instance::at(d.url()))
            .await
            .expect("register");
        within(Duration::from_secs(5), || urls(&client).contains(&d.url()))
            .await
            .expect("the new instance reached the client");
        added.push(t0.elapsed());
        let t0 = Instant::now();
        registration.deregister().await;
        within(Duration::from_secs(5), || !urls(&client).contains(&d.url()))
            .await
            .expect("the removal reached the client");
        removed.push(t0.elapsed());
    }
    let (add_median, add_max) = median_max(&mut added);
    let (rm_median, rm_max) = median_max(&mut removed);
    eprintln!(
        "etcd propagation over 10 changes: add median {add_median:.1} ms, max {add_max:.1} ms; \
         remove median {rm_median:.1} ms, max {rm_max:.1} ms"
    );
    assert!(
        add_max < 1000.0 && rm_max < 1000.0,
        "a watch event took a second or more"
    );

    // Written by another tool, in kit's documented format.
    etcdctl_added_instance_is_used(&etcd, &client, &d.url()).await;
}

async fn etcdctl_added_instance_is_used(etcd: &Etcd, client: &StringServiceClient, url: &str) {
    let key = "/kit/services/strings/by-etcdctl";
    etcd.put(
        key,
        &format!(r#"{{"id":"by-etcdctl","url":"{url}","metadata":{{"zone":"b"}}}}"#),
    );
    within(Duration::from_secs(5), || urls(client).contains(url))
        .await
        .expect("an entry written with etcdctl reached the client");
    etcd.delete(key);
    within(Duration::from_secs(5), || !urls(client).contains(url))
        .await
        .expect("deleting it with etcdctl reached the client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn garbage_entries_are_skipped_and_the_good_ones_serve() {
    let etcd = Etcd::start();
    let logs = Logs::capture();
    let a = instance(registrar(&etcd), None).await;
    for (key, value) in [
        ("not-json", "hello"),
        ("wrong-shape", r#"{"url": 5}"#),
        (
            "wrong-scheme",
            r#"{"id":"x","url":"gopher://127.0.0.1:70"}"#,
        ),
        ("no-host", r#"{"id":"y","url":"http://"}"#),
    ] {
        etcd.put(&format!("/kit/services/strings/{key}"), value);
    }
    let client = client(&etcd);
    within(Duration::from_secs(10), || urls(&client) == set([a.url()]))
        .await
        .unwrap_or_else(|| panic!("the client saw {:?}", urls(&client)));
    fleet::calls(&client, 20).await;
    let skipped = logs.lines_with("skipping an etcd entry");
    assert_eq!(
        skipped.len(),
        4,
        "one log line per garbage entry: {skipped:#?}"
    );
    // A good entry overwritten with garbage leaves the set.
    let b = instance(registrar(&etcd), None).await;
    within(Duration::from_secs(10), || urls(&client).contains(&b.url()))
        .await
        .expect("b appears");
    let b_key = format!(
        "/kit/services/strings/{}",
        b.url().trim_start_matches("http://")
    );
    etcd.put(&b_key, "{garbage");
    within(Duration::from_secs(5), || !urls(&client).contains(&b.url()))
        .await
        .expect("an entry overwritten with garbage leaves the set");
}

/// Three stringsvc processes registered in etcd, calls flowing: SIGKILL
/// one. No call fails (retries move to other instances), failure accrual
/// takes the dead one out of rotation at once, and its lease expiry takes
/// it out of etcd.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_one_of_three_fails_no_call() {
    let etcd = Etcd::start();
    let url = etcd.url("strings");
    let mut procs: Vec<Process> = (0..3)
        .map(|_| Process::start(&["--register", &url]))
        .collect();
    let client = client(&etcd);
    let all = set(procs.iter().map(|p| p.url.clone()));
    within(Duration::from_secs(10), || urls(&client) == all)
        .await
        .expect("three instances");
    let load = Load::start(&client, 8, true);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let victim = procs.remove(0);
    let dead = victim.url.clone();
    let before = fleet::served_by(&client, &dead);
    victim.daemon.signal(libc::SIGKILL);
    let out_of_rotation = within(Duration::from_secs(10), || !live(&client).contains(&dead))
        .await
        .expect("the dead instance leaves rotation");
    let gone = within(Duration::from_secs(15), || !urls(&client).contains(&dead))
        .await
        .expect("its lease expires");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let report = load.finish().await;
    eprintln!(
        "SIGKILL: {} ok, {} failed, p50 {:?} p99 {:?}; out of rotation after {out_of_rotation:?}, \
         out of etcd after {gone:?} (it had served {before})",
        report.ok,
        report.failed,
        report.quantile(0.5),
        report.quantile(0.99)
    );
    assert_eq!(report.failed, 0, "calls failed: {:?}", report.errors);
    assert!(
        report.ok > 1000,
        "too little load to mean anything: {}",
        report.ok
    );
    assert!(before > 0, "the victim served nothing before it died");
    assert!(
        out_of_rotation < Duration::from_secs(1),
        "failure accrual took {out_of_rotation:?}"
    );
    assert!(
        gone < Duration::from_secs(8),
        "the 5 s lease took {gone:?} to expire"
    );
}

/// SIGTERM one of three while stringcli makes non-idempotent calls (never
/// retried): it deregisters, keeps serving until clients have moved, then
/// drains: not one call fails.
#[test]
fn sigterm_one_of_three_fails_no_non_idempotent_call() {
    let etcd = Etcd::start();
    let url = etcd.url("strings");
    let mut procs: Vec<Process> = (0..3)
        .map(|_| Process::start(&["--register", &url]))
        .collect();
    let mut cli = kit_tests::registry::Daemon::spawn("stringcli", {
        let mut cmd = std::process::Command::new(kit_tests::workspace_bin("stringcli"));
        cmd.args(["--discover", &url, "--calls", "40000", "--concurrency", "8"])
            .args(["--endpoint", "count"]);
        cmd
    });
    cli.wait_for_line("instance discovered", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(700));
    let mut victim = procs.remove(0);
    victim.daemon.signal(libc::SIGTERM);
    assert_eq!(
        victim.daemon.wait(Duration::from_secs(20)),
        Some(0),
        "the terminated instance exits cleanly:\n{}",
        victim.daemon.output()
    );
    let code = cli.wait(Duration::from_secs(120));
    let out = cli.output();
    assert!(
        victim.daemon.output().contains("deregistering"),
        "{}",
        victim.daemon.output()
    );
    assert!(
        out.contains("calls: 40000 ok, 0 failed"),
        "stringcli said:\n{out}"
    );
    assert_eq!(code, Some(0));
    assert!(
        out.contains(&format!(
            "instance gone service=\"strings\" instance={}",
            victim.url.trim_start_matches("http://")
        )),
        "the client saw the deregistration:\n{out}"
    );
}

/// etcd dies while calls flow: they go on over the last known instances
/// and the client says so; etcd comes back: the client watches again and
/// sees an instance registered after the outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_etcd_outage_keeps_the_last_known_set_and_the_client_resubscribes() {
    let logs = Logs::capture();
    let mut etcd = Etcd::start();
    let a = instance(registrar(&etcd), None).await;
    let b = instance(registrar(&etcd), None).await;
    let client = client(&etcd);
    within(Duration::from_secs(10), || {
        urls(&client) == set([a.url(), b.url()])
    })
    .await
    .expect("two instances");
    let load = Load::start(&client, 4, true);
    etcd.stop();
    within(Duration::from_secs(10), || {
        !logs
            .lines_with("discovery failed: calls continue on the last known instances")
            .is_empty()
    })
    .await
    .expect("a log line says the registry is unreachable");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(urls(&client), set([a.url(), b.url()]), "the set is kept");
    etcd.resume();
    // Back, same set: the client says so before anything changes.
    within(Duration::from_secs(15), || {
        !logs.lines_with("discovery is back").is_empty()
    })
    .await
    .expect("a log line says discovery is back");
    let c = instance(registrar(&etcd), None).await;
    let back = within(Duration::from_secs(15), || urls(&client).contains(&c.url()))
        .await
        .expect("the client resubscribed and saw an instance registered after the outage");
    let report = load.finish().await;
    eprintln!(
        "etcd outage: {} ok, {} failed; new instance seen {back:?} after it registered",
        report.ok, report.failed
    );
    assert_eq!(report.failed, 0, "calls failed: {:?}", report.errors);
    // The servers' leases were kept alive across the outage.
    assert!(urls(&client).is_superset(&set([a.url(), b.url(), c.url()])));
}

#[tokio::test]
async fn the_url_names_the_source() {
    let s = kit::sd::from_url("etcd://127.0.0.1:2379,127.0.0.1:22379/strings").expect("url");
    assert_eq!(
        s.describe(),
        "etcd://127.0.0.1:2379,127.0.0.1:22379/strings"
    );
}

/// A watch on a healthy etcd stays up: etcd answers pings more frequent
/// than its --grpc-keepalive-min-time (5 s) with GOAWAY, which once made
/// every client report a failure 12 s into its life.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_quiet_watch_on_a_healthy_etcd_never_fails() {
    let logs = Logs::capture();
    let etcd = Etcd::start();
    let a = instance(registrar(&etcd), None).await;
    let client = client(&etcd);
    within(Duration::from_secs(10), || urls(&client) == set([a.url()]))
        .await
        .expect("one instance");
    for _ in 0..20 {
        fleet::calls(&client, 1).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(
        logs.lines_with("discovery failed").is_empty(),
        "{}",
        logs.text()
    );
}
