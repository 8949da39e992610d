//! An incoming HTTP request as the generated handlers read it.

use axum::body::Body;
use axum::extract::{FromRequestParts, RawPathParams};
use bytes::Bytes;
use futures_util::FutureExt;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use http_body_util::{BodyExt, Limited};

use crate::url::UrlCodec;
use crate::wire::{BodyFields, WireCodec};
use crate::Error;

/// An incoming HTTP request as the generated handlers see it: path and query
/// parameters by name, and a JSON body read on demand under a size limit.
pub struct HttpRequest {
    parts: Parts,
    body: Option<Body>,
    path_params: Vec<(String, String)>,
    /// Why the path parameters could not be read (invalid UTF-8 once
    /// percent-decoded): the caller's error, not the route's.
    path_error: Option<String>,
    body_limit: usize,
}

impl HttpRequest {
    /// Wraps a request; `body_limit` bounds what the body readers read.
    /// Path parameters are read only if `path_params` (routes without
    /// `{param}` skip the work).
    pub(crate) fn new(
        request: http::Request<Body>,
        body_limit: usize,
        path_params: bool,
    ) -> HttpRequest {
        let (mut parts, body) = request.into_parts();
        let (path_params, path_error) = if !path_params {
            (Vec::new(), None)
        } else {
            // axum's extractor is async in signature only: it reads the
            // parameters the router stored, and is ready at once.
            match RawPathParams::from_request_parts(&mut parts, &()).now_or_never() {
                Some(Ok(raw)) => (
                    raw.iter()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect(),
                    None,
                ),
                Some(Err(e)) => (Vec::new(), Some(e.body_text())),
                None => (Vec::new(), None),
            }
        };
        HttpRequest {
            parts,
            body: Some(body),
            path_params,
            path_error,
            body_limit,
        }
    }

    /// The request head (method, URI, headers, extensions).
    pub fn parts(&self) -> &Parts {
        &self.parts
    }

    /// The path parameter `name`, parsed.
    pub fn path<T>(&self, name: &str, codec: UrlCodec<T>) -> Result<T, Error> {
        let raw = self
            .path_params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| match &self.path_error {
                Some(e) => Error::invalid_argument(format!("path parameter `{name}`: {e}")),
                None => Error::internal(format!("route has no path parameter `{name}`")),
            })?;
        codec
            .read(&[raw])
            .map_err(|e| Error::invalid_argument(format!("path parameter `{name}`: {e}")))
    }

    /// The query parameter `name` (every occurrence, for a repeated one),
    /// parsed; an `Option` is `None` and a `Vec` empty when it is absent.
    pub fn query<T>(&self, name: &str, codec: UrlCodec<T>) -> Result<T, Error> {
        let pairs: Vec<(std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>)> = self
            .parts
            .uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).collect())
            .unwrap_or_default();
        let values: Vec<&str> = pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
            .collect();
        codec.read(&values).map_err(|e| {
            Error::invalid_argument(if values.is_empty() {
                format!("missing query parameter `{name}`")
            } else {
                format!("query parameter `{name}`: {e}")
            })
        })
    }

    /// Reads the body as a JSON value of the codec's type (a `#[body]`
    /// argument); an error names the path of the value that did not fit.
    pub async fn json_with<T>(&mut self, codec: WireCodec<T>) -> Result<T, Error> {
        let bytes = self.json_bytes().await?;
        codec
            .decode_with_path(&bytes)
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
    /// type reads as `{}`, so endpoints whose body arguments are all
    /// optional can be called with no body.
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
    async fn bytes(&mut self) -> Result<Bytes, Error> {
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
            Err(e) => Err(refused_body(&*e).unwrap_or_else(|| {
                Error::invalid_argument(format!("cannot read request body: {e}"))
            })),
        }
    }
}

/// The server's own refusal of a body (too slow, or over the process's
/// body memory), found in the error's source chain.
fn refused_body(e: &(dyn std::error::Error + 'static)) -> Option<Error> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(status) = e.downcast_ref::<tonic::Status>() {
            let err = crate::transport::grpc::from_status(status);
            let http = match err.code() {
                crate::Code::DeadlineExceeded => StatusCode::REQUEST_TIMEOUT,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            return Some(err.with_http_status(http));
        }
        next = e.source();
    }
    None
}

/// `application/json` or `application/*+json`, any case, any parameters.
pub(crate) fn is_json(content_type: &HeaderValue) -> bool {
    let bytes = content_type.as_bytes();
    let essence = bytes.split(|b| *b == b';').next().unwrap_or_default();
    let essence = essence.trim_ascii();
    let Some(subtype) = essence
        .get(..12)
        .filter(|t| t.eq_ignore_ascii_case(b"application/"))
        .map(|_| &essence[12..])
    else {
        return false;
    };
    subtype.eq_ignore_ascii_case(b"json")
        || (subtype.len() > 5 && subtype[subtype.len() - 5..].eq_ignore_ascii_case(b"+json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::http::error_response;
    use crate::url::url;
    use crate::wire::wire;
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
            "application/+json",
            "json",
            "",
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
        let mut req = HttpRequest::new(req, 10, false);
        let err = req
            .json_with(wire::<serde_json::Value>())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted);
        assert_eq!(error_response(&err).status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn query_parameters_parse_by_name() {
        let req = http::Request::builder()
            .uri("/x?n=5&s=a%20b&bad=x")
            .body(Body::empty())
            .unwrap();
        let req = HttpRequest::new(req, 10, false);
        assert_eq!(req.query("n", url::<u32>()).unwrap(), 5);
        assert_eq!(req.query("s", url::<String>()).unwrap(), "a b");
        assert_eq!(req.query("missing", url::<Option<u32>>()).unwrap(), None);
        assert_eq!(req.query("n", url::<Vec<u32>>()).unwrap(), [5]);
        let err = req.query("bad", url::<u32>()).unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        let err = req.query("missing", url::<u32>()).unwrap_err();
        assert_eq!(err.message(), "missing query parameter `missing`");
    }

    /// Found by fuzzing (fuzz/: url): a path segment that is not UTF-8 once
    /// percent-decoded (`/p/%FF/x`) was INTERNAL ("route has no path
    /// parameter"), a 500 for the caller's mistake.
    #[tokio::test]
    async fn a_path_segment_that_is_not_utf8_is_the_callers_error() {
        use tower::ServiceExt;
        let (tx, rx) = std::sync::mpsc::channel();
        let router = axum::Router::new().route(
            "/p/{a}/{b}",
            axum::routing::get(move |req: http::Request<Body>| {
                let req = HttpRequest::new(req, 10, true);
                let _ = tx.send((
                    req.path("a", url::<String>()),
                    req.path("b", url::<String>()),
                ));
                std::future::ready(())
            }),
        );
        let req = http::Request::builder()
            .uri("/p/%FF/x")
            .body(Body::empty())
            .unwrap();
        router.oneshot(req).await.unwrap();
        let (a, b) = rx.recv().unwrap();
        for err in [a.unwrap_err(), b.unwrap_err()] {
            assert_eq!(err.code(), Code::InvalidArgument, "{err}");
        }
    }
}
