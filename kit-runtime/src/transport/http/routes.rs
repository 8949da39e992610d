//! The HTTP routes of kit services: each endpoint's handler in the server
//! stack, mounted on an axum router with JSON 404 and 405 answers.

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
use tower::Service;

use super::request::HttpRequest;
use super::{error_response, Http, DEFAULT_BODY_LIMIT};
use crate::descriptor::{ArgSource, EndpointDescriptor, HttpMethod};
use crate::layer::{server_stack, Admission, StackConfig, UserLayers};
use crate::transport::nats::{refusal, Nats};
use crate::transport::Protocol;
use crate::url::{misfit, UrlCodec};
use crate::Error;

/// Collects the HTTP endpoints of one or more services. The generated
/// `Endpoints::mount_http` calls [`HttpRoutes::endpoint`] once per
/// endpoint; [`HttpRoutes::into_router`] makes the axum router.
pub struct HttpRoutes {
    routes: BTreeMap<&'static str, (MethodRouter, Vec<&'static str>)>,
    body_limit: usize,
    stack: StackConfig,
    admission: Admission,
    pub(crate) layers: UserLayers,
    /// Arguments that cannot travel where the route puts them.
    problems: Vec<String>,
    /// The routes of requests that came over NATS (`transport="nats"`).
    nats: bool,
}

impl Default for HttpRoutes {
    fn default() -> Self {
        HttpRoutes::new(
            DEFAULT_BODY_LIMIT,
            StackConfig::default(),
            UserLayers::default(),
            Admission::default(),
        )
    }
}

impl HttpRoutes {
    pub(crate) fn new(
        body_limit: usize,
        stack: StackConfig,
        layers: UserLayers,
        admission: Admission,
    ) -> HttpRoutes {
        HttpRoutes {
            routes: BTreeMap::new(),
            body_limit,
            stack,
            layers,
            admission,
            problems: Vec::new(),
            nats: false,
        }
    }

    /// The same routes for requests that arrived over NATS: labelled
    /// `transport="nats"`, a payload that did not fit refused by the handler.
    pub(crate) fn for_nats(mut self) -> HttpRoutes {
        self.nats = true;
        self
    }

    /// Checks that URL argument `name` of `endpoint` (a path parameter if
    /// `in_path`, else a query parameter) has a type that fits there; the
    /// server refuses to start otherwise.
    pub fn url_arg<T>(
        &mut self,
        endpoint: &'static EndpointDescriptor,
        name: &str,
        codec: UrlCodec<T>,
        in_path: bool,
    ) {
        if let Some(why) = misfit(codec.shape(), in_path) {
            let place = if in_path { "path" } else { "query" };
            let ty = endpoint
                .args
                .iter()
                .find(|a| a.name == name)
                .map_or("?", |a| a.rust_type);
            self.problems.push(format!(
                "{}.{}: {place} parameter `{name}: {ty}`: {why}",
                endpoint.service, endpoint.name
            ));
        }
    }

    /// Why the routes cannot be served, if they cannot.
    pub(crate) fn problems(&self) -> &[String] {
        &self.problems
    }

    /// Mounts `handler` for `endpoint` (which must have an HTTP route),
    /// inside the user's layers and kit's server stack.
    pub fn endpoint<F, Fut>(&mut self, endpoint: &'static EndpointDescriptor, handler: F)
    where
        F: Fn(HttpRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, Error>> + Send + 'static,
    {
        let Some(route) = endpoint.http else {
            return;
        };
        // Only this closure is generic: the handler and the stack around
        // it are one type for every endpoint, compiled once.
        let handler = HttpHandler {
            handler: Arc::new(move |req| Box::pin(handler(req)) as HandlerFuture),
            body_limit: self.body_limit,
            path_params: endpoint.args.iter().any(|a| a.source == ArgSource::Path),
            refusals: self.nats,
        };
        let service = if self.nats {
            self.stacked::<Nats>(endpoint, route.method, handler)
        } else {
            self.stacked::<Http>(endpoint, route.method, handler)
        };
        let (method_router, mut methods) = self.routes.remove(route.path).unwrap_or_default();
        methods.push(route.method.as_str());
        self.routes
            .insert(route.path, (method_router.merge(service), methods));
    }

    /// `handler` in the user's layers and kit's stack for protocol `P`.
    fn stacked<P: Protocol>(
        &self,
        endpoint: &'static EndpointDescriptor,
        method: HttpMethod,
        handler: HttpHandler,
    ) -> MethodRouter {
        if self.layers.is_empty() {
            on_service(
                filter(method),
                server_stack::<P, _>(endpoint, self.stack, &self.admission, false, handler),
            )
        } else {
            let handler = self.layers.wrap::<P, _>(handler);
            on_service(
                filter(method),
                server_stack::<P, _>(endpoint, self.stack, &self.admission, true, handler),
            )
        }
    }

    /// The axum router with every mounted endpoint, answering unknown
    /// routes with a JSON 404 and wrong methods with a JSON 405.
    pub(crate) fn into_router(self) -> Router {
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

fn filter(method: HttpMethod) -> MethodFilter {
    match method {
        HttpMethod::Get => MethodFilter::GET,
        HttpMethod::Post => MethodFilter::POST,
        HttpMethod::Put => MethodFilter::PUT,
        HttpMethod::Patch => MethodFilter::PATCH,
        HttpMethod::Delete => MethodFilter::DELETE,
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

/// A generated handler's future, boxed.
type HandlerFuture = Pin<Box<dyn Future<Output = Result<Response, Error>> + Send>>;

/// The innermost service: the generated handler decodes the request, calls
/// the user's method and encodes the answer; an error becomes its JSON
/// error response. Not generic, so the stack above it is compiled once for
/// all endpoints rather than once per endpoint.
#[derive(Clone)]
struct HttpHandler {
    handler: Arc<dyn Fn(HttpRequest) -> HandlerFuture + Send + Sync>,
    body_limit: usize,
    path_params: bool,
    /// Whether a request may carry a NATS payload's refusal to answer
    /// (NATS routes only).
    refusals: bool,
}

impl Service<Request<Body>> for HttpHandler {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        if self.refusals {
            if let Some(err) = refusal(&req) {
                return Answer {
                    inner: Box::pin(std::future::ready(Err(err))),
                };
            }
        }
        let req = HttpRequest::new(req, self.body_limit, self.path_params);
        Answer {
            inner: (self.handler)(req),
        }
    }
}

/// The handler's future, its error answered as JSON.
struct Answer {
    inner: HandlerFuture,
}

impl Future for Answer {
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let out = std::task::ready!(self.inner.as_mut().poll(cx));
        Poll::Ready(Ok(out.unwrap_or_else(|err| error_response(&err))))
    }
}
