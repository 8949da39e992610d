//! `kit compare --by LABEL`: the same dimensions of every endpoint across
//! groups of instances (by version, or any label or registry metadata),
//! side by side, with ratios to the first group.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use crate::scrape::Stats;
use crate::target::Fleet;
use crate::watch::Watch;
use crate::Failure;

#[derive(Args, Debug)]
pub struct CompareArgs {
    #[command(flatten)]
    pub fleet: Fleet,
    /// The label that makes the groups: `version`, `service`, `instance`,
    /// or a metadata key the discovery source gives.
    #[arg(long, default_value = "version")]
    pub by: String,
    /// The group the others are compared with (default: the first in order).
    #[arg(long, value_name = "VALUE")]
    pub baseline: Option<String>,
    /// Rates and quantiles are over this window (two scrapes).
    #[arg(long, default_value = "2s", value_parser = crate::parse_duration)]
    pub window: Duration,
    #[arg(long)]
    pub json: bool,
}

/// One group's figures for one endpoint.
#[derive(Clone, Debug, Serialize)]
pub struct GroupStats {
    pub group: String,
    pub instances: usize,
    #[serde(flatten)]
    pub stats: Stats,
    /// This group's rate, error ratio and p99 over the baseline's (`null`
    /// where the baseline's is zero or unknown).
    pub ratio_rate: Option<f64>,
    pub ratio_error: Option<f64>,
    pub ratio_p99: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct EndpointComparison {
    pub service: String,
    pub endpoint: String,
    pub groups: Vec<GroupStats>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub by: String,
    pub baseline: String,
    pub window_seconds: f64,
    pub endpoints: Vec<EndpointComparison>,
}

pub async fn run(args: CompareArgs, timeout: Duration) -> Result<ExitCode, Failure> {
    let mut watch = Watch::start(&args.fleet, timeout).await?;
    watch.scrape().await;
    tokio::time::sleep(args.window).await;
    watch.scrape().await;
    for m in &watch.members {
        if let Some(e) = &m.error {
            eprintln!("{e}");
        }
    }
    let comparison = compare(&watch, &args.by, args.baseline.as_deref())?;
    if args.json {
        let text = serde_json::to_string_pretty(&comparison)
            .map_err(|e| Failure::new(format!("cannot write JSON: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", render(&comparison));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn compare(watch: &Watch, by: &str, baseline: Option<&str>) -> Result<Comparison, Failure> {
    let values = watch.values(by);
    if values.is_empty() {
        return Err(Failure::new(format!(
            "no instance has a `{by}` label (labels: {})",
            known_labels(watch).join(", ")
        )));
    }
    let baseline = match baseline {
        Some(b) if values.iter().any(|v| v == b) => b.to_string(),
        Some(b) => {
            return Err(Failure::new(format!(
                "no instance has {by}={b} (values: {})",
                values.join(", ")
            )))
        }
        None => values[0].clone(),
    };
    let mut order = vec![baseline.clone()];
    order.extend(values.iter().filter(|v| **v != baseline).cloned());
    let mut window: f64 = 0.0;
    let mut per_endpoint: BTreeMap<(String, String), Vec<GroupStats>> = BTreeMap::new();
    for value in &order {
        let (counters, seconds, n) = watch.group(by, value);
        window = window.max(seconds);
        for (key, c) in counters {
            per_endpoint.entry(key).or_default().push(GroupStats {
                group: value.clone(),
                instances: n,
                stats: Stats::of(&c, seconds),
                ratio_rate: None,
                ratio_error: None,
                ratio_p99: None,
            });
        }
    }
    let ratio = |a: f64, b: f64| (b > 0.0).then(|| a / b);
    let endpoints = per_endpoint
        .into_iter()
        .map(|((service, endpoint), mut groups)| {
            let base = groups
                .iter()
                .find(|g| g.group == baseline)
                .map(|g| g.stats.clone());
            if let Some(base) = base {
                for g in &mut groups {
                    g.ratio_rate = ratio(g.stats.rate, base.rate);
                    g.ratio_error = ratio(g.stats.error_ratio, base.error_ratio);
                    g.ratio_p99 = match (g.stats.p99_ms, base.p99_ms) {
                        (Some(a), Some(b)) => ratio(a, b),
                        _ => None,
                    };
                }
            }
            EndpointComparison {
                service,
                endpoint,
                groups,
            }
        })
        .collect();
    Ok(Comparison {
        by: by.to_string(),
        baseline,
        window_seconds: window,
        endpoints,
    })
}

pub fn known_labels(watch: &Watch) -> Vec<String> {
    let mut l: Vec<String> = watch
        .members
        .iter()
        .flat_map(|m| m.labels.keys().cloned())
        .collect();
    l.sort();
    l.dedup();
    l
}

fn render(c: &Comparison) -> String {
    let header = [
        "ENDPOINT",
        "GROUP",
        "INSTANCES",
        "REQ/S",
        "ERR",
        "P50",
        "P99",
        "x REQ/S",
        "x ERR",
        "x P99",
    ];
    let by = &c.by;
    let ms = |v: Option<f64>| v.map(|v| format!("{v:.1}ms")).unwrap_or_else(|| "-".into());
    let x = |v: Option<f64>| v.map(|v| format!("{v:.2}x")).unwrap_or_else(|| "-".into());
    let rows: Vec<Vec<String>> = c
        .endpoints
        .iter()
        .flat_map(|e| {
            e.groups.iter().map(move |g| {
                vec![
                    format!("{}.{}", e.service, e.endpoint),
                    format!("{by}={}", g.group),
                    g.instances.to_string(),
                    format!("{:.1}", g.stats.rate),
                    format!("{:.1}%", g.stats.error_ratio * 100.0),
                    ms(g.stats.p50_ms),
                    ms(g.stats.p99_ms),
                    x(g.ratio_rate),
                    x(g.ratio_error),
                    x(g.ratio_p99),
                ]
            })
        })
        .collect();
    format!(
        "compared by {by}, baseline {by}={}, over {:.1}s\n{}",
        c.baseline,
        c.window_seconds,
        crate::table::render(&header, &rows, "")
    )
}
