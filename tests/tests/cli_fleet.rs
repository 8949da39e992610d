//! `kit top --once --json`, `kit compare` and `kit gate` on a fleet of
//! canarysvc processes under a load the test sends at known rates: two
//! good instances and a bad one (every 4th call fails, 30 ms late). The
//! versions come from registry metadata in a real etcd, as a deploy tool
//! would write them (a kit server reports its crate's version, the same
//! for every test binary).

use std::time::Duration;

use kit::sd::{Instance, Registrar};
use kit_tests::cli::{kit, kit_within, Load};
use kit_tests::observe::KitProcess;
use kit_tests::registry::etcd::Etcd;
use serde_json::Value;

const WORK: &str = r#"{"n": 1}"#;

fn good() -> KitProcess {
    KitProcess::start("canarysvc", &[], &[])
}

fn bad() -> KitProcess {
    KitProcess::start(
        "canarysvc",
        &[],
        &[("CANARY_FAIL_EVERY", "4"), ("CANARY_DELAY_MS", "30")],
    )
}

/// The `canary.work` row of `instance` in a `top --once --json` snapshot.
fn work_row<'a>(snapshot: &'a Value, instance: &KitProcess) -> &'a Value {
    snapshot["endpoints"]
        .as_array()
        .and_then(|rows| {
            rows.iter().find(|r| {
                r["url"] == instance.url() && r["service"] == "canary" && r["endpoint"] == "work"
            })
        })
        .unwrap_or_else(|| panic!("no canary.work row for {}: {snapshot:#}", instance.url()))
}

fn within_10_percent(measured: f64, sent: f64) -> bool {
    (measured - sent).abs() <= 0.1 * sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_once_json_reports_the_load_sent_and_marks_the_outlier() {
    let (a, b, c) = (good(), good(), bad());
    let loads = [
        Load::start(a.addr, "/work", WORK, 100.0),
        Load::start(b.addr, "/work", WORK, 50.0),
        Load::start(c.addr, "/work", WORK, 50.0),
    ];
    tokio::time::sleep(Duration::from_millis(500)).await;
    let urls = [a.url(), b.url(), c.url()];
    let run = tokio::task::spawn_blocking(move || {
        kit(&[
            "top", "--once", "--json", "--window", "3s", &urls[0], &urls[1], &urls[2],
        ])
    })
    .await
    .expect("kit ran");
    for load in loads {
        load.stop().await;
    }
    assert_eq!(run.code, 0, "{run:?}");
    let snapshot = run.json();
    let (ra, rb, rc) = (
        work_row(&snapshot, &a),
        work_row(&snapshot, &b),
        work_row(&snapshot, &c),
    );
    let rate = |r: &Value| r["rate"].as_f64().unwrap_or(-1.0);
    println!(
        "measured req/s: {:.1} (sent 100), {:.1} (sent 50), {:.1} (sent 50); bad instance: error ratio {}, p50 {} ms, p99 {} ms; good: p99 {} ms",
        rate(ra), rate(rb), rate(rc), rc["error_ratio"], rc["p50_ms"], rc["p99_ms"], ra["p99_ms"]
    );
    assert!(within_10_percent(rate(ra), 100.0), "{ra:#}");
    assert!(within_10_percent(rate(rb), 50.0), "{rb:#}");
    assert!(within_10_percent(rate(rc), 50.0), "{rc:#}");
    // Every 4th call fails: 25% UNAVAILABLE.
    let errors = rc["error_ratio"].as_f64().unwrap_or(-1.0);
    assert!((errors - 0.25).abs() < 0.05, "{rc:#}");
    assert!(rc["errors"]["UNAVAILABLE"].as_f64().is_some(), "{rc:#}");
    assert_eq!(ra["error_ratio"], 0.0);
    // 30 ms late (and later on a busy machine); the good ones under it.
    let p99 = |r: &Value| r["p99_ms"].as_f64().unwrap_or(-1.0);
    assert!(p99(rc) >= 25.0, "{rc:#}");
    assert!(p99(ra) > 0.0 && p99(ra) < p99(rc), "{ra:#}");
    assert_eq!(rc["outliers"], serde_json::json!(["p99", "errors"]));
    assert_eq!(ra["outliers"], serde_json::json!([]));
    assert_eq!(rb["outliers"], serde_json::json!([]));
    let window = ra["window_seconds"].as_f64().unwrap_or(0.0);
    assert!((2.9..4.0).contains(&window), "{ra:#}");
    assert_eq!(snapshot["instances"].as_array().map(Vec::len), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_and_gate_by_version_from_registry_metadata() {
    let etcd = Etcd::start();
    let (old, good_canary, bad_canary) = (good(), good(), bad());
    let registrar = kit::sd::etcd([etcd.endpoint()], "canary");
    let mut registrations = Vec::new();
    for (p, version) in [(&old, "1.2"), (&good_canary, "1.3"), (&bad_canary, "1.4")] {
        let instance = Instance::at(p.url()).with("version", version);
        registrations.push(registrar.register(instance).await.expect("registered"));
    }
    let fleet = etcd.url("canary");
    let loads = [
        Load::start(old.addr, "/work", WORK, 60.0),
        Load::start(good_canary.addr, "/work", WORK, 60.0),
        Load::start(bad_canary.addr, "/work", WORK, 60.0),
    ];
    tokio::time::sleep(Duration::from_millis(500)).await;

    let f = fleet.clone();
    let listing = tokio::task::spawn_blocking(move || kit(&["ls", "--json", &f]));
    let f = fleet.clone();
    let compared = tokio::task::spawn_blocking(move || {
        kit(&["compare", "--by", "version", "--window", "2s", "--json", &f])
    });
    let gate = |canary: &'static str| {
        let f = fleet.clone();
        tokio::task::spawn_blocking(move || {
            kit_within(
                &[
                    "gate",
                    &f,
                    "--baseline",
                    "version=1.2",
                    "--canary",
                    canary,
                    "--max-error-ratio",
                    "1.5",
                    "--max-p99-ratio",
                    "1.3",
                    // p99s under 25 ms count as 25 ms: a busy test machine's
                    // scheduling noise is no regression; the bad canary's
                    // 30 ms delay is.
                    "--latency-floor",
                    "25ms",
                    "--for",
                    "3s",
                    "--interval",
                    "1s",
                ],
                Duration::from_secs(20),
            )
        })
    };
    let (promote, roll_back) = (gate("version=1.3"), gate("version=1.4"));
    let (listing, compared) = (listing.await.expect("ls"), compared.await.expect("compare"));
    let (promote, roll_back) = (promote.await.expect("gate"), roll_back.await.expect("gate"));
    for load in loads {
        load.stop().await;
    }
    drop(registrations);

    // ls through the registry: three instances with the registry's metadata.
    assert_eq!(listing.code, 0, "{listing:?}");
    let rows = listing.json();
    let versions: Vec<&str> = rows
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|i| i["metadata"]["version"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(versions.len(), 3, "{rows:#}");

    // compare: 1.2 is the baseline; 1.4's p99 and errors stand out.
    assert_eq!(compared.code, 0, "{compared:?}");
    let c = compared.json();
    assert_eq!(
        (c["by"].as_str(), c["baseline"].as_str()),
        (Some("version"), Some("1.2"))
    );
    let work = c["endpoints"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["endpoint"] == "work"))
        .unwrap_or_else(|| panic!("{c:#}"));
    let groups: Vec<&str> = work["groups"]
        .as_array()
        .map(|g| g.iter().filter_map(|g| g["group"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(groups, ["1.2", "1.3", "1.4"]);
    let g = |i: usize, k: &str| work["groups"][i][k].as_f64().unwrap_or(-1.0);
    println!(
        "compare: rates {:.1} {:.1} {:.1} req/s (sent 60 each), p99 ratio of 1.3 {:.2}x, of 1.4 {:.2}x, error ratio of 1.4 {:.3}",
        g(0, "rate"), g(1, "rate"), g(2, "rate"), g(1, "ratio_p99"), g(2, "ratio_p99"), g(2, "error_ratio")
    );
    for i in 0..3 {
        assert!(within_10_percent(g(i, "rate"), 60.0), "{work:#}");
        assert!((g(i, "ratio_rate") - 1.0).abs() < 0.2, "{work:#}");
    }
    // 1.4 answers 30 ms late; the others as fast as the machine lets them.
    assert!(
        g(2, "p99_ms") >= 25.0 && g(2, "ratio_p99") > 1.0,
        "{work:#}"
    );
    assert!((g(2, "error_ratio") - 0.25).abs() < 0.05, "{work:#}");

    println!("gate 1.3:\n{}{}", promote.stdout, promote.stderr);
    println!("gate 1.4:\n{}{}", roll_back.stdout, roll_back.stderr);
    assert_eq!(promote.code, 0, "{promote:?}");
    assert!(
        promote
            .stdout
            .contains("PROMOTE: version=1.3 is within the limits"),
        "{promote:?}"
    );
    assert_eq!(roll_back.code, 1, "{roll_back:?}");
    let verdict = roll_back.stdout.lines().last().unwrap_or_default();
    assert!(
        verdict.starts_with("ROLL BACK: canary.work: error ratio 2"),
        "{verdict}"
    );
    assert!(verdict.contains("canary.work: p99 "), "{verdict}");
}

#[test]
fn gate_refuses_groups_that_do_not_exist() {
    let a = good();
    let run = kit(&[
        "gate",
        &a.url(),
        "--baseline",
        "version=0.1.0",
        "--canary",
        "version=9",
        "--for",
        "1s",
    ]);
    assert_eq!(
        run.one_line_failure(),
        "error: --canary: no instance has version=9 (version: 0.1.0)"
    );
    let run = kit(&[
        "gate",
        &a.url(),
        "--baseline",
        "version",
        "--canary",
        "version=9",
    ]);
    assert_eq!(
        run.one_line_failure(),
        "error: --baseline `version`: write LABEL=VALUE, e.g. version=1.3"
    );
    let run = kit(&["compare", &a.url(), "--by", "zone", "--window", "100ms"]);
    assert_eq!(
        run.one_line_failure(),
        "error: no instance has a `zone` label (labels: instance, service, url, version)"
    );
}

#[test]
fn top_shows_what_a_process_kit_clients_see() {
    let strings = KitProcess::start("stringsvc", &[], &[]);
    let upstream = strings.url();
    let chain = KitProcess::start(
        "chainsvc",
        &[],
        &[("CHAIN_UPSTREAM", &upstream), ("CHAIN_TRANSPORT", "http")],
    );
    let run = kit(&["call", &chain.url(), "chain.relay", r#"{"s":"x"}"#]);
    assert_eq!((run.code, run.stdout.trim()), (0, "\"X\""), "{run:?}");
    let snapshot = kit(&["top", "--once", "--json", "--window", "200ms", &chain.url()]).json();
    assert_eq!(
        snapshot["instances"][0]["clients"],
        serde_json::json!([{"service": "strings", "instances": {"ejected": 0.0, "live": 1.0, "probing": 0.0}, "breakers_open": 0.0}])
    );
    let table = kit(&["top", "--once", "--window", "200ms", &chain.url()]);
    let line = format!(
        "{} -> strings: instances ejected 0, live 1, probing 0; breakers open 0",
        chain.addr
    );
    assert!(table.stdout.contains(&line), "{table:?}");
}

/// Labels servers set themselves (`--metadata`, `KIT_METADATA`) group
/// instances without a registry; `version=` stands for the crate's.
#[tokio::test]
async fn compare_by_labels_the_servers_set_themselves() {
    let a = KitProcess::start(
        "canarysvc",
        &["--metadata", "zone=a", "--metadata", "version=2.0"],
        &[],
    );
    let b = KitProcess::start("canarysvc", &[], &[("KIT_METADATA", "zone=b version=2.1")]);
    let described = kit(&["describe", "--json", &a.url()]);
    assert_eq!(described.code, 0, "{described:?}");
    let d = described.json();
    assert_eq!(d[0]["metadata"]["zone"], "a", "{d:#}");
    assert_eq!(d[0]["metadata"]["version"], "2.0", "{d:#}");
    let loads = [
        Load::start(a.addr, "/work", WORK, 30.0),
        Load::start(b.addr, "/work", WORK, 30.0),
    ];
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fleet = format!("{},{}", a.url(), b.url());
    let f = fleet.clone();
    let by_zone = tokio::task::spawn_blocking(move || {
        kit(&["compare", "--by", "zone", "--window", "1s", "--json", &f])
    });
    let by_version = tokio::task::spawn_blocking(move || {
        kit(&[
            "compare", "--by", "version", "--window", "1s", "--json", &fleet,
        ])
    });
    let (by_zone, by_version) = (
        by_zone.await.expect("compare"),
        by_version.await.expect("compare"),
    );
    for load in loads {
        load.stop().await;
    }
    for (run, groups) in [(&by_zone, ["a", "b"]), (&by_version, ["2.0", "2.1"])] {
        assert_eq!(run.code, 0, "{run:?}");
        let c = run.json();
        let work = c["endpoints"]
            .as_array()
            .and_then(|e| e.iter().find(|e| e["endpoint"] == "work"))
            .unwrap_or_else(|| panic!("{c:#}"));
        let found: Vec<&str> = work["groups"]
            .as_array()
            .map(|g| g.iter().filter_map(|g| g["group"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(found, groups, "{c:#}");
    }
}
