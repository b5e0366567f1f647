//! One grading run: images, build, sandbox, checks, report, cleanup, in that order. It
//! always returns a report, whatever failed, and always removes what it created. It
//! never prints: what happens goes to a `Reporter` as `RunEvent`s.

use futures_util::FutureExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use grader_report::{Cause, ExerciseInfo, Phases, SCHEMA_VERSION};
use harness::{CheckResult, Event, Exercise, Report, RunConfig, RunStatus, Target, TargetError};
use std::future::Future;
use tokio_util::sync::CancellationToken;

use super::cancel::{Deadline, Stop, cancellable};
use super::event::{Reporter, RunEvent};
use super::source::{self, GitPick};
use super::variant;
use crate::docker::{self, BuildOutcome, DockerError, ImageNames, Sandbox, SandboxOptions};
use crate::report::Format;
use crate::report::hidden;

pub(crate) struct GradeOptions {
    pub(crate) exercise: Exercise,
    pub(crate) submission: PathBuf,
    pub(crate) out_dir: PathBuf,
    pub(crate) seed: u64,
    pub(crate) images: ImageNames,
    pub(crate) recipes: PathBuf,
    pub(crate) build_timeout: Duration,
    pub(crate) run_id: String,
    /// Show hidden checks' failure details (for instructors).
    pub(crate) show_hidden: bool,
    /// The whole run's time limit: past it, the report keeps what finished.
    pub(crate) time_limit: Option<Duration>,
    /// Shared by concurrent runs (batch): one load step at a time.
    pub(crate) load_gate: Option<Arc<tokio::sync::Semaphore>>,
    /// The commit to grade when the submission is a git repository.
    pub(crate) git: GitPick,
    /// A class's shared PostgreSQL (batch), instead of a server per run.
    pub(crate) shared_db: Option<Arc<docker::SharedPostgres>>,
    /// Grade only these checks and those they need (`--only`).
    pub(crate) only: Option<Vec<String>>,
    /// The reference's work figures (the exercise's baseline.json), for the report.
    pub(crate) reference: Arc<super::baseline::Figures>,
    /// Where the engine publishes ports and the grader reaches them.
    pub(crate) reach: docker::Reach,
    /// A class's slot this run holds (batch): given back when the checks are over, so
    /// the next learner starts while this run's containers are removed.
    pub(crate) slot: SlotHandOff,
}

/// A class's slot, given back before the teardown (`GradeOptions::slot`); the default
/// holds none.
#[derive(Debug, Clone, Default)]
pub(crate) struct SlotHandOff(Arc<std::sync::Mutex<Option<tokio::sync::OwnedSemaphorePermit>>>);

impl SlotHandOff {
    pub(crate) fn holding(permit: Option<tokio::sync::OwnedSemaphorePermit>) -> SlotHandOff {
        SlotHandOff(Arc::new(std::sync::Mutex::new(permit)))
    }

    /// Gives the slot back (once; later calls do nothing).
    pub(crate) fn give_back(&self) {
        drop(self.0.lock().expect("not poisoned").take());
    }
}

/// What ends a single run before it has a report to show.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GradeError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// Writing the reports failed (the writer's own error, as it is).
    #[error(transparent)]
    Write(#[from] crate::report::write::WriteError),
}

/// Grades one submission on its own (`grader grade`): connects to Docker, grades,
/// writes report.json and the other `formats`, and says so.
pub(crate) async fn grade_alone(
    opts: &GradeOptions,
    formats: &[Format],
    reporter: &dyn Reporter,
    cancel: &CancellationToken,
) -> Result<Report, GradeError> {
    reporter.report(&RunEvent::RunStarted {
        submission: &opts.submission,
        exercise: &opts.exercise.name,
        run_id: &opts.run_id,
        seed: opts.seed,
    });
    let docker = docker::connect().await?;
    let report = grade(&docker, opts, reporter, cancel).await;
    crate::report::write::write_reports(&report, &opts.out_dir, formats, true)
        .map_err(GradeError::Write)?;
    reporter.report(&RunEvent::RunFinished {
        report: &report,
        report_path: &opts.out_dir.join("report.json"),
    });
    Ok(report)
}

/// Grades one submission. `cancel` ends the run early (Ctrl-C): the report says so.
pub(crate) async fn grade(
    docker: &Docker,
    opts: &GradeOptions,
    reporter: &dyn Reporter,
    cancel: &CancellationToken,
) -> Report {
    let mut report = skeleton(opts);
    let mut results: Vec<CheckResult> = Vec::new();
    let cancel = &cancel.child_token();
    let deadline = Deadline::start(opts.time_limit, cancel);
    // A bug of the grader's (a panic) still ends in the teardown and a report.
    let outcome = std::panic::AssertUnwindSafe(run(
        docker,
        opts,
        reporter,
        cancel,
        &mut report,
        &mut results,
    ))
    .catch_unwind()
    .await;
    let cancelled = deadline.stop();
    let checking = report.phases.start_ms.is_some();
    let mut outcome = match outcome {
        Ok(o) => o.map_err(|stop| stop.settle(cancelled, checking)),
        Err(panic) => Err((
            RunStatus::Error,
            format!(
                "the grader failed (a bug in the grader, not in the submission): {}",
                panic_message(panic.as_ref())
            ),
        )),
    };
    // Teardown, whatever happened above: the engine's work, off the class's critical
    // path (the next learner's build and start need no quiet machine).
    opts.slot.give_back();
    reporter.report(&RunEvent::TeardownStarted);
    let teardown = Instant::now();
    let cleaned = teardown_run(docker, opts).await;
    report.phases.teardown_ms = Some(ms(teardown));
    reporter.report(&RunEvent::TeardownFinished {
        took: teardown.elapsed(),
    });
    if let Err(e) = cleaned
        && outcome.is_ok()
    {
        outcome = Err((RunStatus::Error, format!("cleaning up: {e}")));
    }
    if let Err((status, reason)) = outcome {
        report.status = status;
        report.reason = Some(reason);
    }
    let mut report = finish(&opts.exercise, report, results);
    if !opts.show_hidden {
        // The checks that did not run, too.
        hidden::redact_all(&mut report.checks);
    }
    report.reference_work = super::baseline::for_checks(&opts.reference, &report.checks);
    report
}

/// What a panic said, when it said it with a string.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_string())
}

/// Removes everything the run created (and its database on a shared server).
async fn teardown_run(docker: &Docker, opts: &GradeOptions) -> Result<(), DockerError> {
    if let Some(shared) = &opts.shared_db {
        shared
            .detach(&opts.run_id, &docker::private_network(&opts.run_id))
            .await;
    }
    if docker::clean_run(docker, &opts.run_id).await.is_ok() {
        return Ok(());
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    docker::clean_run(docker, &opts.run_id).await.map(|_| ())
}

/// The report with every check of the exercise in it, run or not, and its score.
pub(super) fn finish(ex: &Exercise, mut report: Report, mut results: Vec<CheckResult>) -> Report {
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
pub(super) fn skeleton(opts: &GradeOptions) -> Report {
    let ex = &opts.exercise;
    Report {
        schema_version: SCHEMA_VERSION,
        grader_version: env!("CARGO_PKG_VERSION").to_string(),
        run_id: opts.run_id.clone(),
        exercise: ExerciseInfo {
            name: ex.name.clone(),
            title: ex.title.clone(),
            version: ex.version.clone(),
            digest: crate::run::exercise_digest(&ex.dir).unwrap_or_default(),
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
        causes: Vec::new(),
        unchecked_points: 0.0,
        runtime: None,
        reference_work: Default::default(),
    }
}

/// The report for a submission path that is not a folder (batch grading).
pub(crate) fn not_a_folder(opts: &GradeOptions) -> Report {
    let mut report = skeleton(opts);
    report.status = RunStatus::BuildFailed;
    report.reason = Some(format!("{} is not a folder", opts.submission.display()));
    report.checks = opts
        .exercise
        .checks
        .iter()
        .map(|c| harness::not_run(c, "not run: the submission is missing".into()))
        .collect();
    if !opts.show_hidden {
        hidden::redact_all(&mut report.checks);
    }
    harness::score::tally(&mut report);
    report
}

fn ms(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

async fn run(
    docker: &Docker,
    opts: &GradeOptions,
    reporter: &dyn Reporter,
    cancel: &CancellationToken,
    report: &mut Report,
    results: &mut Vec<CheckResult>,
) -> Result<(), Stop> {
    let ex = &opts.exercise;
    let submission = prepare_source(opts, reporter, cancel, report).await?;
    cancellable(
        cancel,
        docker::ensure_images(
            docker,
            &opts.images,
            &opts.recipes,
            docker::ImageNeeds::of(ex),
            &mut |line| reporter.report(&RunEvent::Images { line }),
        ),
    )
    .await?
    .map_err(Stop::error)?;
    let tag = build(docker, opts, reporter, cancel, report, &submission).await?;

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
        reach: opts.reach,
    };
    let mut progress = |line: &str| reporter.report(&RunEvent::SandboxStarting { line });
    let sandbox = cancellable(cancel, Sandbox::start(docker, sandbox_opts, &mut progress))
        .await?
        .map_err(Stop::error)?;
    let public = format!("http://localhost:{}", ex.submission.port);
    let outcome = graded(
        opts, reporter, cancel, report, results, &sandbox, start, public,
    )
    .await;
    report.resources = Some(sandbox.resources());
    report.submission_exit = sandbox.exit_reason().await.ok().flatten();
    let logs = sandbox.logs().await;
    let _ = std::fs::write(opts.out_dir.join("submission.log"), &logs);
    report.log_tail = Some(logs);
    outcome
}

/// The folder to build: a variant applied to its reference, a git submission cloned at
/// the picked commit, or the folder as given (a work tree's commit is noted).
pub(super) async fn prepare_source(
    opts: &GradeOptions,
    reporter: &dyn Reporter,
    cancel: &CancellationToken,
    report: &mut Report,
) -> Result<PathBuf, Stop> {
    let given = opts.submission.to_string_lossy().into_owned();
    // Where a variant is applied or a repository cloned.
    let into = opts.out_dir.join("source");
    if let Some(patch) = variant::patch_of(&opts.submission) {
        reporter.report(&RunEvent::VariantApplying { patch: &patch });
        variant::materialize(&opts.submission, &into)
            .await
            .map_err(|e| Stop::Ended {
                status: RunStatus::BuildFailed,
                reason: format!("could not prepare the variant: {e}"),
            })
    } else if source::needs_clone(&given, &opts.git) {
        reporter.report(&RunEvent::FetchStarted { source: &given });
        let _ = std::fs::remove_dir_all(&into);
        let fetched = cancellable(cancel, source::fetch(&given, &opts.git, &into)).await?;
        let (dir, commit) = fetched.map_err(|e| Stop::Ended {
            status: RunStatus::BuildFailed,
            reason: format!("could not fetch the submission: {e}"),
        })?;
        reporter.report(&RunEvent::FetchFinished { commit: &commit });
        report.commit = Some(commit);
        Ok(dir)
    } else {
        report.commit = source::head_of(&opts.submission).await;
        Ok(opts.submission.clone())
    }
}

/// Builds the submission's image; its tag, or why the submission did not build.
async fn build(
    docker: &Docker,
    opts: &GradeOptions,
    reporter: &dyn Reporter,
    cancel: &CancellationToken,
    report: &mut Report,
    submission: &Path,
) -> Result<String, Stop> {
    let tag = submission_tag(&opts.exercise.name, submission);
    let log_path = opts.out_dir.join("build.log");
    reporter.report(&RunEvent::BuildStarted {
        dir: submission,
        log: &log_path,
    });
    let start = Instant::now();
    let built = cancellable(
        cancel,
        docker::build_submission(
            docker,
            submission,
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
    reporter.report(&RunEvent::BuildFinished {
        took: start.elapsed(),
        built: matches!(built, BuildOutcome::Built),
    });
    if let BuildOutcome::Failed {
        reason,
        log_tail,
        causes,
    } = built
    {
        report.build_log_tail = Some(log_tail);
        report.causes = causes;
        return Err(Stop::Ended {
            status: RunStatus::BuildFailed,
            reason,
        });
    }
    Ok(tag)
}

/// What a runtime offers a run beside the probes: starting the submission, the causes
/// a failed start shows, and the storage cap (Docker's sandbox, the process runtime).
pub(super) trait Runtime: Target {
    /// Starts the submission (not waiting until it is ready).
    fn start_submission(&self) -> impl Future<Output = Result<(), String>> + Send;
    /// What its output and state show after it did not start.
    fn start_failure_causes(&self) -> impl Future<Output = Vec<Cause>> + Send;
    /// Why the grader shut it out of its database, if it did.
    fn shut_out_reason(&self) -> Option<String>;
    /// Resolves when it goes over its storage cap: the reason.
    fn over_storage(&self) -> impl Future<Output = String> + Send;
}

impl Runtime for Sandbox {
    async fn start_submission(&self) -> Result<(), String> {
        self.start_app().await.map_err(|e| e.to_string())
    }
    async fn start_failure_causes(&self) -> Vec<Cause> {
        self.start_causes().await
    }
    fn shut_out_reason(&self) -> Option<String> {
        self.shut_out()
    }
    async fn over_storage(&self) -> String {
        self.limit_exceeded().await
    }
}

/// Starts the submission, waits until it is ready, and runs the checks; the probes'
/// public base URL is the one the submission believes it is at.
#[allow(clippy::too_many_arguments)]
pub(super) async fn graded<T: Runtime>(
    opts: &GradeOptions,
    reporter: &dyn Reporter,
    cancel: &CancellationToken,
    report: &mut Report,
    results: &mut Vec<CheckResult>,
    target: &T,
    start: Instant,
    public_base_url: String,
) -> Result<(), Stop> {
    let ex = &opts.exercise;
    reporter.report(&RunEvent::AppStarting);
    cancellable(cancel, target.start_submission())
        .await?
        .map_err(|reason| Stop::Ended {
            status: RunStatus::StartFailed,
            reason,
        })?;
    let ready = cancellable(cancel, target.wait_ready()).await?;
    report.phases.start_ms = Some(ms(start));
    match ready {
        Ok(()) => reporter.report(&RunEvent::SandboxReady {
            took: start.elapsed(),
            checks: ex.checks.len(),
        }),
        Err(TargetError::Submission(reason)) => {
            report.causes = target.start_failure_causes().await;
            return Err(Stop::Ended {
                status: RunStatus::StartFailed,
                // A server shut out of its database while starting did not start for that.
                reason: target.shut_out_reason().unwrap_or(reason),
            });
        }
        Err(TargetError::Infrastructure(reason)) => return Err(Stop::error(reason)),
    }
    let config = RunConfig {
        seed: opts.seed,
        public_base_url,
        load_gate: opts.load_gate.clone(),
        only: opts.only.clone(),
    };
    let start = Instant::now();
    let run = harness::run_checks(ex, target, &config, on_check(opts, reporter, results));
    // The grader shutting the learner out of its database (over its storage cap) ends
    // the checks: what finished is graded, the rest did not run, the reason says why.
    let outcome = tokio::select! {
        outcome = cancellable(cancel, run) => outcome.map(|_| ()),
        reason = target.over_storage() => Err(Stop::Ended {
            status: RunStatus::Graded,
            reason,
        }),
    };
    report.phases.checks_ms = Some(ms(start));
    outcome
}

/// What the checks say as they run: to the reporter (a hidden check's failure redacted
/// unless hidden checks are shown), and each finished result into `results`.
pub(super) fn on_check<'a>(
    opts: &'a GradeOptions,
    reporter: &'a dyn Reporter,
    results: &'a mut Vec<CheckResult>,
) -> impl FnMut(Event<'_>) + 'a {
    let ex = &opts.exercise;
    move |event| match event {
        Event::CheckFinished {
            index,
            total,
            result,
        } => {
            let mut result = result.clone();
            if result.hidden && !opts.show_hidden {
                let n = ex.checks[..=index].iter().filter(|c| c.hidden).count();
                hidden::redact(&mut result, n);
            }
            reporter.report(&RunEvent::Check(Event::CheckFinished {
                index,
                total,
                result: &result,
            }));
            results.push(result);
        }
        started => reporter.report(&RunEvent::Check(started)),
    }
}

/// The submission's image name: one per exercise and folder, so a re-grade reuses the
/// layer cache and replaces the tag instead of piling up images.
fn submission_tag(exercise: &str, dir: &Path) -> String {
    let abs = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let hash = harness::stable_hash(abs.to_string_lossy().as_bytes());
    format!(
        "grader-submission/{}:{:016x}",
        exercise.to_ascii_lowercase(),
        hash
    )
}

/// A fresh run id: `grader-` and 8 hex digits.
pub(crate) fn new_run_id() -> String {
    use rand::Rng;
    let n: u32 = rand::rng().random();
    format!("grader-{n:08x}")
}
