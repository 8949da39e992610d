//! `kit dashboard` in a real browser: Debian's headless Chromium loads the
//! page while the test fleet serves load, the test reads the DOM it
//! rendered (`--dump-dom`, after the page's script has polled
//! `/api/fleet`) and takes a screenshot. `KIT_DASHBOARD_SCREENSHOT=PATH`
//! keeps the screenshot there (docs/kit-dashboard.png is one).

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use kit_tests::cli::{kit_bin, Load};
use kit_tests::observe::{http_exchange, poll, tool, KitProcess};
use kit_tests::registry::{free_port, wait_for_port, Daemon, TempDir};
use serde_json::Value;

fn chromium(profile: &TempDir, args: &[&str]) -> std::process::Output {
    Command::new(tool("chromium"))
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .output()
        .expect("chromium runs (scripts/install-test-deps installs it)")
}

fn fleet(addr: SocketAddr) -> Option<Value> {
    let (status, body) = http_exchange(addr, "GET", "/api/fleet", "text/plain", b"").ok()?;
    (status == 200)
        .then(|| serde_json::from_slice(&body).ok())
        .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_renders_the_fleet_in_chromium() {
    let good = KitProcess::start("canarysvc", &[], &[]);
    let bad = KitProcess::start(
        "canarysvc",
        &[],
        &[("CANARY_FAIL_EVERY", "4"), ("CANARY_DELAY_MS", "30")],
    );
    let loads = [
        Load::start(good.addr, "/work", r#"{"n":1}"#, 40.0),
        Load::start(bad.addr, "/work", r#"{"n":1}"#, 40.0),
    ];
    let gone = format!("127.0.0.1:{}", free_port());
    let listen: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let mut cmd = Command::new(kit_bin());
    cmd.args([
        "dashboard",
        "--listen",
        &listen.to_string(),
        "--interval",
        "500ms",
    ])
    .args([good.url(), bad.url(), gone.clone()]);
    let dashboard = Daemon::spawn("kit dashboard", cmd);
    let (g, b) = (good.addr.to_string(), bad.addr.to_string());
    let result = tokio::task::spawn_blocking(move || {
        assert!(
            wait_for_port(listen, Duration::from_secs(10)),
            "{}",
            dashboard.output()
        );
        // Enough history for charts: a few points with traffic on both.
        poll(
            Duration::from_secs(15),
            "the dashboard has history for both instances",
            || {
                let view = fleet(listen)?;
                let series = view["history"]["canary.work"].as_object()?;
                let busy = |i: &str| {
                    series.get(i)?.as_array().map(|p| {
                        p.iter()
                            .filter(|p| p[1].as_f64().unwrap_or(0.0) > 20.0)
                            .count()
                    })
                };
                (busy(&g)? >= 3 && busy(&b)? >= 3).then_some(())
            },
            || format!("{:?}\n{}", fleet(listen), dashboard.output()),
        );
        let profile = TempDir::new("cli-dashboard-chromium");
        let url = format!("http://{listen}/");
        let dom = chromium(
            &profile,
            &["--virtual-time-budget=3000", "--dump-dom", &url],
        );
        let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
        let shot_dir = TempDir::new("cli-dashboard-shot");
        let shot = shot_dir.path().join("dashboard.png");
        let out = chromium(
            &profile,
            &[
                "--virtual-time-budget=3000",
                "--window-size=1100,620",
                &format!("--screenshot={}", shot.display()),
                &url,
            ],
        );
        let png = std::fs::read(&shot).unwrap_or_else(|e| {
            panic!(
                "no screenshot ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        if let Some(keep) = std::env::var_os("KIT_DASHBOARD_SCREENSHOT") {
            std::fs::write(keep, &png).expect("keep the screenshot");
        }
        (dom, png, g, b)
    })
    .await;
    for load in loads {
        load.stop().await;
    }
    let (dom, png, g, b) = result.expect("the browser test ran");

    // The table the script rendered: the slow, failing instance in red.
    assert!(
        dom.contains(&format!(
            "<tr class=\"outlier\"><td>{b}</td><td>0.1.0</td><td>canary.work</td>"
        )),
        "{dom}"
    );
    assert!(
        dom.contains(&format!(
            "<tr class=\"\"><td>{g}</td><td>0.1.0</td><td>canary.work</td>"
        )),
        "{dom}"
    );
    assert!(dom.contains("UNAVAILABLE"), "{dom}");
    assert!(
        dom.contains(&format!(
            "<td colspan=\"9\">http://{gone}: unreachable (connection refused)</td>"
        )),
        "{dom}"
    );
    assert!(
        dom.contains("3 instances, rates and quantiles over a 2s window"),
        "the script ran: {dom}"
    );
    // Rate and p99 charts for the busy endpoint, a line per instance.
    for title in ["canary.work req/s", "canary.work p99"] {
        assert!(dom.contains(&format!("<h2>{title}</h2>")), "{title}: {dom}");
    }
    for instance in [&g, &b] {
        let lines = dom
            .matches(&format!(
                "<polyline class=\"series\" data-instance=\"{instance}\""
            ))
            .count();
        assert_eq!(lines, 2, "{instance}: {dom}");
    }
    assert!(
        !dom.contains("canary.ping req/s"),
        "an idle endpoint gets no chart"
    );
    // A real picture.
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 10_000, "{} bytes", png.len());
}
