//! Server protection, connection attacks (issue 10), against real stringsvc
//! processes over real sockets: slowloris, idle floods beyond the
//! connection limit, keep-alive idling, descriptor exhaustion, and
//! shutdown with clients that do not cooperate. Each test prints what it
//! measured and asserts the figure the server must meet.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kit_tests::attack::{
    addr_of, closed_after, cpu_time, http1, metric, metrics, post, quantile, read_response,
};
use kit_tests::fleet::Process;
use kit_tests::workspace_bin;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// A legitimate request on a new connection: its latency (it must be 200).
async fn legit(addr: SocketAddr) -> Duration {
    let started = Instant::now();
    let r = http1(addr, &post("/count", r#"{"s":"hello"}"#))
        .await
        .expect("a legitimate request is answered");
    let took = started.elapsed();
    assert_eq!(r.status, 200, "legitimate request: {r:?}");
    assert_eq!(r.text(), "5");
    took
}

/// Opens `n` connections, at most 64 connects at a time.
/// `n` connections to `addr`, 64 being opened at a time, each with when
/// it was established (the server's header clock starts then: opening
/// all of them can take longer than the header timeout on a busy machine).
async fn connect_many(addr: SocketAddr, n: usize) -> Vec<(TcpStream, Instant)> {
    let gate = Arc::new(Semaphore::new(64));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let gate = gate.clone();
            tokio::spawn(async move {
                let _permit = gate.acquire().await.unwrap();
                let tcp = TcpStream::connect(addr).await.expect("connect");
                (tcp, Instant::now())
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connections_are_closed_at_the_header_timeout() {
    const N: usize = 300;
    let server = Process::start(&["--header-timeout", "1s", "--idle-timeout", "30s"]);
    let addr = addr_of(&server.url);
    let started = Instant::now();
    // Each sends the start of a request at once, then one byte of a header
    // every 100 ms: never a whole header, never idle.
    let slow: Vec<_> = connect_many(addr, N)
        .await
        .into_iter()
        .map(|(tcp, opened)| {
            tokio::spawn(async move {
                let (mut rd, mut wr) = tcp.into_split();
                let writer = tokio::spawn(async move {
                    if wr
                        .write_all(b"POST /count HTTP/1.1\r\nhost: x\r\nx-slow: ")
                        .await
                        .is_err()
                    {
                        return;
                    }
                    loop {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        if wr.write_all(b"a").await.is_err() {
                            return;
                        }
                    }
                });
                let mut buf = [0u8; 1024];
                let closed = loop {
                    match tokio::time::timeout(
                        Duration::from_secs(10),
                        tokio::io::AsyncReadExt::read(&mut rd, &mut buf),
                    )
                    .await
                    {
                        Ok(Ok(0)) | Ok(Err(_)) => break Some(opened.elapsed()),
                        Ok(Ok(_)) => continue,
                        Err(_) => break None,
                    }
                };
                writer.abort();
                closed
            })
        })
        .collect();
    let opened_all = started.elapsed();
    // Legitimate requests meanwhile, each on a new connection.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut latencies = Vec::new();
    for _ in 0..20 {
        latencies.push(legit(addr).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut closes = Vec::new();
    let mut never = 0;
    for s in slow {
        match s.await.unwrap() {
            Some(d) => closes.push(d),
            None => never += 1,
        }
    }
    let legit_max = *latencies.iter().max().unwrap();
    let legit_p50 = quantile(&mut latencies, 0.5);
    let first = quantile(&mut closes, 0.0);
    let last = closes.last().copied().unwrap_or_default();
    println!(
        "slowloris: {N} connections opened in {opened_all:?}; closed by the server: {} \
         (first after {first:?}, median {:?}, last {last:?}), still open after 10 s: {never}; \
         legitimate requests meanwhile: p50 {legit_p50:?}, max {legit_max:?}",
        closes.len(),
        quantile(&mut closes, 0.5),
    );
    assert_eq!(never, 0, "slowloris connections left open after 10 s");
    assert!(
        last < Duration::from_millis(2000),
        "the last slowloris connection was closed after {last:?} (header timeout 1 s)"
    );
    assert!(
        first >= Duration::from_millis(900),
        "a slowloris connection was closed before the header timeout: {first:?}"
    );
    assert!(
        legit_max < Duration::from_millis(200),
        "legitimate request took {legit_max:?} under slowloris"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_flood_beyond_the_connection_limit_evicts_the_oldest_idle() {
    const LIMIT: usize = 50;
    const N: usize = 200;
    let server = Process::start(&[
        "--max-connections",
        "50",
        "--idle-timeout",
        "2s",
        "--header-timeout",
        "1s",
    ]);
    let addr = addr_of(&server.url);
    let started = Instant::now();
    // Connections that never send a byte, opened one after the other.
    let mut flood = Vec::new();
    for _ in 0..N {
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        let opened = Instant::now();
        flood.push(tokio::spawn(async move {
            (opened, closed_after(&mut tcp, opened).await)
        }));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let flooded = started.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut latencies = Vec::new();
    for _ in 0..10 {
        latencies.push(legit(addr).await);
    }
    let during = metrics(addr).await;
    let mut closed: Vec<(Instant, Duration)> = Vec::new();
    for f in flood {
        closed.push(
            tokio::time::timeout(Duration::from_secs(6), f)
                .await
                .expect("every idle connection is closed within 6 s")
                .unwrap(),
        );
    }
    // Evicted: closed long before the idle timeout; the rest at it.
    let evicted = closed
        .iter()
        .filter(|(_, d)| *d < Duration::from_millis(1500))
        .count();
    let mut lives: Vec<Duration> = closed.iter().map(|(_, d)| *d).collect();
    let longest = quantile(&mut lives, 1.0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = metrics(addr).await;
    let legit_max = *latencies.iter().max().unwrap();
    let m = |text: &str, reason: &str| {
        metric(
            text,
            "kit_server_connections_closed_total",
            &[("reason", reason)],
        )
    };
    println!(
        "idle flood: {N} silent connections (limit {LIMIT}) opened in {flooded:?}; \
         closed before 1.5 s: {evicted}, longest lived {longest:?}; legitimate requests: max {legit_max:?}; \
         metrics during: connections {} evicted {} idle {}; after: connections {} evicted {} idle {} refused {}",
        metric(&during, "kit_server_connections", &[]),
        m(&during, "evicted"),
        m(&during, "idle"),
        metric(&after, "kit_server_connections", &[]),
        m(&after, "evicted"),
        m(&after, "idle"),
        metric(&after, "kit_server_rejected_total", &[("reason", "connections")]),
    );
    assert!(
        legit_max < Duration::from_millis(200),
        "legitimate requests beyond the connection limit took up to {legit_max:?}"
    );
    assert!(
        metric(&during, "kit_server_connections", &[]) <= LIMIT as f64,
        "more connections open than the limit"
    );
    assert!(
        evicted >= N - LIMIT,
        "only {evicted} of {N} idle connections were evicted early (limit {LIMIT})"
    );
    assert!(
        m(&after, "evicted") >= (N - LIMIT) as f64,
        "evictions counted: {}",
        m(&after, "evicted")
    );
    assert!(
        longest < Duration::from_millis(3000),
        "an idle connection lived {longest:?} (idle timeout 2 s)"
    );
    // Silent connections are closed by the header timeout (1 s, due from
    // when they opened) or, had it been longer, by the idle timeout.
    let silent_closes = m(&after, "idle") + m(&after, "header_timeout");
    assert!(
        silent_closes >= (LIMIT - 12) as f64,
        "idle and header-timeout closes counted: {silent_closes}"
    );
    assert!(
        metric(&after, "kit_server_connections", &[]) <= 1.0,
        "connections still counted open after the flood: {}",
        metric(&after, "kit_server_connections", &[])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_connections_live_until_the_idle_timeout_not_the_header_timeout() {
    let server = Process::start(&["--header-timeout", "500ms", "--idle-timeout", "2s"]);
    let addr = addr_of(&server.url);
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(post("/count", r#"{"s":"abc"}"#).as_bytes())
        .await
        .unwrap();
    let first = read_response(&mut tcp).await.unwrap();
    assert_eq!(first.status, 200);
    // Idle between requests for longer than the header timeout, well
    // within the idle timeout: a pooled client reuses it now.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let reused = async {
        tcp.write_all(post("/count", r#"{"s":"abcd"}"#).as_bytes())
            .await?;
        read_response(&mut tcp).await
    }
    .await;
    println!(
        "keep-alive reuse after 1 s idle (header timeout 500 ms, idle timeout 2 s): {reused:?}"
    );
    let second = reused
        .expect("an idle keep-alive connection was closed after 1 s, before its 2 s idle timeout");
    assert_eq!(second.status, 200);
    let idle_from = Instant::now();
    let lived = closed_after(&mut tcp, idle_from).await;
    println!("then closed after {lived:?} idle");
    assert!(
        lived >= Duration::from_millis(1800) && lived < Duration::from_millis(3000),
        "closed after {lived:?} idle (idle timeout 2 s)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn descriptor_exhaustion_is_counted_and_does_not_spin() {
    // A server allowed 64 descriptors and told it may hold 1,000
    // connections: it runs out of descriptors before its limit.
    let mut cmd = Command::new(workspace_bin("stringsvc"));
    cmd.args([
        "--http-addr",
        "127.0.0.1:0",
        "--max-connections",
        "1000",
        "--idle-timeout",
        "30s",
    ]);
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit is async-signal-safe; it runs in the child
        // between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let limit = libc::rlimit {
                    rlim_cur: 64,
                    rlim_max: 64,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let server = Process::spawn(cmd, false);
    let pid = server.daemon.pid();
    let addr = addr_of(&server.url);
    let cpu_before = cpu_time(pid);
    let started = Instant::now();
    // 150 silent connections: the kernel completes them all, the server
    // cannot accept them all.
    let mut flood = Vec::new();
    for _ in 0..150 {
        flood.push(TcpStream::connect(addr).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let cpu_flood = cpu_time(pid) - cpu_before;
    let wall = started.elapsed();
    let t = Instant::now();
    let answered = tokio::time::timeout(
        Duration::from_secs(15),
        http1(addr, &post("/count", r#"{"s":"hello"}"#)),
    )
    .await;
    let legit_latency = t.elapsed();
    let text = tokio::time::timeout(Duration::from_secs(15), metrics(addr))
        .await
        .expect("metrics answered");
    let errors = metric(&text, "kit_server_accept_errors_total", &[]);
    println!(
        "fd exhaustion (RLIMIT_NOFILE 64, 150 idle connections): server CPU {cpu_flood:?} over {wall:?}; \
         accept errors {errors}; evicted {}; legitimate request {:?} after {legit_latency:?}",
        metric(&text, "kit_server_connections_closed_total", &[("reason", "evicted")]),
        answered.as_ref().map(|r| r.as_ref().map(|r| r.status)),
    );
    drop(flood);
    let r = answered
        .expect("a legitimate request is answered within 15 s")
        .expect("a legitimate request is answered");
    assert_eq!(r.status, 200);
    // One descriptor is freed per accept error, at most every 50 ms: the
    // ~100 connections queued ahead of it take about 5 s.
    assert!(
        legit_latency < Duration::from_secs(8),
        "a legitimate request waited {legit_latency:?} behind the flood"
    );
    assert!(errors >= 1.0, "accept errors not counted");
    assert!(
        cpu_flood < wall / 4,
        "the server used {cpu_flood:?} of CPU in {wall:?} while out of descriptors"
    );
}

/// Waits for the exit of a process sent SIGTERM; how long it took.
fn sigterm_exit(server: &mut Process) -> (Duration, Option<i32>) {
    let started = Instant::now();
    server.daemon.signal(libc::SIGTERM);
    let code = server.daemon.wait(Duration::from_secs(15));
    (started.elapsed(), code)
}

/// A connection that made one request and then stays idle, keep-alive.
async fn idle_keep_alive(addr: SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(post("/count", r#"{"s":"x"}"#).as_bytes())
        .await
        .unwrap();
    assert_eq!(read_response(&mut tcp).await.unwrap().status, 200);
    tcp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_only_idle_keep_alive_connections_is_immediate() {
    let mut server = Process::start(&["--grace-period", "10s", "--shutdown-linger", "2s"]);
    let addr = addr_of(&server.url);
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(idle_keep_alive(addr).await);
    }
    let (took, code) = sigterm_exit(&mut server);
    println!("SIGTERM with 20 idle keep-alive connections: exited {code:?} after {took:?}");
    assert_eq!(code, Some(0), "{}", server.daemon.output());
    assert!(
        took < Duration::from_millis(500),
        "exit took {took:?} with only idle keep-alive connections"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_bounded_per_connection_for_peers_that_do_not_cooperate() {
    let mut server = Process::start(&[
        "--grace-period",
        "10s",
        "--shutdown-linger",
        "500ms",
        "--header-timeout",
        "30s",
        "--idle-timeout",
        "60s",
        "--h2-keepalive",
        "0s",
    ]);
    let addr = addr_of(&server.url);
    let mut held = Vec::new();
    // (a) idle keep-alive
    for _ in 0..5 {
        held.push(idle_keep_alive(addr).await);
    }
    // (b) half a request header
    for _ in 0..5 {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"POST /count HTTP/1.1\r\nhost: x\r\ncontent-")
            .await
            .unwrap();
        held.push(tcp);
    }
    // (c) HTTP/2: the preface and an empty SETTINGS, then nothing: it never
    // reads, never acknowledges the server's SETTINGS, GOAWAY or PING.
    for _ in 0..5 {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            .await
            .unwrap();
        held.push(tcp);
    }
    // (d) connected, never sent a byte
    for _ in 0..5 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (took, code) = sigterm_exit(&mut server);
    println!(
        "SIGTERM with idle, half-header, silent HTTP/2 and silent connections \
         (grace 10 s, linger 500 ms): exited {code:?} after {took:?}"
    );
    assert_eq!(code, Some(0), "{}", server.daemon.output());
    assert!(
        took < Duration::from_millis(2000),
        "exit took {took:?}: non-cooperating connections held the process"
    );
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_not_held_by_a_body_that_stopped_arriving() {
    // Default body timeout (30 s), longer than the grace period: a client
    // that stops sending its body must not hold the process for the grace
    // period, as a half-sent header does not.
    let mut server = Process::start(&["--grace-period", "10s", "--shutdown-linger", "500ms"]);
    let addr = addr_of(&server.url);
    let mut stalled = Vec::new();
    for _ in 0..5 {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(
            b"POST /count HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"s\":\"",
        )
        .await
        .unwrap();
        stalled.push(tcp);
    }
    // And 5 streams on one HTTP/2 connection whose peer answers pings and
    // GOAWAY but stopped sending the bodies.
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (send, connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut streams = Vec::new();
    for _ in 0..5 {
        let mut send = send.clone().ready().await.unwrap();
        let request = http::Request::builder()
            .method("POST")
            .uri("http://localhost/count")
            .header("content-type", "application/json")
            .header("content-length", "100")
            .body(())
            .unwrap();
        let (response, mut stream) = send.send_request(request, false).unwrap();
        stream
            .send_data(bytes::Bytes::from_static(b"{\"s\":\""), false)
            .unwrap();
        streams.push((response, stream));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (took, code) = sigterm_exit(&mut server);
    println!(
        "SIGTERM with 5 stalled half-sent bodies over HTTP/1.1 and 5 on HTTP/2 streams \
         (body timeout 30 s, grace 10 s, linger 500 ms): exited {code:?} after {took:?}"
    );
    driver.abort();
    drop(streams);
    assert_eq!(code, Some(0), "{}", server.daemon.output());
    assert!(
        took < Duration::from_millis(2000),
        "exit took {took:?}: stalled request bodies held the process"
    );
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_body_that_keeps_arriving_finish() {
    // The other side of the bound: an upload still making progress is
    // in-flight work the grace period is for.
    let mut server = Process::start(&["--grace-period", "10s", "--shutdown-linger", "300ms"]);
    let addr = addr_of(&server.url);
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let piece = "a".repeat(100);
    let pieces = 20;
    let length = 8 + 100 * pieces;
    tcp.write_all(
        format!(
            "POST /count HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n{{\"s\":\""
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let upload = tokio::spawn(async move {
        for i in 0..pieces {
            tokio::time::sleep(Duration::from_millis(100)).await;
            tcp.write_all(piece.as_bytes()).await.unwrap();
            if i == pieces - 1 {
                tcp.write_all(b"\"}").await.unwrap();
            }
        }
        read_response(&mut tcp).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (took, code) = sigterm_exit(&mut server);
    let answer = upload.await.unwrap();
    println!(
        "SIGTERM during a 2 s upload sending every 100 ms (linger 300 ms): answer {:?}, exited {code:?} after {took:?}",
        answer.as_ref().map(|r| (r.status, r.text()))
    );
    let answer = answer.expect("the upload is answered");
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.text(), (100 * pieces).to_string());
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(4), "exit took {took:?}");
}
