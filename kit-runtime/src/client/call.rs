//! One call: deadline, attempts with retries, metrics and span.

use std::error::Error as _;
use std::time::Instant as StdInstant;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderValue, Request};
use http_body_util::{BodyExt, Full};
use tokio::time::Instant;
use tracing::Instrument;

use super::Client;
use crate::deadline::{timeout_header_value, TIMEOUT_HEADER};
use crate::retry::is_retryable;
use crate::trace::TRACEPARENT;
use crate::wire::WireCodec;
use crate::{Code, Context, Error};

/// What the generated client sends: the path with parameters filled in and
/// the query string, and the JSON body if the route has one.
#[derive(Clone, Debug)]
pub struct HttpCall {
    /// Path and query, already percent-encoded.
    pub path_and_query: String,
    /// The JSON body, if any.
    pub body: Option<Bytes>,
}

/// How an attempt failed, and whether the server may have seen it.
struct Failure {
    error: Error,
    maybe_processed: bool,
}

impl Client {
    /// Calls endpoint number `endpoint` of the service and decodes a `T`
    /// from the JSON answer, retrying as the endpoint and client allow.
    pub async fn call<T>(
        &self,
        endpoint: usize,
        call: HttpCall,
        codec: WireCodec<T>,
    ) -> Result<T, Error> {
        let desc = &self.inner.service.endpoints[endpoint];
        let span = tracing::debug_span!(
            "client",
            service = desc.service,
            endpoint = desc.name,
            transport = "http"
        );
        let metrics = self.metrics(endpoint);
        let started = StdInstant::now();
        let result = self
            .call_with_retries(endpoint, call, codec)
            .instrument(span)
            .await;
        let code = result.as_ref().err().map(Error::code).unwrap_or(Code::Ok);
        metrics.finish(code, started.elapsed());
        result
    }

    async fn call_with_retries<T>(
        &self,
        endpoint: usize,
        call: HttpCall,
        codec: WireCodec<T>,
    ) -> Result<T, Error> {
        let inner = &*self.inner;
        let desc = &inner.service.endpoints[endpoint];
        let mut ctx = Context::current();
        if let Some(timeout) = desc.timeout.or(inner.timeout) {
            ctx = ctx.with_timeout(timeout);
        }
        let max_retries = inner.retries.unwrap_or(desc.retry);
        inner.budget.deposit();
        let mut attempt = 0u32;
        loop {
            let outcome = match ctx.deadline() {
                Some(deadline) => {
                    tokio::time::timeout_at(deadline, self.attempt(&ctx, desc.name, &call))
                        .await
                        .unwrap_or_else(|_| {
                            Err(Failure {
                                error: Error::deadline_exceeded(format!(
                                    "{}.{}: deadline exceeded",
                                    desc.service, desc.name
                                )),
                                maybe_processed: true,
                            })
                        })
                }
                None => self.attempt(&ctx, desc.name, &call).await,
            };
            let failure = match outcome {
                Ok(bytes) => return decode(codec, &bytes),
                Err(f) => f,
            };
            let may_retry = attempt < max_retries
                && is_retryable(
                    failure.error.code(),
                    failure.maybe_processed,
                    desc.idempotent,
                );
            if !may_retry {
                return Err(failure.error);
            }
            let delay = inner.backoff.delay(attempt);
            let fits = ctx.deadline().is_none_or(|d| Instant::now() + delay < d);
            if !fits || !inner.budget.withdraw() {
                return Err(failure.error);
            }
            tracing::debug!(attempt, error = %failure.error, ?delay, "retrying");
            self.metrics(endpoint).retry();
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn attempt(&self, ctx: &Context, name: &str, call: &HttpCall) -> Result<Bytes, Failure> {
        let inner = &*self.inner;
        let desc = inner.service.endpoint(name).ok_or_else(|| Failure {
            error: Error::internal("unknown endpoint"),
            maybe_processed: false,
        })?;
        let route = desc.http.ok_or_else(|| Failure {
            error: Error::unimplemented(format!(
                "{}.{} has no HTTP route",
                desc.service, desc.name
            )),
            maybe_processed: false,
        })?;
        let base = self.next_base();
        let uri = http::Uri::builder()
            .scheme(base.scheme.clone())
            .authority(base.authority.clone())
            .path_and_query(call.path_and_query.as_str())
            .build()
            .map_err(|e| Failure {
                error: Error::invalid_argument(format!("cannot build request URI: {e}")),
                maybe_processed: false,
            })?;
        let mut req = Request::builder()
            .method(route.method.as_http())
            .uri(uri)
            .body(Full::new(call.body.clone().unwrap_or_default()))
            .map_err(|e| Failure {
                error: Error::internal(format!("cannot build request: {e}")),
                maybe_processed: false,
            })?;
        let headers = req.headers_mut();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if call.body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        headers.insert(TRACEPARENT, ctx.trace().header_value());
        if let Some(remaining) = ctx.remaining() {
            headers.insert(TIMEOUT_HEADER, timeout_header_value(remaining));
        }
        let response = inner.http.request(req).await.map_err(|e| {
            let maybe_processed = !(e.is_connect() || refused_stream(&e));
            Failure {
                error: Error::unavailable(format!(
                    "{}.{}: {}",
                    desc.service,
                    desc.name,
                    error_chain(&e)
                )),
                maybe_processed,
            }
        })?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| Failure {
            error: Error::unavailable(format!(
                "{}.{}: reading the response: {e}",
                desc.service, desc.name
            )),
            maybe_processed: true,
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
            maybe_processed: true,
        })
    }
}

fn decode<T>(codec: WireCodec<T>, bytes: &[u8]) -> Result<T, Error> {
    codec
        .decode(bytes)
        .map_err(|e| Error::internal(format!("cannot decode the response: {e}")))
}

/// Whether an HTTP/2 peer refused the stream before processing it.
fn refused_stream(e: &hyper_util::client::legacy::Error) -> bool {
    let mut source = e.source();
    while let Some(err) = source {
        if let Some(h2) = err.downcast_ref::<h2::Error>() {
            return h2.reason() == Some(h2::Reason::REFUSED_STREAM);
        }
        source = err.source();
    }
    false
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(err) = source {
        text.push_str(": ");
        text.push_str(&err.to_string());
        source = err.source();
    }
    text
}
