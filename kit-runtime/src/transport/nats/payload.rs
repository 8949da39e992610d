//! A NATS payload and the HTTP request it stands for.
//!
//! The payload of a call is the JSON the HTTP route takes, with what the
//! route takes from its URL put in by name:
//!
//! - an endpoint with no path or query arguments: the payload *is* the
//!   HTTP body (the object of its body fields, or its `#[body]` value; an
//!   empty payload is an empty body);
//! - otherwise: a JSON object of every argument by name (path, query and
//!   body fields; a `#[body]` argument under its name), which the server
//!   splits back into the route's path, query string and body.

use bytes::Bytes;
use percent_encoding::utf8_percent_encode;
use serde_json::{Map, Value};

use crate::client::COMPONENT;
use crate::descriptor::{ArgSource, EndpointDescriptor, HttpMethod};
use crate::Error;

/// The HTTP request a payload stands for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct HttpParts {
    pub(crate) method: http::Method,
    /// Percent-encoded path and query string.
    pub(crate) path_and_query: String,
    /// The JSON body; empty for none.
    pub(crate) body: Bytes,
}

/// Whether the payload of `endpoint` is its HTTP body as it is: the route
/// takes nothing from its URL.
pub(crate) fn payload_is_body(endpoint: &EndpointDescriptor) -> bool {
    !endpoint
        .args
        .iter()
        .any(|a| matches!(a.source, ArgSource::Path | ArgSource::Query))
}

fn has_body(method: HttpMethod) -> bool {
    !matches!(method, HttpMethod::Get | HttpMethod::Delete)
}

/// The HTTP request of `endpoint` (which must have an HTTP route) that
/// `payload` stands for; INVALID_ARGUMENT when the payload does not fit.
pub(crate) fn to_http(endpoint: &EndpointDescriptor, payload: Bytes) -> Result<HttpParts, Error> {
    let route = endpoint.http.ok_or_else(|| {
        Error::unimplemented(format!(
            "{}.{} has no HTTP route, so it is not served over NATS",
            endpoint.service, endpoint.name
        ))
    })?;
    let method = route.method.as_http();
    if payload_is_body(endpoint) {
        let body = if has_body(route.method) {
            payload
        } else {
            Bytes::new()
        };
        return Ok(HttpParts {
            method,
            path_and_query: route.path.to_string(),
            body,
        });
    }
    let bad = |why: String| {
        Error::invalid_argument(format!(
            "the NATS payload of {}.{} is a JSON object of its arguments by name: {why}",
            endpoint.service, endpoint.name
        ))
    };
    let mut args: Map<String, Value> = if payload.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(&payload) {
            Ok(Value::Object(map)) => map,
            Ok(other) => return Err(bad(format!("got {}", kind(&other)))),
            Err(e) => return Err(bad(format!("invalid JSON: {e}"))),
        }
    };
    // The path: each `{name}` replaced by its argument, percent-encoded.
    let mut path = String::with_capacity(route.path.len() + 16);
    let mut rest = route.path;
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').unwrap_or(after.len());
        let name = &after[..close];
        let value = args
            .remove(name)
            .ok_or_else(|| bad(format!("missing path argument `{name}`")))?;
        let mut values = url_values(&value).map_err(|why| bad(format!("`{name}`: {why}")))?;
        if values.len() != 1 {
            return Err(bad(format!("path argument `{name}` must be one value")));
        }
        path.extend(utf8_percent_encode(&values.remove(0), COMPONENT));
        rest = after.get(close + 1..).unwrap_or("");
    }
    path.push_str(rest);
    // The query string: nothing for null or a missing argument, one pair
    // per element of an array.
    let mut first = true;
    for arg in endpoint
        .args
        .iter()
        .filter(|a| a.source == ArgSource::Query)
    {
        let Some(value) = args.remove(arg.name) else {
            continue;
        };
        let values = url_values(&value).map_err(|why| bad(format!("`{}`: {why}", arg.name)))?;
        for v in values {
            path.push(if first { '?' } else { '&' });
            first = false;
            path.extend(utf8_percent_encode(arg.name, COMPONENT));
            path.push('=');
            path.extend(utf8_percent_encode(&v, COMPONENT));
        }
    }
    let body = if !has_body(route.method) {
        Bytes::new()
    } else if let Some(whole) = endpoint.args.iter().find(|a| a.source == ArgSource::Body) {
        let value = args.remove(whole.name).unwrap_or(Value::Null);
        Bytes::from(serde_json::to_vec(&value).unwrap_or_default())
    } else {
        // The body fields, and whatever else was sent (ignored there, as
        // over HTTP).
        Bytes::from(serde_json::to_vec(&args).unwrap_or_default())
    };
    Ok(HttpParts {
        method,
        path_and_query: path,
        body,
    })
}

/// A JSON value as URL text: a string as it is, a number or boolean as
/// written, null as nothing, an array as one value per element.
fn url_values(value: &Value) -> Result<Vec<String>, String> {
    fn scalar(value: &Value) -> Result<Option<String>, String> {
        Ok(match value {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            other => return Err(format!("{} cannot travel in a URL", kind(other))),
        })
    }
    match value {
        Value::Array(items) => items.iter().filter_map(|v| scalar(v).transpose()).collect(),
        other => Ok(scalar(other)?.into_iter().collect()),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptor::{ArgDescriptor, HttpRoute};

    fn endpoint(
        method: HttpMethod,
        path: &'static str,
        args: &'static [ArgDescriptor],
    ) -> EndpointDescriptor {
        EndpointDescriptor {
            http: Some(HttpRoute {
                method,
                path,
                response: None,
                fallible: false,
            }),
            ..without_route(args)
        }
    }

    fn without_route(args: &'static [ArgDescriptor]) -> EndpointDescriptor {
        EndpointDescriptor {
            service: "svc",
            name: "ep",
            docs: "",
            http: None,
            grpc: None,
            timeout: None,
            retry: 0,
            idempotent: false,
            concurrency: None,
            service_concurrency: None,
            rate: None,
            slow: None,
            args,
            returns: "()",
            streaming: crate::stream::StreamKind::Unary,
            auth: None,
        }
    }

    const fn arg(name: &'static str, source: ArgSource) -> ArgDescriptor {
        ArgDescriptor {
            name,
            rust_type: "T",
            source,
            schema: None,
        }
    }

    fn parts(e: &EndpointDescriptor, payload: &str) -> HttpParts {
        to_http(e, Bytes::from(payload.to_string())).expect(payload)
    }

    fn body(p: &HttpParts) -> Value {
        serde_json::from_slice(&p.body).unwrap()
    }

    #[test]
    fn a_post_body_endpoint_takes_the_payload_as_its_body() {
        static ARGS: [ArgDescriptor; 1] = [arg("s", ArgSource::BodyField)];
        let e = endpoint(HttpMethod::Post, "/uppercase", &ARGS);
        assert!(payload_is_body(&e));
        let p = parts(&e, r#"{"s":"hi"}"#);
        assert_eq!(p.method, http::Method::POST);
        assert_eq!(p.path_and_query, "/uppercase");
        assert_eq!(&p.body[..], br#"{"s":"hi"}"#);
        // Passed through untouched, even when it is not valid: the route
        // answers it exactly as it answers the same HTTP body.
        assert_eq!(&parts(&e, "not json").body[..], b"not json");
        assert!(parts(&e, "").body.is_empty());
    }

    #[test]
    fn a_body_endpoint_takes_the_body_value_itself() {
        static ARGS: [ArgDescriptor; 2] = [
            arg("ctx", ArgSource::Context),
            arg("order", ArgSource::Body),
        ];
        let e = endpoint(HttpMethod::Post, "/orders", &ARGS);
        let p = parts(&e, r#"[1,2,3]"#);
        assert_eq!(&p.body[..], b"[1,2,3]");
    }

    #[test]
    fn path_query_and_body_fields_are_split_out_of_the_object() {
        static ARGS: [ArgDescriptor; 5] = [
            arg("id", ArgSource::Path),
            arg("ctx", ArgSource::Context),
            arg("verbose", ArgSource::Query),
            arg("tag", ArgSource::Query),
            arg("name", ArgSource::BodyField),
        ];
        let e = endpoint(HttpMethod::Put, "/items/{id}/name", &ARGS);
        assert!(!payload_is_body(&e));
        let p = parts(
            &e,
            r#"{"name":"x y","id":"a b/c?","verbose":true,"tag":[1,"two & three"]}"#,
        );
        assert_eq!(p.method, http::Method::PUT);
        assert_eq!(
            p.path_and_query,
            "/items/a%20b%2Fc%3F/name?verbose=true&tag=1&tag=two%20%26%20three"
        );
        assert_eq!(body(&p), serde_json::json!({"name": "x y"}));
    }

    #[test]
    fn optional_query_arguments_may_be_null_or_missing() {
        static ARGS: [ArgDescriptor; 3] = [
            arg("s", ArgSource::Path),
            arg("limit", ArgSource::Query),
            arg("tags", ArgSource::Query),
        ];
        let e = endpoint(HttpMethod::Get, "/count/{s}", &ARGS);
        let p = parts(&e, r#"{"s":"é","limit":null,"tags":[]}"#);
        assert_eq!(p.path_and_query, "/count/%C3%A9");
        assert!(p.body.is_empty());
        let p = parts(&e, r#"{"s":"x"}"#);
        assert_eq!(p.path_and_query, "/count/x");
        let p = parts(&e, r#"{"s":7,"limit":2.5}"#);
        assert_eq!(p.path_and_query, "/count/7?limit=2.5");
    }

    #[test]
    fn a_body_argument_beside_url_arguments_goes_under_its_name() {
        static ARGS: [ArgDescriptor; 2] =
            [arg("id", ArgSource::Path), arg("item", ArgSource::Body)];
        let e = endpoint(HttpMethod::Put, "/items/{id}", &ARGS);
        let p = parts(&e, r#"{"id":5,"item":{"a":[1]}}"#);
        assert_eq!(p.path_and_query, "/items/5");
        assert_eq!(body(&p), serde_json::json!({"a": [1]}));
        let p = parts(&e, r#"{"id":5}"#);
        assert_eq!(&p.body[..], b"null");
    }

    #[test]
    fn payloads_that_do_not_fit_are_invalid_arguments() {
        static ARGS: [ArgDescriptor; 2] = [arg("id", ArgSource::Path), arg("q", ArgSource::Query)];
        let e = endpoint(HttpMethod::Get, "/items/{id}", &ARGS);
        let err = |payload: &str| {
            let e = to_http(&e, Bytes::from(payload.to_string())).unwrap_err();
            assert_eq!(e.code(), crate::Code::InvalidArgument, "{e}");
            e.message().to_string()
        };
        assert!(err("[1]").contains("got an array"));
        assert!(err("{").contains("invalid JSON"));
        assert!(err("").contains("missing path argument `id`"));
        assert!(err(r#"{"id":null}"#).contains("must be one value"));
        assert!(err(r#"{"id":[1,2]}"#).contains("must be one value"));
        assert!(err(r#"{"id":{"a":1}}"#).contains("an object cannot travel in a URL"));
        assert!(err(r#"{"id":1,"q":[{"a":1}]}"#).contains("`q`"));
    }

    #[test]
    fn an_endpoint_without_a_route_is_unimplemented() {
        let err = to_http(&without_route(&[]), Bytes::new()).unwrap_err();
        assert_eq!(err.code(), crate::Code::Unimplemented);
    }
}

#[cfg(test)]
mod agreement {
    //! The payload a generated client builds becomes the request its HTTP
    //! branch would have sent.
    use super::*;
    use crate::client::{push_path_param, QueryWriter};
    use crate::descriptor::{ArgDescriptor, HttpRoute};
    use crate::url::url;
    use crate::wire::JsonObject;

    #[test]
    fn a_client_payload_makes_the_same_url_as_the_http_client() {
        static ARGS: [ArgDescriptor; 3] = [
            ArgDescriptor {
                name: "id",
                rust_type: "String",
                source: ArgSource::Path,
                schema: None,
            },
            ArgDescriptor {
                name: "limit",
                rust_type: "Option<u32>",
                source: ArgSource::Query,
                schema: None,
            },
            ArgDescriptor {
                name: "tag",
                rust_type: "Vec<String>",
                source: ArgSource::Query,
                schema: None,
            },
        ];
        let e = EndpointDescriptor {
            service: "svc",
            name: "ep",
            docs: "",
            http: Some(HttpRoute {
                method: HttpMethod::Get,
                path: "/items/{id}",
                response: None,
                fallible: false,
            }),
            grpc: None,
            timeout: None,
            retry: 0,
            idempotent: false,
            concurrency: None,
            service_concurrency: None,
            rate: None,
            slow: None,
            args: &ARGS,
            returns: "()",
            streaming: crate::stream::StreamKind::Unary,
            auth: None,
        };
        let id = "a/b é?".to_string();
        for (limit, tags) in [
            (None, vec![]),
            (Some(3u32), vec!["x y".to_string(), "&".to_string()]),
        ] {
            let payload = JsonObject::new()
                .url_field("id", url::<String>(), &id)
                .unwrap()
                .url_field("limit", url::<Option<u32>>(), &limit)
                .unwrap()
                .url_field("tag", url::<Vec<String>>(), &tags)
                .unwrap()
                .finish();
            let mut http = String::from("/items/");
            push_path_param(&mut http, url::<String>(), &id).unwrap();
            let mut q = QueryWriter::new(&mut http);
            q.push("limit", url::<Option<u32>>(), &limit).unwrap();
            q.push("tag", url::<Vec<String>>(), &tags).unwrap();
            assert_eq!(to_http(&e, payload).unwrap().path_and_query, http);
        }
    }
}
