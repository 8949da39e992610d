//! Where a client's attempts go: one tower service per server instance,
//! picked in turn, inside the user's layers.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use tower::util::BoxCloneSyncService;
use tower::{BoxError, Layer, Service, ServiceExt};

/// The body of a client's requests and responses.
pub type Body = tonic::body::Body;

/// A client's way to the servers, as one tower service: what a user's
/// client layer ([`ClientBuilder::layer`](super::ClientBuilder::layer))
/// wraps. It takes every attempt of every call (a retry is a new request),
/// on both transports, after kit has set the deadline and `traceparent`
/// headers, and sends it to the instance the load balancer picks.
pub type BoxChannel = BoxCloneSyncService<Request<Body>, Response<Body>, BoxError>;

pub(crate) type HyperClient = hyper_util::client::legacy::Client<
    crate::tls::failures::Recording<crate::tls::client::Connector>,
    Body,
>;

/// One server instance over HTTP: fills in the scheme and authority of the
/// request's URI and sends it on the shared connection pool.
#[derive(Clone)]
pub(crate) struct HttpInstance {
    pub(crate) client: HyperClient,
    pub(crate) scheme: Scheme,
    pub(crate) authority: Authority,
    /// What closed the pool's TLS connections, to explain failed calls.
    pub(crate) tls_failures: crate::tls::failures::TlsFailures,
}

impl Service<Request<Body>> for HttpInstance {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Response<Body>, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), BoxError>> {
        // The pool connects on demand.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let path = request
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let uri = Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path)
            .build();
        let client = self.client.clone();
        let failures = self.tls_failures.clone();
        Box::pin(async move {
            *request.uri_mut() = uri?;
            let response = client
                .request(request)
                .await
                .map_err(|e| failures.explain(e.into()))?;
            Ok(response.map(Body::new))
        })
    }
}

type Wrap = Arc<dyn Fn(BoxChannel) -> BoxChannel + Send + Sync>;

/// The user's client layers, outermost first.
#[derive(Clone, Default)]
pub(crate) struct ClientLayers {
    layers: Vec<Wrap>,
}

impl ClientLayers {
    pub(crate) fn push<L>(&mut self, layer: L)
    where
        L: Layer<BoxChannel> + Send + Sync + 'static,
        L::Service:
            Service<Request<Body>, Response = Response<Body>> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request<Body>>>::Error: Into<BoxError>,
        <L::Service as Service<Request<Body>>>::Future: Send + 'static,
    {
        self.layers.push(Arc::new(move |inner| {
            BoxCloneSyncService::new(layer.layer(inner).map_err(Into::into))
        }));
    }

    /// `channel` inside every layer.
    pub(crate) fn wrap(&self, channel: BoxChannel) -> BoxChannel {
        self.layers
            .iter()
            .rev()
            .fold(channel, |inner, wrap| wrap(inner))
    }
}

/// A client's channel with a concrete error type, for tonic: with
/// `BoxError` itself, the futures of calls made inside a handler would not
/// be provably `Send` (rustc#64552), so the error goes in a newtype.
#[derive(Clone)]
pub(crate) struct GrpcChannel(pub(crate) BoxChannel);

/// An error of a client's channel.
#[derive(Debug)]
pub(crate) struct ChannelError(pub(crate) BoxError);

impl std::fmt::Display for ChannelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ChannelError {
    /// Transparent: the inner error's source (its message is this one's).
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl Service<Request<Body>> for GrpcChannel {
    type Response = Response<Body>;
    type Error = ChannelError;
    type Future = futures_util::future::MapErr<
        <BoxChannel as Service<Request<Body>>>::Future,
        fn(BoxError) -> ChannelError,
    >;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), ChannelError>> {
        self.0.poll_ready(cx).map_err(ChannelError)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        use futures_util::TryFutureExt;
        self.0
            .call(request)
            .map_err(ChannelError as fn(BoxError) -> ChannelError)
    }
}

/// A full request body from bytes.
pub(crate) fn full(bytes: Bytes) -> Body {
    Body::new(http_body_util::Full::new(bytes))
}
