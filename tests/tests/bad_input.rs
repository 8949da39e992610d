//! Bad input gets a clear error and the server keeps serving.

use kit::Server;
use kit_tests::probe::Probe;
use kit_tests::{post_json, raw, start};

#[tokio::test]
async fn malformed_json_is_400_naming_the_problem() {
    let server = start(Server::default().add_service(stringsvc::StringService)).await;
    let r = post_json(server.addr, "/uppercase", r#"{"s": "#).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_status(), "INVALID_ARGUMENT");
    assert!(
        r.error_message().contains("invalid JSON body"),
        "{}",
        r.error_message()
    );

    let r = post_json(server.addr, "/uppercase", r#"{"s": 42}"#).await;
    assert_eq!(r.status, 400);
    assert!(
        r.error_message().contains("expected a string"),
        "{}",
        r.error_message()
    );

    let r = post_json(server.addr, "/uppercase", r#"{"t": "x"}"#).await;
    assert_eq!(r.status, 400);
    assert!(
        r.error_message().contains("missing field `s`"),
        "{}",
        r.error_message()
    );
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let server = start(Server::default().add_service(stringsvc::StringService)).await;
    let r = raw(
        server.addr,
        "POST",
        "/uppercase",
        &[("content-type", "text/plain")],
        r#"{"s":"x"}"#,
    )
    .await;
    assert_eq!(r.status, 415);
    assert!(
        r.error_message().contains("application/json"),
        "{}",
        r.error_message()
    );
    let r = raw(server.addr, "POST", "/uppercase", &[], r#"{"s":"x"}"#).await;
    assert_eq!(r.status, 415);
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let server = start(
        Server::default()
            .body_limit(1024)
            .add_service(Probe::default()),
    )
    .await;
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(4096));
    let r = post_json(server.addr, "/echo", &big).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.error_status(), "RESOURCE_EXHAUSTED");
    // Under the limit still works on the same server.
    let r = post_json(server.addr, "/echo", r#"{"small":true}"#).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn default_limit_is_a_few_mebibytes() {
    let server = start(Server::default().add_service(Probe::default())).await;
    let ok = format!(r#""{}""#, "x".repeat(1024 * 1024));
    assert_eq!(post_json(server.addr, "/echo", &ok).await.status, 200);
    let too_big = format!(r#""{}""#, "x".repeat(5 * 1024 * 1024));
    assert_eq!(post_json(server.addr, "/echo", &too_big).await.status, 413);
}

#[tokio::test]
async fn unknown_route_and_wrong_method_answer_json() {
    let server = start(Server::default().add_service(stringsvc::StringService)).await;
    let r = raw(server.addr, "GET", "/nope", &[], "").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error_status(), "NOT_FOUND");

    let r = raw(server.addr, "GET", "/uppercase", &[], "").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.headers["allow"], "POST");
    // The body's code is the canonical code's (UNIMPLEMENTED); the response
    // status is the precise one.
    assert_eq!(r.error_status(), "UNIMPLEMENTED");
    assert_eq!(r.json()["error"]["code"], 501);
}

#[tokio::test]
async fn unparsable_path_parameter_is_400() {
    let server = start(Server::default().add_service(Probe::default())).await;
    let r = raw(server.addr, "GET", "/items/abc", &[], "").await;
    assert_eq!(r.status, 400);
    assert!(
        r.error_message().contains("path parameter `id`"),
        "{}",
        r.error_message()
    );
    let r = raw(server.addr, "GET", "/items/1?verbose=maybe", &[], "").await;
    assert_eq!(r.status, 400);
    assert!(
        r.error_message().contains("query parameter `verbose`"),
        "{}",
        r.error_message()
    );
}

#[tokio::test]
async fn a_panicking_handler_is_500_and_the_server_keeps_serving() {
    let server = start(Server::default().add_service(Probe::default())).await;
    for _ in 0..3 {
        let r = post_json(server.addr, "/panic", "{}").await;
        assert_eq!(r.status, 500);
        assert_eq!(r.error_status(), "INTERNAL");
        // The panic message stays in the server log, not in the answer.
        assert!(!r.error_message().contains("on purpose"));
    }
    let r = raw(server.addr, "GET", "/items/1", &[], "").await;
    assert_eq!(r.status, 200);
}
