//! One endpoint as an OpenAPI operation: parameters, request body and
//! responses, from its descriptor.

use schemars::SchemaGenerator;
use serde_json::{json, Map, Value};

use super::errors::{self, ErrorSources};
use super::probe::TypeInfo;
use crate::descriptor::{ArgSource, EndpointDescriptor, HttpRoute};
use crate::url::Shape;

/// The operation object of `endpoint` (served at `route`), whose types
/// register their schemas in `generator`.
pub(crate) fn operation(
    endpoint: &EndpointDescriptor,
    route: &HttpRoute,
    generator: &mut SchemaGenerator,
) -> Value {
    let mut op = Map::new();
    op.insert(
        "operationId".into(),
        format!("{}.{}", endpoint.service, endpoint.name).into(),
    );
    op.insert("tags".into(), json!([endpoint.service]));
    let docs = endpoint.docs.trim();
    if let Some(summary) = docs.lines().next().filter(|s| !s.trim().is_empty()) {
        op.insert("summary".into(), summary.trim().into());
        op.insert("description".into(), docs.into());
    }
    let mut parameters = Vec::new();
    let mut fields = Map::new();
    let mut required_fields = Vec::new();
    let mut body: Option<TypeInfo> = None;
    for arg in endpoint.args {
        let Some(schema_fn) = arg.schema else {
            continue;
        };
        let info = schema_fn(generator);
        match arg.source {
            ArgSource::Path => parameters.push(parameter(arg.name, "path", info)),
            ArgSource::Query => parameters.push(parameter(arg.name, "query", info)),
            ArgSource::BodyField => {
                if !info.serde.accepts_null {
                    required_fields.push(Value::from(arg.name));
                }
                fields.insert(arg.name.into(), info.schema.to_value());
            }
            ArgSource::Body => body = Some(info),
            // Request streams are gRPC-only: never on an HTTP route.
            ArgSource::Context | ArgSource::Stream => {}
        }
    }
    // kit's own headers (`kit-timeout-ms`, `traceparent`) are transport
    // conventions of every endpoint, not parameters of this one: the
    // error responses name them.
    if !parameters.is_empty() {
        op.insert("parameters".into(), parameters.into());
    }
    let reads_body = body.is_some() || !fields.is_empty();
    if let Some(info) = body {
        op.insert(
            "requestBody".into(),
            json!({
                "required": true,
                "content": {"application/json": {"schema": info.schema.to_value()}}
            }),
        );
    } else if !fields.is_empty() {
        let mut schema = json!({"type": "object", "properties": fields});
        let any_required = !required_fields.is_empty();
        if any_required {
            schema["required"] = required_fields.into();
        }
        op.insert(
            "requestBody".into(),
            json!({
                "required": any_required,
                "description": "A JSON object with one field per argument.",
                "content": {"application/json": {"schema": schema}}
            }),
        );
    }
    let mut responses = Map::new();
    match route.response {
        Some(schema_fn) if endpoint.streaming.streams_responses() => {
            let item = schema_fn(generator).schema.to_value();
            responses.insert("200".into(), stream_response(endpoint, item));
        }
        Some(schema_fn) => {
            let info = schema_fn(generator);
            responses.insert(
                "200".into(),
                json!({
                    "description": format!("The result ({}).", endpoint.returns),
                    "content": {"application/json": {"schema": info.schema.to_value()}}
                }),
            );
        }
        None => {
            responses.insert(
                "204".into(),
                json!({"description": "Done: the method returns `()`."}),
            );
        }
    }
    let sources = ErrorSources::of(endpoint, reads_body);
    for (status, reasons) in errors::statuses(sources) {
        responses.insert(status.to_string(), errors::response(status, &reasons));
    }
    op.insert("responses".into(), responses.into());
    if let Some(policy) = endpoint.auth {
        // Any one of the schemes (each its own requirement object); the
        // grants an endpoint requires are kit's, told in a description
        // and `x-kit-requires`, not OAuth scopes of one scheme.
        let security: Vec<Value> = policy.schemes.iter().map(|s| json!({ *s: [] })).collect();
        op.insert("security".into(), security.into());
        if !policy.requires.is_empty() {
            op.insert("x-kit-requires".into(), json!(policy.requires));
        }
    }
    Value::Object(op)
}

/// The security scheme objects of kit's authenticators (a scheme of the
/// user's own is described as an HTTP scheme of that name).
pub(crate) fn security_scheme(name: &str) -> Value {
    match name {
        "jwt" => json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}),
        "basic" => json!({"type": "http", "scheme": "basic"}),
        "api_key" => json!({"type": "apiKey", "in": "header", "name": "x-api-key"}),
        "mtls" => json!({"type": "mutualTLS"}),
        other => json!({"type": "http", "scheme": other,
            "description": format!("`{other}`: an authenticator of the service's own")}),
    }
}

/// The 200 of a streaming endpoint: Server-Sent Events or NDJSON, by
/// `Accept`. OpenAPI 3.1 has no schema for the items of a sequence (3.2's
/// `itemSchema`), so the item's schema is in `x-kit-item-schema`.
fn stream_response(endpoint: &EndpointDescriptor, item: Value) -> Value {
    json!({
        "description": format!(
            "A stream of {} items. `Accept: text/event-stream`: one `data: <item JSON>` event per item; an error ends the stream with `event: error` and the error JSON as its data. Otherwise NDJSON: one `{{\"result\": <item>}}` line per item, and an error as a last line holding the error JSON.",
            endpoint.returns
        ),
        "content": {
            "text/event-stream": {
                "schema": {"type": "string"},
                "x-kit-item-schema": item.clone(),
            },
            "application/x-ndjson": {
                "schema": {"type": "string"},
                "x-kit-item-schema": item,
            }
        }
    })
}

/// A path or query parameter.
fn parameter(name: &str, location: &str, info: TypeInfo) -> Value {
    let shape = info.serde.shape.unwrap_or(Shape::Scalar);
    let mut schema = info.schema.to_value();
    let required = match shape {
        Shape::Optional => {
            schema = without_null(schema);
            false
        }
        Shape::Repeated => {
            if schema.get("type").is_none() && schema.get("$ref").is_none() {
                schema = json!({"type": "array", "items": schema});
            }
            false
        }
        Shape::Scalar | Shape::Unsupported(_) => true,
    };
    let required = required || location == "path";
    json!({"name": name, "in": location, "required": required, "schema": schema})
}

/// An `Option<T>` parameter's schema without its `null`: a URL leaves the
/// parameter out instead.
fn without_null(schema: Value) -> Value {
    let Value::Object(mut map) = schema else {
        return schema;
    };
    if let Some(Value::Array(types)) = map.get("type") {
        let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        let kept = match <[Value; 1]>::try_from(kept) {
            Ok([one]) => one,
            Err(many) => Value::Array(many),
        };
        map.insert("type".into(), kept);
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(options)) = map.get(key) {
            let kept: Vec<Value> = options
                .iter()
                .filter(|o| o.get("type").is_none_or(|t| t != "null"))
                .cloned()
                .collect();
            if let Ok([one]) = <[Value; 1]>::try_from(kept.clone()) {
                map.remove(key);
                if let Value::Object(inner) = one {
                    for (k, v) in inner {
                        map.entry(k).or_insert(v);
                    }
                }
            } else {
                map.insert(key.into(), Value::Array(kept));
            }
        }
    }
    if let Some(Value::Array(values)) = map.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_null_keeps_the_inner_type() {
        assert_eq!(
            without_null(json!({"type": ["integer", "null"], "format": "uint32"})),
            json!({"type": "integer", "format": "uint32"})
        );
        assert_eq!(
            without_null(
                json!({"anyOf": [{"$ref": "#/components/schemas/Color"}, {"type": "null"}]})
            ),
            json!({"$ref": "#/components/schemas/Color"})
        );
        assert_eq!(
            without_null(json!({"enum": ["a", null]})),
            json!({"enum": ["a"]})
        );
        assert_eq!(without_null(json!({})), json!({}));
        assert_eq!(without_null(json!(true)), json!(true));
    }
}
