//! Users' own tower layers: around every endpoint of a server (both
//! transports), around one service's endpoints, and around every attempt
//! of a client's calls.

use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use kit::prelude::*;
use kit::{Server, Transport};
use kit_tests::probe::{Probe, ProbeClient};
use kit_tests::{raw, start};
use tower::{Layer, Service};

/// Records the path of every request it sees, whether a kit `Context`
/// was current, and any `traceparent` header.
#[derive(Clone, Default)]
struct Record {
    name: &'static str,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Record {
    fn named(name: &'static str, seen: &Arc<Mutex<Vec<String>>>) -> Record {
        Record {
            name,
            seen: seen.clone(),
        }
    }
}

impl<S> Layer<S> for Record {
    type Service = Recorded<S>;
    fn layer(&self, inner: S) -> Recorded<S> {
        Recorded {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
struct Recorded<S> {
    inner: S,
    layer: Record,
}

impl<S, B> Service<http::Request<B>> for Recorded<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> S::Future {
        let ctx = if Context::try_current().is_some() {
            "ctx"
        } else {
            "no-ctx"
        };
        let trace = if req.headers().contains_key("traceparent") {
            "traceparent"
        } else {
            "-"
        };
        let tenant = req
            .headers()
            .get("x-tenant")
            .and_then(|v| v.to_str().ok())
            .map(|t| format!(" tenant={t}"))
            .unwrap_or_default();
        self.layer.seen.lock().unwrap().push(format!(
            "{} {} {ctx} {trace}{tenant}",
            self.layer.name,
            req.uri().path()
        ));
        self.inner.call(req)
    }
}

/// Refuses every request with a kit error, without calling the endpoint.
#[derive(Clone)]
struct Deny;

impl<S> Layer<S> for Deny {
    type Service = Denied;
    fn layer(&self, _inner: S) -> Denied {
        Denied
    }
}

#[derive(Clone)]
struct Denied;

impl<B> Service<http::Request<B>> for Denied {
    type Response = http::Response<axum::body::Body>;
    type Error = kit::Error;
    type Future = std::future::Ready<Result<Self::Response, kit::Error>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), kit::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: http::Request<B>) -> Self::Future {
        std::future::ready(Err(kit::Error::permission_denied("denied by a layer")))
    }
}

fn lines(seen: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    seen.lock().unwrap().clone()
}

#[tokio::test]
async fn a_server_layer_wraps_every_endpoint_on_both_transports_inside_the_context() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = start(
        Server::default()
            .layer(Record::named("outer", &seen))
            .layer(Record::named("inner", &seen))
            .add_service(Probe::default()),
    )
    .await;
    let http = ProbeClient::connect(server.url()).await.unwrap();
    assert_eq!(http.search("q", Some(1)).await.unwrap(), ["q-0"]);
    let grpc = ProbeClient::builder()
        .base_url(server.url())
        .transport(Transport::Grpc)
        .build()
        .unwrap();
    assert_eq!(grpc.get_item(7, None).await.unwrap().id, 7);
    // Not around kit's own routes.
    assert_eq!(
        raw(server.addr, "GET", "/health", &[], "").await.status,
        200
    );
    assert_eq!(
        lines(&seen),
        [
            "outer /search ctx traceparent",
            "inner /search ctx traceparent",
            "outer /kit.probe.v1.Probe/GetItem ctx traceparent",
            "inner /kit.probe.v1.Probe/GetItem ctx traceparent",
        ]
    );
}

#[tokio::test]
async fn a_service_layer_wraps_only_that_service_inside_the_server_layers() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = start(
        Server::default()
            .layer(Record::named("server", &seen))
            .add_service(Probe::default().with_layer(Record::named("probe", &seen)))
            .add_service(stringsvc::StringService),
    )
    .await;
    let probe = ProbeClient::connect(server.url()).await.unwrap();
    probe.search("q", None).await.unwrap();
    let strings = stringsvc::StringServiceClient::connect(server.url())
        .await
        .unwrap();
    assert_eq!(strings.uppercase("a").await.unwrap(), "A");
    assert_eq!(
        lines(&seen),
        [
            "server /search ctx traceparent",
            "probe /search ctx traceparent",
            "server /uppercase ctx traceparent",
        ]
    );
}

#[tokio::test]
async fn a_layer_error_is_answered_in_the_error_model_and_counted() {
    let server = start(
        Server::default()
            .add_service(Probe::default().with_layer(Deny))
            .add_service(stringsvc::StringService),
    )
    .await;
    let resp = raw(server.addr, "GET", "/search?q=x", &[], "").await;
    assert_eq!(resp.status, 403);
    assert_eq!(resp.error_status(), "PERMISSION_DENIED");
    assert_eq!(resp.error_message(), "denied by a layer");
    let grpc = ProbeClient::builder()
        .base_url(server.url())
        .transport(Transport::Grpc)
        .build()
        .unwrap();
    let err = grpc.search("x", None).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // The other service is untouched.
    let strings = stringsvc::StringServiceClient::connect(server.url())
        .await
        .unwrap();
    assert_eq!(strings.uppercase("a").await.unwrap(), "A");
    let metrics = raw(server.addr, "GET", "/metrics", &[], "").await;
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.lines()
            .any(|l| l.starts_with("kit_server_requests_total")
                && l.contains("endpoint=\"search\"")
                && l.contains("code=\"PERMISSION_DENIED\"")),
        "{text}"
    );
}

#[tokio::test]
async fn tower_layers_errors_map_to_codes() {
    // A timeout shorter than the endpoint: DEADLINE_EXCEEDED.
    let server = start(Server::default().add_service(
        Probe::default().with_layer(tower::timeout::TimeoutLayer::new(Duration::from_millis(50))),
    ))
    .await;
    let client = ProbeClient::connect(server.url()).await.unwrap();
    let err = client.sleep(2_000).await.unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err}");

    // Shedding beyond one request in flight: UNAVAILABLE, which a client
    // may retry elsewhere.
    let server = start(
        Server::default().add_service(
            Probe::default().with_layer(
                tower::ServiceBuilder::new()
                    .load_shed()
                    .concurrency_limit(1)
                    .into_inner(),
            ),
        ),
    )
    .await;
    let client = ProbeClient::connect(server.url()).await.unwrap();
    let slow = tokio::spawn({
        let client = client.clone();
        async move { client.sleep(500).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let err = client.sleep(1).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err}");
    assert_eq!(slow.await.unwrap().unwrap(), 500);
}

#[tokio::test]
async fn a_client_layer_sees_every_attempt_on_both_transports() {
    for transport in [Transport::Http, Transport::Grpc] {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let server = start(Server::default().add_service(Probe::default())).await;
        let client = ProbeClient::builder()
            .base_url(server.url())
            .transport(transport)
            .backoff(kit::retry::Backoff {
                base: Duration::from_millis(1),
                max: Duration::from_millis(2),
            })
            .layer(Record::named("client", &seen))
            .build()
            .unwrap();
        // Two failures, then success: three attempts through the layer.
        assert_eq!(client.flaky("k", 2).await.unwrap(), 3);
        let seen = lines(&seen);
        assert_eq!(seen.len(), 3, "{transport:?}: {seen:?}");
        for line in seen {
            assert!(line.starts_with("client /"), "{line}");
            assert!(line.ends_with("no-ctx traceparent"), "{line}");
            let path = if transport == Transport::Grpc {
                "/kit.probe.v1.Probe/Flaky"
            } else {
                "/flaky"
            };
            assert!(line.contains(path), "{line}");
        }
    }
}

#[tokio::test]
async fn per_call_headers_reach_the_server_on_both_transports() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = start(
        Server::default()
            .layer(Record::named("server", &seen))
            .add_service(Probe::default()),
    )
    .await;
    for transport in [Transport::Http, Transport::Grpc] {
        let client = ProbeClient::builder()
            .base_url(server.url())
            .transport(transport)
            .build()
            .unwrap();
        client
            .with_header("x-tenant", "acme")
            .search("q", None)
            .await
            .unwrap();
        client.search("q", None).await.unwrap();
    }
    let seen = lines(&seen);
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(seen[0].ends_with("tenant=acme"), "{seen:?}");
    assert!(!seen[1].contains("tenant"), "{seen:?}");
    assert!(seen[2].ends_with("tenant=acme"), "{seen:?}");
    assert!(!seen[3].contains("tenant"), "{seen:?}");
}
