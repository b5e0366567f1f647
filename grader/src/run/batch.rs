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
use super::source::{self, GitPick};
use crate::docker::{self, DockerError, ImageNames, SharedPostgres};
use crate::report::{self, Format};

/// One learner's submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Learner {
    pub(crate) name: String,
    /// A folder, or a git repository (clone URL or local path).
    pub(crate) path: PathBuf,
    /// The ref to grade (a CSV's third column).
    pub(crate) git_ref: Option<String>,
}

/// A slice of a class: shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shard {
    pub(crate) index: u32,
    pub(crate) count: u32,
}

/// Why `I/N` is not a shard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ShardError {
    #[error("expected I/N, e.g. 2/4")]
    NoSlash,
    #[error("I in I/N is a whole number")]
    Index,
    #[error("N in I/N is a whole number")]
    Count,
    #[error("I/N needs 1 <= I <= N")]
    OutOfRange,
}

impl Shard {
    pub(crate) fn parse(s: &str) -> Result<Shard, ShardError> {
        let (i, n) = s.split_once('/').ok_or(ShardError::NoSlash)?;
        let index: u32 = i.trim().parse().map_err(|_| ShardError::Index)?;
        let count: u32 = n.trim().parse().map_err(|_| ShardError::Count)?;
        if count == 0 || index == 0 || index > count {
            return Err(ShardError::OutOfRange);
        }
        Ok(Shard { index, count })
    }

    /// A learner's shard depends on the name alone, so adding a learner moves no one.
    pub(crate) fn holds(&self, name: &str) -> bool {
        super::fnv1a(name.as_bytes()) % u64::from(self.count) == u64::from(self.index - 1)
    }
}

/// Why the list of learners could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LearnersError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: expected `name,path[,ref]`", path.display())]
    Syntax { path: PathBuf, line: usize },
    #[error("{}:{line}: `{name}` is not a usable learner name", path.display())]
    Name {
        path: PathBuf,
        line: usize,
        name: String,
    },
    #[error("the learner `{0}` appears twice")]
    Twice(String),
}

/// The learners of a folder (one sub-folder each) or of a CSV of `name,path` lines
/// (paths relative to the CSV), sorted by name.
pub(crate) fn learners(source: &Path) -> Result<Vec<Learner>, LearnersError> {
    let read = |err| LearnersError::Read {
        path: source.to_path_buf(),
        source: err,
    };
    let mut out = if source.is_dir() {
        let entries = std::fs::read_dir(source).map_err(read)?;
        entries
            .flatten()
            .filter_map(|e| {
                let path = e.path();
                let name = e.file_name().to_string_lossy().into_owned();
                (path.is_dir() && !name.starts_with('.')).then_some(Learner {
                    name,
                    path,
                    git_ref: None,
                })
            })
            .collect()
    } else {
        let text = std::fs::read_to_string(source).map_err(read)?;
        learners_of_csv(source, &text)?
    };
    out.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(w) = out.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(LearnersError::Twice(w[0].name.clone()));
    }
    Ok(out)
}

/// The learners of a CSV's text; paths are relative to the CSV's folder.
fn learners_of_csv(source: &Path, text: &str) -> Result<Vec<Learner>, LearnersError> {
    let base = source.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty()
            || line.starts_with('#')
            || (n == 0
                && (line.eq_ignore_ascii_case("name,path")
                    || line.eq_ignore_ascii_case("name,path,ref")))
        {
            continue;
        }
        let (name, rest) = line.split_once(',').ok_or_else(|| LearnersError::Syntax {
            path: source.to_path_buf(),
            line: n + 1,
        })?;
        let (path, git_ref) = match rest.split_once(',') {
            Some((p, r)) if !r.trim().is_empty() => (p, Some(r.trim().to_string())),
            Some((p, _)) => (p, None),
            None => (rest, None),
        };
        let name = name.trim().to_string();
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(LearnersError::Name {
                path: source.to_path_buf(),
                line: n + 1,
                name,
            });
        }
        let path = path.trim();
        out.push(Learner {
            name,
            // A clone URL stays as it is; a path is relative to the CSV.
            path: if source::is_git_url(path) {
                PathBuf::from(path)
            } else {
                base.join(path)
            },
            git_ref,
        });
    }
    Ok(out)
}

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
    Write(Box<dyn std::error::Error + Send + Sync>),
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
    let docker = docker::connect().await?;
    std::fs::create_dir_all(&opts.out_dir)?;
    // Images once, before the class: not once per learner.
    docker::ensure_images(
        &docker,
        &opts.images,
        &opts.recipes,
        docker::ImageNeeds::of(&opts.exercise),
        &mut |line| reporter.report(&RunEvent::Images { line }),
    )
    .await?;
    let (done, todo) = already_graded(&opts);
    if !done.is_empty() {
        reporter.report(&RunEvent::BatchResumed {
            done: done.len(),
            todo: todo.len(),
        });
    }
    // One database server for the class: a fresh database per learner on it.
    let shared_db = if opts.shared_db && opts.exercise.postgres.is_some() && !todo.is_empty() {
        let id = grade::new_run_id();
        reporter.report(&RunEvent::ClassDatabaseStarting { run_id: &id });
        match SharedPostgres::start(&docker, &opts.images, &id).await {
            Ok(pg) => Some(Arc::new(pg)),
            Err(e) => {
                let _ = docker::clean_run(&docker, &id).await;
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

/// What every learner's run of a class shares.
#[derive(Clone)]
struct Class {
    docker: Docker,
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
        let load_gate = Arc::new(tokio::sync::Semaphore::new(1));
        let mut tasks = tokio::task::JoinSet::new();
        for learner in todo {
            let (class, slots, gate) = (self.clone(), slots.clone(), load_gate.clone());
            tasks.spawn(async move {
                let _slot = slots.acquire_owned().await.ok();
                if class.cancel.is_cancelled() {
                    return None;
                }
                Some(class.grade_one(learner, gate).await)
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
        };
        let start = Instant::now();
        let report = if learner.path.is_dir() || source::is_git_url(&learner.path.to_string_lossy())
        {
            // Runs side by side say nothing: the class's progress is the line per learner.
            grade::grade(&self.docker, &go, &Quiet, &self.cancel).await
        } else {
            grade::not_a_folder(&go)
        };
        let _ = report::write::write_reports(&report, &dir, &opts.formats, false);
        (learner.name, report, start.elapsed())
    }
}

/// The gradebook and class summary of `reports`, into `out`.
fn write_class(out: &Path, reports: &BTreeMap<String, Report>) -> Result<(), BatchError> {
    report::class::write_class(out, reports).map_err(|e| BatchError::Write(e.into()))
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

    #[test]
    fn shards_parse_and_say_what_is_wrong() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(Shard::parse(" 1 / 1 "), Ok(Shard { index: 1, count: 1 }));
        assert_eq!(Shard::parse("2"), Err(ShardError::NoSlash));
        assert_eq!(Shard::parse("x/4"), Err(ShardError::Index));
        assert_eq!(Shard::parse("1/y"), Err(ShardError::Count));
        assert_eq!(Shard::parse("3/2"), Err(ShardError::OutOfRange));
        assert_eq!(Shard::parse("0/2"), Err(ShardError::OutOfRange));
        assert_eq!(ShardError::OutOfRange.to_string(), "I/N needs 1 <= I <= N");
    }

    #[test]
    fn a_learner_is_in_exactly_one_shard_and_it_never_moves() {
        for name in ["ada", "bob", "grace", "linus", ""] {
            let holding: Vec<u32> = (1..=4)
                .filter(|&index| Shard { index, count: 4 }.holds(name))
                .collect();
            assert_eq!(holding.len(), 1, "{name}: {holding:?}");
        }
        // FNV-1a of "a" is af63dc4c8601ec8c: the shard of a name is stable across releases.
        assert_eq!(super::super::fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert!(Shard { index: 1, count: 4 }.holds("a"));
    }

    #[test]
    fn a_csv_lists_learners_with_paths_beside_it() {
        let csv = Path::new("/class/list.csv");
        let text = "name,path,ref\n# a comment\n\nbob, bob-dir ,main\nada,https://example.invalid/ada.git,\n";
        let mut got = learners_of_csv(csv, text).unwrap();
        got.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(
            got,
            vec![
                Learner {
                    name: "ada".into(),
                    path: PathBuf::from("https://example.invalid/ada.git"),
                    git_ref: None,
                },
                Learner {
                    name: "bob".into(),
                    path: PathBuf::from("/class/bob-dir"),
                    git_ref: Some("main".into()),
                },
            ]
        );
        let bad = learners_of_csv(csv, "ada\n").unwrap_err();
        assert_eq!(
            bad.to_string(),
            "/class/list.csv:1: expected `name,path[,ref]`"
        );
        let bad = learners_of_csv(csv, "../x,dir\n").unwrap_err();
        assert_eq!(
            bad.to_string(),
            "/class/list.csv:1: `../x` is not a usable learner name"
        );
    }

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
