//! Closed-loop load for the benchmarks, printing one JSON line.
//!
//! ```text
//! loadgen MODE URL [--connections N] [--seconds S]
//! ```
//!
//! `grpc-raw` drives a gRPC server for the server-side comparison: N HTTP/2
//! connections, one call in flight on each, pre-encoded request bytes, so
//! the client costs the same whoever serves. The client-side comparison
//! runs N tasks over one client: `kit-http` (the generated client) against
//! `hyper-http` (hyper + serde_json by hand), `kit-grpc` against
//! `tonic-grpc` (the tonic-prost-build client). The `-equiv` variants of the
//! hand-written clients also do what kit's does on every call: a 2 s
//! timeout, a fresh `traceparent` and the deadline header. Every answer is
//! checked.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use kit::Transport;
use kit_bench::pb;
use kit_bench::RawCodec;
use stringsvc::StringServiceClient;

const INPUT: &str = "hello world";
/// Items per stream in the streaming modes.
const LETTERS: usize = 1000;

fn letters_input() -> String {
    "a".repeat(LETTERS)
}
const EXPECTED: &str = "HELLO WORLD";

struct Opts {
    mode: String,
    url: String,
    connections: usize,
    seconds: f64,
}

fn opts() -> Opts {
    let mut args = std::env::args().skip(1);
    let usage = || -> ! {
        eprintln!("usage: loadgen grpc-raw|kit-http|hyper-http|kit-grpc|tonic-grpc URL [--connections N] [--seconds S]");
        std::process::exit(2)
    };
    let mode = args.next().unwrap_or_else(|| usage());
    let url = args.next().unwrap_or_else(|| usage());
    let mut o = Opts {
        mode,
        url,
        connections: 64,
        seconds: 5.0,
    };
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--connections" => o.connections = v.parse().unwrap_or_else(|_| usage()),
            "--seconds" => o.seconds = v.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    o
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
}

/// Runs `call` in a closed loop on `tasks` tasks until the time is up.
async fn drive<F, Fut>(tasks: usize, seconds: f64, make: impl Fn(usize) -> F) -> (Tally, f64)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            let mut call = make(i);
            tokio::spawn(async move {
                let mut t = Tally::default();
                while Instant::now() < deadline {
                    let s = Instant::now();
                    let ok = call().await;
                    t.latencies_us
                        .push(s.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    if !ok {
                        t.errors += 1;
                    }
                }
                t
            })
        })
        .collect();
    let mut all = Tally::default();
    for h in handles {
        let t = h.await.expect("task");
        all.latencies_us.extend(t.latencies_us);
        all.errors += t.errors;
    }
    (all, started.elapsed().as_secs_f64())
}

fn report(mode: &str, mut t: Tally, elapsed: f64) {
    t.latencies_us.sort_unstable();
    let pct = |p: f64| -> u32 {
        if t.latencies_us.is_empty() {
            return 0;
        }
        let i = ((t.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        t.latencies_us[i]
    };
    let calls = t.latencies_us.len();
    println!(
        "{}",
        serde_json::json!({
            "mode": mode,
            "calls": calls,
            "seconds": elapsed,
            "rps": calls as f64 / elapsed,
            "p50_us": pct(0.50),
            "p99_us": pct(0.99),
            "errors": t.errors,
        })
    );
}

fn encoded_request() -> Bytes {
    Bytes::from(prost::Message::encode_to_vec(&pb::UppercaseRequest {
        s: INPUT.into(),
    }))
}

fn is_expected(bytes: &[u8]) -> bool {
    <pb::UppercaseResponse as prost::Message>::decode(bytes).is_ok_and(|r| r.value == EXPECTED)
}

/// The per-call timeout the example's `uppercase` endpoint declares.
const TIMEOUT: Duration = Duration::from_secs(2);

/// A fresh W3C traceparent, as a hand-written client propagating traces sends.
fn traceparent() -> String {
    format!(
        "00-{:032x}-{:016x}-01",
        fastrand::u128(1..),
        fastrand::u64(1..)
    )
}

/// The request to send; the "equivalent" hand-written client also sends
/// what kit's does: the trace context and its remaining deadline.
fn req_with(req: &mut http::Request<Full<Bytes>>, equivalent: bool) -> http::Request<Full<Bytes>> {
    let mut out = std::mem::replace(req, http::Request::new(Full::new(Bytes::new())));
    if equivalent {
        let headers = out.headers_mut();
        headers.insert("traceparent", traceparent().parse().expect("header"));
        headers.insert(
            "kit-timeout-ms",
            http::HeaderValue::from(TIMEOUT.as_millis() as u64),
        );
    }
    out
}

#[tokio::main]
async fn main() {
    let o = opts();
    let (tally, elapsed) = match o.mode.as_str() {
        "grpc-raw" => {
            let mut channels = Vec::new();
            for _ in 0..o.connections {
                let ch = tonic::transport::Endpoint::from_shared(o.url.clone())
                    .expect("url")
                    .tcp_nodelay(true)
                    .connect()
                    .await
                    .expect("connect");
                channels.push(ch);
            }
            let body = encoded_request();
            drive(o.connections, o.seconds, |i| {
                let ch = channels[i].clone();
                let body = body.clone();
                move || {
                    let mut grpc = tonic::client::Grpc::new(ch.clone());
                    let body = body.clone();
                    async move {
                        if grpc.ready().await.is_err() {
                            return false;
                        }
                        let path = http::uri::PathAndQuery::from_static(
                            "/strings.v1.StringService/Uppercase",
                        );
                        match grpc.unary(tonic::Request::new(body), path, RawCodec).await {
                            Ok(r) => is_expected(&r.into_inner()),
                            Err(_) => false,
                        }
                    }
                }
            })
            .await
        }
        "kit-http" | "kit-grpc" => {
            let transport = if o.mode == "kit-grpc" {
                Transport::Grpc
            } else {
                Transport::Http
            };
            let client = StringServiceClient::builder()
                .base_url(o.url.clone())
                .transport(transport)
                .build()
                .expect("client");
            drive(o.connections, o.seconds, |_| {
                let client = client.clone();
                move || {
                    let client = client.clone();
                    async move { client.uppercase(INPUT).await.is_ok_and(|v| v == EXPECTED) }
                }
            })
            .await
        }
        "hyper-http" | "hyper-http-equiv" => {
            let equivalent = o.mode == "hyper-http-equiv";
            let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build_http();
            let uri: http::Uri = format!("{}/uppercase", o.url).parse().expect("url");
            drive(o.connections, o.seconds, |_| {
                let client = client.clone();
                let uri = uri.clone();
                move || {
                    let client = client.clone();
                    let uri = uri.clone();
                    async move {
                        let body =
                            serde_json::to_vec(&serde_json::json!({ "s": INPUT })).expect("json");
                        let mut req = http::Request::post(uri)
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from(body)))
                            .expect("request");
                        let call = async {
                            let Ok(resp) = client.request(req_with(&mut req, equivalent)).await
                            else {
                                return false;
                            };
                            let ok = resp.status().is_success();
                            let Ok(body) = resp.into_body().collect().await else {
                                return false;
                            };
                            ok && serde_json::from_slice::<String>(&body.to_bytes())
                                .is_ok_and(|v| v == EXPECTED)
                        };
                        if equivalent {
                            tokio::time::timeout(TIMEOUT, call).await.unwrap_or(false)
                        } else {
                            call.await
                        }
                    }
                }
            })
            .await
        }
        "tonic-grpc" | "tonic-grpc-equiv" => {
            let equivalent = o.mode == "tonic-grpc-equiv";
            let channel = tonic::transport::Endpoint::from_shared(o.url.clone())
                .expect("url")
                .tcp_nodelay(true)
                .connect_lazy();
            let client = pb::string_service_client::StringServiceClient::new(channel);
            drive(o.connections, o.seconds, |_| {
                let client = client.clone();
                move || {
                    let mut client = client.clone();
                    async move {
                        let mut req = tonic::Request::new(pb::UppercaseRequest { s: INPUT.into() });
                        if equivalent {
                            req.set_timeout(TIMEOUT);
                            let tp: tonic::metadata::AsciiMetadataValue =
                                traceparent().parse().expect("ascii");
                            req.metadata_mut().insert("traceparent", tp);
                        }
                        let call = client.uppercase(req);
                        let result = if equivalent {
                            tokio::time::timeout(TIMEOUT, call).await.ok()
                        } else {
                            Some(call.await)
                        };
                        result.is_some_and(|r| r.is_ok_and(|r| r.into_inner().value == EXPECTED))
                    }
                }
            })
            .await
        }
        // Streams: each call reads the letters of a LETTERS-long string,
        // one item each, and fails unless it got all of them uppercased.
        "grpc-stream" => {
            let channel = tonic::transport::Endpoint::from_shared(o.url.clone())
                .expect("url")
                .tcp_nodelay(true)
                .connect_lazy();
            let client = pb::string_service_client::StringServiceClient::new(channel);
            let input = letters_input();
            drive(o.connections, o.seconds, |_| {
                let client = client.clone();
                let input = input.clone();
                move || {
                    let mut client = client.clone();
                    let input = input.clone();
                    async move {
                        let req = tonic::Request::new(pb::LettersRequest { s: input });
                        let Ok(resp) = client.letters(req).await else {
                            return false;
                        };
                        let mut stream = resp.into_inner();
                        let mut n = 0;
                        while let Ok(Some(item)) = stream.message().await {
                            if item.value != "A" {
                                return false;
                            }
                            n += 1;
                        }
                        n == LETTERS
                    }
                }
            })
            .await
        }
        "sse" => {
            let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build_http();
            let uri: http::Uri = format!("{}/letters/{}", o.url, letters_input())
                .parse()
                .expect("url");
            drive(o.connections, o.seconds, |_| {
                let client = client.clone();
                let uri = uri.clone();
                move || {
                    let client = client.clone();
                    let uri = uri.clone();
                    async move {
                        let req = http::Request::get(uri)
                            .header("accept", "text/event-stream")
                            .body(Full::new(Bytes::new()))
                            .expect("request");
                        let Ok(resp) = client.request(req).await else {
                            return false;
                        };
                        let Ok(body) = resp.into_body().collect().await else {
                            return false;
                        };
                        let body = body.to_bytes();
                        let events = body
                            .split(|b| *b == b'\n')
                            .filter(|l| l.starts_with(b"data: "))
                            .count();
                        events == LETTERS
                    }
                }
            })
            .await
        }
        other => {
            eprintln!("unknown mode {other}");
            std::process::exit(2)
        }
    };
    report(&o.mode, tally, elapsed);
}
