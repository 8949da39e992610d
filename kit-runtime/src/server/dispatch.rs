//! One listener for both transports: requests whose content type starts
//! with `application/grpc` go to the gRPC router, the rest to HTTP/JSON.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use axum::routing::future::RouteFuture;
use axum::serve::{IncomingStream, Listener};
use axum::Router;
use http::Request;
use tower::Service;

use crate::transport::grpc::is_grpc;

/// Routes each request to the gRPC router (when there is one and the
/// content type says gRPC) or to the HTTP router. It is its own
/// make-service, so `axum::serve(listener, dispatch)` serves it directly.
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
    type Future = RouteFuture<Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Routers are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        match &mut self.grpc {
            Some(grpc) if is_grpc(&req) => grpc.call(req),
            _ => self.http.call(req),
        }
    }
}

impl<L: Listener> Service<IncomingStream<'_, L>> for Dispatch {
    type Response = Dispatch;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Dispatch, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _stream: IncomingStream<'_, L>) -> Self::Future {
        std::future::ready(Ok(self.clone()))
    }
}
