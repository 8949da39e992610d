//! `kit ls`: every instance with its services, version, uptime, health and
//! transports; an instance that cannot be reached is listed as such.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::describe::{self, Service};
use crate::http::Http;
use crate::target::{Fleet, Target};
use crate::Failure;

/// What `kit ls` learns of one instance.
#[derive(Debug, Serialize)]
pub struct Row {
    pub instance: String,
    pub url: String,
    /// `null` when the instance answered as a kit server.
    pub error: Option<String>,
    pub services: Vec<ServiceRow>,
    /// `/health`: `SERVING`, `NOT_SERVING`, or what went wrong.
    pub health_http: String,
    /// `grpc.health.v1.Health/Check`, `-` without gRPC endpoints.
    pub health_grpc: String,
    pub uptime_seconds: Option<u64>,
    pub metadata: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct ServiceRow {
    pub name: String,
    pub version: String,
    pub transports: String,
    pub endpoints: usize,
}

pub async fn run(fleet: &Fleet, json: bool, timeout: Duration) -> Result<ExitCode, Failure> {
    let targets = fleet.resolve().await?;
    let http = Http::new(timeout);
    let rows =
        futures_util::future::join_all(targets.iter().map(|t| inspect(&http, t, timeout))).await;
    if json {
        let text = serde_json::to_string_pretty(&rows)
            .map_err(|e| Failure::new(format!("cannot write JSON: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", render(&rows));
    }
    let mut code = ExitCode::SUCCESS;
    for row in &rows {
        if let Some(e) = &row.error {
            eprintln!("{e}");
            code = ExitCode::FAILURE;
        }
    }
    Ok(code)
}

/// Looks at one instance.
pub async fn inspect(http: &Http, target: &Target, timeout: Duration) -> Row {
    let mut row = Row {
        instance: target.id.clone(),
        url: target.url.clone(),
        error: None,
        services: Vec::new(),
        health_http: "-".into(),
        health_grpc: "-".into(),
        uptime_seconds: None,
        metadata: target.metadata.clone(),
    };
    let services = match describe::fetch(http, &target.url).await {
        Ok((services, _)) => services,
        Err(e) => {
            row.health_http = if e.to_string().contains("not a kit service") {
                "not kit".into()
            } else {
                "unreachable".into()
            };
            row.error = Some(e.to_string());
            return row;
        }
    };
    row.health_http = match http.get(&target.url, "/health").await {
        Ok(reply) => serde_json::from_slice::<serde_json::Value>(&reply.body)
            .ok()
            .and_then(|v| v.get("status").and_then(|s| s.as_str()).map(String::from))
            .unwrap_or_else(|| format!("HTTP {}", reply.status.as_u16())),
        Err(_) => "unreachable".into(),
    };
    if services.iter().any(|s| s.grpc.is_some()) {
        row.health_grpc = match crate::grpc::connect(&target.url, timeout, None).await {
            Ok(channel) => match crate::grpc::health(channel).await {
                Ok(status) => status,
                Err(s) => kit::Code::from_i32(s.code() as i32).as_str().to_string(),
            },
            Err(_) => "unreachable".into(),
        };
    }
    if let Ok(reply) = http.get(&target.url, "/metrics").await {
        let text = reply.text();
        let start = crate::scrape::parse(&text)
            .into_iter()
            .find(|s| s.name == "process_start_time_seconds")
            .map(|s| s.value);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        row.uptime_seconds = start.map(|s| (now - s).max(0.0) as u64);
    }
    row.services = services.iter().map(service_row).collect();
    row
}

fn service_row(s: &Service) -> ServiceRow {
    let http = s.endpoints.iter().any(|e| e.http.is_some());
    let grpc = s.endpoints.iter().any(|e| e.grpc.is_some());
    let transports = match (http, grpc) {
        (true, true) => "http+grpc",
        (true, false) => "http",
        (false, true) => "grpc",
        (false, false) => "-",
    };
    ServiceRow {
        name: s.name.clone(),
        version: s.version.clone(),
        transports: transports.into(),
        endpoints: s.endpoints.len(),
    }
}

fn render(rows: &[Row]) -> String {
    let header = [
        "INSTANCE",
        "SERVICE",
        "VERSION",
        "UPTIME",
        "HEALTH",
        "GRPC HEALTH",
        "TRANSPORTS",
        "ENDPOINTS",
    ];
    let mut lines = Vec::new();
    for r in rows {
        let uptime = r
            .uptime_seconds
            .map(|s| humantime::format_duration(Duration::from_secs(s)).to_string())
            .unwrap_or_else(|| "-".into());
        if r.services.is_empty() {
            lines.push(vec![
                r.instance.clone(),
                "-".into(),
                "-".into(),
                uptime.clone(),
                r.health_http.clone(),
                r.health_grpc.clone(),
                "-".into(),
                "-".into(),
            ]);
        }
        for s in &r.services {
            lines.push(vec![
                r.instance.clone(),
                s.name.clone(),
                s.version.clone(),
                uptime.clone(),
                r.health_http.clone(),
                r.health_grpc.clone(),
                s.transports.clone(),
                s.endpoints.to_string(),
            ]);
        }
    }
    crate::table::render(&header, &lines, "")
}
