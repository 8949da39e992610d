//! The model the expanders read: a service, its endpoints and their
//! arguments with every decision already taken, and messages.

use std::time::Duration;

use proc_macro2::Span;
use syn::{Ident, Type};

use super::route::Route;

/// A `#[kit::service]` impl block.
pub(crate) struct Service {
    /// The type the impl block is for.
    pub(crate) self_ty: Type,
    /// Its last path segment, for naming the client.
    pub(crate) type_ident: Ident,
    /// `name = "..."` or the type name in snake_case.
    pub(crate) name: String,
    /// Protobuf package: `package = "..."` or the service name.
    pub(crate) package: String,
    pub(crate) package_span: Option<Span>,
    pub(crate) docs: String,
    /// `concurrency = N` on the service.
    pub(crate) concurrency: Option<u32>,
    /// The endpoints that parsed.
    pub(crate) endpoints: Vec<Endpoint>,
    /// Every method marked `#[endpoint]`, parsed or not: what the client
    /// stubs need when the expansion fails.
    pub(crate) stubs: Vec<Stub>,
}

impl Service {
    pub(crate) fn has_grpc(&self) -> bool {
        self.endpoints.iter().any(|e| e.grpc.is_some())
    }
}

/// An endpoint method.
pub(crate) struct Endpoint {
    pub(crate) ident: Ident,
    /// The name outside Rust (`r#type` is `type`).
    pub(crate) name: String,
    pub(crate) docs: String,
    pub(crate) http: Option<Http>,
    pub(crate) grpc: Option<Grpc>,
    pub(crate) timeout: Option<Duration>,
    /// `slow = "..."`: the WARN threshold.
    pub(crate) slow: Option<Duration>,
    pub(crate) retry: u32,
    pub(crate) idempotent: bool,
    pub(crate) concurrency: Option<u32>,
    /// `rate`/`burst`: count, period in nanoseconds, burst.
    pub(crate) rate: Option<(u32, u64, u32)>,
    pub(crate) args: Vec<Arg>,
    pub(crate) output: Output,
    /// Who may call (`None`: anyone).
    pub(crate) auth: Option<super::auth::Policy>,
}

impl Endpoint {
    /// Which way the endpoint streams: the runtime's `StreamKind` variant.
    pub(crate) fn stream_kind(&self) -> &'static str {
        let streams_requests = self.args.iter().any(|a| a.source == Source::Stream);
        match (streams_requests, self.output.stream) {
            (false, false) => "Unary",
            (false, true) => "Server",
            (true, false) => "Client",
            (true, true) => "Bidi",
        }
    }

    /// The stream argument of a client- or bidirectional-streaming endpoint.
    pub(crate) fn stream_arg(&self) -> Option<&Arg> {
        self.args.iter().find(|a| a.source == Source::Stream)
    }

    /// The arguments that travel (all but `&Context`).
    pub(crate) fn wire_args(&self) -> impl Iterator<Item = &Arg> {
        self.args.iter().filter(|a| a.source != Source::Context)
    }
}

/// `http = "METHOD /path"`.
pub(crate) struct Http {
    pub(crate) route: Route,
    /// The span of the string, for errors about the route.
    pub(crate) span: Span,
}

/// The gRPC method of an endpoint.
pub(crate) struct Grpc {
    /// Method name (`Uppercase`).
    pub(crate) method: String,
    pub(crate) shape: GrpcShape,
}

/// What the request message of a gRPC method is. The response is always
/// the return type as a `GrpcPayload` (itself when it is a message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GrpcShape {
    /// The arguments as the fields of `<Method>Request`, by position.
    Args,
    /// A lone `#[body]` argument is the request itself (wrapped in
    /// `<Method>Request` when it is not a message).
    Body,
}

/// An argument of an endpoint.
pub(crate) struct Arg {
    pub(crate) ident: Ident,
    /// The name outside Rust (query parameter, JSON field, proto field).
    pub(crate) name: String,
    pub(crate) ty: Type,
    pub(crate) source: Source,
}

/// Where an argument comes from over HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// `{name}` in the path.
    Path,
    /// A query parameter; `optional` when the type is `Option<T>`.
    Query { optional: bool },
    /// A field of the JSON object body.
    BodyField,
    /// `#[body]`: the whole JSON body.
    Body,
    /// `&kit::Context`.
    Context,
    /// `kit::Streaming<T>`: the stream of request messages (gRPC only);
    /// the argument's `ty` is the item type `T`.
    Stream,
}

impl Source {
    pub(crate) fn descriptor_variant(self) -> &'static str {
        match self {
            Source::Path => "Path",
            Source::Query { .. } => "Query",
            Source::BodyField => "BodyField",
            Source::Body => "Body",
            Source::Context => "Context",
            Source::Stream => "Stream",
        }
    }
}

/// What the method returns.
pub(crate) struct Output {
    /// The success type (`()` when the method returns nothing); the item
    /// type of a stream.
    pub(crate) ok: Type,
    /// Whether the method returns `Result<T, E>` (a stream: whether its
    /// items are).
    pub(crate) fallible: bool,
    /// Whether the method returns a stream (`impl Stream<Item = ..>` or
    /// `kit::Streaming<T>`).
    pub(crate) stream: bool,
    /// The span of the return type, where a wrong error type is reported.
    pub(crate) span: proc_macro2::Span,
}

/// A client method to stub when the expansion fails.
pub(crate) struct Stub {
    pub(crate) ident: Ident,
    pub(crate) generics: syn::Generics,
    pub(crate) params: Vec<(Ident, Type)>,
    pub(crate) ok: Type,
}

/// A `#[derive(kit::Message)]` struct.
pub(crate) struct Message {
    pub(crate) ident: Ident,
    /// The protobuf name.
    pub(crate) proto_name: String,
    pub(crate) docs: String,
    pub(crate) fields: Vec<Field>,
}

/// A field of a message.
pub(crate) struct Field {
    pub(crate) ident: Ident,
    /// The protobuf field name (`r#type` is `type`).
    pub(crate) name: String,
    pub(crate) ty: Type,
    pub(crate) tag: u32,
    pub(crate) tag_span: Span,
}

/// A `#[derive(kit::Message)]` fieldless enum.
pub(crate) struct Enum {
    pub(crate) ident: Ident,
    pub(crate) proto_name: String,
    pub(crate) docs: String,
    pub(crate) variants: Vec<Variant>,
}

/// A variant of an enum.
pub(crate) struct Variant {
    pub(crate) ident: Ident,
    /// `ENUM_VARIANT`.
    pub(crate) proto_name: String,
    pub(crate) number: i32,
}

/// A `#[derive(kit::Message)]` struct with one unnamed field: the field's
/// protobuf type, transparently.
pub(crate) struct Newtype {
    pub(crate) ident: Ident,
    pub(crate) inner: Type,
}

/// A `#[derive(kit::Message)]` enum whose variants carry data: a message
/// holding one `oneof`, a field per variant.
pub(crate) struct Oneof {
    pub(crate) ident: Ident,
    pub(crate) proto_name: String,
    pub(crate) docs: String,
    pub(crate) variants: Vec<OneofVariant>,
}

/// A variant of a [`Oneof`] enum.
pub(crate) struct OneofVariant {
    pub(crate) ident: Ident,
    /// The oneof field's name (`circle` for `Circle`).
    pub(crate) field: String,
    pub(crate) tag: u32,
    pub(crate) tag_span: Span,
    pub(crate) kind: VariantKind,
}

/// What a oneof variant holds.
pub(crate) enum VariantKind {
    /// Nothing: an empty message `<Enum><Variant>`.
    Unit,
    /// One unnamed field: that field's type.
    Newtype(Type),
    /// Named fields: a message `<Enum><Variant>` of them.
    Struct(Vec<Field>),
}
