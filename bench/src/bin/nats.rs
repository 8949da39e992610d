//! NATS request/reply benchmark, printed as a markdown section for
//! BENCHMARKS.md: `strings.uppercase` served by kit's example over NATS
//! (`--nats-url`, the whole server stack) against a hand-written
//! async-nats responder doing the same JSON work, both loaded by the same
//! raw async-nats requester (64 calls in flight), alternating rounds; and
//! kit's generated client over NATS against kit's server.
//!
//! `nats [--rounds N] [--seconds S] [--pin]`; `--pin` runs the servers on
//! core 0 (run it on core 1). `nats --responder URL SUBJECT` is the
//! hand-written contender. Needs nats-server (scripts/install-test-deps).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use kit_tests::nats::Nats;
use kit_tests::registry::Daemon;
use stringsvc::StringServiceClient;

const CONCURRENCY: usize = 64;
const PAYLOAD: &str = r#"{"s":"hello world"}"#;

struct Args {
    rounds: usize,
    seconds: f64,
    pin: bool,
}

fn usage() -> ! {
    eprintln!("usage: nats [--rounds N] [--seconds S] [--pin] | nats --responder URL SUBJECT");
    std::process::exit(2)
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("--responder") {
        let (Some(url), Some(subject)) = (argv.get(1), argv.get(2)) else {
            usage()
        };
        tokio::runtime::Runtime::new()
            .expect("runtime")
            .block_on(responder(url.clone(), subject.clone()));
        return;
    }
    let mut a = Args {
        rounds: 5,
        seconds: 5.0,
        pin: false,
    };
    let mut it = argv.into_iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--rounds" => a.rounds = value().parse().unwrap_or_else(|_| usage()),
            "--seconds" => a.seconds = value().parse().unwrap_or_else(|_| usage()),
            "--pin" => a.pin = true,
            _ => usage(),
        }
    }
    let out = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(run(&a));
    println!("{out}");
}

#[derive(serde::Deserialize)]
struct Uppercase {
    s: String,
}

/// The hand-written contender: a queue subscription answering each
/// message in its own task, JSON in and out, kit's error shape on empty
/// input; no deadline, metrics or logs.
async fn responder(url: String, subject: String) {
    let client = async_nats::connect(url).await.expect("connect");
    let mut sub = client
        .queue_subscribe(subject, "strings".to_string())
        .await
        .expect("subscribe");
    client.flush().await.expect("flush");
    eprintln!("responder ready");
    while let Some(msg) = sub.next().await {
        let client = client.clone();
        tokio::spawn(async move {
            let Some(reply) = msg.reply else { return };
            let (headers, body) = match serde_json::from_slice::<Uppercase>(&msg.payload) {
                Ok(u) if !u.s.is_empty() => (
                    async_nats::HeaderMap::new(),
                    serde_json::to_vec(&u.s.to_uppercase()).unwrap_or_default(),
                ),
                _ => {
                    let mut h = async_nats::HeaderMap::new();
                    h.insert("Kit-Code", "INVALID_ARGUMENT");
                    let err = kit::Error::invalid_argument("empty string");
                    (h, err.to_json())
                }
            };
            let _ = client
                .publish_with_headers(reply, headers, body.into())
                .await;
        });
    }
}

fn sibling(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent().expect("bin dir").join(name)
}

fn command(pin: bool, bin: PathBuf, args: &[&str]) -> Command {
    let mut cmd = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.args(args);
    cmd
}

struct Round {
    rate: f64,
    p50: Duration,
    p99: Duration,
}

/// `CONCURRENCY` tasks calling `subject` with a raw async-nats client for
/// `seconds`.
async fn raw_load(nc: &async_nats::Client, subject: &'static str, seconds: f64) -> Round {
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let nc = nc.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < end {
                let t0 = Instant::now();
                let reply = nc.request(subject, PAYLOAD.into()).await.expect("reply");
                assert_eq!(&reply.payload[..], br#""HELLO WORLD""#);
                lat.push(t0.elapsed());
            }
            lat
        }));
    }
    collect(tasks, start).await
}

/// The same load through kit's generated client over NATS.
async fn client_load(client: &StringServiceClient, seconds: f64) -> Round {
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < end {
                let t0 = Instant::now();
                let up = client.uppercase("hello world").await.expect("reply");
                assert_eq!(up, "HELLO WORLD");
                lat.push(t0.elapsed());
            }
            lat
        }));
    }
    collect(tasks, start).await
}

async fn collect(tasks: Vec<tokio::task::JoinHandle<Vec<Duration>>>, start: Instant) -> Round {
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("load task"));
    }
    let rate = all.len() as f64 / start.elapsed().as_secs_f64();
    all.sort();
    let q = |p: f64| {
        all.get(((all.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or_default()
    };
    Round {
        rate,
        p50: q(0.5),
        p99: q(0.99),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

async fn run(a: &Args) -> String {
    let nats = Nats::start();
    let url = nats.url();
    let _kit = Daemon::spawn(
        "kit",
        command(
            a.pin,
            sibling("contender"),
            &[
                "kit",
                "--http-addr",
                "127.0.0.1:0",
                "--nats-url",
                &url,
                "--nats-prefix",
                "kit",
                "--access-log",
                "off",
            ],
        ),
    );
    let mut hand = Daemon::spawn(
        "responder",
        command(
            a.pin,
            std::env::current_exe().expect("exe"),
            &["--responder", &url, "hand.strings.uppercase"],
        ),
    );
    hand.wait_for_line("responder ready", Duration::from_secs(20));
    let nc = nats.connect().await;
    // kit subscribes before it reports listening; wait for its answer.
    let ready = Instant::now();
    while nc
        .request("kit.strings.uppercase", PAYLOAD.into())
        .await
        .is_err()
    {
        assert!(
            ready.elapsed() < Duration::from_secs(20),
            "kit never answered over NATS"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let client = StringServiceClient::builder()
        .transport(kit::Transport::Nats)
        .nats_url(url.clone())
        .nats_prefix("kit")
        .build()
        .expect("client");
    let names = ["kit", "async-nats-hand", "kit-client"];
    let mut rounds: Vec<Vec<Round>> = names.iter().map(|_| Vec::new()).collect();
    let warm = a.seconds.min(1.0);
    raw_load(&nc, "kit.strings.uppercase", warm).await;
    raw_load(&nc, "hand.strings.uppercase", warm).await;
    for r in 0..a.rounds {
        for k in 0..names.len() {
            let i = (r + k) % names.len();
            let round = match i {
                0 => raw_load(&nc, "kit.strings.uppercase", a.seconds).await,
                1 => raw_load(&nc, "hand.strings.uppercase", a.seconds).await,
                _ => client_load(&client, a.seconds).await,
            };
            eprintln!("nats round {r}: {} {:.0} calls/s", names[i], round.rate);
            rounds[i].push(round);
        }
    }
    let summary: Vec<(f64, f64, f64)> = rounds
        .iter()
        .map(|rs| {
            (
                median(rs.iter().map(|r| r.rate).collect()),
                median(rs.iter().map(|r| r.p50.as_secs_f64() * 1e6).collect()),
                median(rs.iter().map(|r| r.p99.as_secs_f64() * 1e6).collect()),
            )
        })
        .collect();
    let rows = [
        "kit server (`--nats-url`), raw async-nats requester",
        "hand-written async-nats responder, same requester",
        "kit generated client (`Transport::Nats`) -> kit server",
    ];
    let mut out = vec![
        "| contender | calls/s | p50 us | p99 us |".to_string(),
        "| --- | ---: | ---: | ---: |".to_string(),
    ];
    for (row, (rate, p50, p99)) in rows.iter().zip(&summary) {
        out.push(format!("| {row} | {rate:.0} | {p50:.0} | {p99:.0} |"));
    }
    out.push(String::new());
    out.push(format!(
        "kit / hand-written responder: **{:.2}x** calls/s; generated client / raw requester against kit: {:.2}x.",
        summary[0].0 / summary[1].0,
        summary[2].0 / summary[0].0
    ));
    out.join("\n")
}
