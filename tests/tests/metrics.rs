//! `/metrics`: the same names and labels for every endpoint, valid
//! Prometheus text as judged by Prometheus's own `promtool`.

use std::io::Write;
use std::process::{Command, Stdio};

use kit::Server;
use kit_tests::probe::{Probe, ProbeClient};
use kit_tests::{post_json, raw, start};

#[tokio::test]
async fn red_metrics_are_exported_and_pass_promtool() {
    let server = start(
        Server::default()
            .add_service(Probe::default())
            .add_service(stringsvc::StringService),
    )
    .await;
    post_json(server.addr, "/uppercase", r#"{"s":"a"}"#).await;
    post_json(server.addr, "/uppercase", r#"{"s":""}"#).await;
    let client = ProbeClient::connect(server.url()).await.unwrap();
    client.get_item(1, None).await.unwrap();
    let _ = client.lookup("x").await;

    let r = raw(server.addr, "GET", "/metrics", &[], "").await;
    assert_eq!(r.status, 200);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = String::from_utf8(r.body.to_vec()).unwrap();
    for needle in [
        r#"kit_server_requests_total{service="strings",endpoint="uppercase",transport="http",code="OK"}"#,
        r#"kit_server_requests_total{service="strings",endpoint="uppercase",transport="http",code="INVALID_ARGUMENT"}"#,
        r#"kit_server_requests_total{service="probe",endpoint="lookup",transport="http",code="NOT_FOUND"}"#,
        r#"kit_server_request_duration_seconds_bucket{service="probe",endpoint="get_item",transport="http",le="0.005"}"#,
        r#"kit_server_requests_in_flight{service="probe",endpoint="get_item",transport="http"} 0"#,
        r#"kit_client_requests_total{service="probe",endpoint="get_item",transport="http",code="OK"}"#,
        r#"kit_client_request_duration_seconds_count{service="probe",endpoint="lookup",transport="http"}"#,
        "# TYPE kit_server_request_duration_seconds histogram",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed by the test command (apt package prometheus)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn health_reflects_readiness() {
    let server = Server::default().add_service(Probe::default());
    let health = server.health();
    let running = start(server).await;
    let r = raw(running.addr, "GET", "/health", &[], "").await;
    assert_eq!(
        (r.status.as_u16(), r.json()["status"].as_str()),
        (200, Some("SERVING"))
    );
    health.set_ready(false);
    let r = raw(running.addr, "GET", "/health/ready", &[], "").await;
    assert_eq!(
        (r.status.as_u16(), r.json()["status"].as_str()),
        (503, Some("NOT_SERVING"))
    );
    let r = raw(running.addr, "GET", "/health/live", &[], "").await;
    assert_eq!(r.status, 200);
}
