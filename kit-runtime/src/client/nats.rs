//! Calls over NATS request/reply: the payload a generated client built,
//! sent to `[PREFIX.]SERVICE.ENDPOINT` with the deadline and trace in
//! headers; a reply with `Kit-Code` is the error in its body.

use std::time::Duration;

use async_nats::{HeaderMap as NatsHeaders, RequestErrorKind};
use bytes::Bytes;
use tokio::sync::OnceCell;

use super::call::Failure;
use super::Client;
use crate::deadline::TIMEOUT_HEADER;
use crate::descriptor::EndpointDescriptor;
use crate::trace::TRACEPARENT;
use crate::transport::nats::{subject, CODE_HEADER, NACK_HEADER};
use crate::wire::WireCodec;
use crate::{Code, Context, Error};

/// How long a call without a deadline waits for its reply (the server's
/// default `--request-timeout`).
const NO_DEADLINE_WAIT: Duration = Duration::from_secs(30);

/// A client's NATS connection, made on first use.
pub(crate) struct NatsConn {
    url: String,
    prefix: Option<String>,
    connect_timeout: Duration,
    client: OnceCell<async_nats::Client>,
}

impl NatsConn {
    pub(crate) fn new(url: String, prefix: Option<String>, connect_timeout: Duration) -> NatsConn {
        NatsConn {
            url,
            prefix,
            connect_timeout,
            client: OnceCell::new(),
        }
    }

    /// The connection, connecting now if this is the first call (again
    /// on the next call if connecting failed).
    async fn client(&self) -> Result<&async_nats::Client, Error> {
        self.client
            .get_or_try_init(|| async {
                async_nats::ConnectOptions::new()
                    .connection_timeout(self.connect_timeout)
                    .connect(self.url.as_str())
                    .await
                    .map_err(|e| {
                        Error::unavailable(format!("cannot connect to NATS at {}: {e}", self.url))
                    })
            })
            .await
    }
}

impl Client {
    /// Calls endpoint number `endpoint` over NATS with `payload` (see
    /// `transport::nats::payload`) and decodes the reply with `codec`,
    /// retrying as the endpoint and client allow.
    pub async fn call_nats<T>(
        &self,
        endpoint: usize,
        payload: Bytes,
        codec: WireCodec<T>,
    ) -> Result<T, Error> {
        let desc = &self.inner.service.endpoints[endpoint];
        let bytes = self
            .run(endpoint, |ctx, _avoid| {
                self.nats_attempt(ctx, desc, payload.clone())
            })
            .await?;
        // An empty reply answers a method that returns `()`.
        let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        codec
            .decode(bytes)
            .map_err(|e| Error::internal(format!("cannot decode the reply: {e}")))
    }

    async fn nats_attempt(
        &self,
        ctx: Context,
        desc: &EndpointDescriptor,
        payload: Bytes,
    ) -> Result<Bytes, Failure> {
        let what = format!("{}.{}", desc.service, desc.name);
        let Some(nats) = self.inner.nats.as_ref() else {
            return Err(Failure::before_sending(Error::failed_precondition(
                "a NATS client is built with .nats_url(\"nats://HOST:PORT\")",
            )));
        };
        if desc.http.is_none() {
            return Err(Failure::before_sending(Error::unimplemented(format!(
                "{what} has no HTTP route, so it is not served over NATS"
            ))));
        }
        let client = nats.client().await.map_err(Failure::before_sending)?;
        let mut headers = NatsHeaders::new();
        if let Ok(traceparent) = std::str::from_utf8(&ctx.trace().traceparent_bytes()) {
            headers.insert(TRACEPARENT, traceparent);
        }
        let wait = match ctx.remaining() {
            Some(remaining) => {
                let millis = u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX);
                headers.insert(TIMEOUT_HEADER.as_str(), millis.to_string());
                remaining
            }
            None => NO_DEADLINE_WAIT,
        };
        if let Some((name, value)) = self
            .credential_header(&ctx)
            .await
            .map_err(Failure::before_sending)?
        {
            if let Ok(value) = value.to_str() {
                headers.insert(name.as_str(), value);
            }
        }
        for (name, value) in self.extra_headers() {
            headers.append(name.as_str(), value.as_str());
        }
        let subject = subject(nats.prefix.as_deref(), desc.service, desc.name);
        let request = async_nats::Request::new()
            .payload(payload)
            .headers(headers)
            .timeout(Some(wait));
        let reply = match client.send_request(subject.clone(), request).await {
            Ok(reply) => reply,
            Err(e) => {
                let (error, maybe_processed) = match e.kind() {
                    RequestErrorKind::NoResponders => (
                        Error::unavailable(format!(
                            "{what}: no responders on NATS subject {subject}"
                        )),
                        false,
                    ),
                    RequestErrorKind::TimedOut => (
                        Error::deadline_exceeded(format!("{what}: deadline exceeded")),
                        true,
                    ),
                    RequestErrorKind::InvalidSubject | RequestErrorKind::MaxPayloadExceeded => {
                        (Error::invalid_argument(format!("{what}: {e}")), false)
                    }
                    RequestErrorKind::Other => {
                        (Error::unavailable(format!("{what}: NATS: {e}")), true)
                    }
                };
                return Err(Failure {
                    error,
                    maybe_processed,
                    no_instance: false,
                    nack: false,
                });
            }
        };
        let code = reply
            .headers
            .as_ref()
            .and_then(|h| h.get(CODE_HEADER))
            .map(|v| v.as_str().to_string());
        let Some(code) = code else {
            return Ok(reply.payload);
        };
        let nack = reply
            .headers
            .as_ref()
            .is_some_and(|h| h.get(NACK_HEADER).is_some());
        let error = Error::from_json(&reply.payload).unwrap_or_else(|| {
            Error::new(
                Code::from_name(&code).unwrap_or(Code::Unknown),
                format!("{what}: {}", String::from_utf8_lossy(&reply.payload).trim()),
            )
        });
        Err(Failure {
            error,
            maybe_processed: !nack,
            no_instance: false,
            nack,
        })
    }
}
