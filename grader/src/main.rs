//! `grader`: grades a learner's backend in Docker. This file is the command line only;
//! the work is in `grade.rs` (one run), `docker/` and the `harness` crate.

mod batch;
mod docker;

mod grade;
mod report;
mod source;
mod ui;
mod variant;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use harness::spec::{SPEC_FILE, SpecErrors};
use tokio_util::sync::CancellationToken;

use crate::docker::ImageNames;
use crate::ui::Ui;

/// Grades hands-on backend exercises for real: builds a submission, starts it beside a
/// fresh PostgreSQL, probes it over HTTP and SQL, and writes a scored report.
#[derive(Debug, Parser)]
#[command(version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Folder of the bundled exercises [default: ./exercises, else the source tree's]
    #[arg(long, global = true, env = "GRADER_EXERCISES")]
    exercises: Option<PathBuf>,
    /// Folder of the image recipes [default: ./docker, else the source tree's]
    #[arg(long, global = true, env = "GRADER_RECIPES")]
    recipes: Option<PathBuf>,
    /// Never colour the output (NO_COLOR is honoured too)
    #[arg(long, global = true)]
    no_color: bool,
    #[command(flatten)]
    images: ImageArgs,
}

#[derive(Debug, clap::Args)]
struct ImageArgs {
    /// The Debian base image learners build FROM
    #[arg(
        long,
        global = true,
        env = "GRADER_BASE_IMAGE",
        default_value = "debian:bookworm-slim"
    )]
    base_image: String,
    /// The PostgreSQL image (must honour POSTGRES_USER/PASSWORD/DB)
    #[arg(
        long,
        global = true,
        env = "GRADER_POSTGRES_IMAGE",
        default_value = "postgres:15-bookworm"
    )]
    postgres_image: String,
    /// The port-forwarder image (entrypoint: socat)
    #[arg(
        long,
        global = true,
        env = "GRADER_SOCAT_IMAGE",
        default_value = "alpine/socat:latest"
    )]
    socat_image: String,
    /// The Redis image, for exercises with [services.redis]
    #[arg(
        long,
        global = true,
        env = "GRADER_REDIS_IMAGE",
        default_value = "redis:7-bookworm"
    )]
    redis_image: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Grade a submission (a folder with a Dockerfile) against an exercise
    Grade {
        /// Exercise name (bundled) or path to its folder or spec file
        exercise: String,
        /// The submission's folder, or a git repository (clone URL or local path)
        submission: PathBuf,
        /// Grade this branch, tag or commit of a git submission (cloned first)
        #[arg(long = "ref", value_name = "REF")]
        git_ref: Option<String>,
        /// Grade the last commit made before this date (e.g. 2026-12-01T23:59:00Z)
        #[arg(long, value_name = "DATE")]
        before: Option<String>,
        /// Where to write report.json and the logs [default: grader-out/RUN_ID]
        #[arg(long)]
        out: Option<PathBuf>,
        /// Seed for the random test data (printed in every report; replays a run)
        #[arg(long)]
        seed: Option<u64>,
        /// Time limit of the submission's image build, in seconds
        #[arg(long, default_value_t = 600)]
        build_timeout: u64,
        /// Show the details of hidden checks' failures (for instructors)
        #[arg(long)]
        show_hidden: bool,
        /// Reports to write besides report.json: json, junit, gradescope, md, html
        #[arg(long, default_value = "json")]
        format: String,
        /// Time limit of the whole run, in seconds; the report keeps what finished
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// Render a saved report.json again, in other formats
    Report {
        /// A report.json written by `grader grade`
        report: PathBuf,
        /// Formats to write: json, junit, gradescope, md, html
        #[arg(long, default_value = "html")]
        format: String,
        /// Where to write them [default: beside the report]
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Make sure every image the grader needs exists (use, else pull, else build)
    Images,
    /// Remove every container, network and volume a grader run left behind
    Clean {
        /// Only what this run made (its id, e.g. grader-1a2b3c4d)
        #[arg(long)]
        run: Option<String>,
    },
    /// Validate an exercise spec without Docker
    Check {
        /// Exercise name (bundled) or path to its folder or spec file
        exercise: String,
    },
    /// List the bundled exercises
    List,
    /// Start a learner's folder: the exercise README, a starter server and a Dockerfile
    Init {
        /// Exercise name (bundled) or path to its folder or spec file
        exercise: String,
        /// go, node, php, ruby or python
        #[arg(long)]
        lang: String,
        /// The folder to create (must not exist, or be empty)
        dir: PathBuf,
    },
    /// Grade a whole class: a folder with one sub-folder per learner, or a CSV of name,path
    Batch {
        /// Exercise name (bundled) or path to its folder or spec file
        exercise: String,
        /// A folder of submissions (one per learner) or a CSV of `name,path[,ref]` lines
        /// (a path may be a git clone URL)
        submissions: PathBuf,
        /// Grade this ref of every git submission (a CSV's third column overrides it)
        #[arg(long = "ref", value_name = "REF")]
        git_ref: Option<String>,
        /// Grade each git submission's last commit made before this date
        #[arg(long, value_name = "DATE")]
        deadline: Option<String>,
        /// A PostgreSQL server per learner, instead of one for the class with a fresh
        /// database per learner
        #[arg(long)]
        no_shared_db: bool,
        /// Where each learner's folder, gradebook.csv and the class summary go
        #[arg(long, default_value = "grader-class")]
        out: PathBuf,
        /// Submissions graded at once [default: half the CPUs, at least 1]
        #[arg(long, short = 'j')]
        jobs: Option<usize>,
        /// Skip learners that already have a report in --out
        #[arg(long)]
        resume: bool,
        /// Grade only shard I of N (e.g. 2/4): a learner's shard depends on the name only
        #[arg(long)]
        shard: Option<String>,
        /// One seed for every learner (default: a new one each)
        #[arg(long)]
        seed: Option<u64>,
        /// Reports for each learner besides report.json
        #[arg(long, default_value = "json,html")]
        format: String,
        /// Time limit of each learner's image build, in seconds
        #[arg(long, default_value_t = 600)]
        build_timeout: u64,
        /// Time limit of each learner's whole run, in seconds
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// Combine the output folders of several `batch --shard` runs into one gradebook
    Merge {
        /// The shards' --out folders
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where the combined gradebook and summary go
        #[arg(long, default_value = "grader-class")]
        out: PathBuf,
    },
    /// Send load to a URL and print the figures (the prober of `load` steps, alone)
    Load {
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
    },
}

const EXIT_CODES: &str = "Exit codes:
  0  graded, and the score reached the pass mark
  1  graded, and the score is below the pass mark
  2  the submission could not be built or started
  3  bad exercise spec or command line
  4  the grader or Docker failed, or the run was interrupted";

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                grader_report::exit::BAD_INPUT
            } else {
                grader_report::exit::PASSED
            });
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(grader_report::exit::GRADER_FAILED);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(grader_report::exit::GRADER_FAILED)
        }
    }
}

/// A folder given on the command line, else one in the working directory, else the
/// one in the source tree this binary was built from.
fn default_dir(given: Option<PathBuf>, name: &str) -> PathBuf {
    given.unwrap_or_else(|| {
        let here = PathBuf::from(name);
        if here.is_dir() {
            here
        } else {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
        }
    })
}

fn resolve_exercise(exercises: &Path, arg: &str) -> PathBuf {
    let path = PathBuf::from(arg);
    if path.exists() {
        path
    } else {
        exercises.join(arg)
    }
}

fn print_spec_errors(errors: &SpecErrors) {
    eprintln!("{errors}");
}

/// The folders of `dir` that hold an exercise spec, sorted by name.
fn bundled_exercises(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join(SPEC_FILE).is_file())
        .collect();
    found.sort();
    Ok(found)
}

/// The exercise, or `None` after printing what is wrong with its spec.
fn load_or_report(exercises: &Path, arg: &str) -> Option<harness::Exercise> {
    let path = resolve_exercise(exercises, arg);
    if !path.exists() {
        // Neither a path from here nor a bundled name: say both, and what is bundled.
        let names: Vec<String> = bundled_exercises(exercises)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
            .collect();
        eprintln!(
            "error: no exercise spec here: `{arg}` is not a folder or spec file (from {}), nor an exercise in {}\n  bundled exercises: {}",
            std::env::current_dir().map_or_else(|_| ".".into(), |d| d.display().to_string()),
            std::fs::canonicalize(exercises)
                .unwrap_or_else(|_| exercises.to_path_buf())
                .display(),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
        return None;
    }
    harness::load_exercise(&path)
        .map_err(|errors| print_spec_errors(&errors))
        .ok()
}

/// The `--format` list, or `None` after saying which name is unknown.
fn formats_or_report(list: &str) -> Option<Vec<report::Format>> {
    report::Format::parse_list(list)
        .map_err(|e| eprintln!("error: --format: {e}"))
        .ok()
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    let exercises = default_dir(cli.exercises.clone(), "exercises");
    let recipes = default_dir(cli.recipes.clone(), "docker");
    let images = ImageNames {
        base: cli.images.base_image.clone(),
        postgres: cli.images.postgres_image.clone(),
        socat: cli.images.socat_image.clone(),
        redis: cli.images.redis_image.clone(),
    };
    let ui = Ui::new(cli.no_color);
    match cli.command {
        Command::List => {
            let entries = bundled_exercises(&exercises)
                .with_context(|| format!("reading {}", exercises.display()))?;
            for e in entries {
                match harness::load_exercise(&e) {
                    Ok(ex) => println!(
                        "{:<16} {} ({} checks, {} points)",
                        ex.name,
                        ex.title,
                        ex.checks.len(),
                        ex.max_points()
                    ),
                    Err(_) => println!(
                        "{:<16} (invalid spec: run `grader check`)",
                        e.file_name().unwrap_or_default().to_string_lossy()
                    ),
                }
            }
            Ok(grader_report::exit::PASSED)
        }
        Command::Check { exercise } => match load_or_report(&exercises, &exercise) {
            Some(ex) => {
                println!(
                    "ok: {} — {} checks, {} points, pass mark {}%",
                    ex.name,
                    ex.checks.len(),
                    ex.max_points(),
                    ex.pass_mark
                );
                Ok(grader_report::exit::PASSED)
            }
            None => Ok(grader_report::exit::BAD_INPUT),
        },
        Command::Clean { run } => {
            let docker = docker::connect().await?;
            let cleaned = match &run {
                Some(id) => docker::clean_run(&docker, id).await?,
                None => docker::clean_all(&docker).await?,
            };
            println!(
                "removed {} container(s), {} network(s), {} volume(s) labelled {}",
                cleaned.containers,
                cleaned.networks,
                cleaned.volumes,
                docker::RUN_LABEL
            );
            Ok(grader_report::exit::PASSED)
        }
        Command::Images => {
            let docker = docker::connect().await?;
            docker::ensure_images(
                &docker,
                &images,
                &recipes,
                docker::ImageNeeds::ALL,
                &mut |l| ui.step(l),
            )
            .await?;
            ui.step(&format!(
                "images ready: {}, {}, {}, {}",
                images.base, images.postgres, images.socat, images.redis
            ));
            Ok(grader_report::exit::PASSED)
        }
        Command::Grade {
            exercise,
            submission,
            git_ref,
            before,
            out,
            seed,
            build_timeout,
            show_hidden,
            format,
            timeout,
        } => {
            let Some(formats) = formats_or_report(&format) else {
                return Ok(grader_report::exit::BAD_INPUT);
            };
            let Some(exercise) = load_or_report(&exercises, &exercise) else {
                return Ok(grader_report::exit::BAD_INPUT);
            };
            let git = source::GitPick { git_ref, before };
            let given = submission.to_string_lossy();
            if !submission.is_dir() && !source::is_git_url(&given) {
                eprintln!(
                    "error: the submission `{}` is not a folder (nor a git URL)",
                    submission.display()
                );
                return Ok(grader_report::exit::BAD_INPUT);
            }
            if git.is_set() && !source::needs_clone(&given, &git) {
                eprintln!(
                    "error: --ref and --before need a git repository; `{}` is not one",
                    submission.display()
                );
                return Ok(grader_report::exit::BAD_INPUT);
            }
            let run_id = grade::new_run_id();
            let out_dir = out.unwrap_or_else(|| PathBuf::from("grader-out").join(&run_id));
            std::fs::create_dir_all(&out_dir)
                .with_context(|| format!("creating {}", out_dir.display()))?;
            let seed = seed.unwrap_or_else(rand::random);
            ui.step(&format!(
                "grading {} against {} (run {run_id}, seed {seed})",
                submission.display(),
                exercise.name
            ));
            let docker = docker::connect().await?;
            let cancel = CancellationToken::new();
            tokio::spawn(on_signal(cancel.clone()));
            let opts = grade::GradeOptions {
                exercise,
                submission,
                out_dir: out_dir.clone(),
                seed,
                images,
                recipes,
                build_timeout: Duration::from_secs(build_timeout),
                run_id,
                show_hidden,
                time_limit: timeout.map(Duration::from_secs),
                load_gate: None,
                git,
                shared_db: None,
            };
            let report = grade::grade(&docker, &opts, &ui, &cancel).await;
            let path = out_dir.join("report.json");
            report::write::write_reports(&report, &out_dir, &formats, true)?;
            ui.summary(&report, &path.display().to_string());
            Ok(grader_report::exit::for_report(&report))
        }
        Command::Batch {
            exercise,
            submissions,
            git_ref,
            deadline,
            no_shared_db,
            out,
            jobs,
            resume,
            shard,
            seed,
            format,
            build_timeout,
            timeout,
        } => {
            let Some(exercise) = load_or_report(&exercises, &exercise) else {
                return Ok(grader_report::exit::BAD_INPUT);
            };
            let Some(formats) = formats_or_report(&format) else {
                return Ok(grader_report::exit::BAD_INPUT);
            };
            let mut learners = match batch::learners(&submissions) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(grader_report::exit::BAD_INPUT);
                }
            };
            if let Some(s) = &shard {
                let shard = match batch::Shard::parse(s) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("error: --shard {s}: {e}");
                        return Ok(grader_report::exit::BAD_INPUT);
                    }
                };
                learners.retain(|l| shard.holds(&l.name));
            }
            let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
            let jobs = jobs.unwrap_or((cpus / 2).max(1));
            println!(
                "==> grading {} learners, {jobs} at a time, into {}",
                learners.len(),
                out.display()
            );
            let docker = docker::connect().await?;
            let cancel = CancellationToken::new();
            tokio::spawn(on_signal(cancel.clone()));
            let opts = batch::BatchOptions {
                exercise,
                learners,
                out_dir: out.clone(),
                jobs,
                resume,
                seed,
                images,
                recipes,
                formats,
                build_timeout: Duration::from_secs(build_timeout),
                time_limit: timeout.map(Duration::from_secs),
                git: source::GitPick {
                    git_ref,
                    before: deadline,
                },
                shared_db: !no_shared_db,
            };
            let reports = batch::run(&docker, opts, &cancel).await?;
            println!("gradebook: {}", out.join("gradebook.csv").display());
            println!("summary:   {}", out.join("summary.html").display());
            Ok(if cancel.is_cancelled() {
                grader_report::exit::GRADER_FAILED
            } else if reports.values().all(|r| r.passed) {
                grader_report::exit::PASSED
            } else {
                grader_report::exit::BELOW_PASS_MARK
            })
        }
        Command::Init {
            exercise,
            lang,
            dir,
        } => {
            let Some(exercise) = load_or_report(&exercises, &exercise) else {
                return Ok(grader_report::exit::BAD_INPUT);
            };
            if !docker::stack::STACKS.contains(&lang.as_str()) {
                eprintln!(
                    "error: --lang {lang}: expected one of {}",
                    docker::stack::STACKS.join(", ")
                );
                return Ok(grader_report::exit::BAD_INPUT);
            }
            if dir.exists()
                && std::fs::read_dir(&dir)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(true)
            {
                eprintln!("error: {} exists and is not empty", dir.display());
                return Ok(grader_report::exit::BAD_INPUT);
            }
            let template = recipes.join("templates").join(&lang);
            std::fs::create_dir_all(&dir)?;
            for f in std::fs::read_dir(template.join("starter"))
                .with_context(|| format!("reading {}", template.display()))?
                .flatten()
            {
                std::fs::copy(f.path(), dir.join(f.file_name()))?;
            }
            std::fs::copy(template.join("Dockerfile"), dir.join("Dockerfile"))?;
            if let Some(readme) = &exercise.readme {
                std::fs::copy(readme, dir.join("README.md"))?;
            }
            println!("created {} ({lang}) for {}:", dir.display(), exercise.name);
            let mut names: Vec<String> = std::fs::read_dir(&dir)?
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            for n in names {
                println!("  {n}");
            }
            println!(
                "grade it with: grader grade {} {}",
                exercise.name,
                dir.display()
            );
            Ok(grader_report::exit::PASSED)
        }
        Command::Merge { dirs, out } => {
            let all = batch::merge(&dirs, &out)?;
            println!(
                "merged {} learners into {}",
                all.len(),
                out.join("gradebook.csv").display()
            );
            Ok(grader_report::exit::PASSED)
        }
        Command::Load {
            url,
            rate,
            connections,
            duration,
            warmup,
            timeout,
            json,
        } => load_command(&url, rate, connections, &duration, &warmup, &timeout, json).await,
        Command::Report {
            report,
            format,
            out,
        } => {
            let Some(formats) = formats_or_report(&format) else {
                return Ok(grader_report::exit::BAD_INPUT);
            };
            let text = match std::fs::read_to_string(&report) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: cannot read {}: {e}", report.display());
                    return Ok(grader_report::exit::BAD_INPUT);
                }
            };
            let parsed: grader_report::Report = match serde_json::from_str(&text) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!(
                        "error: {} is not a grader report (schema {}): {e}",
                        report.display(),
                        grader_report::SCHEMA_VERSION
                    );
                    return Ok(grader_report::exit::BAD_INPUT);
                }
            };
            let dir =
                out.unwrap_or_else(|| report.parent().map(Path::to_path_buf).unwrap_or_default());
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for f in &formats {
                let path = dir.join(f.file_name());
                std::fs::write(&path, report::render(&parsed, *f))
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("{}", path.display());
            }
            Ok(grader_report::exit::PASSED)
        }
    }
}

/// `grader load`: the load prober on its own, for benchmarks and curious learners.
async fn load_command(
    url: &str,
    rate: Option<f64>,
    connections: usize,
    duration: &str,
    warmup: &str,
    timeout: &str,
    json: bool,
) -> anyhow::Result<u8> {
    use harness::load::LoadOptions;
    let parse = |what: &str, s: &str| {
        if s.trim() == "0s" || s.trim() == "0" {
            return Ok(Duration::ZERO);
        }
        harness::spec::parse_duration(s)
            .ok_or_else(|| anyhow::anyhow!("--{what}: `{s}` is not a duration such as 10s"))
    };
    let duration = parse("duration", duration)?;
    let warmup = parse("warmup", warmup)?;
    let timeout = parse("timeout", timeout)?;
    let Some(rest) = url.strip_prefix("http://") else {
        eprintln!("error: the URL must start with http:// (HTTPS is not supported)");
        return Ok(grader_report::exit::BAD_INPUT);
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if rate.is_some_and(|r| r <= 0.0) {
        eprintln!("error: --rate must be above 0");
        return Ok(grader_report::exit::BAD_INPUT);
    }
    let options = LoadOptions::steady(rate, connections, warmup, duration, timeout);
    let path = path.to_string();
    let make: std::sync::Arc<harness::load::MakeRequest> = std::sync::Arc::new(move |_, _| {
        Ok(harness::http::ProbeRequest {
            method: http::Method::GET,
            path_and_query: path.clone(),
            headers: Vec::new(),
            body: None,
            timeout,
        })
    });
    let report = harness::load::run(&options, &format!("http://{authority}"), 0, make).await;
    let peak_rss_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
            })
        });
    if json {
        let mut v = serde_json::to_value(&report)?;
        v["peak_rss_kib"] = serde_json::json!(peak_rss_kib);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        let l = &report;
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
            )
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
    Ok(if report.aborted.is_some() {
        grader_report::exit::GRADER_FAILED
    } else {
        grader_report::exit::PASSED
    })
}

/// Cancels the run on Ctrl-C or SIGTERM, so that it cleans up and still reports.
async fn on_signal(cancel: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    cancel.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    cancel.cancel();
}
