//! Discovery and registration through a real ZooKeeper (Debian's
//! zookeeper package) the test starts. Members are ephemeral sequential
//! nodes holding SmartStack (Nerve) JSON, so a kit service joins a fleet
//! that Nerve registers and Synapse reads, and reads what Nerve wrote.

use std::time::{Duration, Instant};

use kit::sd::{Instance, Registrar};
use kit_tests::fleet::{self, instance, set, urls, Load, Logs, Process};
use kit_tests::registry::zookeeper::ZooKeeper;
use kit_tests::registry::{median_max, within};
use stringsvc::StringServiceClient;
use zookeeper_client::{Acls, Client, CreateMode};

const PATH: &str = "/services/strings";

fn registrar(zk: &ZooKeeper) -> Option<Box<dyn Registrar>> {
    Some(Box::new(kit::sd::zookeeper(&zk.hosts(), PATH)))
}

fn client(zk: &ZooKeeper) -> StringServiceClient {
    StringServiceClient::builder()
        .discover(kit::sd::zookeeper(&zk.hosts(), PATH))
        .build()
        .expect("client")
}

/// A plain ZooKeeper session, as Nerve or an operator would have.
async fn session(zk: &ZooKeeper) -> Client {
    Client::connect(&zk.hosts()).await.expect("zk session")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn members_are_smartstack_nodes_and_changes_arrive_within_a_second() {
    let zk = ZooKeeper::start();
    let a = instance(registrar(&zk), None).await;
    let b = instance(registrar(&zk), None).await;
    let client = client(&zk);
    within(Duration::from_secs(10), || {
        urls(&client) == set([a.url(), b.url()])
    })
    .await
    .unwrap_or_else(|| panic!("the client saw {:?}", urls(&client)));

    // What kit wrote is what Synapse reads: ephemeral sequential
    // `member_` nodes with {host, port, name}.
    let zk_session = session(&zk).await;
    let children = zk_session.list_children(PATH).await.expect("children");
    assert_eq!(children.len(), 2, "{children:?}");
    for child in &children {
        assert!(child.starts_with("member_"), "{child}");
        let (data, stat) = zk_session
            .get_data(&format!("{PATH}/{child}"))
            .await
            .expect("data");
        assert_ne!(stat.ephemeral_owner, 0, "{child} is ephemeral");
        let v: serde_json::Value = serde_json::from_slice(&data).expect("JSON");
        let url = format!("http://{}:{}", v["host"].as_str().unwrap(), v["port"]);
        assert!(url == a.url() || url == b.url(), "{v}");
        assert!(v["name"].is_string(), "{v}");
    }

    // A member Nerve registered: kit uses it.
    let c = instance(None, None).await;
    let port = c.addr.port();
    let nerve = format!(
        r#"{{"host":"127.0.0.1","port":{port},"name":"i-nerve","weight":1,"labels":{{"az":"b"}}}}"#
    );
    let (_, seq) = zk_session
        .create(
            &format!("{PATH}/member_"),
            nerve.as_bytes(),
            &CreateMode::EphemeralSequential.with_acls(Acls::anyone_all()),
        )
        .await
        .expect("create a Nerve node");
    let all = set([a.url(), b.url(), c.url()]);
    within(Duration::from_secs(5), || urls(&client) == all)
        .await
        .expect("the Nerve member reached the client");
    fleet::assert_spread(&client, &all, Duration::from_millis(500)).await;
    zk_session
        .delete(&format!("{PATH}/member_{seq}"), None)
        .await
        .expect("delete");
    within(Duration::from_secs(5), || !urls(&client).contains(&c.url()))
        .await
        .expect("the node deletion reached the client");

    // Ten register/deregister rounds through kit's registrar.
    let zk_registrar = kit::sd::zookeeper(&zk.hosts(), PATH);
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let t0 = Instant::now();
        let registration = zk_registrar
            .register(Instance::at(c.url()))
            .await
            .expect("register");
        within(Duration::from_secs(5), || urls(&client).contains(&c.url()))
            .await
            .expect("the new member reached the client");
        added.push(t0.elapsed());
        let t0 = Instant::now();
        registration.deregister().await;
        within(Duration::from_secs(5), || !urls(&client).contains(&c.url()))
            .await
            .expect("the removal reached the client");
        removed.push(t0.elapsed());
    }
    let (add_median, add_max) = median_max(&mut added);
    let (rm_median, rm_max) = median_max(&mut removed);
    eprintln!(
        "ZooKeeper propagation over 10 changes (from the start of the write, including \
         kit's session set-up): add median {add_median:.1} ms, max {add_max:.1} ms; \
         remove median {rm_median:.1} ms, max {rm_max:.1} ms"
    );
    assert!(
        add_max < 1000.0 && rm_max < 1000.0,
        "a watch took a second or more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn garbage_nodes_are_skipped_with_a_log_line() {
    let logs = Logs::capture();
    let zk = ZooKeeper::start();
    let a = instance(registrar(&zk), None).await;
    let zk_session = session(&zk).await;
    match zk_session
        .mkdir(PATH, &CreateMode::Persistent.with_acls(Acls::anyone_all()))
        .await
    {
        Ok(()) | Err(zookeeper_client::Error::NodeExists) => {}
        Err(e) => panic!("mkdir {PATH}: {e}"),
    }
    for data in [
        &b"hello"[..],
        br#"{"host":"127.0.0.1"}"#,
        br#"{"host":"127.0.0.1","port":0}"#,
        br#"{"host":"no such host!","port":80}"#,
    ] {
        zk_session
            .create(
                &format!("{PATH}/member_"),
                data,
                &CreateMode::EphemeralSequential.with_acls(Acls::anyone_all()),
            )
            .await
            .expect("create");
    }
    let client = client(&zk);
    within(Duration::from_secs(10), || urls(&client) == set([a.url()]))
        .await
        .unwrap_or_else(|| panic!("the client saw {:?}", urls(&client)));
    fleet::calls(&client, 20).await;
    let skipped = logs.lines_with("skipping a ZooKeeper member node");
    assert!(skipped.len() >= 4, "{skipped:#?}");
}

/// A stringsvc process SIGKILLed: its session expires and ZooKeeper
/// deletes its ephemeral node; the client sees it leave.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_member_leaves_when_its_session_expires() {
    let zk = ZooKeeper::start();
    let url = zk.url(PATH.trim_start_matches('/'));
    let p = Process::start(&["--register", &url]);
    let q = Process::start(&["--register", &url]);
    let client = client(&zk);
    within(Duration::from_secs(10), || {
        urls(&client) == set([p.url.clone(), q.url.clone()])
    })
    .await
    .expect("two members");
    let load = Load::start(&client, 4, true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    p.daemon.signal(libc::SIGKILL);
    let gone = within(Duration::from_secs(20), || !urls(&client).contains(&p.url))
        .await
        .expect("the session expired and the node went");
    let report = load.finish().await;
    eprintln!(
        "ZooKeeper SIGKILL: node gone after {gone:?} (6 s session timeout); {} ok, {} failed",
        report.ok, report.failed
    );
    assert_eq!(report.failed, 0, "{:?}", report.errors);
    assert!(gone < Duration::from_secs(12), "{gone:?}");
}

/// ZooKeeper dies while calls flow: they continue on the last known
/// members, with a log line; it comes back: the client watches again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_zookeeper_outage_keeps_the_last_known_set_and_the_client_resubscribes() {
    let logs = Logs::capture();
    let mut zk = ZooKeeper::start();
    let a = instance(registrar(&zk), None).await;
    let client = client(&zk);
    within(Duration::from_secs(10), || urls(&client) == set([a.url()]))
        .await
        .expect("one member");
    let load = Load::start(&client, 4, true);
    zk.stop();
    within(Duration::from_secs(20), || {
        !logs
            .lines_with("discovery failed: calls continue on the last known instances")
            .is_empty()
    })
    .await
    .expect("a log line says the registry is unreachable");
    assert_eq!(urls(&client), set([a.url()]), "the set is kept");
    zk.resume();
    within(Duration::from_secs(30), || {
        !logs.lines_with("discovery is back").is_empty()
    })
    .await
    .expect("a log line says discovery is back");
    let b = instance(registrar(&zk), None).await;
    let back = within(Duration::from_secs(30), || urls(&client).contains(&b.url()))
        .await
        .expect("the client resubscribed");
    let report = load.finish().await;
    eprintln!(
        "ZooKeeper outage: {} ok, {} failed; new member seen {back:?} after it registered",
        report.ok, report.failed
    );
    assert_eq!(report.failed, 0, "{:?}", report.errors);
    // a's registration came back too (same session, or a new node).
    within(Duration::from_secs(20), || urls(&client).contains(&a.url()))
        .await
        .expect("a is registered again");
}
