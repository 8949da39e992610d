//! The document of hand-built descriptors (the macro builds the same ones
//! with the same constructors; `tests/tests/openapi.rs` checks it end to
//! end against a served document, openapi-spec-validator and schemathesis).

use schemars::{JsonSchema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::probe::{type_info, JsonSchemaKind, NoJsonSchema, NoSerde, Probe, SerdeKind, TypeInfo};
use super::*;
use crate::codegen::{arg, endpoint, http_route, service, ArgSource, HttpMethod, NO_LIMITS};
use crate::descriptor::EndpointDescriptor;

fn info<T: JsonSchema + DeserializeOwned>(generator: &mut SchemaGenerator) -> TypeInfo {
    let probe = &Probe::<T>::new();
    type_info(probe.json_schema(generator), probe.serde_info())
}

/// A type with no derives at all.
struct Opaque;

fn opaque(generator: &mut SchemaGenerator) -> TypeInfo {
    let probe = &Probe::<Opaque>::new();
    type_info(probe.json_schema(generator), probe.serde_info())
}

/// An item.
#[derive(serde::Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Item {
    /// Its name.
    name: String,
    tags: Vec<String>,
}

const GET_ARGS: &[crate::descriptor::ArgDescriptor] = &[
    arg("id", "u32", ArgSource::Path, Some(info::<u32>)),
    arg(
        "verbose",
        "Option<bool>",
        ArgSource::Query,
        Some(info::<Option<bool>>),
    ),
    arg(
        "tag",
        "Vec<String>",
        ArgSource::Query,
        Some(info::<Vec<String>>),
    ),
    arg("ctx", "&Context", ArgSource::Context, None),
];
const PUT_ARGS: &[crate::descriptor::ArgDescriptor] = &[
    arg("id", "u32", ArgSource::Path, Some(info::<u32>)),
    arg("item", "Item", ArgSource::Body, Some(info::<Item>)),
];
const PATCH_ARGS: &[crate::descriptor::ArgDescriptor] = &[
    arg("name", "String", ArgSource::BodyField, Some(info::<String>)),
    arg(
        "note",
        "Option<String>",
        ArgSource::BodyField,
        Some(info::<Option<String>>),
    ),
    arg("blob", "Opaque", ArgSource::BodyField, Some(opaque)),
];

const ENDPOINTS: &[EndpointDescriptor] = &[
    endpoint(
        "items",
        "get",
        "Gets an item.\n\nBy id.",
        Some(http_route(
            HttpMethod::Get,
            "/items/{id}",
            Some(info::<Item>),
            false,
        )),
        None,
        None,
        0,
        false,
        NO_LIMITS,
        GET_ARGS,
        "Item",
    ),
    endpoint(
        "items",
        "put",
        "",
        Some(http_route(HttpMethod::Put, "/items/{id}", None, true)),
        None,
        None,
        0,
        false,
        NO_LIMITS,
        PUT_ARGS,
        "()",
    ),
    endpoint(
        "items",
        "patch",
        "Patches.",
        Some(http_route(HttpMethod::Patch, "/items", Some(opaque), false)),
        None,
        None,
        0,
        false,
        crate::codegen::limits(None, None, Some((10, 1_000_000_000, 10))),
        PATCH_ARGS,
        "Opaque",
    ),
    endpoint(
        "items",
        "grpc_only",
        "",
        None,
        None,
        None,
        0,
        false,
        NO_LIMITS,
        &[],
        "u32",
    ),
];

const ITEMS: crate::descriptor::ServiceDescriptor = service(
    "items",
    "Items",
    "1.2.3",
    "Keeps items.",
    None,
    None,
    ENDPOINTS,
);

fn doc() -> serde_json::Value {
    document(&[&ITEMS])
}

#[test]
fn header_info_and_tags() {
    let doc = doc();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["info"],
        json!({"title": "items", "version": "1.2.3", "description": "Keeps items."})
    );
    assert_eq!(
        doc["tags"],
        json!([{"name": "items", "description": "Keeps items."}])
    );
    // Only HTTP endpoints are operations.
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 2);
    assert!(paths["/items/{id}"].get("get").is_some());
    assert!(paths["/items/{id}"].get("put").is_some());
    assert!(paths["/items"].get("patch").is_some());
}

#[test]
fn parameters_from_the_path_and_the_query() {
    let doc = doc();
    let get = &doc["paths"]["/items/{id}"]["get"];
    assert_eq!(get["operationId"], "items.get");
    assert_eq!(get["summary"], "Gets an item.");
    assert_eq!(get["description"], "Gets an item.\n\nBy id.");
    let params = get["parameters"].as_array().unwrap();
    assert_eq!(
        params[0],
        json!({"name": "id", "in": "path", "required": true,
               "schema": {"type": "integer", "format": "uint32", "minimum": 0}})
    );
    // Option<bool>: optional, without its null.
    assert_eq!(
        params[1],
        json!({"name": "verbose", "in": "query", "required": false, "schema": {"type": "boolean"}})
    );
    assert_eq!(
        params[2],
        json!({"name": "tag", "in": "query", "required": false,
               "schema": {"type": "array", "items": {"type": "string"}}})
    );
    // No parameter for the context, none for kit's headers.
    assert_eq!(params.len(), 3);
    assert!(doc["paths"]["/items"]["patch"].get("parameters").is_none());
    assert!(get.get("requestBody").is_none());
}

#[test]
fn responses_and_user_types_in_components() {
    let doc = doc();
    let get = &doc["paths"]["/items/{id}"]["get"];
    assert_eq!(
        get["responses"]["200"]["content"]["application/json"]["schema"],
        json!({"$ref": "#/components/schemas/Item"})
    );
    let item = &doc["components"]["schemas"]["Item"];
    assert_eq!(item["type"], "object");
    assert_eq!(item["properties"]["name"]["description"], "Its name.");
    assert_eq!(item["required"], json!(["name", "tags"]));
    assert!(doc["components"]["schemas"]["kit.Error"].is_object());
    let statuses: Vec<&String> = get["responses"].as_object().unwrap().keys().collect();
    assert_eq!(statuses, ["200", "400", "500", "503", "504"]);
}

#[test]
fn a_body_argument_and_a_unit_result() {
    let doc = doc();
    let put = &doc["paths"]["/items/{id}"]["put"];
    assert!(put.get("summary").is_none());
    assert_eq!(
        put["requestBody"],
        json!({"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}})
    );
    let responses = put["responses"].as_object().unwrap();
    assert!(responses["204"].get("content").is_none());
    assert!(responses.get("200").is_none());
    // Fallible: every canonical status; reads a body: 408, 413, 415.
    let statuses: Vec<&str> = responses.keys().map(String::as_str).collect();
    assert_eq!(
        statuses,
        [
            "204", "400", "401", "403", "404", "408", "409", "413", "415", "429", "499", "500",
            "501", "503", "504"
        ]
    );
    assert_eq!(
        responses["404"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/kit.Error"
    );
}

#[test]
fn body_fields_are_one_object_and_unknown_types_are_unconstrained() {
    let doc = doc();
    let patch = &doc["paths"]["/items"]["patch"];
    let body = &patch["requestBody"];
    assert_eq!(body["required"], true);
    let schema = &body["content"]["application/json"]["schema"];
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["properties"]["name"], json!({"type": "string"}));
    assert_eq!(
        schema["properties"]["note"],
        json!({"type": ["string", "null"]})
    );
    assert_eq!(schema["properties"]["blob"], json!({}));
    // A missing field reads as null: only types that refuse null are required.
    assert_eq!(schema["required"], json!(["name", "blob"]));
    assert_eq!(
        patch["responses"]["200"]["content"]["application/json"]["schema"],
        json!({})
    );
    // A rate limit adds 429.
    assert!(patch["responses"].get("429").is_some());
    assert!(patch["responses"].get("404").is_none());
}

#[test]
fn no_services_and_several() {
    let empty = document(&[]);
    assert_eq!(empty["info"], json!({"title": "kit", "version": "0.1.0"}));
    assert_eq!(empty["paths"], json!({}));
    const OTHER: crate::descriptor::ServiceDescriptor =
        service("other", "Other", "", "", None, None, &[]);
    let both = document(&[&ITEMS, &OTHER]);
    assert_eq!(
        both["info"],
        json!({"title": "items, other", "version": "1.2.3"})
    );
}

#[test]
fn pretty_json_ends_in_a_newline_and_paths_convert() {
    assert!(to_pretty_json(&json!({"a": 1})).ends_with("}\n"));
    assert_eq!(openapi_path("/files/{*rest}"), "/files/{rest}");
    assert_eq!(openapi_path("/items/{id}"), "/items/{id}");
}
