//! Admission control: an endpoint's rate limit and concurrency limits
//! (its own and its service's), decided before the handler runs, and the
//! server-wide defaults for endpoints that set none.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use http::{HeaderValue, Request, Response};
use tower::{Layer, Service};

use crate::auth::Authenticators;
use crate::config::Concurrency;
use crate::descriptor::EndpointDescriptor;
use crate::limit::{
    ConcurrencyLimit, ConcurrencyPermit, Gradient, GradientConfig, KeyedBuckets, RateKey,
    RequestHead,
};
use crate::metrics::{concurrency_limit_gauge, endpoint_rejected};
use crate::transport::Protocol;
use crate::Error;

/// The header that marks an answer as a nack: the request was refused
/// before it ran, so sending it again elsewhere is safe.
pub(crate) const NACK_HEADER: &str = "kit-nack";

/// The server's admission policy: defaults for endpoints that set no
/// `timeout` or `concurrency`, the per-caller rate key, and the limiters,
/// one per endpoint (shared by its transports) and one per service.
#[derive(Clone)]
pub(crate) struct Admission {
    pub(crate) default_timeout: Option<Duration>,
    concurrency: Concurrency,
    rate_key: Option<Arc<dyn RateKey>>,
    gates: Arc<Mutex<Gates>>,
    /// Who may come in at all: the authenticators of endpoints with `auth`.
    authenticators: Arc<Authenticators>,
}

#[derive(Default)]
struct Gates {
    endpoints: HashMap<(&'static str, &'static str), Arc<Gate>>,
    services: HashMap<&'static str, Arc<ConcurrencyLimit>>,
}

impl Default for Admission {
    fn default() -> Self {
        Admission::new(Some(Duration::from_secs(30)), Concurrency::Adaptive, None)
    }
}

impl Admission {
    pub(crate) fn new(
        default_timeout: Option<Duration>,
        concurrency: Concurrency,
        rate_key: Option<Arc<dyn RateKey>>,
    ) -> Admission {
        Admission {
            default_timeout,
            concurrency,
            rate_key,
            gates: Arc::default(),
            authenticators: Arc::default(),
        }
    }

    /// The same, with these authenticators.
    pub(crate) fn with_authenticators(mut self, authenticators: Authenticators) -> Admission {
        self.authenticators = Arc::new(authenticators);
        self
    }

    /// The server's authenticators.
    pub(crate) fn authenticators(&self) -> Arc<Authenticators> {
        self.authenticators.clone()
    }

    /// The gate of `endpoint`, made on first use.
    pub(crate) fn gate(&self, endpoint: &'static EndpointDescriptor) -> Arc<Gate> {
        let Ok(mut gates) = self.gates.lock() else {
            return Arc::new(Gate::open());
        };
        let service = endpoint.service_concurrency.map(|n| {
            gates
                .services
                .entry(endpoint.service)
                .or_insert_with(|| {
                    let gauge = metrics::gauge!(
                        crate::metrics::SERVER_CONCURRENCY_LIMIT,
                        "service" => endpoint.service,
                        "endpoint" => ""
                    );
                    Arc::new(ConcurrencyLimit::fixed(n as usize, gauge))
                })
                .clone()
        });
        let key = (endpoint.service, endpoint.name);
        if let Some(gate) = gates.endpoints.get(&key) {
            return gate.clone();
        }
        let own = match endpoint.concurrency {
            Some(n) => Concurrency::Fixed(n as usize),
            None => self.concurrency,
        };
        let concurrency = match own {
            Concurrency::Off => None,
            Concurrency::Fixed(n) => Some(Arc::new(ConcurrencyLimit::fixed(
                n,
                concurrency_limit_gauge(endpoint),
            ))),
            Concurrency::Adaptive => Some(Arc::new(ConcurrencyLimit::adaptive(
                Gradient::new(GradientConfig::default()),
                concurrency_limit_gauge(endpoint),
            ))),
        };
        let gate = Arc::new(Gate {
            concurrency,
            service,
            rate: endpoint.rate.map(KeyedBuckets::new),
            rate_key: self.rate_key.clone(),
            kind: own,
        });
        gates.endpoints.insert(key, gate.clone());
        gate
    }

    /// What each endpoint's limits are now, for `/kit/describe`.
    pub(crate) fn describe(&self, endpoint: &EndpointDescriptor) -> serde_json::Value {
        let gate = self
            .gates
            .lock()
            .ok()
            .and_then(|g| g.endpoints.get(&(endpoint.service, endpoint.name)).cloned());
        let timeout = endpoint.timeout.or(self.default_timeout);
        serde_json::json!({
            "timeout_ms": timeout.map(|d| d.as_millis() as u64),
            "concurrency": gate.as_ref().map(|g| g.kind.to_string()),
            "concurrency_limit": gate.as_ref().and_then(|g| g.concurrency.as_ref()).map(|c| c.limit()),
            "service_concurrency": endpoint.service_concurrency,
            "rate": endpoint.rate.map(|r| r.to_string()),
            "burst": endpoint.rate.map(|r| r.burst_size()),
        })
    }
}

/// One endpoint's limits.
pub(crate) struct Gate {
    concurrency: Option<Arc<ConcurrencyLimit>>,
    service: Option<Arc<ConcurrencyLimit>>,
    rate: Option<KeyedBuckets>,
    rate_key: Option<Arc<dyn RateKey>>,
    kind: Concurrency,
}

impl Gate {
    fn open() -> Gate {
        Gate {
            concurrency: None,
            service: None,
            rate: None,
            rate_key: None,
            kind: Concurrency::Off,
        }
    }

    fn is_open(&self) -> bool {
        self.concurrency.is_none() && self.service.is_none() && self.rate.is_none()
    }
}

/// The admission of a request whose body is still arriving, shared by
/// the body (which decides it when the body has arrived, before the
/// handler decodes it) and the admission layer (which releases the permits
/// when the request is answered). Uploads still arriving hold no permit,
/// and an adaptive limit times the request from when its input is there.
#[derive(Clone, Default)]
pub(crate) struct BodyGate(Arc<Mutex<BodyAdmission>>);

#[derive(Default)]
struct BodyAdmission {
    /// The gate to pass once the body has arrived.
    deferred: Option<Arc<Gate>>,
    /// The permits held while the request runs.
    held: Option<Permits>,
    refused: bool,
}

impl BodyGate {
    fn defer(&self, gate: Arc<Gate>) {
        if let Ok(mut a) = self.0.lock() {
            a.deferred = Some(gate);
        }
    }

    /// Passes the deferred gate, if any (when the body has arrived); false
    /// when it refused the request.
    pub(crate) fn admit(&self) -> bool {
        let Ok(mut a) = self.0.lock() else {
            return true;
        };
        let Some(gate) = a.deferred.take() else {
            return true;
        };
        match gate.acquire() {
            Ok(permits) => {
                a.held = Some(permits);
                true
            }
            Err(_) => {
                a.refused = true;
                false
            }
        }
    }

    /// The request is answered: its permits (and any admission still
    /// waiting) go.
    fn release(&self) {
        let (held, deferred) = match self.0.lock() {
            Ok(mut a) => (a.held.take(), a.deferred.take()),
            Err(_) => (None, None),
        };
        drop((held, deferred));
    }

    fn was_refused(&self) -> bool {
        self.0.lock().is_ok_and(|a| a.refused)
    }
}

/// Why a request was refused.
enum Refusal {
    Rate(Duration),
    Concurrency,
}

/// Refuses requests beyond the endpoint's rate (429 / RESOURCE_EXHAUSTED)
/// or concurrency limits (503 / UNAVAILABLE, a nack), in protocol `P`'s
/// error format, without running them.
pub(crate) struct AdmissionLayer<P> {
    endpoint: &'static EndpointDescriptor,
    gate: Arc<Gate>,
    _protocol: PhantomData<fn() -> P>,
}

impl<P> AdmissionLayer<P> {
    pub(crate) fn new(endpoint: &'static EndpointDescriptor, gate: Arc<Gate>) -> Self {
        AdmissionLayer {
            endpoint,
            gate,
            _protocol: PhantomData,
        }
    }
}

impl<S, P> Layer<S> for AdmissionLayer<P> {
    type Service = Admit<S, P>;
    fn layer(&self, inner: S) -> Self::Service {
        Admit {
            inner,
            endpoint: self.endpoint,
            gate: (!self.gate.is_open()).then(|| self.gate.clone()),
            _protocol: PhantomData,
        }
    }
}

/// The service made by [`AdmissionLayer`].
pub(crate) struct Admit<S, P> {
    inner: S,
    endpoint: &'static EndpointDescriptor,
    gate: Option<Arc<Gate>>,
    _protocol: PhantomData<fn() -> P>,
}

impl<S: Clone, P> Clone for Admit<S, P> {
    fn clone(&self) -> Self {
        Admit {
            inner: self.inner.clone(),
            endpoint: self.endpoint,
            gate: self.gate.clone(),
            _protocol: PhantomData,
        }
    }
}

impl Gate {
    /// Takes a token when the endpoint has a rate (when the request arrives).
    fn take_rate<B>(&self, request: &Request<B>) -> Result<(), Refusal> {
        if let Some(rate) = &self.rate {
            let key = self
                .rate_key
                .as_ref()
                .and_then(|k| k.key(&RequestHead::of(request)));
            rate.try_take(key.as_deref(), Instant::now())
                .map_err(Refusal::Rate)?;
        }
        Ok(())
    }

    /// Takes the concurrency permits (when the request first runs, so the
    /// time it waited for a thread is not counted as its latency).
    fn acquire(&self) -> Result<Permits, Refusal> {
        let gate = self;
        let service = match &gate.service {
            Some(limit) => Some(limit.try_acquire().ok_or(Refusal::Concurrency)?),
            None => None,
        };
        let endpoint = match &gate.concurrency {
            Some(limit) => Some(limit.try_acquire().ok_or(Refusal::Concurrency)?),
            None => None,
        };
        Ok(Permits {
            _service: service,
            _endpoint: endpoint,
        })
    }
}

/// The permits an admitted request holds until it is answered.
pub(crate) struct Permits {
    _service: Option<ConcurrencyPermit>,
    _endpoint: Option<ConcurrencyPermit>,
}

impl<S, P, B> Service<Request<B>> for Admit<S, P>
where
    S: Service<Request<B>, Response = Response<Body>, Error = Infallible>,
    P: Protocol,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = AdmitFuture<S::Future, P>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let Some(gate) = &self.gate else {
            return AdmitFuture::Admitted {
                body: None,
                inner: self.inner.call(request),
                gate: None,
                permits: None,
                endpoint: self.endpoint,
                _protocol: PhantomData,
            };
        };
        match gate.take_rate(&request) {
            // The inner future is made now but runs only once admitted.
            Ok(()) => AdmitFuture::Admitted {
                body: request.extensions().get::<BodyGate>().cloned(),
                inner: self.inner.call(request),
                gate: Some(gate.clone()),
                permits: None,
                endpoint: self.endpoint,
                _protocol: PhantomData,
            },
            Err(refusal) => AdmitFuture::Refused {
                response: Some(refused::<P>(self.endpoint, refusal)),
            },
        }
    }
}

fn refused<P: Protocol>(endpoint: &EndpointDescriptor, refusal: Refusal) -> Response<Body> {
    match refusal {
        Refusal::Rate(wait) => {
            endpoint_rejected(endpoint, "rate");
            let rate = endpoint.rate.map(|r| r.to_string()).unwrap_or_default();
            let mut response = P::error_response(&Error::resource_exhausted(format!(
                "{}.{}: rate limit of {rate} exceeded; retry after {}",
                endpoint.service,
                endpoint.name,
                humantime::format_duration(Duration::from_millis(wait.as_millis() as u64 + 1))
            )));
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
            response
        }
        Refusal::Concurrency => {
            endpoint_rejected(endpoint, "concurrency");
            let mut response = P::error_response(&Error::unavailable(format!(
                "{}.{}: overloaded, request not processed; retry on another instance",
                endpoint.service, endpoint.name
            )));
            let headers = response.headers_mut();
            headers.insert(NACK_HEADER, HeaderValue::from_static("1"));
            headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Admit`].
    #[project = AdmitProj]
    pub(crate) enum AdmitFuture<F, P> {
        Admitted {
            #[pin]
            inner: F,
            gate: Option<Arc<Gate>>,
            body: Option<BodyGate>,
            permits: Option<Permits>,
            endpoint: &'static EndpointDescriptor,
            _protocol: PhantomData<fn() -> P>,
        },
        Refused {
            response: Option<Response<Body>>,
        },
    }
}

impl<F, P> Future for AdmitFuture<F, P>
where
    F: Future<Output = Result<Response<Body>, Infallible>>,
    P: Protocol,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match self.project() {
            AdmitProj::Admitted {
                inner,
                gate,
                body,
                permits,
                endpoint,
                ..
            } => {
                if let Some(gate) = gate.take() {
                    match body.as_ref() {
                        // A body still to arrive: admitted (or refused)
                        // when it has, by the body itself, before the
                        // handler decodes it.
                        Some(body) => body.defer(gate),
                        None => match gate.acquire() {
                            Ok(p) => *permits = Some(p),
                            // Refused before the handler was ever polled.
                            Err(refusal) => {
                                return Poll::Ready(Ok(refused::<P>(endpoint, refusal)))
                            }
                        },
                    }
                }
                let mut output = std::task::ready!(inner.poll(cx));
                // Released as soon as the answer is ready.
                permits.take();
                if let Some(body) = body.as_ref() {
                    body.release();
                    if body.was_refused() {
                        endpoint_rejected(endpoint, "concurrency");
                        if let Ok(response) = &mut output {
                            let headers = response.headers_mut();
                            headers.insert(NACK_HEADER, HeaderValue::from_static("1"));
                            headers
                                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
                        }
                    }
                }
                Poll::Ready(output)
            }
            AdmitProj::Refused { response } => Poll::Ready(Ok(response
                .take()
                .unwrap_or_else(|| Response::new(Body::empty())))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate_of(n: usize) -> Arc<Gate> {
        Arc::new(Gate {
            concurrency: Some(Arc::new(ConcurrencyLimit::fixed(n, metrics::Gauge::noop()))),
            service: None,
            rate: None,
            rate_key: None,
            kind: Concurrency::Fixed(n),
        })
    }

    #[test]
    fn a_body_gate_admits_when_the_body_is_there_and_releases_when_answered() {
        let gate = gate_of(1);
        let (a, b) = (BodyGate::default(), BodyGate::default());
        a.defer(gate.clone());
        b.defer(gate.clone());
        // Deferred: neither holds a permit until its body has arrived.
        assert!(gate.acquire().is_ok());
        assert!(a.admit(), "first body in takes the one permit");
        assert!(!b.admit(), "the second is refused");
        assert!(b.was_refused() && !a.was_refused());
        a.release();
        let c = BodyGate::default();
        c.defer(gate.clone());
        assert!(c.admit(), "released when the first was answered");
        // Without a deferred gate (no limits) a body always passes.
        assert!(BodyGate::default().admit());
    }
}
