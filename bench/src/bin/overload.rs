//! Overload: a service whose endpoint holds one of 8 permits for 20 ms
//! (capacity 400 calls/s) driven open-loop at 3x its capacity, with kit's
//! default adaptive concurrency limit, a fixed limit, and no limit (kit
//! before admission control), in the same run. Printed as a markdown
//! section for BENCHMARKS.md.
//!
//! `overload [--seconds S] [--rounds N] [--pin]` runs the benchmark;
//! `overload serve [kit flags]` is the server it starts (one process per
//! mode). `bench/run.py --only overload` drives it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kit::{Code, Transport};
use tokio::sync::Semaphore;

const PERMITS: usize = 8;
const HOLD: Duration = Duration::from_millis(20);
const CAPACITY: f64 = PERMITS as f64 / 0.020;

/// Work that holds one of a fixed number of permits for a fixed time: a
/// resource with a known capacity (a connection pool, a disk, a core).
#[derive(Clone)]
pub struct Capacity {
    permits: Arc<Semaphore>,
}

/// An endpoint with a known capacity.
#[kit::service(name = "capacity", package = "kit.bench.capacity.v1")]
impl Capacity {
    /// Holds a permit for 20 ms; answers how long it waited for one.
    #[endpoint(http = "POST /work", grpc)]
    pub async fn work(&self, n: u32) -> Result<u32, kit::Error> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| kit::Error::internal("closed"))?;
        tokio::time::sleep(HOLD).await;
        Ok(n)
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    if args.get(1).map(String::as_str) == Some("serve") {
        args.remove(1);
        let cli = kit::Cli::try_parse_from(args).unwrap_or_else(|e| e.exit());
        let service = Capacity {
            permits: Arc::new(Semaphore::new(PERMITS)),
        };
        let result = runtime.block_on(cli.run(|s| s.add_service(service)));
        if let Err(e) = result {
            eprintln!("Error: {e}");
            std::process::exit(1);
        }
        return;
    }
    runtime.block_on(bench(options(&args[1..])));
}

struct Options {
    seconds: f64,
    rounds: usize,
    pin: bool,
}

fn options(args: &[String]) -> Options {
    let mut o = Options {
        seconds: 5.0,
        rounds: 3,
        pin: false,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--seconds" => o.seconds = value().parse().unwrap_or_else(|_| usage()),
            "--rounds" => o.rounds = value().parse().unwrap_or_else(|_| usage()),
            "--pin" => o.pin = true,
            _ => usage(),
        }
    }
    o
}

fn usage() -> ! {
    eprintln!("usage: overload [--seconds S] [--rounds N] [--pin] | overload serve [kit flags]");
    std::process::exit(2)
}

/// One server process.
struct Server {
    child: std::process::Child,
    url: String,
}

impl Server {
    fn start(concurrency: &str, pin: bool) -> Server {
        let port = kit_tests::registry::free_port();
        let exe = std::env::current_exe().expect("own path");
        let mut cmd = if pin {
            let mut c = std::process::Command::new("taskset");
            c.args(["-c", "0"]).arg(exe);
            c
        } else {
            std::process::Command::new(exe)
        };
        cmd.args(["serve", "--http-addr", &format!("127.0.0.1:{port}")])
            .args(["--concurrency", concurrency])
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null());
        let child = cmd.spawn().expect("start the server");
        kit_tests::registry::wait_for_port(
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_secs(20),
        );
        Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Peak resident memory, in MiB.
    fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Default)]
struct Outcome {
    ok: Vec<Duration>,
    rejected: Vec<Duration>,
    other: u64,
    sent: u64,
    seconds: f64,
}

fn quantile(v: &mut [Duration], q: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort_unstable();
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Sends `rate` calls per second for `seconds`, each on its own task
/// (open loop: a slow server does not slow the arrivals).
async fn drive(url: &str, rate: f64, seconds: f64) -> Outcome {
    let client = CapacityClient::builder()
        .base_url(url)
        .transport(Transport::Http)
        .retries(0)
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut tasks = Vec::new();
    let mut next = started;
    while started.elapsed().as_secs_f64() < seconds {
        tokio::time::sleep_until(next.into()).await;
        next += interval;
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let result = client.work(1u32).await;
            (result.map_err(|e| e.code()), t.elapsed())
        }));
    }
    let mut out = Outcome {
        sent: tasks.len() as u64,
        ..Outcome::default()
    };
    for t in tasks {
        match t.await {
            Ok((Ok(_), d)) => out.ok.push(d),
            Ok((Err(Code::Unavailable | Code::ResourceExhausted), d)) => out.rejected.push(d),
            _ => out.other += 1,
        }
    }
    out.seconds = started.elapsed().as_secs_f64();
    out
}

struct Row {
    mode: &'static str,
    goodput: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
    rejected: Vec<f64>,
    reject_p99: Vec<f64>,
    failed: Vec<f64>,
    rss: Vec<f64>,
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

async fn bench(o: Options) {
    let modes: [(&'static str, &str); 3] = [
        ("kit default (adaptive limit)", "adaptive"),
        ("fixed limit (--concurrency 8)", "8"),
        ("no limit (--concurrency off)", "off"),
    ];
    // Unloaded latency: 20% of capacity against the default server.
    let unloaded = {
        let server = Server::start("adaptive", o.pin);
        let mut out = drive(&server.url, CAPACITY * 0.2, o.seconds.min(5.0)).await;
        quantile(&mut out.ok, 0.99)
    };
    eprintln!("overload: unloaded p99 {unloaded:?}");
    let mut rows: Vec<Row> = modes
        .iter()
        .map(|(mode, _)| Row {
            mode,
            goodput: vec![],
            p50: vec![],
            p99: vec![],
            rejected: vec![],
            reject_p99: vec![],
            failed: vec![],
            rss: vec![],
        })
        .collect();
    for round in 0..o.rounds {
        for (i, (_, flag)) in modes.iter().enumerate() {
            let server = Server::start(flag, o.pin);
            let mut out = drive(&server.url, CAPACITY * 3.0, o.seconds).await;
            let row = &mut rows[i];
            let goodput = out.ok.len() as f64 / out.seconds;
            row.goodput.push(goodput / CAPACITY * 100.0);
            row.p50.push(quantile(&mut out.ok, 0.5).as_secs_f64() * 1e3);
            row.p99
                .push(quantile(&mut out.ok, 0.99).as_secs_f64() * 1e3);
            row.rejected
                .push(out.rejected.len() as f64 / out.sent.max(1) as f64 * 100.0);
            row.reject_p99
                .push(quantile(&mut out.rejected, 0.99).as_secs_f64() * 1e3);
            row.failed.push(out.other as f64);
            row.rss.push(server.peak_rss_mib());
            eprintln!(
                "overload round {} {}: goodput {:.0}/s ({:.0}%), p99 {:.1} ms, rejected {:.1}% (p99 {:.2} ms), other errors {}, peak RSS {:.1} MiB",
                round + 1,
                row.mode,
                goodput,
                goodput / CAPACITY * 100.0,
                row.p99.last().copied().unwrap_or(0.0),
                row.rejected.last().copied().unwrap_or(0.0),
                row.reject_p99.last().copied().unwrap_or(0.0),
                out.other,
                row.rss.last().copied().unwrap_or(0.0),
            );
        }
    }
    println!(
        "Endpoint capacity {CAPACITY:.0} calls/s (8 permits x 20 ms), offered {:.0} calls/s open loop (3x) over HTTP for {} s per run, median of {} runs; unloaded p99 {:.1} ms (at 20% of capacity). Rejections are 503 nacks (not processed); \"other\" are timeouts (5 s) and connection errors.\n",
        CAPACITY * 3.0,
        o.seconds,
        o.rounds,
        unloaded.as_secs_f64() * 1e3
    );
    println!("| server | goodput (of capacity) | admitted p50 | admitted p99 | p99 / unloaded p99 | rejected | rejection p99 | other errors | peak RSS |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in &rows {
        let p99 = median(&r.p99);
        println!(
            "| {} | {:.0}% | {:.1} ms | {:.1} ms | {:.1}x | {:.1}% | {:.2} ms | {:.0} | {:.0} MiB |",
            r.mode,
            median(&r.goodput),
            median(&r.p50),
            p99,
            p99 / (unloaded.as_secs_f64() * 1e3).max(1e-9),
            median(&r.rejected),
            median(&r.reject_p99),
            median(&r.failed),
            median(&r.rss),
        );
    }
}
