//! Calls a running stringsvc through the client that `#[kit::service]`
//! generated in the `stringsvc` crate, over HTTP/JSON or gRPC, at a fixed
//! address or at the instances a registry knows.
//!
//! ```text
//! stringcli [--addr URL | --discover URL] [--transport http|grpc] (uppercase|count) STRING
//! stringcli --discover etcd://127.0.0.1:2379/strings --calls 1000 --concurrency 8
//! ```
//!
//! With `--calls N` it makes N `uppercase` calls (or `count` calls, with
//! `--endpoint count`: not idempotent, so never retried), C at a time, then
//! prints one line per instance the client knows at the end (attempts it
//! served, its state, its failures; an instance that left during the run is
//! not listed) and a last line `calls: N ok, M failed`. Log lines (instances ejected, the registry
//! unreachable) go to stderr; `RUST_LOG` filters them.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use stringsvc::StringServiceClient;

const USAGE: &str = "usage: stringcli [--addr URL | --discover URL] [--transport http|grpc] \
                     [--calls N [--concurrency C] [--endpoint uppercase|count]] \
                     [(uppercase|count) STRING]";

struct Args {
    addr: String,
    discover: Option<String>,
    transport: kit::Transport,
    calls: Option<u64>,
    concurrency: u64,
    count: bool,
    rest: Vec<String>,
}

fn args() -> Option<Args> {
    let mut a = Args {
        addr: std::env::var("STRINGSVC_ADDR").unwrap_or_else(|_| "http://127.0.0.1:8080".into()),
        discover: None,
        transport: kit::Transport::Http,
        calls: None,
        concurrency: 1,
        count: false,
        rest: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--addr" => a.addr = it.next()?,
            "--discover" => a.discover = Some(it.next()?),
            "--transport" => {
                a.transport = match it.next()?.as_str() {
                    "http" => kit::Transport::Http,
                    "grpc" => kit::Transport::Grpc,
                    _ => return None,
                }
            }
            "--calls" => a.calls = Some(it.next()?.parse().ok()?),
            "--concurrency" => a.concurrency = it.next()?.parse().ok()?,
            "--endpoint" => {
                a.count = match it.next()?.as_str() {
                    "uppercase" => false,
                    "count" => true,
                    _ => return None,
                }
            }
            _ => a.rest.push(arg),
        }
    }
    Some(a)
}

#[tokio::main]
async fn main() -> ExitCode {
    let Some(args) = args() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    kit::trace::init_subscriber(kit::trace::LogFormat::Pretty);
    let builder = StringServiceClient::builder().transport(args.transport);
    let built = match &args.discover {
        Some(url) => match kit::sd::from_url(url) {
            Ok(source) => builder.discover(source).build(),
            Err(e) => Err(e),
        },
        None => builder.base_url(&args.addr).build(),
    };
    let client = match built {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(calls) = args.calls {
        return load(client, calls, args.concurrency.max(1), args.count).await;
    }
    let Ok([command, input]) = <[String; 2]>::try_from(args.rest) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "uppercase" => client.uppercase(input).await,
        "count" => client.count(input).await.map(|n| n.to_string()),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// `calls` uppercase (or count) calls, `concurrency` at a time; a line per
/// instance, then the totals.
async fn load(client: StringServiceClient, calls: u64, concurrency: u64, count: bool) -> ExitCode {
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, next, failed) = (client.clone(), next.clone(), failed.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < calls {
                    let result = if count {
                        client.count("fleet").await.map(drop)
                    } else {
                        client.uppercase("fleet").await.map(drop)
                    };
                    if let Err(e) = result {
                        failed.fetch_add(1, Ordering::Relaxed);
                        eprintln!("call failed: {e}");
                    }
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.await;
    }
    for i in client.instance_stats() {
        println!(
            "instance {} served {} ({}, {} failures)",
            i.url, i.served, i.state, i.failures
        );
    }
    let failed = failed.load(Ordering::Relaxed);
    println!("calls: {} ok, {failed} failed", calls - failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
