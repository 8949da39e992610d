//! Graceful shutdown: in-process and as a real process receiving SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kit::Server;
use kit_tests::probe::{Probe, ProbeClient};
use kit_tests::{start, workspace_bin};

#[tokio::test]
async fn shutdown_drains_every_in_flight_request() {
    let probe = Arc::new(Probe::default());
    let mut server = start(Server::default().add_shared_service(probe.clone())).await;
    let client = ProbeClient::connect(server.url()).await.unwrap();
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.sleep(400).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let started = Instant::now();
    server.shutdown();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), 400);
    }
    assert_eq!(probe.completed_sleeps.load(Ordering::SeqCst), 20);
    tokio::time::timeout(Duration::from_secs(5), &mut server.task)
        .await
        .expect("server stops after draining")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    // New connections are refused once it stopped.
    assert!(tokio::net::TcpStream::connect(server.addr).await.is_err());
}

#[tokio::test]
async fn the_grace_period_bounds_the_drain() {
    let mut server = start(
        Server::default()
            .grace_period(Duration::from_millis(200))
            .add_service(Probe::default()),
    )
    .await;
    let client = ProbeClient::connect(server.url()).await.unwrap();
    let call = tokio::spawn(async move { client.sleep(10_000).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    server.shutdown();
    tokio::time::timeout(Duration::from_secs(3), &mut server.task)
        .await
        .expect("grace period ends the wait")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    call.abort();
}

#[test]
fn sigterm_drains_and_exits_zero() {
    let bin = workspace_bin("slowsvc");
    let mut child = Command::new(bin)
        .args(["--http-addr", "127.0.0.1:0", "--log-format", "json"])
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn slowsvc");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    // The first log line names the bound address.
    let addr = loop {
        let line = lines.next().expect("log line").unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON log line");
        if let Some(addr) = v["addr"].as_str() {
            break addr.to_string();
        }
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let in_flight = rt.spawn({
        let url = format!("http://{addr}");
        async move {
            let client = ProbeClient::connect(url).await.unwrap();
            client.sleep(500).await
        }
    });
    std::thread::sleep(Duration::from_millis(150));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let result = rt.block_on(in_flight).unwrap();
    assert_eq!(result.unwrap(), 500, "the in-flight request completed");
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("shut down cleanly")),
        "{rest:?}"
    );
}
