//! Response streams over HTTP: Server-Sent Events or newline-delimited
//! JSON, chosen by the request's `Accept`.
//!
//! - `Accept: text/event-stream`: one SSE event per item, its `data` the
//!   item's JSON; an error ends the stream with an `event: error` whose
//!   `data` is the error JSON (`{"error":{"code":..,"status":..,"message":..}}`).
//! - anything else (`application/x-ndjson`, `application/json`, none): one
//!   line per item, `{"result":ITEM}`, and an error as a last line holding
//!   the error JSON, `{"error":{...}}` (grpc-gateway's framing).
//!
//! The body is pulled from the handler's stream as the connection drains,
//! so a slow reader slows the producer instead of growing a buffer.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::HeaderValue;

use crate::stream::server::ServerStream;
use crate::transport::http::request::HttpRequest;
use crate::wire::WireCodec;
use crate::{Context, Error};

/// `text/event-stream`.
pub(crate) const EVENT_STREAM: &str = "text/event-stream";
/// `application/x-ndjson`.
pub(crate) const NDJSON: &str = "application/x-ndjson";

/// How a response stream is framed over HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StreamFormat {
    /// Server-Sent Events.
    EventStream,
    /// Newline-delimited JSON.
    Ndjson,
}

impl StreamFormat {
    /// The format a request's `Accept` asks for: SSE when it names
    /// `text/event-stream`, NDJSON otherwise.
    pub(crate) fn of(headers: &http::HeaderMap) -> StreamFormat {
        let sse = headers
            .get_all(http::header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case(EVENT_STREAM))
            });
        if sse {
            StreamFormat::EventStream
        } else {
            StreamFormat::Ndjson
        }
    }

    /// One item, framed.
    pub(crate) fn item(self, json: &[u8]) -> Bytes {
        let mut out = Vec::with_capacity(json.len() + 16);
        match self {
            StreamFormat::EventStream => {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(json);
                out.extend_from_slice(b"\n\n");
            }
            StreamFormat::Ndjson => {
                out.extend_from_slice(b"{\"result\":");
                out.extend_from_slice(json);
                out.extend_from_slice(b"}\n");
            }
        }
        Bytes::from(out)
    }

    /// The error that ends a stream, framed.
    pub(crate) fn error(self, err: &Error) -> Bytes {
        let json = err.to_json();
        let mut out = Vec::with_capacity(json.len() + 24);
        match self {
            StreamFormat::EventStream => {
                out.extend_from_slice(b"event: error\ndata: ");
                out.extend_from_slice(&json);
                out.extend_from_slice(b"\n\n");
            }
            StreamFormat::Ndjson => {
                out.extend_from_slice(&json);
                out.push(b'\n');
            }
        }
        Bytes::from(out)
    }

    fn content_type(self) -> &'static str {
        match self {
            StreamFormat::EventStream => EVENT_STREAM,
            StreamFormat::Ndjson => NDJSON,
        }
    }
}

/// The response of a streaming endpoint over HTTP: 200 and the stream,
/// each item encoded with `codec` and framed as the request asked.
pub fn respond_stream<T, S>(
    req: &HttpRequest,
    codec: WireCodec<T>,
    stream: S,
) -> Result<Response, Error>
where
    T: Send + 'static,
    S: Stream<Item = Result<T, Error>> + Send + 'static,
{
    let format = StreamFormat::of(&req.parts().headers);
    let ctx = Context::current();
    let endpoint = ctx
        .endpoint()
        .ok_or_else(|| Error::internal("a response stream outside a request"))?;
    let served = ServerStream::new(stream, ctx, endpoint, "http");
    let frames = served.map(move |item| {
        let frame = match item {
            Ok(value) => match codec.encode(&value) {
                Ok(json) => format.item(&json),
                Err(e) => format.error(&Error::internal(format!(
                    "cannot encode a streamed item as JSON: {e}"
                ))),
            },
            Err(err) => format.error(&err),
        };
        Ok::<_, std::convert::Infallible>(frame)
    });
    let mut response = Response::new(Body::from_stream(frames));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Proxies such as nginx would otherwise hold events back.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn accept_chooses_the_format() {
        assert_eq!(
            StreamFormat::of(&accept("text/event-stream")),
            StreamFormat::EventStream
        );
        assert_eq!(
            StreamFormat::of(&accept("application/json, Text/Event-Stream;q=0.9")),
            StreamFormat::EventStream
        );
        assert_eq!(
            StreamFormat::of(&accept("application/x-ndjson")),
            StreamFormat::Ndjson
        );
        assert_eq!(
            StreamFormat::of(&http::HeaderMap::new()),
            StreamFormat::Ndjson
        );
    }

    #[test]
    fn frames() {
        let sse = StreamFormat::EventStream;
        assert_eq!(&sse.item(b"\"A\"")[..], b"data: \"A\"\n\n");
        let e = sse.error(&Error::not_found("gone"));
        assert!(e.starts_with(b"event: error\ndata: {\"error\":"), "{e:?}");
        assert!(e.ends_with(b"\n\n"));
        let nd = StreamFormat::Ndjson;
        assert_eq!(&nd.item(b"[1,2]")[..], b"{\"result\":[1,2]}\n");
        let e = nd.error(&Error::not_found("gone"));
        assert!(Error::from_json(&e[..e.len() - 1]).is_some());
    }
}
