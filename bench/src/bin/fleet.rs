//! Fleet benchmarks, printed as a markdown section for BENCHMARKS.md:
//!
//! - balancing overhead: the generated client over 3 local instances with
//!   P2C (and round robin) against the same client pinned to one;
//! - failover: calls failed and p99 added when one of 3 registered
//!   instances is SIGKILLed under load, with retries and without, and how
//!   long the dead instance kept receiving calls;
//! - discovery propagation per backend (etcd, ZooKeeper, DNS via dnsmasq,
//!   Consul's documented API against an in-process FAKE agent).
//!
//! `fleet [--rounds N] [--seconds S] [--changes N] [--pin]`; `--pin` runs
//! the servers it starts on core 0 (run it on core 1). `bench/run.py`
//! drives it.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use kit::lb::{P2c, Policy, RoundRobin};
use kit::sd::{Instance, Registrar};
use kit_tests::fleet::{instance, urls, Load, LoadReport, Process};
use kit_tests::registry::consul_fake::ConsulFake;
use kit_tests::registry::dnsmasq::{Dnsmasq, Records};
use kit_tests::registry::etcd::Etcd;
use kit_tests::registry::zookeeper::ZooKeeper;
use kit_tests::registry::{free_port, median_max, wait_for_port, within, Daemon};
use stringsvc::StringServiceClient;

struct Args {
    rounds: usize,
    seconds: f64,
    changes: usize,
    pin: bool,
}

fn args() -> Args {
    let mut a = Args {
        rounds: 5,
        seconds: 5.0,
        changes: 20,
        pin: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--rounds" => a.rounds = value().parse().unwrap_or_else(|_| usage()),
            "--seconds" => a.seconds = value().parse().unwrap_or_else(|_| usage()),
            "--changes" => a.changes = value().parse().unwrap_or_else(|_| usage()),
            "--pin" => a.pin = true,
            _ => usage(),
        }
    }
    a
}

fn usage() -> ! {
    eprintln!("usage: fleet [--rounds N] [--seconds S] [--changes N] [--pin]");
    std::process::exit(2)
}

/// A binary built next to this one.
fn sibling(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent().expect("bin dir").join(name)
}

/// `bin args`, on core 0 when pinning.
fn command(pin: bool, bin: &str, args: &[&str]) -> Command {
    let mut cmd = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(sibling(bin));
        c
    } else {
        Command::new(sibling(bin))
    };
    cmd.args(args);
    cmd
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Runs `load` calls for `seconds`; calls/s and the report.
async fn measure(
    client: &StringServiceClient,
    concurrency: usize,
    seconds: f64,
) -> (f64, LoadReport) {
    let start = Instant::now();
    let load = Load::start(client, concurrency, true);
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let report = load.finish().await;
    let rate = (report.ok + report.failed) as f64 / start.elapsed().as_secs_f64();
    (rate, report)
}

/// One client configuration's figures over the rounds.
#[derive(Clone, Default)]
struct Samples {
    rates: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
    failed: usize,
}

async fn overhead(a: &Args) -> String {
    let mut servers = Vec::new();
    let mut spawn = |addr: &str| {
        let port: u16 = addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port");
        servers.push(Daemon::spawn(
            "contender",
            command(a.pin, "contender", &["kit", "--http-addr", addr]),
        ));
        assert!(wait_for_port(
            ([127, 0, 0, 1], port).into(),
            Duration::from_secs(20)
        ));
    };
    // One server on every loopback address: three instances to the
    // client, one process to the kernel, so the comparison with the pinned
    // client isolates the client's balancing.
    let shared = free_port();
    spawn(&format!("0.0.0.0:{shared}"));
    let addresses: Vec<String> = (1..=3)
        .map(|i| format!("http://127.0.0.{i}:{shared}"))
        .collect();
    // Three server processes (sharing core 0 when pinned).
    let processes: Vec<String> = (0..3)
        .map(|_| {
            let addr = format!("127.0.0.1:{}", free_port());
            spawn(&addr);
            format!("http://{addr}")
        })
        .collect();
    let modes: [(&str, Vec<String>, Policy); 5] = [
        (
            "pinned to one instance",
            addresses[..1].to_vec(),
            P2c::peak_ewma(),
        ),
        (
            "P2C peak-EWMA over 3 (one server, 3 addresses)",
            addresses.clone(),
            P2c::peak_ewma(),
        ),
        (
            "round robin over 3 (one server, 3 addresses)",
            addresses.clone(),
            RoundRobin.into(),
        ),
        (
            "P2C peak-EWMA over 3 server processes",
            processes.clone(),
            P2c::peak_ewma(),
        ),
        (
            "round robin over 3 server processes",
            processes,
            RoundRobin.into(),
        ),
    ];
    let mut rows: Vec<Samples> = vec![Samples::default(); modes.len()];
    for round in 0..a.rounds {
        for k in 0..modes.len() {
            let i = (k + round) % modes.len();
            let (name, list, policy) = &modes[i];
            let client = StringServiceClient::builder()
                .discover(kit::sd::fixed(list.iter().cloned()))
                .balance(*policy)
                .build()
                .expect("client");
            measure(&client, 64, (a.seconds / 5.0).max(0.2)).await;
            let (rate, report) = measure(&client, 64, a.seconds).await;
            eprintln!(
                "overhead round {} {name}: {rate:.0} calls/s p99 {:?} failed {}",
                round + 1,
                report.quantile(0.99),
                report.failed
            );
            rows[i].rates.push(rate);
            rows[i].p50.push(us(report.quantile(0.5)));
            rows[i].p99.push(us(report.quantile(0.99)));
            rows[i].failed += report.failed;
        }
    }
    drop(servers);
    let pinned = median(rows[0].rates.clone());
    let mut md = vec![
        "| client | calls/s (median) | p50 | p99 | failed | vs pinned |".to_string(),
        "| --- | ---: | ---: | ---: | ---: | ---: |".to_string(),
    ];
    for ((name, _, _), row) in modes.iter().zip(&rows) {
        let rate = median(row.rates.clone());
        md.push(format!(
            "| {name} | {rate:.0} | {:.0} µs | {:.0} µs | {} | {:.2}x |",
            median(row.p50.clone()),
            median(row.p99.clone()),
            row.failed,
            rate / pinned
        ));
    }
    md.push(String::new());
    md.push(format!(
        "P2C over 3 instances / pinned to one, same server behind both: **{:.2}x** calls/s \
         (target >= 0.95: balancing costs at most 5%). Over 3 server processes: {:.2}x; \
         that row also measures three runtimes sharing the servers' core.",
        median(rows[1].rates.clone()) / pinned,
        median(rows[3].rates.clone()) / pinned
    ));
    md.join("\n")
}

struct Failover {
    failed: Vec<f64>,
    p99_before: Vec<f64>,
    p99_during: Vec<f64>,
    last_call: Vec<f64>,
}

async fn failover(a: &Args) -> String {
    let etcd = Etcd::start();
    let url = etcd.url("strings");
    let contenders = [
        ("retries (default: 3, budgeted)", None),
        ("no retries", Some(0)),
    ];
    let mut results: Vec<Failover> = contenders
        .iter()
        .map(|_| Failover {
            failed: Vec::new(),
            p99_before: Vec::new(),
            p99_during: Vec::new(),
            last_call: Vec::new(),
        })
        .collect();
    for round in 0..a.rounds {
        for k in 0..contenders.len() {
            let i = (k + round) % contenders.len();
            let (name, retries) = contenders[i];
            let mut procs: Vec<Process> = (0..3)
                .map(|_| {
                    Process::spawn(
                        command(
                            a.pin,
                            "stringsvc",
                            &["--http-addr", "127.0.0.1:0", "--register", &url],
                        ),
                        true,
                    )
                })
                .collect();
            let mut builder = StringServiceClient::builder()
                .discover(kit::sd::etcd([etcd.endpoint()], "strings"));
            if let Some(n) = retries {
                builder = builder.retries(n);
            }
            let client = builder.build().expect("client");
            let want: std::collections::BTreeSet<String> =
                procs.iter().map(|p| p.url.clone()).collect();
            within(Duration::from_secs(10), || urls(&client) == want)
                .await
                .expect("three instances");
            let (_, before) = measure(&client, 16, 1.0).await;
            let load = Load::start(&client, 16, true);
            tokio::time::sleep(Duration::from_millis(500)).await;
            let victim = procs.remove(0);
            let dead = victim.url.clone();
            let killed = Instant::now();
            victim.daemon.signal(libc::SIGKILL);
            // The last moment the dead instance was sent an attempt.
            let mut last = 0;
            let mut last_at = Duration::ZERO;
            while killed.elapsed() < Duration::from_secs(3) {
                let n = kit_tests::fleet::served_by(&client, &dead);
                if n != last {
                    last = n;
                    last_at = killed.elapsed();
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let during = load.finish().await;
            eprintln!(
                "failover round {} {name}: {} failed of {}, p99 {:?} -> {:?}, last call to the dead one {:?} after the kill",
                round + 1,
                during.failed,
                during.ok + during.failed,
                before.quantile(0.99),
                during.quantile(0.99),
                last_at
            );
            let r = &mut results[i];
            r.failed.push(during.failed as f64);
            r.p99_before.push(us(before.quantile(0.99)));
            r.p99_during.push(us(during.quantile(0.99)));
            r.last_call.push(last_at.as_secs_f64() * 1000.0);
            drop(victim);
            drop(procs);
            // Let the killed instance's lease expire before the next round.
            within(Duration::from_secs(10), || {
                etcd.keys("/kit/services/strings/").is_empty()
            })
            .await;
        }
    }
    let mut md = vec![
        "| client | failed calls (median) | p99 before | p99 with the kill | added p99 | dead instance's last call after the kill |".to_string(),
        "| --- | ---: | ---: | ---: | ---: | ---: |".to_string(),
    ];
    for ((name, _), r) in contenders.iter().zip(&results) {
        let before = median(r.p99_before.clone());
        let during = median(r.p99_during.clone());
        md.push(format!(
            "| {name} | {:.0} (max {:.0}) | {before:.0} µs | {during:.0} µs | {:.0} µs | {:.0} ms |",
            median(r.failed.clone()),
            r.failed.iter().copied().fold(0.0, f64::max),
            during - before,
            median(r.last_call.clone()),
        ));
    }
    md.join("\n")
}

/// Waits until the client's set has `url` (or has not).
async fn settle(client: &StringServiceClient, url: &str, present: bool) {
    within(Duration::from_secs(10), || {
        urls(client).contains(url) == present
    })
    .await
    .expect("the change reached the client");
}

/// `rounds` add/remove pairs through `registrar`, each change timed from
/// the start of the registry write until the client agrees.
async fn through_registrar(
    registrar: &dyn Registrar,
    client: &StringServiceClient,
    url: &str,
    rounds: usize,
) -> Vec<Duration> {
    let mut samples = Vec::new();
    for _ in 0..rounds {
        let t0 = Instant::now();
        let r = registrar
            .register(Instance::at(url))
            .await
            .expect("register");
        settle(client, url, true).await;
        samples.push(t0.elapsed());
        let t0 = Instant::now();
        r.deregister().await;
        settle(client, url, false).await;
        samples.push(t0.elapsed());
    }
    samples
}

async fn discovery(a: &Args) -> String {
    let target = instance(None, None).await;
    let url = target.url();
    let pairs = (a.changes / 2).max(1);
    let mut rows = Vec::new();

    // etcd: kit's registrar (lease, put, delete), the client's watch.
    {
        let etcd = Etcd::start();
        let anchor = instance(None, None).await;
        let reg = kit::sd::etcd([etcd.endpoint()], "strings");
        let keep = reg
            .register(Instance::at(anchor.url()))
            .await
            .expect("anchor");
        let client = client_of(kit::sd::etcd([etcd.endpoint()], "strings"), &anchor.url()).await;
        let mut s = through_registrar(&reg, &client, &url, pairs).await;
        keep.deregister().await;
        rows.push(("etcd 3.4 (watch)", s.len(), median_max(&mut s)));
    }

    // ZooKeeper: ephemeral sequential nodes, child watches.
    {
        let zk = ZooKeeper::start();
        let anchor = instance(None, None).await;
        let reg = kit::sd::zookeeper(&zk.hosts(), "/services/strings");
        let keep = reg
            .register(Instance::at(anchor.url()))
            .await
            .expect("anchor");
        let client = client_of(
            kit::sd::zookeeper(&zk.hosts(), "/services/strings"),
            &anchor.url(),
        )
        .await;
        let mut s = through_registrar(&reg, &client, &url, pairs).await;
        keep.deregister().await;
        rows.push(("ZooKeeper 3.8 (child watch)", s.len(), median_max(&mut s)));
    }

    // Consul: blocking queries against the FAKE agent.
    {
        let consul = ConsulFake::start().await;
        let anchor = instance(None, None).await;
        consul.add("strings", "anchor", "127.0.0.1", anchor.addr.port());
        let client = client_of(
            kit::sd::from_url(&consul.url("strings")).expect("url"),
            &anchor.url(),
        )
        .await;
        let mut s = Vec::new();
        for _ in 0..pairs {
            let t0 = Instant::now();
            consul.add("strings", "target", "127.0.0.1", target.addr.port());
            settle(&client, &url, true).await;
            s.push(t0.elapsed());
            let t0 = Instant::now();
            consul.remove("target");
            settle(&client, &url, false).await;
            s.push(t0.elapsed());
        }
        rows.push((
            "Consul HTTP API, FAKE in-process agent (blocking query)",
            s.len(),
            median_max(&mut s),
        ));
    }

    // DNS SRV, TTL 1 s, dnsmasq restarted with the new records; timed
    // from the moment the new dnsmasq answers.
    {
        let anchor = instance(None, None).await;
        let srv = "_strings._tcp.kit.test";
        let records = |with_target: bool| {
            let mut r = Records::default()
                .srv(srv, "anchor.kit.test", anchor.addr.port())
                .host("anchor.kit.test", "127.0.0.1");
            if with_target {
                r = r
                    .srv(srv, "target.kit.test", target.addr.port())
                    .host("target.kit.test", "127.0.0.1");
            }
            r
        };
        let mut dns = Dnsmasq::start(&records(false));
        let client = client_of(kit::sd::dns_srv(srv).resolver(dns.addr()), &anchor.url()).await;
        let mut s = Vec::new();
        for _ in 0..(pairs / 4).max(1) {
            for present in [true, false] {
                dns.serve(&records(present));
                let t0 = Instant::now();
                settle(&client, &url, present).await;
                s.push(t0.elapsed());
            }
        }
        rows.push((
            "DNS SRV via dnsmasq 2.90, TTL 1 s (re-resolved on the TTL)",
            s.len(),
            median_max(&mut s),
        ));
    }

    let mut md = vec![
        "| backend | changes | median | max |".to_string(),
        "| --- | ---: | ---: | ---: |".to_string(),
    ];
    for (name, n, (m, x)) in rows {
        md.push(format!("| {name} | {n} | {m:.1} ms | {x:.1} ms |"));
    }
    md.join("\n")
}

/// A client on `source` once it sees `anchor`.
async fn client_of(source: impl kit::sd::Discover, anchor: &str) -> StringServiceClient {
    let client = StringServiceClient::builder()
        .discover(source)
        .build()
        .expect("client");
    within(Duration::from_secs(10), || urls(&client).contains(anchor))
        .await
        .expect("the anchor instance");
    client
}

#[tokio::main]
async fn main() {
    let a = args();
    // Quiet: the registries' and kit's info lines would drown the report.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("error"))
        .with_writer(std::io::stderr)
        .try_init();
    let overhead = overhead(&a).await;
    let failover = failover(&a).await;
    let discovery = discovery(&a).await;
    println!(
        "## Fleet: balancing, failover, discovery\n\n\
         Command: `cargo run --release -p kit-bench --bin fleet -- --rounds {} --seconds {} --changes {}{}` (run by `python3 bench/run.py`).\n\n\
         ### Balancing overhead: 64 concurrent calls over one generated HTTP client\n\n\
         {overhead}\n\n\
         ### Failover: 16 concurrent idempotent calls, 3 instances registered in etcd, one SIGKILLed\n\n\
         Requests that were never sent (connection refused) are requeued to another instance in both rows; \
         `no retries` shows what retries add for calls in flight on the killed instance. \
         The dead instance leaves etcd when its 5 s lease expires; failure accrual takes it out of rotation first.\n\n\
         {failover}\n\n\
         ### Discovery propagation: from the registry write until the client's instance set agrees\n\n\
         {discovery}",
        a.rounds,
        a.seconds,
        a.changes,
        if a.pin { " --pin" } else { "" }
    );
}
