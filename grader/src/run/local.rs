//! One grading run with the process runtime (`--runtime process`): the same checks and
//! report as a Docker run, with the services and the submission as processes of this
//! machine (see `crate::process`). Like `grade`, it always returns a report and always
//! stops what it started.

use std::time::Instant;

use futures_util::FutureExt as _;
use harness::{CheckResult, Report, RunStatus, Target as _};
use tokio_util::sync::CancellationToken;

use super::cancel::{Deadline, Stop, cancellable};
use super::event::{Reporter, RunEvent};
use super::grade::{GradeOptions, finish, graded, prepare_source, skeleton};
use crate::process::{Local, LocalOptions, StartError};
use crate::report::hidden;

/// How the process runtime starts a submission: `--cmd`, else what it declares.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProcessOptions {
    pub cmd: Option<String>,
}

/// Grades one submission without Docker, writes report.json and the other `formats`,
/// and says so.
pub(crate) async fn grade_process_alone(
    opts: &GradeOptions,
    process: &ProcessOptions,
    formats: &[crate::report::Format],
    reporter: &dyn Reporter,
    cancel: &CancellationToken,
) -> anyhow::Result<Report> {
    reporter.report(&RunEvent::RunStarted {
        submission: &opts.submission,
        exercise: &opts.exercise.name,
        run_id: &opts.run_id,
        seed: opts.seed,
    });
    let report = grade_process(opts, process, reporter, cancel).await;
    crate::report::write::write_reports(&report, &opts.out_dir, formats, true)?;
    reporter.report(&RunEvent::RunFinished {
        report: &report,
        report_path: &opts.out_dir.join("report.json"),
    });
    Ok(report)
}

/// Grades one submission without Docker.
pub(crate) async fn grade_process(
    opts: &GradeOptions,
    process: &ProcessOptions,
    reporter: &dyn Reporter,
    cancel: &CancellationToken,
) -> Report {
    let mut report = skeleton(opts);
    report.runtime = Some("process".into());
    let mut results: Vec<CheckResult> = Vec::new();
    let cancel = &cancel.child_token();
    let deadline = Deadline::start(opts.time_limit, cancel);
    let mut local: Option<Local> = None;
    let outcome = std::panic::AssertUnwindSafe(run(
        opts,
        process,
        reporter,
        cancel,
        &mut report,
        &mut results,
        &mut local,
    ))
    .catch_unwind()
    .await;
    let cancelled = deadline.stop();
    let checking = report.phases.start_ms.is_some();
    let outcome = match outcome {
        Ok(o) => o.map_err(|stop| stop.settle(cancelled, checking)),
        Err(_) => Err((
            RunStatus::Error,
            "the grader failed (a bug in the grader, not in the submission)".into(),
        )),
    };
    reporter.report(&RunEvent::TeardownStarted);
    let teardown = Instant::now();
    if let Some(local) = local {
        report.resources = Some(local.resources());
        report.submission_exit = local.app.last_exit().map(|e| e.how);
        let lines = local.app.output.since(None);
        report.log_tail = Some(lines[lines.len().saturating_sub(200)..].join("\n"));
        local.stop().await;
    } else {
        let _ = std::fs::remove_dir_all(crate::process::run_root(&opts.run_id));
    }
    report.phases.teardown_ms = Some(teardown.elapsed().as_millis() as u64);
    reporter.report(&RunEvent::TeardownFinished {
        took: teardown.elapsed(),
    });
    if let Err((status, reason)) = outcome {
        report.status = status;
        report.reason = Some(reason);
    }
    let mut report = finish(&opts.exercise, report, results);
    if !opts.show_hidden {
        hidden::redact_all(&mut report.checks);
    }
    report.reference_work = super::baseline::for_checks(&opts.reference, &report.checks);
    report
}

async fn run(
    opts: &GradeOptions,
    process: &ProcessOptions,
    reporter: &dyn Reporter,
    cancel: &CancellationToken,
    report: &mut Report,
    results: &mut Vec<CheckResult>,
    slot: &mut Option<Local>,
) -> Result<(), Stop> {
    let ex = &opts.exercise;
    let source = prepare_source(opts, reporter, cancel, report).await?;
    let launch =
        crate::process::resolve(&source, process.cmd.as_deref()).map_err(|reason| Stop::Ended {
            status: RunStatus::BuildFailed,
            reason,
        })?;
    let start = Instant::now();
    let log = opts.out_dir.join("submission.log");
    let build_log = opts.out_dir.join("build.log");
    let local_opts = LocalOptions {
        exercise: ex,
        run_id: &opts.run_id,
        seed: opts.seed,
        launch: &launch,
        source: &source,
        log: &log,
        build_log: &build_log,
        build_timeout: opts.build_timeout,
    };
    let mut progress = |line: &str| reporter.report(&RunEvent::SandboxStarting { line });
    progress(&format!(
        "the submission starts with `{}` (from {}); nothing is sandboxed",
        launch.run.display(),
        launch.from
    ));
    let prepared = cancellable(cancel, Local::prepare(&local_opts, &mut progress)).await?;
    let local = match prepared {
        Ok(local) => slot.insert(local),
        Err((partial, e)) => {
            *slot = partial;
            return Err(match e {
                StartError::Grader(reason) => Stop::error(reason),
                StartError::Build(reason, tail) => {
                    report.build_log_tail = Some(tail);
                    Stop::Ended {
                        status: RunStatus::BuildFailed,
                        reason,
                    }
                }
            });
        }
    };
    let local: &Local = local;
    graded(
        opts,
        reporter,
        cancel,
        report,
        results,
        local,
        start,
        local.base_url(),
    )
    .await
}

impl super::grade::Runtime for Local {
    async fn start_submission(&self) -> Result<(), String> {
        self.start_app().await
    }
    async fn start_failure_causes(&self) -> Vec<grader_report::Cause> {
        self.start_causes().await
    }
    fn shut_out_reason(&self) -> Option<String> {
        self.shut_out()
    }
    async fn over_storage(&self) -> String {
        self.limit_exceeded().await
    }
}
