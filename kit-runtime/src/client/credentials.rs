//! What a client sends to say who it is: a token, a user and password, an
//! API key, a token fetched and refreshed, or the caller's own.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use http::header::AUTHORIZATION;
use http::{HeaderName, HeaderValue};
use tokio::time::Instant;

use crate::auth::Secret;
use crate::{Context, Error};

/// The header a call's credentials travel in, marked sensitive (HTTP/2
/// never indexes it in HPACK tables).
pub type CredentialHeader = (HeaderName, HeaderValue);

/// Credentials a client attaches to every attempt of every call, on every
/// transport (an HTTP header, gRPC metadata, a NATS header): set for a
/// whole client with [`ClientBuilder::credentials`](super::ClientBuilder::credentials)
/// or for some calls with the generated client's `with_credentials`.
///
/// ```
/// use kit_runtime::client::credentials::{Basic, Bearer, Forward, Refreshing, Token};
/// use std::time::Duration;
/// let _static = Bearer::new("eyJhbGciOi...");
/// let _basic = Basic::new("alice", "correct horse");
/// let _forward = Forward::caller();
/// let _refreshing = Refreshing::new(|| async {
///     // ask the identity provider
///     Ok(Token::new("eyJhbGciOi...", Some(Duration::from_secs(300))))
/// });
/// ```
pub trait Credentials: Send + Sync + 'static {
    /// The header to send with the next attempt of a call made in `ctx`
    /// (`None`: send nothing).
    fn header<'a>(
        &'a self,
        ctx: &'a Context,
    ) -> BoxFuture<'a, Result<Option<CredentialHeader>, Error>>;
}

fn sensitive(value: &str, what: &str) -> Result<HeaderValue, Error> {
    let mut value = HeaderValue::try_from(value)
        .map_err(|_| Error::invalid_argument(format!("{what} cannot travel in a header")))?;
    value.set_sensitive(true);
    Ok(value)
}

/// A fixed bearer token: `Authorization: Bearer TOKEN`.
#[derive(Clone, Debug)]
pub struct Bearer(Secret<String>);

impl Bearer {
    /// Sends `token`.
    pub fn new(token: impl Into<String>) -> Bearer {
        Bearer(Secret::new(token.into()))
    }
}

impl Credentials for Bearer {
    fn header<'a>(
        &'a self,
        _: &'a Context,
    ) -> BoxFuture<'a, Result<Option<CredentialHeader>, Error>> {
        let header = sensitive(&format!("Bearer {}", self.0.expose()), "the token");
        Box::pin(async move { header.map(|v| Some((AUTHORIZATION, v))) })
    }
}

/// HTTP basic: `Authorization: Basic base64(user:password)`.
#[derive(Clone, Debug)]
pub struct Basic(Secret<String>);

impl Basic {
    /// Sends `user` and `password`.
    pub fn new(user: &str, password: &str) -> Basic {
        let encoded = crate::base64::encode(format!("{user}:{password}").as_bytes());
        Basic(Secret::new(format!("Basic {encoded}")))
    }
}

impl Credentials for Basic {
    fn header<'a>(
        &'a self,
        _: &'a Context,
    ) -> BoxFuture<'a, Result<Option<CredentialHeader>, Error>> {
        let header = sensitive(self.0.expose(), "the user name or password");
        Box::pin(async move { header.map(|v| Some((AUTHORIZATION, v))) })
    }
}

/// An API key in a header (`x-api-key` unless told otherwise).
#[derive(Clone, Debug)]
pub struct ApiKey {
    header: HeaderName,
    key: Secret<String>,
}

impl ApiKey {
    /// Sends `key` in `x-api-key`.
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey {
            header: HeaderName::from_static("x-api-key"),
            key: Secret::new(key.into()),
        }
    }

    /// Sends it in `header` instead.
    pub fn in_header(mut self, header: HeaderName) -> ApiKey {
        self.header = header;
        self
    }
}

impl Credentials for ApiKey {
    fn header<'a>(
        &'a self,
        _: &'a Context,
    ) -> BoxFuture<'a, Result<Option<CredentialHeader>, Error>> {
        let header = sensitive(self.key.expose(), "the API key");
        Box::pin(async move { header.map(|v| Some((self.header.clone(), v))) })
    }
}

/// The `Authorization` header the request being served came with, passed
/// on to the next hop (the caller's token, when this service calls
/// another on the caller's behalf). Outside a request, or on an endpoint
/// without `auth`, nothing is sent; an API key in its own header is not
/// forwarded.
#[derive(Clone, Copy, Debug, Default)]
pub struct Forward;

impl Forward {
    /// Forwards the caller's credentials.
    pub fn caller() -> Forward {
        Forward
    }
}

impl Credentials for Forward {
    fn header<'a>(
        &'a self,
        ctx: &'a Context,
    ) -> BoxFuture<'a, Result<Option<CredentialHeader>, Error>> {
        let header = ctx.caller_credentials().cloned().map(|mut v| {
            v.set_sensitive(true);
            (AUTHORIZATION, v)
        });
        Box::pin(async move { Ok(header) })
    }
}

/// A bearer token from a [`Refreshing`] source, and how long it lasts.
#[derive(Clone, Debug)]
pub struct Token {
    value: Secret<String>,
    expires_in: Option<Duration>,
}

impl Token {
    /// `value`, good for `expires_in` (`None`: until the server refuses it;
    /// it is then never refreshed).
    pub fn new(value: impl Into<String>, expires_in: Option<Duration>) -> Token {
        Token {
            value: Secret::new(value.into()),
            expires_in,
        }
    }
}

type Fetch = Arc<dyn Fn() -> BoxFuture<'static, Result<Token, Error>> + Send + Sync>;

/// A bearer token fetched from a source of yours (an OAuth client
/// credentials grant, a file a sidecar rewrites) and fetched again shortly
/// before it expires: one fetch at a time, shared by every call.
pub struct Refreshing {
    fetch: Fetch,
    early: Duration,
    current: tokio::sync::Mutex<Option<(HeaderValue, Option<Instant>)>>,
}

impl Refreshing {
    /// Tokens from `fetch`, refreshed 30 s before they expire.
    pub fn new<F, Fut>(fetch: F) -> Refreshing
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Token, Error>> + Send + 'static,
    {
        Refreshing {
            fetch: Arc::new(move || Box::pin(fetch())),
            early: Duration::from_secs(30),
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// Refreshes this long before expiry instead.
    pub fn refresh_before(mut self, early: Duration) -> Refreshing {
        self.early = early;
        self
    }
}

impl std::fmt::Debug for Refreshing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refreshing")
            .field("early", &self.early)
            .finish_non_exhaustive()
    }
}

impl Credentials for Refreshing {
    fn header<'a>(
        &'a self,
        _: &'a Context,
    ) -> BoxFuture<'a, Result<Option<CredentialHeader>, Error>> {
        Box::pin(async move {
            let mut current = self.current.lock().await;
            if let Some((value, refresh_at)) = &*current {
                if refresh_at.is_none_or(|at| Instant::now() < at) {
                    return Ok(Some((AUTHORIZATION, value.clone())));
                }
            }
            let token = (self.fetch)().await?;
            let value = sensitive(&format!("Bearer {}", token.value.expose()), "the token")?;
            let refresh_at = token
                .expires_in
                .map(|d| Instant::now() + d.saturating_sub(self.early));
            *current = Some((value.clone(), refresh_at));
            Ok(Some((AUTHORIZATION, value)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn headers_are_sensitive_and_printed_redacted() {
        let ctx = Context::root();
        let (name, value) = Bearer::new("t0k3n").header(&ctx).await.unwrap().unwrap();
        assert_eq!(name, AUTHORIZATION);
        assert_eq!(value, "Bearer t0k3n");
        assert!(value.is_sensitive());
        assert!(!format!("{:?}", Bearer::new("t0k3n")).contains("t0k3n"));
        let (_, value) = Basic::new("alice", "pw")
            .header(&ctx)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(value, "Basic YWxpY2U6cHc=");
        let (name, _) = ApiKey::new("k").header(&ctx).await.unwrap().unwrap();
        assert_eq!(name, "x-api-key");
        assert!(Forward::caller().header(&ctx).await.unwrap().is_none());
        let forwarded = ctx.with_principal(
            crate::auth::Principal::new("jwt", "u"),
            Some(HeaderValue::from_static("Bearer abc")),
        );
        let (_, value) = Forward::caller().header(&forwarded).await.unwrap().unwrap();
        assert_eq!(value, "Bearer abc");
        assert!(!format!("{forwarded:?}").contains("abc"));
    }

    #[tokio::test]
    async fn refreshing_tokens_are_fetched_once_until_they_are_due() {
        let fetches = Arc::new(AtomicUsize::new(0));
        let counter = fetches.clone();
        let source = Refreshing::new(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                Ok(Token::new(
                    format!("t{n}"),
                    Some(Duration::from_millis(300)),
                ))
            }
        })
        .refresh_before(Duration::from_millis(100));
        let ctx = Context::root();
        for _ in 0..5 {
            let (_, v) = source.header(&ctx).await.unwrap().unwrap();
            assert_eq!(v, "Bearer t0");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        let (_, v) = source.header(&ctx).await.unwrap().unwrap();
        assert_eq!(v, "Bearer t1");
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }
}
