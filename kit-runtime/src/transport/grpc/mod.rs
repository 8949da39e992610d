//! gRPC: status mapping, the trailers-only error response, reading
//! `grpc-timeout`, and the routes that mount unary methods ([`routes`]).

pub(crate) mod routes;
mod streaming;

use std::time::Duration;

use axum::body::Body;
use http::HeaderMap;

use super::{Protocol, ResponseCode};
use crate::deadline::{parse_grpc_timeout, GRPC_TIMEOUT_HEADER};
use crate::error::{from_status_details, to_status_details};
use crate::{Code, Error};

/// The gRPC protocol (HTTP/2, protobuf bodies, status in trailers).
pub(crate) struct Grpc;

impl Protocol for Grpc {
    const NAME: &'static str = "grpc";

    fn caller_timeout(headers: &HeaderMap) -> Result<Option<Duration>, Error> {
        timeout_from_headers(headers)
    }

    fn error_response(err: &Error) -> http::Response<Body> {
        let mut response = to_status(err)
            .into_http::<tonic::body::Body>()
            .map(Body::new);
        response.extensions_mut().insert(ResponseCode(err.code()));
        response
    }
}

/// `kit::Error` as a `tonic::Status` with the same code and message, and
/// its details in `grpc-status-details-bin`.
pub(crate) fn to_status(err: &Error) -> tonic::Status {
    let code = tonic::Code::from_i32(err.code().as_i32());
    if err.details().is_empty() {
        return tonic::Status::new(code, err.message());
    }
    let details = to_status_details(err.code().as_i32(), err.message(), err.details());
    tonic::Status::with_details(code, err.message(), details.into())
}

/// A `tonic::Status` as a `kit::Error` with the same code, message and
/// details.
pub(crate) fn from_status(status: &tonic::Status) -> Error {
    let mut err = Error::new(Code::from_i32(status.code() as i32), status.message());
    for detail in from_status_details(status.details()) {
        err = err.with_detail(detail);
    }
    err
}

impl From<Error> for tonic::Status {
    fn from(err: Error) -> tonic::Status {
        to_status(&err)
    }
}

impl From<tonic::Status> for Error {
    fn from(status: tonic::Status) -> Error {
        from_status(&status)
    }
}

/// Reads `grpc-timeout`; a malformed one is INVALID_ARGUMENT (grpc-go
/// refuses it too, as INTERNAL).
pub(crate) fn timeout_from_headers(headers: &HeaderMap) -> Result<Option<Duration>, Error> {
    let Some(value) = headers.get(&GRPC_TIMEOUT_HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(parse_grpc_timeout)
        .map(Some)
        .ok_or_else(|| {
            Error::invalid_argument(format!(
                "malformed grpc-timeout {value:?}: write up to 8 digits and a unit of H, M, S, m, u or n"
            ))
        })
}

/// Whether a request is gRPC: its content type starts with `application/grpc`.
pub(crate) fn is_grpc<B>(req: &http::Request<B>) -> bool {
    req.headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// The code of a gRPC response: `grpc-status` in the headers for a
/// trailers-only (error) response, OK otherwise.
pub(crate) fn response_code<B>(response: &http::Response<B>) -> Code {
    response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(Code::from_i32)
        .unwrap_or(Code::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_every_code() {
        for code in Code::ALL {
            let err = Error::new(code, "m");
            let status = to_status(&err);
            assert_eq!(status.code() as i32, code.as_i32());
            assert_eq!(from_status(&status), err);
        }
    }

    #[test]
    fn error_responses_are_trailers_only() {
        let resp = Grpc::error_response(&Error::deadline_exceeded("late"));
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["grpc-status"], "4");
        assert_eq!(response_code(&resp), Code::DeadlineExceeded);
    }
}
