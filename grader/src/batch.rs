//! Grading a class: many submissions, a few at a time, each in its own sandbox, with a
//! gradebook and a class summary written as learners finish. `--resume` skips learners
//! already graded; `--shard I/N` grades a deterministic slice; `grader merge` combines
//! the shards' folders.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use grader_report::Report;
use harness::Exercise;
use tokio_util::sync::CancellationToken;

use crate::docker::ImageNames;
use crate::grade::{self, GradeOptions};
use crate::report::{self, Format, pts};
use crate::ui::Ui;

/// One learner's submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Learner {
    pub name: String,
    /// A folder, or a git repository (clone URL or local path).
    pub path: PathBuf,
    /// The ref to grade (a CSV's third column).
    pub git_ref: Option<String>,
}

/// A slice of a class: shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s.split_once('/').ok_or("expected I/N, e.g. 2/4")?;
        let (index, count): (u32, u32) = (
            i.trim().parse().map_err(|_| "I in I/N is a whole number")?,
            n.trim().parse().map_err(|_| "N in I/N is a whole number")?,
        );
        if count == 0 || index == 0 || index > count {
            return Err("I/N needs 1 <= I <= N".into());
        }
        Ok(Shard { index, count })
    }

    /// A learner's shard depends on the name alone, so adding a learner moves no one.
    pub fn holds(&self, name: &str) -> bool {
        let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        h % u64::from(self.count) == u64::from(self.index - 1)
    }
}

/// The learners of a folder (one sub-folder each) or of a CSV of `name,path` lines
/// (paths relative to the CSV), sorted by name.
pub fn learners(source: &Path) -> Result<Vec<Learner>, String> {
    let mut out = Vec::new();
    if source.is_dir() {
        let entries =
            std::fs::read_dir(source).map_err(|e| format!("{}: {e}", source.display()))?;
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if path.is_dir() && !name.starts_with('.') {
                out.push(Learner {
                    name,
                    path,
                    git_ref: None,
                });
            }
        }
    } else {
        let text =
            std::fs::read_to_string(source).map_err(|e| format!("{}: {e}", source.display()))?;
        let base = source.parent().unwrap_or(Path::new("."));
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
            let (name, rest) = line.split_once(',').ok_or_else(|| {
                format!("{}:{}: expected `name,path[,ref]`", source.display(), n + 1)
            })?;
            let (path, git_ref) = match rest.split_once(',') {
                Some((p, r)) if !r.trim().is_empty() => (p, Some(r.trim().to_string())),
                Some((p, _)) => (p, None),
                None => (rest, None),
            };
            let name = name.trim().to_string();
            if name.is_empty() || name.contains('/') || name.starts_with('.') {
                return Err(format!(
                    "{}:{}: `{name}` is not a usable learner name",
                    source.display(),
                    n + 1
                ));
            }
            let path = path.trim();
            out.push(Learner {
                name,
                // A clone URL stays as it is; a path is relative to the CSV.
                path: if crate::source::is_git_url(path) {
                    PathBuf::from(path)
                } else {
                    base.join(path)
                },
                git_ref,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(w) = out.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(format!("the learner `{}` appears twice", w[0].name));
    }
    Ok(out)
}

pub struct BatchOptions {
    pub exercise: Exercise,
    pub learners: Vec<Learner>,
    pub out_dir: PathBuf,
    pub jobs: usize,
    pub resume: bool,
    pub seed: Option<u64>,
    pub images: ImageNames,
    pub recipes: PathBuf,
    pub formats: Vec<Format>,
    pub build_timeout: Duration,
    pub time_limit: Option<Duration>,
    /// The ref and deadline for git submissions.
    pub git: crate::source::GitPick,
    /// One PostgreSQL server for the class, a fresh database per learner (default), or
    /// a server per learner.
    pub shared_db: bool,
}

/// Grades every learner; returns the reports by learner name.
pub async fn run(
    docker: &Docker,
    opts: BatchOptions,
    cancel: &CancellationToken,
) -> anyhow::Result<BTreeMap<String, Report>> {
    std::fs::create_dir_all(&opts.out_dir)?;
    // Images once, before the class: not once per learner.
    crate::docker::ensure_images(
        docker,
        &opts.images,
        &opts.recipes,
        crate::docker::ImageNeeds::of(&opts.exercise),
        &mut |l| println!("==> {l}"),
    )
    .await?;
    let mut done: BTreeMap<String, Report> = BTreeMap::new();
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
    let total = opts.learners.len();
    if !done.is_empty() {
        println!(
            "==> resuming: {} already graded, {} to go",
            done.len(),
            todo.len()
        );
    }
    // One database server for the class: a fresh database per learner on it.
    let shared_db = if opts.shared_db && opts.exercise.postgres.is_some() && !todo.is_empty() {
        let id = grade::new_run_id();
        println!("==> starting the class's PostgreSQL ({id})");
        match crate::docker::SharedPostgres::start(docker, &opts.images, &id).await {
            Ok(pg) => Some(Arc::new(pg)),
            Err(e) => {
                let _ = crate::docker::clean_run(docker, &id).await;
                return Err(e.into());
            }
        }
    } else {
        None
    };
    let graded = grade_all(docker, opts, cancel, todo, done, total, shared_db.clone()).await;
    if let Some(pg) = shared_db {
        pg.stop().await?;
    }
    graded
}

async fn grade_all(
    docker: &Docker,
    opts: BatchOptions,
    cancel: &CancellationToken,
    todo: Vec<Learner>,
    mut done: BTreeMap<String, Report>,
    total: usize,
    shared_db: Option<Arc<crate::docker::SharedPostgres>>,
) -> anyhow::Result<BTreeMap<String, Report>> {
    let opts = Arc::new(opts);
    let slots = Arc::new(tokio::sync::Semaphore::new(opts.jobs.max(1)));
    let load_gate = Arc::new(tokio::sync::Semaphore::new(1));
    let mut tasks = tokio::task::JoinSet::new();
    for learner in todo {
        let (docker, opts, slots, gate, cancel, shared_db) = (
            docker.clone(),
            opts.clone(),
            slots.clone(),
            load_gate.clone(),
            cancel.clone(),
            shared_db.clone(),
        );
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await.ok();
            if cancel.is_cancelled() {
                return None;
            }
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
                load_gate: Some(gate),
                git: crate::source::GitPick {
                    git_ref: learner.git_ref.clone().or_else(|| opts.git.git_ref.clone()),
                    before: opts.git.before.clone(),
                },
                shared_db,
            };
            let start = Instant::now();
            let report = if learner.path.is_dir()
                || crate::source::is_git_url(&learner.path.to_string_lossy())
            {
                // Images are ready: skip the per-run check by naming no recipes to build.
                grade::grade(&docker, &go, &Ui::quiet(), &cancel).await
            } else {
                grade::not_a_folder(&go)
            };
            let _ = report::write::write_reports(&report, &dir, &opts.formats, false);
            Some((learner.name, report, start.elapsed()))
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let Ok(Some((name, report, took))) = joined else {
            continue;
        };
        println!(
            "[{}/{total}] {name}: {}/{} ({:.0}%) {} in {:.1}s",
            done.len() + 1,
            pts(report.score),
            pts(report.max_score),
            report.percent(),
            report::verdict(&report),
            took.as_secs_f64()
        );
        done.insert(name, report);
        // Nothing is lost: the gradebook is rewritten as each learner finishes.
        report::class::write_class(&opts.out_dir, &done)?;
    }
    report::class::write_class(&opts.out_dir, &done)?;
    // In GitHub Actions, the class summary (not each learner's) goes to the job summary.
    report::write::append_step_summary(&report::class::summary_md(&done))?;
    Ok(done)
}

/// Combines the folders of several shards into `out`.
pub fn merge(dirs: &[PathBuf], out: &Path) -> anyhow::Result<BTreeMap<String, Report>> {
    let mut all = BTreeMap::new();
    for dir in dirs {
        // A shard that produced nothing (its job failed) does not hide the others.
        if !dir.is_dir() {
            eprintln!(
                "warning: {} is missing: its learners are not in the gradebook",
                dir.display()
            );
            continue;
        }
        for e in std::fs::read_dir(dir)?.flatten() {
            let report = e.path().join("report.json");
            let Ok(text) = std::fs::read_to_string(&report) else {
                continue;
            };
            let r: Report = serde_json::from_str(&text)
                .map_err(|err| anyhow::anyhow!("{}: {err}", report.display()))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if all.insert(name.clone(), r).is_some() {
                anyhow::bail!("the learner `{name}` is in more than one shard");
            }
            if dir != out {
                let to = out.join(&name);
                std::fs::create_dir_all(&to)?;
                for f in std::fs::read_dir(e.path())?.flatten() {
                    if f.path().is_file() {
                        std::fs::copy(f.path(), to.join(f.file_name()))?;
                    }
                }
            }
        }
    }
    std::fs::create_dir_all(out)?;
    report::class::write_class(out, &all)?;
    Ok(all)
}
