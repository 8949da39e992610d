//! `kit dashboard`: the fleet view of `kit top` as a web page. One task
//! scrapes the fleet every `--interval`; the page is rendered on the
//! server (the table is there without JavaScript) and polls `/api/fleet`
//! for the table and for per-endpoint rate and p99 charts over the last
//! `--history`.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::Args;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::Serialize;

use crate::target::Fleet;
use crate::watch::{Snapshot, Watch};
use crate::Failure;

mod page;

#[derive(Args, Debug)]
pub struct DashboardArgs {
    #[command(flatten)]
    pub fleet: Fleet,
    /// Where the page is served.
    #[arg(long, default_value = "127.0.0.1:9999")]
    pub listen: SocketAddr,
    /// Rates and quantiles are over this sliding window.
    #[arg(long, default_value = "2s", value_parser = crate::parse_duration)]
    pub window: Duration,
    /// How often the fleet is scraped (and a chart point added).
    #[arg(long, default_value = "1s", value_parser = crate::parse_duration)]
    pub interval: Duration,
    /// How far back the charts go.
    #[arg(long, default_value = "5m", value_parser = crate::parse_duration)]
    pub history: Duration,
}

/// One chart point: unix seconds, req/s, p99 ms.
type Point = (f64, f64, Option<f64>);

/// What `/api/fleet` answers.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Fleetview {
    pub window_seconds: f64,
    pub snapshot: Option<Snapshot>,
    /// `service.endpoint` -> instance -> points, oldest first.
    pub history: BTreeMap<String, BTreeMap<String, VecDeque<Point>>>,
}

pub async fn run(args: DashboardArgs, timeout: Duration) -> Result<ExitCode, Failure> {
    let mut watch = Watch::start(&args.fleet, timeout).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| Failure::new(format!("cannot listen on {}: {e}", args.listen)))?;
    let local = listener
        .local_addr()
        .map_err(|e| Failure::new(format!("cannot listen on {}: {e}", args.listen)))?;
    eprintln!(
        "kit dashboard on http://{local}/ ({} instances)",
        watch.members.len()
    );
    let state = Arc::new(Mutex::new(Fleetview {
        window_seconds: args.window.as_secs_f64(),
        ..Default::default()
    }));
    let scraping = state.clone();
    let (window, interval, keep) = (args.window, args.interval, args.history);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            watch.scrape().await;
            watch.trim(window);
            let snapshot = watch.snapshot();
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            let Ok(mut view) = scraping.lock() else { break };
            for r in &snapshot.endpoints {
                if r.window_seconds <= 0.0 {
                    continue;
                }
                let points = view
                    .history
                    .entry(format!("{}.{}", r.service, r.endpoint))
                    .or_default()
                    .entry(r.instance.clone())
                    .or_default();
                points.push_back((now, r.stats.rate, r.stats.p99_ms));
                while points
                    .front()
                    .is_some_and(|p| now - p.0 > keep.as_secs_f64())
                {
                    points.pop_front();
                }
            }
            view.snapshot = Some(snapshot);
        }
    });
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(answer(&req, &state)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn answer(req: &Request<Incoming>, state: &Mutex<Fleetview>) -> Response<Full<Bytes>> {
    let view = state.lock().map(|v| v.clone()).unwrap_or_default();
    let (status, kind, body) = match req.uri().path() {
        "/" => (
            StatusCode::OK,
            "text/html; charset=utf-8",
            page::render(&view),
        ),
        "/api/fleet" => (
            StatusCode::OK,
            "application/json",
            serde_json::to_string(&view).unwrap_or_else(|_| "{}".into()),
        ),
        _ => (StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(kind) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp
}
