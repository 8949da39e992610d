//! The service as the expanders see it: validated, with every argument's
//! source decided.

use std::time::Duration;

use syn::{Ident, Type};

use crate::route::Route;

pub struct Service {
    /// The type the impl block is for.
    pub self_ty: Type,
    /// Its last path segment, for naming the client.
    pub type_ident: Ident,
    /// `name = "..."` or the type name in snake_case.
    pub name: String,
    /// Protobuf package: `package = "..."` or the service name.
    pub package: String,
    pub docs: String,
    pub endpoints: Vec<Endpoint>,
}

impl Service {
    pub fn has_grpc(&self) -> bool {
        self.endpoints.iter().any(|e| e.grpc.is_some())
    }
}

pub struct Endpoint {
    pub ident: Ident,
    pub docs: String,
    pub route: Option<Route>,
    /// The gRPC method name, if served over gRPC.
    pub grpc: Option<String>,
    pub timeout: Option<Duration>,
    pub retry: u32,
    pub idempotent: bool,
    pub args: Vec<Arg>,
    pub output: Output,
}

pub struct Arg {
    pub ident: Ident,
    pub ty: Type,
    pub source: Source,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
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
}

impl Source {
    pub fn descriptor_variant(self) -> &'static str {
        match self {
            Source::Path => "Path",
            Source::Query { .. } => "Query",
            Source::BodyField => "BodyField",
            Source::Body => "Body",
            Source::Context => "Context",
        }
    }
}

/// What the method returns.
pub struct Output {
    /// The success type (`()` when the method returns nothing).
    pub ok: Type,
    /// Whether the method returns `Result<T, E>` (or `Result<T>`).
    pub fallible: bool,
}
