//! `grader test`: grades an exercise's references, legal variants and faulty variants
//! as one class, then prints the check x subject table, the mutation score and every
//! subject whose losses differ from its declaration.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use grader_report::{Fault, exit};

use super::{Context, bad_input};
use crate::report::Format;
use crate::report::terminal::ClassProgress;
use crate::run::{self, BatchOptions, GitPick, author};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Exercise name (bundled) or path to its folder or spec file
    exercise: String,
    /// Where each subject's reports and test.json go [default: grader-test/EXERCISE]
    #[arg(long)]
    out: Option<PathBuf>,
    /// Subjects graded at once [default: half the CPUs, at least 1]
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// Grade only the subjects whose name contains this (e.g. `variants-n-plus`)
    #[arg(long, value_name = "TEXT")]
    subject: Option<String>,
    /// One seed for every subject (default: a new one each)
    #[arg(long)]
    seed: Option<u64>,
    /// A PostgreSQL server per subject, instead of one for all with a database each
    #[arg(long)]
    no_shared_db: bool,
    /// Time limit of each subject's whole run, in seconds
    #[arg(long)]
    timeout: Option<u64>,
    /// Run only these checks (and the checks they need): each subject is judged on them
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
    let mut subjects = match author::subjects(&exercise) {
        Ok(s) => s,
        Err(e) => return Ok(bad_input(e)),
    };
    if let Some(text) = &args.subject {
        subjects.retain(|s| s.name.contains(text.as_str()));
        if subjects.is_empty() {
            return Ok(bad_input(format_args!(
                "no subject's name contains `{text}`"
            )));
        }
    }
    let out_dir = args
        .out
        .unwrap_or_else(|| PathBuf::from("grader-test").join(&exercise.name));
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let opts = BatchOptions {
        exercise: exercise.clone(),
        learners: subjects.iter().map(author::Subject::learner).collect(),
        out_dir: out_dir.clone(),
        jobs: args.jobs.unwrap_or((cpus / 2).max(1)),
        resume: false,
        seed: args.seed,
        images: ctx.images,
        recipes: ctx.recipes,
        formats: vec![Format::Json],
        build_timeout: Duration::from_secs(600),
        time_limit: args.timeout.map(Duration::from_secs),
        git: GitPick::default(),
        shared_db: !args.no_shared_db,
        only: only.clone(),
        reference: reference.clone(),
        reach,
        process,
    };
    let cancel = super::cancel_on_signal();
    let reports = run::grade_class(opts, Arc::new(ClassProgress), &cancel).await?;
    if cancel.is_cancelled() {
        return Ok(Fault::Grader.exit_code());
    }
    let findings = author::findings(&exercise, &subjects, &reports, only.as_deref(), &reference);
    std::fs::write(
        out_dir.join("test.json"),
        serde_json::to_string_pretty(&findings)?,
    )?;
    let partial = args.subject.is_some() || only.is_some();
    print_findings(&findings, partial, !reference.is_empty());
    println!("test.json: {}", out_dir.join("test.json").display());
    Ok(
        if findings.all_good()
            || (partial && findings.off().next().is_none() && findings.drift.is_empty())
        {
            exit::PASSED
        } else {
            exit::BELOW_PASS_MARK
        },
    )
}

fn print_findings(f: &author::Findings, partial: bool, has_baseline: bool) {
    println!();
    print!("{}", author::table(f));
    println!("\n  x lost as declared   . passed   ! lost, not declared   ? declared, not lost\n");
    let faulty = f.subjects.iter().filter(|o| o.kind == "faulty").count();
    if partial {
        println!("mutation score: not judged (only some subjects or checks were graded)");
    } else {
        println!(
            "mutation score: {:.0}% ({} of {} checks fail in some of {faulty} faulty variants)",
            f.mutation_score(),
            f.killed.len(),
            f.checks.len()
        );
        if !f.survivors.is_empty() {
            println!("  no faulty variant fails: {}", f.survivors.join(", "));
        }
    }
    if !has_baseline {
        println!(
            "baseline.json: none (reports show \"reference: n/a\"; `grader baseline` writes one)"
        );
    } else if f.drift.is_empty() {
        println!("the reference's work figures match baseline.json");
    } else {
        println!(
            "the reference's work figures are off baseline.json (learners would see a stale reference):"
        );
        for d in &f.drift {
            println!("  {d}");
        }
        println!(
            "  if the reference is right, write them: grader baseline EXERCISE OUT/solutions-NAME/report.json"
        );
    }
    let off: Vec<&author::Outcome> = f.off().collect();
    if off.is_empty() {
        println!("every subject loses exactly what it declares");
        return;
    }
    println!("{} subject(s) off their declaration:", off.len());
    for o in off {
        println!("  {} ({}, {})", o.name, o.kind, o.status);
        for id in o.extra() {
            let why = o.why.get(&id).map_or("", String::as_str);
            println!(
                "    lost, not declared: {id}: {}",
                crate::report::inert(why)
            );
        }
        for id in o.missing() {
            println!("    declared, not lost: {id}");
        }
    }
}
