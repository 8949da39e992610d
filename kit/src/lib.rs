//! kit: write a networked service as a plain `impl` block; get the
//! transports, the instrumentation, the resilience and the typed clients.
//!
//! ```no_run
//! use kit::prelude::*;
//!
//! /// Counts and transforms strings.
//! pub struct StringService;
//!
//! #[kit::service(name = "strings")]
//! impl StringService {
//!     /// Uppercases `s`. Fails on an empty string.
//!     #[endpoint(http = "POST /uppercase", grpc, timeout = "2s", retry = 3, idempotent)]
//!     pub async fn uppercase(&self, s: String) -> Result<String, kit::Error> {
//!         if s.is_empty() {
//!             return Err(kit::Error::invalid_argument("empty string"));
//!         }
//!         Ok(s.to_uppercase())
//!     }
//!
//!     /// Counts the bytes of `s`.
//!     #[endpoint(http = "GET /count/{s}", grpc)]
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
//! assert_eq!(client.uppercase("hi").await?, "HI");
//! # Ok(()) }
//! ```
//!
//! See the README for the annotation keys and what each one does.

pub use kit_macros::{endpoint, service, Message};
pub use kit_runtime::{
    auth, client, config, descriptor, event, lb, limit, log, metrics, openapi, proto, retry,
    router, sd, serve, server, stream, tls, trace, Cli, ClientBuilder, Code, Config, Context,
    Endpoints, Error, Result, Server, Stream, Streaming, Transport,
};

/// `use kit::prelude::*;` brings what a service author needs.
pub mod prelude {
    pub use kit_runtime::{Code, Context, Endpoints, Error};
}

/// What generated code refers to. Not a public API.
#[doc(hidden)]
pub use kit_runtime::codegen as __private;
