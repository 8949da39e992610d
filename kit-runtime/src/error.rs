//! One error model for every transport: a [`Code`], a message and details.

mod details;

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::Code;

pub(crate) use details::{from_status_details, to_status_details};

/// The error type of kit: a canonical [`Code`], a human-readable message and
/// optional structured details.
///
/// Over HTTP it travels as JSON in the shape of Google's AIP-193:
///
/// ```json
/// {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "empty string", "details": []}}
/// ```
///
/// and the generated clients turn that body back into the same `Error`.
/// `code` is the HTTP status of the canonical code (400 for
/// INVALID_ARGUMENT); the response's own status may be more precise (415
/// for a wrong content type, 413 for a body over the limit, 404 and 405
/// for routes). Over gRPC the code and message are the status, and the
/// details travel in the standard `grpc-status-details-bin` trailer.
///
/// A service's own error type can travel typed: convert it with
/// [`Error::with_typed`] and a Rust client gets it back with
/// [`Error::downcast`]; other callers see a standard
/// `google.rpc.ErrorInfo` detail.
///
/// ```
/// use kit_runtime::{Code, Error};
/// let err = Error::invalid_argument("empty string");
/// assert_eq!(err.code(), Code::InvalidArgument);
/// assert_eq!(err.to_string(), "INVALID_ARGUMENT: empty string");
/// ```
#[derive(Clone, PartialEq)]
pub struct Error {
    code: Code,
    message: String,
    details: Vec<serde_json::Value>,
    http_status: Option<http::StatusCode>,
}

/// `Result<T, kit::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident => $code:ident,)*) => {
        $(
            $(#[$doc])*
            pub fn $name(message: impl Into<String>) -> Error {
                Error::new(Code::$code, message)
            }
        )*
    };
}

impl Error {
    /// An error with `code` and `message`.
    pub fn new(code: Code, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
            details: Vec::new(),
            http_status: None,
        }
    }

    constructors! {
        /// `CANCELLED`: the caller gave up.
        cancelled => Cancelled,
        /// `UNKNOWN`.
        unknown => Unknown,
        /// `INVALID_ARGUMENT` (HTTP 400).
        invalid_argument => InvalidArgument,
        /// `DEADLINE_EXCEEDED` (HTTP 504).
        deadline_exceeded => DeadlineExceeded,
        /// `NOT_FOUND` (HTTP 404).
        not_found => NotFound,
        /// `ALREADY_EXISTS` (HTTP 409).
        already_exists => AlreadyExists,
        /// `PERMISSION_DENIED` (HTTP 403).
        permission_denied => PermissionDenied,
        /// `RESOURCE_EXHAUSTED` (HTTP 429).
        resource_exhausted => ResourceExhausted,
        /// `FAILED_PRECONDITION` (HTTP 400).
        failed_precondition => FailedPrecondition,
        /// `ABORTED` (HTTP 409).
        aborted => Aborted,
        /// `OUT_OF_RANGE` (HTTP 400).
        out_of_range => OutOfRange,
        /// `UNIMPLEMENTED` (HTTP 501).
        unimplemented => Unimplemented,
        /// `INTERNAL` (HTTP 500).
        internal => Internal,
        /// `UNAVAILABLE` (HTTP 503): the one code clients retry.
        unavailable => Unavailable,
        /// `DATA_LOSS` (HTTP 500).
        data_loss => DataLoss,
        /// `UNAUTHENTICATED` (HTTP 401).
        unauthenticated => Unauthenticated,
    }

    /// Adds a structured detail (any JSON value, e.g. a `google.rpc.BadRequest`).
    pub fn with_detail(mut self, detail: serde_json::Value) -> Error {
        self.details.push(detail);
        self
    }

    /// Adds `value` as a typed detail: a `google.rpc.ErrorInfo` whose
    /// `reason` is the variant (or type) name in UPPER_SNAKE_CASE and whose
    /// metadata carries the value as JSON. A Rust client with the same type
    /// gets it back with [`Error::downcast`], on either transport.
    ///
    /// ```
    /// #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    /// enum StockError { OutOfStock { sku: String } }
    ///
    /// let e = StockError::OutOfStock { sku: "b-1".into() };
    /// let err = kit_runtime::Error::failed_precondition("out of stock").with_typed(&e);
    /// assert_eq!(err.details()[0]["reason"], "OUT_OF_STOCK");
    /// assert_eq!(err.downcast::<StockError>(), Some(e));
    /// ```
    pub fn with_typed<T: Serialize + ?Sized>(mut self, value: &T) -> Error {
        if let Some(detail) = details::typed_detail(value) {
            self.details.push(detail);
        }
        self
    }

    /// The typed detail of type `T` that [`Error::with_typed`] attached, if
    /// there is one.
    pub fn downcast<T: DeserializeOwned>(&self) -> Option<T> {
        details::find_typed(&self.details)
    }

    /// Answers with `status` over HTTP instead of the code's usual status
    /// (415 for a wrong content type, 413 for a body over the limit).
    pub fn with_http_status(mut self, status: http::StatusCode) -> Error {
        self.http_status = Some(status);
        self
    }

    /// The HTTP status set by [`Error::with_http_status`], if any.
    pub fn http_status_override(&self) -> Option<http::StatusCode> {
        self.http_status
    }

    /// The canonical code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The message, meant for developers.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The structured details, in the order they were added.
    pub fn details(&self) -> &[serde_json::Value] {
        &self.details
    }

    /// Serializes to the AIP-193 JSON shape.
    pub fn to_json(&self) -> Vec<u8> {
        let body = WireError {
            error: WireStatus {
                code: self.code.http_status().as_u16(),
                status: self.code.as_str().into(),
                message: self.message.clone(),
                details: self.details.clone(),
            },
        };
        // Serializing plain strings, numbers and JSON values cannot fail.
        serde_json::to_vec(&body).unwrap_or_default()
    }

    /// Parses the AIP-193 JSON shape; `None` if `body` is not in that shape.
    pub fn from_json(body: &[u8]) -> Option<Error> {
        let wire: WireError = serde_json::from_slice(body).ok()?;
        let code = Code::from_name(&wire.error.status)?;
        Some(Error {
            code,
            message: wire.error.message,
            details: wire.error.details,
            http_status: None,
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// Like `Display` (`CODE: message`), so a `main` that returns an error
/// prints one readable line; `{:#?}` shows every field.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            f.debug_struct("Error")
                .field("code", &self.code)
                .field("message", &self.message)
                .field("details", &self.details)
                .field("http_status", &self.http_status)
                .finish()
        } else {
            fmt::Display::fmt(self, f)
        }
    }
}

impl std::error::Error for Error {}

impl From<std::convert::Infallible> for Error {
    fn from(never: std::convert::Infallible) -> Error {
        match never {}
    }
}

#[derive(Serialize, Deserialize)]
struct WireError {
    error: WireStatus,
}

#[derive(Serialize, Deserialize)]
struct WireStatus {
    code: u16,
    status: String,
    message: String,
    #[serde(default)]
    details: Vec<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_every_code() {
        for code in Code::ALL {
            let err =
                Error::new(code, "boom \"quoted\"").with_detail(serde_json::json!({"field": "s"}));
            let back = Error::from_json(&err.to_json()).expect("parses");
            assert_eq!(back, err);
        }
    }

    /// Found by fuzzing (fuzz/: error_json): serde_json's default float
    /// parsing is not exact, so a detail of 2.2222222222222222e23 came back
    /// one ulp off; kit enables serde_json's `float_roundtrip`.
    #[test]
    fn float_details_round_trip_exactly() {
        for x in [2.2222222222222222e23, 0.1, 1e-300, f64::MAX] {
            let err = Error::unavailable("x").with_detail(serde_json::json!(x));
            assert_eq!(Error::from_json(&err.to_json()), Some(err), "{x}");
            let bytes = serde_json::to_vec(&x).unwrap();
            assert_eq!(serde_json::from_slice::<f64>(&bytes).unwrap(), x);
        }
    }

    #[test]
    fn json_shape_is_aip193() {
        let err = Error::not_found("no such key");
        let value: serde_json::Value = serde_json::from_slice(&err.to_json()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"error": {"code": 404, "status": "NOT_FOUND", "message": "no such key", "details": []}})
        );
    }

    #[test]
    fn foreign_bodies_are_not_errors() {
        assert_eq!(Error::from_json(b"<html>bad gateway</html>"), None);
        assert_eq!(
            Error::from_json(br#"{"error": {"code": 1, "status": "NOPE", "message": ""}}"#),
            None
        );
    }
}
