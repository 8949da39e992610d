//! HTTP/JSON: answers and errors as JSON, requests decoded for the
//! generated handlers ([`request`]), endpoints mounted on axum ([`routes`]).

pub(crate) mod request;
pub(crate) mod routes;
pub(crate) mod stream;

use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue};

use super::{Protocol, ResponseCode};
use crate::deadline::timeout_from_headers;
use crate::wire::WireCodec;
use crate::Error;

/// Default limit on request bodies: 4 MiB.
pub(crate) const DEFAULT_BODY_LIMIT: usize = 4 * 1024 * 1024;

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// The HTTP/JSON protocol.
pub(crate) struct Http;

impl Protocol for Http {
    const NAME: &'static str = "http";

    fn caller_timeout(headers: &HeaderMap) -> Result<Option<Duration>, Error> {
        timeout_from_headers(headers)
    }

    fn error_response(err: &Error) -> Response {
        error_response(err)
    }
}

/// The JSON response for `err`, with its HTTP status and [`ResponseCode`].
pub(crate) fn error_response(err: &Error) -> Response {
    let status = err
        .http_status_override()
        .unwrap_or_else(|| err.code().http_status());
    let mut response = Response::new(Body::from(err.to_json()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, APPLICATION_JSON);
    response.extensions_mut().insert(ResponseCode(err.code()));
    response
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        error_response(&self)
    }
}

fn ok_response(body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, APPLICATION_JSON);
    // No ResponseCode extension: a 200 reads as OK, and skipping it saves
    // the extensions map allocation on every successful request.
    response
}

/// The answer of a method that returns `()`: 204 No Content, no body.
pub fn respond_empty() -> Result<Response, Error> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = http::StatusCode::NO_CONTENT;
    Ok(response)
}

/// Encodes what an infallible handler returned.
pub fn respond<T>(codec: WireCodec<T>, value: &T) -> Result<Response, Error> {
    let body = codec
        .encode(value)
        .map_err(|e| Error::internal(format!("cannot encode the response as JSON: {e}")))?;
    Ok(ok_response(body))
}
