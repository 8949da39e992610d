//! DNS: SRV records (`dns+srv://`) or A/AAAA records (`dns://`), resolved
//! again when their TTL runs out, with the system resolver or one named in
//! the URL. SRV priorities travel as instance metadata: the balancer sends
//! to the lowest priority that can serve (RFC 2782: higher ones are
//! backups, used when the better ones are ejected or gone); weights are
//! kept as metadata, the balancer weighs by load and latency instead.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::stream::BoxStream;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{Resolver, TokioResolver};
use tokio::sync::mpsc;

use super::etcd::tokio_stream_from;
use super::{Change, Discover, Instance, Snapshots};

/// Re-resolution bounds, whatever the records' TTL says.
const MIN_TTL: Duration = Duration::from_secs(1);
const MAX_TTL: Duration = Duration::from_secs(30);

/// Instances named by the SRV records of `name`
/// (`_strings._tcp.service.local`), asking the system's resolver (or the
/// one given with [`Dns::resolver`]).
///
/// ```
/// use kit_runtime::sd::{dns_srv, Discover};
/// let d = dns_srv("_strings._tcp.service.local").resolver(([127, 0, 0, 1], 5353).into());
/// assert_eq!(d.describe(), "dns+srv://127.0.0.1:5353/_strings._tcp.service.local");
/// ```
pub fn dns_srv(name: &str) -> Dns {
    Dns {
        resolver: None,
        name: name.to_string(),
        srv: true,
    }
}

/// Instances at the A/AAAA records of `host:port` (`strings.internal:8080`),
/// asking the system's resolver (or the one given with [`Dns::resolver`]).
pub fn dns(host_port: &str) -> Dns {
    Dns {
        resolver: None,
        name: host_port.to_string(),
        srv: false,
    }
}

/// See [`dns_srv`] and [`dns`].
#[derive(Clone, Debug)]
pub struct Dns {
    resolver: Option<SocketAddr>,
    name: String,
    srv: bool,
}

impl Dns {
    /// Asks the DNS server at `addr` instead of the system's resolver.
    pub fn resolver(mut self, addr: SocketAddr) -> Dns {
        self.resolver = Some(addr);
        self
    }
}

impl Discover for Dns {
    fn describe(&self) -> String {
        let scheme = if self.srv { "dns+srv" } else { "dns" };
        let resolver = self.resolver.map(|r| r.to_string()).unwrap_or_default();
        format!("{scheme}://{resolver}/{}", self.name)
    }

    fn watch(&self) -> BoxStream<'static, Change> {
        let (tx, rx) = mpsc::channel(64);
        let this = self.clone();
        tokio::spawn(async move {
            let resolver = match this.build_resolver() {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Change::Failed(format!("DNS resolver: {e}"))).await;
                    return;
                }
            };
            let mut snapshots = Snapshots::default();
            loop {
                let (changes, wait) = match this.resolve(&resolver).await {
                    Ok((set, ttl)) => (snapshots.next(set), ttl.clamp(MIN_TTL, MAX_TTL)),
                    Err(e) => (
                        vec![Change::Failed(format!("{}: {e}", this.describe()))],
                        MIN_TTL,
                    ),
                };
                for c in changes {
                    if tx.send(c).await.is_err() {
                        return;
                    }
                }
                tokio::time::sleep(wait).await;
            }
        });
        tokio_stream_from(rx)
    }
}

impl Dns {
    fn build_resolver(&self) -> Result<TokioResolver, String> {
        let builder = match self.resolver {
            None => TokioResolver::builder_tokio().map_err(|e| e.to_string())?,
            Some(addr) => {
                let mut server = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut server.connections {
                    c.port = addr.port();
                }
                Resolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![server]),
                    TokioRuntimeProvider::default(),
                )
            }
        };
        let mut builder = builder;
        let options = builder.options_mut();
        options.timeout = Duration::from_secs(2);
        options.attempts = 1;
        // kit re-resolves on the TTL itself; a cache would only delay changes.
        options.cache_size = 0;
        builder.build().map_err(|e| e.to_string())
    }

    /// The instances and the time until they should be resolved again.
    async fn resolve(&self, resolver: &TokioResolver) -> Result<(Vec<Instance>, Duration), String> {
        if !self.srv {
            let (host, port) = self.name.rsplit_once(':').ok_or("expected HOST:PORT")?;
            let port: u16 = port
                .parse()
                .map_err(|_| format!("bad port in `{}`", self.name))?;
            let lookup = resolver.lookup_ip(host).await.map_err(|e| e.to_string())?;
            let ttl = lookup
                .as_lookup()
                .answers()
                .iter()
                .map(|r| r.ttl)
                .min()
                .unwrap_or(5);
            let set = lookup
                .iter()
                .map(|ip| {
                    Instance::at(format!("http://{}", SocketAddr::new(ip, port))).with("host", host)
                })
                .collect();
            return Ok((set, Duration::from_secs(ttl.into())));
        }
        let lookup = resolver
            .lookup(self.name.as_str(), RecordType::SRV)
            .await
            .map_err(|e| e.to_string())?;
        let mut ttl = u32::MAX;
        let mut set = Vec::new();
        for record in lookup.answers() {
            let RData::SRV(srv) = &record.data else {
                continue;
            };
            ttl = ttl.min(record.ttl);
            let target = srv.target.to_utf8();
            let target = target.trim_end_matches('.');
            if srv.port == 0 || target.is_empty() {
                tracing::warn!(name = %self.name, target, port = srv.port, "skipping a malformed SRV record");
                continue;
            }
            match resolver.lookup_ip(format!("{target}.")).await {
                Ok(ips) => {
                    for ip in ips.iter() {
                        set.push(
                            Instance::at(format!("http://{}", SocketAddr::new(ip, srv.port)))
                                .with("target", target)
                                .with("priority", srv.priority.to_string())
                                .with("weight", srv.weight.to_string()),
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(name = %self.name, target, error = %e, "skipping an SRV target that does not resolve")
                }
            }
        }
        Ok((
            set,
            Duration::from_secs(if ttl == u32::MAX { 5 } else { ttl.into() }),
        ))
    }
}
