//! A bound server: serving until a signal, then draining.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use super::connections::{serve, ConnectionLimits, Connections};
use super::dispatch::Dispatch;
use super::health::Health;
use crate::descriptor::ServiceDescriptor;
use crate::sd::{Instance, Registrar, Registration};
use crate::transport::nats::NatsServer;
use crate::Error;

/// Where a server announces itself, and as what address.
pub(crate) struct Announce {
    pub(crate) registrars: Vec<Box<dyn Registrar>>,
    pub(crate) advertise: Option<String>,
    /// `--metadata` labels, registered with the instance.
    pub(crate) metadata: Vec<(String, String)>,
}

/// How long a deregistered server keeps serving before it stops
/// accepting, so clients watching the registry see it go first.
const DEREGISTER_DELAY: Duration = Duration::from_millis(1500);

/// A bound server, not yet serving.
pub struct Listening {
    listener: TcpListener,
    local_addr: SocketAddr,
    app: Dispatch,
    grpc: Option<(TcpListener, SocketAddr, Router)>,
    health: Health,
    grace: Duration,
    descriptors: Vec<&'static ServiceDescriptor>,
    announce: Announce,
    limits: Arc<ConnectionLimits>,
    /// Subscribed to its subjects, with the router its requests take.
    nats: Option<(NatsServer, Router)>,
}

impl Listening {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        listener: TcpListener,
        app: Dispatch,
        grpc: Option<(TcpListener, Router)>,
        health: Health,
        grace: Duration,
        descriptors: Vec<&'static ServiceDescriptor>,
        announce: Announce,
        limits: ConnectionLimits,
        nats: Option<(NatsServer, Router)>,
    ) -> Result<Listening, Error> {
        let addr_of = |l: &TcpListener| {
            l.local_addr()
                .map_err(|e| Error::internal(format!("listener has no address: {e}")))
        };
        let local_addr = addr_of(&listener)?;
        let grpc = match grpc {
            Some((l, router)) => {
                let addr = addr_of(&l)?;
                Some((l, addr, router))
            }
            None => None,
        };
        Ok(Listening {
            listener,
            local_addr,
            app,
            grpc,
            health,
            grace,
            descriptors,
            announce,
            limits: Arc::new(limits),
            nats,
        })
    }

    /// This server as an instance in a registry: the advertised address
    /// (or the bound one), its id that address.
    pub fn instance(&self) -> Instance {
        let addr = match &self.announce.advertise {
            Some(a) => a.clone(),
            None if self.local_addr.ip().is_unspecified() => {
                tracing::warn!(addr = %self.local_addr, "listening on every interface: registering 127.0.0.1; set --advertise-addr");
                format!("127.0.0.1:{}", self.local_addr.port())
            }
            None => self.local_addr.to_string(),
        };
        let mut instance = Instance::at(format!("{}://{addr}", self.scheme()));
        if let Some(d) = self.descriptors.first() {
            instance = instance.with("version", d.version).with("service", d.name);
        }
        for (k, v) in &self.announce.metadata {
            instance = instance.with(k, v.clone());
        }
        instance
    }

    /// `https` when the server speaks TLS, `http` otherwise.
    fn scheme(&self) -> &'static str {
        if self.limits.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The gRPC-only address, when one was configured.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc.as_ref().map(|(_, addr, _)| *addr)
    }

    /// The server's health state.
    pub fn health(&self) -> Health {
        self.health.clone()
    }

    /// Logs the listen address and a table of every endpoint.
    pub fn log_banner(&self) {
        let scheme = self.scheme();
        let tls = match self.limits.tls.as_ref().map(|t| t.client_auth) {
            None => "",
            Some(None) => " (TLS)",
            Some(Some(crate::tls::ClientAuth::Required)) => " (TLS, client certificates required)",
            Some(Some(crate::tls::ClientAuth::Optional)) => " (TLS, client certificates optional)",
        };
        tracing::info!(addr = %self.local_addr, "listening for HTTP and gRPC on {scheme}://{}{tls}", self.local_addr);
        if let Some(addr) = self.grpc_addr() {
            tracing::info!(grpc_addr = %addr, "listening for gRPC on {scheme}://{addr}{tls}");
        }
        if let Some((nats, _)) = &self.nats {
            let subjects: Vec<&str> = nats.subjects().collect();
            tracing::info!(
                nats_url = nats.url(),
                "serving over NATS at {}: {}",
                nats.url(),
                subjects.join(" ")
            );
        }
        for d in &self.descriptors {
            tracing::info!(
                service = d.name,
                version = d.version,
                "endpoints of {}:\n{}",
                d.name,
                d.endpoint_table()
            );
        }
    }

    /// Serves until `signal` completes; then stops accepting, marks the
    /// server not ready, and waits up to the grace period for in-flight
    /// requests before returning.
    pub async fn run_until<F>(mut self, signal: F) -> Result<(), Error>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (fired_tx, fired_rx) = tokio::sync::oneshot::channel::<()>();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let (registered_tx, registered_rx) =
            tokio::sync::oneshot::channel::<Vec<Box<dyn Registration>>>();
        let health = self.health.clone();
        health.publish();
        tokio::spawn(async move {
            signal.await;
            // Deregister first, and keep serving a moment so clients that
            // watch the registry stop sending before the door closes.
            let registrations = registered_rx.await.unwrap_or_default();
            if !registrations.is_empty() {
                tracing::info!("shutting down: deregistering");
                for r in registrations {
                    r.deregister().await;
                }
                tokio::time::sleep(DEREGISTER_DELAY).await;
            }
            health.set_draining();
            tracing::info!("shutting down: draining in-flight requests");
            let _ = stop_tx.send(true);
            let _ = fired_tx.send(());
        });
        let instance = self.instance();
        let registrars = std::mem::take(&mut self.announce.registrars);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let connections = Connections::new();
        let main = serve(
            self.listener,
            self.app,
            self.limits.clone(),
            connections.clone(),
            stopped(stop_rx.clone()),
        );
        let grpc = self.grpc.map(|(l, _, router)| {
            serve(
                l,
                router,
                self.limits.clone(),
                connections.clone(),
                stopped(stop_rx.clone()),
            )
        });
        let nats = self
            .nats
            .map(|(nats, router)| nats.serve(router, stop_rx.clone()));
        let server = async move {
            let nats = async move {
                if let Some(nats) = nats {
                    nats.await;
                }
            };
            match grpc {
                Some(grpc) => {
                    tokio::join!(main, grpc, nats);
                }
                None => {
                    tokio::join!(main, nats);
                }
            }
            // Not accepting any more; every connection was asked to close.
            connections.closed().await;
        };
        let server = tokio::spawn(server);
        // The listeners accept from here on: announce the server.
        let mut registrations = Vec::new();
        for registrar in &registrars {
            match registrar.register(instance.clone()).await {
                Ok(r) => {
                    tracing::info!(registry = %registrar.describe(), instance = %instance.url, "registered");
                    registrations.push(r);
                }
                Err(e) => {
                    server.abort();
                    for r in registrations {
                        r.deregister().await;
                    }
                    return Err(e);
                }
            }
        }
        let _ = registered_tx.send(registrations);
        let server = async move {
            server
                .await
                .map_err(|e| std::io::Error::other(format!("the server task failed: {e}")))
        };
        let grace = self.grace;
        let deadline = async move {
            if fired_rx.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            result = server => {
                result.map_err(|e| Error::internal(format!("server failed: {e}")))?;
                tracing::info!("shut down cleanly");
            }
            () = deadline => {
                tracing::warn!(grace = ?grace, "grace period over: dropping the requests still in flight");
            }
        }
        crate::trace::flush_export(std::time::Duration::from_secs(2)).await;
        crate::log::flush(std::time::Duration::from_secs(1));
        Ok(())
    }
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
