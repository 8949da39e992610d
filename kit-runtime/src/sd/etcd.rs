//! etcd v3: instances are keys under `/kit/services/{name}/`, watched (not
//! polled); a server registers with a lease it keeps alive, so a killed
//! instance disappears when its lease expires.

use std::collections::BTreeMap;
use std::time::Duration;

use etcd_client::{Client, ConnectOptions, EventType, GetOptions, PutOptions, WatchOptions};
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::{Change, Discover, Instance, Registrar, Registration, Snapshots};
use crate::Error;

/// How long a registration outlives its server: the lease TTL.
const LEASE_TTL: i64 = 5;
/// How long to wait before trying the registry again.
const RETRY: Duration = Duration::from_secs(1);

/// Instances of service `name` in the etcd cluster at `endpoints`
/// (`http://host:2379`), for clients ([`Discover`]) and servers
/// ([`Registrar`]).
pub fn etcd<I, S>(endpoints: I, name: &str) -> Etcd
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Etcd {
        endpoints: endpoints.into_iter().map(Into::into).collect(),
        name: name.trim_matches('/').to_string(),
    }
}

/// See [`etcd`].
#[derive(Clone, Debug)]
pub struct Etcd {
    endpoints: Vec<String>,
    name: String,
}

impl Etcd {
    fn prefix(&self) -> String {
        format!("/kit/services/{}/", self.name)
    }

    async fn client(&self) -> Result<Client, etcd_client::Error> {
        let options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(2))
            .with_timeout(Duration::from_secs(5))
            // A watch on a dead connection must fail, not wait forever. No
            // more often than etcd's --grpc-keepalive-min-time (5 s by
            // default): it answers faster pings with GOAWAY (too_many_pings).
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5))
            .with_keep_alive_while_idle(true);
        Client::connect(&self.endpoints, Some(options)).await
    }
}

impl Discover for Etcd {
    fn describe(&self) -> String {
        let hosts: Vec<&str> = self
            .endpoints
            .iter()
            .map(|e| e.trim_start_matches("http://"))
            .collect();
        format!("etcd://{}/{}", hosts.join(","), self.name)
    }

    fn watch(&self) -> BoxStream<'static, Change> {
        let (tx, rx) = mpsc::channel(64);
        let this = self.clone();
        tokio::spawn(async move {
            let mut snapshots = Snapshots::default();
            loop {
                let why = match this.follow(&tx, &mut snapshots).await {
                    Ok(()) => return, // the client is gone
                    Err(e) => e,
                };
                if tx
                    .send(Change::Failed(format!("etcd: {why}")))
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

impl Etcd {
    /// Reads the instances, then applies watch events until the watch
    /// fails (`Err`) or nobody listens any more (`Ok`).
    async fn follow(
        &self,
        tx: &mpsc::Sender<Change>,
        snapshots: &mut Snapshots,
    ) -> Result<(), String> {
        let mut client = self.client().await.map_err(|e| e.to_string())?;
        let prefix = self.prefix();
        let got = client
            .get(prefix.clone(), Some(GetOptions::new().with_prefix()))
            .await
            .map_err(|e| e.to_string())?;
        // By etcd key.
        let mut known: BTreeMap<String, Instance> = BTreeMap::new();
        for kv in got.kvs() {
            let key = kv.key_str().unwrap_or("");
            if let Some(i) = parse(key, kv.value()) {
                known.insert(key.to_string(), i);
            }
        }
        if !send(tx, snapshots.next(known.values().cloned().collect())).await {
            return Ok(());
        }
        let revision = got.header().map_or(0, |h| h.revision());
        let mut stream = client
            .watch(
                prefix.clone(),
                Some(
                    WatchOptions::new()
                        .with_prefix()
                        .with_start_revision(revision + 1),
                ),
            )
            .await
            .map_err(|e| e.to_string())?;
        loop {
            let message = tokio::select! {
                m = stream.message() => m.map_err(|e| e.to_string())?,
                () = tx.closed() => return Ok(()),
            };
            let Some(response) = message else {
                return Err("the watch ended".into());
            };
            if response.canceled() {
                return Err("the watch was cancelled".into());
            }
            for event in response.events() {
                let Some(kv) = event.kv() else { continue };
                let key = kv.key_str().unwrap_or("").to_string();
                match event.event_type() {
                    EventType::Put => match parse(&key, kv.value()) {
                        Some(i) => {
                            known.insert(key, i);
                        }
                        // Overwritten with garbage: that instance is gone.
                        None => {
                            known.remove(&key);
                        }
                    },
                    EventType::Delete => {
                        known.remove(&key);
                    }
                }
            }
            if !send(tx, snapshots.next(known.values().cloned().collect())).await {
                return Ok(());
            }
        }
    }
}

fn key_of(prefix: &str, id: &str) -> String {
    format!("{prefix}{id}")
}

/// An instance from a key's JSON value; garbage is logged and skipped.
fn parse(key: &str, value: &[u8]) -> Option<Instance> {
    match serde_json::from_slice::<Instance>(value)
        .map_err(|e| e.to_string())
        .and_then(Instance::checked)
    {
        Ok(i) => Some(i),
        Err(e) => {
            tracing::warn!(key, error = %e, "skipping an etcd entry that is not a kit instance");
            None
        }
    }
}

async fn send(tx: &mpsc::Sender<Change>, changes: Vec<Change>) -> bool {
    for c in changes {
        if tx.send(c).await.is_err() {
            return false;
        }
    }
    true
}

pub(crate) fn tokio_stream_from<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
) -> BoxStream<'static, T> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}

impl Registrar for Etcd {
    fn describe(&self) -> String {
        Discover::describe(self)
    }

    fn register(
        &self,
        instance: Instance,
    ) -> BoxFuture<'static, Result<Box<dyn Registration>, Error>> {
        let this = self.clone();
        Box::pin(async move {
            let key = key_of(&this.prefix(), &instance.id);
            let value = serde_json::to_vec(&instance)
                .map_err(|e| Error::internal(format!("cannot encode the instance: {e}")))?;
            // The first registration must work (a server that cannot
            // announce itself should say so at start); later ones retry.
            let lease = put_with_lease(&this, &key, &value).await.map_err(|e| {
                Error::unavailable(format!(
                    "cannot register with {}: {e}",
                    Discover::describe(&this)
                ))
            })?;
            let (stop, stopped) = tokio::sync::oneshot::channel();
            let task = tokio::spawn(keep(this, key, value, lease, stopped));
            Ok(Box::new(EtcdRegistration { stop, task }) as Box<dyn Registration>)
        })
    }
}

/// Grants a lease and puts the key under it; returns the lease id.
async fn put_with_lease(etcd: &Etcd, key: &str, value: &[u8]) -> Result<i64, etcd_client::Error> {
    let mut client = etcd.client().await?;
    let lease = client.lease_grant(LEASE_TTL, None).await?.id();
    client
        .put(
            key,
            value.to_vec(),
            Some(PutOptions::new().with_lease(lease)),
        )
        .await?;
    Ok(lease)
}

/// Keeps the lease alive; makes the registration again whenever the lease
/// is lost (an etcd outage longer than the TTL); on `stop`, deletes the key
/// and revokes the lease.
async fn keep(
    etcd: Etcd,
    key: String,
    value: Vec<u8>,
    mut lease: i64,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        let alive = keep_alive(&etcd, lease);
        tokio::select! {
            _ = &mut stop => break,
            why = alive => {
                tracing::warn!(key, why, "etcd registration lost; registering again");
            }
        }
        loop {
            tokio::select! {
                _ = &mut stop => return,
                () = tokio::time::sleep(RETRY) => {}
            }
            match put_with_lease(&etcd, &key, &value).await {
                Ok(l) => {
                    lease = l;
                    tracing::info!(key, "registered with etcd again");
                    break;
                }
                Err(e) => tracing::debug!(key, error = %e, "etcd still unavailable"),
            }
        }
    }
    if let Ok(mut client) = etcd.client().await {
        let _ = client.delete(key.clone(), None).await;
        let _ = client.lease_revoke(lease).await;
    }
}

/// Sends keep-alives at a third of the TTL until one fails; says why.
async fn keep_alive(etcd: &Etcd, lease: i64) -> String {
    let mut client = match etcd.client().await {
        Ok(c) => c,
        Err(e) => return e.to_string(),
    };
    let (mut keeper, mut responses) = match client.lease_keep_alive(lease).await {
        Ok(k) => k,
        Err(e) => return e.to_string(),
    };
    loop {
        if let Err(e) = keeper.keep_alive().await {
            return e.to_string();
        }
        match responses.message().await {
            Ok(Some(r)) if r.ttl() > 0 => {}
            Ok(Some(_)) => return "the lease expired".into(),
            Ok(None) => return "the keep-alive stream ended".into(),
            Err(e) => return e.to_string(),
        }
        tokio::time::sleep(Duration::from_secs((LEASE_TTL / 3).max(1) as u64)).await;
    }
}

struct EtcdRegistration {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Registration for EtcdRegistration {
    fn deregister(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let _ = self.stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(3), self.task).await;
        })
    }
}
