//! One listener for both transports: requests whose content type starts
//! with `application/grpc` go to the gRPC router, the rest to HTTP/JSON.

use std::convert::Infallible;
use std::future::Ready;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use axum::routing::future::RouteFuture;
use axum::Router;
use futures_util::future::Either;
use http::Request;
use tower::Service;

use crate::transport::grpc::is_grpc;

/// Routes each request to the gRPC router (when there is one and the
/// content type says gRPC) or to the HTTP router.
#[derive(Clone)]
pub(crate) struct Dispatch {
    http: Router,
    grpc: Option<Router>,
}

impl Dispatch {
    /// Dispatches between the two routers.
    pub(crate) fn new(http: Router, grpc: Option<Router>) -> Dispatch {
        Dispatch { http, grpc }
    }

    /// As one axum router, to mount in an application.
    pub(crate) fn into_router(self) -> Router {
        match self.grpc {
            Some(_) => Router::new().fallback_service(self),
            None => self.http,
        }
    }
}

impl Service<Request<Body>> for Dispatch {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<RouteFuture<Infallible>, Ready<Result<Response, Infallible>>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Routers are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        match &mut self.grpc {
            Some(_) if is_grpc(&req) && req.version() < http::Version::HTTP_2 => {
                Either::Right(std::future::ready(Ok(grpc_needs_http2())))
            }
            Some(grpc) if is_grpc(&req) => Either::Left(grpc.call(req)),
            _ => Either::Left(self.http.call(req)),
        }
    }
}

/// gRPC over HTTP/1.1 cannot carry trailers, so `grpc-status` would be
/// lost: answer 505 as grpc-go does, saying so in JSON and in gRPC headers,
/// with one code in both.
fn grpc_needs_http2() -> Response {
    let message = "gRPC needs HTTP/2 (prior knowledge or ALPN h2); this request came over HTTP/1.x";
    let err = crate::Error::invalid_argument(message)
        .with_http_status(http::StatusCode::HTTP_VERSION_NOT_SUPPORTED);
    let mut response = crate::transport::http::error_response(&err);
    let headers = response.headers_mut();
    headers.insert("grpc-status", http::HeaderValue::from(err.code().as_i32()));
    if let Ok(v) = http::HeaderValue::from_str(&message.replace(' ', "%20")) {
        headers.insert("grpc-message", v);
    }
    response
}
