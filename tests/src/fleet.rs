//! Fleets of string services for the discovery and balancing tests:
//! in-process instances (optionally slow, optionally registered) and
//! stringsvc processes that register themselves from `--register`.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use stringsvc::StringServiceClient;

use crate::registry::Daemon;
use crate::{start, workspace_bin, Running};

/// An in-process string service on 127.0.0.1:0, registered with
/// `registrar` when given, answering `delay` late when given.
pub async fn instance(
    registrar: Option<Box<dyn kit::sd::Registrar>>,
    delay: Option<Duration>,
) -> Running {
    let mut server = kit::Server::new(kit::Config::default()).add_service(stringsvc::StringService);
    if let Some(r) = registrar {
        server = server.register(r);
    }
    if let Some(delay) = delay {
        server = server.layer(tower::filter::AsyncFilterLayer::new(
            move |req: http::Request<axum::body::Body>| async move {
                tokio::time::sleep(delay).await;
                Ok::<_, tower::BoxError>(req)
            },
        ));
    }
    start(server).await
}

/// A stringsvc process; `args` come after `--http-addr 127.0.0.1:0`.
pub struct Process {
    pub daemon: Daemon,
    pub url: String,
}

impl Process {
    /// Starts stringsvc and waits until it listens (and, when `--register`
    /// is among `args`, until it says it registered).
    pub fn start(args: &[&str]) -> Process {
        let mut cmd = Command::new(workspace_bin("stringsvc"));
        cmd.args(["--http-addr", "127.0.0.1:0"]).args(args);
        let mut daemon = Daemon::spawn("stringsvc", cmd);
        let line = daemon.wait_for_line("listening for HTTP and gRPC on ", Duration::from_secs(20));
        let url = line
            .rsplit("listening for HTTP and gRPC on ")
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .expect("an address in the banner")
            .to_string();
        if args.contains(&"--register") {
            daemon.wait_for_line("registered", Duration::from_secs(20));
        }
        Process { daemon, url }
    }
}

/// Runs `stringcli ARGS` to completion; its exit code, stdout and stderr.
pub fn stringcli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(workspace_bin("stringcli"))
        .args(args)
        .output()
        .expect("stringcli runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `instance URL served N` lines of stringcli's report.
pub fn served(report: &str) -> Vec<(String, u64)> {
    report
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("instance ")?;
            let (url, rest) = rest.split_once(" served ")?;
            let n = rest.split_whitespace().next()?.parse().ok()?;
            Some((url.to_string(), n))
        })
        .collect()
}

/// The base URLs the client balances over now, in any state.
pub fn urls(client: &StringServiceClient) -> BTreeSet<String> {
    client.instance_stats().into_iter().map(|i| i.url).collect()
}

/// The URLs of instances in state `live`.
pub fn live(client: &StringServiceClient) -> BTreeSet<String> {
    client
        .instance_stats()
        .into_iter()
        .filter(|i| i.state == "live")
        .map(|i| i.url)
        .collect()
}

/// Calls served per URL, from the client's own accounting.
pub fn served_by(client: &StringServiceClient, url: &str) -> u64 {
    client
        .instance_stats()
        .into_iter()
        .find(|i| i.url == url)
        .map(|i| i.served)
        .unwrap_or(0)
}

/// `n` uppercase calls, all of which must succeed.
pub async fn calls(client: &StringServiceClient, n: usize) {
    for i in 0..n {
        let out = client
            .uppercase(format!("call {i}"))
            .await
            .unwrap_or_else(|e| panic!("call {i} failed: {e}"));
        assert_eq!(out, format!("CALL {i}"));
    }
}

/// A set of URLs from a list.
pub fn set<I: IntoIterator<Item = S>, S: Into<String>>(urls: I) -> BTreeSet<String> {
    urls.into_iter().map(Into::into).collect()
}
