//! The gRPC methods of kit services: each unary method's handler in the
//! same server stack as HTTP, with tonic doing the gRPC framing.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use axum::body::Body;
use axum::response::Response;
use axum::Router;
use http::Request;
use tower::Service;

use super::{response_code, to_status, Grpc};
use crate::descriptor::EndpointDescriptor;
use crate::layer::{server_stack, Admission, StackConfig, UserLayers};
use crate::proto::{ProtoCodec, ProtoMessage};
use crate::transport::http::DEFAULT_BODY_LIMIT;
use crate::transport::{Protocol, ResponseCode};
use crate::Error;

/// Collects gRPC methods; the generated `Endpoints::mount_grpc` calls
/// [`GrpcRoutes::unary`] once per `grpc` endpoint.
pub struct GrpcRoutes {
    router: Router,
    message_limit: usize,
    count: usize,
    stack: StackConfig,
    admission: Admission,
    pub(crate) layers: UserLayers,
}

impl Default for GrpcRoutes {
    fn default() -> Self {
        GrpcRoutes::new(
            DEFAULT_BODY_LIMIT,
            StackConfig::default(),
            UserLayers::default(),
            Admission::default(),
        )
    }
}

impl GrpcRoutes {
    pub(crate) fn new(
        message_limit: usize,
        stack: StackConfig,
        layers: UserLayers,
        admission: Admission,
    ) -> GrpcRoutes {
        GrpcRoutes {
            router: Router::new(),
            message_limit,
            count: 0,
            stack,
            layers,
            admission,
        }
    }

    /// Whether no method is mounted.
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Mounts `handler` as the unary method of `endpoint`: it receives the
    /// decoded request message and answers the response message.
    pub fn unary<Req, Resp, F, Fut>(&mut self, endpoint: &'static EndpointDescriptor, handler: F)
    where
        Req: ProtoMessage + Send + 'static,
        Resp: ProtoMessage + Send + 'static,
        F: Fn(Req) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Resp, Error>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        self.mount_tonic::<Req, Resp, _, _>(endpoint, move |mut grpc, req| {
            let handler = handler.clone();
            // Read as a client stream, to refuse a second message (gRPC
            // says a unary request has exactly one; tonic's unary reader
            // drops the rest).
            let service =
                tower::service_fn(move |request: tonic::Request<tonic::Streaming<Req>>| {
                    let handler = handler.clone();
                    async move {
                        let mut messages = request.into_inner();
                        let message = messages.message().await?.ok_or_else(|| {
                            tonic::Status::internal("the request carries no message")
                        })?;
                        if messages.message().await?.is_some() {
                            return Err(tonic::Status::internal(
                                "a unary request carries exactly one message; this one has more",
                            ));
                        }
                        handler(message)
                            .await
                            .map(tonic::Response::new)
                            .map_err(|err| to_status(&err))
                    }
                });
            async move { grpc.client_streaming(service, req).await }
        });
    }

    /// Mounts a method that tonic serves: a request in a content type
    /// other than protobuf is refused, `serve` gets tonic's `Grpc` with
    /// kit's codec and the message limit, and its answer goes out with
    /// its code. Only `serve` is generic: the handler and the stack
    /// around it are one type for every method, compiled once.
    pub(super) fn mount_tonic<Req, Resp, S, Fut>(
        &mut self,
        endpoint: &'static EndpointDescriptor,
        serve: S,
    ) where
        Req: ProtoMessage + Send + 'static,
        Resp: ProtoMessage + Send + 'static,
        S: Fn(tonic::server::Grpc<ProtoCodec<Resp, Req>>, Request<Body>) -> Fut
            + Send
            + Sync
            + 'static,
        Fut: Future<Output = http::Response<tonic::body::Body>> + Send + 'static,
    {
        let serve = Arc::new(serve);
        let limit = self.message_limit;
        self.mount(
            endpoint,
            Arc::new(move |req: Request<Body>| {
                let serve = serve.clone();
                Box::pin(async move {
                    if let Some(err) = unsupported_content_type(&req) {
                        return Ok(Grpc::error_response(&err));
                    }
                    let grpc = tonic::server::Grpc::new(ProtoCodec::<Resp, Req>::default())
                        .max_decoding_message_size(limit);
                    Ok(finish(serve(grpc, req).await))
                }) as ResponseFuture
            }),
        );
    }

    /// Mounts the method of `endpoint`, answered by `call`, in the server stack.
    fn mount(&mut self, endpoint: &'static EndpointDescriptor, call: HandlerFn) {
        let Some(method) = endpoint.grpc else {
            return;
        };
        let handler = GrpcHandler { call };
        let router = std::mem::take(&mut self.router);
        self.router = if self.layers.is_empty() {
            router.route_service(
                method.path,
                server_stack::<Grpc, _>(endpoint, self.stack, &self.admission, false, handler),
            )
        } else {
            let handler = self.layers.wrap::<Grpc, _>(handler);
            router.route_service(
                method.path,
                server_stack::<Grpc, _>(endpoint, self.stack, &self.admission, true, handler),
            )
        };
        self.count += 1;
    }

    /// Adds a tonic service (health, reflection) under `/{name}/`.
    pub(crate) fn add_tonic<S>(&mut self, name: &str, service: S)
    where
        S: Service<Request<Body>, Error = Infallible> + Clone + Send + Sync + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        let router = std::mem::take(&mut self.router);
        self.router = router.route_service(&format!("/{name}/{{*method}}"), service);
    }

    /// The router; unknown methods answer UNIMPLEMENTED.
    pub(crate) fn into_router(self) -> Router {
        self.router.fallback(|| async {
            Grpc::error_response(&Error::unimplemented("unknown gRPC service or method"))
        })
    }
}

type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// The function behind one mounted method.
type HandlerFn = Arc<dyn Fn(Request<Body>) -> ResponseFuture + Send + Sync>;

/// The innermost gRPC service: tonic decodes, the generated handler calls
/// the user's method, tonic encodes. Not generic, so the stack above it is
/// compiled once for all methods.
#[derive(Clone)]
struct GrpcHandler {
    call: HandlerFn,
}

impl Service<Request<Body>> for GrpcHandler {
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        (self.call)(req)
    }
}

/// tonic's answer as the server stack's response, its code attached when
/// it is not OK.
fn finish(response: http::Response<tonic::body::Body>) -> Response {
    let mut response = response;
    oversize_is_resource_exhausted(&mut response);
    let code = response_code(&response);
    let mut response = response.map(Body::new);
    if code != crate::Code::Ok {
        response.extensions_mut().insert(ResponseCode(code));
    }
    response
}

/// gRPC with a codec other than protobuf (`application/grpc+json`, ...).
fn unsupported_content_type(req: &Request<Body>) -> Option<Error> {
    let ct = req
        .headers()
        .get(http::header::CONTENT_TYPE)?
        .to_str()
        .ok()?;
    let ct = ct.split(';').next().unwrap_or("").trim();
    match ct {
        "application/grpc" | "application/grpc+proto" => None,
        other => Some(Error::unimplemented(format!(
            "content-type {other} is not supported; use application/grpc or application/grpc+proto"
        ))),
    }
}

/// tonic answers OUT_OF_RANGE for a message over the limit; gRPC's status
/// code guide (and grpc-go, grpc-java) say RESOURCE_EXHAUSTED.
fn oversize_is_resource_exhausted<B>(response: &mut http::Response<B>) {
    let headers = response.headers_mut();
    let too_large = headers.get("grpc-status").is_some_and(|v| v == "11")
        && headers
            .get("grpc-message")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|m| m.contains("too large") || m.contains("too%20large"));
    if too_large {
        headers.insert("grpc-status", http::HeaderValue::from_static("8"));
    }
}
