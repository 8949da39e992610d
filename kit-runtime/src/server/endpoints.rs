//! The trait `#[kit::service]` implements, and per-service layers.

use std::sync::Arc;

use axum::body::Body;
use http::{Request, Response};
use tower::{BoxError, Layer, Service};

use crate::codegen::{GrpcRoutes, HttpRoutes};
use crate::descriptor::ServiceDescriptor;
use crate::layer::BoxEndpoint;

/// A type whose impl block `#[kit::service]` annotated: the descriptor of
/// its endpoints and how to mount them on a [`Server`](crate::Server).
/// Implemented by the macro, not by hand.
///
/// ```
/// # #[derive(Default)] struct Strings;
/// # #[kit::service] impl Strings {
/// #     #[endpoint(http = "POST /uppercase")]
/// #     async fn uppercase(&self, s: String) -> String { s.to_uppercase() }
/// # }
/// use kit::Endpoints;
/// assert_eq!(Strings::DESCRIPTOR.endpoints[0].name, "uppercase");
/// ```
pub trait Endpoints: Send + Sync + 'static {
    /// The static description of the service.
    const DESCRIPTOR: &'static ServiceDescriptor;

    /// Mounts every HTTP endpoint of the service on `routes`.
    #[doc(hidden)]
    fn mount_http(self: Arc<Self>, routes: &mut HttpRoutes);

    /// Mounts every gRPC endpoint of the service on `routes`.
    #[doc(hidden)]
    fn mount_grpc(self: Arc<Self>, routes: &mut GrpcRoutes) {
        let _ = routes;
    }

    /// This service with `layer` around each of its endpoints, inside the
    /// server-wide layers ([`Server::layer`](crate::Server::layer)); see
    /// [`BoxEndpoint`](crate::server::BoxEndpoint) for where it runs.
    ///
    /// ```
    /// # #[derive(Default)] struct Strings;
    /// # #[kit::service] impl Strings {
    /// #     #[endpoint(http = "POST /uppercase")]
    /// #     async fn uppercase(&self, s: String) -> String { s.to_uppercase() }
    /// # }
    /// use kit::Endpoints;
    /// use tower::limit::ConcurrencyLimitLayer;
    /// let server = kit::Server::default()
    ///     .add_service(Strings.with_layer(ConcurrencyLimitLayer::new(64)));
    /// ```
    fn with_layer<L>(self, layer: L) -> WithLayer<Self, L>
    where
        Self: Sized,
    {
        WithLayer {
            inner: Arc::new(self),
            layer,
        }
    }
}

/// A service with a layer of its own; see [`Endpoints::with_layer`].
pub struct WithLayer<S, L> {
    inner: Arc<S>,
    layer: L,
}

impl<S, L> Endpoints for WithLayer<S, L>
where
    S: Endpoints,
    L: Layer<BoxEndpoint> + Clone + Send + Sync + 'static,
    L::Service: Service<Request<Body>, Response = Response<Body>> + Clone + Send + Sync + 'static,
    <L::Service as Service<Request<Body>>>::Error: Into<BoxError>,
    <L::Service as Service<Request<Body>>>::Future: Send + 'static,
{
    const DESCRIPTOR: &'static ServiceDescriptor = S::DESCRIPTOR;

    fn mount_http(self: Arc<Self>, routes: &mut HttpRoutes) {
        routes.layers.push(self.layer.clone());
        self.inner.clone().mount_http(routes);
        routes.layers.pop();
    }

    fn mount_grpc(self: Arc<Self>, routes: &mut GrpcRoutes) {
        routes.layers.push(self.layer.clone());
        self.inner.clone().mount_grpc(routes);
        routes.layers.pop();
    }
}
