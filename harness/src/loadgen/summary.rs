//! From the histograms to the report: figures of the whole run and of each stage, and
//! the thresholds judged against them.

use grader_report::{LoadReport, StageReport, ThresholdResult};

use super::stats::{self, StageStats};
use super::threshold::Summary;
use super::worker::Shared;
use super::{LoadOptions, Model};

/// The figures a threshold is judged on, for a run or a stage.
fn summary_of(s: &StageStats, rate: f64, target: Option<f64>) -> Summary {
    let l = stats::latency(&s.corrected);
    Summary {
        quantiles: vec![
            (50.0, l.p50),
            (90.0, l.p90),
            (95.0, l.p95),
            (99.0, l.p99),
            (99.9, l.p999),
        ],
        max_ms: l.max,
        mean_ms: l.mean,
        error_rate: if s.requests() > 0 {
            (s.requests() - s.ok) as f64 / s.requests() as f64
        } else {
            1.0
        },
        rate,
        target_rate: target,
    }
}

/// The open model's stages, the warm-up segment (`skip` of them) left out.
fn stage_reports(options: &LoadOptions, stages: &[StageStats], skip: usize) -> Vec<StageReport> {
    let Model::Open(schedule) = &options.model else {
        return Vec::new();
    };
    stages
        .iter()
        .enumerate()
        .skip(skip)
        .map(|(k, s)| {
            let seg = schedule.segments()[k];
            StageReport {
                name: options
                    .stage_names
                    .get(k - skip)
                    .cloned()
                    .unwrap_or_else(|| format!("stage {}", k - skip + 1)),
                target_rate: Some((seg.r0 + seg.r1) / 2.0),
                achieved_rate: s.requests() as f64 / seg.duration.max(1e-9),
                requests: s.requests(),
                errors: s.requests() - s.ok,
                latency_ms: stats::latency(&s.corrected),
            }
        })
        .collect()
}

/// Each planned threshold against its stage (or the whole run). None passes when the
/// run stopped early.
fn judge_thresholds(
    options: &LoadOptions,
    stages: &[StageStats],
    reports: &[StageReport],
    (skip, overall): (usize, &Summary),
    aborted: bool,
) -> Vec<ThresholdResult> {
    options
        .thresholds
        .iter()
        .map(|t| {
            let (summary, stage_name) = match t.stage {
                Some(k) if k < reports.len() => {
                    let r = &reports[k];
                    (
                        summary_of(&stages[k + skip], r.achieved_rate, r.target_rate),
                        Some(r.name.clone()),
                    )
                }
                _ => (overall.clone(), None),
            };
            let (actual, passed) = t.threshold.judge(&summary);
            ThresholdResult {
                expr: t.threshold.src.clone(),
                stage: stage_name,
                passed: passed && !aborted,
                actual: t.threshold.show(actual),
                points: t.points,
            }
        })
        .collect()
}

pub(crate) fn summarize(
    options: &LoadOptions,
    shared: &Shared,
    elapsed: f64,
    aborted: Option<String>,
) -> LoadReport {
    let stages: Vec<StageStats> = shared
        .stages
        .iter()
        .map(|m| {
            let mut copy = StageStats::new();
            copy.merge(&m.lock().expect("not poisoned"));
            copy
        })
        .collect();
    let mut all = StageStats::new();
    for s in &stages {
        all.merge(s);
    }
    let warmup_s = options.warmup.as_secs_f64();
    let open = matches!(options.model, Model::Open(_));
    let target = match &options.model {
        Model::Open(s) => {
            let first = usize::from(warmup_s > 0.0).min(s.segments().len().saturating_sub(1));
            Some(s.mean_rate(first..s.segments().len()))
        }
        Model::Closed(_) => None,
    };
    let requests = all.requests();
    // Stages (open model): skip the warm-up segment in the report.
    let skip = usize::from(open && warmup_s > 0.0);
    let stage_reports = stage_reports(options, &stages, skip);
    let achieved = requests as f64 / elapsed;
    let overall = summary_of(&all, achieved, target);
    let thresholds = judge_thresholds(
        options,
        &stages,
        &stage_reports,
        (skip, &overall),
        aborted.is_some(),
    );
    LoadReport {
        model: if open { "open" } else { "closed" }.into(),
        connections: options.connections as u32,
        warmup_s,
        duration_s: (elapsed * 1000.0).round() / 1000.0,
        target_rate: target,
        achieved_rate: (achieved * 10.0).round() / 10.0,
        requests,
        ok: all.ok,
        errors: all
            .errors
            .iter()
            .map(|(k, v)| (k.name().to_string(), *v))
            .collect(),
        latency_ms: stats::latency(&all.corrected),
        uncorrected_ms: open.then(|| stats::latency(&all.uncorrected)),
        histogram: stats::buckets(&all.corrected),
        stages: stage_reports,
        thresholds,
        aborted,
    }
}
