//! Serving kit services: [`serve`] for the common case, [`Server`] to
//! combine services or configure, [`Listening`] to control a bound server.

mod health;
mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

pub use health::Health;
pub use routes::{json_errors, panic_message, HttpHandler, HttpRoutes};

use crate::config::{Config, Parsed, USAGE};
use crate::descriptor::ServiceDescriptor;
use crate::Error;

/// A service the macro generated: its descriptor and how to mount it.
/// Implemented by `#[kit::service]`; not meant to be implemented by hand.
pub trait Service: Send + Sync + 'static {
    /// The static description of the service.
    const DESCRIPTOR: &'static ServiceDescriptor;
    /// Mounts every HTTP endpoint of the service on `routes`.
    fn mount_http(self: Arc<Self>, routes: &mut HttpRoutes);
}

/// The axum router of one service's endpoints (JSON 404/405 included), to
/// mount in an application of your own. Install a `metrics` recorder first
/// (e.g. [`crate::metrics::install_prometheus`]) if you want its metrics.
pub fn router<S: Service>(service: S) -> Router {
    let mut routes = HttpRoutes::default();
    Arc::new(service).mount_http(&mut routes);
    routes.into_router()
}

/// Serves `service` with the configuration from flags and environment
/// (see [`Config`]) until SIGINT or SIGTERM, then drains and returns.
///
/// ```no_run
/// # struct Strings;
/// # impl kit_runtime::Service for Strings {
/// #     const DESCRIPTOR: &'static kit_runtime::descriptor::ServiceDescriptor = &kit_runtime::descriptor::ServiceDescriptor {
/// #         name: "strings", rust_type: "Strings", version: "0", docs: "", endpoints: &[] };
/// #     fn mount_http(self: std::sync::Arc<Self>, _: &mut kit_runtime::server::HttpRoutes) {}
/// # }
/// # async fn run() -> Result<(), kit_runtime::Error> {
/// kit_runtime::serve(Strings).await
/// # }
/// ```
pub async fn serve<S: Service>(service: S) -> Result<(), Error> {
    Server::from_env()?.add_service(service).serve().await
}

type Mount = Box<dyn FnOnce(&mut HttpRoutes) + Send>;

/// A server for one or more services, with `/health`, `/metrics` and
/// `/kit/describe` beside their endpoints.
pub struct Server {
    config: Config,
    services: Vec<(&'static ServiceDescriptor, Mount)>,
    health: Health,
}

impl Default for Server {
    fn default() -> Self {
        Server::new(Config::default())
    }
}

impl Server {
    /// A server with `config` and no services yet.
    pub fn new(config: Config) -> Server {
        Server {
            config,
            services: Vec::new(),
            health: Health::new(),
        }
    }

    /// A server configured from `std::env::args()` and `KIT_*` variables.
    /// `--help` prints the usage and exits the process.
    pub fn from_env() -> Result<Server, Error> {
        match Config::from_env() {
            Ok(Parsed::Run(config)) => Ok(Server::new(config)),
            Ok(Parsed::Help) => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            Err(e) => Err(Error::invalid_argument(e)),
        }
    }

    /// Adds a service.
    pub fn add_service<S: Service>(self, service: S) -> Server {
        self.add_shared_service(Arc::new(service))
    }

    /// Adds a service that is shared with other code.
    pub fn add_shared_service<S: Service>(mut self, service: Arc<S>) -> Server {
        self.services.push((
            S::DESCRIPTOR,
            Box::new(move |routes| service.mount_http(routes)),
        ));
        self
    }

    /// Sets the HTTP listen address (port 0 picks a free one).
    pub fn http_addr(mut self, addr: SocketAddr) -> Server {
        self.config.http_addr = addr;
        self
    }

    /// Sets how long shutdown waits for in-flight requests.
    pub fn grace_period(mut self, grace: Duration) -> Server {
        self.config.grace_period = grace;
        self
    }

    /// Sets the largest accepted request body.
    pub fn body_limit(mut self, bytes: usize) -> Server {
        self.config.body_limit = bytes;
        self
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The health state, to mark the server not ready while warming up.
    pub fn health(&self) -> Health {
        self.health.clone()
    }

    /// Binds the listener; the server runs when [`Listening::run_until`] is awaited.
    pub async fn bind(self) -> Result<Listening, Error> {
        let listener = TcpListener::bind(self.config.http_addr)
            .await
            .map_err(|e| {
                Error::unavailable(format!("cannot listen on {}: {e}", self.config.http_addr))
            })?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| Error::internal(format!("listener has no address: {e}")))?;
        let descriptors = self.services.iter().map(|(d, _)| *d).collect();
        let grace = self.config.grace_period;
        let health = self.health.clone();
        let router = self.into_router();
        Ok(Listening {
            listener,
            local_addr,
            router,
            health,
            grace,
            descriptors,
        })
    }

    /// The full router: every service's endpoints, `/health`, `/metrics`
    /// (when kit's Prometheus recorder is installed) and `/kit/describe`.
    pub fn into_router(self) -> Router {
        let prometheus = crate::metrics::install_prometheus();
        let descriptors: Vec<&'static ServiceDescriptor> =
            self.services.iter().map(|(d, _)| *d).collect();
        let mut routes = HttpRoutes::new(self.config.body_limit);
        for (_, mount) in self.services {
            mount(&mut routes);
        }
        let mut router = routes.into_router().merge(self.health.router()).route(
            "/kit/describe",
            get(move || async move { axum::Json(descriptors.clone()) }),
        );
        if let Some(handle) = prometheus {
            router = router.route(
                "/metrics",
                get(move || async move {
                    (
                        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        handle.render(),
                    )
                }),
            );
        }
        router
    }

    /// Binds, logs the address and the endpoint table, and serves until
    /// SIGINT or SIGTERM; then drains in-flight requests for up to the grace
    /// period and returns.
    pub async fn serve(self) -> Result<(), Error> {
        crate::trace::init_subscriber(self.config.log_format);
        let listening = self.bind().await?;
        listening.log_banner();
        listening.run_until(shutdown_signal()).await
    }
}

/// A bound server, not yet serving.
pub struct Listening {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    health: Health,
    grace: Duration,
    descriptors: Vec<&'static ServiceDescriptor>,
}

impl Listening {
    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server's health state.
    pub fn health(&self) -> Health {
        self.health.clone()
    }

    /// Logs the listen address and a table of every endpoint.
    pub fn log_banner(&self) {
        tracing::info!(addr = %self.local_addr, "listening for HTTP on http://{}", self.local_addr);
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
    pub async fn run_until<F>(self, signal: F) -> Result<(), Error>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        use axum::serve::ListenerExt;
        let (fired_tx, fired_rx) = tokio::sync::oneshot::channel::<()>();
        let health = self.health.clone();
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let server = axum::serve(listener, self.router).with_graceful_shutdown(async move {
            signal.await;
            health.set_draining();
            tracing::info!("shutting down: draining in-flight requests");
            let _ = fired_tx.send(());
        });
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
