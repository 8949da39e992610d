//! Procedural macros of kit. Use them through the `kit` crate:
//! `#[kit::service]` on an impl block, `#[endpoint(...)]` on its methods,
//! `#[derive(kit::Message)]` on protobuf messages and enums.
//!
//! The shape follows serde_derive: thin entry points here; `internals`
//! turns syntax into a model (`attr` reads every attribute with darling,
//! `parse` builds the `ast`, `check` applies the rules that span items, all
//! errors collected in one `Ctxt` with their spans); `expand` writes one
//! output per module from the model alone. On error the user's item is
//! still emitted, with stubs for what the macro would have generated, so
//! the user sees the errors that matter and no follow-on ones.

mod expand;
mod internals;

use proc_macro::TokenStream;

/// Turns an impl block into a kit service: HTTP routes, gRPC methods, the
/// instrumented server stack, a typed `<Type>Client` and a descriptor.
///
/// ```text
/// #[kit::service(name = "strings", package = "strings.v1", timeout = "2s")]
/// impl StringService { /* #[endpoint(...)] async fn ... */ }
/// ```
///
/// | key | meaning |
/// | --- | --- |
/// | `name = "..."` | the service name in metrics, logs and `/kit/describe` (default: the type in snake_case) |
/// | `package = "..."` | the protobuf package (default: the name); needs a `grpc` endpoint |
/// | `timeout`, `retry`, `idempotent`, `grpc` | defaults for every endpoint (see [`macro@endpoint`]); `grpc` here is plain, not `grpc = "Name"` |
/// | `concurrency = N` | at most N requests of the whole service run at once (one limit the endpoints share, on top of each endpoint's); beyond it 503 / UNAVAILABLE with `kit-nack: 1`, which kit's clients send to another instance |
/// | `rate = "100/s"`, `burst = N` | a default rate limit for every endpoint (each endpoint its own bucket; see [`macro@endpoint`]) |
///
/// The impl block's doc comment describes the service. It must be an
/// inherent impl of a named, non-generic type; its other items (constants,
/// helper methods, macro invocations) are left as they are. Every other
/// mistake is a compile error at its span; the impl, an `Endpoints` impl
/// and a client with stub methods are still emitted, so that error is the
/// only one.
#[proc_macro_attribute]
pub fn service(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::service(args.into(), item.into()).into()
}

/// Protobuf encoding, alongside serde's derives: a struct with named fields
/// is a message, a fieldless enum an enum (numbered by discriminant, one
/// must be 0), an enum with data a message of one `oneof`, a newtype
/// `struct Id(T)` its field's type. Field numbers are positions (1-based)
/// unless a field (or a variant with data) says `#[kit(tag = N)]`;
/// `#[kit(name = "...")]` renames the protobuf message or enum.
#[proc_macro_derive(Message, attributes(kit))]
pub fn message(input: TokenStream) -> TokenStream {
    expand::message(input.into()).into()
}

/// Marks a method of a `#[kit::service]` impl block as an endpoint. Only
/// meaningful there: `#[kit::service]` reads and removes it.
///
/// ```text
/// #[endpoint(http = "POST /uppercase", grpc, timeout = "2s", retry = 3, idempotent)]
/// pub async fn uppercase(&self, s: String) -> Result<String, kit::Error> { .. }
/// ```
///
/// | key | meaning |
/// | --- | --- |
/// | `http = "METHOD /path/{param}"` | GET, POST, PUT, PATCH or DELETE. `{param}` binds the argument of that name; other arguments are query parameters (GET, DELETE) or fields of a JSON object body (POST, PUT, PATCH); `#[body]` on one argument makes it the whole body; a `&kit::Context` argument gets the request context |
/// | `grpc`, `grpc = "Name"` | also a unary gRPC method, named in PascalCase unless named here |
/// | `timeout = "2s"` | the server drops the handler and answers DEADLINE_EXCEEDED at the smaller of this and the caller's deadline; the client's per-call timeout |
/// | `retry = N` | the client retries UNAVAILABLE up to N times, within a retry budget and the deadline, if `idempotent` or the request never reached a server |
/// | `idempotent` | safe to retry after the server may have processed it |
/// | `concurrency = N` | at most N requests of this endpoint run at once, on both transports together; beyond it the request is refused before it runs with 503 / UNAVAILABLE, `Retry-After` and `kit-nack: 1` (not processed: kit's clients send it to another instance, even when not idempotent). Without it the server's `--concurrency` applies: an adaptive limit by default |
/// | `rate = "100/s"` (`/s`, `/m`, `/h`), `burst = N` | a token-bucket rate limit on the server (burst defaults to the count): beyond it 429 / RESOURCE_EXHAUSTED with `Retry-After`; per caller when the server has a [`rate_limit_key`](../kit/struct.Server.html#method.rate_limit_key) |
///
/// The method is `async fn` taking `&self`; arguments are owned values
/// with plain names (URL arguments: serde types of one value, `Option` and
/// `Vec` of those in the query); the result is `T` or `Result<T, E>` with
/// `E: Into<kit::Error>`, written as `Result<..>` or an alias whose name
/// ends in `Result` with `T` first. `()` answers 204 No Content over HTTP.
/// The doc comment describes the endpoint in `/kit/describe` and the
/// `.proto`.
#[proc_macro_attribute]
pub fn endpoint(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::stray_endpoint(args.into(), item.into()).into()
}
