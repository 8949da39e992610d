//! Serving connections: hyper's HTTP/1.1 and HTTP/2 (told apart by the
//! preface) with a header timeout, HTTP/2 pings, an idle timeout, a
//! connection limit that closes the oldest idle connection to make room,
//! accept errors logged and survived, and a shutdown bounded per
//! connection, so a client that never finishes cannot hold the process.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tower::util::Oneshot;
use tower::{Service, ServiceExt};

use super::body::{Arrivals, BodyBudget, GuardedBody};
use crate::config::Config;
use crate::layer::admission::BodyGate;
use crate::metrics::{
    connection_closed, server_rejected, SERVER_ACCEPT_ERRORS, SERVER_CONNECTIONS,
};
use crate::tls::server::ServerTls;
use crate::tls::PeerIdentity;

/// How connections are served (see [`Config`] for what each means).
#[derive(Clone, Debug)]
pub(crate) struct ConnectionLimits {
    pub(crate) header_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) h2_keepalive: Duration,
    pub(crate) h2_max_streams: u32,
    pub(crate) max_connections: usize,
    pub(crate) body_timeout: Duration,
    pub(crate) body_budget: BodyBudget,
    pub(crate) linger: Duration,
    /// TLS on every connection, when configured.
    pub(crate) tls: Option<Arc<ServerTls>>,
}

impl ConnectionLimits {
    pub(crate) fn from_config(config: &Config) -> ConnectionLimits {
        ConnectionLimits {
            header_timeout: config.header_timeout,
            idle_timeout: config.idle_timeout,
            h2_keepalive: config.h2_keepalive,
            h2_max_streams: config.h2_max_streams,
            max_connections: config
                .max_connections
                .unwrap_or_else(default_max_connections)
                .max(1),
            body_timeout: config.body_timeout,
            body_budget: BodyBudget::new(config.body_memory),
            linger: config.shutdown_linger,
            tls: None,
        }
    }

    fn builder(&self) -> auto::Builder<TokioExecutor> {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // hyper's header timer starts as soon as a keep-alive connection
        // waits for its next request, so it would close idle keep-alive
        // connections at the header timeout instead of the idle timeout:
        // [`HeaderClock`] times headers from their first byte instead.
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(None);
        let h2_keepalive = non_zero(self.h2_keepalive);
        let mut h2 = builder.http2();
        h2.timer(TokioTimer::new())
            .max_concurrent_streams(self.h2_max_streams)
            .keep_alive_interval(h2_keepalive);
        if let Some(d) = h2_keepalive {
            h2.keep_alive_timeout(d);
        }
        builder
    }
}

fn non_zero(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

/// 10,000, or 7/8 of the open-file limit if that is lower, so the server
/// refuses connections before the process runs out of descriptors.
fn default_max_connections() -> usize {
    const DEFAULT: usize = 10_000;
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we own.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
            let soft = usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX);
            return DEFAULT.min(soft / 8 * 7);
        }
    }
    DEFAULT
}

/// The connections a server has open.
pub(crate) struct Connections {
    open: Mutex<HashMap<u64, Arc<Conn>>>,
    next_id: AtomicU64,
    shutting_down: AtomicBool,
    emptied: Notify,
    epoch: Instant,
    gauge: metrics::Gauge,
}

/// One connection's state, shared by its task and the registry.
/// The local address a request arrived at (in its extensions, beside
/// axum's `ConnectInfo<SocketAddr>` with the peer's).
#[derive(Clone, Copy, Debug)]
pub(crate) struct LocalAddr(pub(crate) SocketAddr);

struct Conn {
    in_flight: AtomicUsize,
    /// When it last became idle, in milliseconds since the registry's epoch.
    idle_since: AtomicU64,
    close: Notify,
    closing: AtomicBool,
    /// The first bytes of a request arrived and its head was not parsed yet.
    awaiting_head: AtomicBool,
    /// Its request bodies still arriving.
    arrivals: Arc<Arrivals>,
}

impl Connections {
    pub(crate) fn new() -> Arc<Connections> {
        Arc::new(Connections {
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            shutting_down: AtomicBool::new(false),
            emptied: Notify::new(),
            epoch: Instant::now(),
            gauge: metrics::gauge!(SERVER_CONNECTIONS),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Connections open now.
    pub(crate) fn len(&self) -> usize {
        self.open.lock().map(|m| m.len()).unwrap_or(0)
    }

    fn add(&self) -> (u64, Arc<Conn>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(self.now_ms()),
            close: Notify::new(),
            closing: AtomicBool::new(false),
            awaiting_head: AtomicBool::new(false),
            arrivals: Arc::default(),
        });
        if let Ok(mut open) = self.open.lock() {
            open.insert(id, conn.clone());
        }
        self.gauge.increment(1.0);
        (id, conn)
    }

    fn remove(&self, id: u64) {
        let empty = match self.open.lock() {
            Ok(mut open) => {
                open.remove(&id);
                open.is_empty()
            }
            Err(_) => false,
        };
        self.gauge.decrement(1.0);
        if empty {
            self.emptied.notify_waiters();
        }
    }

    /// Asks the connection idle the longest to close; false if none is idle.
    fn evict_oldest_idle(&self) -> bool {
        let Ok(open) = self.open.lock() else {
            return false;
        };
        let oldest = open
            .values()
            .filter(|c| c.in_flight.load(Ordering::Relaxed) == 0)
            .filter(|c| !c.closing.load(Ordering::Relaxed))
            .min_by_key(|c| c.idle_since.load(Ordering::Relaxed));
        match oldest {
            Some(conn) => {
                conn.closing.store(true, Ordering::Relaxed);
                conn.close.notify_one();
                true
            }
            None => false,
        }
    }

    /// Asks every connection to finish what it serves and close.
    pub(crate) fn shut_down(&self) {
        self.shutting_down.store(true, Ordering::Relaxed);
        if let Ok(open) = self.open.lock() {
            for conn in open.values() {
                conn.close.notify_one();
            }
        }
    }

    /// Completes when no connection is open.
    pub(crate) async fn closed(&self) {
        loop {
            let notified = self.emptied.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.len() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Accepts connections from `listener` and serves each with `service`
/// until `stop` completes; then stops accepting and asks every connection
/// to close (wait for them with [`Connections::closed`]).
pub(crate) async fn serve<S>(
    listener: TcpListener,
    service: S,
    limits: Arc<ConnectionLimits>,
    connections: Arc<Connections>,
    stop: impl Future<Output = ()>,
) where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    tokio::pin!(stop);
    let refusals = RateLimitedLog::new();
    let accept_errors = RateLimitedLog::new();
    let accept_error_count = metrics::counter!(SERVER_ACCEPT_ERRORS);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut stop => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                accept_error_count.increment(1);
                if is_per_connection(&e) {
                    continue;
                }
                if let Some(n) = accept_errors.tick() {
                    tracing::warn!(error = %e, errors = n, "cannot accept connections; closing idle ones and retrying");
                }
                // Out of descriptors or memory: make room and do not spin.
                connections.evict_oldest_idle();
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if connections.len() >= limits.max_connections && !connections.evict_oldest_idle() {
            server_rejected("connections");
            if let Some(n) = refusals.tick() {
                tracing::warn!(
                    limit = limits.max_connections,
                    refused = n,
                    "connection limit reached and no connection is idle: refusing new connections"
                );
            }
            drop(tcp);
            continue;
        }
        let _ = tcp.set_nodelay(true);
        tokio::spawn(serve_connection(
            tcp,
            peer,
            service.clone(),
            limits.clone(),
            connections.clone(),
        ));
    }
    drop(listener);
    connections.shut_down();
}

/// Errors that concern one connection only: accept the next.
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    )
}

async fn serve_connection<S>(
    tcp: TcpStream,
    peer: SocketAddr,
    service: S,
    limits: Arc<ConnectionLimits>,
    connections: Arc<Connections>,
) where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let (id, conn) = connections.add();
    let local = tcp.local_addr().unwrap_or(peer);
    let opened = Instant::now();
    match limits.tls.clone() {
        None => {
            serve_io(
                tcp,
                opened,
                peer,
                local,
                None,
                service,
                &limits,
                &connections,
                &conn,
            )
            .await;
        }
        Some(tls) => {
            // The handshake runs here, in the connection's task, counted
            // in the connection limit and bounded by the header timeout;
            // a connection asked to close meanwhile just closes.
            let handshake = tls.handshake(tcp, limits.header_timeout);
            let done = tokio::select! {
                done = handshake => done,
                () = conn.close.notified() => None,
            };
            if let Some((stream, identity)) = done {
                serve_io(
                    stream,
                    opened,
                    peer,
                    local,
                    identity,
                    service,
                    &limits,
                    &connections,
                    &conn,
                )
                .await;
            }
        }
    }
    connections.remove(id);
}

/// Serves HTTP on `io` (a TCP or TLS stream) until it closes.
#[allow(clippy::too_many_arguments)]
async fn serve_io<IO, S>(
    io: IO,
    opened: Instant,
    peer: SocketAddr,
    local: SocketAddr,
    identity: Option<Arc<PeerIdentity>>,
    service: S,
    limits: &Arc<ConnectionLimits>,
    connections: &Arc<Connections>,
    conn: &Arc<Conn>,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let builder = limits.builder();
    let service = ConnService {
        inner: service,
        peer,
        local: LocalAddr(local),
        identity,
        conn: conn.clone(),
        connections: connections.clone(),
        limits: limits.clone(),
    };
    let io = HeaderClock::new(io, opened, conn.clone(), non_zero(limits.header_timeout));
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let idle_timeout = non_zero(limits.idle_timeout);
    let far = Duration::from_secs(86_400 * 365);
    let idle = tokio::time::sleep(idle_timeout.unwrap_or(far));
    tokio::pin!(idle);
    let linger = tokio::time::sleep(far);
    tokio::pin!(linger);
    let mut closed_idle = false;
    let mut closing = false;
    // Body frames received when the linger was last armed.
    let mut frames_seen = 0;
    if connections.shutting_down.load(Ordering::Relaxed) {
        connection.as_mut().graceful_shutdown();
        closing = true;
        linger.as_mut().reset(Instant::now() + limits.linger);
    }
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            () = conn.close.notified(), if !closing => {
                if !connections.shutting_down.load(Ordering::Relaxed) {
                    // Evicted to make room: it has nothing in flight, so
                    // its socket is freed now rather than after a linger.
                    connection_closed("evicted");
                    break;
                }
                connection_closed("shutdown");
                connection.as_mut().graceful_shutdown();
                closing = true;
                frames_seen = conn.arrivals.frames();
                linger.as_mut().reset(Instant::now() + limits.linger);
            }
            () = &mut idle, if !closing && idle_timeout.is_some() => {
                let timeout = idle_timeout.unwrap_or(far);
                let busy = conn.in_flight.load(Ordering::Relaxed) > 0;
                let since = conn.idle_since.load(Ordering::Relaxed);
                let idle_for = Duration::from_millis(connections.now_ms().saturating_sub(since));
                if !busy && idle_for >= timeout {
                    connection_closed("idle");
                    closed_idle = true;
                    conn.closing.store(true, Ordering::Relaxed);
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                    linger.as_mut().reset(Instant::now() + limits.linger);
                } else {
                    let wait = if busy { timeout } else { timeout - idle_for };
                    idle.as_mut().reset(Instant::now() + wait);
                }
            }
            () = &mut linger, if closing => {
                let in_flight = conn.in_flight.load(Ordering::Relaxed);
                let frames = conn.arrivals.frames();
                let shutting_down = connections.shutting_down.load(Ordering::Relaxed);
                // Every request in flight waits for a body that did not
                // move for a whole linger: its client stopped sending.
                let stalled = frames == frames_seen && in_flight <= conn.arrivals.waiting();
                if in_flight == 0 || stalled {
                    // Asked to close, nothing in flight (or only bodies that
                    // stopped arriving), still open: a peer that never
                    // finishes its request or never acknowledges GOAWAY.
                    // Drop it. (Counted once: an idle connection dropped
                    // here was counted as idle.)
                    if shutting_down && !closed_idle {
                        connection_closed("linger");
                    }
                    break;
                }
                frames_seen = frames;
                linger.as_mut().reset(Instant::now() + limits.linger);
            }
        }
    }
}

/// The per-connection hyper service: guards request bodies, counts the
/// requests in flight (until their response body is dropped), and calls
/// the application.
struct ConnService<S> {
    inner: S,
    peer: SocketAddr,
    local: LocalAddr,
    /// The client certificate's identity (mTLS), the same for every
    /// request of the connection.
    identity: Option<Arc<PeerIdentity>>,
    conn: Arc<Conn>,
    connections: Arc<Connections>,
    limits: Arc<ConnectionLimits>,
}

impl<S> hyper::service::Service<Request<Incoming>> for ConnService<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone,
{
    type Response = Response<CountedBody>;
    type Error = Infallible;
    type Future = ConnFuture<S>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.conn.in_flight.fetch_add(1, Ordering::Relaxed);
        self.conn.awaiting_head.store(false, Ordering::Relaxed);
        let guard = InFlight {
            conn: self.conn.clone(),
            connections: self.connections.clone(),
        };
        let (mut parts, body) = request.into_parts();
        // The peer as axum's handlers look for it, and the address it reached.
        parts
            .extensions
            .insert(axum::extract::ConnectInfo(self.peer));
        parts.extensions.insert(self.local);
        if let Some(identity) = &self.identity {
            parts.extensions.insert(identity.clone());
        }
        let mut guarded = GuardedBody::new(
            body,
            self.limits.body_budget.clone(),
            self.limits.body_timeout,
        );
        if !http_body::Body::is_end_stream(&guarded) {
            // Admission control decides when the body has arrived.
            let gate = BodyGate::default();
            parts.extensions.insert(gate.clone());
            guarded = guarded
                .with_gate(gate)
                .with_arrivals(self.conn.arrivals.clone());
        }
        let request = Request::from_parts(parts, Body::new(guarded));
        ConnFuture {
            inner: self.inner.clone().oneshot(request),
            guard: Some(guard),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`ConnService`].
    struct ConnFuture<S: Service<Request<Body>>> {
        #[pin]
        inner: Oneshot<S, Request<Body>>,
        guard: Option<InFlight>,
    }
}

impl<S> Future for ConnFuture<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    type Output = Result<Response<CountedBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = std::task::ready!(this.inner.poll(cx))?;
        let guard = this.guard.take();
        Poll::Ready(Ok(response.map(|body| CountedBody {
            inner: body,
            _guard: guard,
        })))
    }
}

/// A request in flight on a connection, until dropped.
struct InFlight {
    conn: Arc<Conn>,
    connections: Arc<Connections>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.conn.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.conn
                .idle_since
                .store(self.connections.now_ms(), Ordering::Relaxed);
        }
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its request counted in flight until
    /// hyper has sent it (or given up on it).
    pub(crate) struct CountedBody {
        #[pin]
        inner: Body,
        _guard: Option<InFlight>,
    }
}

impl http_body::Body for CountedBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// What a connection speaks, from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Speaks {
    /// Fewer bytes than it takes to tell (this many matched `PRI`).
    Unknown(usize),
    Http1,
    /// The HTTP/2 preface: pings and pongs pass with no request in
    /// flight, so HTTP/2 has no header clock (its keep-alive and the idle
    /// timeout bound it).
    Http2,
}

/// The socket of a connection, timing HTTP/1 request heads: the clock
/// starts when the first byte of a request arrives with no request in
/// flight (not when a keep-alive connection starts waiting, as hyper's own
/// header timer does, which would make the header timeout the idle
/// timeout), and stops when the head is parsed ([`ConnService::call`]).
/// At the header timeout reads fail and the connection closes.
/// Over TLS, it reads the decrypted bytes: what it times and tells apart
/// is the same as in plain text.
struct HeaderClock<IO> {
    tcp: IO,
    conn: Arc<Conn>,
    timeout: Option<Duration>,
    speaks: Speaks,
    /// Made on first use; reset only when it fires before the head it
    /// times is due (one timer operation per timeout, not per request).
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    /// When the head being read is due.
    due: Option<Instant>,
    armed: bool,
}

impl<IO> HeaderClock<IO> {
    /// The first request's head is due a header timeout after the
    /// connection `opened` (a connection that never says anything is
    /// closed then, not at the idle timeout; over TLS the handshake counts
    /// in that time); later ones from their first byte.
    fn new(
        tcp: IO,
        opened: Instant,
        conn: Arc<Conn>,
        timeout: Option<Duration>,
    ) -> HeaderClock<IO> {
        let due = timeout.map(|t| opened + t);
        if due.is_some() {
            conn.awaiting_head.store(true, Ordering::Relaxed);
        }
        HeaderClock {
            tcp,
            conn,
            timeout,
            speaks: Speaks::Unknown(0),
            deadline: due.map(|at| Box::pin(tokio::time::sleep_until(at))),
            due,
            armed: due.is_some(),
        }
    }
}

impl<IO: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for HeaderClock<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let Some(timeout) = this.timeout else {
            return Pin::new(&mut this.tcp).poll_read(cx, buf);
        };
        let before = buf.filled().len();
        match Pin::new(&mut this.tcp).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = &buf.filled()[before..];
                if let Speaks::Unknown(matched) = this.speaks {
                    let want = &b"PRI"[matched..];
                    let n = read.len().min(want.len());
                    this.speaks = if read[..n] != want[..n] {
                        Speaks::Http1
                    } else if matched + n == 3 {
                        Speaks::Http2
                    } else {
                        Speaks::Unknown(matched + n)
                    };
                    if this.speaks == Speaks::Http2 && this.armed {
                        // HTTP/2 has no head to time: its streams are
                        // bounded by pings and the idle timeout.
                        this.armed = false;
                        this.conn.awaiting_head.store(false, Ordering::Relaxed);
                    }
                }
                if !read.is_empty()
                    && this.speaks == Speaks::Http1
                    && this.conn.in_flight.load(Ordering::Relaxed) == 0
                    && !this.conn.awaiting_head.swap(true, Ordering::Relaxed)
                {
                    // The first bytes of a request: its head has this long.
                    let at = Instant::now() + timeout;
                    this.due = Some(at);
                    if this.deadline.is_none() {
                        this.deadline = Some(Box::pin(tokio::time::sleep_until(at)));
                    }
                    this.armed = true;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                if this.armed {
                    if !this.conn.awaiting_head.load(Ordering::Relaxed) {
                        this.armed = false;
                    } else if let Some(sleep) = &mut this.deadline {
                        // Fired for an earlier head: wait for this one's due time.
                        while sleep.as_mut().poll(cx).is_ready() {
                            match this.due {
                                Some(due) if due > Instant::now() => sleep.as_mut().reset(due),
                                _ => break,
                            }
                        }
                        if sleep.is_elapsed() {
                            this.armed = false;
                            connection_closed("header_timeout");
                            return Poll::Ready(Err(std::io::Error::new(
                                std::io::ErrorKind::TimedOut,
                                format!(
                                    "request head not received within {}",
                                    humantime::format_duration(timeout)
                                ),
                            )));
                        }
                    }
                }
                Poll::Pending
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        }
    }
}

impl<IO: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for HeaderClock<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

/// Says something at most once a second, with how often it happened.
struct RateLimitedLog {
    last: Mutex<Option<Instant>>,
    count: AtomicU64,
}

impl RateLimitedLog {
    fn new() -> RateLimitedLog {
        RateLimitedLog {
            last: Mutex::new(None),
            count: AtomicU64::new(0),
        }
    }

    /// `Some(times since the last log line)` when it is time to log.
    fn tick(&self) -> Option<u64> {
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self.last.lock().ok()?;
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) {
            return None;
        }
        *last = Some(now);
        self.count.store(0, Ordering::Relaxed);
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_connection_limit_fits_the_open_file_limit() {
        let n = default_max_connections();
        assert!((1..=10_000).contains(&n), "{n}");
    }

    #[tokio::test]
    async fn eviction_picks_the_connection_idle_longest() {
        let connections = Connections::new();
        let (_, a) = connections.add();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let (_, b) = connections.add();
        let (_, busy) = connections.add();
        busy.in_flight.store(1, Ordering::Relaxed);
        busy.idle_since.store(0, Ordering::Relaxed);
        assert!(connections.evict_oldest_idle());
        assert!(a.closing.load(Ordering::Relaxed));
        assert!(!b.closing.load(Ordering::Relaxed));
        assert!(connections.evict_oldest_idle());
        assert!(b.closing.load(Ordering::Relaxed));
        assert!(!connections.evict_oldest_idle(), "the busy one stays");
    }

    #[test]
    fn rate_limited_log_counts_what_it_skipped() {
        let log = RateLimitedLog::new();
        assert_eq!(log.tick(), Some(1));
        assert_eq!(log.tick(), None);
        assert_eq!(log.tick(), None);
        *log.last.lock().unwrap() = Some(Instant::now() - Duration::from_secs(2));
        assert_eq!(log.tick(), Some(3));
    }
}
