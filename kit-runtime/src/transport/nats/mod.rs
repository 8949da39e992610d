//! NATS request/reply: every HTTP endpoint also answers on the subject
//! `[PREFIX.]SERVICE.ENDPOINT`, in a queue group named for the service.
//!
//! A message's payload is the JSON the HTTP route takes ([`payload`]);
//! the server turns it into that HTTP request (its headers from the
//! message's, so `traceparent` and `kit-timeout-ms` apply) and runs it
//! through a router of the same endpoints, handlers and server stack as
//! the HTTP listener's, labelled `transport="nats"`. The reply is the HTTP
//! response body; when it is an error, `Kit-Code` names the canonical code
//! and `Kit-Status` the HTTP status.

pub(crate) mod payload;
mod server;

use std::time::Duration;

use ::http::HeaderMap;
use axum::body::Body;

pub(crate) use server::{refusal, NatsServer};

use super::Protocol;
use crate::deadline::timeout_from_headers;
use crate::Error;

/// Reply header naming the canonical code of an error (`INVALID_ARGUMENT`).
pub(crate) const CODE_HEADER: &str = "Kit-Code";
/// Reply header with the HTTP status an error would have had (`400`).
pub(crate) const STATUS_HEADER: &str = "Kit-Status";
/// Reply header of a request refused before it ran (admission control).
pub(crate) const NACK_HEADER: &str = "Kit-Nack";

/// Requests that arrived over NATS: the HTTP protocol's timeout header and
/// JSON errors, under their own `transport` label.
pub(crate) struct Nats;

impl Protocol for Nats {
    const NAME: &'static str = "nats";

    fn caller_timeout(headers: &HeaderMap) -> Result<Option<Duration>, Error> {
        timeout_from_headers(headers)
    }

    fn error_response(err: &Error) -> ::http::Response<Body> {
        super::http::error_response(err)
    }
}

/// The subject of `service.endpoint`, under `prefix` when there is one
/// (`prod` gives `prod.strings.uppercase`).
pub(crate) fn subject(prefix: Option<&str>, service: &str, endpoint: &str) -> String {
    match prefix
        .map(|p| p.trim_end_matches('.'))
        .filter(|p| !p.is_empty())
    {
        Some(p) => format!("{p}.{service}.{endpoint}"),
        None => format!("{service}.{endpoint}"),
    }
}

#[cfg(test)]
mod tests {
    use super::subject;

    #[test]
    fn subjects_are_service_dot_endpoint_under_an_optional_prefix() {
        assert_eq!(subject(None, "strings", "uppercase"), "strings.uppercase");
        assert_eq!(subject(Some(""), "strings", "count"), "strings.count");
        assert_eq!(
            subject(Some("prod"), "strings", "count"),
            "prod.strings.count"
        );
        assert_eq!(subject(Some("a.b."), "s", "e"), "a.b.s.e");
    }
}
