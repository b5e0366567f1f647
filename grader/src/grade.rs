//! One grading run: images, build, sandbox, checks, report, cleanup, in that order. It
//! always returns a report, whatever failed, and always removes what it created.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::Docker;
use grader_report::{ExerciseInfo, Phases, SCHEMA_VERSION};
use harness::{
    CheckResult, Event, Exercise, Failure, Report, RunConfig, RunStatus, Target, TargetError,
};
use tokio_util::sync::CancellationToken;

use crate::docker::{self, BuildOutcome, ImageNames, Sandbox, SandboxOptions};
use crate::ui::Ui;

pub struct GradeOptions {
    pub exercise: Exercise,
    pub submission: PathBuf,
    pub out_dir: PathBuf,
    pub seed: u64,
    pub images: ImageNames,
    pub recipes: PathBuf,
    pub build_timeout: Duration,
    pub run_id: String,
    /// Show hidden checks' failure details (for instructors).
    pub show_hidden: bool,
    /// The whole run's time limit: past it, the report keeps what finished.
    pub time_limit: Option<Duration>,
    /// Shared by concurrent runs (batch): one load step at a time.
    pub load_gate: Option<std::sync::Arc<tokio::sync::Semaphore>>,
    /// The commit to grade when the submission is a git repository.
    pub git: crate::source::GitPick,
    /// A class's shared PostgreSQL (batch), instead of a server per run.
    pub shared_db: Option<std::sync::Arc<docker::SharedPostgres>>,
}

/// Why the run stopped before grading; becomes the report's status and reason.
struct Stop {
    status: RunStatus,
    reason: String,
}

impl Stop {
    fn error(e: impl std::fmt::Display) -> Stop {
        Stop {
            status: RunStatus::Error,
            reason: e.to_string(),
        }
    }
}

const INTERRUPTED: &str = "interrupted (Ctrl-C or SIGTERM)";

/// Why the run was cancelled: a signal, or the time limit.
fn cancel_reason(limit_hit: &std::sync::atomic::AtomicBool, opts: &GradeOptions) -> String {
    if limit_hit.load(std::sync::atomic::Ordering::SeqCst) {
        format!(
            "the grader's time limit of {}s was reached",
            opts.time_limit.map_or(0, |d| d.as_secs())
        )
    } else {
        INTERRUPTED.to_string()
    }
}

/// Grades one submission. `cancel` ends the run early (Ctrl-C): the report says so.
pub async fn grade(
    docker: &Docker,
    opts: &GradeOptions,
    ui: &Ui,
    cancel: &CancellationToken,
) -> Report {
    let ex = &opts.exercise;
    let mut report = skeleton(opts);
    let mut results: Vec<CheckResult> = Vec::new();
    // The time limit cancels like Ctrl-C does, and says so.
    let limit_hit = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cancel = &cancel.child_token();
    let timer = opts.time_limit.map(|limit| {
        let (cancel, hit) = (cancel.clone(), limit_hit.clone());
        tokio::spawn(async move {
            tokio::time::sleep(limit).await;
            hit.store(true, std::sync::atomic::Ordering::SeqCst);
            cancel.cancel();
        })
    });
    let mut outcome = run(docker, opts, ui, cancel, &mut report, &mut results).await;
    if let Some(t) = timer {
        t.abort();
    }
    if let Err(stop) = &mut outcome
        && stop.reason == INTERRUPTED
    {
        stop.reason = cancel_reason(&limit_hit, opts);
        // Out of time while checking: what finished is graded, the rest did not run.
        if limit_hit.load(std::sync::atomic::Ordering::SeqCst) && report.phases.start_ms.is_some() {
            stop.status = RunStatus::Graded;
        }
    }
    // Teardown, whatever happened above.
    let teardown = Instant::now();
    if let Some(shared) = &opts.shared_db {
        shared
            .detach(&opts.run_id, &docker::private_network(&opts.run_id))
            .await;
    }
    let mut cleaned = docker::clean_run(docker, &opts.run_id).await;
    if cleaned.is_err() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        cleaned = docker::clean_run(docker, &opts.run_id).await;
    }
    report.phases.teardown_ms = Some(ms(teardown));
    if let Err(e) = cleaned
        && outcome.is_ok()
    {
        outcome = Err(Stop::error(format!("cleaning up: {e}")));
    }
    if let Err(stop) = outcome {
        report.status = stop.status;
        report.reason = Some(stop.reason);
    }
    // Every check of the exercise appears in the report, run or not.
    let not_run = match report.status {
        RunStatus::Graded => match &report.reason {
            Some(reason) => format!("not run: {reason}"),
            None => "not run".to_string(),
        },
        RunStatus::BuildFailed => "not run: the submission did not build".into(),
        RunStatus::StartFailed => "not run: the submission did not start".into(),
        RunStatus::Error => format!(
            "not run: {}",
            report.reason.as_deref().unwrap_or("the grader failed")
        ),
    };
    for check in &ex.checks[results.len().min(ex.checks.len())..] {
        results.push(harness::not_run(check, not_run.clone()));
    }
    report.checks = results;
    harness::score::tally(&mut report);
    report
}

/// A report of the run before anything ran.
fn skeleton(opts: &GradeOptions) -> Report {
    let ex = &opts.exercise;
    Report {
        schema_version: SCHEMA_VERSION,
        grader_version: env!("CARGO_PKG_VERSION").to_string(),
        run_id: opts.run_id.clone(),
        exercise: ExerciseInfo {
            name: ex.name.clone(),
            title: ex.title.clone(),
            version: ex.version.clone(),
        },
        submission: opts.submission.display().to_string(),
        commit: None,
        seed: opts.seed,
        started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        status: RunStatus::Graded,
        reason: None,
        score: 0.0,
        max_score: 0.0,
        pass_mark: ex.pass_mark,
        passed: false,
        phases: Phases::default(),
        checks: Vec::new(),
        build_log_tail: None,
        log_tail: None,
        resources: None,
        submission_exit: None,
    }
}

/// The report for a submission path that is not a folder (batch grading).
pub fn not_a_folder(opts: &GradeOptions) -> Report {
    let mut report = skeleton(opts);
    report.status = RunStatus::BuildFailed;
    report.reason = Some(format!("{} is not a folder", opts.submission.display()));
    report.checks = opts
        .exercise
        .checks
        .iter()
        .map(|c| harness::not_run(c, "not run: the submission is missing".into()))
        .collect();
    harness::score::tally(&mut report);
    report
}

fn ms(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

async fn cancellable<T>(
    cancel: &CancellationToken,
    work: impl std::future::Future<Output = T>,
) -> Result<T, Stop> {
    tokio::select! {
        r = work => Ok(r),
        () = cancel.cancelled() => Err(Stop::error(INTERRUPTED)),
    }
}

async fn run(
    docker: &Docker,
    opts: &GradeOptions,
    ui: &Ui,
    cancel: &CancellationToken,
    report: &mut Report,
    results: &mut Vec<CheckResult>,
) -> Result<(), Stop> {
    let ex = &opts.exercise;
    // A git submission is cloned at the picked commit; a work tree's commit is noted.
    let given = opts.submission.to_string_lossy().into_owned();
    // Where a variant is applied or a repository cloned.
    let into = opts.out_dir.join("source");
    let submission = if crate::variant::is_patch_variant(&opts.submission) {
        ui.step(&format!(
            "applying {} to its reference solution",
            opts.submission.join(crate::variant::PATCH).display()
        ));
        crate::variant::materialize(&opts.submission, &into)
            .await
            .map_err(|e| Stop {
                status: RunStatus::BuildFailed,
                reason: format!("could not prepare the variant: {e}"),
            })?
    } else if crate::source::needs_clone(&given, &opts.git) {
        ui.step(&format!("fetching {given}"));
        let _ = std::fs::remove_dir_all(&into);
        let fetched = cancellable(cancel, crate::source::fetch(&given, &opts.git, &into)).await?;
        let (dir, commit) = fetched.map_err(|e| Stop {
            status: RunStatus::BuildFailed,
            reason: format!("could not fetch the submission: {e}"),
        })?;
        ui.step(&format!("grading commit {commit}"));
        report.commit = Some(commit);
        dir
    } else {
        report.commit = crate::source::head_of(&opts.submission).await;
        opts.submission.clone()
    };
    let mut progress = |line: &str| ui.step(line);
    cancellable(
        cancel,
        docker::ensure_images(
            docker,
            &opts.images,
            &opts.recipes,
            docker::ImageNeeds::of(ex),
            &mut progress,
        ),
    )
    .await?
    .map_err(Stop::error)?;

    // Build.
    let tag = submission_tag(&ex.name, &submission);
    let log_path = opts.out_dir.join("build.log");
    ui.step(&format!(
        "building {} (log: {})",
        submission.display(),
        log_path.display()
    ));
    let start = Instant::now();
    let built = cancellable(
        cancel,
        docker::build_submission(
            docker,
            &submission,
            &tag,
            &Default::default(),
            &log_path,
            opts.build_timeout,
            Some(&opts.recipes.join("templates")),
        ),
    )
    .await?
    .map_err(Stop::error)?;
    report.phases.build_ms = Some(ms(start));
    if let BuildOutcome::Failed { reason, log_tail } = built {
        report.build_log_tail = Some(log_tail);
        return Err(Stop {
            status: RunStatus::BuildFailed,
            reason,
        });
    }

    // Start.
    let start = Instant::now();
    let sandbox_opts = SandboxOptions {
        run_id: opts.run_id.clone(),
        images: opts.images.clone(),
        submission_image: tag,
        port: ex.submission.port,
        health: ex.submission.health.clone(),
        startup_timeout: ex.submission.startup_timeout,
        env: ex.submission.env.clone(),
        limits: ex.submission.limits,
        postgres: ex.postgres.clone(),
        redis: ex.redis.is_some(),
        upstream: ex.upstream.clone(),
        seed: opts.seed,
        shared_db: opts.shared_db.clone(),
    };
    let sandbox = cancellable(cancel, Sandbox::start(docker, sandbox_opts, &mut progress))
        .await?
        .map_err(Stop::error)?;
    let outcome = graded(opts, ui, cancel, report, results, &sandbox, start).await;
    report.resources = Some(sandbox.resources());
    report.submission_exit = sandbox.exit_reason().await.ok().flatten();
    let logs = sandbox.logs().await;
    let _ = std::fs::write(opts.out_dir.join("submission.log"), &logs);
    report.log_tail = Some(logs);
    outcome
}

async fn graded(
    opts: &GradeOptions,
    ui: &Ui,
    cancel: &CancellationToken,
    report: &mut Report,
    results: &mut Vec<CheckResult>,
    sandbox: &Sandbox,
    start: Instant,
) -> Result<(), Stop> {
    let ex = &opts.exercise;
    ui.step("starting the submission");
    cancellable(cancel, sandbox.start_app())
        .await?
        .map_err(|e| Stop {
            status: RunStatus::StartFailed,
            reason: e.to_string(),
        })?;
    let ready = cancellable(cancel, sandbox.wait_ready()).await?;
    report.phases.start_ms = Some(ms(start));
    match ready {
        Ok(()) => ui.step(&format!(
            "ready after {:.1}s; running {} checks",
            start.elapsed().as_secs_f64(),
            ex.checks.len()
        )),
        Err(TargetError::Submission(reason)) => {
            return Err(Stop {
                status: RunStatus::StartFailed,
                reason,
            });
        }
        Err(TargetError::Infrastructure(reason)) => return Err(Stop::error(reason)),
    }
    let config = RunConfig {
        seed: opts.seed,
        public_base_url: format!("http://localhost:{}", ex.submission.port),
        load_gate: opts.load_gate.clone(),
    };
    let start = Instant::now();
    let run = harness::run_checks(ex, sandbox, &config, |event| {
        if let Event::CheckStarted {
            index,
            total,
            check,
        } = &event
        {
            ui.working(&format!("check {}/{total}: {}", index + 1, check.id));
        }
        if let Event::CheckFinished { result, .. } = event {
            let mut result = result.clone();
            if result.hidden && !opts.show_hidden && result.failure.is_some() {
                result.failure = Some(Failure::hidden());
            }
            ui.check(&result);
            results.push(result);
        }
    });
    let outcome = cancellable(cancel, run).await.map(|_| ());
    report.phases.checks_ms = Some(ms(start));
    outcome
}

/// The submission's image name: one per exercise and folder, so a re-grade reuses the
/// layer cache and replaces the tag instead of piling up images.
fn submission_tag(exercise: &str, dir: &Path) -> String {
    let abs = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let hash = abs
        .to_string_lossy()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!(
        "grader-submission/{}:{:016x}",
        exercise.to_ascii_lowercase(),
        hash
    )
}

/// A fresh run id: `grader-` and 8 hex digits.
pub fn new_run_id() -> String {
    use rand::Rng;
    let n: u32 = rand::rng().random();
    format!("grader-{n:08x}")
}
