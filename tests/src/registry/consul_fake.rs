//! A FAKE Consul agent, in process: no Consul server installs on this
//! machine, so kit's Consul backend is tested against this stand-in. It
//! implements exactly the endpoints kit uses, as Consul's HTTP API
//! documents them, and nothing else (any other path answers 404):
//!
//! - `GET /v1/health/service/:name` with `passing`, blocking `index` and
//!   `wait`, answering `X-Consul-Index` and `[{Node, Service, Checks}]`;
//! - `PUT /v1/agent/service/register` with a `Check` of `TTL` (initial
//!   `Status`, `DeregisterCriticalServiceAfter`);
//! - `PUT /v1/agent/check/pass/:check_id` (`service:<ID>` for a service's
//!   check; unknown ids answer 404 as the agent does);
//! - `PUT /v1/agent/service/deregister/:id`.
//!
//! Every request is logged so a test can assert kit used nothing else.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::watch;

#[derive(Clone, Debug)]
struct Registered {
    name: String,
    address: String,
    port: u64,
    meta: Value,
    ttl: Option<Duration>,
    passing: bool,
    last_pass: Instant,
}

#[derive(Default)]
struct Inner {
    services: BTreeMap<String, Registered>,
    /// Entries a test injects verbatim into health answers.
    raw: Vec<(String, Value)>,
    log: Vec<String>,
}

struct Shared {
    inner: Mutex<Inner>,
    index: watch::Sender<u64>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bump(&self) {
        self.index.send_modify(|i| *i += 1);
    }
}

/// The fake agent, serving on 127.0.0.1 until dropped.
pub struct ConsulFake {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl ConsulFake {
    pub async fn start() -> ConsulFake {
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner::default()),
            index: watch::channel(1).0,
        });
        let app = Router::new()
            .route("/v1/health/service/{name}", get(health))
            .route("/v1/agent/service/register", put(register))
            .route("/v1/agent/check/pass/{id}", put(pass))
            .route("/v1/agent/service/deregister/{id}", put(deregister))
            .fallback(|| async { StatusCode::NOT_FOUND })
            .layer(axum::middleware::from_fn_with_state(shared.clone(), log))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let serve = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let ttl = tokio::spawn(expire(shared.clone()));
        ConsulFake {
            addr,
            shared,
            tasks: vec![serve, ttl],
        }
    }

    /// kit's URL for service `name` here.
    pub fn url(&self, name: &str) -> String {
        format!("consul://{}/{name}", self.addr)
    }

    /// Registers a service as another Consul client would.
    pub fn add(&self, name: &str, id: &str, address: &str, port: u16) {
        self.shared.lock().services.insert(
            id.to_string(),
            Registered {
                name: name.into(),
                address: address.into(),
                port: port.into(),
                meta: json!({}),
                ttl: None,
                passing: true,
                last_pass: Instant::now(),
            },
        );
        self.shared.bump();
    }

    /// Deregisters `id` (as `consul services deregister` would).
    pub fn remove(&self, id: &str) {
        self.shared.lock().services.remove(id);
        self.shared.bump();
    }

    /// Adds an entry to health answers exactly as given (garbage tests).
    pub fn add_raw(&self, name: &str, entry: Value) {
        self.shared.lock().raw.push((name.into(), entry));
        self.shared.bump();
    }

    /// Forgets every registration, as an agent that restarted empty.
    pub fn forget_all(&self) {
        self.shared.lock().services.clear();
        self.shared.bump();
    }

    /// IDs registered for `name`, passing or not.
    pub fn ids(&self, name: &str) -> Vec<String> {
        self.shared
            .lock()
            .services
            .iter()
            .filter(|(_, s)| s.name == name)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// `METHOD path` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.shared.lock().log.clone()
    }
}

impl Drop for ConsulFake {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn log(
    State(shared): State<Arc<Shared>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let line = format!("{} {}", req.method(), req.uri().path());
    shared.lock().log.push(line);
    next.run(req).await
}

/// TTL checks that were not passed in time turn critical.
async fn expire(shared: Arc<Shared>) {
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut changed = false;
        for s in shared.lock().services.values_mut() {
            if let Some(ttl) = s.ttl {
                if s.passing && s.last_pass.elapsed() > ttl {
                    s.passing = false;
                    changed = true;
                }
            }
        }
        if changed {
            shared.bump();
        }
    }
}

fn param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// `10s`, `500ms`, `1m`: Consul's duration strings (the subset used).
fn duration(s: &str) -> Option<Duration> {
    if let Some(ms) = s.strip_suffix("ms") {
        return ms.parse().ok().map(Duration::from_millis);
    }
    if let Some(secs) = s.strip_suffix('s') {
        return secs.parse().ok().map(Duration::from_secs);
    }
    if let Some(mins) = s.strip_suffix('m') {
        return mins
            .parse::<u64>()
            .ok()
            .map(|m| Duration::from_secs(m * 60));
    }
    None
}

async fn health(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let passing_only = param(&query, "passing").is_some_and(|v| v.is_empty() || v == "true");
    let waited: u64 = param(&query, "index")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let wait = param(&query, "wait")
        .and_then(duration)
        .unwrap_or(Duration::from_secs(300))
        .min(Duration::from_secs(600));
    // A blocking query: hold until the index moves past `waited`.
    let mut rx = shared.index.subscribe();
    if waited > 0 {
        let _ = tokio::time::timeout(wait, rx.wait_for(|i| *i > waited)).await;
    }
    let index = *rx.borrow();
    let inner = shared.lock();
    let mut entries: Vec<Value> = inner
        .services
        .iter()
        .filter(|(_, s)| s.name == name && (!passing_only || s.passing))
        .map(|(id, s)| {
            json!({
                "Node": {"ID": "fake-node", "Node": "fake", "Address": "127.0.0.1", "Datacenter": "dc1"},
                "Service": {
                    "ID": id, "Service": s.name, "Tags": [], "Address": s.address,
                    "Port": s.port, "Meta": s.meta,
                },
                "Checks": [{
                    "Node": "fake", "CheckID": format!("service:{id}"),
                    "Status": if s.passing { "passing" } else { "critical" },
                    "ServiceID": id,
                }],
            })
        })
        .collect();
    entries.extend(
        inner
            .raw
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, e)| e.clone()),
    );
    let mut headers = HeaderMap::new();
    headers.insert("x-consul-index", index.into());
    headers.insert(
        "content-type",
        axum::http::HeaderValue::from_static("application/json"),
    );
    (headers, Value::Array(entries).to_string()).into_response()
}

async fn register(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "Request decode failed").into_response();
    };
    let Some(name) = v["Name"].as_str() else {
        return (StatusCode::BAD_REQUEST, "Missing service name").into_response();
    };
    let id = v["ID"].as_str().unwrap_or(name).to_string();
    let check = &v["Check"];
    let ttl = check["TTL"].as_str().and_then(duration);
    // A TTL check starts critical unless `Status` says otherwise.
    let passing = ttl.is_none() || check["Status"].as_str() == Some("passing");
    shared.lock().services.insert(
        id,
        Registered {
            name: name.into(),
            address: v["Address"].as_str().unwrap_or("").into(),
            port: v["Port"].as_u64().unwrap_or(0),
            meta: v["Meta"].clone(),
            ttl,
            passing,
            last_pass: Instant::now(),
        },
    );
    shared.bump();
    StatusCode::OK.into_response()
}

async fn pass(State(shared): State<Arc<Shared>>, Path(check): Path<String>) -> Response {
    let Some(id) = check.strip_prefix("service:") else {
        return (StatusCode::NOT_FOUND, format!("Unknown check ID {check:?}")).into_response();
    };
    let mut inner = shared.lock();
    let Some(s) = inner.services.get_mut(id) else {
        return (StatusCode::NOT_FOUND, format!("Unknown check ID {check:?}")).into_response();
    };
    let was = s.passing;
    s.passing = true;
    s.last_pass = Instant::now();
    drop(inner);
    if !was {
        shared.bump();
    }
    StatusCode::OK.into_response()
}

async fn deregister(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let removed = shared.lock().services.remove(&id).is_some();
    if !removed {
        return (StatusCode::NOT_FOUND, format!("Unknown service ID {id:?}")).into_response();
    }
    shared.bump();
    StatusCode::OK.into_response()
}
