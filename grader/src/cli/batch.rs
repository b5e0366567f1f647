//! `grader batch`: a whole class, a few learners at a time, a line per learner.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use grader_report::{Fault, exit};

use super::{Context, Formats, bad_input};
use crate::report::terminal::ClassProgress;
use crate::run::{self, BatchOptions, GitPick, Shard};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
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
    #[arg(long, default_value = "json,html", value_parser = Formats::parse)]
    format: Formats,
    /// Time limit of each learner's image build, in seconds
    #[arg(long, default_value_t = 600)]
    build_timeout: u64,
    /// Time limit of each learner's whole run, in seconds
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
    let reach = match args.reach.reach() {
        Ok(r) => r,
        Err(e) => return Ok(bad_input(e)),
    };
    let process = match args.runtime.process() {
        Ok(p) => p,
        Err(e) => return Ok(bad_input(e)),
    };
    let Some(exercise) = super::exercise::load_or_report(&ctx.exercises, &args.exercise) else {
        return Ok(Fault::Exercise.exit_code());
    };
    let (only, reference) = match super::exercise::selection_and_reference(&exercise, &args.only) {
        Ok(v) => v,
        Err(code) => return Ok(code),
    };
    let mut learners = match run::learners(&args.submissions) {
        Ok(l) => l,
        Err(e) => return Ok(bad_input(e)),
    };
    if let Some(s) = &args.shard {
        let shard = match Shard::parse(s) {
            Ok(shard) => shard,
            Err(e) => return Ok(bad_input(format_args!("--shard {s}: {e}"))),
        };
        learners.retain(|l| shard.holds(&l.name));
    }
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let opts = BatchOptions {
        exercise,
        learners,
        out_dir: args.out,
        jobs: args.jobs.unwrap_or((cpus / 2).max(1)),
        resume: args.resume,
        seed: args.seed,
        images: ctx.images,
        recipes: ctx.recipes,
        formats: args.format.0,
        build_timeout: Duration::from_secs(args.build_timeout),
        time_limit: args.timeout.map(Duration::from_secs),
        git: GitPick {
            git_ref: args.git_ref,
            before: args.deadline,
        },
        shared_db: !args.no_shared_db,
        only,
        reference,
        reach,
        process,
    };
    let cancel = super::cancel_on_signal();
    let reports = run::grade_class(opts, Arc::new(ClassProgress), &cancel).await?;
    Ok(if cancel.is_cancelled() {
        Fault::Grader.exit_code()
    } else if reports.values().all(|r| r.passed) {
        exit::PASSED
    } else {
        exit::BELOW_PASS_MARK
    })
}
