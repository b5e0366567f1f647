//! `grader grade`: one submission against one exercise, on the terminal.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

use super::{Context, Formats, bad_input};
use crate::report::terminal::Terminal;
use crate::run::{self, GitPick, GradeOptions};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Exercise name (bundled) or path to its folder or spec file
    exercise: String,
    /// The submission's folder, or a git repository (clone URL or local path); with
    /// --url, the folder --watch watches
    #[arg(required_unless_present = "url")]
    submission: Option<PathBuf>,
    /// Grade the server already running at this base URL (e.g. http://localhost:8080)
    /// instead of building and starting one: checks that restart or crash it, or stop
    /// its database, are skipped
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// With --url: the running server's database, for the checks that read it
    #[arg(long, value_name = "URL", requires = "url")]
    database_url: Option<String>,
    /// With --url: the running server's Redis, for the checks that read it
    #[arg(long, value_name = "URL", requires = "url")]
    redis_url: Option<String>,
    /// Grade again whenever a file in the submission's folder changes, and say which
    /// checks pass or fail since the last run (Ctrl-C ends it)
    #[arg(long)]
    watch: bool,
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
    /// Reports to write besides report.json: json, junit, gradescope, classroom50, md, html
    #[arg(long, default_value = "json", value_parser = Formats::parse)]
    format: Formats,
    /// Time limit of the whole run, in seconds; the report keeps what finished
    #[arg(long)]
    timeout: Option<u64>,
    /// Grade only these checks (and the checks they need); the others are not run
    #[arg(long, value_name = "ID[,ID...]", value_delimiter = ',')]
    only: Vec<String>,
    #[command(flatten)]
    runtime: super::RuntimeArgs,
    #[command(flatten)]
    reach: super::ReachArgs,
}

pub(crate) async fn run(args: Args, ctx: Context) -> anyhow::Result<u8> {
    let reach = match reach_of(&args) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let Some(exercise) = super::exercise::load_or_report(&ctx.exercises, &args.exercise) else {
        return Ok(grader_report::Fault::Exercise.exit_code());
    };
    let (only, reference) = match super::exercise::selection_and_reference(&exercise, &args.only) {
        Ok(v) => v,
        Err(code) => return Ok(code),
    };
    let attach = match attach_of(&args) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let process = match args.runtime.process() {
        Ok(p) => p,
        Err(e) => return Ok(bad_input(e)),
    };
    if process.is_some() && attach.is_some() {
        return Ok(bad_input(
            "--url grades a server that is already running: it takes no --runtime",
        ));
    }
    let git = GitPick {
        git_ref: args.git_ref,
        before: args.before,
    };
    let submission = match (&args.submission, &attach) {
        (Some(s), _) => s.clone(),
        (None, Some(a)) => PathBuf::from(&a.url),
        (None, None) => return Ok(bad_input("give a submission folder, or --url")),
    };
    if (attach.is_none() || args.watch)
        && let Err(code) = check_submission(&submission, &git, attach.is_some())
    {
        return Ok(code);
    }
    let run_id = run::new_run_id();
    let out_dir = args
        .out
        .unwrap_or_else(|| PathBuf::from("grader-out").join(&run_id));
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let opts = GradeOptions {
        exercise,
        submission,
        out_dir,
        seed: args.seed.unwrap_or_else(rand::random),
        images: ctx.images,
        recipes: ctx.recipes,
        build_timeout: Duration::from_secs(args.build_timeout),
        run_id,
        show_hidden: args.show_hidden,
        time_limit: args.timeout.map(Duration::from_secs),
        load_gate: None,
        git,
        shared_db: None,
        only,
        reference,
        reach,
        slot: Default::default(),
    };
    let terminal = Terminal::new(ctx.no_color);
    let cancel = super::cancel_on_signal();
    let once = || async {
        match (&attach, &process) {
            (Some(a), _) => run::attach_alone(&opts, a, &args.format.0, &terminal).await,
            (None, Some(p)) => {
                run::grade_process_alone(&opts, p, &args.format.0, &terminal, &cancel).await
            }
            (None, None) => run::grade_alone(&opts, &args.format.0, &terminal, &cancel)
                .await
                .map_err(anyhow::Error::from),
        }
    };
    if !args.watch {
        let report = once().await?;
        return Ok(grader_report::exit::for_report(&report));
    }
    // Each grading compares with the folder as it was when that grading began: a save
    // made while it runs starts the next one.
    let folder = opts.submission.clone();
    let mut graded = run::watch::snapshot(&folder);
    let mut report = once().await?;
    loop {
        println!("watching {} for changes (Ctrl-C ends it)", folder.display());
        let Some(now) = run::watch::changed(&folder, &graded, &cancel).await else {
            return Ok(grader_report::exit::for_report(&report));
        };
        graded = now;
        let next = once().await?;
        for line in run::watch::since(&report, &next) {
            println!("{line}");
        }
        report = next;
    }
}

/// Why the submission given is not one to grade (or to watch, with --url).
fn check_submission(submission: &std::path::Path, git: &GitPick, attached: bool) -> Result<(), u8> {
    let given = submission.to_string_lossy();
    if !submission.is_dir() && (attached || !run::is_git_url(&given)) {
        return Err(bad_input(format_args!(
            "the submission `{}` is not a folder{}",
            submission.display(),
            if attached {
                " (--watch watches a folder)"
            } else {
                " (nor a git URL)"
            }
        )));
    }
    if git.is_set() && !run::needs_clone(&given, git) {
        return Err(bad_input(format_args!(
            "--ref and --before need a git repository; `{}` is not one",
            submission.display()
        )));
    }
    Ok(())
}

/// Where the engine's ports are reached; a running server (--url) needs no engine.
fn reach_of(args: &Args) -> Result<crate::docker::Reach, u8> {
    match &args.url {
        Some(_) => Ok(crate::docker::Reach::default()),
        None => args.reach.reach().map_err(bad_input),
    }
}

/// The running server to grade (--url), if any.
fn attach_of(args: &Args) -> Result<Option<run::Attach>, u8> {
    let Some(url) = &args.url else {
        return Ok(None);
    };
    Ok(Some(run::Attach {
        url: run::check_url(url).map_err(bad_input)?,
        database_url: args.database_url.clone(),
        redis_url: args.redis_url.clone(),
    }))
}
