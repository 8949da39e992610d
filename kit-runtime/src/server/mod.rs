//! Serving kit services: [`serve`](crate::serve) for the common case,
//! [`Server`] to combine services, add layers or configure in code,
//! [`Listening`] to control a bound server.

mod body;
mod connections;
mod dispatch;
mod endpoints;
mod health;
mod listening;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http::{Request, Response};
use tokio::net::TcpListener;
use tower::{BoxError, Layer, Service};

pub use endpoints::{Endpoints, WithLayer};
pub use health::Health;
pub use listening::{shutdown_signal, Listening};

pub use crate::layer::BoxEndpoint;
#[doc(hidden)]
pub use crate::layer::StackConfig;
pub(crate) use connections::LocalAddr;

use crate::auth::Authenticate;
use crate::cli::Cli;
use crate::codegen::{GrpcRoutes, HttpRoutes};
use crate::config::Config;
use crate::descriptor::ServiceDescriptor;
use crate::layer::{Admission, UserLayers};
use crate::sd::Registrar;
use crate::transport::nats::NatsServer;
use crate::Error;
use dispatch::Dispatch;
use listening::Announce;

/// The axum router of one service's endpoints (JSON 404/405 included), to
/// nest in an application of your own. Install a `metrics` recorder first
/// if you want its metrics; `/health`, `/metrics` and `/kit/describe` come
/// with [`Server::into_router`].
///
/// ```
/// # #[derive(Default)] struct Strings;
/// # #[kit::service] impl Strings {
/// #     #[endpoint(http = "POST /uppercase")]
/// #     async fn uppercase(&self, s: String) -> String { s.to_uppercase() }
/// # }
/// let app = axum::Router::new().nest("/strings", kit::router(Strings));
/// ```
pub fn router<S: Endpoints>(service: S) -> Router {
    let mut routes = HttpRoutes::default();
    Arc::new(service).mount_http(&mut routes);
    routes.into_router()
}

/// Serves `service` as configured by the command line and `KIT_*`
/// variables ([`Cli`]) until SIGINT or SIGTERM, then drains and returns.
/// `--help`, `--version` and `--emit-proto` do what they say and exit.
///
/// ```no_run
/// # #[derive(Default)] struct Strings;
/// # #[kit::service] impl Strings {
/// #     #[endpoint(http = "POST /uppercase")]
/// #     async fn uppercase(&self, s: String) -> String { s.to_uppercase() }
/// # }
/// #[tokio::main]
/// async fn main() -> Result<(), kit::Error> {
///     kit::serve(Strings).await
/// }
/// ```
pub async fn serve<S: Endpoints>(service: S) -> Result<(), Error> {
    Cli::parse().run(|server| server.add_service(service)).await
}

/// Mounts a service's endpoints: on HTTP, on gRPC, and on the NATS
/// router when the server serves NATS.
type Mount = Box<dyn FnOnce(&mut HttpRoutes, &mut GrpcRoutes, Option<&mut HttpRoutes>) + Send>;

/// A server for one or more services, with `/health`, `/metrics` and
/// `/kit/describe` beside their endpoints, HTTP/JSON and gRPC on one port.
///
/// ```no_run
/// # #[derive(Default)] struct Strings;
/// # #[kit::service] impl Strings {
/// #     #[endpoint(http = "POST /uppercase")]
/// #     async fn uppercase(&self, s: String) -> String { s.to_uppercase() }
/// # }
/// # async fn run() -> Result<(), kit::Error> {
/// use std::time::Duration;
/// kit::Server::new(kit::Config::default())
///     .grace_period(Duration::from_secs(2))
///     .layer(tower::limit::ConcurrencyLimitLayer::new(512))
///     .add_service(Strings)
///     .serve()
///     .await
/// # }
/// ```
pub struct Server {
    config: Config,
    services: Vec<(&'static ServiceDescriptor, Mount)>,
    health: Health,
    layers: UserLayers,
    stack: StackConfig,
    registrars: Vec<Box<dyn Registrar>>,
    rate_key: Option<Arc<dyn crate::limit::RateKey>>,
    authenticators: Vec<(String, Arc<dyn Authenticate>)>,
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
            layers: UserLayers::default(),
            stack: StackConfig::default(),
            registrars: Vec::new(),
            rate_key: None,
            authenticators: Vec::new(),
        }
    }

    /// Adds authenticator `name` (or replaces the one the flags made), for
    /// endpoints with `auth = "name"`: one of kit's
    /// ([`Jwt`](crate::auth::Jwt), [`BasicAuth`](crate::auth::BasicAuth),
    /// [`ApiKeys`](crate::auth::ApiKeys), [`Mtls`](crate::auth::Mtls)) set
    /// up in code, or your own [`Authenticate`].
    ///
    /// ```
    /// # #[derive(Default)] struct Strings;
    /// # #[kit::service(auth = "jwt")] impl Strings {
    /// #     #[endpoint(http = "POST /uppercase")]
    /// #     async fn uppercase(&self, s: String) -> String { s.to_uppercase() }
    /// # }
    /// let server = kit::Server::default()
    ///     .add_service(Strings)
    ///     .authenticator("jwt", kit::auth::Jwt::hs256(b"0123456789abcdef0123456789abcdef").issuer("me"));
    /// ```
    pub fn authenticator(
        mut self,
        name: impl Into<String>,
        authenticator: impl Authenticate,
    ) -> Server {
        self.authenticators
            .push((name.into(), Arc::new(authenticator)));
        self
    }

    /// Rate limits (`rate = "..."`) count each caller separately, as told
    /// apart by `key`, e.g. [`ByHeader`](crate::limit::ByHeader) or a
    /// closure over the [`RequestHead`](crate::limit::RequestHead).
    ///
    /// ```
    /// # #[derive(Default)] struct Strings;
    /// # #[kit::service] impl Strings {
    /// #     #[endpoint(http = "POST /uppercase", rate = "10/s")]
    /// #     async fn uppercase(&self, s: String) -> String { s.to_uppercase() }
    /// # }
    /// let server = kit::Server::default()
    ///     .add_service(Strings)
    ///     .rate_limit_key(kit::limit::ByHeader::new("x-api-key"));
    /// ```
    pub fn rate_limit_key(mut self, key: impl crate::limit::RateKey) -> Server {
        self.rate_key = Some(Arc::new(key));
        self
    }

    /// Announces the server in `registrar` while it serves: registered
    /// with the address it bound (or `--advertise-addr`) once it accepts
    /// connections, kept alive, and deregistered first on shutdown, before
    /// draining, so clients stop sending. `--register URL` does the same
    /// from the command line.
    ///
    /// ```no_run
    /// # #[derive(Default)] struct Strings;
    /// # #[kit::service] impl Strings {
    /// #     #[endpoint(http = "POST /uppercase")]
    /// #     async fn uppercase(&self, s: String) -> String { s.to_uppercase() }
    /// # }
    /// # async fn run() -> Result<(), kit::Error> {
    /// kit::Server::default()
    ///     .add_service(Strings)
    ///     .register(kit::sd::etcd(["http://127.0.0.1:2379"], "strings"))
    ///     .serve()
    ///     .await
    /// # }
    /// ```
    pub fn register(mut self, registrar: impl Registrar) -> Server {
        self.registrars.push(Box::new(registrar));
        self
    }

    /// A server configured from the command line and `KIT_*` variables.
    /// Unlike [`Cli::parse`] it never exits the process: `--help`,
    /// `--version`, a bad flag, `--emit-proto` and `--emit-openapi` (which need the services,
    /// see [`Cli::run`]) come back as errors carrying the text to show.
    pub fn from_env() -> Result<Server, Error> {
        let cli = Cli::try_parse_from(std::env::args_os())
            .map_err(|e| Error::invalid_argument(e.to_string()))?;
        if cli.emit_proto.is_some() || cli.emit_openapi {
            return Err(Error::invalid_argument(
                "--emit-proto and --emit-openapi need the services: serve with kit::serve or kit::Cli::parse().run(..)",
            ));
        }
        Ok(Server::new(cli.config))
    }

    /// Adds a service.
    pub fn add_service<S: Endpoints>(self, service: S) -> Server {
        self.add_shared_service(Arc::new(service))
    }

    /// Adds a service that is shared with other code.
    pub fn add_shared_service<S: Endpoints>(mut self, service: Arc<S>) -> Server {
        self.services.push((
            S::DESCRIPTOR,
            Box::new(move |http, grpc, nats| {
                service.clone().mount_http(http);
                if let Some(nats) = nats {
                    service.clone().mount_http(nats);
                }
                service.mount_grpc(grpc);
            }),
        ));
        self
    }

    /// Adds `layer` around every endpoint of every service, on both
    /// transports, inside kit's own layers (see [`BoxEndpoint`]). Layers
    /// added first are outermost, as with `tower::ServiceBuilder`.
    pub fn layer<L>(mut self, layer: L) -> Server
    where
        L: Layer<BoxEndpoint> + Send + Sync + 'static,
        L::Service:
            Service<Request<Body>, Response = Response<Body>> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request<Body>>>::Error: Into<BoxError>,
        <L::Service as Service<Request<Body>>>::Future: Send + 'static,
    {
        self.layers.push(layer);
        self
    }

    /// Turns kit's own layers on or off, to measure what each costs.
    #[doc(hidden)]
    pub fn stack_config(mut self, stack: StackConfig) -> Server {
        self.stack = stack;
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

    /// Sets the largest accepted request body and gRPC message.
    pub fn body_limit(mut self, bytes: usize) -> Server {
        self.config.body_limit = bytes;
        self
    }

    /// Serves TLS on every listener with the PEM certificate chain and
    /// private key of these files (as `--tls-cert` and `--tls-key`),
    /// reloaded when they change.
    ///
    /// ```no_run
    /// # #[derive(Default)] struct Strings;
    /// # #[kit::service] impl Strings {
    /// #     #[endpoint(http = "POST /uppercase")]
    /// #     async fn uppercase(&self, s: String) -> String { s.to_uppercase() }
    /// # }
    /// # async fn run() -> Result<(), kit::Error> {
    /// kit::Server::default()
    ///     .tls("/etc/kit/server.pem", "/etc/kit/server.key")
    ///     .tls_client_ca("/etc/kit/clients-ca.pem") // mTLS, required
    ///     .add_service(Strings)
    ///     .serve()
    ///     .await
    /// # }
    /// ```
    pub fn tls(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Server {
        self.config.tls_cert = Some(cert.into());
        self.config.tls_key = Some(key.into());
        self
    }

    /// Verifies client certificates against the CA certificates of this
    /// PEM file (mTLS, as `--tls-client-ca`); required unless
    /// [`tls_client_auth`](Server::tls_client_auth) says optional.
    pub fn tls_client_ca(mut self, ca: impl Into<PathBuf>) -> Server {
        self.config.tls_client_ca = Some(ca.into());
        self
    }

    /// Whether client certificates are required (the default) or optional.
    pub fn tls_client_auth(mut self, auth: crate::tls::ClientAuth) -> Server {
        self.config.tls_client_auth = auth;
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

    /// Binds the listeners; the server runs when [`Listening::run_until`]
    /// is awaited.
    pub async fn bind(mut self) -> Result<Listening, Error> {
        // An empty KIT_REGISTER (or `--register ''`) registers nowhere.
        for url in self.config.register.iter().filter(|u| !u.trim().is_empty()) {
            let registrar = crate::sd::from_url(url)?.registrar()?;
            self.registrars.push(registrar);
        }
        if let Some(addr) = &self.config.advertise_addr {
            check_advertised(addr)?;
        }
        // Before binding: a bad certificate file stops the start.
        let tls = crate::tls::server::ServerTls::from_config(&self.config)?;
        let listener = bind(self.config.http_addr).await?;
        let grpc_listener = match self.config.grpc_addr {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let default_name = self.services.first().map_or("kit", |(d, _)| d.name);
        let export = self.config.observe.export_config()?;
        let descriptors: Vec<&'static ServiceDescriptor> =
            self.services.iter().map(|(d, _)| *d).collect();
        let grace = self.config.grace_period;
        let config = self.config.clone();
        let health = self.health.clone();
        let announce = Announce {
            registrars: std::mem::take(&mut self.registrars),
            advertise: self.config.advertise_addr.clone(),
            metadata: self.config.metadata.clone(),
        };
        let nats_prefix = self.config.nats_prefix.clone();
        let nats_url = self
            .config
            .nats_url
            .clone()
            .filter(|u| !u.trim().is_empty());
        let routers = self.into_routers()?;
        let nats = match (nats_url, routers.nats) {
            (Some(url), Some(router)) => {
                let server =
                    NatsServer::connect(&url, nats_prefix.as_deref(), &descriptors).await?;
                Some((server, router))
            }
            _ => None,
        };
        // After the routers: they install the metrics recorder the body
        // budget's gauge and the exporter's counters report to.
        crate::trace::start_export(&export, default_name)?;
        let mut limits = connections::ConnectionLimits::from_config(&config);
        limits.tls = tls;
        Listening::new(
            listener,
            routers.app,
            grpc_listener.map(|l| (l, routers.grpc)),
            health,
            grace,
            descriptors,
            announce,
            limits,
            nats,
        )
    }

    /// The full router: every service's endpoints over HTTP and gRPC,
    /// `/health`, gRPC health and reflection, `/metrics` (when kit's
    /// Prometheus recorder is installed) and `/kit/describe`.
    pub fn into_router(self) -> Result<Router, Error> {
        Ok(self.into_routers()?.app.into_router())
    }

    /// The service `serve` runs for each connection, without the wrapping
    /// `into_router` needs: what the in-process benchmark calls.
    #[doc(hidden)]
    pub fn into_service(
        self,
    ) -> Result<
        impl tower::Service<
                Request<Body>,
                Response = Response<Body>,
                Error = std::convert::Infallible,
                Future: Send,
            > + Clone
            + Send
            + 'static,
        Error,
    > {
        Ok(self.into_routers()?.app)
    }

    fn into_routers(self) -> Result<Routers, Error> {
        let prometheus = crate::metrics::install(&self.config.observe.metrics);
        crate::metrics::runtime::watch_current_runtime();
        let mut stack = self.stack;
        stack.access_log &= self.config.observe.access_log;
        if stack.slow_threshold.is_some() {
            stack.slow_threshold =
                Some(self.config.observe.slow_threshold).filter(|d| !d.is_zero());
        }
        let descriptors: Vec<&'static ServiceDescriptor> =
            self.services.iter().map(|(d, _)| *d).collect();
        let mut authenticators = self.config.auth.authenticators()?;
        for (name, authenticator) in &self.authenticators {
            authenticators.insert_shared(name.clone(), authenticator.clone());
        }
        if let Some(problem) = authenticators.missing(&descriptors).first() {
            return Err(Error::invalid_argument(problem.clone()));
        }
        let metrics_schemes = self.config.auth.metrics_schemes(&authenticators)?;
        let admission = Admission::new(
            (!self.config.request_timeout.is_zero()).then_some(self.config.request_timeout),
            self.config.concurrency,
            self.rate_key.clone(),
        )
        .with_authenticators(authenticators);
        let guard = admission.authenticators();
        let mut http = HttpRoutes::new(
            self.config.body_limit,
            stack,
            self.layers.clone(),
            admission.clone(),
        );
        // Requests over NATS take the same routes, handlers and gates,
        // under their own transport label.
        let mut nats = self
            .config
            .nats_url
            .as_ref()
            .filter(|u| !u.trim().is_empty())
            .map(|_| {
                HttpRoutes::new(
                    self.config.body_limit,
                    stack,
                    self.layers.clone(),
                    admission.clone(),
                )
                .for_nats()
            });
        let mut grpc = GrpcRoutes::new(
            self.config.body_limit,
            stack,
            self.layers,
            admission.clone(),
        );
        for (_, mount) in self.services {
            mount(&mut http, &mut grpc, nats.as_mut());
        }
        if let Some(problem) = http.problems().first() {
            return Err(Error::invalid_argument(problem.clone()));
        }
        let has_grpc = !grpc.is_empty();
        if has_grpc {
            add_grpc_builtins(&mut grpc, &descriptors, &self.health)?;
        }
        let server_limits = describe_server_limits(&self.config);
        let metadata: serde_json::Map<String, serde_json::Value> = self
            .config
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let metadata = serde_json::Value::Object(metadata);
        let openapi = bytes::Bytes::from(crate::openapi::to_pretty_json(
            &crate::openapi::document(&descriptors),
        ));
        let mut http_router = http
            .into_router()
            .merge(self.health.router())
            .route(
                "/openapi.json",
                get(move || async move {
                    (
                        [(http::header::CONTENT_TYPE, "application/json")],
                        openapi.clone(),
                    )
                }),
            )
            .route(
                "/kit/describe",
                get(move || async move {
                    axum::Json(describe(
                        &descriptors,
                        &admission,
                        &server_limits,
                        &metadata,
                    ))
                }),
            );
        if let Some(handle) = prometheus {
            http_router = http_router.route(
                "/metrics",
                get(move |request: Request<Body>| async move {
                    let caller = crate::auth::AuthRequest::of(&request);
                    if let Some(refusal) = guard_metrics(&guard, &metrics_schemes, caller).await {
                        return refusal;
                    }
                    crate::metrics::runtime::refresh();
                    let mut response = Response::new(Body::from(handle.render()));
                    response.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("text/plain; version=0.0.4"),
                    );
                    response
                }),
            );
        }
        let grpc_router = grpc.into_router();
        let app = Dispatch::new(http_router, has_grpc.then(|| grpc_router.clone()));
        Ok(Routers {
            app,
            grpc: grpc_router,
            nats: nats.map(HttpRoutes::into_router),
        })
    }

    /// The OpenAPI 3.1 document of the services' HTTP endpoints (what
    /// `/openapi.json` serves and `--emit-openapi` prints).
    pub fn openapi(&self) -> serde_json::Value {
        let descriptors: Vec<_> = self.services.iter().map(|(d, _)| *d).collect();
        crate::openapi::document(&descriptors)
    }

    /// The `.proto` files of the services added, one per protobuf package:
    /// file name and text. Fails when services of one package declare two
    /// different messages with one name.
    pub fn protos(&self) -> Result<Vec<(String, String)>, Error> {
        let descriptors: Vec<_> = self.services.iter().map(|(d, _)| *d).collect();
        let files =
            crate::descriptor::proto_files(&descriptors).map_err(Error::invalid_argument)?;
        Ok(files
            .into_iter()
            .map(|(name, schema)| (name, schema.to_proto()))
            .collect())
    }

    /// Binds, logs the address and the endpoint table, and serves until
    /// SIGINT or SIGTERM; then drains in-flight requests for up to the grace
    /// period and returns.
    pub async fn serve(self) -> Result<(), Error> {
        crate::log::init(&self.config.observe.log_config(self.config.log_format))?;
        let listening = self.bind().await?;
        listening.log_banner();
        listening.run_until(shutdown_signal()).await
    }
}

/// The answer to a `/metrics` request its caller may not make, if so.
async fn guard_metrics(
    authenticators: &crate::auth::Authenticators,
    schemes: &[String],
    request: crate::auth::AuthRequest<'_>,
) -> Option<Response<Body>> {
    if schemes.is_empty() {
        return None;
    }
    let schemes: Vec<&str> = schemes.iter().map(String::as_str).collect();
    match authenticators.check_schemes(&schemes, &[], &request).await {
        crate::auth::Verdict::Allowed(_) => None,
        crate::auth::Verdict::Refused(error, challenge) => {
            let mut response = crate::transport::http::error_response(&error);
            if let Some(challenge) = challenge {
                response
                    .headers_mut()
                    .insert(http::header::WWW_AUTHENTICATE, challenge);
            }
            Some(response)
        }
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| Error::unavailable(format!("cannot listen on {addr}: {e}")))
}

/// gRPC health (the same state as `/health`) and server reflection.
fn add_grpc_builtins(
    grpc: &mut GrpcRoutes,
    descriptors: &[&'static ServiceDescriptor],
    health: &Health,
) -> Result<(), Error> {
    let names = descriptors
        .iter()
        .filter_map(|d| d.grpc.map(|g| format!("{}.{}", g.package, g.name)))
        .collect();
    grpc.add_tonic("grpc.health.v1.Health", health.grpc_service(names));
    let files = crate::descriptor::proto_files(descriptors).map_err(Error::invalid_argument)?;
    let sets: Vec<Vec<u8>> = files
        .iter()
        .map(|(file, schema)| crate::proto::reflection::file_descriptor_set(schema, file))
        .collect();
    // Reflection lists the health service too, as grpcurl-style tools expect.
    let mut v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
    let mut v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
    for set in &sets {
        v1 = v1.register_encoded_file_descriptor_set(set);
        v1alpha = v1alpha.register_encoded_file_descriptor_set(set);
    }
    let v1 = v1
        .build_v1()
        .map_err(|e| Error::internal(format!("gRPC reflection: {e}")))?;
    let v1alpha = v1alpha
        .build_v1alpha()
        .map_err(|e| Error::internal(format!("gRPC reflection: {e}")))?;
    // v1 is the standard; v1alpha is what many tools (and grpcio's Python
    // reflection client) still speak.
    grpc.add_tonic("grpc.reflection.v1.ServerReflection", v1);
    grpc.add_tonic("grpc.reflection.v1alpha.ServerReflection", v1alpha);
    Ok(())
}

/// The descriptors, each endpoint with its `limits` in force and each
/// service with the server's connection limits.
fn describe(
    descriptors: &[&'static ServiceDescriptor],
    admission: &Admission,
    server: &serde_json::Value,
    metadata: &serde_json::Value,
) -> serde_json::Value {
    let services = descriptors.iter().map(|d| {
        let mut value = serde_json::to_value(d).unwrap_or_default();
        if let Some(endpoints) = value.get_mut("endpoints").and_then(|e| e.as_array_mut()) {
            for (json, endpoint) in endpoints.iter_mut().zip(d.endpoints) {
                if let Some(object) = json.as_object_mut() {
                    object.insert("limits".into(), admission.describe(endpoint));
                }
            }
        }
        if let Some(object) = value.as_object_mut() {
            object.insert("server".into(), server.clone());
            object.insert("metadata".into(), metadata.clone());
        }
        value
    });
    serde_json::Value::Array(services.collect())
}

fn describe_server_limits(config: &Config) -> serde_json::Value {
    let limits = connections::ConnectionLimits::from_config(config);
    let ms = |d: Duration| d.as_millis() as u64;
    // Whether TLS and client certificates are asked for; no file names.
    let client_certificates = match (&config.tls_client_ca, config.tls_client_auth) {
        (None, _) => "none",
        (Some(_), crate::tls::ClientAuth::Required) => "required",
        (Some(_), crate::tls::ClientAuth::Optional) => "optional",
    };
    serde_json::json!({
        "tls": config.tls_cert.is_some(),
        "tls_client_certificates": client_certificates,
        "request_timeout_ms": ms(config.request_timeout),
        "concurrency": config.concurrency.to_string(),
        "header_timeout_ms": ms(config.header_timeout),
        "body_timeout_ms": ms(config.body_timeout),
        "idle_timeout_ms": ms(config.idle_timeout),
        "max_connections": limits.max_connections,
        "h2_max_streams": config.h2_max_streams,
        "h2_keepalive_ms": ms(config.h2_keepalive),
        "body_limit": config.body_limit,
        "body_memory": config.body_memory,
        "shutdown_linger_ms": ms(config.shutdown_linger),
    })
}

struct Routers {
    app: Dispatch,
    grpc: Router,
    /// The routes requests over NATS take, when the server serves NATS.
    nats: Option<Router>,
}

/// `--advertise-addr` must be `HOST:PORT`, as a registry's peers dial it.
fn check_advertised(addr: &str) -> Result<(), Error> {
    let bad = |why: &str| {
        Error::invalid_argument(format!(
            "--advertise-addr `{addr}`: {why} (write HOST:PORT, e.g. 10.0.0.5:8080)"
        ))
    };
    if addr.contains("://") {
        return Err(bad("no scheme"));
    }
    let uri: http::Uri = format!("http://{addr}")
        .parse()
        .map_err(|_| bad("not a host and port"))?;
    match (uri.host(), uri.port_u16(), uri.path()) {
        (Some(h), Some(p), "/" | "") if !h.is_empty() && p != 0 => Ok(()),
        (_, None, _) => Err(bad("no port")),
        _ => Err(bad("not a host and port")),
    }
}

#[cfg(test)]
mod advertise_tests {
    use super::check_advertised;

    #[test]
    fn advertised_addresses_are_host_and_port() {
        for good in ["10.0.0.5:8080", "svc.internal:80", "[::1]:9000"] {
            assert!(check_advertised(good).is_ok(), "{good}");
        }
        for bad in ["http://x:1", "nohostport", "x:0", "x:1/path", ":80"] {
            let e = check_advertised(bad).expect_err(bad);
            assert!(e.message().contains("--advertise-addr"), "{e}");
        }
    }
}
