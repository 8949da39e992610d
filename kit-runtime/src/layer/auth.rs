//! Who may call: the endpoint's [`AuthPolicy`] checked before it runs.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use axum::body::Body;
use futures_util::future::{BoxFuture, Either};
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{Request, Response};
use tower::{Layer, Service};

use crate::auth::{AuthRequest, Authenticators, Verdict};
use crate::descriptor::{AuthPolicy, EndpointDescriptor};
use crate::transport::Protocol;
use crate::Context;

/// Authenticates the caller of an endpoint with `auth` and checks its
/// `requires`; refuses with UNAUTHENTICATED (and `WWW-Authenticate`) or
/// PERMISSION_DENIED in the endpoint's protocol, or runs the rest with the
/// [`Principal`](crate::auth::Principal) in the request's context. Public
/// endpoints pass straight through.
pub(crate) struct AuthLayer<P> {
    policy: Option<AuthPolicy>,
    authenticators: Arc<Authenticators>,
    _protocol: PhantomData<fn() -> P>,
}

impl<P> AuthLayer<P> {
    pub(crate) fn new(
        endpoint: &'static EndpointDescriptor,
        authenticators: Arc<Authenticators>,
    ) -> Self {
        AuthLayer {
            policy: endpoint.auth,
            authenticators,
            _protocol: PhantomData,
        }
    }
}

impl<S, P> Layer<S> for AuthLayer<P> {
    type Service = Authenticated<S, P>;
    fn layer(&self, inner: S) -> Self::Service {
        Authenticated {
            inner,
            guard: self
                .policy
                .map(|policy| (policy, self.authenticators.clone())),
            _protocol: PhantomData,
        }
    }
}

/// The service made by [`AuthLayer`].
pub(crate) struct Authenticated<S, P> {
    inner: S,
    guard: Option<(AuthPolicy, Arc<Authenticators>)>,
    _protocol: PhantomData<fn() -> P>,
}

impl<S: Clone, P> Clone for Authenticated<S, P> {
    fn clone(&self) -> Self {
        Authenticated {
            inner: self.inner.clone(),
            guard: self.guard.clone(),
            _protocol: PhantomData,
        }
    }
}

impl<S, P, B> Service<Request<B>> for Authenticated<S, P>
where
    S: Service<Request<B>, Response = Response<Body>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    P: Protocol,
    B: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response<Body>, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let Some((policy, authenticators)) = self.guard.clone() else {
            return Either::Left(self.inner.call(request));
        };
        // The ready service goes with the request; a clone stays.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Either::Right(Box::pin(async move {
            let verdict = authenticators
                .check(&policy, &AuthRequest::of(&request))
                .await;
            match verdict {
                Verdict::Allowed(principal) => {
                    let forwardable = request.headers().get(AUTHORIZATION).cloned();
                    let ctx = Context::current().with_principal(principal, forwardable);
                    let fut = ctx.clone().sync_scoped(|| inner.call(request));
                    ctx.scoped(fut).await
                }
                Verdict::Refused(error, challenge) => {
                    let mut response = P::error_response(&error);
                    if let Some(challenge) = challenge {
                        response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
                    }
                    Ok(response)
                }
            }
        }))
    }
}
