//! The OpenAPI 3.1 document of the HTTP side, built from the same
//! descriptors as `/kit/describe` and the `.proto`: every kit server
//! serves it at `GET /openapi.json` and prints it with `--emit-openapi`.
//!
//! Paths and methods come from the routes; path and query parameters,
//! the request body (the JSON object of the body fields, or the `#[body]`
//! type) and the result from the arguments and the return type; each
//! operation lists the error statuses the server stack can answer for it
//! (400, 500, 503, 504 always; 408, 413, 415 when it reads a body; 429
//! with a `rate`; every canonical code's status when the method returns a
//! `Result`), with kit's error JSON; doc comments become summaries and
//! descriptions. Types that implement [`schemars::JsonSchema`]
//! (`#[derive(kit::JsonSchema)]`) have their JSON Schema under
//! `components/schemas`; any other type is the unconstrained schema `{}`.
//!
//! ```
//! # use kit_runtime as kit;
//! # fn services() -> Vec<&'static kit::descriptor::ServiceDescriptor> { Vec::new() }
//! let doc = kit::openapi::document(&services());
//! assert_eq!(doc["openapi"], "3.1.0");
//! ```

mod errors;
mod operation;
pub(crate) mod probe;

use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

use crate::descriptor::ServiceDescriptor;

pub use probe::{SchemaFn, TypeInfo};

/// The OpenAPI 3.1 document of the HTTP endpoints of `services`: title the
/// services' names, version the version of the crate that defines the
/// first (or `0.1.0` without services), one operation per HTTP endpoint
/// with `operationId` `service.endpoint`.
pub fn document(services: &[&ServiceDescriptor]) -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        .into_generator();
    let mut paths = Map::new();
    let mut tags = Vec::new();
    let mut security_schemes = Map::new();
    for service in services {
        let mut tag = json!({"name": service.name});
        if !service.docs.trim().is_empty() {
            tag["description"] = service.docs.trim().into();
        }
        tags.push(tag);
        for endpoint in service.endpoints {
            let Some(route) = &endpoint.http else {
                continue;
            };
            let op = operation::operation(endpoint, route, &mut generator);
            for scheme in endpoint.auth.iter().flat_map(|p| p.schemes) {
                security_schemes
                    .entry(scheme.to_string())
                    .or_insert_with(|| operation::security_scheme(scheme));
            }
            let item = paths
                .entry(openapi_path(route.path))
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(item) = item {
                item.insert(route.method.as_str().to_ascii_lowercase(), op);
            }
        }
    }
    let mut schemas = generator.take_definitions(true);
    schemas.insert(errors::ERROR_SCHEMA.into(), errors::error_schema());
    let title = if services.is_empty() {
        "kit".to_string()
    } else {
        services
            .iter()
            .map(|s| s.name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let version = services
        .first()
        .map(|s| s.version)
        .filter(|v| !v.is_empty())
        .unwrap_or("0.1.0");
    let mut info = json!({"title": title, "version": version});
    if let [only] = services {
        if !only.docs.trim().is_empty() {
            info["description"] = only.docs.trim().into();
        }
    }
    let mut components = json!({"schemas": schemas});
    if !security_schemes.is_empty() {
        components["securitySchemes"] = security_schemes.into();
    }
    json!({
        "openapi": "3.1.0",
        "info": info,
        "tags": tags,
        "paths": paths,
        "components": components
    })
}

/// The document as pretty-printed JSON, ending in a newline: what
/// `--emit-openapi` prints and the example checks in.
pub fn to_pretty_json(document: &Value) -> String {
    let mut text = serde_json::to_string_pretty(document).unwrap_or_default();
    text.push('\n');
    text
}

/// A route's path in OpenAPI's template syntax: axum's `{name}` is the
/// same; a catch-all `{*name}` becomes `{name}`.
fn openapi_path(path: &str) -> String {
    path.replace("{*", "{")
}

#[cfg(test)]
mod tests;
