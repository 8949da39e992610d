//! HTTP/JSON: decoding requests for the generated handlers, encoding
//! responses and errors.

use axum::body::Body;
use axum::extract::{FromRequestParts, RawPathParams};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use http_body_util::{BodyExt, Limited};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Protocol, ResponseCode};
use crate::wire::{BodyFields, WireCodec};
use crate::{Error, ParamValue};

/// Default limit on request bodies: 4 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 4 * 1024 * 1024;

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// The HTTP/JSON protocol.
pub struct Http;

impl Protocol for Http {
    type Body = Body;
    const NAME: &'static str = "http";

    fn error_response(err: &Error) -> Response {
        error_response(err)
    }
}

/// The JSON response for `err`, with its HTTP status and [`ResponseCode`].
pub fn error_response(err: &Error) -> Response {
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

/// A 200 response with `value` as JSON.
pub fn json_response<T: Serialize + ?Sized>(value: &T) -> Result<Response, Error> {
    let body = serde_json::to_vec(value)
        .map_err(|e| Error::internal(format!("cannot encode the response as JSON: {e}")))?;
    Ok(ok_response(body))
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

/// Encodes what an infallible handler returned.
pub fn respond<T>(codec: WireCodec<T>, value: &T) -> Result<Response, Error> {
    let body = codec
        .encode(value)
        .map_err(|e| Error::internal(format!("cannot encode the response as JSON: {e}")))?;
    Ok(ok_response(body))
}

/// Encodes what a fallible handler returned (`Result<T, E>`).
pub fn reply<T, E: Into<Error>>(codec: WireCodec<T>, out: Result<T, E>) -> Result<Response, Error> {
    match out {
        Ok(value) => respond(codec, &value),
        Err(e) => Err(e.into()),
    }
}

/// An incoming HTTP request as the generated handlers see it: path and query
/// parameters by name, and a JSON body read on demand under a size limit.
pub struct HttpRequest {
    parts: Parts,
    body: Option<Body>,
    path_params: Vec<(String, String)>,
    body_limit: usize,
}

impl HttpRequest {
    /// Wraps a request; `body_limit` bounds what [`HttpRequest::json`] reads.
    pub async fn new(request: http::Request<Body>, body_limit: usize) -> HttpRequest {
        HttpRequest::with_path_params(request, body_limit, true).await
    }

    /// Wraps a request, reading its path parameters only if `path_params`
    /// (routes without `{param}` skip the work).
    pub async fn with_path_params(
        request: http::Request<Body>,
        body_limit: usize,
        path_params: bool,
    ) -> HttpRequest {
        let (mut parts, body) = request.into_parts();
        let path_params = if !path_params {
            Vec::new()
        } else {
            match RawPathParams::from_request_parts(&mut parts, &()).await {
                Ok(raw) => raw
                    .iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
                Err(_) => Vec::new(),
            }
        };
        HttpRequest {
            parts,
            body: Some(body),
            path_params,
            body_limit,
        }
    }

    /// The request head (method, URI, headers, extensions).
    pub fn parts(&self) -> &Parts {
        &self.parts
    }

    /// The path parameter `name`, parsed.
    pub fn path<T: ParamValue>(&self, name: &str) -> Result<T, Error> {
        let raw = self
            .path_params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| Error::internal(format!("route has no path parameter `{name}`")))?;
        T::from_param(raw)
            .map_err(|e| Error::invalid_argument(format!("path parameter `{name}`: {e}")))
    }

    /// The query parameter `name`, parsed; `None` when absent.
    pub fn query_opt<T: ParamValue>(&self, name: &str) -> Result<Option<T>, Error> {
        let Some(query) = self.parts.uri.query() else {
            return Ok(None);
        };
        let Some((_, raw)) = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name)
        else {
            return Ok(None);
        };
        T::from_param(&raw)
            .map(Some)
            .map_err(|e| Error::invalid_argument(format!("query parameter `{name}`: {e}")))
    }

    /// The query parameter `name`, parsed; INVALID_ARGUMENT when absent.
    pub fn query<T: ParamValue>(&self, name: &str) -> Result<T, Error> {
        self.query_opt(name)?
            .ok_or_else(|| Error::invalid_argument(format!("missing query parameter `{name}`")))
    }

    /// Reads the body (at most the limit) and parses it as JSON.
    ///
    /// An empty body without a content type reads as `{}`, so endpoints whose
    /// body arguments are all optional can be called with no body.
    pub async fn json<T: DeserializeOwned>(&mut self) -> Result<T, Error> {
        let bytes = self.json_bytes().await?;
        parse_json(&bytes)
    }

    /// Reads the body as a JSON value of the codec's type (a `#[body]` argument).
    pub async fn json_with<T>(&mut self, codec: WireCodec<T>) -> Result<T, Error> {
        let bytes = self.json_bytes().await?;
        codec
            .decode(&bytes)
            .map_err(|e| Error::invalid_argument(format!("invalid JSON body: {e}")))
    }

    /// Reads the body as a JSON object whose fields `names` are the
    /// endpoint's body arguments.
    pub async fn body_fields(
        &mut self,
        names: &'static [&'static str],
    ) -> Result<BodyFields, Error> {
        let bytes = self.json_bytes().await?;
        BodyFields::parse(bytes, names)
    }

    /// The body after checking it is JSON; an empty body without a content
    /// type reads as `{}`.
    async fn json_bytes(&mut self) -> Result<Bytes, Error> {
        let content_type = self.parts.headers.get(CONTENT_TYPE).cloned();
        let bytes = self.bytes().await?;
        match content_type {
            None if bytes.is_empty() => return Ok(Bytes::from_static(b"{}")),
            Some(ct) if is_json(&ct) => {}
            other => {
                let got = other
                    .as_ref()
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("none");
                return Err(Error::invalid_argument(format!(
                    "expected content-type application/json, got {got}"
                ))
                .with_http_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
            }
        }
        Ok(bytes)
    }

    /// Reads the whole body, at most the configured limit.
    pub async fn bytes(&mut self) -> Result<Bytes, Error> {
        let too_large = || {
            Error::resource_exhausted(format!(
                "request body is larger than the limit of {} bytes",
                self.body_limit
            ))
            .with_http_status(StatusCode::PAYLOAD_TOO_LARGE)
        };
        let declared = self
            .parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.body_limit as u64) {
            return Err(too_large());
        }
        let Some(body) = self.body.take() else {
            return Ok(Bytes::new());
        };
        match Limited::new(body, self.body_limit).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
            Err(e) => Err(Error::invalid_argument(format!(
                "cannot read request body: {e}"
            ))),
        }
    }
}

fn is_json(content_type: &HeaderValue) -> bool {
    let Ok(ct) = content_type.to_str() else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::invalid_argument(format!("invalid JSON body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/problem+json",
        ] {
            assert!(is_json(&HeaderValue::from_static(ok)), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/jsonx",
        ] {
            assert!(!is_json(&HeaderValue::from_static(bad)), "{bad}");
        }
    }

    #[tokio::test]
    async fn body_over_the_limit_is_413() {
        let req = http::Request::builder()
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(vec![b' '; 100]))
            .unwrap();
        let mut req = HttpRequest::new(req, 10).await;
        let err = req.json::<serde_json::Value>().await.unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted);
        assert_eq!(error_response(&err).status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn query_parameters_parse_by_name() {
        let req = http::Request::builder()
            .uri("/x?n=5&s=a%20b&bad=x")
            .body(Body::empty())
            .unwrap();
        let req = HttpRequest::new(req, 10).await;
        assert_eq!(req.query::<u32>("n").unwrap(), 5);
        assert_eq!(req.query::<String>("s").unwrap(), "a b");
        assert_eq!(req.query_opt::<u32>("missing").unwrap(), None);
        assert_eq!(
            req.query::<u32>("bad").unwrap_err().code(),
            Code::InvalidArgument
        );
    }
}
