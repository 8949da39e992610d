//! The HTTP routes of kit services: each endpoint wrapped in the server
//! stack and mounted on an axum router with JSON 404 and 405 answers.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use axum::body::Body;
use axum::response::Response;
use axum::routing::{on_service, MethodFilter, MethodRouter};
use axum::Router;
use http::{Request, StatusCode};
use tower::{Layer, Service};

use super::panic::catch_panic;
use crate::deadline::{timeout_from_headers, DeadlineLayer};
use crate::descriptor::{ArgSource, EndpointDescriptor, HttpMethod};
use crate::metrics::MetricsLayer;
use crate::trace::TraceLayer;
use crate::transport::http::{error_response, Http, HttpRequest, DEFAULT_BODY_LIMIT};
use crate::Error;

/// Collects the HTTP endpoints of one or more services. The generated
/// `kit::Service::mount_http` calls [`HttpRoutes::endpoint`] once per
/// endpoint; [`HttpRoutes::into_router`] makes the axum router.
pub struct HttpRoutes {
    routes: BTreeMap<&'static str, (MethodRouter, Vec<&'static str>)>,
    body_limit: usize,
}

impl Default for HttpRoutes {
    fn default() -> Self {
        HttpRoutes::new(DEFAULT_BODY_LIMIT)
    }
}

impl HttpRoutes {
    /// No routes yet; request bodies are limited to `body_limit` bytes.
    pub fn new(body_limit: usize) -> HttpRoutes {
        HttpRoutes {
            routes: BTreeMap::new(),
            body_limit,
        }
    }

    /// Mounts `handler` for `endpoint` (which must have an HTTP route),
    /// wrapped in the server stack: trace and context, RED metrics,
    /// deadline, panic catching.
    pub fn endpoint<F, Fut>(&mut self, endpoint: &'static EndpointDescriptor, handler: F)
    where
        F: Fn(HttpRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, Error>> + Send + 'static,
    {
        let Some(route) = endpoint.http else {
            return;
        };
        let handler = HttpHandler {
            handler: Arc::new(handler),
            body_limit: self.body_limit,
            endpoint,
            path_params: endpoint.args.iter().any(|a| a.source == ArgSource::Path),
        };
        let stack = TraceLayer::new(endpoint, "http", timeout_from_headers).layer(
            MetricsLayer::new(endpoint, "http").layer(DeadlineLayer::<Http>::new().layer(handler)),
        );
        let filter = match route.method {
            HttpMethod::Get => MethodFilter::GET,
            HttpMethod::Post => MethodFilter::POST,
            HttpMethod::Put => MethodFilter::PUT,
            HttpMethod::Patch => MethodFilter::PATCH,
            HttpMethod::Delete => MethodFilter::DELETE,
        };
        let (method_router, mut methods) = self.routes.remove(route.path).unwrap_or_default();
        methods.push(route.method.as_str());
        self.routes.insert(
            route.path,
            (method_router.merge(on_service(filter, stack)), methods),
        );
    }

    /// The axum router with every mounted endpoint, answering unknown
    /// routes with a JSON 404 and wrong methods with a JSON 405.
    pub fn into_router(self) -> Router {
        let mut router = Router::new();
        for (path, (method_router, methods)) in self.routes {
            let allow = methods.join(", ");
            router = router.route(
                path,
                method_router.fallback(move || method_not_allowed(allow.clone())),
            );
        }
        router.fallback(not_found)
    }
}

async fn not_found() -> Response {
    error_response(
        &Error::not_found("no route for this path").with_http_status(StatusCode::NOT_FOUND),
    )
}

async fn method_not_allowed(allow: String) -> Response {
    let err = Error::unimplemented("method not allowed for this path")
        .with_http_status(StatusCode::METHOD_NOT_ALLOWED);
    let mut response = error_response(&err);
    if let Ok(value) = http::HeaderValue::from_str(&allow) {
        response.headers_mut().insert(http::header::ALLOW, value);
    }
    response
}

/// The innermost service: decodes through the generated handler, calls the
/// user's method, encodes; errors become JSON error responses and a panic
/// becomes INTERNAL (logged) without taking the connection down.
pub struct HttpHandler<F> {
    handler: Arc<F>,
    body_limit: usize,
    endpoint: &'static EndpointDescriptor,
    path_params: bool,
}

impl<F> Clone for HttpHandler<F> {
    fn clone(&self) -> Self {
        HttpHandler {
            handler: self.handler.clone(),
            body_limit: self.body_limit,
            endpoint: self.endpoint,
            path_params: self.path_params,
        }
    }
}

impl<F, Fut> Service<Request<Body>> for HttpHandler<F>
where
    F: Fn(HttpRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, Error>> + Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let handler = self.handler.clone();
        let limit = self.body_limit;
        let endpoint = self.endpoint;
        let path_params = self.path_params;
        Box::pin(async move {
            let call = async move {
                let req = HttpRequest::with_path_params(req, limit, path_params).await;
                handler(req).await
            };
            let response = match catch_panic(endpoint, call).await {
                Ok(response) => response,
                Err(err) => error_response(&err),
            };
            Ok(response)
        })
    }
}
