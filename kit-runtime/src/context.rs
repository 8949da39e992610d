//! The request context: deadline and trace of the call being served,
//! broadcast to every outgoing call made while serving it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use tokio::time::Instant;

use crate::auth::{Principal, Secret};
use crate::descriptor::EndpointDescriptor;
use crate::tls::PeerIdentity;
use crate::trace::{TraceContext, TraceId};

tokio::task_local! {
    static CURRENT: Context;
}

/// What kit knows about the request being served: its trace and deadline.
///
/// The server sets it for the duration of each handler call. A handler can
/// take it as a `&kit::Context` argument or call [`Context::current`]; a
/// generated client called inside the handler reads it and carries the trace
/// and the remaining deadline to the next hop (Finagle's broadcast context).
///
/// Work spawned onto other tasks does not inherit the context; wrap it in
/// [`Context::scope`] to carry it along.
///
/// ```
/// # async fn demo() {
/// use std::time::Duration;
/// use kit_runtime::Context;
/// let ctx = Context::root().with_timeout(Duration::from_secs(1));
/// ctx.clone().scope(async {
///     let seen = Context::current();
///     assert_eq!(seen.trace_id(), ctx.trace_id());
///     assert!(seen.remaining().unwrap() <= Duration::from_secs(1));
/// }).await;
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Context {
    trace: TraceContext,
    deadline: Option<Instant>,
    endpoint: Option<&'static EndpointDescriptor>,
    peer_identity: Option<Arc<PeerIdentity>>,
    principal: Option<Principal>,
    /// The caller's `Authorization` header, for clients that forward it.
    credentials: Option<Secret<HeaderValue>>,
}

impl Context {
    /// A context with a new trace and no deadline.
    pub fn root() -> Context {
        Context::new(TraceContext::new_root(), None)
    }

    /// A context with this trace and deadline.
    pub fn new(trace: TraceContext, deadline: Option<Instant>) -> Context {
        Context {
            trace,
            deadline,
            endpoint: None,
            peer_identity: None,
            principal: None,
            credentials: None,
        }
    }

    /// The same context, serving `endpoint`.
    pub(crate) fn serving(self, endpoint: &'static EndpointDescriptor) -> Context {
        Context {
            endpoint: Some(endpoint),
            ..self
        }
    }

    /// The same context, for a peer that presented this certificate.
    pub(crate) fn with_peer_identity(self, peer_identity: Option<Arc<PeerIdentity>>) -> Context {
        Context {
            peer_identity,
            ..self
        }
    }

    /// The same context, for a caller an authenticator vouched for, who
    /// sent `credentials` (the `Authorization` header, to forward).
    pub(crate) fn with_principal(
        self,
        principal: Principal,
        credentials: Option<HeaderValue>,
    ) -> Context {
        Context {
            principal: Some(principal),
            credentials: credentials.map(Secret::new),
            ..self
        }
    }

    /// The same context with another trace span (a client call's).
    pub(crate) fn with_trace(self, trace: TraceContext) -> Context {
        Context { trace, ..self }
    }

    /// The context of the current task, or a fresh root context outside any
    /// request.
    pub fn current() -> Context {
        Context::try_current().unwrap_or_else(Context::root)
    }

    /// The context of the current task, if a request is being served.
    pub fn try_current() -> Option<Context> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// Runs `fut` with `self` as the current context.
    pub async fn scope<F: Future>(self, fut: F) -> F::Output {
        self.scoped(fut).await
    }

    /// `fut` with `self` as the current context while it runs, as a
    /// nameable future (what the server layers use).
    pub(crate) fn scoped<F: Future>(
        self,
        fut: F,
    ) -> tokio::task::futures::TaskLocalFuture<Context, F> {
        CURRENT.scope(self, fut)
    }

    /// Runs `f` with `self` as the current context (what the server layers
    /// use around a service's synchronous `call`).
    pub(crate) fn sync_scoped<R>(self, f: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(self, f)
    }

    /// The same context with the deadline moved earlier to `now + timeout`
    /// if that is sooner. Deadlines only ever shrink.
    pub fn with_timeout(self, timeout: Duration) -> Context {
        let candidate = Instant::now() + timeout;
        self.with_deadline(candidate)
    }

    /// The same context with the earlier of its deadline and `deadline`.
    pub fn with_deadline(mut self, deadline: Instant) -> Context {
        self.deadline = Some(match self.deadline {
            Some(current) => current.min(deadline),
            None => deadline,
        });
        self
    }

    /// When the request must be answered by, if anyone said.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Time left until the deadline (zero once it passed), if there is one.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The trace this request belongs to.
    pub fn trace(&self) -> &TraceContext {
        &self.trace
    }

    /// The endpoint being served, inside a request.
    pub fn endpoint(&self) -> Option<&'static EndpointDescriptor> {
        self.endpoint
    }

    /// The verified identity of the peer, when it presented a client
    /// certificate the server checked (mTLS).
    pub fn peer_identity(&self) -> Option<&PeerIdentity> {
        self.peer_identity.as_deref()
    }

    /// The authenticated caller, on endpoints with `auth` (`None` on
    /// public ones and outside requests).
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// The `Authorization` header of a request an endpoint's `auth` let in,
    /// for [`Forward`](crate::client::credentials::Forward).
    pub(crate) fn caller_credentials(&self) -> Option<&HeaderValue> {
        self.credentials.as_ref().map(Secret::expose)
    }

    /// Shorthand for `self.trace().trace_id()`.
    pub fn trace_id(&self) -> TraceId {
        self.trace.trace_id()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn deadlines_only_shrink() {
        let ctx = Context::root().with_timeout(Duration::from_millis(100));
        let d = ctx.deadline().unwrap();
        let later = ctx.clone().with_timeout(Duration::from_secs(10));
        assert_eq!(later.deadline(), Some(d));
        let sooner = ctx.with_timeout(Duration::from_millis(10));
        assert!(sooner.deadline().unwrap() < d);
    }

    #[tokio::test]
    async fn current_is_scoped() {
        assert!(Context::try_current().is_none());
        let ctx = Context::root();
        let id = ctx.trace_id();
        let seen = ctx.scope(async { Context::current().trace_id() }).await;
        assert_eq!(seen, id);
        assert!(Context::try_current().is_none());
    }
}
