//! Transports: how requests and errors look on the wire.

pub mod grpc;
pub mod http;

use crate::{Code, Error};

/// What the transport-independent server layers need from a wire protocol:
/// its name (the `transport` metric label) and how it answers with an error.
pub trait Protocol: Send + Sync + 'static {
    /// Response body type.
    type Body: Send + 'static;
    /// The `transport` label: `"http"` or `"grpc"`.
    const NAME: &'static str;
    /// The response that carries `err` (with [`ResponseCode`] in its extensions).
    fn error_response(err: &Error) -> ::http::Response<Self::Body>;
}

/// The canonical code of a response, put in its extensions by whoever built
/// it so metrics and logs need not re-parse the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseCode(pub Code);

impl ResponseCode {
    /// The code recorded in `response`, or the one its HTTP status implies.
    pub fn of<B>(response: &::http::Response<B>) -> Code {
        response
            .extensions()
            .get::<ResponseCode>()
            .map(|c| c.0)
            .unwrap_or_else(|| Code::from_http_status(response.status()))
    }
}
