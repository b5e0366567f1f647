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
    #[arg(long, default_value = "json", value_parser = Formats::parse)]
    format: Formats,
    /// Time limit of the whole run, in seconds; the report keeps what finished
    #[arg(long)]
    timeout: Option<u64>,
}

pub(crate) async fn run(args: Args, ctx: Context) -> anyhow::Result<u8> {
    let Some(exercise) = super::exercise::load_or_report(&ctx.exercises, &args.exercise) else {
        return Ok(grader_report::Fault::Exercise.exit_code());
    };
    let git = GitPick {
        git_ref: args.git_ref,
        before: args.before,
    };
    let submission = args.submission;
    let given = submission.to_string_lossy();
    if !submission.is_dir() && !run::is_git_url(&given) {
        return Ok(bad_input(format_args!(
            "the submission `{}` is not a folder (nor a git URL)",
            submission.display()
        )));
    }
    if git.is_set() && !run::needs_clone(&given, &git) {
        return Ok(bad_input(format_args!(
            "--ref and --before need a git repository; `{}` is not one",
            submission.display()
        )));
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
    };
    let terminal = Terminal::new(ctx.no_color);
    let cancel = super::cancel_on_signal();
    let report = run::grade_alone(&opts, &args.format.0, &terminal, &cancel).await?;
    Ok(grader_report::exit::for_report(&report))
}
