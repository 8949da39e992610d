//! The error model both ways: every code crosses HTTP and comes back as the
//! same `kit::Error`.

use kit::{Code, Server};
use kit_tests::probe::{Probe, ProbeClient};
use kit_tests::{post_json, start};

#[tokio::test]
async fn every_code_round_trips_with_its_http_status() {
    let server = start(Server::default().add_service(Probe::default())).await;
    let client = ProbeClient::builder()
        .base_url(server.url())
        .retries(0)
        .build()
        .unwrap();
    for code in Code::ALL.into_iter().filter(|c| *c != Code::Ok) {
        let message = format!("failing with {code}");
        let err = client
            .fail(code.as_i32(), message.clone())
            .await
            .unwrap_err();
        assert_eq!(err.code(), code);
        assert_eq!(err.message(), message);
        assert_eq!(err.details(), &[serde_json::json!({"code": code.as_i32()})]);

        let body = format!(r#"{{"code":{},"message":"m"}}"#, code.as_i32());
        let r = post_json(server.addr, "/fail", &body).await;
        assert_eq!(r.status, code.http_status(), "{code}");
        assert_eq!(r.error_status(), code.as_str());
        assert_eq!(r.json()["error"]["code"], code.http_status().as_u16());
    }
}

#[tokio::test]
async fn transport_failures_are_unavailable() {
    // Nothing listens on this port: bind one, then free it.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // connect() checks, so it says so at once; a built client says so per call.
    let err = ProbeClient::connect(format!("http://{addr}"))
        .await
        .err()
        .expect("nothing listens");
    assert_eq!(err.code(), Code::Unavailable);
    let client = ProbeClient::builder()
        .base_url(format!("http://{addr}"))
        .build()
        .unwrap();
    let err = client.get_item(1, None).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(err.message().contains("probe.get_item"), "{err}");
}

#[tokio::test]
async fn bad_base_urls_are_rejected_up_front() {
    assert!(ProbeClient::connect("not a url").await.is_err());
    assert!(ProbeClient::connect("https://127.0.0.1:1").await.is_err());
    assert_eq!(
        ProbeClient::builder().build().err().map(|e| e.code()),
        Some(Code::InvalidArgument)
    );
}
