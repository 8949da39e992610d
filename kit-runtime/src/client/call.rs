//! One call: deadline, attempts with retries, metrics and span; one
//! attempt over HTTP/JSON or over gRPC through the client's channel.

use crate::layer::admission::NACK_HEADER;
use std::error::Error as _;
use std::future::Future;
use std::time::{Duration, Instant as StdInstant};

use bytes::{Buf, Bytes};
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderValue, Request};
use http_body_util::BodyExt;
use tokio::time::Instant;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tower::{BoxError, Service, ServiceExt};
use tracing::Instrument;

use super::channel::{full, GrpcChannel};
use super::span::CallSpan;
use super::Client;
use crate::deadline::{timeout_header_value, TIMEOUT_HEADER};
use crate::descriptor::EndpointDescriptor;
use crate::lb::{Avoid, NoInstance, Trip};
use crate::proto::{decode_response, encode_to_vec, ProtoMessage};
use crate::retry::is_retryable;
use crate::trace::{TRACEPARENT, TRACEPARENT_HEADER};
use crate::transport::grpc::from_status;
use crate::wire::WireCodec;
use crate::{Code, Context, Error};

/// How many times a request that was never sent is sent to another
/// instance, beyond the endpoint's retries.
const MAX_REQUEUES: u32 = 3;

/// What a generated client sends over HTTP: the path with parameters
/// filled in and the query string, and the JSON body if the route has one.
#[derive(Clone, Debug)]
#[doc(hidden)]
pub struct HttpCall {
    path_and_query: String,
    body: Option<Bytes>,
}

impl HttpCall {
    /// A request to `path_and_query` (already percent-encoded) with `body`.
    pub fn new(path_and_query: String, body: Option<Bytes>) -> HttpCall {
        HttpCall {
            path_and_query,
            body,
        }
    }

    pub(super) fn into_parts(self) -> (String, Option<Bytes>) {
        (self.path_and_query, self.body)
    }
}

/// How an attempt failed, and whether the server may have seen it.
pub(super) struct Failure {
    pub(super) error: Error,
    pub(super) maybe_processed: bool,
    /// The balancer had no instance to offer (all ejected, none found):
    /// nothing to retry on.
    pub(super) no_instance: bool,
    /// The server refused it before running it (`kit-nack`): not the
    /// instance's failure, and safe to send to another.
    pub(super) nack: bool,
}

impl Failure {
    pub(super) fn before_sending(error: Error) -> Failure {
        Failure {
            error,
            maybe_processed: false,
            no_instance: false,
            nack: false,
        }
    }
}

impl Client {
    /// Calls endpoint number `endpoint` over HTTP/JSON and decodes the
    /// answer with `codec`, retrying as the endpoint and client allow.
    pub async fn call_http<T>(
        &self,
        endpoint: usize,
        call: HttpCall,
        codec: WireCodec<T>,
    ) -> Result<T, Error> {
        let desc = &self.inner.service.endpoints[endpoint];
        let bytes = self
            .run(endpoint, |ctx, avoid| {
                self.http_attempt(ctx, avoid, desc, &call)
            })
            .await?;
        // 204 No Content answers a method that returns `()`.
        let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        codec
            .decode(bytes)
            .map_err(|e| Error::internal(format!("cannot decode the response: {e}")))
    }

    /// Calls endpoint number `endpoint` over gRPC with the request message
    /// `request`, retrying as the endpoint and client allow, and decodes the
    /// response message.
    pub async fn call_grpc<M: ProtoMessage, R: ProtoMessage>(
        &self,
        endpoint: usize,
        request: M,
    ) -> Result<R, Error> {
        let desc = &self.inner.service.endpoints[endpoint];
        let request = Bytes::from(encode_to_vec(&request));
        let bytes = self
            .run(endpoint, |ctx, avoid| {
                self.grpc_attempt(ctx, avoid, desc, request.clone())
            })
            .await?;
        decode_response::<R>(bytes)
    }

    /// The deadline, the breaker, the retry loop over instances, the span
    /// and the metrics around attempts.
    pub(super) async fn run<'a, F, Fut>(
        &'a self,
        endpoint: usize,
        attempt: F,
    ) -> Result<Bytes, Error>
    where
        F: Fn(Context, Avoid) -> Fut + 'a,
        Fut: Future<Output = Result<Bytes, Failure>> + 'a,
    {
        let inner = &*self.inner;
        let desc = &inner.service.endpoints[endpoint];
        let span = tracing::debug_span!(
            "client",
            service = desc.service,
            endpoint = desc.name,
            transport = inner.transport.as_str()
        );
        let started = StdInstant::now();
        let (ctx, call_span) = CallSpan::start();
        let result = async {
            let mut ctx = ctx;
            if let Some(timeout) = desc.timeout.or(inner.timeout) {
                ctx = ctx.with_timeout(timeout);
            }
            if let Some(timeout) = self.options.as_ref().and_then(|o| o.timeout) {
                ctx = ctx.with_timeout(timeout);
            }
            if let Some(breaker) = &inner.breaker {
                if let Err(left) = breaker.allow(StdInstant::now()) {
                    return Err(Error::unavailable(format!(
                        "{}.{}: circuit breaker open after too many failures; next try in {left:?}",
                        desc.service, desc.name
                    )));
                }
            }
            let what = format!("{}.{}", desc.service, desc.name);
            for limiter in [&inner.rate_limit, &inner.endpoint_limits[endpoint]]
                .into_iter()
                .flatten()
            {
                limiter.acquire(&what, ctx.deadline()).await?;
            }
            let wait = ctx
                .remaining()
                .unwrap_or(Duration::from_secs(10))
                .min(Duration::from_secs(10));
            // Over NATS the server picks the instance (a queue group).
            if inner.transport != super::Transport::Nats {
                inner.balancer.populated(wait).await?;
            }
            let max_retries = inner.retries.unwrap_or(desc.retry);
            inner.budget.deposit();
            let mut retries = 0u32;
            let mut requeues = 0u32;
            let mut failed: Vec<String> = Vec::new();
            loop {
                let avoid = Avoid {
                    ids: failed.clone(),
                    ..Avoid::default()
                };
                let served_by = avoid.served_by.clone();
                let outcome = match ctx.deadline() {
                    Some(deadline) => {
                        tokio::time::timeout_at(deadline, attempt(ctx.clone(), avoid))
                            .await
                            .unwrap_or_else(|_| {
                                Err(Failure {
                                    error: Error::deadline_exceeded(format!(
                                        "{}.{}: deadline exceeded",
                                        desc.service, desc.name
                                    )),
                                    maybe_processed: true,
                                    no_instance: false,
                                    nack: false,
                                })
                            })
                    }
                    None => attempt(ctx.clone(), avoid).await,
                };
                // Failure accrual: no answer or UNAVAILABLE counts against
                // the instance; a retry goes elsewhere.
                let instance_failed = outcome
                    .as_ref()
                    .err()
                    .is_some_and(|f| f.error.code() == Code::Unavailable && !f.nack);
                let nacked = outcome.as_ref().err().is_some_and(|f| f.nack);
                if let Some(id) = served_by.take() {
                    // A nack is the instance shedding load, not failing
                    // (Finagle keeps nacks out of failure accrual), but
                    // the request goes elsewhere.
                    inner.balancer.record(&id, !instance_failed);
                    if instance_failed || nacked {
                        failed.push(id);
                    }
                }
                let failure = match outcome {
                    Ok(bytes) => return Ok(bytes),
                    Err(f) if f.no_instance => return Err(f.error),
                    Err(f) => f,
                };
                let may_retry = retries < max_retries
                    && is_retryable(
                        failure.error.code(),
                        failure.maybe_processed,
                        desc.idempotent,
                    );
                if !may_retry {
                    // Never sent (connection refused, stream refused) or
                    // refused unprocessed (a nack): sent again to another
                    // instance at once, whatever the endpoint's retry
                    // count, as Finagle's requeues.
                    let never_sent = !failure.maybe_processed
                        && failure.error.code() == Code::Unavailable;
                    if never_sent
                        && requeues < MAX_REQUEUES
                        && inner.balancer.has_other_than(&failed)
                        && inner.budget.withdraw()
                    {
                        requeues += 1;
                        tracing::debug!(requeues, error = %failure.error, "requeued: the request was never sent");
                        self.metrics(endpoint).retry();
                        continue;
                    }
                    return Err(failure.error);
                }
                let delay = inner.backoff.delay(retries);
                let fits = ctx.deadline().is_none_or(|d| Instant::now() + delay < d);
                if !fits || !inner.budget.withdraw() {
                    return Err(failure.error);
                }
                tracing::debug!(retries, error = %failure.error, ?delay, "retrying");
                self.metrics(endpoint).retry();
                tokio::time::sleep(delay).await;
                retries += 1;
            }
        }
        .instrument(span)
        .await;
        let code = result.as_ref().err().map(Error::code).unwrap_or(Code::Ok);
        self.metrics(endpoint).finish(code, started.elapsed());
        call_span.finish(desc, inner.transport.as_str() == "grpc", code);
        if let Some(breaker) = &inner.breaker {
            let ok = !matches!(code, Code::Unavailable | Code::DeadlineExceeded);
            match breaker.record(ok, StdInstant::now()) {
                Some(Trip::Opened) => {
                    tracing::warn!(
                        service = desc.service,
                        "circuit breaker opened: failing calls fast"
                    );
                    inner.breaker_gauge.set(1.0);
                }
                Some(Trip::Closed) => {
                    tracing::info!(service = desc.service, "circuit breaker closed");
                    inner.breaker_gauge.set(0.0);
                }
                None => inner.breaker_gauge.refresh(),
            }
        }
        result
    }

    async fn http_attempt(
        &self,
        ctx: Context,
        avoid: Avoid,
        desc: &EndpointDescriptor,
        call: &HttpCall,
    ) -> Result<Bytes, Failure> {
        let route = desc.http.ok_or_else(|| {
            Failure::before_sending(Error::unimplemented(format!(
                "{}.{} has no HTTP route",
                desc.service, desc.name
            )))
        })?;
        let mut req = Request::builder()
            .method(route.method.as_http())
            .uri(call.path_and_query.as_str())
            .body(full(call.body.clone().unwrap_or_default()))
            .map_err(|e| {
                Failure::before_sending(Error::internal(format!("cannot build request: {e}")))
            })?;
        req.extensions_mut().insert(avoid);
        let headers = req.headers_mut();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if call.body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        self.call_headers(headers, &ctx)
            .await
            .map_err(Failure::before_sending)?;
        let mut channel = self.inner.channel.clone();
        let unavailable = |e: BoxError| {
            let never_sent = never_sent(&*e);
            Failure {
                error: Error::unavailable(format!(
                    "{}.{}: {}",
                    desc.service,
                    desc.name,
                    error_chain(&*e)
                )),
                maybe_processed: !never_sent,
                no_instance: no_instance(&*e),
                nack: false,
            }
        };
        let response = channel
            .ready()
            .await
            .map_err(|e| Failure::before_sending(unavailable(e).error))?
            .call(req)
            .await
            .map_err(unavailable)?;
        let status = response.status();
        let nack = response.headers().contains_key(NACK_HEADER);
        let body = response.into_body().collect().await.map_err(|e| Failure {
            error: Error::unavailable(format!(
                "{}.{}: reading the response: {e}",
                desc.service, desc.name
            )),
            maybe_processed: true,
            no_instance: false,
            nack: false,
        })?;
        let bytes = body.to_bytes();
        if status.is_success() {
            return Ok(bytes);
        }
        let error = Error::from_json(&bytes).unwrap_or_else(|| {
            let text = String::from_utf8_lossy(&bytes);
            Error::new(
                Code::from_http_status(status),
                format!("HTTP {status}: {}", text.trim()),
            )
        });
        Err(Failure {
            error,
            maybe_processed: !nack,
            no_instance: false,
            nack,
        })
    }

    async fn grpc_attempt(
        &self,
        ctx: Context,
        avoid: Avoid,
        desc: &EndpointDescriptor,
        request: Bytes,
    ) -> Result<Bytes, Failure> {
        let method = desc.grpc.ok_or_else(|| {
            Failure::before_sending(Error::unimplemented(format!(
                "{}.{} has no gRPC method",
                desc.service, desc.name
            )))
        })?;
        let mut grpc = tonic::client::Grpc::new(GrpcChannel(self.inner.channel.clone()));
        grpc.ready().await.map_err(|e| {
            Failure::before_sending(Error::unavailable(format!(
                "{}.{}: {}",
                desc.service,
                desc.name,
                error_chain(&e)
            )))
        })?;
        let mut req = tonic::Request::new(request);
        req.extensions_mut().insert(avoid);
        self.call_metadata(&mut req, &ctx)
            .await
            .map_err(Failure::before_sending)?;
        let path = http::uri::PathAndQuery::from_static(method.path);
        match grpc.unary(req, path, RawCodec).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) => {
                let never_sent =
                    status.code() == tonic::Code::Unavailable && status_never_sent(&status);
                let mut error = from_status(&status);
                // tonic enforces grpc-timeout itself and reports CANCELLED
                // "Timeout expired"; to the caller it is the deadline.
                let expired = ctx.remaining().is_some_and(|r| r.is_zero());
                if status.code() == tonic::Code::Cancelled && expired {
                    error = Error::deadline_exceeded(format!(
                        "{}.{}: deadline exceeded",
                        desc.service, desc.name
                    ));
                }
                if never_sent || status.source().is_some_and(tls_refused) {
                    // Connection refused, or a TLS handshake that failed
                    // (over TLS 1.3 a refused client certificate shows
                    // only once the first request is on its way).
                    error = Error::unavailable(format!(
                        "{}.{}: {}",
                        desc.service,
                        desc.name,
                        error_chain(&status)
                    ));
                }
                let nack = status.metadata().contains_key(NACK_HEADER);
                Err(Failure {
                    no_instance: status.source().is_some_and(no_instance),
                    error,
                    maybe_processed: !never_sent && !nack,
                    nack,
                })
            }
        }
    }
}

impl Client {
    /// The trace, deadline, credentials and extra headers of an HTTP call.
    pub(super) async fn call_headers(
        &self,
        headers: &mut http::HeaderMap,
        ctx: &Context,
    ) -> Result<(), Error> {
        if let Some((name, value)) = self.credential_header(ctx).await? {
            headers.insert(name, value);
        }
        headers.insert(TRACEPARENT_HEADER.clone(), ctx.trace().header_value());
        if let Some(remaining) = ctx.remaining() {
            headers.insert(TIMEOUT_HEADER.clone(), timeout_header_value(remaining));
        }
        for (name, value) in self.extra_headers() {
            let header = http::HeaderName::try_from(name.as_str());
            let value = HeaderValue::try_from(value.as_str());
            match (header, value) {
                (Ok(n), Ok(v)) => {
                    headers.append(n, v);
                }
                _ => return Err(Error::invalid_argument(format!("invalid header `{name}`"))),
            }
        }
        Ok(())
    }

    /// The trace, deadline, credentials and extra metadata of a gRPC call.
    pub(super) async fn call_metadata<T>(
        &self,
        req: &mut tonic::Request<T>,
        ctx: &Context,
    ) -> Result<(), Error> {
        if let Some((name, value)) = self.credential_header(ctx).await? {
            // Metadata are HTTP/2 headers: the header goes as it is.
            let key = tonic::metadata::AsciiMetadataKey::from_bytes(name.as_str().as_bytes());
            let value = tonic::metadata::AsciiMetadataValue::try_from(value.as_bytes());
            if let (Ok(key), Ok(value)) = (key, value) {
                req.metadata_mut().insert(key, value);
            }
        }
        if let Some(remaining) = ctx.remaining() {
            req.set_timeout(remaining);
        }
        if let Ok(v) = tonic::metadata::AsciiMetadataValue::try_from(
            ctx.trace().traceparent_bytes().as_slice(),
        ) {
            req.metadata_mut().insert(TRACEPARENT, v);
        }
        for (name, value) in self.extra_headers() {
            let key = tonic::metadata::AsciiMetadataKey::from_bytes(name.as_bytes());
            let value = tonic::metadata::AsciiMetadataValue::try_from(value.as_str());
            match (key, value) {
                (Ok(k), Ok(v)) => {
                    req.metadata_mut().append(k, v);
                }
                _ => {
                    return Err(Error::invalid_argument(format!(
                        "invalid metadata `{name}`"
                    )))
                }
            }
        }
        Ok(())
    }

    pub(super) fn extra_headers(&self) -> &[(String, String)] {
        self.options
            .as_deref()
            .map_or(&[], |o| o.headers.as_slice())
    }
}

/// A tonic codec that sends and receives already-encoded messages, so a
/// request is encoded once however often it is retried.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        bytes::BufMut::put(dst, item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        let len = src.remaining();
        Ok(Some(src.copy_to_bytes(len)))
    }
}

/// Whether the balancer had no instance for the attempt.
fn no_instance(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(err) = source {
        if err.downcast_ref::<NoInstance>().is_some() {
            return true;
        }
        if let Some(e) = err.downcast_ref::<super::channel::ChannelError>() {
            return no_instance(&*e.0);
        }
        source = err.source();
    }
    false
}

/// Whether a gRPC failure happened before anything was sent.
fn status_never_sent(status: &tonic::Status) -> bool {
    status.source().is_some_and(never_sent)
}

/// Whether an error says the request provably never reached a server: the
/// connection was refused, or an HTTP/2 peer refused the stream before
/// processing it.
fn never_sent(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(err) = source {
        if let Some(e) = err.downcast_ref::<super::channel::ChannelError>() {
            return never_sent(&*e.0);
        }
        if err.downcast_ref::<NoInstance>().is_some() {
            return true;
        }
        if let Some(e) = err.downcast_ref::<hyper_util::client::legacy::Error>() {
            if e.is_connect() {
                return true;
            }
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable
            ) {
                return true;
            }
        }
        if let Some(h2) = err.downcast_ref::<h2::Error>() {
            return h2.reason() == Some(h2::Reason::REFUSED_STREAM);
        }
        if err.downcast_ref::<tonic::transport::Error>().is_some()
            && err.to_string().contains("connect")
        {
            return true;
        }
        source = err.source();
    }
    false
}

/// Whether an error comes from TLS: a certificate refused by either side.
fn tls_refused(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(err) = source {
        if let Some(e) = err.downcast_ref::<super::channel::ChannelError>() {
            return tls_refused(&*e.0);
        }
        if err.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        source = err.source();
    }
    false
}

pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(err) = source {
        text.push_str(": ");
        text.push_str(&err.to_string());
        source = err.source();
    }
    text
}
