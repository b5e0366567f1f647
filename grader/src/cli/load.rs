//! `grader load`: the load prober on its own, for benchmarks and curious learners.

use std::sync::Arc;
use std::time::Duration;

use harness::loadgen::{LoadOptions, MakeRequest};

use super::bad_input;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// e.g. http://127.0.0.1:8080/health (loopback or a local address only)
    url: String,
    /// Requests per second (open model); without it, the closed model is used
    #[arg(long)]
    rate: Option<f64>,
    /// Connections (the most requests in flight)
    #[arg(long, short = 'c', default_value_t = 50)]
    connections: usize,
    /// How long to measure, e.g. 10s
    #[arg(long, short = 'd', default_value = "10s")]
    duration: String,
    /// Not measured, before the run, e.g. 2s
    #[arg(long, default_value = "0s")]
    warmup: String,
    /// Per request, e.g. 5s
    #[arg(long, default_value = "5s")]
    timeout: String,
    /// Print the figures as JSON
    #[arg(long)]
    json: bool,
}

/// A duration option such as `10s` (or `0`).
fn duration(what: &str, s: &str) -> anyhow::Result<Duration> {
    if s.trim() == "0s" || s.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    harness::exercise::parse_duration(s)
        .ok_or_else(|| anyhow::anyhow!("--{what}: `{s}` is not a duration such as 10s"))
}

pub(crate) async fn run(args: Args) -> anyhow::Result<u8> {
    let measure = duration("duration", &args.duration)?;
    let warmup = duration("warmup", &args.warmup)?;
    let timeout = duration("timeout", &args.timeout)?;
    let Some(rest) = args.url.strip_prefix("http://") else {
        return Ok(bad_input(
            "the URL must start with http:// (HTTPS is not supported)",
        ));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if args.rate.is_some_and(|r| r <= 0.0) {
        return Ok(bad_input("--rate must be above 0"));
    }
    let options = LoadOptions::steady(args.rate, args.connections, warmup, measure, timeout);
    let path = path.to_string();
    let make: Arc<MakeRequest> = Arc::new(move |_, _| {
        Ok(harness::probe::ProbeRequest {
            method: http::Method::GET,
            path_and_query: path.clone(),
            headers: Vec::new(),
            body: None,
            timeout,
        })
    });
    let report = harness::loadgen::run(&options, &format!("http://{authority}"), 0, make).await;
    let peak_rss_kib = peak_rss_kib();
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        v["peak_rss_kib"] = serde_json::json!(peak_rss_kib);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_figures(&report, peak_rss_kib);
    }
    Ok(if report.aborted.is_some() {
        grader_report::Fault::Grader.exit_code()
    } else {
        grader_report::exit::PASSED
    })
}

/// The most memory this process held, from /proc (Linux only).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn print_figures(l: &grader_report::LoadReport, peak_rss_kib: Option<u64>) {
    println!(
        "model {}, {} connections, {:.2}s measured",
        l.model, l.connections, l.duration_s
    );
    match l.target_rate {
        Some(t) => println!(
            "rate: {:.1} requests/s achieved, {t:.1} asked",
            l.achieved_rate
        ),
        None => println!("rate: {:.1} requests/s", l.achieved_rate),
    }
    println!(
        "requests: {} ({} ok, errors {:?})",
        l.requests, l.ok, l.errors
    );
    let show = |name: &str, x: &grader_report::Latency| {
        println!(
            "{name}: p50 {:.2} ms, p90 {:.2}, p95 {:.2}, p99 {:.2}, p99.9 {:.2}, max {:.2}, mean {:.2}",
            x.p50, x.p90, x.p95, x.p99, x.p999, x.max, x.mean
        );
    };
    show("latency", &l.latency_ms);
    if let Some(u) = &l.uncorrected_ms {
        show("uncorrected", u);
    }
    if let Some(a) = &l.aborted {
        println!("stopped early: {a}");
    }
    if let Some(kib) = peak_rss_kib {
        println!("peak memory of the prober: {:.1} MiB", kib as f64 / 1024.0);
    }
}
