//! Why a TLS connection of a client died. Over TLS 1.3 a server
//! refuses a client certificate after the client's handshake is done, so
//! the call on its way fails as "connection closed"; the TLS alert that
//! says why is read by the connection, not the call. This keeps it for the
//! call's error.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use http::Uri;
use hyper::rt;
use hyper_util::client::legacy::connect::{Connected, Connection};
use tower::{BoxError, Service};

/// The last TLS error the connections to one instance saw.
#[derive(Clone, Debug, Default)]
pub(crate) struct TlsFailures(Arc<Mutex<Option<rustls::Error>>>);

impl TlsFailures {
    fn record(&self, e: &std::io::Error) {
        if let Some(tls) = e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
            if let Ok(mut last) = self.0.lock() {
                *last = Some(tls.clone());
            }
        }
    }

    /// `error`, with the TLS error that closed the connection as its
    /// source, if one did since the last call.
    pub(crate) fn explain(&self, error: BoxError) -> BoxError {
        match self.0.lock().ok().and_then(|mut last| last.take()) {
            Some(tls) => Box::new(TlsFailure { tls, error }),
            None => error,
        }
    }
}

/// A call's error on a connection that a TLS error closed.
#[derive(Debug)]
struct TlsFailure {
    tls: rustls::Error,
    error: BoxError,
}

impl std::fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (the TLS connection failed)", self.error)
    }
}

impl std::error::Error for TlsFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.tls)
    }
}

/// A connector whose connections report their TLS errors to `failures`.
#[derive(Clone)]
pub(crate) struct Recording<C> {
    pub(crate) inner: C,
    pub(crate) failures: TlsFailures,
}

impl<C> Service<Uri> for Recording<C>
where
    C: Service<Uri>,
    C::Future: Send + 'static,
    C::Response: Send + 'static,
{
    type Response = RecordingIo<C::Response>;
    type Error = C::Error;
    type Future = BoxFuture<'static, Result<RecordingIo<C::Response>, C::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), C::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connect = self.inner.call(uri);
        let failures = self.failures.clone();
        Box::pin(async move {
            let io = connect.await?;
            Ok(RecordingIo { io, failures })
        })
    }
}

/// A connection that reports its TLS errors.
pub(crate) struct RecordingIo<T> {
    io: T,
    failures: TlsFailures,
}

impl<T> RecordingIo<T> {
    fn seen<R>(&self, poll: Poll<std::io::Result<R>>) -> Poll<std::io::Result<R>> {
        if let Poll::Ready(Err(e)) = &poll {
            self.failures.record(e);
        }
        poll
    }
}

impl<T: Connection> Connection for RecordingIo<T> {
    fn connected(&self) -> Connected {
        self.io.connected()
    }
}

impl<T: rt::Read + Unpin> rt::Read for RecordingIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_read(cx, buf);
        self.seen(poll)
    }
}

impl<T: rt::Write + Unpin> rt::Write for RecordingIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        self.seen(poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.seen(poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_flush(cx);
        self.seen(poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_shutdown(cx);
        self.seen(poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_tls_error_explains_the_next_failure_once() {
        let failures = TlsFailures::default();
        failures.record(&std::io::Error::other("not TLS"));
        let plain = failures.explain("closed".into());
        assert!(plain.source().is_none());
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired);
        failures.record(&std::io::Error::new(std::io::ErrorKind::InvalidData, alert));
        let explained = failures.explain("connection closed".into());
        let source = explained.source().unwrap();
        assert!(source.downcast_ref::<rustls::Error>().is_some());
        assert!(failures.explain("later".into()).source().is_none());
    }
}
