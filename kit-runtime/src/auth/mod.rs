//! Who is calling: authenticators turn a request's credentials into a
//! [`Principal`], and the endpoints' annotations say which authenticators
//! may vouch for a caller and what the caller must hold.
//!
//! ```
//! # #[derive(Default)] struct Orders;
//! #[kit::service(auth = "jwt")]
//! impl Orders {
//!     /// Anyone with a valid token.
//!     #[endpoint(http = "GET /orders/{id}", grpc)]
//!     async fn get(&self, id: u64) -> String { format!("order {id}") }
//!
//!     /// Tokens carrying the `orders:write` scope only.
//!     #[endpoint(http = "POST /orders", grpc, requires = "scope:orders:write")]
//!     async fn create(&self, item: String) -> u64 {
//!         let who = kit::Context::current();
//!         let _subject = who.principal().map(|p| p.subject().to_owned());
//!         1
//!     }
//!
//!     /// No credentials needed.
//!     #[endpoint(http = "GET /version", public)]
//!     async fn version(&self) -> String { "1".into() }
//! }
//! ```
//!
//! The server knows the authenticators its flags configure (`--jwt-*`,
//! `--basic-auth-file`, `--api-keys-file`; `mtls` is always there) and the
//! ones added with [`Server::authenticator`](crate::Server::authenticator);
//! it refuses to start when an endpoint names one it does not have.

mod api_key;
mod basic;
mod file;
mod jwks;
mod jwt;
mod mtls;
mod policy;
mod principal;
mod request;
mod secret;

use futures_util::future::BoxFuture;

pub use api_key::ApiKeys;
pub use basic::{hash_password, BasicAuth};
pub use jwt::{Jwt, JwtAlgorithm};
pub use mtls::Mtls;
pub use policy::Authenticators;
pub(crate) use policy::Verdict;
pub use principal::Principal;
pub use request::AuthRequest;
pub use secret::Secret;

use crate::Error;

/// A way to tell who sent a request: JWT bearer tokens ([`Jwt`]), HTTP
/// basic ([`BasicAuth`]), API keys ([`ApiKeys`]), client certificates
/// ([`Mtls`]) or one of your own, registered under a name with
/// [`Server::authenticator`](crate::Server::authenticator) and named in
/// `auth = "..."`.
///
/// Answer `Ok(None)` when the request carries no credentials of your kind
/// (the next authenticator the endpoint allows is asked), `Ok(Some(..))`
/// for a caller you recognise, and an error (UNAUTHENTICATED, with a
/// message that never repeats the credential) for credentials that are
/// there but wrong.
///
/// ```
/// use futures_util::future::BoxFuture;
/// use kit_runtime::auth::{AuthRequest, Authenticate, Principal};
///
/// /// Callers inside the building send `x-badge`.
/// struct Badge;
///
/// impl Authenticate for Badge {
///     fn authenticate<'a>(
///         &'a self,
///         request: &'a AuthRequest<'a>,
///     ) -> BoxFuture<'a, Result<Option<Principal>, kit_runtime::Error>> {
///         Box::pin(async move {
///             Ok(request
///                 .header("x-badge")
///                 .map(|badge| Principal::new("badge", badge).with_roles(["staff"])))
///         })
///     }
/// }
/// ```
pub trait Authenticate: Send + Sync + 'static {
    /// The caller, if the request carries credentials of this kind.
    fn authenticate<'a>(
        &'a self,
        request: &'a AuthRequest<'a>,
    ) -> BoxFuture<'a, Result<Option<Principal>, Error>>;

    /// The `WWW-Authenticate` challenge sent with a 401, e.g.
    /// `Bearer realm="kit"`.
    fn challenge(&self) -> Option<String> {
        None
    }
}

/// The realm named in challenges.
pub(crate) const REALM: &str = "kit";

/// The answer to credentials that are there but wrong: one fixed message
/// per reason, never the credential.
pub(crate) fn unauthenticated(why: &str) -> Error {
    Error::new(crate::Code::Unauthenticated, why.to_owned())
}
