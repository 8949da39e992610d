//! A call over HTTP/JSON, built from the endpoint's route in
//! `/kit/describe`: path parameters, the query string (GET, DELETE), the
//! fields of a JSON body (POST, PUT, PATCH) or a whole `#[body]`.

use bytes::Bytes;
use http::Method;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{Map, Value};

use crate::describe::{Endpoint, Route};

/// What to send.
#[derive(Debug, PartialEq)]
pub struct Built {
    pub method: Method,
    pub path: String,
    pub body: Option<Bytes>,
}

const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The request for `endpoint` with `args` (keyed by argument name), or a
/// line saying why the arguments do not fit.
pub fn build(
    qualified: &str,
    endpoint: &Endpoint,
    route: &Route,
    args: &Value,
) -> Result<Built, String> {
    let names: Vec<&str> = endpoint.sent_args().map(|a| a.name.as_str()).collect();
    let list = if names.is_empty() {
        "it takes none".to_string()
    } else {
        format!("its arguments: {}", names.join(", "))
    };
    let empty = Map::new();
    let args = match args {
        Value::Object(map) => map,
        Value::Null => &empty,
        _ => {
            return Err(format!(
                "the arguments of {qualified} are a JSON object keyed by argument name ({list})"
            ))
        }
    };
    if let Some(unknown) = args.keys().find(|k| !names.contains(&k.as_str())) {
        return Err(format!("{qualified} has no argument `{unknown}` ({list})"));
    }
    let method = Method::from_bytes(route.method.as_bytes())
        .map_err(|_| format!("{qualified}: unknown HTTP method `{}`", route.method))?;
    let mut path = String::new();
    let mut rest = route.path.as_str();
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .ok_or_else(|| format!("{qualified}: malformed route `{}`", route.path))?;
        let name = rest[open + 1..close].trim_start_matches('*');
        let value = args.get(name).ok_or_else(|| {
            format!(
                "{qualified} needs `{name}` (a path parameter of {} {})",
                route.method, route.path
            )
        })?;
        let text = scalar(value).ok_or_else(|| {
            format!("`{name}` of {qualified} goes in the path: give a string, number or boolean")
        })?;
        path.push_str(&utf8_percent_encode(&text, COMPONENT).to_string());
        rest = &rest[close + 1..];
    }
    path.push_str(rest);

    let mut query: Vec<String> = Vec::new();
    let mut fields = Map::new();
    let mut body: Option<Value> = None;
    for arg in endpoint.sent_args() {
        let Some(value) = args.get(&arg.name) else {
            continue;
        };
        match arg.source.as_str() {
            "query" => {
                let values: Vec<&Value> = match value {
                    Value::Null => Vec::new(),
                    Value::Array(items) => items.iter().collect(),
                    one => vec![one],
                };
                for v in values {
                    let text = scalar(v).ok_or_else(|| {
                        format!("`{}` of {qualified} goes in the query string: give a string, number, boolean or a list of them", arg.name)
                    })?;
                    query.push(format!(
                        "{}={}",
                        utf8_percent_encode(&arg.name, COMPONENT),
                        utf8_percent_encode(&text, COMPONENT)
                    ));
                }
            }
            "body_field" => {
                fields.insert(arg.name.clone(), value.clone());
            }
            "body" => body = Some(value.clone()),
            _ => {}
        }
    }
    if !query.is_empty() {
        path.push('?');
        path.push_str(&query.join("&"));
    }
    let has_body = matches!(method, Method::POST | Method::PUT | Method::PATCH);
    let body = if let Some(whole) = body {
        Some(whole)
    } else if has_body {
        Some(Value::Object(fields))
    } else {
        None
    };
    let body = body
        .map(|b| serde_json::to_vec(&b).map(Bytes::from))
        .transpose()
        .map_err(|e| format!("cannot encode the body: {e}"))?;
    Ok(Built { method, path, body })
}

/// A value's text in a URL: strings as they are, numbers and booleans as
/// JSON writes them.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::describe::Arg;
    use serde_json::json;

    fn endpoint(route: (&str, &str), args: &[(&str, &str)]) -> (Endpoint, Route) {
        let route = Route {
            method: route.0.into(),
            path: route.1.into(),
        };
        let e = Endpoint {
            name: "e".into(),
            docs: String::new(),
            http: Some(route.clone()),
            grpc: None,
            timeout_ms: None,
            retry: 0,
            idempotent: false,
            rate: None,
            args: args
                .iter()
                .map(|(n, s)| Arg {
                    name: n.to_string(),
                    rust_type: String::new(),
                    source: s.to_string(),
                })
                .collect(),
            returns: String::new(),
            streaming: String::new(),
            auth: None,
        };
        (e, route)
    }

    #[test]
    fn path_query_and_body_fields_go_where_the_route_says() {
        let (e, r) = endpoint(
            ("GET", "/items/{id}"),
            &[("id", "path"), ("verbose", "query")],
        );
        let b = build("p.get", &e, &r, &json!({"id": 7, "verbose": true})).expect("fits");
        assert_eq!(
            (b.method, b.path.as_str(), b.body),
            (Method::GET, "/items/7?verbose=true", None)
        );

        let (e, r) = endpoint(("GET", "/search"), &[("q", "query"), ("tag", "query")]);
        let b = build("p.s", &e, &r, &json!({"q": "a b/c", "tag": ["x", "y"]})).expect("fits");
        assert_eq!(b.path, "/search?q=a%20b%2Fc&tag=x&tag=y");

        let (e, r) = endpoint(
            ("PATCH", "/items/{id}"),
            &[("id", "path"), ("name", "body_field"), ("ctx", "context")],
        );
        let b = build("p.r", &e, &r, &json!({"id": "a/b", "name": "n"})).expect("fits");
        assert_eq!(b.path, "/items/a%2Fb");
        assert_eq!(b.body.as_deref(), Some(&b"{\"name\":\"n\"}"[..]));

        let (e, r) = endpoint(("PUT", "/items/{id}"), &[("id", "path"), ("item", "body")]);
        let b = build("p.p", &e, &r, &json!({"id": 1, "item": {"x": 1}})).expect("fits");
        assert_eq!(b.body.as_deref(), Some(&b"{\"x\":1}"[..]));
    }

    #[test]
    fn arguments_that_do_not_fit_are_named() {
        let (e, r) = endpoint(("POST", "/uppercase"), &[("s", "body_field")]);
        let err = build("strings.uppercase", &e, &r, &json!({"t": 1})).expect_err("unknown");
        assert_eq!(
            err,
            "strings.uppercase has no argument `t` (its arguments: s)"
        );
        assert!(build("strings.uppercase", &e, &r, &json!([1])).is_err());
        let (e, r) = endpoint(("GET", "/items/{id}"), &[("id", "path")]);
        let err = build("p.get", &e, &r, &json!({})).expect_err("missing");
        assert!(err.contains("needs `id`"), "{err}");
        let err = build("p.get", &e, &r, &json!({"id": {"a": 1}})).expect_err("object");
        assert!(err.contains("goes in the path"), "{err}");
    }
}
