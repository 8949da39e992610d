//! The kit example service: uppercase and count strings.
//!
//! The impl block below is all a service author writes. `#[kit::service]`
//! adds the HTTP routes, the instrumented server stack, the descriptor and
//! the typed [`StringServiceClient`] that other crates (see `stringcli`) use.

use kit::Stream;

/// Counts and transforms strings.
#[derive(Clone, Copy, Debug, Default)]
pub struct StringService;

/// Uppercases and counts strings, over HTTP/JSON and gRPC.
#[kit::service(name = "strings", package = "strings.v1")]
impl StringService {
    /// Uppercases `s`. Fails with INVALID_ARGUMENT on an empty string.
    #[endpoint(http = "POST /uppercase", grpc, timeout = "2s", retry = 3, idempotent)]
    pub async fn uppercase(&self, s: String) -> Result<String, kit::Error> {
        if s.is_empty() {
            return Err(kit::Error::invalid_argument("empty string"));
        }
        Ok(s.to_uppercase())
    }

    /// Counts the bytes of `s`.
    #[endpoint(http = "POST /count", grpc)]
    pub async fn count(&self, s: String) -> u64 {
        s.len() as u64
    }

    /// Streams each character of `s`, uppercased, one item each: Server-Sent
    /// Events or NDJSON over HTTP, a server-streaming method over gRPC.
    #[endpoint(http = "GET /letters/{s}", grpc)]
    pub async fn letters(&self, s: String) -> impl Stream<Item = Result<String, kit::Error>> {
        kit::stream::iter(
            s.chars()
                .map(|c| Ok(c.to_uppercase().to_string()))
                .collect::<Vec<_>>(),
        )
    }
}
