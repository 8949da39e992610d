//! The benchmark suite in smoke mode: every contender (kit, hand-written
//! and bare axum, Go kit, hand-written and bare tonic, both clients, the
//! fleet section's balancers and registries, the overload section's
//! servers) starts, answers correctly, and
//! the report is written. No timing is asserted.

use std::process::Command;

#[test]
fn every_contender_answers_and_the_report_is_written() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let out = std::env::temp_dir().join(format!("kit-bench-smoke-{}.md", std::process::id()));
    let status = Command::new("python3")
        .arg(root.join("bench/run.py"))
        .args(["--smoke", "--out"])
        .arg(&out)
        .current_dir(&root)
        .status()
        .expect("python3 runs");
    assert!(status.success(), "bench/run.py --smoke failed");
    let report = std::fs::read_to_string(&out).unwrap();
    for row in [
        "| kit |",
        "| axum-instrumented |",
        "| axum-bare |",
        "| go-kit |",
        "| tonic-instrumented |",
        "| tonic-bare |",
        "| kit-http |",
        "| hyper-http |",
        "| kit-grpc |",
        "| tonic-grpc |",
        "| kit (full server stack) |",
        "| P2C peak-EWMA over 3 (one server, 3 addresses) |",
        "| P2C peak-EWMA over 3 server processes |",
        "| retries (default: 3, budgeted) |",
        "| etcd 3.4 (watch) |",
        "| ZooKeeper 3.8 (child watch) |",
        "| DNS SRV via dnsmasq",
        "FAKE in-process agent",
        "| kit default (adaptive limit) |",
        "| fixed limit (--concurrency 8) |",
        "| no limit (--concurrency off) |",
    ] {
        assert!(report.contains(row), "{row} missing from\n{report}");
    }
    // Every contender ran without errors (the failover rows count the
    // calls a SIGKILL failed, their own measure).
    for line in report
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains(" µs |") && !l.contains("retries"))
    {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        assert_eq!(cells[5], "0", "errors in {line}");
    }
}
