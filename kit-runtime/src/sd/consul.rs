//! Consul, through its HTTP API: instances from the health endpoint with
//! blocking queries (`?index=N&wait=`), registration with the local agent
//! with a TTL check the server keeps passing, deregistration on shutdown.
//! Only documented endpoints are used:
//! `GET /v1/health/service/:name`, `PUT /v1/agent/service/register`,
//! `PUT /v1/agent/check/pass/:check_id`, `PUT /v1/agent/service/deregister/:id`.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::etcd::tokio_stream_from;
use super::{Change, Discover, Instance, Registrar, Registration, Snapshots};
use crate::Error;

/// How long a blocking query waits for a change.
const WAIT: &str = "30s";
const RETRY: Duration = Duration::from_secs(1);
/// The TTL of a registration's check, and how often it is passed.
const CHECK_TTL: &str = "10s";
const HEARTBEAT: Duration = Duration::from_secs(3);

/// Instances of service `name` known to the Consul agent at `agent`
/// (`http://127.0.0.1:8500`), passing their health checks.
pub fn consul(agent: &str, name: &str) -> Consul {
    Consul {
        agent: agent.trim_end_matches('/').to_string(),
        name: name.trim_matches('/').to_string(),
    }
}

/// See [`consul`].
#[derive(Clone, Debug)]
pub struct Consul {
    agent: String,
    name: String,
}

type HttpClient = hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>;

fn http_client() -> HttpClient {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

/// One request to the agent: status, body and the `X-Consul-Index` header.
async fn call(
    client: &HttpClient,
    method: Method,
    url: &str,
    body: Option<Vec<u8>>,
    timeout: Duration,
) -> Result<(StatusCode, Bytes, Option<u64>), String> {
    let request = Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(timeout, client.request(request))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let index = response
        .headers()
        .get("x-consul-index")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, body, index))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    #[serde(default)]
    node: Option<Node>,
    service: Service,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Node {
    #[serde(default)]
    address: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Service {
    #[serde(rename = "ID")]
    id: String,
    #[serde(default)]
    address: String,
    port: u16,
    #[serde(default)]
    meta: Option<BTreeMap<String, String>>,
}

impl Consul {
    /// One blocking query; the instances and the index to wait on next.
    async fn query(&self, client: &HttpClient, index: u64) -> Result<(Vec<Instance>, u64), String> {
        let url = format!(
            "{}/v1/health/service/{}?passing=true&index={index}&wait={WAIT}",
            self.agent, self.name
        );
        let (status, body, next) =
            call(client, Method::GET, &url, None, Duration::from_secs(40)).await?;
        if !status.is_success() {
            return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
        }
        let entries: Vec<serde_json::Value> =
            serde_json::from_slice(&body).map_err(|e| format!("not a health response: {e}"))?;
        let mut set = Vec::new();
        for raw in entries {
            match serde_json::from_value::<Entry>(raw) {
                Ok(e) => {
                    let host = if e.service.address.is_empty() {
                        e.node.map(|n| n.address).unwrap_or_default()
                    } else {
                        e.service.address
                    };
                    if host.is_empty() || e.service.port == 0 {
                        tracing::warn!(id = %e.service.id, "skipping a Consul entry with no address");
                        continue;
                    }
                    let host = if host.contains(':') && !host.starts_with('[') {
                        format!("[{host}]")
                    } else {
                        host
                    };
                    let mut i =
                        match Instance::at(format!("http://{host}:{}", e.service.port)).checked() {
                            Ok(i) => i,
                            Err(why) => {
                                tracing::warn!(id = %e.service.id, why, "skipping a Consul entry");
                                continue;
                            }
                        };
                    i.id = e.service.id;
                    i.metadata = e.service.meta.unwrap_or_default();
                    set.push(i);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "skipping a Consul entry that is not a service")
                }
            }
        }
        // Consul's advice: an index that goes backwards resets to 0.
        let next = next.unwrap_or(0);
        Ok((set, if next < index { 0 } else { next }))
    }
}

impl Discover for Consul {
    fn describe(&self) -> String {
        format!(
            "consul://{}/{}",
            self.agent.trim_start_matches("http://"),
            self.name
        )
    }

    fn watch(&self) -> BoxStream<'static, Change> {
        let (tx, rx) = mpsc::channel(64);
        let this = self.clone();
        tokio::spawn(async move {
            let client = http_client();
            let mut snapshots = Snapshots::default();
            let mut index = 0;
            loop {
                let changes = match this.query(&client, index).await {
                    Ok((set, next)) => {
                        index = next;
                        snapshots.next(set)
                    }
                    Err(e) => {
                        index = 0;
                        vec![Change::Failed(format!("consul: {e}"))]
                    }
                };
                let failed = matches!(changes.first(), Some(Change::Failed(_)));
                for c in changes {
                    if tx.send(c).await.is_err() {
                        return;
                    }
                }
                if failed {
                    tokio::time::sleep(RETRY).await;
                }
            }
        });
        tokio_stream_from(rx)
    }
}

impl Registrar for Consul {
    fn describe(&self) -> String {
        Discover::describe(self)
    }

    fn register(
        &self,
        instance: Instance,
    ) -> BoxFuture<'static, Result<Box<dyn Registration>, Error>> {
        let this = self.clone();
        Box::pin(async move {
            let client = http_client();
            let body = this.registration(&instance)?;
            this.put_registration(&client, &body).await.map_err(|e| {
                Error::unavailable(format!(
                    "cannot register with {}: {e}",
                    Discover::describe(&this)
                ))
            })?;
            let (stop, stopped) = tokio::sync::oneshot::channel();
            let id = instance.id.clone();
            let task = tokio::spawn(heartbeat(this, client, id, body, stopped));
            Ok(Box::new(ConsulRegistration { stop, task }) as Box<dyn Registration>)
        })
    }
}

impl Consul {
    fn registration(&self, instance: &Instance) -> Result<Vec<u8>, Error> {
        let uri: http::Uri = instance.url.parse().map_err(|e| {
            Error::invalid_argument(format!("instance URL `{}`: {e}", instance.url))
        })?;
        let body = serde_json::json!({
            "ID": instance.id,
            "Name": self.name,
            "Address": uri.host().unwrap_or("127.0.0.1"),
            "Port": uri.port_u16().unwrap_or(80),
            "Meta": instance.metadata,
            "Check": {
                "TTL": CHECK_TTL,
                "Status": "passing",
                "DeregisterCriticalServiceAfter": "1m",
            },
        });
        serde_json::to_vec(&body).map_err(|e| Error::internal(e.to_string()))
    }

    async fn put_registration(&self, client: &HttpClient, body: &[u8]) -> Result<(), String> {
        let url = format!("{}/v1/agent/service/register", self.agent);
        let (status, text, _) = call(
            client,
            Method::PUT,
            &url,
            Some(body.to_vec()),
            Duration::from_secs(5),
        )
        .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&text)))
        }
    }
}

/// Passes the TTL check; registers again when the agent no longer knows the
/// check (it restarted) or after an outage; deregisters on `stop`.
async fn heartbeat(
    consul: Consul,
    client: HttpClient,
    id: String,
    body: Vec<u8>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let pass = format!("{}/v1/agent/check/pass/service:{id}", consul.agent);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            () = tokio::time::sleep(HEARTBEAT) => {}
        }
        match call(&client, Method::PUT, &pass, None, Duration::from_secs(5)).await {
            Ok((status, _, _)) if status.is_success() => {}
            outcome => {
                tracing::warn!(
                    id,
                    ?outcome,
                    "the Consul check could not be passed; registering again"
                );
                if let Err(e) = consul.put_registration(&client, &body).await {
                    tracing::debug!(id, error = %e, "Consul still unavailable");
                }
            }
        }
    }
    let url = format!("{}/v1/agent/service/deregister/{id}", consul.agent);
    let _ = call(&client, Method::PUT, &url, None, Duration::from_secs(3)).await;
}

struct ConsulRegistration {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Registration for ConsulRegistration {
    fn deregister(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let _ = self.stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(4), self.task).await;
        })
    }
}
