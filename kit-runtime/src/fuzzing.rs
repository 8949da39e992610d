//! Thin entry points to the parsers that read bytes from the network, for
//! the cargo-fuzz targets in `fuzz/` (see the README's "Fuzzing"). Not an
//! API: hidden, unstable, and only as wide as the fuzz targets need. The
//! protobuf decoder is fuzzed through the public `kit::proto` and
//! `#[derive(kit::Message)]` instead.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use http::{HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tower::ServiceExt;

use crate::transport::http::request::HttpRequest;
use crate::url::url;
use crate::wire::{wire, BodyFields};
use crate::Error;

/// `BodyFields::parse` (the JSON body splitter), then every named field
/// decoded as a `T`.
pub fn body_fields<T: Serialize + DeserializeOwned>(
    body: &[u8],
    names: &'static [&'static str],
) -> Result<Vec<Result<T, Error>>, Error> {
    let fields = BodyFields::parse(Bytes::copy_from_slice(body), names)?;
    Ok((0..names.len())
        .map(|i| fields.field(i, wire::<T>()))
        .collect())
}

/// A URL argument of type `T` read from the values the URL holds for it
/// (one for a path segment, any number for a query parameter).
pub fn url_read<T: Serialize + DeserializeOwned>(values: &[&str]) -> Result<T, String> {
    url::<T>().read(values)
}

/// The values a client writes into the URL for `value`.
pub fn url_write<T: Serialize + DeserializeOwned>(value: &T) -> Result<Vec<String>, Error> {
    url::<T>().write(value)
}

/// The query parameter `name` of a request for `uri` (a path and query),
/// as the generated HTTP handlers read it; `None` if `uri` is not a URI.
pub fn query<T: Serialize + DeserializeOwned>(uri: &str, name: &str) -> Option<Result<T, Error>> {
    let request = http::Request::builder()
        .uri(uri)
        .body(axum::body::Body::empty())
        .ok()?;
    Some(HttpRequest::new(request, 0, false).query(name, url::<T>()))
}

/// The path parameters `a` and `b` of a request for `uri` routed by axum
/// to `/p/{a}/{b}`, as the generated HTTP handlers read them: `None` if
/// `uri` is not a URI or the route does not match.
#[allow(clippy::type_complexity)]
pub fn path<T: Serialize + DeserializeOwned + Send + 'static>(
    uri: &str,
) -> Option<(Result<T, Error>, Result<T, Error>)> {
    let request = http::Request::builder()
        .uri(uri)
        .body(axum::body::Body::empty())
        .ok()?;
    let seen: Arc<Mutex<Option<(Result<T, Error>, Result<T, Error>)>>> = Arc::default();
    let slot = seen.clone();
    let router = axum::Router::new().route(
        "/p/{a}/{b}",
        axum::routing::get(move |request: http::Request<axum::body::Body>| {
            let req = HttpRequest::new(request, 0, true);
            let read = (req.path("a", url::<T>()), req.path("b", url::<T>()));
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(read);
            std::future::ready(())
        }),
    );
    // The router and the handler are ready at once: no runtime is needed.
    let _ = router.oneshot(request).now_or_never();
    let read = seen.lock().unwrap_or_else(|e| e.into_inner()).take();
    read
}

/// Whether a `content-type` value is JSON, as the HTTP body readers decide.
pub fn is_json(content_type: &[u8]) -> Option<bool> {
    HeaderValue::from_bytes(content_type)
        .ok()
        .map(|v| crate::transport::http::request::is_json(&v))
}

/// `grpc-timeout` as the gRPC transport parses it.
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    crate::deadline::parse_grpc_timeout(value)
}

/// The caller's remaining time from a `kit-timeout-ms` (`grpc == false`)
/// or `grpc-timeout` header holding `value`, as the server reads it, and
/// the deadline the server then sets (so a huge value cannot overflow the
/// clock); `None` if `value` is not a header value.
pub fn timeout_header(value: &[u8], grpc: bool) -> Option<Result<Option<Duration>, Error>> {
    let value = HeaderValue::from_bytes(value).ok()?;
    let mut headers = HeaderMap::new();
    let read = if grpc {
        headers.insert(crate::deadline::GRPC_TIMEOUT_HEADER.clone(), value);
        crate::transport::grpc::timeout_from_headers(&headers)
    } else {
        headers.insert(crate::deadline::TIMEOUT_HEADER.clone(), value);
        crate::deadline::timeout_from_headers(&headers)
    };
    if let Ok(caller) = &read {
        let _ = crate::deadline::effective_deadline(
            tokio::time::Instant::now,
            Some(Duration::from_secs(1)),
            *caller,
        );
        let _ = crate::deadline::effective_deadline(tokio::time::Instant::now, None, *caller);
    }
    Some(read)
}

/// The line decoder of the NDJSON streaming client: one item (`{"result":
/// ...}`) or the error that ends the stream.
pub fn ndjson_line<T: Serialize + DeserializeOwned>(line: &[u8]) -> Result<T, Error> {
    crate::client::stream::decode_line(&Bytes::copy_from_slice(line), wire::<T>())
}

/// The NDJSON streaming client over a body arriving in `chunks`: every
/// item it yields, up to and including the first error.
pub fn ndjson_stream<T: Serialize + DeserializeOwned + Send + 'static>(
    chunks: Vec<Vec<u8>>,
) -> Vec<Result<T, Error>> {
    let body = axum::body::Body::from_stream(futures_util::stream::iter(
        chunks
            .into_iter()
            .map(|c| Ok::<_, std::convert::Infallible>(Bytes::from(c))),
    ));
    let mut items = Box::pin(crate::client::stream::ndjson_items(body, wire::<T>()));
    let mut out = Vec::new();
    // The body's chunks are all ready: each poll finishes at once.
    while let Some(Some(item)) = items.next().now_or_never() {
        out.push(item);
    }
    out
}

/// What a server encodes for one item of an NDJSON response stream.
pub fn ndjson_encode_item<T: Serialize + DeserializeOwned>(item: &T) -> Vec<u8> {
    let json = wire::<T>().encode(item).unwrap_or_default();
    crate::transport::http::stream::StreamFormat::Ndjson
        .item(&json)
        .to_vec()
}

/// What a server encodes for the error that ends an NDJSON response stream.
pub fn ndjson_encode_error(err: &Error) -> Vec<u8> {
    crate::transport::http::stream::StreamFormat::Ndjson
        .error(err)
        .to_vec()
}

/// [`Jwt::verify`](crate::auth::Jwt::verify) of an HS256 authenticator
/// with this secret, issuer and audience (leeway 60 s). A fixed key never
/// waits, so this runs the future to its end at once.
pub fn jwt_hs256(
    token: &str,
    secret: &[u8],
    issuer: &str,
    audience: &str,
) -> Result<crate::auth::Principal, Error> {
    let jwt = crate::auth::Jwt::hs256(secret)
        .issuer(issuer)
        .audience(audience)
        .leeway(Duration::from_secs(60));
    jwt.verify(token)
        .now_or_never()
        .unwrap_or_else(|| Err(Error::internal("a fixed-key JWT check waited")))
}
