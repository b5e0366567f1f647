//! Grading a class: many submissions, a few at a time, each in its own sandbox, with a
//! gradebook and a class summary written as learners finish. `--resume` skips learners
//! already graded; `--shard I/N` grades a deterministic slice; `grader merge` combines
//! the shards' folders. Progress goes to a `Reporter`; nothing here prints.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use grader_report::Report;
use harness::Exercise;
use tokio_util::sync::CancellationToken;

use super::event::{Quiet, Reporter, RunEvent};
use super::grade::{self, GradeOptions};
use super::learners::Learner;
use super::source::{self, GitPick};
use crate::docker::{self, DockerError, ImageNames, SharedPostgres};
use crate::report::{self, Format};

pub(crate) struct BatchOptions {
    pub(crate) exercise: Exercise,
    pub(crate) learners: Vec<Learner>,
    pub(crate) out_dir: PathBuf,
    pub(crate) jobs: usize,
    pub(crate) resume: bool,
    pub(crate) seed: Option<u64>,
    pub(crate) images: ImageNames,
    pub(crate) recipes: PathBuf,
    pub(crate) formats: Vec<Format>,
    pub(crate) build_timeout: Duration,
    pub(crate) time_limit: Option<Duration>,
    /// The ref and deadline for git submissions.
    pub(crate) git: GitPick,
    /// One PostgreSQL server for the class, a fresh database per learner (default), or
    /// a server per learner.
    pub(crate) shared_db: bool,
    /// Grade only these checks and those they need (`--only`).
    pub(crate) only: Option<Vec<String>>,
    /// The reference's work figures (the exercise's baseline.json).
    pub(crate) reference: Arc<super::baseline::Figures>,
    /// Where the engine publishes ports and the grader reaches them.
    pub(crate) reach: docker::Reach,
    /// Grade without Docker (`--runtime process`): each learner's services and server
    /// are processes of this machine.
    pub(crate) process: Option<super::local::ProcessOptions>,
}

/// What ends a class before every learner is graded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BatchError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// Writing the gradebook or summary failed (the writer's own error, as it is).
    #[error(transparent)]
    Write(#[from] crate::report::write::WriteError),
}

/// Grades every learner; returns the reports by learner name.
pub(crate) async fn grade_class(
    opts: BatchOptions,
    reporter: Arc<dyn Reporter>,
    cancel: &CancellationToken,
) -> Result<BTreeMap<String, Report>, BatchError> {
    reporter.report(&RunEvent::BatchStarted {
        learners: opts.learners.len(),
        jobs: opts.jobs,
        out: &opts.out_dir,
    });
    std::fs::create_dir_all(&opts.out_dir)?;
    let docker = if let Some(p) = &opts.process {
        Runner::Process(p.clone())
    } else {
        let docker = docker::connect().await?;
        // Images once, before the class: not once per learner.
        docker::ensure_images(
            &docker,
            &opts.images,
            &opts.recipes,
            docker::ImageNeeds::of(&opts.exercise),
            &mut |line| reporter.report(&RunEvent::Images { line }),
        )
        .await?;
        Runner::Docker(docker)
    };
    let (done, todo) = already_graded(&opts);
    if !done.is_empty() {
        reporter.report(&RunEvent::BatchResumed {
            done: done.len(),
            todo: todo.len(),
        });
    }
    // One database server for the class: a fresh database per learner on it.
    let shared_db = if let Runner::Docker(docker) = &docker
        && opts.shared_db
        && opts.exercise.postgres.is_some()
        && !todo.is_empty()
    {
        let id = grade::new_run_id();
        reporter.report(&RunEvent::ClassDatabaseStarting { run_id: &id });
        match SharedPostgres::start(docker, &opts.images, &id, opts.jobs, &opts.reach).await {
            Ok(pg) => Some(Arc::new(pg)),
            Err(e) => {
                let _ = docker::clean_run(docker, &id).await;
                return Err(e.into());
            }
        }
    } else {
        None
    };
    let out_dir = opts.out_dir.clone();
    let class = Class {
        docker,
        opts: Arc::new(opts),
        reporter: reporter.clone(),
        cancel: cancel.clone(),
        shared_db: shared_db.clone(),
    };
    let graded = class.grade_all(todo, done).await;
    if let Some(pg) = shared_db {
        pg.stop().await?;
    }
    let graded = graded?;
    reporter.report(&RunEvent::BatchFinished { out: &out_dir });
    Ok(graded)
}

/// The learners `--resume` keeps (by name), and those still to grade.
fn already_graded(opts: &BatchOptions) -> (BTreeMap<String, Report>, Vec<Learner>) {
    let mut done = BTreeMap::new();
    let mut todo = Vec::new();
    for l in &opts.learners {
        let saved = opts.out_dir.join(&l.name).join("report.json");
        match std::fs::read_to_string(&saved)
            .ok()
            .and_then(|t| serde_json::from_str::<Report>(&t).ok())
        {
            // A run the grader or Docker broke is graded again.
            Some(r) if opts.resume && r.status != grader_report::RunStatus::Error => {
                done.insert(l.name.clone(), r);
            }
            _ => todo.push(l.clone()),
        }
    }
    (done, todo)
}

/// Where the class's submissions run.
#[derive(Clone)]
enum Runner {
    Docker(Docker),
    Process(super::local::ProcessOptions),
}

/// What every learner's run of a class shares.
#[derive(Clone)]
struct Class {
    docker: Runner,
    opts: Arc<BatchOptions>,
    reporter: Arc<dyn Reporter>,
    cancel: CancellationToken,
    shared_db: Option<Arc<SharedPostgres>>,
}

impl Class {
    async fn grade_all(
        self,
        todo: Vec<Learner>,
        mut done: BTreeMap<String, Report>,
    ) -> Result<BTreeMap<String, Report>, BatchError> {
        let total = self.opts.learners.len();
        let slots = Arc::new(tokio::sync::Semaphore::new(self.opts.jobs.max(1)));
        // Light loads run two at once, any other alone (`LoadOptions::slots`).
        let load_gate = Arc::new(tokio::sync::Semaphore::new(
            harness::loadgen::LOAD_SLOTS as usize,
        ));
        let mut tasks = tokio::task::JoinSet::new();
        // Learners take their slots in the class's order (each task waits until the one
        // before it has its slot; the semaphore serves requests in order), so who is
        // graded beside whom follows from the list, not from the runtime's scheduling.
        let mut before: Option<tokio::sync::oneshot::Receiver<()>> = None;
        for learner in todo {
            let (class, slots, gate) = (self.clone(), slots.clone(), load_gate.clone());
            let (has_slot, next) = tokio::sync::oneshot::channel();
            let wait = before.replace(next);
            tasks.spawn(async move {
                if let Some(wait) = wait {
                    let _ = wait.await;
                }
                let slot = slots.acquire_owned().await.ok();
                let _ = has_slot.send(());
                if class.cancel.is_cancelled() {
                    return None;
                }
                // The run gives the slot back before its teardown; whatever is left of
                // it goes when the learner is done.
                let slot = grade::SlotHandOff::holding(slot);
                let graded = class.grade_one(learner, gate, slot.clone()).await;
                slot.give_back();
                Some(graded)
            });
        }
        let out = &self.opts.out_dir;
        while let Some(joined) = tasks.join_next().await {
            let Ok(Some((name, report, took))) = joined else {
                continue;
            };
            self.reporter.report(&RunEvent::LearnerFinished {
                done: done.len() + 1,
                total,
                name: &name,
                report: &report,
                took,
            });
            done.insert(name, report);
            // Nothing is lost: the gradebook is rewritten as each learner finishes.
            write_class(out, &done)?;
        }
        write_class(out, &done)?;
        // In GitHub Actions, the class summary (not each learner's) goes to the job summary.
        report::write::append_step_summary(&report::class::summary_md(&done))?;
        Ok(done)
    }

    /// Grades one learner into its folder; its name, report and how long it took.
    async fn grade_one(
        &self,
        learner: Learner,
        load_gate: Arc<tokio::sync::Semaphore>,
        slot: grade::SlotHandOff,
    ) -> (String, Report, Duration) {
        let opts = &self.opts;
        self.reporter.report(&RunEvent::LearnerStarted {
            name: &learner.name,
        });
        let dir = opts.out_dir.join(&learner.name);
        let _ = std::fs::create_dir_all(&dir);
        let go = GradeOptions {
            exercise: opts.exercise.clone(),
            submission: learner.path.clone(),
            out_dir: dir.clone(),
            seed: opts.seed.unwrap_or_else(rand::random),
            images: opts.images.clone(),
            recipes: opts.recipes.clone(),
            build_timeout: opts.build_timeout,
            run_id: grade::new_run_id(),
            show_hidden: false,
            time_limit: opts.time_limit,
            load_gate: Some(load_gate),
            git: GitPick {
                git_ref: learner.git_ref.clone().or_else(|| opts.git.git_ref.clone()),
                before: opts.git.before.clone(),
            },
            shared_db: self.shared_db.clone(),
            only: opts.only.clone(),
            reference: opts.reference.clone(),
            reach: opts.reach,
            slot,
        };
        let start = Instant::now();
        let report = if learner.path.is_dir() || source::is_git_url(&learner.path.to_string_lossy())
        {
            // Runs side by side say nothing: the class's progress is the line per learner.
            match &self.docker {
                Runner::Docker(docker) => grade::grade(docker, &go, &Quiet, &self.cancel).await,
                Runner::Process(p) => {
                    super::local::grade_process(&go, p, &Quiet, &self.cancel).await
                }
            }
        } else {
            grade::not_a_folder(&go)
        };
        let _ = report::write::write_reports(&report, &dir, &opts.formats, false);
        (learner.name, report, start.elapsed())
    }
}

/// The gradebook and class summary of `reports`, into `out`.
fn write_class(out: &Path, reports: &BTreeMap<String, Report>) -> Result<(), BatchError> {
    report::class::write_class(out, reports).map_err(BatchError::Write)
}

/// Why shards' folders could not be merged.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MergeError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{}: {source}", path.display())]
    Report {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the learner `{0}` is in more than one shard")]
    Twice(String),
    #[error(transparent)]
    Write(#[from] BatchError),
}

/// Combines the folders of several shards into `out`. A shard's folder that is missing
/// is reported and skipped.
pub(crate) fn merge(
    dirs: &[PathBuf],
    out: &Path,
    reporter: &dyn Reporter,
) -> Result<BTreeMap<String, Report>, MergeError> {
    let mut all = BTreeMap::new();
    for dir in dirs {
        // A shard that produced nothing (its job failed) does not hide the others.
        if !dir.is_dir() {
            reporter.report(&RunEvent::ShardMissing { dir });
            continue;
        }
        for e in std::fs::read_dir(dir)?.flatten() {
            let report = e.path().join("report.json");
            let Ok(text) = std::fs::read_to_string(&report) else {
                continue;
            };
            let r: Report = serde_json::from_str(&text).map_err(|source| MergeError::Report {
                path: report.clone(),
                source,
            })?;
            let name = e.file_name().to_string_lossy().into_owned();
            if all.insert(name.clone(), r).is_some() {
                return Err(MergeError::Twice(name));
            }
            if dir != out {
                copy_files(&e.path(), &out.join(&name))?;
            }
        }
    }
    std::fs::create_dir_all(out)?;
    write_class(out, &all)?;
    Ok(all)
}

/// Copies the files (not the folders) of `from` into `to`.
fn copy_files(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for f in std::fs::read_dir(from)?.flatten() {
        if f.path().is_file() {
            std::fs::copy(f.path(), to.join(f.file_name()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Remembers the folders `merge` said were missing.
    #[derive(Default)]
    struct Missing(Mutex<Vec<PathBuf>>);

    impl Reporter for Missing {
        fn report(&self, event: &RunEvent<'_>) {
            if let RunEvent::ShardMissing { dir } = event {
                self.0.lock().unwrap().push(dir.to_path_buf());
            }
        }
    }

    #[test]
    fn merge_tells_the_reporter_of_a_missing_shard_and_goes_on() {
        let base = std::env::temp_dir().join(format!("grader-merge-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (gone, out) = (base.join("gone"), base.join("out"));
        let missing = Missing::default();
        let all = merge(std::slice::from_ref(&gone), &out, &missing).unwrap();
        assert!(all.is_empty());
        assert_eq!(*missing.0.lock().unwrap(), vec![gone]);
        assert!(out.join("gradebook.csv").is_file());
        let _ = std::fs::remove_dir_all(&base);
    }
}
