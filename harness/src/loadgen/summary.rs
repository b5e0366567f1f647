//! From the histograms to the report: figures of the whole run and of each stage, and
//! the thresholds judged against them.

use std::collections::BTreeMap;

use grader_report::{LoadReport, StageReport, ThresholdResult, Timeline, TimelineStage};

use super::recovery;
use super::stats::{self, StageStats};
use super::threshold::{Metric, Summary};
use super::worker::Shared;
use super::{LoadOptions, Model};

/// The figures a threshold is judged on, for a run or a stage.
fn summary_of(s: &StageStats, rate: f64, target: Option<f64>, recovery_ms: Option<f64>) -> Summary {
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
        recovery_ms,
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
                errors_by_kind: s
                    .errors
                    .iter()
                    .map(|(k, v)| (k.name().to_string(), *v))
                    .collect(),
                recovery_ms: None,
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
    notes: &BTreeMap<usize, String>,
) -> Vec<ThresholdResult> {
    options
        .thresholds
        .iter()
        .map(|t| {
            let (summary, stage_name) = match t.stage {
                Some(k) if k < reports.len() => {
                    let r = &reports[k];
                    let recovery = r.recovery_ms.map(|ms| ms as f64);
                    (
                        summary_of(&stages[k + skip], r.achieved_rate, r.target_rate, recovery),
                        Some(r.name.clone()),
                    )
                }
                _ => (overall.clone(), None),
            };
            let (actual, passed) = t.threshold.judge(&summary);
            let note = match (t.threshold.metric, t.stage) {
                _ if passed || aborted => None,
                (Metric::Recovery, Some(k)) => notes.get(&k).cloned(),
                (Metric::ErrorRate, Some(k)) => {
                    reports.get(k).and_then(|r| recovery::errors_of(&[r]))
                }
                _ => None,
            };
            ThresholdResult {
                expr: t.threshold.src.clone(),
                stage: stage_name,
                passed: passed && !aborted,
                actual: t.threshold.show(actual),
                points: t.points,
                note,
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
    let mut stage_reports = stage_reports(options, &stages, skip);
    let timeline = shared
        .timeline
        .lock()
        .expect("not poisoned")
        .report(marks(options, skip));
    let notes = recoveries(options, &timeline, &mut stage_reports, skip);
    let achieved = requests as f64 / elapsed;
    let overall = summary_of(&all, achieved, target, None);
    let thresholds = judge_thresholds(
        options,
        &stages,
        &stage_reports,
        (skip, &overall),
        aborted.is_some(),
        &notes,
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
        timeline: Some(timeline),
    }
}

/// Where each part of the schedule lies on the timeline: the warm-up, then the stages.
fn marks(options: &LoadOptions, skip: usize) -> Vec<TimelineStage> {
    let ms = |s: f64| (s * 1000.0).round() as u64;
    match &options.model {
        Model::Open(schedule) => {
            let mut at = 0.0;
            schedule
                .segments()
                .iter()
                .enumerate()
                .map(|(k, seg)| {
                    let name = match k.checked_sub(skip) {
                        None => "warm-up".to_string(),
                        Some(n) => options
                            .stage_names
                            .get(n)
                            .cloned()
                            .unwrap_or_else(|| format!("stage {}", n + 1)),
                    };
                    let start = at;
                    at += seg.duration;
                    TimelineStage {
                        name,
                        start_ms: ms(start),
                        end_ms: ms(at),
                    }
                })
                .collect()
        }
        Model::Closed(_) if !options.warmup.is_zero() => vec![TimelineStage {
            name: "warm-up".into(),
            start_ms: 0,
            end_ms: ms(options.warmup.as_secs_f64()),
        }],
        Model::Closed(_) => Vec::new(),
    }
}

/// The recovery of each stage a `recovery` threshold names (into its report), and for
/// each, what happened in words should the threshold fail.
fn recoveries(
    options: &LoadOptions,
    timeline: &Timeline,
    reports: &mut [StageReport],
    skip: usize,
) -> BTreeMap<usize, String> {
    let mut notes = BTreeMap::new();
    let Some(first) = reports.first().cloned() else {
        return notes;
    };
    for t in &options.thresholds {
        let Some(k) = t.stage.filter(|k| *k > 0 && *k < reports.len()) else {
            continue;
        };
        if t.threshold.metric != Metric::Recovery || notes.contains_key(&k) {
            continue;
        }
        let Some(mark) = timeline.stages.get(k + skip) else {
            continue;
        };
        let r = recovery::recovery(timeline, mark, first.latency_ms.p95);
        reports[k].recovery_ms = r.ms;
        notes.insert(k, recovery::note(&r, &reports[k - 1], &reports[k], &first));
    }
    notes
}
