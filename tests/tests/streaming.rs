//! Streaming endpoints over real sockets: SSE and NDJSON over HTTP,
//! server-, client- and bidirectional streaming over gRPC, the generated
//! client on both transports, deadlines, cancellation and backpressure.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use kit::{Code, Server, Transport};
use kit_tests::streams::{Counters, Point, StreamService, StreamServiceClient};
use kit_tests::{raw, start, Running};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn serve() -> (Running, Counters) {
    let svc = StreamService::default();
    let counters = svc.counters.clone();
    (start(Server::default().add_service(svc)).await, counters)
}

fn client(server: &Running, transport: Transport) -> StreamServiceClient {
    StreamServiceClient::builder()
        .base_url(server.url())
        .transport(transport)
        .build()
        .unwrap()
}

/// Waits until no producer is alive; panics after 3 s.
async fn producers_gone(counters: &Counters) -> Duration {
    let start = Instant::now();
    while counters.live.load(Ordering::SeqCst) != 0 {
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{} producers still alive after 3 s",
            counters.live.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    start.elapsed()
}

#[tokio::test]
async fn http_streams_are_server_sent_events_or_ndjson_by_accept() {
    let (server, _) = serve().await;
    let sse = raw(
        server.addr,
        "GET",
        "/count/3",
        &[("accept", "text/event-stream")],
        "",
    )
    .await;
    assert_eq!(sse.status, 200);
    assert_eq!(sse.headers["content-type"], "text/event-stream");
    assert_eq!(sse.headers["cache-control"], "no-cache");
    assert_eq!(&sse.body[..], b"data: 0\n\ndata: 1\n\ndata: 2\n\n");

    for accept in ["application/x-ndjson", "application/json", "*/*"] {
        let nd = raw(server.addr, "GET", "/count/3", &[("accept", accept)], "").await;
        assert_eq!(
            nd.headers["content-type"], "application/x-ndjson",
            "{accept}"
        );
        assert_eq!(
            &nd.body[..],
            b"{\"result\":0}\n{\"result\":1}\n{\"result\":2}\n"
        );
    }

    // An error ends the stream as a typed last event.
    let sse = raw(
        server.addr,
        "GET",
        "/fail/2",
        &[("accept", "text/event-stream")],
        "",
    )
    .await;
    let text = String::from_utf8(sse.body.to_vec()).unwrap();
    let (items, error) = text.split_once("event: error\n").expect(&text);
    assert_eq!(items, "data: 0\n\ndata: 1\n\n");
    let data = error.strip_prefix("data: ").unwrap().trim_end();
    let err: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(err["error"]["status"], "NOT_FOUND");
    assert_eq!(err["error"]["code"], 404);
    assert_eq!(err["error"]["message"], "nothing after 2");

    let nd = raw(server.addr, "GET", "/fail/1", &[], "").await;
    let lines: Vec<&str> = std::str::from_utf8(&nd.body).unwrap().lines().collect();
    assert_eq!(lines[0], "{\"result\":0}");
    let err: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(err["error"]["status"], "NOT_FOUND");
    assert_eq!(lines.len(), 2);

    // Arguments are decoded (and refused) before the stream starts.
    let bad = raw(server.addr, "GET", "/count/minus", &[], "").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.error_status(), "INVALID_ARGUMENT");
}

#[tokio::test]
async fn the_generated_client_streams_over_both_transports() {
    let (server, _) = serve().await;
    for transport in [Transport::Http, Transport::Grpc] {
        let c = client(&server, transport);
        let got: Vec<u32> = c
            .count_to(5, None)
            .await
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
            .await;
        assert_eq!(got, vec![0, 1, 2, 3, 4], "{transport:?}");

        let mut s = c.fail_after(2).await.unwrap();
        assert_eq!(s.message().await.unwrap(), Some(0));
        assert_eq!(s.message().await.unwrap(), Some(1));
        let err = s.message().await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{transport:?}");
        assert_eq!(err.message(), "nothing after 2");
        assert!(s.next().await.is_none(), "an error ends the stream");

        let points: Vec<Point> = c
            .points(3)
            .await
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
            .await;
        assert_eq!(points[2], Point { x: 2, y: -2 }, "{transport:?}");

        // The stream is polled in the request's context.
        let ids: Vec<String> = c
            .trace_ids()
            .await
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
            .await;
        assert_eq!(ids.len(), 2);
        assert_eq!(ids[0], ids[1], "{transport:?}");
        assert_eq!(ids[0].len(), 32);

        let empty: Vec<_> = c.count_to(0, None).await.unwrap().collect().await;
        assert!(empty.is_empty());
    }
}

#[tokio::test]
async fn client_and_bidirectional_streaming_over_grpc() {
    let (server, _) = serve().await;
    let c = client(&server, Transport::Grpc);
    let total = c.sum(futures_util::stream::iter(1..=100u64)).await.unwrap();
    assert_eq!(total, 5050);
    assert_eq!(c.sum(futures_util::stream::empty()).await.unwrap(), 0);

    // Each answer arrives before the next word is sent: the call streams,
    // it does not collect.
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(1);
    let words =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|w| (w, rx)) });
    let mut answers = c.shout(words).await.unwrap();
    for word in ["kit", "streams", "both", "ways"] {
        tx.send(word.to_string()).await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(5), answers.message())
            .await
            .expect("an answer before the next word")
            .unwrap();
        assert_eq!(answer.as_deref(), Some(word.to_uppercase().as_str()));
    }
    drop(tx);
    assert_eq!(answers.message().await.unwrap(), None);

    // Over HTTP these endpoints have no route.
    let err = client(&server, Transport::Http)
        .sum(futures_util::stream::iter([1u64]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
}

#[tokio::test]
async fn the_deadline_bounds_the_whole_stream() {
    let (server, counters) = serve().await;
    for transport in [Transport::Http, Transport::Grpc] {
        // The endpoint's timeout = "300ms" ends an endless stream.
        let started = Instant::now();
        let items: Vec<_> = client(&server, transport)
            .ticks()
            .await
            .unwrap()
            .collect()
            .await;
        let elapsed = started.elapsed();
        let (last, ticks) = items.split_last().unwrap();
        assert_eq!(
            last.as_ref().unwrap_err().code(),
            Code::DeadlineExceeded,
            "{transport:?}"
        );
        assert!(
            (3..=6).contains(&ticks.len()),
            "{transport:?}: {} ticks",
            ticks.len()
        );
        assert!(ticks.iter().all(|t| t.is_ok()));
        assert!(
            elapsed < Duration::from_secs(2),
            "{transport:?}: {elapsed:?}"
        );
        producers_gone(&counters).await;

        // A caller's shorter timeout does the same.
        let items: Vec<_> = client(&server, transport)
            .with_timeout(Duration::from_millis(200))
            .count_to(1000, Some(40))
            .await
            .unwrap()
            .collect()
            .await;
        let (last, counted) = items.split_last().unwrap();
        assert_eq!(
            last.as_ref().unwrap_err().code(),
            Code::DeadlineExceeded,
            "{transport:?}"
        );
        assert!(
            (2..=6).contains(&counted.len()),
            "{transport:?}: {} items",
            counted.len()
        );
        producers_gone(&counters).await;
    }
}

#[tokio::test]
async fn dropping_the_stream_cancels_the_producer() {
    let (server, counters) = serve().await;
    for transport in [Transport::Http, Transport::Grpc] {
        let mut s = client(&server, transport).flood(16).await.unwrap();
        for _ in 0..3 {
            assert_eq!(s.message().await.unwrap().unwrap().len(), 16);
        }
        assert_eq!(counters.live.load(Ordering::SeqCst), 1);
        drop(s);
        let took = producers_gone(&counters).await;
        println!("{transport:?}: producer dropped {took:?} after the client dropped the stream");
    }
}

/// A reader taking 64 KiB every 20 ms from an endless stream of 64 KiB
/// items: the server makes only what the connection can hold, not the
/// 1 GB an unbounded buffer would reach.
#[tokio::test]
async fn a_slow_reader_bounds_what_the_server_makes() {
    const ITEM: u64 = 64 * 1024;
    let (server, counters) = serve().await;

    // HTTP/1.1, read straight from the socket.
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(
        b"GET /flood?size=65536 HTTP/1.1\r\nhost: x\r\naccept: text/event-stream\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; ITEM as usize];
    let mut read = 0u64;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(n > 0, "the server closed the stream");
        read += n as u64;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let made = counters.produced.load(Ordering::SeqCst) * ITEM;
    println!(
        "HTTP: read {:.1} MiB in 3 s; the server made {:.1} MiB",
        read as f64 / 1048576.0,
        made as f64 / 1048576.0
    );
    assert!(
        made < read + (32 << 20),
        "made {made} bytes for {read} read"
    );
    drop(tcp);
    producers_gone(&counters).await;

    // gRPC through the generated client, read slowly.
    counters.produced.store(0, Ordering::SeqCst);
    let mut s = client(&server, Transport::Grpc)
        .flood(ITEM as u32)
        .await
        .unwrap();
    let mut read = 0u64;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        read += s.message().await.unwrap().unwrap().len() as u64;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let made = counters.produced.load(Ordering::SeqCst) * ITEM;
    println!(
        "gRPC: read {:.1} MiB in 3 s; the server made {:.1} MiB",
        read as f64 / 1048576.0,
        made as f64 / 1048576.0
    );
    assert!(
        made < read + (32 << 20),
        "made {made} bytes for {read} read"
    );
    drop(s);
    producers_gone(&counters).await;
}
