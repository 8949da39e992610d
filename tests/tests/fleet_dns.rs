//! Discovery through DNS against a real dnsmasq the test starts on a
//! loopback port: SRV records (`dns+srv://`) and A records (`dns://`),
//! re-resolved on their TTL (1 s here), records changed by restarting
//! dnsmasq with new ones, malformed records skipped, outages ridden out.

use std::time::{Duration, Instant};

use kit_tests::fleet::{self, instance, set, urls, Logs};
use kit_tests::registry::dnsmasq::{Dnsmasq, Records};
use kit_tests::registry::{median_max, within};
use kit_tests::Running;
use stringsvc::StringServiceClient;

const SRV: &str = "_strings._tcp.kit.test";

fn srv_client(dns: &Dnsmasq) -> StringServiceClient {
    StringServiceClient::builder()
        .discover(kit::sd::dns_srv(SRV).resolver(dns.addr()))
        .build()
        .expect("client")
}

/// SRV records for `instances`, each behind its own target name.
fn records_for(instances: &[&Running]) -> Records {
    instances
        .iter()
        .enumerate()
        .fold(Records::default(), |r, (i, inst)| {
            let target = format!("host{i}.kit.test");
            r.srv(SRV, &target, inst.addr.port())
                .host(&target, "127.0.0.1")
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn srv_records_name_the_instances_and_changes_arrive_within_the_ttl() {
    let a = instance(None, None).await;
    let b = instance(None, None).await;
    let c = instance(None, None).await;
    let mut dns = Dnsmasq::start(&records_for(&[&a, &b, &c]));
    let answer = dns.dig(SRV, "SRV").expect("dig answers");
    assert_eq!(answer.lines().count(), 3, "{answer}");
    let client = srv_client(&dns);
    let all = set([a.url(), b.url(), c.url()]);
    within(Duration::from_secs(10), || urls(&client) == all)
        .await
        .unwrap_or_else(|| panic!("the client saw {:?}", urls(&client)));
    fleet::assert_spread(&client, &all, Duration::from_millis(500)).await;

    // Take c out of the records and put it back, five times; each change
    // is timed from the moment the new dnsmasq answers.
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        dns.serve(&records_for(&[&a, &b]));
        let t0 = Instant::now();
        within(Duration::from_secs(10), || {
            !urls(&client).contains(&c.url())
        })
        .await
        .expect("the removal reached the client");
        removed.push(t0.elapsed());
        dns.serve(&records_for(&[&a, &b, &c]));
        let t0 = Instant::now();
        within(Duration::from_secs(10), || urls(&client).contains(&c.url()))
            .await
            .expect("the addition reached the client");
        added.push(t0.elapsed());
    }
    let (rm_median, rm_max) = median_max(&mut removed);
    let (add_median, add_max) = median_max(&mut added);
    eprintln!(
        "DNS SRV propagation over 5 changes (TTL 1 s): add median {add_median:.0} ms, max \
         {add_max:.0} ms; remove median {rm_median:.0} ms, max {rm_max:.0} ms"
    );
    // Re-resolved when the 1 s TTL runs out (plus a failed query while
    // dnsmasq restarted, retried after 1 s).
    assert!(
        add_max < 2500.0 && rm_max < 2500.0,
        "slower than the TTL allows"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_srv_records_are_skipped_and_backups_wait() {
    let logs = Logs::capture();
    let mut a = instance(None, None).await;
    let backup = instance(None, None).await;
    let records = records_for(&[&a])
        // "Decidedly not available" (RFC 2782): target ".", port 0.
        .srv(SRV, ".", 0)
        // A target with no address record.
        .srv(SRV, "nowhere.kit.test", 8080)
        // A backup, priority 10: unused while priority 0 answers.
        .srv_priority(SRV, "backup.kit.test", backup.addr.port(), 10)
        .host("backup.kit.test", "127.0.0.1");
    let mut dns = Dnsmasq::start(&records);
    let client = srv_client(&dns);
    within(Duration::from_secs(10), || {
        urls(&client) == set([a.url(), backup.url()])
    })
    .await
    .unwrap_or_else(|| panic!("the client saw {:?}", urls(&client)));
    fleet::calls(&client, 20).await;
    assert_eq!(
        fleet::served_by(&client, &backup.url()),
        0,
        "the backup waits"
    );
    assert!(
        !logs
            .lines_with("skipping a malformed SRV record")
            .is_empty(),
        "{}",
        logs.text()
    );
    assert!(!logs
        .lines_with("skipping an SRV target that does not resolve")
        .is_empty());

    // The primary dies but stays in DNS: the backup serves, no call fails.
    a.shutdown();
    let _ = (&mut a.task).await;
    fleet::calls(&client, 20).await;
    assert!(fleet::served_by(&client, &backup.url()) >= 20);

    // The primaries leave DNS: the backup is all there is.
    let only_backup = Records::default()
        .srv_priority(SRV, "backup.kit.test", backup.addr.port(), 10)
        .host("backup.kit.test", "127.0.0.1");
    dns.serve(&only_backup);
    within(Duration::from_secs(10), || {
        urls(&client) == set([backup.url()])
    })
    .await
    .unwrap_or_else(|| panic!("the client saw {:?}", urls(&client)));
    fleet::calls(&client, 5).await;

    // Nothing usable at all: the last good set is kept and said so.
    dns.serve(&Records::default().srv(SRV, ".", 0));
    within(Duration::from_secs(10), || {
        !logs
            .lines_with("calls continue on the last known instances")
            .is_empty()
    })
    .await
    .expect("an empty answer is logged, not applied");
    assert_eq!(urls(&client), set([backup.url()]));
    fleet::calls(&client, 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_records_name_the_instances_at_one_port() {
    // Two servers on the same port, at 127.0.0.1 and 127.0.0.2.
    let (one, two) = same_port_pair().await;
    let port = one.addr.port();
    let dns = Dnsmasq::start(
        &Records::default()
            .host("strings.kit.test", "127.0.0.1")
            .host("strings.kit.test", "127.0.0.2"),
    );
    let url = format!("dns://{}/strings.kit.test:{port}", dns.addr());
    let client = StringServiceClient::builder()
        .discover(kit::sd::from_url(&url).expect("url"))
        .build()
        .expect("client");
    let all = set([one.url(), two.url()]);
    within(Duration::from_secs(10), || urls(&client) == all)
        .await
        .unwrap_or_else(|| panic!("the client saw {:?}", urls(&client)));
    fleet::assert_spread(&client, &all, Duration::from_millis(500)).await;
}

async fn same_port_pair() -> (Running, Running) {
    for _ in 0..20 {
        let one = kit_tests::start(
            kit::Server::new(kit::Config::default()).add_service(stringsvc::StringService),
        )
        .await;
        let second = kit::Server::new(kit::Config::default())
            .add_service(stringsvc::StringService)
            .http_addr(([127, 0, 0, 2], one.addr.port()).into())
            .bind()
            .await;
        if let Ok(listening) = second {
            let addr = listening.local_addr();
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(listening.run_until(async move {
                let _ = rx.await;
            }));
            return (one, Running::new(addr, tx, task));
        }
    }
    panic!("no port free on both 127.0.0.1 and 127.0.0.2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resolver_outage_keeps_the_last_known_set() {
    let logs = Logs::capture();
    let a = instance(None, None).await;
    let mut dns = Dnsmasq::start(&records_for(&[&a]));
    let client = srv_client(&dns);
    within(Duration::from_secs(10), || urls(&client) == set([a.url()]))
        .await
        .expect("one instance");
    dns.stop();
    within(Duration::from_secs(10), || {
        !logs
            .lines_with("discovery failed: calls continue on the last known instances")
            .is_empty()
    })
    .await
    .expect("a log line says the resolver is unreachable");
    fleet::calls(&client, 20).await;
    // Back with the same records: nothing changed, and the client says
    // discovery is back all the same.
    dns.serve(&records_for(&[&a]));
    within(Duration::from_secs(10), || {
        !logs.lines_with("discovery is back").is_empty()
    })
    .await
    .expect("a log line says discovery is back");
    let b = instance(None, None).await;
    dns.serve(&records_for(&[&a, &b]));
    within(Duration::from_secs(10), || urls(&client).contains(&b.url()))
        .await
        .expect("resolving again after the outage");
}
