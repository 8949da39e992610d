//! `kit top`: every instance × endpoint with req/s, error ratio by code,
//! p50/p99 and in-flight, over a sliding window; `--once` prints one
//! snapshot (a table, or JSON for scripts), otherwise a live terminal view.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::target::Fleet;
use crate::watch::{Row, Snapshot, Watch};
use crate::Failure;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SortBy {
    /// Service, endpoint, then instance.
    Name,
    /// Requests per second, highest first.
    Rate,
    /// Error ratio, highest first.
    Errors,
    /// p99 latency, highest first.
    P99,
}

#[derive(Args, Debug)]
pub struct TopArgs {
    #[command(flatten)]
    pub fleet: Fleet,
    /// One snapshot (two scrapes `--window` apart), then exit.
    #[arg(long)]
    pub once: bool,
    /// The snapshot as JSON (with --once).
    #[arg(long, requires = "once")]
    pub json: bool,
    /// Rates and quantiles are over this sliding window.
    #[arg(long, default_value = "2s", value_parser = crate::parse_duration)]
    pub window: Duration,
    /// How often the live view scrapes.
    #[arg(long, default_value = "1s", value_parser = crate::parse_duration)]
    pub interval: Duration,
    /// Row order (the live view changes it with the keys n, r, e, p).
    #[arg(long, value_enum, default_value = "name")]
    pub sort: SortBy,
}

pub async fn run(args: TopArgs, timeout: Duration) -> Result<ExitCode, Failure> {
    let mut watch = Watch::start(&args.fleet, timeout).await?;
    if !args.once {
        return crate::top_tui::run(watch, &args).await;
    }
    watch.scrape().await;
    tokio::time::sleep(args.window).await;
    watch.scrape().await;
    let mut snapshot = watch.snapshot();
    sort(&mut snapshot.endpoints, args.sort);
    if args.json {
        let text = serde_json::to_string_pretty(&snapshot)
            .map_err(|e| Failure::new(format!("cannot write JSON: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", render(&snapshot));
    }
    let mut code = ExitCode::SUCCESS;
    for m in &snapshot.instances {
        if let Some(e) = &m.error {
            eprintln!("{e}");
            code = ExitCode::FAILURE;
        }
    }
    Ok(code)
}

pub fn sort(rows: &mut [Row], by: SortBy) {
    let name = |r: &Row| (r.service.clone(), r.endpoint.clone(), r.instance.clone());
    match by {
        SortBy::Name => rows.sort_by_key(name),
        SortBy::Rate => rows.sort_by(|a, b| b.stats.rate.total_cmp(&a.stats.rate)),
        SortBy::Errors => rows.sort_by(|a, b| b.stats.error_ratio.total_cmp(&a.stats.error_ratio)),
        SortBy::P99 => rows.sort_by(|a, b| {
            b.stats
                .p99_ms
                .unwrap_or(0.0)
                .total_cmp(&a.stats.p99_ms.unwrap_or(0.0))
        }),
    }
}

/// The cells of a row, as the table and the live view show them.
pub fn cells(r: &Row) -> Vec<String> {
    let ms = |v: Option<f64>| v.map(|v| format!("{v:.1}ms")).unwrap_or_else(|| "-".into());
    let codes: Vec<String> = r
        .stats
        .errors
        .iter()
        .map(|(code, ratio)| format!("{code} {:.1}%", ratio * 100.0))
        .collect();
    vec![
        r.instance.clone(),
        r.version.clone(),
        format!("{}.{}", r.service, r.endpoint),
        format!("{:.1}", r.stats.rate),
        format!("{:.1}%", r.stats.error_ratio * 100.0),
        ms(r.stats.p50_ms),
        ms(r.stats.p99_ms),
        format!("{}", r.stats.in_flight),
        if codes.is_empty() {
            "-".into()
        } else {
            codes.join(", ")
        },
        if r.outliers.is_empty() {
            String::new()
        } else {
            format!("! {}", r.outliers.join(","))
        },
    ]
}

pub const HEADER: [&str; 10] = [
    "INSTANCE", "VERSION", "ENDPOINT", "REQ/S", "ERR", "P50", "P99", "INFLIGHT", "CODES", "OUTLIER",
];

/// The table: a line per instance × endpoint, then one per instance that
/// could not be read (`unreachable`, `not kit`).
pub fn render(snapshot: &Snapshot) -> String {
    let mut lines: Vec<Vec<String>> = snapshot.endpoints.iter().map(cells).collect();
    for m in &snapshot.instances {
        if let Some(e) = &m.error {
            let what = if e.contains("not a kit service") {
                "not kit"
            } else {
                "unreachable"
            };
            let mut row = vec!["-".to_string(); HEADER.len()];
            row[0] = m.instance.clone();
            row[2] = format!("({what})");
            row[HEADER.len() - 1] = String::new();
            lines.push(row);
        }
    }
    let mut out = crate::table::render(&HEADER, &lines, "");
    let clients = client_lines(snapshot);
    if !clients.is_empty() {
        out.push_str("\nclients (kit_client_instances, kit_client_breaker_open):\n");
        for line in clients {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

/// What each instance's kit clients see of the services it calls: one
/// line per instance and called service (`live 3, ejected 1; breakers open 0`).
pub fn client_lines(snapshot: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for m in &snapshot.instances {
        for c in &m.clients {
            let states: Vec<String> = c
                .instances
                .iter()
                .map(|(state, n)| format!("{state} {n}"))
                .collect();
            out.push(format!(
                "{} -> {}: instances {}; breakers open {}",
                m.instance,
                c.service,
                if states.is_empty() {
                    "-".to_string()
                } else {
                    states.join(", ")
                },
                c.breakers_open
            ));
        }
    }
    out
}
