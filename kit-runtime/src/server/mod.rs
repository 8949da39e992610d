//! Serving kit services: [`serve`] for the common case, [`Server`] to
//! combine services or configure, [`Listening`] to control a bound server.

mod dispatch;
mod grpc_routes;
mod health;
mod panic;
mod routes;

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

pub use dispatch::Dispatch;
pub use grpc_routes::{GrpcHandler, GrpcRoutes};
pub use health::Health;
pub use panic::{catch_panic, panic_message};
pub use routes::{HttpHandler, HttpRoutes};

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
    /// Mounts every gRPC endpoint of the service on `routes`.
    fn mount_grpc(self: Arc<Self>, routes: &mut GrpcRoutes) {
        let _ = routes;
    }
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
/// #         name: "strings", rust_type: "Strings", version: "0", docs: "", grpc: None, endpoints: &[] };
/// #     fn mount_http(self: std::sync::Arc<Self>, _: &mut kit_runtime::server::HttpRoutes) {}
/// # }
/// # async fn run() -> Result<(), kit_runtime::Error> {
/// kit_runtime::serve(Strings).await
/// # }
/// ```
pub async fn serve<S: Service>(service: S) -> Result<(), Error> {
    Server::from_env()?.add_service(service).serve().await
}

type Mount = Box<dyn FnOnce(&mut HttpRoutes, &mut GrpcRoutes) + Send>;

/// A server for one or more services, with `/health`, `/metrics` and
/// `/kit/describe` beside their endpoints.
pub struct Server {
    config: Config,
    services: Vec<(&'static ServiceDescriptor, Mount)>,
    health: Health,
    emit_proto: bool,
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
            emit_proto: false,
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
            Ok(Parsed::EmitProto) => Ok(Server {
                emit_proto: true,
                ..Server::new(Config::default())
            }),
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
            Box::new(move |http, grpc| {
                service.clone().mount_http(http);
                service.mount_grpc(grpc);
            }),
        ));
        self
    }

    /// Sets the HTTP listen address (port 0 picks a free one).
    pub fn http_addr(mut self, addr: SocketAddr) -> Server {
        self.config.http_addr = addr;
        self
    }

    /// Sets an extra address that serves gRPC only.
    pub fn grpc_addr(mut self, addr: SocketAddr) -> Server {
        self.config.grpc_addr = Some(addr);
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
        let grpc_listener = match self.config.grpc_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|e| Error::unavailable(format!("cannot listen on {addr}: {e}")))?,
            ),
            None => None,
        };
        let descriptors = self.services.iter().map(|(d, _)| *d).collect();
        let grace = self.config.grace_period;
        let health = self.health.clone();
        let routers = self.into_routers()?;
        let grpc = match grpc_listener {
            Some(l) => {
                let addr = l
                    .local_addr()
                    .map_err(|e| Error::internal(format!("listener has no address: {e}")))?;
                Some((l, addr, routers.grpc.clone()))
            }
            None => None,
        };
        Ok(Listening {
            listener,
            local_addr,
            app: routers.app,
            grpc,
            health,
            grace,
            descriptors,
        })
    }

    /// The full router: every service's endpoints over HTTP and gRPC,
    /// `/health`, gRPC health and reflection, `/metrics` (when kit's
    /// Prometheus recorder is installed) and `/kit/describe`.
    pub fn into_router(self) -> Result<Router, Error> {
        Ok(self.into_routers()?.app.into_router())
    }

    fn into_routers(self) -> Result<Routers, Error> {
        let prometheus = crate::metrics::install_prometheus();
        let descriptors: Vec<&'static ServiceDescriptor> =
            self.services.iter().map(|(d, _)| *d).collect();
        let mut http = HttpRoutes::new(self.config.body_limit);
        let mut grpc = GrpcRoutes::new(self.config.body_limit);
        for (_, mount) in self.services {
            mount(&mut http, &mut grpc);
        }
        let has_grpc = !grpc.is_empty();
        if has_grpc {
            let names = descriptors
                .iter()
                .filter_map(|d| d.grpc.map(|g| format!("{}.{}", g.package, g.name)))
                .collect();
            grpc.add_tonic("grpc.health.v1.Health", self.health.grpc_service(names));
            let mut sets = Vec::new();
            for d in &descriptors {
                let (Some(schema), Some(file)) = (d.proto_schema(), d.proto_file_name()) else {
                    continue;
                };
                if let Some(problem) = schema.errors().first() {
                    return Err(Error::invalid_argument(format!(
                        "service {}: {problem}",
                        d.name
                    )));
                }
                sets.push(crate::proto::descriptor::file_descriptor_set(
                    &schema, &file,
                ));
            }
            let mut reflection = tonic_reflection::server::Builder::configure();
            let mut reflection_alpha = tonic_reflection::server::Builder::configure();
            for set in &sets {
                reflection = reflection.register_encoded_file_descriptor_set(set);
                reflection_alpha = reflection_alpha.register_encoded_file_descriptor_set(set);
            }
            let v1 = reflection
                .build_v1()
                .map_err(|e| Error::internal(format!("gRPC reflection: {e}")))?;
            let v1alpha = reflection_alpha
                .build_v1alpha()
                .map_err(|e| Error::internal(format!("gRPC reflection: {e}")))?;
            // v1 is the standard; v1alpha is what many tools (and grpcio's
            // Python reflection client) still speak.
            grpc.add_tonic("grpc.reflection.v1.ServerReflection", v1);
            grpc.add_tonic("grpc.reflection.v1alpha.ServerReflection", v1alpha);
        }
        let mut http_router = http.into_router().merge(self.health.router()).route(
            "/kit/describe",
            get(move || async move { axum::Json(descriptors.clone()) }),
        );
        if let Some(handle) = prometheus {
            http_router = http_router.route(
                "/metrics",
                get(move || async move {
                    (
                        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        handle.render(),
                    )
                }),
            );
        }
        let grpc_router = grpc.into_router();
        let app = Dispatch::new(http_router, has_grpc.then(|| grpc_router.clone()));
        Ok(Routers {
            app,
            grpc: grpc_router,
        })
    }

    /// The `.proto` files of the services added, by file name.
    pub fn protos(&self) -> Vec<(String, String)> {
        self.services
            .iter()
            .filter_map(|(d, _)| Some((d.proto_file_name()?, d.proto()?)))
            .collect()
    }

    /// Binds, logs the address and the endpoint table, and serves until
    /// SIGINT or SIGTERM; then drains in-flight requests for up to the grace
    /// period and returns.
    pub async fn serve(self) -> Result<(), Error> {
        if self.emit_proto {
            for (_, proto) in self.protos() {
                print!("{proto}");
            }
            return Ok(());
        }
        crate::trace::init_subscriber(self.config.log_format);
        let listening = self.bind().await?;
        listening.log_banner();
        listening.run_until(shutdown_signal()).await
    }
}

struct Routers {
    app: Dispatch,
    grpc: Router,
}

/// A bound server, not yet serving.
pub struct Listening {
    listener: TcpListener,
    local_addr: SocketAddr,
    app: Dispatch,
    grpc: Option<(TcpListener, SocketAddr, Router)>,
    health: Health,
    grace: Duration,
    descriptors: Vec<&'static ServiceDescriptor>,
}

impl Listening {
    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The gRPC-only address, when `--grpc-addr` was given.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc.as_ref().map(|(_, addr, _)| *addr)
    }

    /// The server's health state.
    pub fn health(&self) -> Health {
        self.health.clone()
    }

    /// Logs the listen address and a table of every endpoint.
    pub fn log_banner(&self) {
        tracing::info!(addr = %self.local_addr, "listening for HTTP and gRPC on http://{}", self.local_addr);
        if let Some(addr) = self.grpc_addr() {
            tracing::info!(grpc_addr = %addr, "listening for gRPC on http://{addr}");
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
    pub async fn run_until<F>(self, signal: F) -> Result<(), Error>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        use axum::serve::ListenerExt;
        let (fired_tx, fired_rx) = tokio::sync::oneshot::channel::<()>();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let health = self.health.clone();
        health.publish();
        tokio::spawn(async move {
            signal.await;
            health.set_draining();
            tracing::info!("shutting down: draining in-flight requests");
            let _ = stop_tx.send(true);
            let _ = fired_tx.send(());
        });
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let main = axum::serve(listener, self.app).with_graceful_shutdown(stopped(stop_rx.clone()));
        let grpc = self.grpc.map(|(l, _, router)| {
            let l = l.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(l, router).with_graceful_shutdown(stopped(stop_rx.clone()))
        });
        let server = async move {
            match grpc {
                Some(grpc) => {
                    let (a, b) = tokio::join!(main.into_future(), grpc.into_future());
                    a.and(b)
                }
                None => main.await,
            }
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
