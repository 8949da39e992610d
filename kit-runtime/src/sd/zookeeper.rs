//! ZooKeeper: each instance is an ephemeral sequential node under a path,
//! its data the JSON Airbnb's SmartStack (Nerve writes it, Synapse reads
//! it) uses: `{"host": "10.0.0.1", "port": 8080, "name": "..."}`. So kit
//! services join an existing SmartStack fleet, and read its members.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use zookeeper_client::{Acls, Client, CreateMode, SessionState};

use super::etcd::tokio_stream_from;
use super::{Change, Discover, Instance, Registrar, Registration, Snapshots};
use crate::Error;

const SESSION_TIMEOUT: Duration = Duration::from_secs(6);
const RETRY: Duration = Duration::from_secs(1);

/// Instances registered as children of `path` in the ZooKeeper ensemble
/// at `hosts` (`host:2181[,host2:2181]`).
pub fn zookeeper(hosts: &str, path: &str) -> ZooKeeper {
    ZooKeeper {
        hosts: hosts.to_string(),
        path: format!("/{}", path.trim_matches('/')),
    }
}

/// See [`zookeeper`].
#[derive(Clone, Debug)]
pub struct ZooKeeper {
    hosts: String,
    path: String,
}

/// A SmartStack (Nerve) registration.
#[derive(Debug, Serialize, Deserialize)]
struct Nerve {
    host: String,
    port: u16,
    #[serde(default)]
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    weight: Option<u32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, serde_json::Value>,
}

/// The instance a member node describes; garbage is an error saying why.
fn member(child: &str, data: &[u8]) -> Result<Instance, String> {
    let n: Nerve =
        serde_json::from_slice(data).map_err(|e| format!("not SmartStack (Nerve) JSON: {e}"))?;
    if n.port == 0 {
        return Err("port 0".into());
    }
    let host = if n.host.contains(':') && !n.host.starts_with('[') {
        format!("[{}]", n.host)
    } else {
        n.host
    };
    let mut i = Instance::at(format!("http://{host}:{}", n.port)).checked()?;
    i.id = child.to_string();
    for (k, v) in n.labels {
        let v = match v {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        i.metadata.insert(k, v);
    }
    if let Some(w) = n.weight {
        i.metadata.insert("weight".into(), w.to_string());
    }
    if !n.name.is_empty() {
        i.metadata.insert("name".into(), n.name);
    }
    Ok(i)
}

impl ZooKeeper {
    async fn client(&self) -> Result<Client, zookeeper_client::Error> {
        let client = Client::connector()
            .with_session_timeout(SESSION_TIMEOUT)
            .connect(&self.hosts)
            .await?;
        match client
            .mkdir(
                &self.path,
                &CreateMode::Persistent.with_acls(Acls::anyone_all()),
            )
            .await
        {
            Ok(()) | Err(zookeeper_client::Error::NodeExists) => Ok(client),
            Err(e) => Err(e),
        }
    }

    /// Reads the members, then again after every change, until a read
    /// fails (`Err`) or nobody listens (`Ok`).
    async fn follow(
        &self,
        tx: &mpsc::Sender<Change>,
        snapshots: &mut Snapshots,
    ) -> Result<(), String> {
        let client = self.client().await.map_err(|e| e.to_string())?;
        loop {
            let (children, _, watcher) = client
                .get_and_watch_children(&self.path)
                .await
                .map_err(|e| e.to_string())?;
            let mut set = Vec::new();
            for child in children {
                let node = format!("{}/{child}", self.path);
                match client.get_data(&node).await {
                    Ok((data, _)) => match member(&child, &data) {
                        Ok(i) => set.push(i),
                        Err(e) => {
                            tracing::warn!(node, error = %e, "skipping a ZooKeeper member node")
                        }
                    },
                    // Gone between the listing and the read.
                    Err(zookeeper_client::Error::NoNode) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
            for c in snapshots.next(set) {
                if tx.send(c).await.is_err() {
                    return Ok(());
                }
            }
            tokio::select! {
                _ = watcher.changed() => {}
                () = tx.closed() => return Ok(()),
            }
        }
    }
}

impl Discover for ZooKeeper {
    fn describe(&self) -> String {
        format!("zk://{}{}", self.hosts, self.path)
    }

    fn watch(&self) -> BoxStream<'static, Change> {
        let (tx, rx) = mpsc::channel(64);
        let this = self.clone();
        tokio::spawn(async move {
            let mut snapshots = Snapshots::default();
            loop {
                let why = match this.follow(&tx, &mut snapshots).await {
                    Ok(()) => return,
                    Err(e) => e,
                };
                if tx
                    .send(Change::Failed(format!("zookeeper: {why}")))
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::time::sleep(RETRY).await;
            }
        });
        tokio_stream_from(rx)
    }
}

impl Registrar for ZooKeeper {
    fn describe(&self) -> String {
        Discover::describe(self)
    }

    fn register(
        &self,
        instance: Instance,
    ) -> BoxFuture<'static, Result<Box<dyn Registration>, Error>> {
        let this = self.clone();
        Box::pin(async move {
            let data = nerve(&instance)?;
            let (client, node) = create(&this, &data).await.map_err(|e| {
                Error::unavailable(format!(
                    "cannot register with {}: {e}",
                    Discover::describe(&this)
                ))
            })?;
            let (stop, stopped) = tokio::sync::oneshot::channel();
            let task = tokio::spawn(keep(this, data, client, node, stopped));
            Ok(Box::new(ZkRegistration { stop, task }) as Box<dyn Registration>)
        })
    }
}

fn nerve(instance: &Instance) -> Result<Vec<u8>, Error> {
    let uri: http::Uri = instance
        .url
        .parse()
        .map_err(|e| Error::invalid_argument(format!("instance URL `{}`: {e}", instance.url)))?;
    let nerve = Nerve {
        host: uri.host().unwrap_or("127.0.0.1").to_string(),
        port: uri.port_u16().unwrap_or(80),
        name: instance.id.clone(),
        weight: instance.metadata.get("weight").and_then(|w| w.parse().ok()),
        labels: instance
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect(),
    };
    serde_json::to_vec(&nerve).map_err(|e| Error::internal(e.to_string()))
}

/// Connects and creates the ephemeral sequential member node.
async fn create(zk: &ZooKeeper, data: &[u8]) -> Result<(Client, String), zookeeper_client::Error> {
    let client = zk.client().await?;
    let (_, sequence) = client
        .create(
            &format!("{}/member_", zk.path),
            data,
            &CreateMode::EphemeralSequential.with_acls(Acls::anyone_all()),
        )
        .await?;
    let node = format!("{}/member_{sequence}", zk.path);
    Ok((client, node))
}

/// Watches the session; when it expires (a ZooKeeper outage longer than
/// the session timeout) the ephemeral node is gone, so it is created again.
async fn keep(
    zk: ZooKeeper,
    data: Vec<u8>,
    mut client: Client,
    mut node: String,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        let mut states = client.state_watcher();
        loop {
            tokio::select! {
                _ = &mut stop => {
                    let _ = client.delete(&node, None).await;
                    return;
                }
                state = states.changed() => {
                    if matches!(state, SessionState::Expired | SessionState::Closed | SessionState::AuthFailed) {
                        break;
                    }
                }
            }
        }
        tracing::warn!(node, "ZooKeeper session lost; registering again");
        loop {
            tokio::select! {
                _ = &mut stop => return,
                () = tokio::time::sleep(RETRY) => {}
            }
            match create(&zk, &data).await {
                Ok((c, n)) => {
                    client = c;
                    node = n;
                    tracing::info!(node, "registered with ZooKeeper again");
                    break;
                }
                Err(e) => tracing::debug!(error = %e, "ZooKeeper still unavailable"),
            }
        }
    }
}

struct ZkRegistration {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Registration for ZkRegistration {
    fn deregister(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let _ = self.stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(3), self.task).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_nerve_writes() {
        // As Airbnb's Nerve writes a member node.
        let data = br#"{"host":"10.0.0.5","port":8080,"name":"i-0abc","weight":10,"labels":{"az":"us-east-1a","canary":true}}"#;
        let i = member("member_0000000003", data).unwrap();
        assert_eq!(i.id, "member_0000000003");
        assert_eq!(i.url, "http://10.0.0.5:8080");
        assert_eq!(i.metadata["weight"], "10");
        assert_eq!(i.metadata["az"], "us-east-1a");
        assert_eq!(i.metadata["canary"], "true");
        assert_eq!(i.metadata["name"], "i-0abc");
        let v6 = member("m", br#"{"host":"::1","port":9000}"#).unwrap();
        assert_eq!(v6.url, "http://[::1]:9000");
    }

    #[test]
    fn garbage_says_why() {
        for (data, why) in [
            (&b"not json"[..], "not SmartStack"),
            (br#"{"host":"10.0.0.5"}"#, "not SmartStack"),
            (br#"{"host":"10.0.0.5","port":0}"#, "port 0"),
            (br#"{"host":"","port":80}"#, "no host"),
            (br#"{"host":"a b","port":80}"#, "URL"),
        ] {
            let e = member("m", data).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn writes_what_nerve_reads() {
        let i = Instance::at("http://127.0.0.1:8080").with("version", "1.2.0");
        let data = nerve(&i).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&data).unwrap();
        assert_eq!(v["host"], "127.0.0.1");
        assert_eq!(v["port"], 8080);
        assert_eq!(v["name"], "127.0.0.1:8080");
        assert_eq!(v["labels"]["version"], "1.2.0");
        let back = member("member_1", &data).unwrap();
        assert_eq!(back.url, i.url);
    }
}
