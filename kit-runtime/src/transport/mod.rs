//! Transports: how requests, answers and errors look on the wire, and the
//! routes that mount endpoints on them.

pub(crate) mod grpc;
pub(crate) mod http;
pub(crate) mod nats;

use std::time::Duration;

use ::http::HeaderMap;
use axum::body::Body;

use crate::{Code, Error};

/// What the transport-independent server layers need from a wire protocol.
pub(crate) trait Protocol: Send + Sync + 'static {
    /// The `transport` label of metrics and spans: `"http"`, `"grpc"` or `"nats"`.
    const NAME: &'static str;
    /// The caller's remaining time, from the protocol's timeout header;
    /// INVALID_ARGUMENT when the header is there but malformed.
    fn caller_timeout(headers: &HeaderMap) -> Result<Option<Duration>, Error>;
    /// The response that carries `err` (with [`ResponseCode`] in its extensions).
    fn error_response(err: &Error) -> ::http::Response<Body>;
}

/// The canonical code of a response, put in its extensions by whoever built
/// it so metrics and logs need not re-parse the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ResponseCode(pub(crate) Code);

impl ResponseCode {
    /// The code recorded in `response`, or the one its HTTP status implies.
    pub(crate) fn of<B>(response: &::http::Response<B>) -> Code {
        response
            .extensions()
            .get::<ResponseCode>()
            .map(|c| c.0)
            .unwrap_or_else(|| Code::from_http_status(response.status()))
    }
}
