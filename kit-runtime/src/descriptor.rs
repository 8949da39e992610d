//! Static descriptions of services and endpoints, emitted by the macro and
//! registered with `inventory` so a binary can list everything linked in.

use std::fmt::Write as _;
use std::time::Duration;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::proto::schema::{MethodSchema, ServiceSchema};
use crate::proto::Schema;

/// An HTTP method an endpoint can be routed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// `GET`: arguments come from the path and the query string.
    Get,
    /// `POST`: arguments come from the path and a JSON body.
    Post,
    /// `PUT`: arguments come from the path and a JSON body.
    Put,
    /// `PATCH`: arguments come from the path and a JSON body.
    Patch,
    /// `DELETE`: arguments come from the path and the query string.
    Delete,
}

impl HttpMethod {
    /// The method as the `http` crate spells it.
    pub fn as_http(self) -> http::Method {
        match self {
            HttpMethod::Get => http::Method::GET,
            HttpMethod::Post => http::Method::POST,
            HttpMethod::Put => http::Method::PUT,
            HttpMethod::Patch => http::Method::PATCH,
            HttpMethod::Delete => http::Method::DELETE,
        }
    }

    /// The method name, e.g. `"POST"`.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }
}

/// Where an HTTP route binds an argument from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgSource {
    /// A `{name}` segment of the path.
    Path,
    /// A query parameter of the same name.
    Query,
    /// A field of the same name in the JSON object body.
    BodyField,
    /// The whole JSON body (`#[body]`).
    Body,
    /// The request [`Context`](crate::Context), not sent by callers.
    Context,
    /// The stream of request messages of a client- or bidirectional-
    /// streaming gRPC method (a [`Streaming`](crate::Streaming) argument).
    Stream,
}

/// One argument of an endpoint.
#[derive(Clone, Copy, Debug, Serialize)]
#[non_exhaustive]
pub struct ArgDescriptor {
    /// The argument's name.
    pub name: &'static str,
    /// Its Rust type, as written.
    pub rust_type: &'static str,
    /// Where HTTP binds it from.
    pub source: ArgSource,
    /// Its JSON Schema and URL shape, for the OpenAPI document (`None`
    /// for a `&Context` and for endpoints without an HTTP route).
    #[serde(skip)]
    pub schema: Option<crate::openapi::SchemaFn>,
}

/// An HTTP route.
#[derive(Clone, Copy, Debug, Serialize)]
#[non_exhaustive]
pub struct HttpRoute {
    /// The method.
    pub method: HttpMethod,
    /// The path template, axum syntax (`/count/{s}`).
    pub path: &'static str,
    /// The result's JSON Schema, for the OpenAPI document (`None`: the
    /// method returns `()`, answered 204 No Content).
    #[serde(skip)]
    pub response: Option<crate::openapi::SchemaFn>,
    /// The method returns a `Result`, so it may answer any error code.
    #[serde(skip)]
    pub fallible: bool,
}

/// A gRPC method.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct GrpcMethod {
    /// Method name (`Uppercase`).
    pub name: &'static str,
    /// HTTP/2 path (`/strings.StringService/Uppercase`).
    pub path: &'static str,
    /// Registers the request message in a schema; returns its full name.
    pub request: fn(&mut Schema) -> String,
    /// Registers the response message in a schema; returns its full name.
    pub response: fn(&mut Schema) -> String,
}

impl Serialize for GrpcMethod {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("GrpcMethod", 2)?;
        s.serialize_field("name", self.name)?;
        s.serialize_field("path", self.path)?;
        s.end()
    }
}

/// The gRPC identity of a service.
#[derive(Clone, Copy, Debug, Serialize)]
#[non_exhaustive]
pub struct GrpcService {
    /// Protobuf package (`#[kit::service(package = "...")]`, default: the service name).
    pub package: &'static str,
    /// Protobuf service name (the Rust type name).
    pub name: &'static str,
}

/// Who may call an endpoint: `auth = "..."` on the service or the
/// endpoint, `requires = "..."`. An endpoint without one (no `auth`, or
/// `public`) takes any caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AuthPolicy {
    /// The authenticators any one of which may vouch for the caller
    /// (`auth = "jwt | api_key"`), tried in this order.
    pub schemes: &'static [&'static str],
    /// What the caller must hold, all of it: `scope:NAME`, `role:NAME`.
    pub requires: &'static [&'static str],
}

/// One endpoint of a service, as annotated.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct EndpointDescriptor {
    /// Name of the service it belongs to.
    pub service: &'static str,
    /// Method name.
    pub name: &'static str,
    /// The method's doc comment.
    pub docs: &'static str,
    /// Its HTTP route, if served over HTTP.
    pub http: Option<HttpRoute>,
    /// Its gRPC method, if served over gRPC.
    pub grpc: Option<GrpcMethod>,
    /// `timeout = "..."`: the server-side deadline and the client's per-call timeout.
    pub timeout: Option<Duration>,
    /// `retry = N`: how often the generated client may retry.
    pub retry: u32,
    /// `idempotent`: safe to retry after the server may have processed it.
    pub idempotent: bool,
    /// `concurrency = N`: at most N requests at once (otherwise the
    /// server's `--concurrency`, adaptive by default).
    pub concurrency: Option<u32>,
    /// `#[kit::service(concurrency = N)]`: the limit the whole service shares.
    pub service_concurrency: Option<u32>,
    /// `rate = "100/s"`, `burst = N`: the server's rate limit.
    pub rate: Option<crate::limit::Rate>,
    /// `slow = "250ms"`: requests slower than this are logged at WARN
    /// (otherwise the server's `--slow-threshold`).
    pub slow: Option<Duration>,
    /// The arguments, in order.
    pub args: &'static [ArgDescriptor],
    /// The success type, as written (the item type of a stream).
    pub returns: &'static str,
    /// Which way the endpoint streams ([`StreamKind::Unary`] if it does not).
    pub streaming: crate::stream::StreamKind,
    /// Who may call it (`None`: anyone).
    pub auth: Option<AuthPolicy>,
}

impl Serialize for EndpointDescriptor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("EndpointDescriptor", 14)?;
        s.serialize_field("name", self.name)?;
        s.serialize_field("docs", self.docs)?;
        s.serialize_field("http", &self.http)?;
        s.serialize_field("grpc", &self.grpc)?;
        s.serialize_field("timeout_ms", &self.timeout.map(|d| d.as_millis() as u64))?;
        s.serialize_field("retry", &self.retry)?;
        s.serialize_field("idempotent", &self.idempotent)?;
        s.serialize_field("concurrency", &self.concurrency)?;
        s.serialize_field("rate", &self.rate.map(|r| r.to_string()))?;
        s.serialize_field("slow_ms", &self.slow.map(|d| d.as_millis() as u64))?;
        s.serialize_field("args", self.args)?;
        s.serialize_field("returns", self.returns)?;
        s.serialize_field("streaming", &self.streaming)?;
        s.serialize_field("auth", &self.auth)?;
        s.end()
    }
}

/// A service: its name, docs and endpoints.
#[derive(Clone, Copy, Debug, Serialize)]
#[non_exhaustive]
pub struct ServiceDescriptor {
    /// The service name (`#[kit::service(name = "...")]`, default: the type in snake_case).
    pub name: &'static str,
    /// The Rust type the service was generated from.
    pub rust_type: &'static str,
    /// The version of the crate that defines it.
    pub version: &'static str,
    /// The impl block's doc comment.
    pub docs: &'static str,
    /// `#[kit::service(concurrency = N)]`: requests the whole service runs at once.
    pub concurrency: Option<u32>,
    /// Its gRPC identity, if any endpoint is served over gRPC.
    pub grpc: Option<GrpcService>,
    /// The endpoints, in source order.
    pub endpoints: &'static [EndpointDescriptor],
}

impl ServiceDescriptor {
    /// The endpoint named `name`.
    pub fn endpoint(&self, name: &str) -> Option<&'static EndpointDescriptor> {
        self.endpoints.iter().find(|e| e.name == name)
    }

    /// A plain-text table of the endpoints, one per line, as logged at
    /// start: every column lines up whatever the names' lengths.
    pub fn endpoint_table(&self) -> String {
        let header =
            ["ENDPOINT", "HTTP", "GRPC", "TIMEOUT", "RETRY", "IDEMPOTENT"].map(String::from);
        let rows: Vec<[String; 6]> = self
            .endpoints
            .iter()
            .map(|e| {
                [
                    format!("{}.{}", self.name, e.name),
                    e.http
                        .map(|r| format!("{} {}", r.method.as_str(), r.path))
                        .unwrap_or_else(|| "-".into()),
                    e.grpc.map(|g| g.name).unwrap_or("-").to_string(),
                    e.timeout
                        .map(|d| humantime::format_duration(d).to_string())
                        .unwrap_or_else(|| "-".into()),
                    e.retry.to_string(),
                    if e.idempotent { "yes" } else { "no" }.to_string(),
                ]
            })
            .collect();
        let mut widths = header.clone().map(|h| h.len());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&header).chain(&rows) {
            let mut line = String::new();
            for (cell, w) in row.iter().zip(widths) {
                let _ = write!(line, "{cell:<w$}  ");
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

impl ServiceDescriptor {
    /// The protobuf schema of the service's gRPC methods, or `None` if it
    /// has none.
    pub fn proto_schema(&self) -> Option<Schema> {
        let grpc = self.grpc?;
        let mut schema = Schema::new(grpc.package);
        self.add_to(&mut schema);
        Some(schema)
    }

    /// Declares the service and its messages in `schema` (of its package).
    fn add_to(&self, schema: &mut Schema) {
        let Some(grpc) = self.grpc else { return };
        let mut methods = Vec::new();
        for e in self.endpoints {
            let Some(m) = e.grpc else { continue };
            let request = (m.request)(schema);
            let response = (m.response)(schema);
            methods.push(MethodSchema {
                name: m.name.to_string(),
                request,
                response,
                doc: e.docs.to_string(),
                client_streaming: e.streaming.streams_requests(),
                server_streaming: e.streaming.streams_responses(),
            });
        }
        schema.add_service(ServiceSchema {
            name: grpc.name.to_string(),
            doc: self.docs.to_string(),
            methods,
        });
    }

    /// The `.proto` file of the service's gRPC methods.
    pub fn proto(&self) -> Option<String> {
        self.proto_schema().map(|s| s.to_proto())
    }

    /// The file name the `.proto` is published as: the package path.
    pub fn proto_file_name(&self) -> Option<String> {
        self.grpc
            .map(|g| format!("{}.proto", g.package.replace('.', "/")))
    }
}

/// The `.proto` files of `services`: one per protobuf package (services
/// that share a package share a file), as file name and schema, in the
/// order the packages first appear. A package whose services declare two
/// different messages with one name is an error naming it.
pub fn proto_files(services: &[&ServiceDescriptor]) -> Result<Vec<(String, Schema)>, String> {
    let mut files: Vec<(String, Schema)> = Vec::new();
    for d in services {
        let (Some(grpc), Some(name)) = (d.grpc, d.proto_file_name()) else {
            continue;
        };
        let at = match files.iter().position(|(n, _)| *n == name) {
            Some(i) => i,
            None => {
                files.push((name, Schema::new(grpc.package)));
                files.len() - 1
            }
        };
        d.add_to(&mut files[at].1);
    }
    for (name, schema) in &files {
        if let Some(problem) = schema.errors().first() {
            return Err(format!("{name}: {problem}"));
        }
    }
    Ok(files)
}

/// A registration of a service descriptor with `inventory`.
#[doc(hidden)]
pub struct ServiceRegistration(pub &'static ServiceDescriptor);

inventory::collect!(ServiceRegistration);

/// Every service linked into this binary, in no particular order.
pub fn registered_services() -> impl Iterator<Item = &'static ServiceDescriptor> {
    inventory::iter::<ServiceRegistration>
        .into_iter()
        .map(|r| r.0)
}
