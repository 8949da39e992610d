//! One listener for both transports: requests whose content type starts
//! with `application/grpc` go to the gRPC router, the rest to HTTP/JSON.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use axum::Router;
use http::Request;
use tower::Service;

use crate::transport::grpc::is_grpc;

/// Routes each request to `grpc` or `http` by its content type.
#[derive(Clone)]
pub struct Dispatch {
    http: Router,
    grpc: Router,
}

impl Dispatch {
    /// Dispatches between the two routers.
    pub fn new(http: Router, grpc: Router) -> Dispatch {
        Dispatch { http, grpc }
    }

    /// As one axum router.
    pub fn into_router(self) -> Router {
        Router::new().fallback_service(self)
    }
}

impl Service<Request<Body>> for Dispatch {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Routers are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        if is_grpc(&req) {
            Box::pin(self.grpc.call(req))
        } else {
            Box::pin(self.http.call(req))
        }
    }
}
