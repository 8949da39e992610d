//! Serving the endpoints on NATS subjects: one queue subscription per
//! endpoint, each message answered by the NATS router in its own task.

use std::time::Duration;

use async_nats::{HeaderMap as NatsHeaders, Message, Subscriber};
use axum::body::Body;
use axum::Router;
use futures_util::StreamExt;
use http::header::CONTENT_TYPE;
use http::{HeaderName, HeaderValue, Request};
use http_body_util::BodyExt;
use tokio::sync::{mpsc, watch};
use tower::ServiceExt;

use super::payload::to_http;
use super::{subject, CODE_HEADER, NACK_HEADER, STATUS_HEADER};
use crate::descriptor::{EndpointDescriptor, ServiceDescriptor};
use crate::layer::admission::NACK_HEADER as HTTP_NACK_HEADER;
use crate::transport::ResponseCode;
use crate::Error;

/// A payload that did not fit its endpoint: the request carrying it is
/// answered with this error by the innermost handler, inside the stack, so
/// it is counted and logged like any other bad request.
#[derive(Clone, Debug)]
pub(crate) struct PayloadError(pub(crate) Error);

/// The NATS side of a server: connected and subscribed, not yet serving.
pub(crate) struct NatsServer {
    client: async_nats::Client,
    url: String,
    subscriptions: Vec<(&'static EndpointDescriptor, String, Subscriber)>,
}

impl NatsServer {
    /// Connects to `url` and subscribes every HTTP endpoint of `services`
    /// on its subject, in a queue group named for its service. Fails with
    /// UNAVAILABLE when the server cannot be reached.
    pub(crate) async fn connect(
        url: &str,
        prefix: Option<&str>,
        services: &[&'static ServiceDescriptor],
    ) -> Result<NatsServer, Error> {
        let unavailable =
            |e: &dyn std::fmt::Display| Error::unavailable(format!("NATS at {url}: {e}"));
        let names: Vec<&str> = services.iter().map(|s| s.name).collect();
        let client = async_nats::ConnectOptions::new()
            .name(format!("kit {}", names.join(",")))
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|e| unavailable(&e))?;
        let mut subscriptions = Vec::new();
        for service in services {
            // Streams need more than one reply: served over HTTP and gRPC only.
            let served =
                |e: &&EndpointDescriptor| e.http.is_some() && !e.streaming.streams_responses();
            for endpoint in service.endpoints.iter().filter(served) {
                let subject = subject(prefix, service.name, endpoint.name);
                let subscriber = client
                    .queue_subscribe(subject.clone(), service.name.to_string())
                    .await
                    .map_err(|e| unavailable(&e))?;
                subscriptions.push((endpoint, subject, subscriber));
            }
        }
        // The server has the subscriptions once it answered a ping.
        client.flush().await.map_err(|e| unavailable(&e))?;
        Ok(NatsServer {
            client,
            url: url.to_string(),
            subscriptions,
        })
    }

    /// The NATS server's URL, as given.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The subjects served.
    pub(crate) fn subjects(&self) -> impl Iterator<Item = &str> {
        self.subscriptions.iter().map(|(_, s, _)| s.as_str())
    }

    /// Answers messages with `router` until `stop` turns true; then
    /// unsubscribes (messages already delivered are still answered),
    /// waits for the answers in flight and flushes them.
    pub(crate) async fn serve(self, router: Router, stop: watch::Receiver<bool>) {
        let (in_flight, mut all_done) = mpsc::channel::<()>(1);
        let mut subjects = Vec::new();
        for (endpoint, _, subscriber) in self.subscriptions {
            subjects.push(tokio::spawn(serve_subject(
                endpoint,
                subscriber,
                router.clone(),
                self.client.clone(),
                stop.clone(),
                in_flight.clone(),
            )));
        }
        drop(in_flight);
        for task in subjects {
            let _ = task.await;
        }
        // Every sender is gone once the last answer was published.
        let _ = all_done.recv().await;
        if let Err(e) = self.client.flush().await {
            tracing::warn!(error = %e, "NATS: flushing the last replies failed");
        }
    }
}

async fn serve_subject(
    endpoint: &'static EndpointDescriptor,
    mut subscriber: Subscriber,
    router: Router,
    client: async_nats::Client,
    mut stop: watch::Receiver<bool>,
    in_flight: mpsc::Sender<()>,
) {
    let mut draining = false;
    loop {
        let message = if draining {
            subscriber.next().await
        } else {
            tokio::select! {
                message = subscriber.next() => message,
                () = stopped(&mut stop) => {
                    if let Err(e) = subscriber.drain().await {
                        tracing::warn!(error = %e, "NATS: unsubscribing failed");
                        return;
                    }
                    draining = true;
                    continue;
                }
            }
        };
        let Some(message) = message else { return };
        let (router, client, guard) = (router.clone(), client.clone(), in_flight.clone());
        tokio::spawn(async move {
            answer(endpoint, message, router, client).await;
            drop(guard);
        });
    }
}

/// Completes once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Runs one message through the router and publishes the reply.
async fn answer(
    endpoint: &'static EndpointDescriptor,
    message: Message,
    router: Router,
    client: async_nats::Client,
) {
    let request = http_request(endpoint, message.payload, message.headers.as_ref());
    let Ok(response) = router.oneshot(request).await;
    let Some(reply) = message.reply else {
        // Published without a reply subject: run, answer no one.
        return;
    };
    let status = response.status();
    let code = ResponseCode::of(&response);
    let nack = response.headers().contains_key(HTTP_NACK_HEADER);
    let (body, code, status) = match response.into_body().collect().await {
        Ok(body) => (body.to_bytes(), code, status),
        Err(e) => {
            let err = Error::internal(format!("reading the response: {e}"));
            let status = err.code().http_status();
            (err.to_json().into(), err.code(), status)
        }
    };
    let mut headers = NatsHeaders::new();
    if !status.is_success() {
        headers.insert(CODE_HEADER, code.as_str());
        headers.insert(STATUS_HEADER, status.as_u16().to_string());
    }
    if nack {
        headers.insert(NACK_HEADER, "1");
    }
    if let Err(e) = client.publish_with_headers(reply, headers, body).await {
        tracing::debug!(error = %e, "NATS: the reply could not be published");
    }
}

/// The HTTP request a message stands for: its payload split by the
/// endpoint's route, its headers as HTTP headers (names in lower case;
/// ones HTTP cannot carry are left out).
pub(crate) fn http_request(
    endpoint: &'static EndpointDescriptor,
    payload: bytes::Bytes,
    headers: Option<&NatsHeaders>,
) -> Request<Body> {
    let (parts, refused) = match to_http(endpoint, payload) {
        Ok(parts) => (parts, None),
        Err(e) => (refusal_parts(endpoint), Some(PayloadError(e))),
    };
    let mut request = Request::new(Body::from(parts.body.clone()));
    *request.method_mut() = parts.method;
    match parts.path_and_query.parse() {
        Ok(uri) => *request.uri_mut() = uri,
        Err(e) => {
            request
                .extensions_mut()
                .insert(PayloadError(Error::invalid_argument(format!(
                    "the arguments make no valid URL: {e}"
                ))));
        }
    }
    let map = request.headers_mut();
    for (name, values) in headers.into_iter().flat_map(|h| h.iter()) {
        let Ok(name) =
            HeaderName::from_bytes(AsRef::<str>::as_ref(name).to_ascii_lowercase().as_bytes())
        else {
            continue;
        };
        for value in values {
            if let Ok(value) = HeaderValue::from_str(value.as_str()) {
                map.append(name.clone(), value);
            }
        }
    }
    // The payload is JSON whatever a header says; an empty one is no body.
    if parts.body.is_empty() {
        map.remove(CONTENT_TYPE);
    } else {
        map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    if let Some(refused) = refused {
        request.extensions_mut().insert(refused);
    }
    request
}

/// A request on the endpoint's route that its handler refuses: the path
/// parameters filled with a placeholder, no body.
fn refusal_parts(endpoint: &EndpointDescriptor) -> super::payload::HttpParts {
    let route = endpoint.http.map_or("/", |r| r.path);
    let mut path = String::new();
    let mut rest = route;
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        path.push('_');
        rest = rest[open..]
            .find('}')
            .map_or("", |close| &rest[open + close + 1..]);
    }
    path.push_str(rest);
    super::payload::HttpParts {
        method: endpoint
            .http
            .map_or(http::Method::POST, |r| r.method.as_http()),
        path_and_query: path,
        body: bytes::Bytes::new(),
    }
}

/// The error a request's payload was refused with, if it was.
pub(crate) fn refusal(request: &Request<Body>) -> Option<Error> {
    request
        .extensions()
        .get::<PayloadError>()
        .map(|p| p.0.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptor::{ArgDescriptor, ArgSource, HttpMethod, HttpRoute};

    static ARGS: [ArgDescriptor; 1] = [ArgDescriptor {
        name: "s",
        rust_type: "String",
        source: ArgSource::Path,
        schema: None,
    }];
    static ENDPOINT: EndpointDescriptor = EndpointDescriptor {
        service: "strings",
        name: "count",
        docs: "",
        http: Some(HttpRoute {
            method: HttpMethod::Post,
            path: "/count/{s}",
            response: None,
            fallible: false,
        }),
        grpc: None,
        timeout: None,
        retry: 0,
        idempotent: false,
        concurrency: None,
        service_concurrency: None,
        rate: None,
        slow: None,
        args: &ARGS,
        returns: "u64",
        streaming: crate::stream::StreamKind::Unary,
        auth: None,
    };

    #[test]
    fn headers_travel_in_lower_case_and_the_payload_is_json() {
        let mut headers = NatsHeaders::new();
        headers.insert(
            "Traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        );
        headers.insert("Kit-Timeout-Ms", "250");
        headers.insert("Content-Type", "text/plain");
        let request = http_request(&ENDPOINT, r#"{"s":"a b"}"#.into(), Some(&headers));
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(request.uri(), "/count/a%20b");
        assert_eq!(request.headers()["kit-timeout-ms"], "250");
        assert!(request.headers()["traceparent"]
            .to_str()
            .unwrap()
            .starts_with("00-0af7"));
        assert_eq!(request.headers()[CONTENT_TYPE], "application/json");
        assert!(refusal(&request).is_none());
    }

    #[test]
    fn a_payload_that_does_not_fit_reaches_the_route_as_a_refusal() {
        let request = http_request(&ENDPOINT, "[]".into(), None);
        assert_eq!(request.uri(), "/count/_");
        let err = refusal(&request).expect("refused");
        assert_eq!(err.code(), crate::Code::InvalidArgument);
        assert!(err.message().contains("JSON object"), "{err}");
    }
}
