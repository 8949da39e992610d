//! The client stack behind every generated `<Name>Client`: pooled HTTP/1.1
//! or HTTP/2 connections, deadlines and trace context carried to the
//! server, retries within a budget, client metrics and spans.

mod call;
mod encode;

use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub use call::{HttpCall, RawCodec};
pub use encode::{push_path_param, QueryWriter};

use crate::descriptor::ServiceDescriptor;
use crate::metrics::EndpointMetrics;
use crate::retry::{Backoff, RetryBudget};
use crate::Error;

type HyperClient = hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>;

/// A client of one service over HTTP/JSON. Cheap to clone; clones share
/// connections and the retry budget. Generated clients wrap one.
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

/// The transport a client speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Transport {
    /// HTTP/JSON (the default).
    #[default]
    Http,
    /// gRPC: protobuf over HTTP/2.
    Grpc,
}

struct ClientInner {
    service: &'static ServiceDescriptor,
    transport: Transport,
    bases: Vec<Base>,
    channels: Vec<tonic::transport::Channel>,
    next: AtomicUsize,
    http: HyperClient,
    timeout: Option<Duration>,
    retries: Option<u32>,
    backoff: Backoff,
    budget: RetryBudget,
    metrics: Box<[OnceLock<EndpointMetrics>]>,
}

#[derive(Clone, Debug)]
struct Base {
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
}

impl Client {
    /// A client of `service` at `base_url` with default settings.
    pub fn connect(service: &'static ServiceDescriptor, base_url: &str) -> Result<Client, Error> {
        ClientBuilder::new(service).base_url(base_url).build()
    }

    /// A builder for a client of `service`.
    pub fn builder(service: &'static ServiceDescriptor) -> ClientBuilder {
        ClientBuilder::new(service)
    }

    /// Same as [`Client::builder`], for a wrapper type such as a generated client.
    pub fn builder_for<C: From<Client>>(service: &'static ServiceDescriptor) -> ClientBuilder<C> {
        ClientBuilder::new(service)
    }

    /// The service this client calls.
    pub fn service(&self) -> &'static ServiceDescriptor {
        self.inner.service
    }

    /// The transport this client speaks.
    pub fn transport(&self) -> Transport {
        self.inner.transport
    }

    /// Whether calls go over gRPC.
    pub fn is_grpc(&self) -> bool {
        self.inner.transport == Transport::Grpc
    }

    fn next_channel(&self) -> tonic::transport::Channel {
        let i = self.inner.next.fetch_add(1, Ordering::Relaxed);
        self.inner.channels[i % self.inner.channels.len()].clone()
    }

    fn next_base(&self) -> &Base {
        let i = self.inner.next.fetch_add(1, Ordering::Relaxed);
        &self.inner.bases[i % self.inner.bases.len()]
    }

    fn metrics(&self, endpoint: usize) -> &EndpointMetrics {
        let transport = match self.inner.transport {
            Transport::Http => "http",
            Transport::Grpc => "grpc",
        };
        self.inner.metrics[endpoint].get_or_init(|| {
            EndpointMetrics::client(&self.inner.service.endpoints[endpoint], transport)
        })
    }
}

/// Configures a [`Client`].
///
/// ```
/// # use kit_runtime::descriptor::ServiceDescriptor;
/// # static SVC: ServiceDescriptor = ServiceDescriptor { name: "s", rust_type: "S", version: "0", docs: "", grpc: None, endpoints: &[] };
/// use std::time::Duration;
/// let client = kit_runtime::client::Client::builder(&SVC)
///     .base_url("http://127.0.0.1:8080")
///     .base_url("http://127.0.0.1:8081")   // round-robin; retries move on
///     .timeout(Duration::from_secs(1))     // when the endpoint sets none
///     .retries(2)                          // overrides `retry = N`
///     .build()
///     .unwrap();
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
    _client: PhantomData<fn() -> C>,
}

impl<C: From<Client>> ClientBuilder<C> {
    /// A builder for a client of `service`, built as a `C`.
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

    /// Speak HTTP/2 with prior knowledge (h2c) instead of HTTP/1.1.
    pub fn http2_only(mut self, yes: bool) -> ClientBuilder<C> {
        self.http2_only = yes;
        self
    }

    /// How long establishing a connection may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientBuilder<C> {
        self.connect_timeout = timeout;
        self
    }

    /// Builds the client. Connections are made on first use.
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
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(self.connect_timeout));
        let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .http2_only(self.http2_only)
            .pool_idle_timeout(self.pool_idle_timeout)
            .build(connector);
        let channels = match self.transport {
            Transport::Http => Vec::new(),
            Transport::Grpc => bases
                .iter()
                .map(|b| {
                    let url = format!("{}://{}", b.scheme, b.authority);
                    tonic::transport::Endpoint::from_shared(url)
                        .map(|e| {
                            e.connect_timeout(self.connect_timeout)
                                .tcp_nodelay(true)
                                .connect_lazy()
                        })
                        .map_err(|e| Error::invalid_argument(format!("invalid base URL: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let metrics = (0..self.service.endpoints.len())
            .map(|_| OnceLock::new())
            .collect();
        Ok(C::from(Client {
            inner: Arc::new(ClientInner {
                service: self.service,
                transport: self.transport,
                bases,
                channels,
                next: AtomicUsize::new(0),
                http,
                timeout: self.timeout,
                retries: self.retries,
                backoff: self.backoff,
                budget: self.budget.unwrap_or_default(),
                metrics,
            }),
        }))
    }
}

fn parse_base(url: &str) -> Result<Base, Error> {
    let uri: Uri = url
        .parse()
        .map_err(|e| Error::invalid_argument(format!("invalid base URL `{url}`: {e}")))?;
    let scheme = uri
        .scheme()
        .cloned()
        .ok_or_else(|| Error::invalid_argument(format!("base URL `{url}` has no scheme")))?;
    if scheme != http::uri::Scheme::HTTP {
        return Err(Error::invalid_argument(format!(
            "base URL `{url}`: only http:// is supported"
        )));
    }
    let authority = uri
        .authority()
        .cloned()
        .ok_or_else(|| Error::invalid_argument(format!("base URL `{url}` has no host")))?;
    Ok(Base { scheme, authority })
}
