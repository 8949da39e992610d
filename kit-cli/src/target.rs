//! Which instances a command looks at: plain URLs, fixed lists, or any
//! discovery source kit's clients use (`etcd://`, `dns+srv://`, `zk://`,
//! `consul://`, `dns://`), read once.

use std::collections::BTreeMap;
use std::time::Duration;

use clap::Args;
use futures_util::StreamExt;
use kit::sd::{Change, Discover, Instance};

use crate::Failure;

/// The instances to look at, as every fleet command takes them.
#[derive(Args, Clone, Debug, Default)]
pub struct Fleet {
    /// Instances: `http://HOST:PORT`, `HOST:PORT`, a list
    /// `http://a:1,http://b:2`, or a discovery URL (`etcd://HOST:PORT/NAME`,
    /// `dns+srv://[RESOLVER]/NAME`, `dns://[RESOLVER]/HOST:PORT`,
    /// `zk://HOST:PORT/PATH`, `consul://HOST:PORT/NAME`).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// A discovery source, as a client's `--discover` takes it (the same
    /// as giving it as a TARGET); repeatable.
    #[arg(long = "discover", value_name = "URL")]
    pub discover: Vec<String>,
    /// How long to wait for a discovery source's first answer.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = crate::parse_duration)]
    pub discover_timeout: Duration,
}

/// One instance to look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `http://host:port`.
    pub url: String,
    /// `host:port`, or the registry's id.
    pub id: String,
    /// What the discovery source says of it (registry metadata).
    pub metadata: BTreeMap<String, String>,
}

impl Fleet {
    /// Every instance the targets name, in order, each once.
    pub async fn resolve(&self) -> Result<Vec<Target>, Failure> {
        let all: Vec<&String> = self.targets.iter().chain(&self.discover).collect();
        if all.is_empty() {
            return Err(Failure::new(
                "no instances given: name a TARGET (http://HOST:PORT, or a discovery URL such as etcd://HOST:PORT/NAME) or --discover URL",
            ));
        }
        let mut out: Vec<Target> = Vec::new();
        for t in all {
            for target in resolve_one(t, self.discover_timeout).await? {
                if !out.iter().any(|o| o.url == target.url) {
                    out.push(target);
                }
            }
        }
        Ok(out)
    }
}

/// The instances one TARGET names.
pub async fn resolve_one(target: &str, wait: Duration) -> Result<Vec<Target>, Failure> {
    let target = target.trim();
    let url = if target.contains("://") {
        target.to_string()
    } else {
        // host:port, as people type it.
        target
            .split(',')
            .map(|t| format!("http://{}", t.trim()))
            .collect::<Vec<_>>()
            .join(",")
    };
    let source = kit::sd::from_url(&url).map_err(|e| Failure::new(e.message().to_string()))?;
    if let kit::sd::Source::Fixed(_) = source {
        return url
            .split(',')
            .map(|u| {
                Instance::at(u.trim().trim_end_matches('/'))
                    .checked()
                    .map(from_instance)
                    .map_err(Failure::new)
            })
            .collect();
    }
    discover_once(&source, wait).await
}

/// Reads a discovery source until it has said what it knows (or failed).
async fn discover_once(source: &dyn Discover, wait: Duration) -> Result<Vec<Target>, Failure> {
    let what = source.describe();
    let mut known: BTreeMap<String, Instance> = BTreeMap::new();
    let mut changes = source.watch();
    let read = async {
        while let Some(change) = changes.next().await {
            match change {
                Change::Insert(i) => {
                    known.insert(i.id.clone(), i);
                }
                Change::Remove(id) => {
                    known.remove(&id);
                }
                Change::Synced => return Ok(()),
                Change::Failed(why) => return Err(Failure::new(format!("{what}: {why}"))),
            }
        }
        Ok(())
    };
    match tokio::time::timeout(wait, read).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        // Sources say nothing about an empty set: what came is all there is.
        Err(_) if !known.is_empty() => {}
        Err(_) => {
            return Err(Failure::new(format!(
                "{what}: no instances found within {}",
                humantime::format_duration(wait)
            )))
        }
    }
    Ok(known.into_values().map(from_instance).collect())
}

fn from_instance(i: Instance) -> Target {
    Target {
        url: i.url.trim_end_matches('/').to_string(),
        id: i.id,
        metadata: i.metadata,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_targets_are_urls() {
        let t = resolve_one("127.0.0.1:1,127.0.0.1:2", Duration::from_secs(1))
            .await
            .expect("targets");
        let urls: Vec<_> = t.iter().map(|t| t.url.as_str()).collect();
        assert_eq!(urls, ["http://127.0.0.1:1", "http://127.0.0.1:2"]);
        assert_eq!(t[0].id, "127.0.0.1:1");
        let e = resolve_one("gopher://x/y", Duration::from_secs(1))
            .await
            .expect_err("bad scheme");
        assert!(e.to_string().contains("unknown scheme"), "{e}");
        assert!(resolve_one("http://x:0", Duration::from_secs(1))
            .await
            .is_err());
    }
}
