//! The client behind every generated `<Name>Client`: deadlines and trace
//! context carried to the server, retries within a budget, client metrics
//! and spans, over HTTP/JSON or gRPC, through the user's tower layers to
//! pooled connections.

mod builder;
mod call;
mod channel;
mod encode;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use builder::ClientBuilder;
pub use call::HttpCall;
pub use channel::{Body, BoxChannel};
pub use encode::{push_path_param, QueryWriter};

use crate::descriptor::ServiceDescriptor;
use crate::metrics::EndpointMetrics;
use crate::retry::{Backoff, RetryBudget};

/// The transport a client speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Transport {
    /// HTTP/JSON (the default).
    #[default]
    Http,
    /// gRPC: protobuf over HTTP/2.
    Grpc,
}

impl Transport {
    /// The `transport` label of metrics and spans.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Http => "http",
            Transport::Grpc => "grpc",
        }
    }
}

/// A client of one service: what a generated client wraps. Cheap to clone;
/// clones share connections and the retry budget.
#[derive(Clone)]
#[doc(hidden)]
pub struct Client {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    service: &'static ServiceDescriptor,
    transport: Transport,
    channel: BoxChannel,
    timeout: Option<Duration>,
    retries: Option<u32>,
    backoff: Backoff,
    budget: RetryBudget,
    metrics: Box<[OnceLock<EndpointMetrics>]>,
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

    fn metrics(&self, endpoint: usize) -> &EndpointMetrics {
        self.inner.metrics[endpoint].get_or_init(|| {
            EndpointMetrics::client(
                &self.inner.service.endpoints[endpoint],
                self.inner.transport.as_str(),
            )
        })
    }
}
