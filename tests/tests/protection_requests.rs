//! Server protection, request attacks (issue 10), over real sockets:
//! half-sent bodies (HTTP/1.1 and HTTP/2) against a real stringsvc process
//! whose memory is measured, expired and malformed deadlines, unary gRPC
//! with two messages, gRPC over HTTP/1.1, rate limits and concurrency
//! nacks on both transports. Each test prints what it measured.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kit::Server;
use kit_tests::attack::{
    addr_of, grpc_frame, http1, metric, metrics, post, quantile, read_response, rss_kib,
    uint_field, GrpcConn, RssWatch,
};
use kit_tests::fleet::Process;
use kit_tests::limited::Limited;
use kit_tests::{start, workspace_bin};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const MIB: usize = 1024 * 1024;
/// The declared size of each half-sent body: the default body limit.
const BODY: usize = 4 * MIB;

/// How one half-sent request ended, seen by its client.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ending {
    /// Answered with this status and error code after this long.
    Answered(u16, &'static str, Duration),
    /// Closed or reset without an answer after this long.
    Closed(Duration),
    /// Nothing after the test's own bound.
    Hung,
}

/// How a half-sent body may be answered: too slow (408) or over the body
/// memory (503 RESOURCE_EXHAUSTED). (The servers of these tests run with
/// `--concurrency off`: an adaptive limit would nack some of the attack's
/// requests before reading them, which is not what these tests measure.)
fn is_refusal(status: u16, code: &str) -> bool {
    matches!(
        (status, code),
        (408, "DEADLINE_EXCEEDED") | (503, "RESOURCE_EXHAUSTED")
    )
}

fn code_of(body: &[u8]) -> &'static str {
    let text = String::from_utf8_lossy(body);
    for code in ["DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "UNAVAILABLE"] {
        if text.contains(code) {
            return code;
        }
    }
    "OTHER"
}

/// A POST /count declaring a 4 MiB body and sending all of it but the
/// last byte, over HTTP/1.1; how it ended (within `bound`).
async fn half_sent_http1(addr: SocketAddr, payload: Bytes, bound: Duration) -> Ending {
    let started = Instant::now();
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (rd, mut wr) = tcp.into_split();
    let writer = tokio::spawn(async move {
        let head = format!(
            "POST /count HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {BODY}\r\n\r\n"
        );
        wr.write_all(head.as_bytes()).await?;
        for piece in payload.chunks(64 * 1024) {
            wr.write_all(piece).await?;
        }
        // Keep the write side open: the last byte never comes.
        std::future::pending::<()>().await;
        Ok::<_, std::io::Error>(wr)
    });
    let read = async {
        let mut tcp = rd;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            match tokio::io::AsyncReadExt::read(&mut tcp, &mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + length {
                    break;
                }
            }
        }
        let took = started.elapsed();
        let text = String::from_utf8_lossy(&buf).into_owned();
        match text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
        {
            Some(status) => Ending::Answered(status, code_of(&buf), took),
            None => Ending::Closed(took),
        }
    };
    let ending = tokio::time::timeout(bound, read)
        .await
        .unwrap_or(Ending::Hung);
    writer.abort();
    ending
}

fn payload() -> Bytes {
    let mut body = Vec::with_capacity(BODY - 1);
    body.extend_from_slice(br#"{"s":""#);
    body.resize(BODY - 1, b'a');
    Bytes::from(body)
}

struct Tally {
    answered: Vec<(u16, &'static str, Duration)>,
    closed: Vec<Duration>,
    hung: usize,
}

fn tally(endings: &[Ending]) -> Tally {
    let mut t = Tally {
        answered: Vec::new(),
        closed: Vec::new(),
        hung: 0,
    };
    for e in endings {
        match *e {
            Ending::Answered(s, c, d) => t.answered.push((s, c, d)),
            Ending::Closed(d) => t.closed.push(d),
            Ending::Hung => t.hung += 1,
        }
    }
    t
}

impl Tally {
    fn with(&self, status: u16) -> Vec<Duration> {
        let mut v: Vec<Duration> = self
            .answered
            .iter()
            .filter(|(s, _, _)| *s == status)
            .map(|(_, _, d)| *d)
            .collect();
        v.sort();
        v
    }

    fn describe(&self) -> String {
        let mut statuses: Vec<(u16, &str)> =
            self.answered.iter().map(|(s, c, _)| (*s, *c)).collect();
        statuses.sort();
        statuses.dedup();
        let per: Vec<String> = statuses
            .iter()
            .map(|(s, c)| {
                let mut times: Vec<Duration> = self
                    .answered
                    .iter()
                    .filter(|(s2, c2, _)| s2 == s && c2 == c)
                    .map(|(_, _, d)| *d)
                    .collect();
                format!(
                    "{} x {s} {c} (first {:?}, last {:?})",
                    times.len(),
                    quantile(&mut times, 0.0),
                    quantile(&mut times, 1.0)
                )
            })
            .collect();
        let mut closed = self.closed.clone();
        format!(
            "{}; closed without answer: {} (last {:?}); hung: {}",
            per.join(", "),
            closed.len(),
            quantile(&mut closed, 1.0),
            self.hung
        )
    }
}

/// Settles, then the RSS of `pid` in KiB.
async fn settled_rss(pid: i32) -> u64 {
    tokio::time::sleep(Duration::from_millis(1000)).await;
    rss_kib(pid)
}

async fn warm_up(addr: SocketAddr) {
    for _ in 0..20 {
        let r = http1(addr, &post("/count", r#"{"s":"warm"}"#))
            .await
            .unwrap();
        assert_eq!(r.status, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_bodies_time_out_and_memory_returns_to_baseline() {
    const N: usize = 100;
    let server = Process::start(&["--body-timeout", "2s", "--concurrency", "off"]);
    let (pid, addr) = (server.daemon.pid(), addr_of(&server.url));
    warm_up(addr).await;
    let baseline = settled_rss(pid).await;
    let watch = RssWatch::start(pid);
    let body = payload();
    let started = Instant::now();
    let tasks: Vec<_> = (0..N)
        .map(|_| {
            let body = body.clone();
            tokio::spawn(half_sent_http1(addr, body, Duration::from_secs(8)))
        })
        .collect();
    let mut endings = Vec::new();
    for t in tasks {
        endings.push(t.await.unwrap());
    }
    let all_done = started.elapsed();
    let peak = watch.peak();
    let text = metrics(addr).await;
    let after = settled_rss(pid).await;
    let t = tally(&endings);
    println!(
        "{N} half-sent 4 MiB bodies over HTTP/1.1 (body timeout 2 s, body memory 128 MiB): {}; \
         all ended after {all_done:?}; RSS baseline {} MiB, peak {} MiB, 1 s after {} MiB; \
         rejected body_timeout {} body_memory {}; body bytes gauge {}",
        t.describe(),
        baseline / 1024,
        peak / 1024,
        after / 1024,
        metric(
            &text,
            "kit_server_rejected_total",
            &[("reason", "body_timeout")]
        ),
        metric(
            &text,
            "kit_server_rejected_total",
            &[("reason", "body_memory")]
        ),
        metric(&text, "kit_server_body_bytes", &[]),
    );
    assert_eq!(t.hung, 0, "requests neither answered nor closed within 8 s");
    for (status, code, took) in &t.answered {
        assert!(is_refusal(*status, code), "answered {status} {code}");
        assert!(
            *took < Duration::from_millis(3000),
            "answered {status} after {took:?}"
        );
    }
    assert!(
        t.closed.iter().all(|d| *d < Duration::from_millis(3000)),
        "closed late: {:?}",
        t.closed
    );
    assert!(
        t.answered.len() >= N * 9 / 10,
        "only {} of {N} got an answer",
        t.answered.len()
    );
    assert_eq!(
        metric(&text, "kit_server_body_bytes", &[]),
        0.0,
        "body bytes still charged"
    );
    // 128 MiB of bodies in the budget, plus buffers: never the 400 MiB
    // the bodies add up to.
    let grew = (peak - baseline) / 1024;
    assert!(
        grew < 192,
        "RSS grew {grew} MiB under {N} half-sent 4 MiB bodies"
    );
    let kept = after.saturating_sub(baseline) / 1024;
    assert!(
        kept < 32,
        "RSS stayed {kept} MiB above its baseline after the bodies were refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_never_arrive_do_not_shrink_the_adaptive_limit() {
    // The adaptive limit times the handler from when its body arrived; a
    // body that never does must not count its wait as the endpoint's
    // latency, or each round of slow clients shrinks the limit (measured
    // before the fix on stringsvc's count, initial limit 100: 100, 92, 84,
    // 78 over four rounds of 80) until legitimate requests are nacked.
    // The endpoint is the probe's `sleep` of 20 ms, so its usual latency
    // stands well above the microseconds of scheduling noise; each round
    // sends as many bodies as the initial limit admits, all in flight at
    // once, so the limit takes each round into account.
    const ROUNDS: usize = 5;
    let mut cmd = Command::new(workspace_bin("slowsvc"));
    cmd.args(["--http-addr", "127.0.0.1:0", "--body-timeout", "500ms"]);
    let server = Process::spawn(cmd, false);
    let addr = addr_of(&server.url);
    for _ in 0..20 {
        let r = http1(addr, &post("/sleep", r#"{"millis":20}"#))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let limit = |text: &str| {
        metric(
            text,
            "kit_server_concurrency_limit",
            &[("endpoint", "sleep")],
        )
    };
    let mut limits = vec![limit(&metrics(addr).await)];
    let n = limits[0] as usize;
    assert!(n >= 4, "no adaptive limit on sleep: {limits:?}");
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                tokio::spawn(async move {
                    let mut tcp = TcpStream::connect(addr).await.unwrap();
                    tcp.write_all(
                        b"POST /sleep HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"millis\":",
                    )
                    .await
                    .unwrap();
                    read_response(&mut tcp).await.map(|r| r.status).ok()
                })
            })
            .collect();
        let mut statuses = std::collections::BTreeMap::new();
        for t in tasks {
            *statuses.entry(t.await.unwrap()).or_insert(0) += 1;
        }
        limits.push(limit(&metrics(addr).await));
        rounds.push(statuses);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    println!(
        "adaptive limit of sleep (20 ms) over {ROUNDS} rounds of {n} bodies that never arrive: \
         {limits:?}; answers per round: {rounds:?}"
    );
    assert!(
        rounds.iter().all(|r| r.keys().all(|s| *s == Some(408))),
        "a slow body was not answered 408 (nacked?): {rounds:?}"
    );
    let lowest = limits.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        lowest >= limits[0],
        "bodies that never arrived shrank the adaptive limit: {limits:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_beyond_the_body_memory_are_refused_at_once() {
    const N: usize = 50;
    let server = Process::start(&[
        "--body-timeout",
        "3s",
        "--body-memory",
        "8388608",
        "--concurrency",
        "off",
    ]);
    let (pid, addr) = (server.daemon.pid(), addr_of(&server.url));
    warm_up(addr).await;
    let baseline = settled_rss(pid).await;
    let watch = RssWatch::start(pid);
    let body = payload();
    let tasks: Vec<_> = (0..N)
        .map(|_| {
            let body = body.clone();
            tokio::spawn(half_sent_http1(addr, body, Duration::from_secs(8)))
        })
        .collect();
    let mut endings = Vec::new();
    for t in tasks {
        endings.push(t.await.unwrap());
    }
    let peak = watch.peak();
    let text = metrics(addr).await;
    let t = tally(&endings);
    let refused = t.with(503);
    let timed_out = t.with(408);
    println!(
        "{N} half-sent 4 MiB bodies, body memory 8 MiB, body timeout 3 s: {}; RSS baseline {} MiB, peak {} MiB; \
         rejected body_memory {} body_timeout {}",
        t.describe(),
        baseline / 1024,
        peak / 1024,
        metric(&text, "kit_server_rejected_total", &[("reason", "body_memory")]),
        metric(&text, "kit_server_rejected_total", &[("reason", "body_timeout")]),
    );
    assert_eq!(t.hung, 0);
    assert!(
        t.answered
            .iter()
            .filter(|(s, _, _)| *s == 503)
            .all(|(_, c, _)| *c == "RESOURCE_EXHAUSTED"),
        "503 without RESOURCE_EXHAUSTED"
    );
    assert!(
        refused.len() >= N - 4,
        "only {} of {N} refused with 503 (8 MiB holds at most 2 bodies of 4 MiB)",
        refused.len()
    );
    let last_refusal = refused.last().copied().unwrap_or_default();
    assert!(
        last_refusal < Duration::from_millis(1500),
        "a 503 came after {last_refusal:?}, not at once"
    );
    assert!(
        timed_out.iter().all(|d| *d >= Duration::from_millis(2800)),
        "408 before the body timeout: {timed_out:?}"
    );
    assert!(
        metric(
            &text,
            "kit_server_rejected_total",
            &[("reason", "body_memory")]
        ) >= refused.len() as f64
    );
    let grew = (peak - baseline) / 1024;
    assert!(grew < 64, "RSS grew {grew} MiB with an 8 MiB body budget");
}

/// One HTTP/2 connection carrying `n` POST /count streams, each declaring
/// 4 MiB and sending all but the last byte; how each ended, measured from
/// the first stream. The connection is closed when all have ended.
async fn half_sent_http2(addr: SocketAddr, n: usize) -> Vec<Ending> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (send, connection) = h2::client::Builder::new()
        .initial_window_size(1 << 20)
        .handshake::<_, Bytes>(tcp)
        .await
        .expect("h2 handshake");
    let connection = tokio::spawn(async move {
        let _ = connection.await;
    });
    let body = payload();
    let started = Instant::now();
    let mut streams = Vec::new();
    for _ in 0..n {
        let mut send = send.clone().ready().await.expect("stream slot");
        let request = http::Request::builder()
            .method("POST")
            .uri("http://localhost/count")
            .header("content-type", "application/json")
            .header("content-length", BODY.to_string())
            .body(())
            .unwrap();
        let (response, mut stream) = send.send_request(request, false).expect("stream");
        stream.send_data(body.clone(), false).expect("data");
        streams.push(tokio::spawn(async move {
            let outcome = tokio::time::timeout(Duration::from_secs(8), async {
                let response = response.await?;
                let status = response.status().as_u16();
                let mut body = response.into_body();
                let mut data = Vec::new();
                while let Some(chunk) = body.data().await {
                    let chunk = chunk?;
                    let _ = body.flow_control().release_capacity(chunk.len());
                    data.extend_from_slice(&chunk);
                }
                Ok::<_, h2::Error>((status, data))
            })
            .await;
            // The request stream stays open (never ended) until answered.
            drop(stream);
            match outcome {
                Ok(Ok((status, data))) => {
                    Ending::Answered(status, code_of(&data), started.elapsed())
                }
                Ok(Err(_)) => Ending::Closed(started.elapsed()),
                Err(_) => Ending::Hung,
            }
        }));
    }
    let mut endings = Vec::new();
    for s in streams {
        endings.push(s.await.unwrap());
    }
    drop(send);
    connection.abort();
    endings
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_bodies_on_http2_streams_time_out_and_memory_returns() {
    const N: usize = 100;
    const ROUNDS: usize = 2;
    let server = Process::start(&["--body-timeout", "2s", "--concurrency", "off"]);
    let (pid, addr) = (server.daemon.pid(), addr_of(&server.url));
    warm_up(addr).await;
    let baseline = settled_rss(pid).await;
    let mut afters = Vec::new();
    let mut peaks = Vec::new();
    let mut endings = Vec::new();
    for round in 0..ROUNDS {
        let watch = RssWatch::start(pid);
        let started = Instant::now();
        let these = half_sent_http2(addr, N).await;
        let all_done = started.elapsed();
        peaks.push(watch.peak());
        afters.push(settled_rss(pid).await);
        println!(
            "round {round}: {N} half-sent 4 MiB bodies on one HTTP/2 connection \
             (body timeout 2 s, body memory 128 MiB): {}; all ended after {all_done:?}",
            tally(&these).describe()
        );
        endings.extend(these);
    }
    let text = metrics(addr).await;
    let mib = |v: &[u64]| v.iter().map(|k| k / 1024).collect::<Vec<_>>();
    println!(
        "HTTP/2 half-sent bodies: RSS baseline {} MiB, peaks {:?} MiB, 1 s after each round {:?} MiB; \
         body bytes gauge {}",
        baseline / 1024,
        mib(&peaks),
        mib(&afters),
        metric(&text, "kit_server_body_bytes", &[]),
    );
    let t = tally(&endings);
    assert_eq!(t.hung, 0, "streams neither answered nor reset within 8 s");
    for (status, code, took) in &t.answered {
        assert!(is_refusal(*status, code), "answered {status} {code}");
        assert!(
            *took < Duration::from_millis(3500),
            "answered after {took:?}"
        );
    }
    assert!(
        t.answered.len() >= ROUNDS * N * 9 / 10,
        "only {} answered",
        t.answered.len()
    );
    assert_eq!(
        metric(&text, "kit_server_body_bytes", &[]),
        0.0,
        "body bytes still charged"
    );
    let peak = peaks.iter().copied().max().unwrap_or_default();
    let grew = (peak - baseline) / 1024;
    assert!(
        grew < 192,
        "RSS grew {grew} MiB under {N} half-sent HTTP/2 bodies"
    );
    let last = afters.last().copied().unwrap_or_default();
    let accumulated = last.saturating_sub(afters[0]) / 1024;
    assert!(
        accumulated < 16,
        "RSS kept growing over rounds: {:?} MiB",
        mib(&afters)
    );
    let kept = last.saturating_sub(baseline) / 1024;
    assert!(
        kept < 32,
        "RSS stayed {kept} MiB above its {} MiB baseline after the streams ended and the connection closed",
        baseline / 1024
    );
}

// ---- deadlines, malformed requests, limits: in-process servers ----

const TOUCH: &str = "/kit.limited.v1.Limited/Touch";
const PING: &str = "/kit.limited.v1.Limited/Ping";
const HOLD: &str = "/kit.limited.v1.Limited/Hold";

fn message(millis: u64) -> Vec<u8> {
    grpc_frame(&uint_field(1, millis))
}

/// A keep-alive HTTP/1.1 connection for many requests.
struct Keep(TcpStream);

impl Keep {
    async fn open(addr: SocketAddr) -> Keep {
        Keep(TcpStream::connect(addr).await.unwrap())
    }

    async fn send(&mut self, request: &str) -> kit_tests::attack::Response1 {
        self.0.write_all(request.as_bytes()).await.unwrap();
        read_response(&mut self.0).await.unwrap()
    }
}

fn with_header(request: String, header: &str) -> String {
    request.replacen("\r\n", &format!("\r\n{header}\r\n"), 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_deadline_never_runs_the_handler() {
    let limited = Arc::new(Limited::default());
    let server = start(Server::default().add_shared_service(limited.clone())).await;
    let mut http = Keep::open(server.addr).await;
    let mut took = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let r = http
            .send(&with_header(
                post("/touch", r#"{"millis":0}"#),
                "kit-timeout-ms: 0",
            ))
            .await;
        took.push(t.elapsed());
        assert_eq!(
            r.status,
            504,
            "kit-timeout-ms: 0 answered {} {}",
            r.status,
            r.text()
        );
        assert!(r.text().contains("DEADLINE_EXCEEDED"), "{}", r.text());
    }
    let http_p99 = quantile(&mut took, 0.99);
    let grpc = GrpcConn::connect(server.addr).await;
    let mut codes = std::collections::BTreeMap::new();
    let mut took = Vec::new();
    for timeout in ["0n", "1n", "0S", "0m"] {
        for _ in 0..200 {
            let r = grpc
                .call(TOUCH, &[("grpc-timeout", timeout)], message(0))
                .await
                .expect("gRPC answer");
            took.push(r.elapsed);
            *codes.entry((timeout, r.status())).or_insert(0) += 1;
        }
    }
    let grpc_p99 = quantile(&mut took, 0.99);
    println!(
        "expired deadlines: HTTP kit-timeout-ms: 0 x200 all 504, p99 {http_p99:?}; \
         gRPC (timeout, status) counts {codes:?}, p99 {grpc_p99:?}; handler runs: {}",
        limited.touched()
    );
    for ((timeout, status), n) in &codes {
        assert_eq!(
            *status,
            Some(4),
            "grpc-timeout: {timeout} answered {status:?} {n} times"
        );
    }
    assert_eq!(
        limited.touched(),
        0,
        "the handler ran for an expired deadline"
    );
    // The counter does count: a call with time left runs the handler.
    let r = grpc
        .call(TOUCH, &[("grpc-timeout", "5S")], message(0))
        .await
        .unwrap();
    assert_eq!(r.status(), Some(0), "{}", r.message());
    let r = http.send(&post("/touch", r#"{"millis":0}"#)).await;
    assert_eq!(r.status, 200);
    assert_eq!(limited.touched(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_deadlines_are_counted_as_rejections() {
    let limited = Arc::new(Limited::default());
    let server = start(Server::default().add_shared_service(limited.clone())).await;
    let mut http = Keep::open(server.addr).await;
    for _ in 0..10 {
        let r = http
            .send(&with_header(
                post("/touch", r#"{"millis":0}"#),
                "kit-timeout-ms: 0",
            ))
            .await;
        assert_eq!(r.status, 504);
    }
    let grpc = GrpcConn::connect(server.addr).await;
    for _ in 0..10 {
        let r = grpc
            .call(TOUCH, &[("grpc-timeout", "0n")], message(0))
            .await
            .unwrap();
        assert_eq!(r.status(), Some(4));
    }
    let text = metrics(server.addr).await;
    let rejected = metric(
        &text,
        "kit_server_rejected_total",
        &[("endpoint", "touch"), ("reason", "deadline")],
    );
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("touch") || l.contains("rejected"))
        .filter(|l| !l.contains("_bucket"))
        .collect();
    println!("after 20 expired deadlines: rejected{{reason=deadline}} = {rejected}; {lines:#?}");
    assert_eq!(
        rejected, 20.0,
        "kit_server_rejected_total{{reason=\"deadline\"}} (documented in metrics/protection.rs) \
         does not count requests refused for an expired deadline"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_timeouts_are_invalid_argument_and_never_run() {
    let limited = Arc::new(Limited::default());
    let server = start(Server::default().add_shared_service(limited.clone())).await;
    let mut http = Keep::open(server.addr).await;
    for bad in ["soon", "-1", "1.5", "", "99999999999999999999999"] {
        let r = http
            .send(&with_header(
                post("/touch", r#"{"millis":0}"#),
                &format!("kit-timeout-ms: {bad}"),
            ))
            .await;
        println!("kit-timeout-ms: {bad:?} -> {} {}", r.status, r.text());
        assert_eq!(r.status, 400, "kit-timeout-ms: {bad:?}");
        assert!(r.text().contains("INVALID_ARGUMENT"), "{}", r.text());
    }
    let grpc = GrpcConn::connect(server.addr).await;
    for bad in ["abc", "5", "S", "1.5S", "-1S", "123456789S", "10x"] {
        let r = grpc
            .call(TOUCH, &[("grpc-timeout", bad)], message(0))
            .await
            .expect("gRPC answer");
        println!("grpc-timeout: {bad:?} -> {:?} {}", r.status(), r.message());
        assert_eq!(
            r.status(),
            Some(3),
            "grpc-timeout: {bad:?}: {}",
            r.message()
        );
    }
    assert_eq!(
        limited.touched(),
        0,
        "a handler ran with a malformed timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unary_grpc_with_two_messages_is_internal_and_serving_goes_on() {
    let limited = Arc::new(Limited::default());
    let server = start(Server::default().add_shared_service(limited.clone())).await;
    let grpc = GrpcConn::connect(server.addr).await;
    let mut two = message(1);
    two.extend(message(2));
    for _ in 0..20 {
        let r = grpc.call(TOUCH, &[], two.clone()).await.expect("answer");
        assert_eq!(
            r.status(),
            Some(13),
            "two messages answered {:?} {} (body {} bytes)",
            r.status(),
            r.message(),
            r.body.len()
        );
    }
    // A message then a partial second one is malformed too.
    let mut partial = message(1);
    partial.extend(&[0, 0, 0, 0, 9, 8]);
    let r = grpc.call(TOUCH, &[], partial).await.expect("answer");
    println!(
        "two messages: 13 x20; one and a half: {:?} {}; handler runs: {}",
        r.status(),
        r.message(),
        limited.touched()
    );
    assert_eq!(r.status(), Some(13), "{}", r.message());
    let ran = limited.touched();
    // Serving goes on, on the same connection and a new one.
    let r = grpc.call(TOUCH, &[], message(0)).await.unwrap();
    assert_eq!(r.status(), Some(0), "{}", r.message());
    let r = GrpcConn::connect(server.addr)
        .await
        .call(TOUCH, &[], message(0))
        .await
        .unwrap();
    assert_eq!(r.status(), Some(0));
    assert_eq!(limited.touched(), ran + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_over_http1_is_refused_with_505() {
    let limited = Arc::new(Limited::default());
    let server = start(Server::default().add_shared_service(limited.clone())).await;
    let frame = message(0);
    let mut request = format!(
        "POST {TOUCH} HTTP/1.1\r\nhost: x\r\ncontent-type: application/grpc\r\nte: trailers\r\ncontent-length: {}\r\n\r\n",
        frame.len()
    )
    .into_bytes();
    request.extend(&frame);
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(&request).await.unwrap();
    let r = read_response(&mut tcp).await.unwrap();
    println!(
        "gRPC over HTTP/1.1: {} grpc-status {:?} grpc-message {:?} body {}",
        r.status,
        r.header("grpc-status"),
        r.header("grpc-message"),
        r.text()
    );
    assert_eq!(r.status, 505, "{}", r.text());
    assert!(r.header("grpc-status").is_some(), "no grpc-status");
    assert_ne!(r.header("grpc-status"), Some("0"));
    // One error, one code: what the JSON body says is what grpc-status says.
    let json: serde_json::Value = serde_json::from_slice(&r.body).expect("a JSON error");
    let status = json["error"]["status"].as_str().unwrap_or_default();
    let codes = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    let grpc_status: usize = r.header("grpc-status").unwrap().parse().unwrap();
    assert_eq!(
        codes.get(grpc_status).copied(),
        Some(status),
        "grpc-status {grpc_status} but the JSON error says {status}"
    );
    assert_eq!(limited.touched(), 0);
    // And the server serves on.
    let r = http1(server.addr, &post("/touch", r#"{"millis":0}"#))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_refuses_the_sixth_call_with_429_over_http() {
    let server = start(Server::default().add_service(Limited::default())).await;
    let mut http = Keep::open(server.addr).await;
    let started = Instant::now();
    let mut statuses = Vec::new();
    let mut last = None;
    for n in 0..6 {
        let r = http.send(&post("/ping", &format!(r#"{{"n":{n}}}"#))).await;
        statuses.push(r.status);
        last = Some(r);
    }
    let took = started.elapsed();
    let last = last.unwrap();
    println!(
        "rate 5/s burst 5, 6 calls in {took:?}: {statuses:?}; 6th: retry-after {:?} {}",
        last.header("retry-after"),
        last.text()
    );
    assert!(
        took < Duration::from_millis(150),
        "calls too slow to test the burst: {took:?}"
    );
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
    assert!(
        last.text().contains("RESOURCE_EXHAUSTED"),
        "{}",
        last.text()
    );
    let retry: u64 = last
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("Retry-After in seconds");
    assert!(retry >= 1);
    assert!(
        last.header("kit-nack").is_none(),
        "a rate refusal is not a nack"
    );
    // A token comes back after 200 ms.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let r = http.send(&post("/ping", r#"{"n":9}"#)).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_refuses_the_sixth_call_with_code_8_over_grpc() {
    let server = start(Server::default().add_service(Limited::default())).await;
    let grpc = GrpcConn::connect(server.addr).await;
    let mut statuses = Vec::new();
    let mut last = None;
    let started = Instant::now();
    for n in 0..6 {
        let r = grpc
            .call(PING, &[], grpc_frame(&uint_field(1, n)))
            .await
            .unwrap();
        statuses.push(r.status());
        last = Some(r);
    }
    let took = started.elapsed();
    let last = last.unwrap();
    println!(
        "gRPC rate 5/s burst 5, 6 calls in {took:?}: {statuses:?}; 6th: {} retry-after {:?}",
        last.message(),
        last.headers.get("retry-after")
    );
    assert!(
        took < Duration::from_millis(150),
        "calls too slow to test the burst: {took:?}"
    );
    assert_eq!(
        statuses,
        [Some(0), Some(0), Some(0), Some(0), Some(0), Some(8)]
    );
    assert!(last.headers.get("retry-after").is_some(), "no retry-after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_concurrent_hold_is_nacked_at_once_over_http() {
    let limited = Arc::new(Limited::default());
    let server = start(Server::default().add_shared_service(limited.clone())).await;
    let addr = server.addr;
    let holds: Vec<_> = (0..2)
        .map(|_| {
            tokio::spawn(async move { http1(addr, &post("/hold", r#"{"millis":1000}"#)).await })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(2);
    while limited.held() < 2 {
        assert!(Instant::now() < deadline, "the two holds did not start");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut third = Keep::open(addr).await;
    let t = Instant::now();
    let r = third.send(&post("/hold", r#"{"millis":1000}"#)).await;
    let took = t.elapsed();
    println!(
        "third concurrent hold (limit 2): {} in {took:?}, kit-nack {:?}, retry-after {:?}, {}",
        r.status,
        r.header("kit-nack"),
        r.header("retry-after"),
        r.text()
    );
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("UNAVAILABLE"), "{}", r.text());
    assert_eq!(r.header("kit-nack"), Some("1"));
    assert!(r.header("retry-after").is_some(), "no Retry-After");
    assert!(took < Duration::from_millis(50), "the nack took {took:?}");
    assert_eq!(limited.held(), 2, "the refused request ran");
    for h in holds {
        assert_eq!(h.await.unwrap().unwrap().status, 200);
    }
    let r = third.send(&post("/hold", r#"{"millis":1}"#)).await;
    assert_eq!(r.status, 200, "admitted again once the holds ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_concurrent_hold_is_nacked_at_once_over_grpc() {
    let limited = Arc::new(Limited::default());
    let server = start(Server::default().add_shared_service(limited.clone())).await;
    let grpc = GrpcConn::connect(server.addr).await;
    let holds: Vec<_> = (0..2)
        .map(|_| {
            let grpc = grpc.clone();
            tokio::spawn(async move { grpc.call(HOLD, &[], message(1000)).await })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(2);
    while limited.held() < 2 {
        assert!(Instant::now() < deadline, "the two holds did not start");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let r = grpc.call(HOLD, &[], message(1000)).await.unwrap();
    println!(
        "gRPC third concurrent hold: status {:?} in {:?}, {}; kit-nack {:?} (headers {:?}, trailers {:?})",
        r.status(),
        r.elapsed,
        r.message(),
        r.headers.get("kit-nack"),
        r.headers,
        r.trailers
    );
    assert_eq!(r.status(), Some(14), "{}", r.message());
    assert_eq!(
        r.headers.get("kit-nack").map(|v| v.as_bytes()),
        Some(&b"1"[..]),
        "kit-nack in the trailers-only headers"
    );
    assert!(
        r.elapsed < Duration::from_millis(50),
        "the nack took {:?}",
        r.elapsed
    );
    assert_eq!(limited.held(), 2, "the refused request ran");
    for h in holds {
        assert_eq!(h.await.unwrap().unwrap().status(), Some(0));
    }
}

/// Uploads still arriving hold no concurrency permit: 10 half-sent bodies
/// against an endpoint limited to 2 at once leave it serving everyone
/// else, and the half-sent ones are never admitted. (Before, they held
/// the permits until the body timeout and every other call was nacked.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_still_arriving_do_not_lock_an_endpoint_out() {
    let server = Process::start(&["--body-timeout", "3s", "--concurrency", "2"]);
    let addr = addr_of(&server.url);
    warm_up(addr).await;
    let body = payload();
    let uploads: Vec<_> = (0..10)
        .map(|_| {
            let body = body.clone();
            tokio::spawn(half_sent_http1(addr, body, Duration::from_secs(8)))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut answered = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let response = http1(addr, &post("/count", r#"{"s":"abc"}"#))
            .await
            .unwrap();
        answered.push((response.status, started.elapsed()));
    }
    let ok = answered.iter().filter(|(s, _)| *s == 200).count();
    println!(
        "20 calls to /count (limit 2) while 10 uploads stall: {ok} answered 200: {answered:?}"
    );
    assert_eq!(
        ok, 20,
        "calls were refused while uploads stalled: {answered:?}"
    );
    for t in uploads {
        let ending = t.await.unwrap();
        assert!(
            matches!(
                ending,
                Ending::Answered(408, "DEADLINE_EXCEEDED", _) | Ending::Closed(_)
            ),
            "{ending:?}"
        );
    }
}
