//! A small HTTP/1.1 client for talking to kit servers: one request, a
//! deadline, and errors that read as one line naming the instance.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use kit::tls::ClientTls;

use crate::Failure;

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Reply {
    /// The body as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An HTTP client (HTTP/1.1 in plain text; over TLS, HTTP/2 when the
/// server picks it) with a per-exchange deadline.
#[derive(Clone)]
pub struct Http {
    client: Client<kit::tls::Connector, Full<Bytes>>,
    pub timeout: Duration,
    /// How `https://` instances are reached, by HTTP and gRPC alike.
    pub tls: Option<ClientTls>,
}

impl Http {
    /// `https://` trusts the system's CA certificates.
    pub fn new(timeout: Duration) -> Http {
        let connector = kit::tls::hyper_connector(None, false)
            .expect("a TLS configuration with no CA and no client certificate always builds");
        Http {
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
            tls: None,
        }
    }

    /// `https://` as `tls` says (CAs, client certificate).
    pub fn with_tls(timeout: Duration, tls: ClientTls) -> Result<Http, Failure> {
        let connector = kit::tls::hyper_connector(Some(&tls), false)
            .map_err(|e| Failure::new(e.message().to_string()))?;
        Ok(Http {
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
            tls: Some(tls),
        })
    }

    /// `GET base + path`.
    pub async fn get(&self, base: &str, path: &str) -> Result<Reply, Failure> {
        self.send(Method::GET, base, path, &[], None).await
    }

    /// Sends one request to `base` (`http://host:port`) + `path`.
    pub async fn send(
        &self,
        method: Method,
        base: &str,
        path: &str,
        headers: &[(String, String)],
        body: Option<Bytes>,
    ) -> Result<Reply, Failure> {
        let url = format!("{}{path}", base.trim_end_matches('/'));
        let mut req = Request::builder().method(method).uri(&url);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if body.is_some() {
            req = req.header(http::header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| Failure::new(format!("{url}: cannot make a request: {e}")))?;
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| unreachable(base, &e))?;
            let (parts, body) = resp.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| Failure::new(format!("{base}: the answer broke off: {e}")))?
                .to_bytes();
            Ok(Reply {
                status: parts.status,
                body,
            })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Failure::new(format!(
                "{base}: no answer within {}",
                humantime::format_duration(self.timeout)
            ))),
        }
    }
}

/// `base: unreachable (connection refused)`, from the innermost cause.
pub fn unreachable(base: &str, e: &(dyn std::error::Error + 'static)) -> Failure {
    Failure::new(format!("{base}: unreachable ({})", root_cause(e)))
}

/// The innermost error's text, e.g. `Connection refused (os error 111)`.
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let text = cause.to_string();
    // "Connection refused (os error 111)" reads better without the number.
    match text.split_once(" (os error") {
        Some((head, _)) => head.to_lowercase(),
        None => text,
    }
}
