//! The error responses of an operation: which statuses kit's server stack
//! and the handler can answer, and the AIP-193 JSON every one of them
//! carries (`{"error": {"code", "status", "message", "details"}}`).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::descriptor::EndpointDescriptor;
use crate::Code;

/// The name of the error schema in `components/schemas`.
pub(crate) const ERROR_SCHEMA: &str = "kit.Error";

/// The JSON Schema of kit's error body.
pub(crate) fn error_schema() -> Value {
    let names: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| **c != Code::Ok)
        .map(|c| c.as_str())
        .collect();
    json!({
        "type": "object",
        "description": "kit's error (AIP-193): `code` is the HTTP status of the canonical code `status`; the response's own status may be more precise (415 with INVALID_ARGUMENT, 413 with RESOURCE_EXHAUSTED).",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "status", "message"],
                "properties": {
                    "code": {"type": "integer", "description": "The HTTP status the canonical code maps to."},
                    "status": {"type": "string", "enum": names, "description": "The canonical (gRPC) code."},
                    "message": {"type": "string"},
                    "details": {
                        "type": "array",
                        "description": "Structured details, e.g. a google.rpc.ErrorInfo for a typed error.",
                        "items": {}
                    }
                }
            }
        }
    })
}

/// What an endpoint is, as far as its error statuses go.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ErrorSources {
    /// The handler returns a `Result`: any canonical code.
    pub(crate) fallible: bool,
    /// It reads a JSON body (`#[body]` or body fields).
    pub(crate) reads_body: bool,
    /// It has a `rate`.
    pub(crate) rate_limited: bool,
    /// It has `auth`: its schemes, and whether it `requires` anything.
    pub(crate) auth: Option<(&'static [&'static str], bool)>,
}

impl ErrorSources {
    pub(crate) fn of(endpoint: &EndpointDescriptor, reads_body: bool) -> ErrorSources {
        ErrorSources {
            // A stream's errors are events of its 200, not statuses.
            fallible: endpoint.http.is_some_and(|r| r.fallible)
                && !endpoint.streaming.streams_responses(),
            reads_body,
            rate_limited: endpoint.rate.is_some(),
            auth: endpoint.auth.map(|p| (p.schemes, !p.requires.is_empty())),
        }
    }
}

/// The error statuses of an operation, each with why it is answered.
pub(crate) fn statuses(sources: ErrorSources) -> BTreeMap<u16, Vec<String>> {
    let mut out: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    let mut add = |status: u16, why: &str| out.entry(status).or_default().push(why.to_string());
    // The server stack, for every endpoint.
    add(400, "INVALID_ARGUMENT: a path or query parameter, the body or the `kit-timeout-ms` header does not parse");
    add(
        500,
        "INTERNAL: the handler panicked, or its result could not be encoded",
    );
    add(503, "UNAVAILABLE: overloaded (the concurrency limit; `kit-nack: 1`, `Retry-After`, not processed), or the server is draining");
    add(
        504,
        "DEADLINE_EXCEEDED: the endpoint's `timeout` or the caller's `kit-timeout-ms` passed",
    );
    if sources.reads_body {
        add(408, "DEADLINE_EXCEEDED: the body arrived too slowly");
        add(
            413,
            "RESOURCE_EXHAUSTED: the body is over the server's limit (`--body-limit`)",
        );
        add(415, "INVALID_ARGUMENT: the content type is not JSON");
        add(
            503,
            "UNAVAILABLE: the server's memory for bodies being received is full",
        );
    }
    if sources.rate_limited {
        add(
            429,
            "RESOURCE_EXHAUSTED: over the endpoint's rate limit (`Retry-After`)",
        );
    }
    if let Some((schemes, requires)) = sources.auth {
        add(
            401,
            &format!(
                "UNAUTHENTICATED: no valid credentials for {} (`WWW-Authenticate` names the schemes)",
                schemes.join(" or ")
            ),
        );
        if requires {
            add(
                403,
                "PERMISSION_DENIED: the caller lacks what the endpoint requires",
            );
        }
        if schemes.contains(&"jwt") {
            add(503, "UNAVAILABLE: the JWKS could not be fetched");
        }
    }
    if sources.fallible {
        for code in Code::ALL {
            if code != Code::Ok {
                add(
                    code.http_status().as_u16(),
                    &format!("{code}: returned by the handler"),
                );
            }
        }
    }
    out
}

/// The response object of one error status.
pub(crate) fn response(status: u16, reasons: &[String]) -> Value {
    let mut description = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Client Closed Request")
        .to_string();
    description.push_str(". ");
    description.push_str(&reasons.join("; "));
    description.push('.');
    json!({
        "description": description,
        "content": {
            "application/json": {
                "schema": {"$ref": format!("#/components/schemas/{ERROR_SCHEMA}")}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(sources: ErrorSources) -> Vec<u16> {
        statuses(sources).into_keys().collect()
    }

    #[test]
    fn every_endpoint_has_the_stacks_statuses() {
        let plain = ErrorSources {
            fallible: false,
            reads_body: false,
            rate_limited: false,
            auth: None,
        };
        assert_eq!(keys(plain), [400, 500, 503, 504]);
        let body = ErrorSources {
            reads_body: true,
            ..plain
        };
        assert_eq!(keys(body), [400, 408, 413, 415, 500, 503, 504]);
        let rate = ErrorSources {
            rate_limited: true,
            ..plain
        };
        assert_eq!(keys(rate), [400, 429, 500, 503, 504]);
        let guarded = ErrorSources {
            auth: Some((&["api_key"], false)),
            ..plain
        };
        assert_eq!(keys(guarded), [400, 401, 500, 503, 504]);
        let requiring = ErrorSources {
            auth: Some((&["jwt"], true)),
            ..plain
        };
        assert_eq!(keys(requiring), [400, 401, 403, 500, 503, 504]);
    }

    #[test]
    fn a_fallible_endpoint_has_every_canonical_status() {
        let all = keys(ErrorSources {
            fallible: true,
            reads_body: false,
            rate_limited: false,
            auth: None,
        });
        assert_eq!(all, [400, 401, 403, 404, 409, 429, 499, 500, 501, 503, 504]);
    }

    #[test]
    fn a_response_names_its_reasons_and_the_error_schema() {
        let r = response(413, &["RESOURCE_EXHAUSTED: too big".into()]);
        assert_eq!(
            r["description"],
            "Payload Too Large. RESOURCE_EXHAUSTED: too big."
        );
        assert_eq!(
            r["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/kit.Error"
        );
        assert!(response(499, &[])
            .to_string()
            .contains("Client Closed Request"));
    }

    #[test]
    fn the_error_schema_accepts_kits_error_json() {
        let schema = error_schema();
        let body: Value =
            serde_json::from_slice(&crate::Error::invalid_argument("empty string").to_json())
                .unwrap();
        let error = &body["error"];
        for key in schema["properties"]["error"]["required"]
            .as_array()
            .unwrap()
        {
            assert!(error.get(key.as_str().unwrap()).is_some(), "{key}");
        }
        let names = schema["properties"]["error"]["properties"]["status"]["enum"]
            .as_array()
            .unwrap();
        assert!(names.contains(&error["status"]));
        assert_eq!(names.len(), 16);
    }
}
