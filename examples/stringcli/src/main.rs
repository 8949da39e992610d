//! Calls a running stringsvc through the client that `#[kit::service]`
//! generated in the `stringsvc` crate, over HTTP/JSON or gRPC, at a fixed
//! address or at the instances a registry knows.
//!
//! ```text
//! stringcli [--addr URL | --discover URL] [--transport http|grpc] (uppercase|count) STRING
//! stringcli --discover etcd://127.0.0.1:2379/strings --calls 1000 --concurrency 8
//! ```
//!
//! With `--calls N` it makes N `uppercase` calls, C at a time, then prints
//! one line per instance with the calls it served and a last line
//! `calls: N ok, M failed`.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use stringsvc::StringServiceClient;

const USAGE: &str = "usage: stringcli [--addr URL | --discover URL] [--transport http|grpc] \
                     [--calls N [--concurrency C]] [(uppercase|count) STRING]";

struct Args {
    addr: String,
    discover: Option<String>,
    transport: kit::Transport,
    calls: Option<u64>,
    concurrency: u64,
    rest: Vec<String>,
}

fn args() -> Option<Args> {
    let mut a = Args {
        addr: std::env::var("STRINGSVC_ADDR").unwrap_or_else(|_| "http://127.0.0.1:8080".into()),
        discover: None,
        transport: kit::Transport::Http,
        calls: None,
        concurrency: 1,
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
        return load(client, calls, args.concurrency.max(1)).await;
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

/// `calls` uppercase calls, `concurrency` at a time; a line per instance,
/// then the totals.
async fn load(client: StringServiceClient, calls: u64, concurrency: u64) -> ExitCode {
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, next, failed) = (client.clone(), next.clone(), failed.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < calls {
                    if let Err(e) = client.uppercase("fleet").await {
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
