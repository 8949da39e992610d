//! `kit gate`: watches a baseline and a canary group for a while and
//! decides: exit 0 to promote the canary, 1 to roll it back, with a report.
//! The feedback loop of a continuous deployment, as a CI/CD step.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use crate::scrape::Stats;
use crate::target::Fleet;
use crate::watch::Watch;
use crate::Failure;

#[derive(Args, Debug)]
pub struct GateArgs {
    #[command(flatten)]
    pub fleet: Fleet,
    /// The instances running what is deployed now: `LABEL=VALUE`
    /// (`version=1.2`, or any label `kit compare` knows).
    #[arg(long, value_name = "LABEL=VALUE")]
    pub baseline: String,
    /// The instances running the candidate: `LABEL=VALUE`.
    #[arg(long, value_name = "LABEL=VALUE")]
    pub canary: String,
    /// Roll back when the canary's error ratio is more than this many
    /// times the baseline's (ratios under --error-floor count as it).
    #[arg(long, default_value_t = 1.5)]
    pub max_error_ratio: f64,
    /// Roll back when the canary's p99 is more than this many times the
    /// baseline's (p99s under --latency-floor count as it).
    #[arg(long, default_value_t = 1.3)]
    pub max_p99_ratio: f64,
    /// How long to watch.
    #[arg(long = "for", value_name = "DURATION", default_value = "60s", value_parser = crate::parse_duration)]
    pub watch_for: Duration,
    /// How often to scrape while watching (progress on stderr).
    #[arg(long, default_value = "5s", value_parser = crate::parse_duration)]
    pub interval: Duration,
    /// Requests each group must serve on an endpoint for it to be judged.
    #[arg(long, default_value_t = 20.0)]
    pub min_requests: f64,
    /// Error ratios below this count as this (so one error against a
    /// baseline with none is not an infinite ratio).
    #[arg(long, default_value_t = 0.001)]
    pub error_floor: f64,
    /// p99 latencies below this count as this (bucket noise on fast endpoints).
    #[arg(long, default_value = "5ms", value_parser = crate::parse_duration)]
    pub latency_floor: Duration,
    /// The report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
pub struct Judged {
    pub service: String,
    pub endpoint: String,
    pub baseline: Stats,
    pub canary: Stats,
    pub error_ratio_x: Option<f64>,
    pub p99_x: Option<f64>,
    /// `pass`, `fail`, or `not enough traffic`.
    pub verdict: String,
    pub reasons: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    /// `promote` or `roll back`.
    pub decision: String,
    pub baseline: String,
    pub canary: String,
    pub baseline_instances: usize,
    pub canary_instances: usize,
    pub watched_seconds: f64,
    pub endpoints: Vec<Judged>,
    pub reasons: Vec<String>,
}

fn selector(s: &str, flag: &str) -> Result<(String, String), Failure> {
    s.split_once('=')
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| Failure::new(format!("{flag} `{s}`: write LABEL=VALUE, e.g. version=1.3")))
}

pub async fn run(args: GateArgs, timeout: Duration) -> Result<ExitCode, Failure> {
    let base = selector(&args.baseline, "--baseline")?;
    let canary = selector(&args.canary, "--canary")?;
    let mut watch = Watch::start(&args.fleet, timeout).await?;
    for (flag, (k, v)) in [("--baseline", &base), ("--canary", &canary)] {
        if !watch.members.iter().any(|m| m.labels.get(k) == Some(v)) {
            return Err(Failure::new(format!(
                "{flag}: no instance has {k}={v} ({k}: {})",
                watch.values(k).join(", ")
            )));
        }
    }
    let start = Instant::now();
    watch.scrape().await;
    while start.elapsed() < args.watch_for {
        let left = args.watch_for.saturating_sub(start.elapsed());
        tokio::time::sleep(left.min(args.interval)).await;
        watch.scrape().await;
        let (b, _, _) = watch.group(&base.0, &base.1);
        let (c, _, _) = watch.group(&canary.0, &canary.1);
        let total = |m: &std::collections::BTreeMap<_, crate::scrape::Counters>| -> f64 {
            m.values()
                .flat_map(|c| c.by_code.values())
                .fold(0.0, |a, n| a + n)
        };
        eprintln!(
            "gate: {:.0}s of {:.0}s: baseline {} requests, canary {} requests",
            start.elapsed().as_secs_f64(),
            args.watch_for.as_secs_f64(),
            total(&b),
            total(&c)
        );
    }
    let report = judge(&watch, &args, &base, &canary);
    for m in &watch.members {
        if let Some(e) = &m.error {
            eprintln!("{e}");
        }
    }
    if args.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| Failure::new(format!("cannot write JSON: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", render(&report, &args));
    }
    Ok(if report.decision == "promote" {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub fn judge(
    watch: &Watch,
    args: &GateArgs,
    base: &(String, String),
    canary: &(String, String),
) -> Report {
    let (b, b_secs, b_n) = watch.group(&base.0, &base.1);
    let (c, c_secs, c_n) = watch.group(&canary.0, &canary.1);
    let floor_ms = args.latency_floor.as_secs_f64() * 1000.0;
    let mut keys: Vec<_> = b.keys().chain(c.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    let mut endpoints = Vec::new();
    for key in keys {
        let bs = b
            .get(&key)
            .map(|x| Stats::of(x, b_secs))
            .unwrap_or_default();
        let cs = c
            .get(&key)
            .map(|x| Stats::of(x, c_secs))
            .unwrap_or_default();
        if bs.requests == 0.0 && cs.requests == 0.0 {
            continue;
        }
        let name = format!("{}.{}", key.0, key.1);
        let mut j = Judged {
            service: key.0.clone(),
            endpoint: key.1.clone(),
            error_ratio_x: None,
            p99_x: None,
            verdict: "pass".into(),
            reasons: Vec::new(),
            baseline: bs,
            canary: cs,
        };
        if j.baseline.requests < args.min_requests || j.canary.requests < args.min_requests {
            j.verdict = "not enough traffic".into();
            j.reasons.push(format!(
                "{name}: not enough traffic to judge ({} baseline, {} canary requests; --min-requests {})",
                j.baseline.requests, j.canary.requests, args.min_requests
            ));
            endpoints.push(j);
            continue;
        }
        let err_x = j.canary.error_ratio.max(args.error_floor)
            / j.baseline.error_ratio.max(args.error_floor);
        j.error_ratio_x = Some(err_x);
        if err_x > args.max_error_ratio {
            j.verdict = "fail".into();
            j.reasons.push(format!(
                "{name}: error ratio {:.1}% vs {:.1}% in the baseline ({err_x:.2}x > {}x)",
                j.canary.error_ratio * 100.0,
                j.baseline.error_ratio * 100.0,
                args.max_error_ratio
            ));
        }
        if let (Some(cp), Some(bp)) = (j.canary.p99_ms, j.baseline.p99_ms) {
            let p99_x = cp.max(floor_ms) / bp.max(floor_ms);
            j.p99_x = Some(p99_x);
            if p99_x > args.max_p99_ratio {
                j.verdict = "fail".into();
                j.reasons.push(format!(
                    "{name}: p99 {cp:.1} ms vs {bp:.1} ms in the baseline ({p99_x:.2}x > {}x)",
                    args.max_p99_ratio
                ));
            }
        }
        endpoints.push(j);
    }
    let judged = endpoints
        .iter()
        .filter(|j| j.verdict != "not enough traffic")
        .count();
    let mut reasons: Vec<String> = endpoints
        .iter()
        .filter(|j| j.verdict == "fail")
        .flat_map(|j| j.reasons.clone())
        .collect();
    if judged == 0 {
        reasons.push(format!(
            "no endpoint had --min-requests {} in both groups: nothing to judge",
            args.min_requests
        ));
    }
    Report {
        decision: if reasons.is_empty() {
            "promote"
        } else {
            "roll back"
        }
        .into(),
        baseline: args.baseline.clone(),
        canary: args.canary.clone(),
        baseline_instances: b_n,
        canary_instances: c_n,
        watched_seconds: b_secs.max(c_secs),
        endpoints,
        reasons,
    }
}

fn render(r: &Report, args: &GateArgs) -> String {
    let ms = |v: Option<f64>| v.map(|v| format!("{v:.1}ms")).unwrap_or_else(|| "-".into());
    let x = |v: Option<f64>| v.map(|v| format!("{v:.2}x")).unwrap_or_else(|| "-".into());
    let header = [
        "ENDPOINT",
        "BASE REQ",
        "CANARY REQ",
        "BASE ERR",
        "CANARY ERR",
        "x ERR",
        "BASE P99",
        "CANARY P99",
        "x P99",
        "VERDICT",
    ];
    let rows: Vec<Vec<String>> = r
        .endpoints
        .iter()
        .map(|j| {
            vec![
                format!("{}.{}", j.service, j.endpoint),
                format!("{}", j.baseline.requests),
                format!("{}", j.canary.requests),
                format!("{:.1}%", j.baseline.error_ratio * 100.0),
                format!("{:.1}%", j.canary.error_ratio * 100.0),
                x(j.error_ratio_x),
                ms(j.baseline.p99_ms),
                ms(j.canary.p99_ms),
                x(j.p99_x),
                j.verdict.clone(),
            ]
        })
        .collect();
    let mut out = format!(
        "gate: baseline {} ({} instances) vs canary {} ({} instances), watched {:.1}s; limits: error ratio {}x, p99 {}x\n",
        r.baseline, r.baseline_instances, r.canary, r.canary_instances, r.watched_seconds,
        args.max_error_ratio, args.max_p99_ratio
    );
    out.push_str(&crate::table::render(&header, &rows, ""));
    if r.decision == "promote" {
        out.push_str(&format!("PROMOTE: {} is within the limits\n", r.canary));
    } else {
        out.push_str(&format!("ROLL BACK: {}\n", r.reasons.join("; ")));
    }
    out
}
