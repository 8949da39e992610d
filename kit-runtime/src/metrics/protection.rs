//! What the server's protections do, as metrics: requests and connections
//! refused by reason, open connections, the limits in force.

use metrics::Label;

use crate::descriptor::EndpointDescriptor;

/// Requests and connections refused, by `reason`: `concurrency`, `rate`,
/// `deadline` (expired before it ran), `body_timeout`, `body_memory`,
/// `connections` (the connection limit), with the endpoint's `service` and
/// `endpoint` where there is one (empty otherwise).
pub const SERVER_REJECTED: &str = "kit_server_rejected_total";
/// Connections open now.
pub const SERVER_CONNECTIONS: &str = "kit_server_connections";
/// Connections closed by the server, by `reason`: `idle`, `evicted` (the
/// oldest idle one, to make room), `header_timeout` (an HTTP/1 request head
/// that did not arrive in time), `shutdown`, `linger` (dropped after
/// shutdown because it did not close).
pub const SERVER_CONNECTIONS_CLOSED: &str = "kit_server_connections_closed_total";
/// Errors accepting connections (e.g. out of file descriptors).
pub const SERVER_ACCEPT_ERRORS: &str = "kit_server_accept_errors_total";
/// TLS handshakes that failed, by `reason`: `timeout` (not done within the
/// header timeout), `eof` (the peer closed), `no_client_cert` (mTLS
/// required and none presented), `bad_certificate` (a client certificate
/// that does not verify), `peer_alert` (the client refused ours, e.g. an
/// unknown CA), `protocol` (not TLS, e.g. plain HTTP), `other`.
pub const SERVER_TLS_HANDSHAKE_ERRORS: &str = "kit_server_tls_handshake_errors_total";
/// An endpoint's concurrency limit now (adaptive limits move).
pub const SERVER_CONCURRENCY_LIMIT: &str = "kit_server_concurrency_limit";
/// Request body bytes being received, across the process.
pub const SERVER_BODY_BYTES: &str = "kit_server_body_bytes";

/// Counts a refusal that belongs to no endpoint.
pub(crate) fn server_rejected(reason: &'static str) {
    metrics::counter!(SERVER_REJECTED, "service" => "", "endpoint" => "", "reason" => reason)
        .increment(1);
}

/// Counts a refusal of a request to `endpoint`.
pub(crate) fn endpoint_rejected(endpoint: &EndpointDescriptor, reason: &'static str) {
    metrics::counter!(
        SERVER_REJECTED,
        "service" => endpoint.service,
        "endpoint" => endpoint.name,
        "reason" => reason
    )
    .increment(1);
}

/// The gauge of `endpoint`'s concurrency limit.
pub(crate) fn concurrency_limit_gauge(endpoint: &EndpointDescriptor) -> metrics::Gauge {
    metrics::gauge!(
        SERVER_CONCURRENCY_LIMIT,
        vec![
            Label::new("service", endpoint.service),
            Label::new("endpoint", endpoint.name)
        ]
    )
}

/// Counts a connection the server closed, by `reason`.
pub(crate) fn connection_closed(reason: &'static str) {
    metrics::counter!(SERVER_CONNECTIONS_CLOSED, "reason" => reason).increment(1);
}

pub(crate) fn describe() {
    use metrics::{describe_counter, describe_gauge, Unit};
    describe_counter!(
        SERVER_REJECTED,
        "Requests and connections refused by the server's protections, by reason."
    );
    describe_gauge!(SERVER_CONNECTIONS, "Connections open now.");
    describe_counter!(
        SERVER_CONNECTIONS_CLOSED,
        "Connections the server closed, by reason."
    );
    describe_counter!(SERVER_ACCEPT_ERRORS, "Errors accepting connections.");
    describe_counter!(
        SERVER_TLS_HANDSHAKE_ERRORS,
        "TLS handshakes that failed, by reason."
    );
    describe_gauge!(
        SERVER_CONCURRENCY_LIMIT,
        "An endpoint's concurrency limit now."
    );
    describe_gauge!(
        SERVER_BODY_BYTES,
        Unit::Bytes,
        "Request body bytes being received now."
    );
}
