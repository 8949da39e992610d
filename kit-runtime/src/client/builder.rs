//! Configuring a client.

use std::marker::PhantomData;
use std::sync::OnceLock;
use std::time::Duration;

use http::{Request, Response, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::util::BoxCloneSyncService;
use tower::{BoxError, Layer, Service, ServiceExt};

use super::channel::{ClientLayers, HttpInstance, RoundRobin};
use super::{Body, BoxChannel, Client, ClientInner, Transport};
use crate::descriptor::ServiceDescriptor;
use crate::retry::{Backoff, RetryBudget};
use crate::Error;

/// Configures a client; every generated client has
/// `<Name>Client::builder()`.
///
/// ```
/// # #[derive(Default)] struct Strings;
/// # #[kit::service] impl Strings {
/// #     #[endpoint(http = "POST /uppercase", grpc)]
/// #     async fn uppercase(&self, s: String) -> String { s.to_uppercase() }
/// # }
/// use std::time::Duration;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let client = StringsClient::builder()
///     .base_url("http://127.0.0.1:8080")
///     .base_url("http://127.0.0.1:8081")   // round-robin; retries move on
///     .transport(kit::Transport::Grpc)
///     .timeout(Duration::from_secs(1))     // when the endpoint sets none
///     .retries(2)                          // overrides `retry = N`
///     .layer(tower::limit::ConcurrencyLimitLayer::new(100))
///     .build()
///     .unwrap();
/// # }
/// ```
pub struct ClientBuilder<C = Client> {
    service: &'static ServiceDescriptor,
    transport: Transport,
    urls: Vec<String>,
    timeout: Option<Duration>,
    retries: Option<u32>,
    backoff: Backoff,
    budget: Option<RetryBudget>,
    http2_only: bool,
    connect_timeout: Duration,
    pool_idle_timeout: Duration,
    layers: ClientLayers,
    _client: PhantomData<fn() -> C>,
}

impl<C: From<Client>> ClientBuilder<C> {
    /// A builder for a client of `service`, built as a `C` (a generated
    /// client calls this for you).
    pub fn new(service: &'static ServiceDescriptor) -> ClientBuilder<C> {
        ClientBuilder {
            service,
            transport: Transport::Http,
            urls: Vec::new(),
            timeout: None,
            retries: None,
            backoff: Backoff::default(),
            budget: None,
            http2_only: false,
            connect_timeout: Duration::from_secs(5),
            pool_idle_timeout: Duration::from_secs(90),
            layers: ClientLayers::default(),
            _client: PhantomData,
        }
    }

    /// Adds a server (`http://host:port`); calls go round-robin over all.
    pub fn base_url(mut self, url: impl Into<String>) -> ClientBuilder<C> {
        self.urls.push(url.into());
        self
    }

    /// The transport: HTTP/JSON (default) or gRPC.
    pub fn transport(mut self, transport: Transport) -> ClientBuilder<C> {
        self.transport = transport;
        self
    }

    /// Per-call timeout for endpoints that set no `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> ClientBuilder<C> {
        self.timeout = Some(timeout);
        self
    }

    /// Retries per call for every endpoint, instead of each one's `retry = N`.
    pub fn retries(mut self, retries: u32) -> ClientBuilder<C> {
        self.retries = Some(retries);
        self
    }

    /// The backoff between retries.
    pub fn backoff(mut self, backoff: Backoff) -> ClientBuilder<C> {
        self.backoff = backoff;
        self
    }

    /// The retry budget (default: 20% of requests plus 10 retries/s).
    pub fn retry_budget(mut self, budget: RetryBudget) -> ClientBuilder<C> {
        self.budget = Some(budget);
        self
    }

    /// Speak HTTP/2 with prior knowledge (h2c) instead of HTTP/1.1 (HTTP
    /// transport; gRPC is always HTTP/2).
    pub fn http2_only(mut self, yes: bool) -> ClientBuilder<C> {
        self.http2_only = yes;
        self
    }

    /// How long establishing a connection may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientBuilder<C> {
        self.connect_timeout = timeout;
        self
    }

    /// Adds `layer` around every attempt of every call (see [`BoxChannel`]
    /// for where it runs). Layers added first are outermost.
    pub fn layer<L>(mut self, layer: L) -> ClientBuilder<C>
    where
        L: Layer<BoxChannel> + Send + Sync + 'static,
        L::Service:
            Service<Request<Body>, Response = Response<Body>> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request<Body>>>::Error: Into<BoxError>,
        <L::Service as Service<Request<Body>>>::Future: Send + 'static,
    {
        self.layers.push(layer);
        self
    }

    /// Builds the client. It does no I/O: connections are made on first
    /// use. A gRPC client must be built inside a Tokio runtime.
    pub fn build(self) -> Result<C, Error> {
        if self.urls.is_empty() {
            return Err(Error::invalid_argument(
                "client needs at least one base URL",
            ));
        }
        let bases = self
            .urls
            .iter()
            .map(|u| parse_base(u))
            .collect::<Result<Vec<_>, _>>()?;
        let uris = bases.clone();
        let instances = match self.transport {
            Transport::Http => {
                let mut connector = HttpConnector::new();
                connector.set_nodelay(true);
                connector.set_connect_timeout(Some(self.connect_timeout));
                let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
                    .http2_only(self.http2_only)
                    .pool_idle_timeout(self.pool_idle_timeout)
                    .build(connector);
                bases
                    .into_iter()
                    .map(|uri| {
                        BoxCloneSyncService::new(HttpInstance {
                            client: client.clone(),
                            scheme: uri.scheme().cloned().unwrap_or(http::uri::Scheme::HTTP),
                            authority: uri
                                .authority()
                                .cloned()
                                .unwrap_or_else(|| http::uri::Authority::from_static("localhost")),
                        })
                    })
                    .collect()
            }
            Transport::Grpc if tokio::runtime::Handle::try_current().is_err() => {
                return Err(Error::failed_precondition(
                    "a gRPC client is built inside a Tokio runtime (its connections run on it)",
                ));
            }
            Transport::Grpc => bases
                .into_iter()
                .map(|uri| {
                    let channel = tonic::transport::Endpoint::from(uri)
                        .connect_timeout(self.connect_timeout)
                        .tcp_nodelay(true)
                        .connect_lazy();
                    BoxCloneSyncService::new(channel.map_err(BoxError::from))
                })
                .collect(),
        };
        let channel = self
            .layers
            .wrap(BoxCloneSyncService::new(RoundRobin::new(instances)));
        let metrics = (0..self.service.endpoints.len())
            .map(|_| OnceLock::new())
            .collect();
        Ok(C::from(Client {
            options: None,
            inner: std::sync::Arc::new(ClientInner {
                service: self.service,
                bases: uris,
                connect_timeout: self.connect_timeout,
                transport: self.transport,
                channel,
                timeout: self.timeout,
                retries: self.retries,
                backoff: self.backoff,
                budget: self.budget.unwrap_or_default(),
                metrics,
            }),
        }))
    }
}

/// `http://host:port`, with nothing after the authority.
fn parse_base(url: &str) -> Result<Uri, Error> {
    let uri: Uri = url
        .parse()
        .map_err(|e| Error::invalid_argument(format!("invalid base URL `{url}`: {e}")))?;
    if uri.scheme() != Some(&http::uri::Scheme::HTTP) {
        return Err(Error::invalid_argument(format!(
            "base URL `{url}`: only http:// is supported"
        )));
    }
    if uri.authority().is_none() {
        return Err(Error::invalid_argument(format!(
            "base URL `{url}` has no host"
        )));
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked() {
        assert!(parse_base("http://127.0.0.1:8080").is_ok());
        assert!(parse_base("https://x:1")
            .unwrap_err()
            .message()
            .contains("only http://"));
        assert!(parse_base("127.0.0.1:8080").is_err());
        assert!(parse_base("http://").is_err());
    }
}
