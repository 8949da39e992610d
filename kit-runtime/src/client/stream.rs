//! Streaming calls: a server-streaming call over HTTP (NDJSON) or gRPC,
//! client- and bidirectional-streaming calls over gRPC.
//!
//! A streaming call is one attempt (it is not retried: items already
//! handed to the caller cannot be taken back), sent to an instance the
//! balancer picks, with the trace, the extra headers and the deadline of a
//! unary call; the deadline bounds the whole stream, which ends with
//! DEADLINE_EXCEEDED when it passes.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant as StdInstant;

use bytes::{Buf, Bytes, BytesMut};
use futures_core::Stream;
use futures_util::StreamExt;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderValue, Request};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::time::Sleep;
use tower::{Service, ServiceExt};

use super::call::{error_chain, RawCodec};
use super::channel::{full, GrpcChannel};
use super::span::CallSpan;
use super::Client;
use crate::descriptor::EndpointDescriptor;
use crate::proto::{decode_response, encode_to_vec, ProtoMessage};
use crate::stream::Streaming;
use crate::transport::grpc::from_status;
use crate::transport::http::stream::NDJSON;
use crate::wire::WireCodec;
use crate::{Code, Context, Error};

/// The longest NDJSON line a client reads: 16 MiB.
const MAX_LINE: usize = 16 * 1024 * 1024;

impl Client {
    /// Calls the server-streaming endpoint number `endpoint` over HTTP: the
    /// answer is read as NDJSON, each item decoded with `codec`.
    pub async fn stream_http<T: Send + 'static>(
        &self,
        endpoint: usize,
        call: super::HttpCall,
        codec: WireCodec<T>,
    ) -> Result<Streaming<T>, Error> {
        let (desc, ctx, span) = self.stream_context(endpoint);
        let started = StdInstant::now();
        let result = self.open_http(desc, &ctx, call).await;
        self.record(endpoint, &result, started, span);
        let body = result?;
        let lines = ndjson_items(body, codec);
        Ok(Streaming::new(Bounded::new(lines, &ctx, desc)))
    }

    async fn open_http(
        &self,
        desc: &EndpointDescriptor,
        ctx: &Context,
        call: super::HttpCall,
    ) -> Result<axum::body::Body, Error> {
        let route = desc.http.ok_or_else(|| {
            Error::unimplemented(format!("{}.{} has no HTTP route", desc.service, desc.name))
        })?;
        let (path, body) = call.into_parts();
        let has_body = body.is_some();
        let mut req = Request::builder()
            .method(route.method.as_http())
            .uri(path.as_str())
            .body(full(body.unwrap_or_default()))
            .map_err(|e| Error::internal(format!("cannot build request: {e}")))?;
        req.extensions_mut().insert(crate::lb::Avoid::default());
        let headers = req.headers_mut();
        headers.insert(ACCEPT, HeaderValue::from_static(NDJSON));
        if has_body {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        self.call_headers(headers, ctx).await?;
        let mut channel = self.inner.channel.clone();
        let unavailable = |e: tower::BoxError| {
            Error::unavailable(format!(
                "{}.{}: {}",
                desc.service,
                desc.name,
                error_chain(&*e)
            ))
        };
        let send = async {
            let response = channel
                .ready()
                .await
                .map_err(unavailable)?
                .call(req)
                .await
                .map_err(unavailable)?;
            let status = response.status();
            if status.is_success() {
                return Ok(axum::body::Body::new(response.into_body()));
            }
            let bytes = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            Err(Error::from_json(&bytes).unwrap_or_else(|| {
                let text = String::from_utf8_lossy(&bytes);
                Error::new(
                    Code::from_http_status(status),
                    format!("HTTP {status}: {}", text.trim()),
                )
            }))
        };
        self.until_deadline(desc, ctx, send).await
    }

    /// Calls the server-streaming endpoint number `endpoint` over gRPC.
    pub async fn stream_grpc<M, R>(
        &self,
        endpoint: usize,
        request: M,
    ) -> Result<Streaming<R>, Error>
    where
        M: ProtoMessage + Send + 'static,
        R: ProtoMessage + Send + 'static,
    {
        self.grpc_streaming(endpoint, futures_util::stream::iter([request]), false)
            .await
    }

    /// Calls the client-streaming endpoint number `endpoint` over gRPC:
    /// sends every message of `requests`, answers the one response.
    pub async fn client_stream_grpc<M, R>(
        &self,
        endpoint: usize,
        requests: impl Stream<Item = M> + Send + 'static,
    ) -> Result<R, Error>
    where
        M: ProtoMessage + Send + 'static,
        R: ProtoMessage + Send + 'static,
    {
        let mut answers = self
            .grpc_streaming::<M, R>(endpoint, requests, true)
            .await?;
        answers.message().await?.ok_or_else(|| {
            Error::internal("the server ended a client-streaming call without a response")
        })
    }

    /// Calls the bidirectional-streaming endpoint number `endpoint` over
    /// gRPC: `requests` go out as the answers come in.
    pub async fn bidi_grpc<M, R>(
        &self,
        endpoint: usize,
        requests: impl Stream<Item = M> + Send + 'static,
    ) -> Result<Streaming<R>, Error>
    where
        M: ProtoMessage + Send + 'static,
        R: ProtoMessage + Send + 'static,
    {
        self.grpc_streaming(endpoint, requests, true).await
    }

    async fn grpc_streaming<M, R>(
        &self,
        endpoint: usize,
        requests: impl Stream<Item = M> + Send + 'static,
        streams_requests: bool,
    ) -> Result<Streaming<R>, Error>
    where
        M: ProtoMessage + Send + 'static,
        R: ProtoMessage + Send + 'static,
    {
        let (desc, ctx, span) = self.stream_context(endpoint);
        let started = StdInstant::now();
        let open = async {
            let method = desc.grpc.ok_or_else(|| {
                Error::unimplemented(format!("{}.{} has no gRPC method", desc.service, desc.name))
            })?;
            let mut grpc = tonic::client::Grpc::new(GrpcChannel(self.inner.channel.clone()));
            grpc.ready().await.map_err(|e| {
                Error::unavailable(format!(
                    "{}.{}: {}",
                    desc.service,
                    desc.name,
                    error_chain(&e)
                ))
            })?;
            // Messages are encoded here and sent raw, as unary calls are.
            let mut requests = Box::pin(requests.map(|m: M| Bytes::from(encode_to_vec(&m))));
            let path = http::uri::PathAndQuery::from_static(method.path);
            let response = if streams_requests {
                let mut req = tonic::Request::new(requests);
                req.extensions_mut().insert(crate::lb::Avoid::default());
                self.call_metadata(&mut req, &ctx).await?;
                grpc.streaming(req, path, RawCodec).await
            } else {
                let first = requests.next().await.ok_or_else(|| {
                    Error::internal("a server-streaming call needs its request message")
                })?;
                let mut req = tonic::Request::new(first);
                req.extensions_mut().insert(crate::lb::Avoid::default());
                self.call_metadata(&mut req, &ctx).await?;
                grpc.server_streaming(req, path, RawCodec).await
            };
            response
                .map(|r| r.into_inner())
                .map_err(|status| from_status(&status))
        };
        let result = self.until_deadline(desc, &ctx, open).await;
        self.record(endpoint, &result, started, span);
        let answers = result?.map(|item| match item {
            Ok(bytes) => decode_response::<R>(bytes),
            Err(status) => Err(from_status(&status)),
        });
        Ok(Streaming::new(Bounded::new(answers, &ctx, desc)))
    }

    /// The endpoint's descriptor and the call's context: the caller's (or
    /// a new) trace, the tighter of the endpoint's and client's timeouts.
    fn stream_context(&self, endpoint: usize) -> (&'static EndpointDescriptor, Context, CallSpan) {
        let desc = &self.inner.service.endpoints[endpoint];
        let (mut ctx, span) = CallSpan::start();
        if let Some(timeout) = desc.timeout.or(self.inner.timeout) {
            ctx = ctx.with_timeout(timeout);
        }
        if let Some(timeout) = self.options.as_ref().and_then(|o| o.timeout) {
            ctx = ctx.with_timeout(timeout);
        }
        (desc, ctx, span)
    }

    async fn until_deadline<T>(
        &self,
        desc: &EndpointDescriptor,
        ctx: &Context,
        fut: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        match ctx.deadline() {
            Some(deadline) => tokio::time::timeout_at(deadline, fut)
                .await
                .unwrap_or_else(|_| Err(deadline_exceeded(desc))),
            None => fut.await,
        }
    }

    /// Counts the opening of a stream in the client's request metrics and
    /// ends its span.
    fn record<T>(
        &self,
        endpoint: usize,
        result: &Result<T, Error>,
        started: StdInstant,
        span: CallSpan,
    ) {
        let code = result.as_ref().err().map(Error::code).unwrap_or(Code::Ok);
        self.metrics(endpoint).finish(code, started.elapsed());
        let desc = &self.inner.service.endpoints[endpoint];
        span.finish(desc, self.inner.transport == super::Transport::Grpc, code);
    }
}

fn deadline_exceeded(desc: &EndpointDescriptor) -> Error {
    Error::deadline_exceeded(format!("{}.{}: deadline exceeded", desc.service, desc.name))
}

/// Items read from an NDJSON body: `{"result":ITEM}` lines, and an
/// `{"error":{...}}` line that ends the stream.
pub(crate) fn ndjson_items<T: Send + 'static>(
    body: axum::body::Body,
    codec: WireCodec<T>,
) -> impl Stream<Item = Result<T, Error>> + Send + 'static {
    let state = (body.into_data_stream(), BytesMut::new(), false);
    futures_util::stream::unfold(state, move |(mut body, mut buf, mut done)| async move {
        loop {
            if done {
                return None;
            }
            if let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                let line = buf.split_to(pos + 1).freeze();
                let line = line.slice(..line.len() - 1);
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let item = decode_line(&line, codec);
                done = item.is_err();
                return Some((item, (body, buf, done)));
            }
            if buf.len() > MAX_LINE {
                let e = Error::resource_exhausted("a streamed item is over 16 MiB");
                return Some((Err(e), (body, buf, true)));
            }
            match body.next().await {
                Some(Ok(chunk)) => buf.extend_from_slice(chunk.chunk()),
                Some(Err(e)) => {
                    let e = Error::unavailable(format!("the stream broke: {e}"));
                    return Some((Err(e), (body, buf, true)));
                }
                None if buf.iter().all(u8::is_ascii_whitespace) => return None,
                None => {
                    let rest = std::mem::take(&mut buf).freeze();
                    let item = decode_line(&rest, codec);
                    return Some((item, (body, buf, true)));
                }
            }
        }
    })
}

#[derive(Deserialize)]
struct Envelope<'a> {
    /// Present (`null` too: a `()` or `None` item) or absent (an error line).
    #[serde(borrow, default, deserialize_with = "present")]
    result: Option<&'a RawValue>,
}

/// `Some` for any value, `null` included (serde's `Option` reads `null` as `None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

pub(crate) fn decode_line<T>(line: &Bytes, codec: WireCodec<T>) -> Result<T, Error> {
    let bad =
        |e: &dyn std::fmt::Display| Error::internal(format!("cannot decode a streamed item: {e}"));
    match serde_json::from_slice::<Envelope<'_>>(line) {
        Ok(Envelope {
            result: Some(value),
        }) => codec.decode(value.get().as_bytes()).map_err(|e| bad(&e)),
        Ok(Envelope { result: None }) => Err(Error::from_json(line)
            .unwrap_or_else(|| bad(&"a line with neither `result` nor `error`"))),
        Err(e) => Err(bad(&e)),
    }
}

pin_project_lite::pin_project! {
    /// A received stream cut at the call's deadline.
    struct Bounded<S> {
        #[pin]
        inner: S,
        #[pin]
        sleep: Option<Sleep>,
        desc: &'static EndpointDescriptor,
        done: bool,
    }
}

impl<S> Bounded<S> {
    fn new(inner: S, ctx: &Context, desc: &'static EndpointDescriptor) -> Bounded<S> {
        Bounded {
            inner,
            sleep: ctx.deadline().map(tokio::time::sleep_until),
            desc,
            done: false,
        }
    }
}

impl<S, T> Stream for Bounded<S>
where
    S: Stream<Item = Result<T, Error>>,
{
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        match this.inner.poll_next(cx) {
            Poll::Ready(Some(Err(e))) => {
                *this.done = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                *this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(item) => Poll::Ready(item),
            Poll::Pending => {
                let expired = this
                    .sleep
                    .as_pin_mut()
                    .is_some_and(|s| std::future::Future::poll(s, cx).is_ready());
                if expired {
                    *this.done = true;
                    return Poll::Ready(Some(Err(deadline_exceeded(this.desc))));
                }
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ndjson_lines_become_items_and_an_error_ends_them() {
        let body = axum::body::Body::from(
            "{\"result\":\"A\"}\n\n{\"result\":\"B\"}\n{\"error\":{\"code\":404,\"status\":\"NOT_FOUND\",\"message\":\"x\"}}\n{\"result\":\"C\"}\n",
        );
        let items: Vec<_> = ndjson_items(body, crate::wire::wire::<String>())
            .collect()
            .await;
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].as_ref().unwrap(), "A");
        assert_eq!(items[1].as_ref().unwrap(), "B");
        assert_eq!(items[2].as_ref().unwrap_err().code(), Code::NotFound);
    }

    #[tokio::test]
    async fn a_line_that_is_not_json_is_an_error() {
        let body = axum::body::Body::from("{\"result\":1}\nnope");
        let items: Vec<_> = ndjson_items(body, crate::wire::wire::<u32>())
            .collect()
            .await;
        assert_eq!(*items[0].as_ref().unwrap(), 1);
        assert_eq!(items[1].as_ref().unwrap_err().code(), Code::Internal);
    }

    /// Found by fuzzing (fuzz/: ndjson): a `null` item (what the server
    /// writes for `()` or `None`) was read as a line without `result`.
    #[test]
    fn null_items_are_items() {
        let line = Bytes::from_static(b"{\"result\":null}");
        assert_eq!(
            decode_line(&line, crate::wire::wire::<Option<u8>>()).unwrap(),
            None
        );
        decode_line(&line, crate::wire::wire::<()>()).unwrap();
        let line = Bytes::from_static(b"{\"other\":1}");
        let err = decode_line(&line, crate::wire::wire::<Option<u8>>()).unwrap_err();
        assert_eq!(err.code(), Code::Internal);
    }
}
