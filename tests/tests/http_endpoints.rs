//! Every way an HTTP route binds arguments, through a raw client and through
//! the generated typed client, over real sockets.

use kit::Server;
use kit_tests::probe::{Item, Probe, ProbeClient};
use kit_tests::{post_json, raw, start};

#[tokio::test]
async fn example_uppercase_answers_json_of_the_return_value() {
    let server = start(Server::default().add_service(stringsvc::StringService)).await;
    let r = post_json(server.addr, "/uppercase", r#"{"s":"hello"}"#).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(&r.body[..], br#""HELLO""#);

    let r = post_json(server.addr, "/count", r#"{"s":"hello"}"#).await;
    assert_eq!(&r.body[..], b"5");

    let r = post_json(server.addr, "/uppercase", r#"{"s":""}"#).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_status(), "INVALID_ARGUMENT");
    assert_eq!(r.error_message(), "empty string");
}

#[tokio::test]
async fn generated_client_calls_every_endpoint_shape() {
    let server = start(Server::default().add_service(Probe::default())).await;
    let client = ProbeClient::connect(server.url()).await.unwrap();

    // Path parameter plus optional query parameter.
    assert_eq!(client.get_item(7, None).await.unwrap().name, "item7");
    assert_eq!(
        client.get_item(7, Some(true)).await.unwrap().name,
        "item number 7"
    );

    // Path parameter plus whole-body argument.
    let item = Item {
        id: 3,
        name: "three".into(),
        tags: vec!["a".into()],
    };
    assert_eq!(client.put_item(3, item.clone()).await.unwrap(), item);
    let err = client.put_item(4, item).await.unwrap_err();
    assert_eq!(err.code(), kit::Code::InvalidArgument);

    // Path parameter plus body fields.
    let renamed = client
        .rename(9, "nine", vec!["x".into(), "y".into()])
        .await
        .unwrap();
    assert_eq!(
        renamed,
        Item {
            id: 9,
            name: "nine".into(),
            tags: vec!["x".into(), "y".into()]
        }
    );

    // Unit return over DELETE; a user error type converted with From.
    client.delete_item(1).await.unwrap();
    assert_eq!(
        client.delete_item(0).await.unwrap_err().code(),
        kit::Code::FailedPrecondition
    );
    assert_eq!(client.lookup("k").await.unwrap_err().message(), "no key k");

    // Query parameters, with characters that need escaping.
    let hits = client.search("a b&c/d", Some(3)).await.unwrap();
    assert_eq!(hits, vec!["a b&c/d-0", "a b&c/d-1", "a b&c/d-2"]);
    assert_eq!(client.search("q", None).await.unwrap().len(), 2);

    // Whole JSON body of any shape.
    let v = serde_json::json!({"nested": [1, 2, {"deep": null}]});
    assert_eq!(client.echo(v.clone()).await.unwrap(), v);
}

#[tokio::test]
async fn raw_requests_bind_path_query_and_body() {
    let server = start(Server::default().add_service(Probe::default())).await;
    let r = raw(server.addr, "GET", "/items/12?verbose=true", &[], "").await;
    assert_eq!(r.json()["name"], "item number 12");

    let r = raw(server.addr, "GET", "/search?q=x&limit=1", &[], "").await;
    assert_eq!(r.json(), serde_json::json!(["x-0"]));

    let r = raw(server.addr, "GET", "/search", &[], "").await;
    assert_eq!(r.status, 400);
    assert!(
        r.error_message().contains("missing query parameter `q`"),
        "{}",
        r.error_message()
    );

    let r = raw(
        server.addr,
        "PATCH",
        "/items/5",
        &[("content-type", "application/json; charset=utf-8")],
        r#"{"name":"n","tags":[],"ignored":true}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["id"], 5);

    // `Result<(), E>` answers 204 No Content.
    let r = raw(server.addr, "DELETE", "/items/4", &[], "").await;
    assert_eq!((r.status.as_u16(), &r.body[..]), (204, &b""[..]));
}

#[tokio::test]
async fn http2_client_works_against_the_same_port() {
    let server = start(Server::default().add_service(stringsvc::StringService)).await;
    let client = stringsvc::StringServiceClient::builder()
        .base_url(server.url())
        .http2_only(true)
        .build()
        .unwrap();
    assert_eq!(client.uppercase("h2").await.unwrap(), "H2");
    assert_eq!(client.count("four").await.unwrap(), 4);
}

#[tokio::test]
async fn router_mounts_in_a_users_own_axum_app() {
    let app = axum::Router::new()
        .route("/mine", axum::routing::get(|| async { "my route" }))
        .merge(kit::router(stringsvc::StringService));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    assert_eq!(
        &raw(addr, "GET", "/mine", &[], "").await.body[..],
        b"my route"
    );
    assert_eq!(
        &post_json(addr, "/uppercase", r#"{"s":"x"}"#).await.body[..],
        br#""X""#
    );
}

#[tokio::test]
async fn descriptors_are_registered_and_served() {
    let names: Vec<_> = kit::descriptor::registered_services()
        .map(|s| s.name)
        .collect();
    for expected in ["probe", "front", "strings"] {
        assert!(names.contains(&expected), "{expected} not in {names:?}");
    }
    let probe = <Probe as kit::Endpoints>::DESCRIPTOR;
    let slow = probe.endpoint("slow").unwrap();
    assert_eq!(slow.timeout, Some(std::time::Duration::from_millis(200)));
    assert_eq!(probe.endpoint("get_item").unwrap().docs, "Reads an item.");
    let flaky = probe.endpoint("flaky").unwrap();
    assert!(flaky.idempotent && flaky.retry == 3);

    let server = start(Server::default().add_service(Probe::default())).await;
    let r = raw(server.addr, "GET", "/kit/describe", &[], "").await;
    let described = r.json();
    assert_eq!(described[0]["name"], "probe");
    let endpoints = described[0]["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), probe.endpoints.len());
    assert_eq!(
        r#"{"method":"GET","path":"/items/{id}"}"#,
        endpoints[0]["http"].to_string()
    );
}

#[tokio::test]
async fn concurrent_mixed_load_answers_correctly() {
    let server = start(Server::default().add_service(stringsvc::StringService)).await;
    let client = stringsvc::StringServiceClient::connect(server.url())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..400 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let s = format!("word{i}");
            if i % 2 == 0 {
                assert_eq!(client.uppercase(s.clone()).await.unwrap(), s.to_uppercase());
            } else {
                assert_eq!(client.count(s.clone()).await.unwrap(), s.len() as u64);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}
