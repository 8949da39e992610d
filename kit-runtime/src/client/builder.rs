//! Configuring a client.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::util::BoxCloneSyncService;
use tower::{BoxError, Layer, Service, ServiceExt};

use futures_util::{FutureExt, StreamExt};

use super::channel::{ClientLayers, HttpInstance};
use super::credentials::Credentials;
use super::{Body, BoxChannel, Client, ClientInner, Transport};
use crate::descriptor::ServiceDescriptor;
use crate::lb::{Accrual, BalanceService, Balancer, Breaker, Circuit, Policy};
use crate::limit::{ClientLimiter, ClientRateLimit};
use crate::metrics::{ClientMetrics, GaugeShare};
use crate::retry::{Backoff, RetryBudget};
use crate::sd::Discover;
use crate::tls::client::{Alpn, Wants};
use crate::tls::failures::{Recording, TlsFailures};
use crate::tls::ClientTls;
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
    discover: Option<Box<dyn Discover>>,
    policy: Policy,
    accrual: Accrual,
    breaker: Option<Breaker>,
    timeout: Option<Duration>,
    retries: Option<u32>,
    backoff: Backoff,
    budget: Option<RetryBudget>,
    http2_only: bool,
    connect_timeout: Duration,
    pool_idle_timeout: Duration,
    layers: ClientLayers,
    rate_limit: Option<ClientRateLimit>,
    endpoint_rate_limits: Vec<(String, ClientRateLimit)>,
    nats_url: Option<String>,
    nats_prefix: Option<String>,
    credentials: Option<Arc<dyn Credentials>>,
    tls: Option<ClientTls>,
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
            discover: None,
            policy: Policy::default(),
            accrual: Accrual::default(),
            breaker: None,
            timeout: None,
            retries: None,
            backoff: Backoff::default(),
            budget: None,
            http2_only: false,
            connect_timeout: Duration::from_secs(5),
            pool_idle_timeout: Duration::from_secs(90),
            layers: ClientLayers::default(),
            rate_limit: None,
            endpoint_rate_limits: Vec::new(),
            nats_url: None,
            nats_prefix: None,
            credentials: None,
            tls: None,
            _client: PhantomData,
        }
    }

    /// Adds a server (`http://host:port`, or `https://host:port` for TLS)
    /// to a fixed list of instances.
    pub fn base_url(mut self, url: impl Into<String>) -> ClientBuilder<C> {
        self.urls.push(url.into());
        self
    }

    /// Finds the instances through `source` (instead of base URLs):
    /// `kit::sd::etcd(..)`, `kit::sd::dns_srv(..)`, `kit::sd::from_url(..)`, ...
    /// The client follows its changes; when the source fails, it keeps
    /// calling the instances it knew.
    pub fn discover(mut self, source: impl Discover) -> ClientBuilder<C> {
        self.discover = Some(Box::new(source));
        self
    }

    /// How each attempt picks an instance: `kit::lb::P2c::peak_ewma()`
    /// (the default) or `kit::lb::RoundRobin`.
    pub fn balance(mut self, policy: impl Into<Policy>) -> ClientBuilder<C> {
        self.policy = policy.into();
        self
    }

    /// When an instance is ejected (default: 5 consecutive failures, for a
    /// jittered 5 s to 300 s, then probed); `Accrual::off()` never ejects.
    pub fn failure_accrual(mut self, accrual: Accrual) -> ClientBuilder<C> {
        self.accrual = accrual;
        self
    }

    /// A circuit breaker over the whole service (off by default): calls
    /// fail fast with UNAVAILABLE while it is open.
    pub fn circuit_breaker(mut self, breaker: Breaker) -> ClientBuilder<C> {
        self.breaker = Some(breaker);
        self
    }

    /// At most this rate of calls from this client, all endpoints
    /// together; calls beyond it wait for their turn within their deadline
    /// or fail fast, as `limit` says.
    ///
    /// ```
    /// # #[derive(Default)] struct Strings;
    /// # #[kit::service] impl Strings {
    /// #     #[endpoint(http = "POST /uppercase")]
    /// #     async fn uppercase(&self, s: String) -> String { s.to_uppercase() }
    /// # }
    /// use kit::limit::{ClientRateLimit, Rate};
    /// let client = StringsClient::builder()
    ///     .base_url("http://127.0.0.1:8080")
    ///     .rate_limit(ClientRateLimit::wait(Rate::per_second(100)))
    ///     .endpoint_rate_limit("uppercase", ClientRateLimit::fail_fast(Rate::per_second(10)))
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn rate_limit(mut self, limit: ClientRateLimit) -> ClientBuilder<C> {
        self.rate_limit = Some(limit);
        self
    }

    /// At most this rate of calls to `endpoint` (its name, as in the
    /// descriptor), on top of [`ClientBuilder::rate_limit`].
    pub fn endpoint_rate_limit(
        mut self,
        endpoint: impl Into<String>,
        limit: ClientRateLimit,
    ) -> ClientBuilder<C> {
        self.endpoint_rate_limits.push((endpoint.into(), limit));
        self
    }

    /// The NATS server (`nats://host:port`) a [`Transport::Nats`] client
    /// sends its requests through, instead of base URLs: any instance of
    /// the service subscribed there answers.
    ///
    /// ```
    /// # #[derive(Default)] struct Strings;
    /// # #[kit::service] impl Strings {
    /// #     #[endpoint(http = "POST /uppercase")]
    /// #     async fn uppercase(&self, s: String) -> String { s.to_uppercase() }
    /// # }
    /// let client = StringsClient::builder()
    ///     .transport(kit::Transport::Nats)
    ///     .nats_url("nats://127.0.0.1:4222")
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn nats_url(mut self, url: impl Into<String>) -> ClientBuilder<C> {
        self.nats_url = Some(url.into());
        self
    }

    /// The prefix of the NATS subjects, as the servers' `--nats-prefix`
    /// (`prod` calls `prod.SERVICE.ENDPOINT`).
    pub fn nats_prefix(mut self, prefix: impl Into<String>) -> ClientBuilder<C> {
        self.nats_prefix = Some(prefix.into());
        self
    }

    /// The transport: HTTP/JSON (default), gRPC, or NATS.
    pub fn transport(mut self, transport: Transport) -> ClientBuilder<C> {
        self.transport = transport;
        self
    }

    /// Sends `credentials` with every attempt of every call: a
    /// [`Bearer`](super::credentials::Bearer) token,
    /// [`Basic`](super::credentials::Basic), an
    /// [`ApiKey`](super::credentials::ApiKey), a
    /// [`Refreshing`](super::credentials::Refreshing) token, or the
    /// caller's own ([`Forward`](super::credentials::Forward)).
    ///
    /// ```
    /// # #[derive(Default)] struct Strings;
    /// # #[kit::service] impl Strings {
    /// #     #[endpoint(http = "POST /uppercase")]
    /// #     async fn uppercase(&self, s: String) -> String { s.to_uppercase() }
    /// # }
    /// use kit::client::credentials::Forward;
    /// let client = StringsClient::builder()
    ///     .base_url("http://127.0.0.1:8080")
    ///     .credentials(Forward::caller())
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn credentials(mut self, credentials: impl Credentials) -> ClientBuilder<C> {
        self.credentials = Some(Arc::new(credentials));
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

    /// Speaks TLS to every instance, as `tls` says (the CAs trusted, a
    /// client certificate for mTLS, the server name expected), on both
    /// transports (gRPC by ALPN `h2`). Discovered instances are dialed
    /// over TLS whatever the scheme their registry gives; base URLs must
    /// say `https://`. Without it, `https://` base URLs trust the system's
    /// CA certificates.
    ///
    /// ```no_run
    /// # #[derive(Default)] struct Strings;
    /// # #[kit::service] impl Strings {
    /// #     #[endpoint(http = "POST /uppercase", grpc)]
    /// #     async fn uppercase(&self, s: String) -> String { s.to_uppercase() }
    /// # }
    /// # fn main() -> Result<(), kit::Error> {
    /// use kit::tls::ClientTls;
    /// let client = StringsClient::builder()
    ///     .base_url("https://strings.internal:8443")
    ///     .tls(
    ///         ClientTls::new()
    ///             .ca_file("/etc/kit/ca.pem")
    ///             .identity_files("/etc/kit/client.pem", "/etc/kit/client.key"), // mTLS
    ///     )
    ///     .transport(kit::Transport::Grpc) // the same on both transports
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn tls(mut self, tls: ClientTls) -> ClientBuilder<C> {
        self.tls = Some(tls);
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
    /// use. A gRPC client, or one following a registry, must be built
    /// inside a Tokio runtime.
    pub fn build(self) -> Result<C, Error> {
        let mut endpoint_limits: Vec<Option<ClientLimiter>> =
            self.service.endpoints.iter().map(|_| None).collect();
        for (name, limit) in &self.endpoint_rate_limits {
            let Some(i) = self.service.endpoints.iter().position(|e| e.name == *name) else {
                return Err(Error::invalid_argument(format!(
                    "endpoint_rate_limit: {} has no endpoint `{name}`",
                    self.service.name
                )));
            };
            endpoint_limits[i] = Some(ClientLimiter::new(*limit));
        }
        let nats = self.transport == Transport::Nats;
        if nats != self.nats_url.is_some() {
            return Err(Error::invalid_argument(if nats {
                "a NATS client needs .nats_url(\"nats://HOST:PORT\")"
            } else {
                ".nats_url is for a client built with .transport(kit::Transport::Nats)"
            }));
        }
        if nats && (self.discover.is_some() || !self.urls.is_empty()) {
            return Err(Error::invalid_argument(
                "a NATS client takes .nats_url, not base URLs or a discovery source: the NATS server finds the instances",
            ));
        }
        let source: Box<dyn Discover> = match (self.discover, self.urls.is_empty()) {
            (None, true) if nats => Box::new(crate::sd::fixed(Vec::<String>::new())),
            (Some(d), true) => d,
            (Some(_), false) => {
                return Err(Error::invalid_argument(
                    "a client takes base URLs or a discovery source, not both",
                ))
            }
            (None, false) => {
                for url in &self.urls {
                    let uri = parse_base(url)?;
                    if self.tls.is_some() && uri.scheme() == Some(&http::uri::Scheme::HTTP) {
                        return Err(Error::invalid_argument(format!(
                            "base URL `{url}` with .tls(..): write https://"
                        )));
                    }
                }
                Box::new(crate::sd::fixed(self.urls.clone()))
            }
            (None, true) => {
                return Err(Error::invalid_argument(
                    "client needs at least one base URL or a discovery source",
                ))
            }
        };
        let has_runtime = tokio::runtime::Handle::try_current().is_ok();
        if self.transport == Transport::Grpc && !has_runtime {
            return Err(Error::failed_precondition(
                "a gRPC client is built inside a Tokio runtime (its connections run on it)",
            ));
        }
        let wants_tls = if self.urls.iter().any(|u| u.starts_with("https://")) {
            Wants::Yes
        } else if self.urls.is_empty() && !nats {
            Wants::Maybe
        } else {
            Wants::No
        };
        let connect = instance_connector(
            self.transport,
            self.http2_only,
            self.connect_timeout,
            self.pool_idle_timeout,
            self.tls.as_ref(),
            wants_tls,
        )?;
        let balancer = Arc::new(Balancer::new(
            self.service.name,
            source.describe(),
            self.policy,
            self.accrual,
            connect,
        ));
        if !nats {
            follow(&balancer, source.as_ref(), has_runtime)?;
        }
        let channel = self
            .layers
            .wrap(BoxCloneSyncService::new(BalanceService(balancer.clone())));
        let metrics = self
            .service
            .endpoints
            .iter()
            .map(|e| ClientMetrics::new(e, self.transport.as_str()))
            .collect();
        let breaker_gauge = GaugeShare::new(
            crate::metrics::CLIENT_BREAKER_OPEN,
            vec![metrics::Label::new("service", self.service.name)],
        );
        let bases = self
            .urls
            .iter()
            .filter_map(|u| parse_base(u).ok())
            .collect();
        Ok(C::from(Client {
            options: None,
            inner: Arc::new(ClientInner {
                service: self.service,
                bases,
                connect_timeout: self.connect_timeout,
                transport: self.transport,
                channel,
                balancer,
                breaker: self.breaker.map(Circuit::new),
                breaker_gauge,
                timeout: self.timeout,
                retries: self.retries,
                backoff: self.backoff,
                budget: self.budget.unwrap_or_default(),
                metrics,
                rate_limit: self.rate_limit.map(ClientLimiter::new),
                endpoint_limits: endpoint_limits.into_boxed_slice(),
                nats: self.nats_url.map(|url| {
                    super::nats::NatsConn::new(url, self.nats_prefix, self.connect_timeout)
                }),
                credentials: self.credentials,
            }),
        }))
    }
}

/// Makes the channel to one instance: an HTTP origin on a shared
/// connection pool, or a lazily connected gRPC channel; over TLS for
/// `https://` instances, and for every instance when `tls` is configured.
fn instance_connector(
    transport: Transport,
    http2_only: bool,
    connect_timeout: Duration,
    pool_idle_timeout: Duration,
    tls: Option<&ClientTls>,
    wants_tls: Wants,
) -> Result<crate::lb::Connect, Error> {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    let always_tls = tls.is_some();
    let instance_uri = move |url: &str| -> Result<Uri, Error> {
        let uri = parse_base(url)?;
        if always_tls && uri.scheme() == Some(&http::uri::Scheme::HTTP) {
            // A registry's instance, dialed over TLS as the client says.
            let mut parts = uri.into_parts();
            parts.scheme = Some(http::uri::Scheme::HTTPS);
            return Uri::from_parts(parts)
                .map_err(|e| Error::invalid_argument(format!("instance `{url}`: {e}")));
        }
        Ok(uri)
    };
    Ok(match transport {
        Transport::Http => {
            let alpn = if http2_only { Alpn::H2 } else { Alpn::Any };
            let connector = crate::tls::client::connector(tls, wants_tls, alpn, http)?;
            let failures = TlsFailures::default();
            let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
                .http2_only(http2_only)
                .pool_idle_timeout(pool_idle_timeout)
                .build(Recording {
                    inner: connector,
                    failures: failures.clone(),
                });
            Box::new(move |instance| {
                let uri = instance_uri(&instance.url)?;
                Ok(BoxCloneSyncService::new(HttpInstance {
                    client: client.clone(),
                    scheme: uri.scheme().cloned().unwrap_or(http::uri::Scheme::HTTP),
                    authority: uri
                        .authority()
                        .cloned()
                        .unwrap_or_else(|| http::uri::Authority::from_static("localhost")),
                    tls_failures: failures.clone(),
                }))
            })
        }
        // NATS calls go through the NATS server, never to an instance.
        Transport::Nats => Box::new(|instance| {
            Err(Error::internal(format!(
                "a NATS client has no instances (got {})",
                instance.url
            )))
        }),
        Transport::Grpc => {
            let connector = crate::tls::client::connector(tls, wants_tls, Alpn::H2, http)?;
            Box::new(move |instance| {
                let uri = instance_uri(&instance.url)?;
                let endpoint = tonic::transport::Endpoint::from(uri.clone())
                    .connect_timeout(connect_timeout)
                    .tcp_nodelay(true);
                if uri.scheme() != Some(&http::uri::Scheme::HTTPS) {
                    let channel = endpoint.connect_lazy();
                    return Ok(BoxCloneSyncService::new(channel.map_err(BoxError::from)));
                }
                let failures = TlsFailures::default();
                let channel = endpoint.connect_with_connector_lazy(Recording {
                    inner: connector.clone(),
                    failures: failures.clone(),
                });
                Ok(BoxCloneSyncService::new(
                    channel.map_err(move |e| failures.explain(BoxError::from(e))),
                ))
            })
        }
    })
}

/// Applies what `source` knows now, then (when there is a runtime and the
/// source can change) follows it for as long as the balancer lives.
fn follow(balancer: &Arc<Balancer>, source: &dyn Discover, has_runtime: bool) -> Result<(), Error> {
    let mut changes = source.watch();
    while let Some(Some(change)) = changes.next().now_or_never() {
        balancer.apply(change);
    }
    if !has_runtime {
        // Outside a runtime only what is known at once can be used: a
        // fixed list is fully known; a registry needs a runtime to watch.
        if balancer.stats().is_empty() {
            return Err(Error::failed_precondition(format!(
                "following {} needs a Tokio runtime: build the client inside one",
                source.describe()
            )));
        }
        return Ok(());
    }
    let weak = Arc::downgrade(balancer);
    // Ends with the client: the balancer holds the sender.
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    balancer.stop_watching_on_drop(stop);
    tokio::spawn(async move {
        loop {
            let change = tokio::select! {
                change = changes.next() => change,
                _ = &mut stopped => return,
            };
            let Some(change) = change else { return };
            let Some(balancer) = weak.upgrade() else {
                return;
            };
            balancer.apply(change);
        }
    });
    Ok(())
}

/// `http://host:port` or `https://host:port`, with nothing after the
/// authority.
fn parse_base(url: &str) -> Result<Uri, Error> {
    let uri: Uri = url
        .parse()
        .map_err(|e| Error::invalid_argument(format!("invalid base URL `{url}`: {e}")))?;
    if url.starts_with("nats://") {
        return Err(Error::invalid_argument(format!(
            "base URL `{url}`: for NATS, build the client with .transport(kit::Transport::Nats).nats_url(\"{url}\")"
        )));
    }
    if uri.scheme() != Some(&http::uri::Scheme::HTTP)
        && uri.scheme() != Some(&http::uri::Scheme::HTTPS)
    {
        return Err(Error::invalid_argument(format!(
            "base URL `{url}`: write http:// or https://"
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
        assert!(parse_base("https://x:1").is_ok());
        assert!(parse_base("ftp://x:1")
            .unwrap_err()
            .message()
            .contains("write http:// or https://"));
        assert!(parse_base("127.0.0.1:8080").is_err());
        assert!(parse_base("http://").is_err());
    }
}
