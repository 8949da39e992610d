//! The client behind every generated `<Name>Client`: deadlines and trace
//! context carried to the server, retries within a budget, client metrics
//! and spans, over HTTP/JSON, gRPC or NATS, through the user's tower layers to
//! pooled connections.

mod builder;
mod call;
mod channel;
pub mod credentials;
mod encode;
mod nats;
mod span;
pub(crate) mod stream;

use std::sync::Arc;
use std::time::Duration;

pub use builder::ClientBuilder;
pub use call::HttpCall;
pub(crate) use call::RawCodec;
pub use channel::{Body, BoxChannel};
pub(crate) use encode::COMPONENT;
pub use encode::{push_path_param, QueryWriter};

use crate::descriptor::ServiceDescriptor;
use crate::metrics::{ClientMetrics, EndpointMetrics};
use crate::retry::{Backoff, RetryBudget};

/// The transport a client speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Transport {
    /// HTTP/JSON (the default).
    #[default]
    Http,
    /// gRPC: protobuf over HTTP/2.
    Grpc,
    /// NATS request/reply, the HTTP routes' JSON as payloads (give the
    /// builder [`nats_url`](ClientBuilder::nats_url)).
    Nats,
}

impl Transport {
    /// The `transport` label of metrics and spans.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Http => "http",
            Transport::Grpc => "grpc",
            Transport::Nats => "nats",
        }
    }
}

/// A client of one service: what a generated client wraps. Cheap to clone;
/// clones share connections and the retry budget.
#[derive(Clone)]
#[doc(hidden)]
pub struct Client {
    inner: Arc<ClientInner>,
    options: Option<Arc<CallOptions>>,
}

/// What one call (or every call of a client clone) adds: a tighter
/// timeout, extra headers.
#[derive(Clone, Default)]
struct CallOptions {
    timeout: Option<Duration>,
    headers: Vec<(String, String)>,
    credentials: Option<Arc<dyn credentials::Credentials>>,
}

struct ClientInner {
    service: &'static ServiceDescriptor,
    bases: Vec<http::Uri>,
    connect_timeout: Duration,
    transport: Transport,
    channel: BoxChannel,
    balancer: Arc<crate::lb::Balancer>,
    breaker: Option<crate::lb::Circuit>,
    /// This client's 1 in `kit_client_breaker_open` while its breaker is open.
    breaker_gauge: crate::metrics::GaugeShare,
    timeout: Option<Duration>,
    retries: Option<u32>,
    backoff: Backoff,
    budget: RetryBudget,
    metrics: Box<[ClientMetrics]>,
    /// The whole client's rate limit.
    rate_limit: Option<crate::limit::ClientLimiter>,
    /// Each endpoint's rate limit, by index.
    endpoint_limits: Box<[Option<crate::limit::ClientLimiter>]>,
    /// The NATS connection of a NATS client.
    nats: Option<nats::NatsConn>,
    /// What every call sends to say who it is.
    credentials: Option<Arc<dyn credentials::Credentials>>,
}

impl Client {
    /// The service this client calls.
    pub fn service(&self) -> &'static ServiceDescriptor {
        self.inner.service
    }

    /// The transport this client speaks.
    pub fn transport(&self) -> Transport {
        self.inner.transport
    }

    /// This client with every call bounded by `timeout` (the tighter of it
    /// and the endpoint's own wins); the original is unchanged.
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        self.with_options(|o| o.timeout = Some(timeout))
    }

    /// This client sending `name: value` with every call (HTTP header or
    /// gRPC metadata); the original is unchanged.
    pub fn with_header(&self, name: &str, value: &str) -> Client {
        self.with_options(|o| o.headers.push((name.to_string(), value.to_string())))
    }

    /// This client sending `credentials` with every call instead of the
    /// client's own; the original is unchanged.
    pub fn with_credentials(&self, credentials: impl credentials::Credentials) -> Client {
        let credentials: Arc<dyn credentials::Credentials> = Arc::new(credentials);
        self.with_options(|o| o.credentials = Some(credentials))
    }

    /// The header saying who calls, for the next attempt of a call in `ctx`.
    pub(crate) async fn credential_header(
        &self,
        ctx: &crate::Context,
    ) -> Result<Option<credentials::CredentialHeader>, crate::Error> {
        let source = self
            .options
            .as_deref()
            .and_then(|o| o.credentials.as_ref())
            .or(self.inner.credentials.as_ref());
        match source {
            Some(source) => source.header(ctx).await,
            None => Ok(None),
        }
    }

    fn with_options(&self, change: impl FnOnce(&mut CallOptions)) -> Client {
        let mut options = self.options.as_deref().cloned().unwrap_or_default();
        change(&mut options);
        Client {
            inner: self.inner.clone(),
            options: Some(Arc::new(options)),
        }
    }

    /// What this client knows of each instance of the service: its state,
    /// load and the attempts it served.
    pub fn instance_stats(&self) -> Vec<crate::lb::InstanceStats> {
        self.inner.balancer.stats()
    }

    /// Opens (and closes) a connection to every server, so a client made
    /// with `connect` fails early when nothing listens.
    pub async fn check_reachable(&self) -> Result<(), crate::Error> {
        for uri in &self.inner.bases {
            let Some(authority) = uri.authority() else {
                continue;
            };
            let port = authority.port_u16().unwrap_or(80);
            let addr = format!("{}:{port}", authority.host());
            let connect = tokio::net::TcpStream::connect(&addr);
            match tokio::time::timeout(self.inner.connect_timeout, connect).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    return Err(crate::Error::unavailable(format!(
                        "cannot connect to {uri}: {e}"
                    )))
                }
                Err(_) => {
                    return Err(crate::Error::unavailable(format!(
                        "cannot connect to {uri}: timed out"
                    )))
                }
            }
        }
        Ok(())
    }

    fn metrics(&self, endpoint: usize) -> Arc<EndpointMetrics> {
        self.inner.metrics[endpoint].get()
    }
}
