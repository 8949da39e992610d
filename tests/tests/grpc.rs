//! gRPC from the same annotations, over real sockets: the generated client
//! over gRPC, the error model, deadlines, retries, bad input, and both
//! transports on one port.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kit::{Code, Server, Transport};
use kit_tests::probe::{Chain, Front, Item, Probe, ProbeClient};
use kit_tests::RawCodec;
use kit_tests::{post_json, raw, start};
use tonic::transport::Channel;

fn grpc(url: String) -> ProbeClient {
    ProbeClient::builder()
        .base_url(url)
        .transport(Transport::Grpc)
        .backoff(kit::retry::Backoff {
            base: Duration::from_millis(1),
            max: Duration::from_millis(5),
        })
        .build()
        .unwrap()
}

async fn raw_grpc(
    url: String,
    path: &'static str,
    body: &'static [u8],
) -> Result<Bytes, tonic::Status> {
    let channel = Channel::from_shared(url).unwrap().connect().await.unwrap();
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.unwrap();
    client
        .unary(
            tonic::Request::new(Bytes::from_static(body)),
            http::uri::PathAndQuery::from_static(path),
            RawCodec,
        )
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn the_generated_client_calls_every_shape_over_grpc() {
    let server = start(Server::default().add_service(Probe::default())).await;
    let client = grpc(server.url());
    assert_eq!(
        client.get_item(7, Some(true)).await.unwrap().name,
        "item number 7"
    );
    assert_eq!(client.get_item(7, None).await.unwrap().name, "item7");
    let item = Item {
        id: 3,
        name: "three".into(),
        tags: vec!["a".into(), "b".into()],
    };
    assert_eq!(client.put_item(3, item.clone()).await.unwrap(), item);
    assert_eq!(
        client
            .rename(9, "nine", vec!["x".into()])
            .await
            .unwrap()
            .tags,
        vec!["x"]
    );
    client.delete_item(1).await.unwrap();
    assert_eq!(
        client.search("q", Some(3)).await.unwrap(),
        vec!["q-0", "q-1", "q-2"]
    );
    assert_eq!(client.search("q", None).await.unwrap().len(), 2);

    let strings = start(Server::default().add_service(stringsvc::StringService)).await;
    let s = stringsvc::StringServiceClient::builder()
        .base_url(strings.url())
        .transport(Transport::Grpc)
        .build()
        .unwrap();
    assert_eq!(s.uppercase("hello").await.unwrap(), "HELLO");
    assert_eq!(s.count("hello").await.unwrap(), 5);
}

#[tokio::test]
async fn errors_keep_code_and_message_over_grpc() {
    let server = start(Server::default().add_service(Probe::default())).await;
    let client = ProbeClient::builder()
        .base_url(server.url())
        .transport(Transport::Grpc)
        .retries(0)
        .build()
        .unwrap();
    for code in Code::ALL.into_iter().filter(|c| *c != Code::Ok) {
        let err = client
            .fail(code.as_i32(), format!("failing with {code}"))
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), err.message()),
            (code, format!("failing with {code}").as_str())
        );
    }
    assert_eq!(
        client.delete_item(0).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    let err = client.panic().await.unwrap_err();
    assert_eq!(err.code(), Code::Internal);
    // Still serving after the panic.
    assert_eq!(client.get_item(1, None).await.unwrap().id, 1);
}

#[tokio::test]
async fn deadlines_use_grpc_timeout() {
    let probe = Arc::new(Probe::default());
    let server = start(Server::default().add_shared_service(probe.clone())).await;
    let client = grpc(server.url());
    let started = Instant::now();
    let err = client.slow(5000).await.unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);
    assert!(started.elapsed() < Duration::from_secs(1));

    // The caller's deadline travels as grpc-timeout and the server enforces it.
    let client = ProbeClient::builder()
        .base_url(server.url())
        .transport(Transport::Grpc)
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let started = Instant::now();
    assert_eq!(
        client.sleep(3000).await.unwrap_err().code(),
        Code::DeadlineExceeded
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn retries_over_grpc_follow_the_same_rules() {
    let probe = Arc::new(Probe::default());
    let server = start(Server::default().add_shared_service(probe.clone())).await;
    let client = grpc(server.url());
    assert_eq!(client.flaky("g1", 2).await.unwrap(), 3);
    assert_eq!(probe.attempts("g1"), 3);
    assert!(client.flaky_unsafe("g2", 1).await.is_err());
    assert_eq!(probe.attempts("g2"), 1);
}

#[tokio::test]
async fn trace_and_deadline_propagate_over_grpc_hops() {
    let back = start(Server::default().add_service(Probe::default())).await;
    let front = start(Server::default().add_service(Front {
        probe: grpc(back.url()),
    }))
    .await;
    let front_client = kit_tests::probe::FrontClient::builder()
        .base_url(front.url())
        .transport(Transport::Grpc)
        .build()
        .unwrap();
    let chain: Chain = front_client.chain().await.unwrap();
    assert_eq!(chain.front.trace_id, chain.back.trace_id);
    let front_left = chain.front.remaining_ms.unwrap();
    let back_left = chain
        .back
        .remaining_ms
        .expect("deadline propagated over grpc-timeout");
    assert!(back_left <= front_left && front_left <= 1500);
}

#[tokio::test]
async fn bad_grpc_input_gets_a_status_and_the_server_keeps_serving() {
    let server = start(
        Server::default()
            .body_limit(1024)
            .add_service(Probe::default()),
    )
    .await;
    // Unknown method and unknown service.
    let err = raw_grpc(server.url(), "/kit.probe.v1.Probe/Nope", b"")
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unimplemented);
    let err = raw_grpc(server.url(), "/no.Such/Method", b"")
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unimplemented);
    // `grpc = "WhoAmI"` names the method: served there, not at the default name.
    assert!(raw_grpc(server.url(), "/kit.probe.v1.Probe/WhoAmI", b"")
        .await
        .is_ok());
    let err = raw_grpc(server.url(), "/kit.probe.v1.Probe/Context", b"")
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unimplemented);
    // Malformed protobuf: a truncated varint.
    let err = raw_grpc(server.url(), "/kit.probe.v1.Probe/GetItem", b"\x08\xff\xff")
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Internal, "{err:?}");
    // Invalid UTF-8 in a string field.
    let err = raw_grpc(
        server.url(),
        "/kit.probe.v1.Probe/Lookup",
        b"\x0a\x02\xff\xfe",
    )
    .await
    .unwrap_err();
    assert!(err.message().contains("UTF-8"), "{err:?}");
    // A message over the limit.
    static BIG: [u8; 4096] = [0; 4096];
    let err = raw_grpc(server.url(), "/kit.probe.v1.Probe/Echo", &BIG)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.code(),
            tonic::Code::ResourceExhausted | tonic::Code::Unimplemented
        ),
        "{err:?}"
    );
    let err = raw_grpc(server.url(), "/kit.probe.v1.Probe/Lookup", &BIG)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    // Still serving.
    assert_eq!(grpc(server.url()).get_item(2, None).await.unwrap().id, 2);
}

#[tokio::test]
async fn grpc_with_another_codec_is_refused_with_a_status() {
    let server = start(Server::default().add_service(Probe::default())).await;
    let client: hyper_util::client::legacy::Client<_, http_body_util::Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .http2_only(true)
            .build_http();
    let req = http::Request::post(format!("{}/kit.probe.v1.Probe/GetItem", server.url()))
        .header("content-type", "application/grpc+json")
        .header("te", "trailers")
        .body(http_body_util::Full::new(Bytes::from_static(
            b"\0\0\0\0\x02{}",
        )))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.headers()["grpc-status"], "12");
}

#[tokio::test]
async fn both_transports_share_one_port_under_concurrent_mixed_load() {
    let server = start(Server::default().add_service(stringsvc::StringService)).await;
    let http = stringsvc::StringServiceClient::connect(server.url())
        .await
        .unwrap();
    let grpc = stringsvc::StringServiceClient::builder()
        .base_url(server.url())
        .transport(Transport::Grpc)
        .build()
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..600 {
        let client = if i % 2 == 0 {
            http.clone()
        } else {
            grpc.clone()
        };
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            let s = format!("w{i}");
            match i % 3 {
                0 => assert_eq!(client.uppercase(s.clone()).await.unwrap(), s.to_uppercase()),
                1 => assert_eq!(client.count(s.clone()).await.unwrap(), s.len() as u64),
                _ => {
                    let r = post_json(addr, "/uppercase", &format!(r#"{{"s":"{s}"}}"#)).await;
                    assert_eq!(r.json(), serde_json::json!(s.to_uppercase()));
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Metrics tell the transports apart.
    let text = String::from_utf8(
        raw(server.addr, "GET", "/metrics", &[], "")
            .await
            .body
            .to_vec(),
    )
    .unwrap();
    assert!(text.contains(r#"kit_server_requests_total{service="strings",endpoint="uppercase",transport="grpc",code="OK"}"#), "{text}");
    assert!(text.contains(r#"kit_server_requests_total{service="strings",endpoint="uppercase",transport="http",code="OK"}"#));
    assert!(text.contains(r#"kit_client_requests_total{service="strings",endpoint="count",transport="grpc",code="OK"}"#));
}

#[tokio::test]
async fn a_separate_grpc_address_serves_grpc_only() {
    let listening = Server::default()
        .http_addr(([127, 0, 0, 1], 0).into())
        .grpc_addr(([127, 0, 0, 1], 0).into())
        .add_service(stringsvc::StringService)
        .bind()
        .await
        .unwrap();
    let grpc_addr = listening.grpc_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(listening.run_until(async move {
        let _ = rx.await;
    }));
    let client = stringsvc::StringServiceClient::builder()
        .base_url(format!("http://{grpc_addr}"))
        .transport(Transport::Grpc)
        .build()
        .unwrap();
    assert_eq!(client.uppercase("sep").await.unwrap(), "SEP");
    let _ = tx.send(());
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_generated_proto_matches_the_checked_in_file() {
    let checked_in = include_str!("../../examples/stringsvc/proto/strings/v1.proto");
    let generated = <stringsvc::StringService as kit::Endpoints>::DESCRIPTOR
        .proto()
        .unwrap();
    assert_eq!(
        generated, checked_in,
        "the gRPC schema changed: if on purpose, regenerate with `cargo run -p stringsvc -- --emit-proto > examples/stringsvc/proto/strings/v1.proto`"
    );
}
