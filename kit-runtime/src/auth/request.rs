//! What an authenticator may look at.

use http::header::AUTHORIZATION;
use http::{HeaderMap, Request};

use super::Secret;
use crate::tls::PeerIdentity;

/// The parts of a request that carry credentials: its headers (gRPC
/// metadata are HTTP/2 headers; NATS message headers arrive as headers
/// too) and the peer's verified client certificate.
#[derive(Clone, Copy, Debug)]
pub struct AuthRequest<'a> {
    headers: &'a HeaderMap,
    peer_identity: Option<&'a PeerIdentity>,
}

impl<'a> AuthRequest<'a> {
    /// A request with these headers and peer.
    pub fn new(headers: &'a HeaderMap, peer_identity: Option<&'a PeerIdentity>) -> AuthRequest<'a> {
        AuthRequest {
            headers,
            peer_identity,
        }
    }

    /// The credentials of `request`.
    pub fn of<B>(request: &'a Request<B>) -> AuthRequest<'a> {
        let peer = request
            .extensions()
            .get::<std::sync::Arc<PeerIdentity>>()
            .map(|p| &**p);
        AuthRequest::new(request.headers(), peer)
    }

    /// All headers.
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }

    /// One header, when it is there and is text.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The token of an `Authorization: Bearer TOKEN` header.
    pub fn bearer_token(&self) -> Option<&'a str> {
        self.authorization("bearer")
    }

    /// The user and password of an `Authorization: Basic ...` header
    /// (`None` when absent or not valid base64 of `user:password`).
    pub fn basic(&self) -> Option<(String, Secret<String>)> {
        let encoded = self.authorization("basic")?;
        let decoded = crate::base64::decode(encoded)?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        Some((user.to_owned(), Secret::new(password.to_owned())))
    }

    /// Whether the `Authorization` header names `scheme`.
    pub(crate) fn has_authorization(&self, scheme: &str) -> bool {
        self.authorization(scheme).is_some()
    }

    /// The peer's verified client certificate (mTLS).
    pub fn peer_identity(&self) -> Option<&'a PeerIdentity> {
        self.peer_identity
    }

    /// The credentials of an `Authorization: SCHEME ...` header (the
    /// scheme compared case-insensitively, as RFC 9110 says).
    fn authorization(&self, scheme: &str) -> Option<&'a str> {
        let value = self.headers.get(AUTHORIZATION)?.to_str().ok()?;
        let (name, rest) = value.split_once(' ')?;
        name.eq_ignore_ascii_case(scheme)
            .then(|| rest.trim())
            .filter(|c| !c.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn schemes_are_case_insensitive() {
        let headers = with_authorization("bEaReR abc.def.ghi");
        let request = AuthRequest::new(&headers, None);
        assert_eq!(request.bearer_token(), Some("abc.def.ghi"));
        assert!(request.basic().is_none());
    }

    #[test]
    fn basic_splits_at_the_first_colon() {
        // "alice:pa:ss"
        let headers = with_authorization("Basic YWxpY2U6cGE6c3M=");
        let (user, password) = AuthRequest::new(&headers, None).basic().unwrap();
        assert_eq!(user, "alice");
        assert_eq!(password.expose(), "pa:ss");
        let junk = with_authorization("Basic !!!");
        assert!(AuthRequest::new(&junk, None).basic().is_none());
        let empty = with_authorization("Bearer ");
        assert!(AuthRequest::new(&empty, None).bearer_token().is_none());
    }
}
