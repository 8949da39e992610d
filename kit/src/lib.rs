//! kit: write a networked service as a plain `impl` block; get the
//! transports, the instrumentation, the resilience and the typed clients.
//!
//! ```no_run
//! use kit::prelude::*;
//!
//! /// Counts and transforms strings.
//! pub struct StringService;
//!
//! #[kit::service]
//! impl StringService {
//!     /// Uppercases `s`. Fails on an empty string.
//!     #[endpoint(http = "POST /uppercase", timeout = "2s", retry = 3, idempotent)]
//!     pub async fn uppercase(&self, s: String) -> Result<String, kit::Error> {
//!         if s.is_empty() {
//!             return Err(kit::Error::invalid_argument("empty string"));
//!         }
//!         Ok(s.to_uppercase())
//!     }
//!
//!     /// Counts the bytes of `s`.
//!     #[endpoint(http = "GET /count/{s}")]
//!     pub async fn count(&self, s: String) -> u64 {
//!         s.len() as u64
//!     }
//! }
//!
//! # async fn run() -> Result<(), kit::Error> {
//! // Serve it (flags and KIT_* environment variables configure the server):
//! kit::serve(StringService).await?;
//!
//! // Or call it from another crate through the generated client:
//! let client = StringServiceClient::connect("http://127.0.0.1:8080").await?;
//! assert_eq!(client.uppercase("hi".into()).await?, "HI");
//! # Ok(()) }
//! ```
//!
//! See the README for the annotation keys and what each one does.

pub use kit_macros::{endpoint, service, Message};
pub use kit_runtime::{
    client, config, context, deadline, descriptor, metrics, proto, retry, router, serve, server,
    trace, transport, Code, Context, Error, ParamValue, Result, Server, Service,
};

/// `use kit::prelude::*;` brings what a service author needs.
pub mod prelude {
    pub use kit_runtime::{Code, Context, Error, ParamValue, Service as _};
}

/// What generated code refers to. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use bytes::Bytes;
    pub use inventory;
    pub use kit_runtime::__proto_message_field as proto_message_field;
    pub use kit_runtime::client::Transport;
    pub use kit_runtime::client::{push_path_param, Client, HttpCall, QueryWriter};
    pub use kit_runtime::descriptor::{
        ArgDescriptor, ArgSource, EndpointDescriptor, GrpcMethod, GrpcService, HttpMethod,
        HttpRoute, ServiceDescriptor, ServiceRegistration,
    };
    pub use kit_runtime::server::GrpcRoutes;
    pub use kit_runtime::server::HttpRoutes;
    pub use kit_runtime::transport::http::{reply, respond, HttpRequest};
    pub use kit_runtime::wire::{wire, BodyFields, JsonObject, UrlParam, WireCodec};
    pub use serde;

    /// Protobuf support for generated message code.
    pub mod proto {
        pub use bytes::{Buf, BufMut};
        pub use kit_runtime::proto::*;
    }
}

pub use kit_runtime::client::Transport;
