//! Service discovery and registration: where a service's instances are.
//!
//! A client finds instances through a [`Discover`] source and a server
//! announces itself through a [`Registrar`]; both come from one URL syntax
//! ([`from_url`]) or a constructor per backend:
//!
//! | URL | backend |
//! | --- | --- |
//! | `http://h:p[,http://h2:p2]` | [`fixed`]: a list |
//! | `dns+srv://[RESOLVER:PORT]/_name._tcp.domain` | [`dns_srv`]: SRV records, re-resolved on their TTL |
//! | `dns://[RESOLVER:PORT]/host:port` | [`dns`]: A/AAAA records |
//! | `etcd://h:p[,h2:p2]/name` | [`etcd`]: etcd v3, watched; registration with a lease |
//! | `zk://h:p[,h2:p2]/path` | [`zookeeper`]: ephemeral sequential nodes in SmartStack (Nerve) JSON |
//! | `consul://h:p/name` | [`consul`]: Consul's HTTP API, blocking queries; registration with a TTL check |
//!
//! A source reports [`Change`]s. When it fails (the registry is down) it
//! says so with [`Change::Failed`]; clients then keep the instances they
//! know (last-known-good) and never drop to none because a registry blinked.

mod consul;
mod dns;
mod etcd;
mod zookeeper;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

pub use consul::{consul, Consul};
pub use dns::{dns, dns_srv, Dns};
pub use etcd::{etcd, Etcd};
pub use zookeeper::{zookeeper, ZooKeeper};

use crate::Error;

/// One instance of a service: where it listens and what it says of itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// Unique within the source (a registry key, `host:port`, ...).
    pub id: String,
    /// Its base URL, `http://host:port`.
    pub url: String,
    /// Weight, zone, version, ... as the registry has them.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

impl Instance {
    /// An instance at `url`, its id the URL's `host:port`.
    pub fn at(url: impl Into<String>) -> Instance {
        let url = url.into();
        let id = url
            .split_once("://")
            .map_or(url.as_str(), |(_, rest)| rest)
            .trim_end_matches('/')
            .to_string();
        Instance {
            id,
            url,
            metadata: BTreeMap::new(),
        }
    }

    /// The instance if its URL is `http://HOST:PORT` (or `https://`), an
    /// error naming what is wrong otherwise: what a registry holds is
    /// checked before a client sends to it.
    ///
    /// ```
    /// use kit_runtime::sd::Instance;
    /// assert!(Instance::at("http://10.0.0.1:8080").checked().is_ok());
    /// assert!(Instance::at("gopher://10.0.0.1").checked().is_err());
    /// assert!(Instance::at("http://").checked().is_err());
    /// assert!(Instance::at("http://10.0.0.1:0").checked().is_err());
    /// ```
    pub fn checked(self) -> Result<Instance, String> {
        let uri: http::Uri = self
            .url
            .parse()
            .map_err(|e| format!("`{}` is not a URL: {e}", self.url))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            _ => return Err(format!("`{}` is not an http:// URL", self.url)),
        }
        match uri.authority() {
            Some(a) if a.port_u16() == Some(0) => Err(format!("`{}` has port 0", self.url)),
            Some(a) if !a.host().is_empty() => Ok(self),
            _ => Err(format!("`{}` names no host", self.url)),
        }
    }

    /// The same instance with metadata `key = value`.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Instance {
        self.metadata.insert(key.to_string(), value.into());
        self
    }
}

/// A change in a service's instances.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// An instance appeared (or changed: same id, new data).
    Insert(Instance),
    /// The instance with this id went away.
    Remove(String),
    /// The source failed; what was known still holds.
    Failed(String),
    /// The source answered and the instances reported so far are its
    /// current set: it is healthy again after a `Failed`, even if nothing
    /// changed meanwhile.
    Synced,
}

/// Where a service's instances are found. Implemented by every backend
/// in this module; implement it for a registry of your own.
pub trait Discover: Send + Sync + 'static {
    /// The source, for logs: `etcd://127.0.0.1:2379/strings`.
    fn describe(&self) -> String;
    /// The changes from now on, starting with the instances there are.
    fn watch(&self) -> BoxStream<'static, Change>;
}

/// A registration that keeps itself alive until deregistered.
pub trait Registration: Send {
    /// Takes the instance out of the registry.
    fn deregister(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// Where a server announces itself. The registration lives until
/// deregistered (leases are kept alive, TTL checks passed, sessions
/// renewed) and is made again after the registry comes back from an outage.
pub trait Registrar: Send + Sync + 'static {
    /// The registry, for logs.
    fn describe(&self) -> String;
    /// Registers `instance` under the service.
    fn register(
        &self,
        instance: Instance,
    ) -> BoxFuture<'static, Result<Box<dyn Registration>, Error>>;
}

impl Discover for Box<dyn Discover> {
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn watch(&self) -> BoxStream<'static, Change> {
        (**self).watch()
    }
}

impl Registrar for Box<dyn Registrar> {
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn register(
        &self,
        instance: Instance,
    ) -> BoxFuture<'static, Result<Box<dyn Registration>, Error>> {
        (**self).register(instance)
    }
}

/// A fixed list of instances (`http://host:port` URLs).
///
/// ```
/// let d = kit_runtime::sd::fixed(["http://10.0.0.1:8080", "http://10.0.0.2:8080"]);
/// use kit_runtime::sd::Discover;
/// assert_eq!(d.describe(), "http://10.0.0.1:8080,http://10.0.0.2:8080");
/// ```
pub fn fixed<I, S>(urls: I) -> Fixed
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Fixed {
        instances: urls.into_iter().map(Instance::at).collect(),
    }
}

/// See [`fixed`].
#[derive(Clone, Debug)]
pub struct Fixed {
    instances: Vec<Instance>,
}

impl Discover for Fixed {
    fn describe(&self) -> String {
        self.instances
            .iter()
            .map(|i| i.url.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn watch(&self) -> BoxStream<'static, Change> {
        let changes: Vec<Change> = self.instances.iter().cloned().map(Change::Insert).collect();
        futures_util::stream::iter(changes)
            .chain(futures_util::stream::pending())
            .boxed()
    }
}

/// A discovery source or registry named by a URL (see the module docs);
/// an unknown scheme or a malformed URL is an error naming it.
///
/// ```
/// use kit_runtime::sd::{from_url, Discover};
/// assert_eq!(from_url("etcd://127.0.0.1:2379/strings").unwrap().describe(), "etcd://127.0.0.1:2379/strings");
/// assert!(from_url("gopher://x/y").is_err());
/// ```
pub fn from_url(url: &str) -> Result<Source, Error> {
    let bad = |why: &str| Error::invalid_argument(format!("discovery URL `{url}`: {why}"));
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("expected SCHEME://..."))?;
    let (hosts, path) = rest.split_once('/').unwrap_or((rest, ""));
    let hosts: Vec<String> = hosts
        .split(',')
        .filter(|h| !h.is_empty())
        .map(String::from)
        .collect();
    match scheme {
        "http" | "https" => {
            let urls: Vec<&str> = url.split(',').map(str::trim).collect();
            for u in &urls {
                Instance::at(*u).checked().map_err(|why| bad(&why))?;
            }
            Ok(Source::Fixed(fixed(urls)))
        }
        "etcd" | "zk" | "consul" => {
            if hosts.is_empty() {
                return Err(bad("no host"));
            }
            if path.is_empty() {
                return Err(bad("no service name after the hosts"));
            }
            Ok(match scheme {
                "etcd" => Source::Etcd(etcd(
                    hosts
                        .iter()
                        .map(|h| format!("http://{h}"))
                        .collect::<Vec<_>>(),
                    path,
                )),
                "zk" => Source::ZooKeeper(zookeeper(&hosts.join(","), &format!("/{path}"))),
                _ => Source::Consul(consul(&format!("http://{}", hosts[0]), path)),
            })
        }
        "dns+srv" | "dns" => {
            let resolver = match hosts.as_slice() {
                [] => None,
                [one] => Some(
                    one.parse::<SocketAddr>()
                        .map_err(|_| bad("the resolver must be IP:PORT"))?,
                ),
                _ => return Err(bad("one resolver at most")),
            };
            if path.is_empty() {
                return Err(bad("no name to resolve"));
            }
            if scheme == "dns" {
                if !path.contains(':') {
                    return Err(bad("write dns://[RESOLVER]/HOSTNAME:PORT"));
                }
                let d = dns(path);
                Ok(Source::Dns(match resolver {
                    Some(r) => d.resolver(r),
                    None => d,
                }))
            } else {
                let d = dns_srv(path);
                Ok(Source::Dns(match resolver {
                    Some(r) => d.resolver(r),
                    None => d,
                }))
            }
        }
        other => Err(bad(&format!(
            "unknown scheme `{other}`: use http, dns+srv, dns, etcd, zk or consul"
        ))),
    }
}

/// A source from [`from_url`]: it discovers, and (for registries) registers.
#[derive(Clone, Debug)]
pub enum Source {
    /// A fixed list.
    Fixed(Fixed),
    /// DNS.
    Dns(Dns),
    /// etcd.
    Etcd(Etcd),
    /// ZooKeeper.
    ZooKeeper(ZooKeeper),
    /// Consul.
    Consul(Consul),
}

impl Source {
    fn as_discover(&self) -> &dyn Discover {
        match self {
            Source::Fixed(s) => s,
            Source::Dns(s) => s,
            Source::Etcd(s) => s,
            Source::ZooKeeper(s) => s,
            Source::Consul(s) => s,
        }
    }

    /// The registrar behind this source, if it is a registry.
    pub fn registrar(self) -> Result<Box<dyn Registrar>, Error> {
        match self {
            Source::Etcd(s) => Ok(Box::new(s)),
            Source::ZooKeeper(s) => Ok(Box::new(s)),
            Source::Consul(s) => Ok(Box::new(s)),
            other => Err(Error::invalid_argument(format!(
                "`{}` is not a registry a server can register with (etcd, zk or consul)",
                other.describe()
            ))),
        }
    }
}

impl Discover for Source {
    fn describe(&self) -> String {
        self.as_discover().describe()
    }
    fn watch(&self) -> BoxStream<'static, Change> {
        self.as_discover().watch()
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Turns successive full sets of instances into [`Change`]s. An empty set
/// after a non-empty one is reported as a failure, not as removals: a
/// registry that suddenly knows nobody has more likely blinked than every
/// instance died at once.
#[derive(Default)]
pub(crate) struct Snapshots {
    known: HashMap<String, Instance>,
}

impl Snapshots {
    pub(crate) fn next(&mut self, set: Vec<Instance>) -> Vec<Change> {
        if set.is_empty() && !self.known.is_empty() {
            return vec![Change::Failed(
                "the registry returned no instances; keeping the last known".into(),
            )];
        }
        // Inserts first: a client that sees the set replaced never passes
        // through an empty one.
        let mut changes = Vec::new();
        let ids: std::collections::HashSet<String> = set.iter().map(|i| i.id.clone()).collect();
        for instance in set {
            if self.known.get(&instance.id) != Some(&instance) {
                self.known.insert(instance.id.clone(), instance.clone());
                changes.push(Change::Insert(instance));
            }
        }
        let gone: Vec<String> = self
            .known
            .keys()
            .filter(|id| !ids.contains(id.as_str()))
            .cloned()
            .collect();
        for id in gone {
            self.known.remove(&id);
            changes.push(Change::Remove(id));
        }
        if !self.known.is_empty() {
            changes.push(Change::Synced);
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_every_backend() {
        let d = |u: &str| from_url(u).map(|s| s.describe());
        assert_eq!(d("http://a:1,http://b:2").unwrap(), "http://a:1,http://b:2");
        assert_eq!(
            d("etcd://h1:2379,h2:2379/strings").unwrap(),
            "etcd://h1:2379,h2:2379/strings"
        );
        assert_eq!(
            d("zk://h:2181/services/strings").unwrap(),
            "zk://h:2181/services/strings"
        );
        assert_eq!(
            d("consul://h:8500/strings").unwrap(),
            "consul://h:8500/strings"
        );
        assert_eq!(
            d("dns+srv:///_s._tcp.x.local").unwrap(),
            "dns+srv:///_s._tcp.x.local"
        );
        assert_eq!(
            d("dns+srv://127.0.0.1:53/_s._tcp.x").unwrap(),
            "dns+srv://127.0.0.1:53/_s._tcp.x"
        );
        assert_eq!(d("dns:///svc.local:8080").unwrap(), "dns:///svc.local:8080");
        for bad in [
            "gopher://x/y",
            "etcd:///strings",
            "etcd://h:1",
            "dns+srv://not-an-ip/_s._tcp",
            "dns:///nohostport",
            "strings",
            "http://",
            "http://a:1,b:2",
            "http://a:0",
        ] {
            assert!(from_url(bad).is_err(), "{bad}");
        }
        assert!(from_url("http://a:1").unwrap().registrar().is_err());
    }

    #[test]
    fn snapshots_become_changes_and_an_empty_set_is_a_failure() {
        let mut s = Snapshots::default();
        let a = Instance::at("http://a:1");
        let b = Instance::at("http://b:1");
        assert_eq!(
            s.next(vec![a.clone(), b.clone()]),
            [
                Change::Insert(a.clone()),
                Change::Insert(b.clone()),
                Change::Synced
            ]
        );
        assert_eq!(s.next(vec![a.clone(), b.clone()]), [Change::Synced]);
        assert_eq!(
            s.next(vec![b.clone()]),
            [Change::Remove("a:1".into()), Change::Synced]
        );
        assert!(matches!(s.next(vec![]).as_slice(), [Change::Failed(_)]));
        let b2 = b.clone().with("zone", "z1");
        assert_eq!(
            s.next(vec![b2.clone()]),
            [Change::Insert(b2), Change::Synced]
        );
        // A replaced set: the newcomer first, so no client sees it empty.
        assert_eq!(
            s.next(vec![a.clone()]),
            [
                Change::Insert(a),
                Change::Remove("b:1".into()),
                Change::Synced
            ]
        );
        // Nothing known and nothing found: no news.
        assert_eq!(Snapshots::default().next(vec![]), []);
    }
}
